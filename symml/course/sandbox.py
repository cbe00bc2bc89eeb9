r"""The sandbox a student's kernel runs in: bubblewrap (``bwrap``), one per submission.

What the kernel sees, and may do::

    /usr, /lib, /bin, a few files of /etc     the system, read-only
    Python and its packages                   read-only, at the paths they have outside (also the
                                              folders a site-packages ``.pth`` file adds)
    /opt/symml/symml                          this symml package alone, read-only (not the checkout
                                              around it: no solutions there)
    /home/student   (its cwd and $HOME)        an empty tmpfs of ``work_size`` bytes; ``/tmp`` and
    /tmp, /dev/shm                             ``/dev/shm`` likewise: the only writable places, all
                                              in memory, all size-capped
    /ipc                                       a 1 MiB tmpfs with the kernel's sockets and its
                                              connection file (read-only)
    /, /dev                                    read-only

Nothing else of the machine is there: not the instructor's home or working folder, not the
solutions, the other submissions, the gradebook or the feedback. Its own namespaces: network (no
interface but its own loopback), PID (it cannot see or signal the grader, the other kernels or
any other process), IPC, UTS, cgroup and user: the student is uid 65534 (``nobody``) inside, with
every capability dropped, and may not make further user namespaces (``--disable-userns``). bwrap
starts with an EMPTY environment (``env={}``: ``--clearenv`` alone would leave the grader's in
the sandbox's pid 1, readable at ``/proc/1/environ``) and reads its arguments from a file
descriptor (``--args``), so ``/proc/1/cmdline`` reads ``bwrap --args 3`` and names no path of the
instructor's. A seccomp filter (:func:`seccomp_filter`, a small BPF program assembled here)
refuses ``ptrace``, ``process_vm_readv``/``writev``, ``perf_event_open``, ``bpf``, ``keyctl``,
``mount``, ``unshare``, ``setns``, ``io_uring`` and other kernel attack surface. A new session (no
terminal to inject keys into), ``--die-with-parent``; when the grader kills ``bwrap``, the
namespace's init dies and the kernel takes every process it started with it.

Memory and processes are capped per sandbox by :class:`Cgroup`: one cgroup holding the whole
sandbox, with ``memory`` (swap off: tmpfs pages and every process count against the one cap) and
``pids`` controllers, made beneath the grader's own cgroup (v1 or v2) where it may (as root, or in
a delegated subtree). Where no memory cgroup can be made, the sandbox may start no process at all
(the seccomp filter refuses ``fork``, and ``clone`` without ``CLONE_THREAD``): the kernel is then
its only process, so its ``RLIMIT_DATA`` caps the total (plus the tmpfs caps). :func:`mode` says
which applies.

The grader reaches the kernel's sockets through ``/proc/<pid>/root/ipc``, the sandbox's own
filesystem seen from outside, so no folder of the machine is writable from inside. The other
limits (file size, open files) are set by ``symml.course.kernel`` inside, before any student code
runs.
"""

import os
import platform
import shutil
import signal
import site
import struct
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

__all__ = ["IPC", "PACKAGE", "WORK", "Cgroup", "SandboxUnavailable", "check", "mode", "popen", "sandbox_pid", "seccomp_filter"]

IPC, WORK = "/ipc", "/home/student"
PACKAGE = "/opt/symml/symml"  # where this symml package appears inside (PYTHONPATH=/opt/symml)
UID = 65534  # nobody
ETC = ["ld.so.cache", "ld.so.conf", "ld.so.conf.d", "passwd", "group", "nsswitch.conf", "hosts", "localtime", "alternatives", "ssl/certs"]
INSTALL_HINT = """symml grade runs each student's kernel in a bubblewrap sandbox, and bubblewrap is not usable here:
  {reason}
Install it:   sudo apt install bubblewrap     (Debian, Ubuntu; version 0.8 or later)
              sudo dnf install bubblewrap     (Fedora, RHEL)
If it is installed but cannot create namespaces (a container, or Ubuntu 24.04's AppArmor rule), allow
unprivileged user namespaces (sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0 on Ubuntu),
or run the grader where they are allowed.
Or grade without a sandbox, only for notebooks you trust: symml grade --no-sandbox ..."""


