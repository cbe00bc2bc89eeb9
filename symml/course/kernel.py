r"""A student's kernel: started in a sandbox (``symml.course.sandbox``), driven cell by cell.

Inside, ``python -m symml.course.kernel --memory M --processes P -f CONNECTION_FILE`` sets the
limits before any student code runs, then becomes an ipykernel:

* ``RLIMIT_DATA`` = memory (heap and anonymous mappings; torch respects it: an allocation past
  it fails inside the student's cell instead of taking the machine down);
* ``RLIMIT_NPROC`` = processes (counted per user by the kernel: the grader passes the user's
  current count plus a budget), ``RLIMIT_FSIZE`` 128 MB per file, ``RLIMIT_NOFILE`` 1024, no core
  dumps.

Outside, :class:`Kernel` starts it (``bwrap`` + that command, inside the sandbox's cgroup, or
the command alone with ``sandboxed=False``), runs its ``startup`` code before anything else (again
after each restart), runs code with a timeout, interrupts over the control channel (no signal
needs to cross the PID namespace), and :meth:`Kernel.close` kills the sandbox and everything in it.

What the kernel sends is bounded before the grader holds it: the client's sockets refuse any
message over ``MAX_MESSAGE`` bytes (ZeroMQ drops it, and the connection, before it is read into
memory), and printed output is counted, never kept.
"""

import json
import os
import queue
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FILE_SIZE = 128 * 2**20
OPEN_FILES = 1024
MAX_MESSAGE = 64 * 2**20  # one message from the kernel (a reply of grade.MAX_ANSWER_BYTES fits)


def main(argv=None):
    import argparse

    parser = argparse.ArgumentParser(prog="python -m symml.course.kernel")
    parser.add_argument("--memory", type=int, default=0)
    parser.add_argument("--processes", type=int, default=0)
    args, rest = parser.parse_known_args(argv)
    limits = [(resource.RLIMIT_DATA, args.memory), (resource.RLIMIT_NPROC, args.processes), (resource.RLIMIT_FSIZE, FILE_SIZE),
              (resource.RLIMIT_NOFILE, OPEN_FILES), (resource.RLIMIT_CORE, 0)]
    for which, value in limits:
        if value > 0 or which == resource.RLIMIT_CORE:
            resource.setrlimit(which, (value, value))
    os.environ["SYMML_GRADING"] = "1"  # check() stays quiet; it still records the answers it is given
    sys.argv = [sys.argv[0], *rest]
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


def import_e3nn():
    """Import e3nn without importing torch's compiler: about 0.8 s of CPU less for every graded notebook.

    e3nn 0.6 marks one function ``@torch.compiler.disable``, and that decorator imports all of
    ``torch._dynamo`` when e3nn is imported, for a compiler no problem set uses. While e3nn is
    imported here the decorator is deferred: the function runs as it is as long as torch._dynamo
    has not been imported (nothing can be compiling before that), and through
    ``torch.compiler.disable`` from then on. The grader's start-up code calls this in the kernel.
    """
    import functools

    import torch

    disable = torch.compiler.disable

    def deferred(fn=None, recursive=True, **kwargs):
        if fn is None:  # used as @torch.compiler.disable(recursive=...)
            return lambda f: deferred(f, recursive, **kwargs)
        disabled = []

        @functools.wraps(fn)
        def call(*args, **kw):
            if "torch._dynamo" not in sys.modules:
                return fn(*args, **kw)
            if not disabled:
                disabled.append(disable(fn, recursive, **kwargs))
            return disabled[0](*args, **kw)

        return call

    torch.compiler.disable = deferred
    try:
        import e3nn.o3  # noqa: F401
    finally:
        torch.compiler.disable = disable


def _user_tasks() -> int:
    """How many processes and threads this user runs now (what RLIMIT_NPROC counts)."""
    uid, n = os.getuid(), 0
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if os.stat(f"/proc/{pid}").st_uid == uid:
                    n += len(os.listdir(f"/proc/{pid}/task"))
            except OSError:
                pass
    return n


