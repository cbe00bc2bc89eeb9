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

__all__ = ["IPC", "WORK", "SandboxUnavailable", "argv", "check", "sandbox_pid"]

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
    for p in _readonly_paths():
        cmd += ["--ro-bind", p, p]
    cmd += _system_links()
    cmd += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/dev/shm"]
    cmd += ["--size", str(tmp_size), "--tmpfs", "/tmp", "--size", str(work_size), "--tmpfs", WORK, "--size", str(2**20), "--tmpfs", IPC]
    cmd += ["--ro-bind", str(connection_file), f"{IPC}/kernel.json", "--chdir", WORK]
    env = {"HOME": WORK, "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "TMPDIR": "/tmp", "PYTHONNOUSERSITE": "1", "MPLCONFIGDIR": "/tmp"}
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