class SandboxUnavailable(RuntimeError):
    """bwrap is missing or cannot make namespaces here; the message says how to fix it."""


def _package() -> Path:
    import symml

    return Path(symml.__file__).resolve().parent


def _pth_folders() -> list[str]:
    """The folders the site-packages' ``.pth`` files add to ``sys.path`` (a venv whose packages live elsewhere)."""
    found = []
    for sp in site.getsitepackages() + [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]:
        for pth in sorted(Path(sp).glob("*.pth")) if os.path.isdir(sp) else []:
            try:
                lines = pth.read_text(errors="replace").splitlines()
            except OSError:
                continue
            for line in lines:
                line = line.strip()
                if line and not line.startswith(("#", "import ", "import\t")):
                    folder = os.path.realpath(os.path.join(sp, line))
                    if os.path.isdir(folder):
                        found.append(folder)
    return found


def _readonly_paths() -> list[str]:
    """What must be visible read-only for this Python to run: the system, Python, its packages.

    Not the folder that holds symml (an editable checkout: the solutions are there); the package
    itself is mounted alone at :data:`PACKAGE`.
    """
    paths = ["/usr"] + [f"/etc/{e}" for e in ETC]
    paths += [sys.base_prefix, sys.prefix, sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    paths.append(str(Path(sys.executable).resolve().parent))
    checkout = str(_package().parent)
    paths += [p for p in _pth_folders() if p != checkout and not checkout.startswith(p.rstrip("/") + "/")]
    found = {q for p in paths for q in (p, os.path.realpath(p)) if os.path.exists(q)}
    return sorted(found, key=lambda q: (q.count("/"), q))  # a folder before what lies inside it


def _system_links() -> list[str]:
    """/lib, /lib64, /bin, /sbin as they are outside: links into /usr (merged /usr) or folders."""
    out = []
    for link in ("/lib", "/lib64", "/bin", "/sbin"):
        if os.path.islink(link):
            out += ["--symlink", os.readlink(link), link]
        elif os.path.isdir(link):
            out += ["--ro-bind", link, link]
    return out


ENV = {"PYTHONPATH": str(Path(PACKAGE).parent), "HOME": WORK, "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
       "TMPDIR": "/tmp", "PYTHONNOUSERSITE": "1", "MPLCONFIGDIR": "/tmp"}


def argv(connection_file: Path | None, *, work_size: int = 256 * 2**20, tmp_size: int = 256 * 2**20, shm_size: int = 64 * 2**20,
         seccomp_fd: int | None = None) -> list[str]:
    """The arguments of ``bwrap`` that make a fresh sandbox (see the module docstring), without the command.

    ``connection_file`` (outside) appears read-only as ``/ipc/kernel.json`` inside.
    """
    cmd = ["--unshare-all", "--unshare-user", "--uid", str(UID), "--gid", str(UID), "--disable-userns",
           "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--clearenv"]
    # the private /tmp first: Python or symml may live under the machine's /tmp (a test, a wheel unpacked there)
    cmd += ["--size", str(tmp_size), "--perms", "1777", "--tmpfs", "/tmp"]
    for p in _readonly_paths():
        cmd += ["--ro-bind", p, p]
    cmd += ["--ro-bind", str(_package()), PACKAGE]
    cmd += _system_links()
    cmd += ["--proc", "/proc", "--dev", "/dev", "--size", str(shm_size), "--perms", "1777", "--tmpfs", "/dev/shm"]
    cmd += ["--size", str(work_size), "--tmpfs", WORK, "--size", str(2**20), "--tmpfs", IPC]
    if connection_file is not None:
        cmd += ["--ro-bind", str(connection_file), f"{IPC}/kernel.json"]
    cmd += ["--remount-ro", "/dev", "--remount-ro", "/", "--chdir", WORK]
    for key, value in ENV.items():
        cmd += ["--setenv", key, value]
    if seccomp_fd is not None:
        cmd += ["--seccomp", str(seccomp_fd)]
    return cmd


# ---------------------------------------------------------------- seccomp

# x86_64 system call numbers (arch/x86/entry/syscalls/syscall_64.tbl)
SYSCALLS_X86_64 = {
    "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311, "kcmp": 312, "perf_event_open": 298, "bpf": 321,
    "userfaultfd": 323, "keyctl": 250, "add_key": 248, "request_key": 249, "mount": 165, "umount2": 166, "pivot_root": 155,
    "unshare": 272, "setns": 308, "kexec_load": 246, "kexec_file_load": 320, "init_module": 175, "finit_module": 313,
    "delete_module": 176, "open_by_handle_at": 304, "name_to_handle_at": 303, "acct": 163, "swapon": 167, "swapoff": 168,
    "reboot": 169, "quotactl": 179, "iopl": 172, "ioperm": 173, "syslog": 103, "io_uring_setup": 425, "io_uring_enter": 426,
    "io_uring_register": 427, "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
    "mount_setattr": 442,
}
PROCESS_X86_64 = {"clone": 56, "fork": 57, "vfork": 58, "clone3": 435}
AUDIT_ARCH_X86_64 = 0xC000003E
CLONE_THREAD = 0x00010000
EPERM, ENOSYS = 1, 38
RET_ALLOW, RET_ERRNO, RET_KILL_PROCESS = 0x7FFF0000, 0x00050000, 0x80000000
LD_W_ABS, JEQ_K, JGE_K, JSET_K, RET_K = 0x20, 0x15, 0x35, 0x45, 0x06


def seccomp_filter(no_processes: bool = False) -> bytes | None:
    """The sandbox's seccomp program (classic BPF, as ``bwrap --seccomp FD`` reads it), or None on
    a machine other than x86_64 (the table of call numbers is for x86_64 only).

    Each refused call fails with ``EPERM``; any other ABI (32-bit, x32) kills the process. With
    ``no_processes`` (no memory cgroup: see :class:`Cgroup`) ``fork``/``vfork`` and a ``clone``
    without ``CLONE_THREAD`` are refused as well (threads still start), and ``clone3`` reports
    ``ENOSYS`` so that the C library falls back to ``clone``, whose flags a filter can read.
    """
    if platform.machine() not in ("x86_64", "AMD64"):
        return None

    def op(code, k, jt=0, jf=0):
        return struct.pack("=HBBI", code, jt, jf, k)

    deny = RET_ERRNO | EPERM
    prog = [op(LD_W_ABS, 4), op(JEQ_K, AUDIT_ARCH_X86_64, 1, 0), op(RET_K, RET_KILL_PROCESS),  # seccomp_data.arch
            op(LD_W_ABS, 0), op(JGE_K, 0x40000000, 0, 1), op(RET_K, RET_KILL_PROCESS)]  # .nr; x32 calls set bit 30
    for nr in sorted(SYSCALLS_X86_64.values()):
        prog += [op(JEQ_K, nr, 0, 1), op(RET_K, deny)]
    if no_processes:
        for name in ("fork", "vfork"):
            prog += [op(JEQ_K, PROCESS_X86_64[name], 0, 1), op(RET_K, deny)]
        prog += [op(JEQ_K, PROCESS_X86_64["clone3"], 0, 1), op(RET_K, RET_ERRNO | ENOSYS)]
        prog += [op(JEQ_K, PROCESS_X86_64["clone"], 0, 4), op(LD_W_ABS, 16),  # args[0], low half: the flags
                 op(JSET_K, CLONE_THREAD, 0, 1), op(RET_K, RET_ALLOW), op(RET_K, deny)]
    prog.append(op(RET_K, RET_ALLOW))
    return b"".join(prog)


# ---------------------------------------------------------------- cgroups


CONTROLLERS = ("memory", "pids")  # what a sandbox's cgroup caps, where it can


def _own_cgroups() -> dict[str, str]:
    """``{controller: path}`` of this process's cgroups (``""`` names the v2 hierarchy)."""
    out = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for c in controllers.split(",") if controllers else [""]:
            out[c] = path
    return out


class Cgroup:
    """The cgroup(s) that hold one sandbox: ``memory`` (``memory`` bytes, swap off) and ``pids`` (``processes``),
    and with ``cpus > 0`` a CPU quota of that many cores (``cpu``: as Binder gives one, for benchmarks).

    Made beneath the grader's own cgroup, v1 (``/sys/fs/cgroup/<controller>/…``) or v2, where it
    may (as root, or in a subtree delegated to the user); as a last resort as root, the root of
    the hierarchy. ``memory_path`` is None when no memory cgroup could be made (then the sandbox
    may start no processes: :func:`seccomp_filter`), ``pids_path`` None when no pids one could
    (then ``RLIMIT_NPROC`` counts). :meth:`kill` ends whatever is in them and removes them.
    """

    def __init__(self, memory: int, processes: int, root: Path = Path("/sys/fs/cgroup"), use: tuple | None = None, cpus: float = 0):
        self.paths: dict[str, Path] = {}
        name = f"symml-{os.getpid()}-{os.urandom(4).hex()}"
        try:
            own = _own_cgroups()
        except OSError:
            own = {}
        period = 100_000  # µs: the quota is cpus · period of CPU time in every period
        limits = {"memory": [("memory.max", memory), ("memory.swap.max", 0)], "pids": [("pids.max", processes)],
                  "cpu": [("cpu.max", f"{round(cpus * period)} {period}")]}
        limits_v1 = {"memory": [("memory.limit_in_bytes", memory), ("memory.memsw.limit_in_bytes", memory), ("memory.swappiness", 0)],
                     "pids": [("pids.max", processes)], "cpu": [("cpu.cfs_quota_us", round(cpus * period)), ("cpu.cfs_period_us", period)]}
        caps = {"memory": memory, "pids": processes, "cpu": cpus}
        for controller in (CONTROLLERS + ("cpu",) if use is None else use):
            if caps[controller] <= 0:
                continue
            v2 = (root / "cgroup.controllers").exists() and controller in (root / "cgroup.controllers").read_text().split()
            base = root if v2 else root / controller
            where = own.get("" if v2 else controller)
            candidates = [base / where.lstrip("/")] if where is not None else []
            if os.geteuid() == 0 and base not in candidates:
                candidates.append(base)
            for parent in candidates:
                group = self._make(parent / name, controller, (limits if v2 else limits_v1)[controller], v2)
                if group is not None:
                    self.paths[controller] = group
                    break
        # v2: one group has both controllers; v1: one group per controller
        self.memory_path, self.pids_path = self.paths.get("memory"), self.paths.get("pids")

    @staticmethod
    def _make(group: Path, controller: str, limits, v2: bool) -> Path | None:
        """``group`` with ``controller``'s limits written (made if need be: v2 holds both controllers in one group)."""
        made = False
        try:
            if v2 and controller not in (group.parent / "cgroup.subtree_control").read_text().split():
                (group.parent / "cgroup.subtree_control").write_text(f"+{controller}")
            if not group.exists():
                group.mkdir()
                made = True
        except OSError:
            return None
        try:
            for i, (file, value) in enumerate(limits):
                try:
                    (group / file).write_text(str(value))
                except OSError:
                    if i == 0:  # the cap itself must hold; the swap files exist only with swap accounting
                        raise
            return group
        except OSError:
            if made:
                group.rmdir()
            return None

    def wrap(self, command: list[str]) -> tuple[list[str], dict]:
        """``(command, environment)`` that starts ``command`` from inside the cgroups (its first instruction already counts)."""
        procs = sorted({str(p / "cgroup.procs") for p in self.paths.values()})
        if not procs:
            return command, {}
        script = 'for f in $0; do echo $$ > "$f" || exit 1; done; unset PWD OLDPWD; exec "$@"'  # $0: the cgroups' procs files
        return ["/bin/sh", "-c", script, " ".join(procs), *command], {}

    def kill(self):
        """Kill everything in the cgroups and remove them."""
        for group in sorted(set(self.paths.values()), key=str):
            for _ in range(100):  # killed processes take a moment to leave; only an empty cgroup can be removed
                try:
                    if (group / "cgroup.kill").exists():
                        (group / "cgroup.kill").write_text("1")
                    for pid in (group / "cgroup.procs").read_text().split():
                        try:
                            os.kill(int(pid), signal.SIGKILL)
                        except ProcessLookupError:
                            pass
                    group.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)
        self.paths = {}

    def peak(self) -> int | None:
        """The most memory the sandbox held (bytes), where the memory cgroup says."""
        if self.memory_path is None:
            return None
        for file in ("memory.peak", "memory.max_usage_in_bytes"):
            try:
                return int((self.memory_path / file).read_text())
            except (OSError, ValueError):
                continue
        return None


