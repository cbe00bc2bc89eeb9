"""Start JupyterLab on loopback for a test, and drive it in Debian's headless Chromium.

``JupyterLab(bin_dir, root)`` runs ``bin_dir/jupyter lab`` (so the environment under test serves
JupyterLab and its kernel) on 127.0.0.1 with a random token, in throw-away Jupyter config, data
and runtime folders, and stops it afterwards. ``chromium()`` launches Debian's chromium (the one on
PATH, found by ``require_system("chromium")`` in conftest.py) through Playwright, with the flags
this machine's closed network needs and a fresh profile; it never downloads a browser.
"""

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    # WebGL (plotly's 3D scenes) in software, since there is no GPU
    "--enable-unsafe-swiftshader",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class JupyterLab:
    def __init__(self, bin_dir: Path, root: Path, env: dict | None = None, log: Path | None = None):
        self.bin_dir, self.root = Path(bin_dir), Path(root)
        self.port, self.token = free_port(), secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        self._home = Path(tempfile.mkdtemp(prefix="symml-jupyter-"))
        self.log_path = log or self._home / "jupyterlab.log"
        self.env = dict(env if env is not None else os.environ)
        self.env.update(
            PATH=f"{self.bin_dir}{os.pathsep}{self.env.get('PATH', '')}",
            JUPYTER_CONFIG_DIR=str(self._home / "config"),
            JUPYTER_DATA_DIR=str(self._home / "data"),
            JUPYTER_RUNTIME_DIR=str(self._home / "runtime"),
            JUPYTER_PLATFORM_DIRS="1",
            IPYTHONDIR=str(self._home / "ipython"),
        )
        self.proc = None

    def start(self, timeout: float = 120):
        cmd = [
            str(self.bin_dir / "jupyter"), "lab", "--no-browser",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}",
            f"--LabApp.user_settings_dir={self._home / 'lab-settings'}",
            f"--LabApp.workspaces_dir={self._home / 'lab-workspaces'}",
            # nothing fetched from the internet: no news feed, no update check
            "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            # window.jupyterapp: a test reads the notebook's model (every cell, drawn or not), not the DOM
            "--LabApp.expose_app_in_browser=True",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")  # CI runs as root
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, cwd=self.root, env=self.env, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=2):
                    return self
            except OSError:
                time.sleep(0.5)
        raise TimeoutError(f"jupyter lab did not answer in {timeout} s:\n{self.log()}")

    def lab_url(self, path: str) -> str:
        """The URL opening ``path`` (relative to the root) in JupyterLab, on a fresh workspace."""
        return f"{self.url}/lab/tree/{path}?token={self.token}&reset"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:] if self.log_path.exists() else ""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            with contextlib.suppress(OSError):
                req = urllib.request.Request(f"{self.url}/api/shutdown?token={self.token}", method="POST")
                urllib.request.urlopen(req, timeout=5)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)  # the server we started, and its kernels
                self.proc.wait()
        if self.proc:
            self._log.close()
        shutil.rmtree(self._home, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


@contextlib.contextmanager
def chromium(playwright, executable: str, viewport=(1400, 1000)):
    """A Playwright browser context on the Chromium at ``executable``, with a fresh profile folder."""
    profile = tempfile.mkdtemp(prefix="symml-chromium-")
    context = playwright.chromium.launch_persistent_context(
        profile, executable_path=executable, headless=True, args=CHROMIUM_FLAGS,
        viewport={"width": viewport[0], "height": viewport[1]},
    )
    try:
        yield context
    finally:
        context.close()
        shutil.rmtree(profile, ignore_errors=True)
