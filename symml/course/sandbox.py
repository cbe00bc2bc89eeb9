r"""The sandbox a student's kernel runs in: bubblewrap (``bwrap``), one per submission.

What the kernel sees, and may do::

    /usr, /lib, /bin, a few files of /etc     the system, read-only
    Python, its packages, the symml package   read-only, at the paths they have outside
    /home/student   (its cwd and $HOME)        an empty tmpfs of ``work_size`` bytes: the only
    /tmp                                       writable places, both in memory, both size-capped
    /ipc                                       a tmpfs with the kernel's sockets and its
                                               connection file (read-only)

Nothing else of the machine is there: not the instructor's home or working folder, not the
solutions, the other submissions, the gradebook or the feedback. Its own namespaces: network (no
interface but its own loopback), PID (it cannot see or signal the grader, the other kernels or
any other process), IPC, UTS, user, cgroup. All capabilities dropped, a new session (no terminal
to inject keys into), ``--die-with-parent``; when the grader kills ``bwrap``, the namespace's init
dies and the kernel takes every process it started with it.

The grader reaches the kernel's sockets through ``/proc/<pid>/root/ipc``, the sandbox's own
filesystem seen from outside, so no folder of the machine is writable from inside. Limits on
memory, processes, file size and open files are set by ``symml.course.kernel`` inside, before any
student code runs.
"""

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

__all__ = ["IPC", "WORK", "ProcessGroup", "SandboxUnavailable", "argv", "check", "sandbox_pid"]

IPC, WORK = "/ipc", "/home/student"
ETC = ["ld.so.cache", "ld.so.conf", "ld.so.conf.d", "passwd", "group", "nsswitch.conf", "hosts", "localtime", "alternatives", "ssl/certs"]
INSTALL_HINT = """symml grade runs each student's kernel in a bubblewrap sandbox, and bubblewrap is not usable here:
  {reason}
Install it:   sudo apt install bubblewrap     (Debian, Ubuntu)
              sudo dnf install bubblewrap     (Fedora, RHEL)
If it is installed but cannot create namespaces (a container, or Ubuntu 24.04's AppArmor rule), allow
unprivileged user namespaces (sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0 on Ubuntu),
or run the grader where they are allowed.
Or grade without a sandbox, only for notebooks you trust: symml grade --no-sandbox ..."""


class SandboxUnavailable(RuntimeError):
    """bwrap is missing or cannot make namespaces here; the message says how to fix it."""