def mode() -> str:
    """Which memory cap applies to a sandbox on this machine, in words (for the instructor)."""
    group = Cgroup(2**30, 64)
    try:
        if group.memory_path is not None:
            return f"one memory cgroup per sandbox ({group.memory_path.parent})"
        return "no memory cgroup can be made here: each sandbox may start no process, so RLIMIT_DATA caps it"
    finally:
        group.kill()


# ---------------------------------------------------------------- starting one


def _memfd(name: str, data: bytes) -> int:
    fd = os.memfd_create(name, 0)  # inherited by bwrap (pass_fds), closed here once it has started
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def popen(command: list[str], connection_file: Path | None, group: Cgroup, **kwargs) -> subprocess.Popen:
    """Start ``command`` in a fresh sandbox, inside ``group``.

    bwrap gets an empty environment, its options through ``--args`` and the seccomp program
    through ``--seccomp`` (both memory files), and runs ``/bin/sh``, which execs ``command[0]``
    (the Python, passed in ``$SYMML_PROGRAM``) with the rest: so ``/proc/1/cmdline`` inside reads
    ``bwrap --args N /bin/sh -c … -m symml.course.kernel …`` and names no path of the machine's.
    """
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxUnavailable(INSTALL_HINT.format(reason="the bwrap command is not installed"))
    fds = []
    try:
        program = seccomp_filter(no_processes=group.memory_path is None)
        if program is not None:
            fds.append(_memfd("symml-seccomp", program))
        options = argv(connection_file, seccomp_fd=fds[0] if fds else None)
        options += ["--setenv", "SYMML_PROGRAM", command[0]]
        fds.append(_memfd("symml-args", b"".join(a.encode() + b"\0" for a in options)))
        inner = ["/bin/sh", "-c", 'p=$SYMML_PROGRAM; unset SYMML_PROGRAM; exec "$p" "$@"', "sh", *command[1:]]
        full, env = group.wrap([bwrap, "--args", str(fds[-1]), *inner])
        return subprocess.Popen(full, env=env, cwd="/", pass_fds=fds, **kwargs)  # env: nothing of the grader's
    finally:
        for fd in fds:
            os.close(fd)


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
        group = Cgroup(0, 0)
        try:
            proc = popen([sys.executable, "-c", "print('ok')"], None, group, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            out, err = proc.communicate(timeout=60)
            reason = None if out.strip() == "ok" else (err.strip().splitlines() or ["bwrap failed"])[-1]
        except (OSError, subprocess.TimeoutExpired) as e:
            reason = f"bwrap could not be run ({type(e).__name__}: {e})"
        finally:
            group.kill()
    if reason:
        raise SandboxUnavailable(INSTALL_HINT.format(reason=reason))
    _checked = "ok"