class Kernel:
    """One student's kernel. ``run(code, timeout)`` → ``(status, detail, characters printed)``.

    ``startup``: code run first, and again after every restart, before any other; ``restarts``
    counts the restarts (a hang or a crash: what the old kernel defined is gone). ``package`` is
    where the kernel sees this symml package.
    """

    def __init__(self, memory: int = 2 * 2**30, processes: int = 256, sandboxed: bool = True, python: str = sys.executable, startup: str | None = None):
        from symml.course import sandbox

        self.folder = Path(tempfile.mkdtemp(prefix="symml-kernel-"))  # 0700: the connection file's key stays private
        self.connection_file = self.folder / "kernel.json"
        self.sandboxed, self.memory, self.processes, self.python, self.startup = sandboxed, memory, processes, python, startup
        self.sandbox = sandbox
        self.package = sandbox.PACKAGE if sandboxed else str(Path(__file__).resolve().parent.parent)
        self.proc = self.group = self.context = None
        self.restarts, self.startup_status = 0, None
        self.start()

    def start(self):
        import zmq
        from jupyter_client import BlockingKernelClient
        from jupyter_client.connect import write_connection_file

        inside = self.sandbox.IPC if self.sandboxed else str(self.folder)
        write_connection_file(str(self.connection_file), ip=f"{inside}/k", transport="ipc", key=secrets.token_hex(32).encode())
        command = [self.python, "-m", "symml.course.kernel", "--memory", str(self.memory),
                   "--processes", str(_user_tasks() + self.processes if self.processes else 0)]
        quiet = dict(stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        if self.sandboxed:
            self.group = self.sandbox.Cgroup(self.memory, self.processes)
            self.proc = self.sandbox.popen(command + ["-f", f"{self.sandbox.IPC}/kernel.json"], self.connection_file, self.group, **quiet)
        else:
            work = self.folder / "work"
            work.mkdir(exist_ok=True)
            env = {k: v for k, v in os.environ.items() if not k.startswith("JPY_")} | {"SYMML_GRADING": "1"}
            self.proc = subprocess.Popen(command + ["-f", str(self.connection_file)], cwd=str(work), env=env, **quiet)
        info = json.loads(self.connection_file.read_text())
        if self.sandboxed:  # its sockets, seen from outside through its own root
            deadline = time.monotonic() + 30
            while (pid := self.sandbox.sandbox_pid(self.proc.pid)) is None:  # the shell exec'd bwrap: same pid
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self._kill()
                    raise RuntimeError("the sandbox did not start")
                time.sleep(0.02)
            info["ip"] = f"/proc/{pid}/root{self.sandbox.IPC}/k"
        self.context = zmq.Context()
        self.context.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE)  # every socket of this client: nothing larger is read
        self.client = BlockingKernelClient(context=self.context)
        self.client.load_connection_info(info)
        self.client.start_channels(hb=False)  # liveness is the process itself: a heartbeat that is slow to start reads as death
        try:
            self.client.wait_for_ready(timeout=120)
        except RuntimeError as e:
            self.close()
            raise RuntimeError(f"the kernel did not start ({e})") from e
        if self.startup:
            self.startup_status = self._run(self.startup, 120)[:2]

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def restart(self):
        """A fresh kernel after a crash or a hang; what the old one defined is gone (``startup`` runs again)."""
        self._kill()
        self.restarts += 1
        self.start()

    def run(self, code: str, timeout: float, on_display=None) -> tuple[str, str, int]:
        """Run ``code``: ``(status, detail, characters printed)``, status ok / error / timeout / died.

        ``on_display(data)`` is called with the ``data`` of each display message the code sends.
        """
        return self._run(code, timeout, on_display)

    def _run(self, code: str, timeout: float, on_display=None) -> tuple[str, str, int]:
        msg_id = self.client.execute(code, store_history=False, allow_stdin=False)
        deadline, printed, error = time.monotonic() + timeout, 0, ""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._interrupt()
                if not self._wait_idle(msg_id, 5):
                    self.restart()
                return "timeout", f"stopped after {timeout:g} s", printed
            try:
                msg = self.client.get_iopub_msg(timeout=min(remaining, 0.5))
            except queue.Empty:
                if not self.alive():
                    self.restart()
                    return "died", "the kernel died (memory cap, a crash, or exit())", printed
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                printed += len(content.get("text", ""))
            elif kind in ("display_data", "execute_result") and on_display is not None:
                on_display(content.get("data", {}))
            elif kind == "error":
                error = f"{content.get('ename')}: {str(content.get('evalue'))[:200]}"
            elif kind == "status" and content.get("execution_state") == "idle":
                return ("error" if error else "ok"), error, printed

    def _interrupt(self):
        msg = self.client.session.msg("interrupt_request", content={})
        self.client.control_channel.send(msg)

    def _wait_idle(self, msg_id, timeout) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                msg = self.client.get_iopub_msg(timeout=0.5)
            except queue.Empty:
                continue
            if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "status" and msg["content"].get("execution_state") == "idle":
                return True
        return False

    def _kill(self):
        try:
            self.client.stop_channels()
        except Exception:
            pass
        if self.context is not None:
            self.context.destroy(linger=0)
            self.context = None
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, 9)  # bwrap and its session; the PID namespace dies with its init
            except ProcessLookupError:
                pass
            self.proc.wait()
        if self.group is not None:
            self.group.kill()
            self.group = None

    def close(self):
        """Kill the kernel, its sandbox and everything it started; remove the connection file."""
        self._kill()
        shutil.rmtree(self.folder, ignore_errors=True)


if __name__ == "__main__":
    main()
