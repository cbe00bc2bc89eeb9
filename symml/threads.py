"""Size torch's CPU thread pool to the CPUs this process may use, not the cores the machine has.

A Binder or JupyterHub pod sees every core of its host (``os.cpu_count()`` says 64, say) while its
cgroup lets it run for only 1-2 CPUs' worth of time. torch starts one thread per physical core of
the host, and those 32 threads then take turns on 2 CPUs: every parallel matrix product waits for
its slowest thread, which sits throttled until the next scheduling period. ``import symml`` calls
``use_available_cpus()``, which sets

    threads = max(1, min(len(os.sched_getaffinity(0)), floor(quota / period)))

where quota/period is the cgroup's CPU limit, the smallest along the cgroup's path to the root:

* cgroup v2: ``cpu.max`` holds ``"<quota> <period>"`` in microseconds, or ``"max <period>"`` (no limit);
* cgroup v1: ``cpu.cfs_quota_us`` (``-1`` = no limit) and ``cpu.cfs_period_us`` in the cpu controller.

The quota is rounded down so that the threads never outnumber the CPUs the pod may run at once.
Nothing changes when you chose a count yourself: ``OMP_NUM_THREADS`` or ``MKL_NUM_THREADS`` set, or
``torch.set_num_threads`` called (torch's count is not its own default). To use more threads
anyway, call ``torch.set_num_threads(n)`` after ``import symml``.
"""

import math
import os
from pathlib import Path

PROC_CGROUP = Path("/proc/self/cgroup")
CGROUP_ROOT = Path("/sys/fs/cgroup")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _own_cgroups(proc_cgroup: Path) -> list[tuple[list[str], str]]:
    """``(controllers, path)`` for each line ``id:controllers:path`` of /proc/self/cgroup (v2's are ``[]``)."""
    try:
        text = proc_cgroup.read_text()
    except OSError:
        return []
    entries = []
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            entries.append(([c for c in parts[1].split(",") if c], parts[2]))
    return entries


def _up_to_mount(mount: Path, path: str):
    """The folders of the cgroup ``path`` under ``mount``, from the deepest up to ``mount`` itself.

    Inside a container the mount often is the container's own cgroup while ``path`` still names it
    from the host's root; then only ``mount`` exists, and that is the one to read.
    """
    parts = [p for p in path.split("/") if p]
    for k in range(len(parts), -1, -1):
        folder = mount.joinpath(*parts[:k])
        if folder.is_dir():
            yield folder


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _ratio(quota: str | None, period: str | None) -> float | None:
    """quota / period, or None for "no limit" (``max``, ``-1``) and for anything unreadable:
    ``import symml`` must never fail over a cgroup file."""
    try:
        quota_us, period_us = int(quota), int(period)
    except (TypeError, ValueError):
        return None
    return quota_us / period_us if quota_us > 0 and period_us > 0 else None


def _v2_limit(folder: Path) -> float | None:
    fields = (_read(folder / "cpu.max") or "").split()
    return _ratio(*fields) if len(fields) == 2 else None


def _v1_limit(folder: Path) -> float | None:
    return _ratio(_read(folder / "cpu.cfs_quota_us"), _read(folder / "cpu.cfs_period_us"))


def cgroup_cpu_limit(proc_cgroup: Path = PROC_CGROUP, root: Path = CGROUP_ROOT) -> float | None:
    """The CPUs' worth of time this process's cgroups allow (e.g. ``1.5``), or None if unlimited.

    Reads cgroup v2 (``root/<path>/cpu.max``) and v1 (``root/cpu/<path>/cpu.cfs_quota_us`` and
    ``cpu.cfs_period_us``), every level from the process's own cgroup up to the root; the smallest wins.
    """
    limits = []
    for controllers, path in _own_cgroups(proc_cgroup):
        if not controllers:  # the v2 line, "0::/path"
            limits += [_v2_limit(folder) for folder in _up_to_mount(root, path)]
        elif "cpu" in controllers:  # v1, mounted as cpu,cpuacct (with a cpu link) or cpu alone
            for mount in dict.fromkeys([root / ",".join(controllers), root / "cpu"]):
                limits += [_v1_limit(folder) for folder in _up_to_mount(mount, path)]
    limits = [x for x in limits if x is not None]
    return min(limits) if limits else None


def available_cpus(proc_cgroup: Path = PROC_CGROUP, root: Path = CGROUP_ROOT) -> int:
    """How many CPUs this process can keep busy at once: its affinity mask, capped by the cgroup quota."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    limit = cgroup_cpu_limit(proc_cgroup, root)
    if limit is not None:
        cpus = min(cpus, math.floor(limit))
    return max(1, cpus)


def _torch_default_threads() -> set[int]:
    """The counts torch picks by itself: one per physical core (its default), or per logical CPU."""
    cores = set()
    for cpu in Path("/sys/devices/system/cpu").glob("cpu[0-9]*"):
        package, core = _read(cpu / "topology" / "physical_package_id"), _read(cpu / "topology" / "core_id")
        if package is not None and core is not None:
            cores.add((package, core))
    return {n for n in (len(cores), os.cpu_count()) if n}


def use_available_cpus(torch=None, proc_cgroup: Path = PROC_CGROUP, root: Path = CGROUP_ROOT) -> int | None:
    """Lower torch's thread count to ``available_cpus()``; returns the new count, or None if left alone.

    Left alone: a thread count set by the user (``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``, or a
    ``torch.set_num_threads`` that moved torch off its own default), or one that already fits.
    """
    if any(os.environ.get(name) for name in THREAD_VARIABLES):
        return None
    if torch is None:
        import torch
    threads = torch.get_num_threads()
    if threads not in _torch_default_threads():
        return None
    cpus = available_cpus(proc_cgroup, root)
    if threads <= cpus:
        return None
    torch.set_num_threads(cpus)
    return cpus