def _readonly_paths() -> list[str]:
    """What must be visible read-only for this Python and symml to run: the system, Python, packages."""
    import symml

    paths = ["/usr"] + [f"/etc/{e}" for e in ETC]
    paths += [sys.base_prefix, sys.prefix, sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    paths.append(str(Path(symml.__file__).resolve().parent))  # the package only, even in an editable checkout
    paths.append(str(Path(sys.executable).resolve().parent))
    found = {q for p in paths for q in (p, os.path.realpath(p)) if os.path.exists(q)}
    return sorted(found, key=lambda q: (q.count("/"), q))  # a folder before what lies inside it


def argv(connection_file: Path, *, work_size: int = 256 * 2**20, tmp_size: int = 256 * 2**20) -> list[str]:
    """The ``bwrap ...`` prefix that runs a command in a fresh sandbox (see the module docstring).

    ``connection_file`` (outside) appears read-only as ``/ipc/kernel.json`` inside.
    """
    cmd = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--clearenv"]
    # the private /tmp first: Python or symml may live under the machine's /tmp (a test, a wheel unpacked there)
    cmd += ["--size", str(tmp_size), "--tmpfs", "/tmp"]
    for p in _readonly_paths():
        cmd += ["--ro-bind", p, p]
    cmd += _system_links()
    cmd += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/dev/shm"]
    cmd += ["--size", str(work_size), "--tmpfs", WORK, "--size", str(2**20), "--tmpfs", IPC]
    cmd += ["--ro-bind", str(connection_file), f"{IPC}/kernel.json", "--chdir", WORK]
    import symml

    package_parent = str(Path(symml.__file__).resolve().parent.parent)  # this symml, not another one on the path
    env = {"PYTHONPATH": package_parent, "HOME": WORK, "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "TMPDIR": "/tmp", "PYTHONNOUSERSITE": "1", "MPLCONFIGDIR": "/tmp"}
    for key, value in env.items():
        cmd += ["--setenv", key, value]
    return cmd


def _system_links() -> list[str]:
    """/lib, /lib64, /bin, /sbin as they are outside: links into /usr (merged /usr) or folders."""
    out = []
    for link in ("/lib", "/lib64", "/bin", "/sbin"):
        if os.path.islink(link):
            out += ["--symlink", os.readlink(link), link]
        elif os.path.isdir(link):
            out += ["--ro-bind", link, link]
    return out


class ProcessGroup:
    """A cgroup that caps how many processes a sandbox may have (``pids.max``), where one can be made.

    ``RLIMIT_NPROC`` counts per user and does not bind root at all, so when the grader runs as root
    (a container, CI) the process cap comes from the cgroup ``pids`` controller instead (v1 or v2),
    and :meth:`kill` ends whatever is in it. Elsewhere ``path`` is None and the rlimit does the work.
    """

    def __init__(self, limit: int):
        self.path = None
        for base in (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup")):
            if not (base / "cgroup.procs").exists() or not os.access(base, os.W_OK):
                continue
            if base == Path("/sys/fs/cgroup") and "pids" not in (base / "cgroup.subtree_control").read_text():
                try:
                    (base / "cgroup.subtree_control").write_text("+pids")
                except OSError:
                    continue
            group = base / f"symml-{os.getpid()}-{os.urandom(4).hex()}"
            try:
                group.mkdir()
                (group / "pids.max").write_text(str(limit))
                self.path = group
                break
            except OSError:
                if group.exists():
                    group.rmdir()

    def wrap(self, command: list[str]) -> list[str]:
        """``command``, started from inside the cgroup (so its first instruction already counts)."""
        if self.path is None:
            return command
        return ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', str(self.path / "cgroup.procs"), *command]

    def kill(self):
        """Kill everything in the cgroup and remove it."""
        if self.path is None:
            return
        import signal
        import time

        for _ in range(100):  # killed processes take a moment to leave; only an empty cgroup can be removed
            for pid in (self.path / "cgroup.procs").read_text().split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                self.path.rmdir()
                return
            except OSError:
                time.sleep(0.05)


def sandbox_pid(bwrap_pid: int) -> int | None:
    """The pid (outside) of the process bwrap started inside the sandbox, once it exists."""
    try:
        children = Path(f"/proc/{bwrap_pid}/task/{bwrap_pid}/children").read_text().split()
    except OSError:
        return None
    return int(children[0]) if children else None


_checked: str | None = None


def check() -> None:
    """Raise :class:`SandboxUnavailable` unless bwrap can start a sandbox here (tried once per process)."""
    global _checked
    if _checked == "ok":
        return
    if shutil.which("bwrap") is None:
        reason = "the bwrap command is not installed"
    else:
        probe = ["bwrap", "--unshare-all", "--die-with-parent", "--cap-drop", "ALL"]
        for p in _readonly_paths():
            probe += ["--ro-bind", p, p]
        probe += _system_links()
        probe += ["--proc", "/proc", "--dev", "/dev", sys.executable, "-c", "print('ok')"]
        try:
            result = subprocess.run(probe, capture_output=True, text=True, timeout=60)
            reason = None if result.stdout.strip() == "ok" else (result.stderr.strip().splitlines() or ["bwrap failed"])[-1]
        except (OSError, subprocess.TimeoutExpired) as e:
            reason = f"bwrap could not be run ({type(e).__name__}: {e})"
    if reason:
        raise SandboxUnavailable(INSTALL_HINT.format(reason=reason))
    _checked = "ok"
