"""symml.threads: torch's thread pool follows the cgroup CPU quota and the affinity mask.

The cgroup files are fakes under tmp_path, laid out as the kernel lays them out: v2's ``cpu.max``
at every level of the unified hierarchy, v1's ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us`` in the
cpu controller's mount.
"""

import os
import subprocess
import sys

import pytest
import torch

from symml import threads


def fake_cgroups(tmp_path, proc_lines, files):
    """/proc/self/cgroup with ``proc_lines`` and, under a fake /sys/fs/cgroup, ``files`` {path: text}."""
    proc = tmp_path / "proc-self-cgroup"
    proc.write_text("".join(line + "\n" for line in proc_lines))
    root = tmp_path / "sys-fs-cgroup"
    root.mkdir()
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text + "\n")
    return proc, root


V1_PROC = ["12:memory:/kubepods/pod1/ctr", "3:cpu,cpuacct:/kubepods/pod1/ctr", "0::/"]


@pytest.mark.parametrize(
    "proc_lines, files, limit",
    [
        # cgroup v2 with cgroupns (Kubernetes on containerd): the pod's cgroup is the mount's root
        (["0::/"], {"cpu.max": "200000 100000"}, 2.0),
        (["0::/"], {"cpu.max": "max 100000"}, None),
        (["0::/"], {"cpu.max": "150000 100000"}, 1.5),
        # v2 seen from the host's root: the tightest of the container's and its ancestors' limits
        (["0::/kubepods/pod1/ctr"], {"kubepods/pod1/cpu.max": "100000 100000", "kubepods/pod1/ctr/cpu.max": "max 100000",
                                     "kubepods/cpu.max": "max 100000"}, 1.0),
        (["0::/kubepods/pod1/ctr"], {"kubepods/pod1/ctr/cpu.max": "50000 100000", "kubepods/pod1/cpu.max": "400000 100000"}, 0.5),
        # cgroup v1, cpu and cpuacct co-mounted
        (V1_PROC, {"cpu,cpuacct/kubepods/pod1/ctr/cpu.cfs_quota_us": "150000", "cpu,cpuacct/kubepods/pod1/ctr/cpu.cfs_period_us": "100000"}, 1.5),
        (V1_PROC, {"cpu,cpuacct/kubepods/pod1/ctr/cpu.cfs_quota_us": "-1", "cpu,cpuacct/kubepods/pod1/ctr/cpu.cfs_period_us": "100000"}, None),
        # v1 in Docker: /proc says the host's path, the mount is the container's own cgroup
        (["4:cpu:/docker/0123abcd"], {"cpu/cpu.cfs_quota_us": "300000", "cpu/cpu.cfs_period_us": "100000"}, 3.0),
        # v1 with the limit on the parent only
        (V1_PROC, {"cpu,cpuacct/kubepods/pod1/cpu.cfs_quota_us": "100000", "cpu,cpuacct/kubepods/pod1/cpu.cfs_period_us": "100000",
                   "cpu,cpuacct/kubepods/pod1/ctr/cpu.cfs_quota_us": "-1", "cpu,cpuacct/kubepods/pod1/ctr/cpu.cfs_period_us": "100000"}, 1.0),
        # hybrid: v1 cpu controller plus an empty unified hierarchy
        (["1:cpu:/", "0::/"], {"cpu/cpu.cfs_quota_us": "200000", "cpu/cpu.cfs_period_us": "100000", "unified/cgroup.procs": ""}, 2.0),
        # no cgroup files at all (macOS, or /sys not mounted), or unreadable ones
        ([], {}, None),
        (["0::/"], {"cpu.max": "garbage"}, None),
        (["1:cpu:/"], {"cpu/cpu.cfs_quota_us": "", "cpu/cpu.cfs_period_us": "100000"}, None),
    ],
)
def test_cgroup_cpu_limit(tmp_path, proc_lines, files, limit):
    proc, root = fake_cgroups(tmp_path, proc_lines, files)
    assert threads.cgroup_cpu_limit(proc, root) == limit


def test_missing_proc_file_means_no_limit(tmp_path):
    assert threads.cgroup_cpu_limit(tmp_path / "absent", tmp_path) is None


@pytest.mark.parametrize("cpu_max, affinity, expected", [
    ("max 100000", 8, 8),        # no quota: the affinity mask
    ("200000 100000", 64, 2),    # a 2-CPU pod on a 64-core host
    ("150000 100000", 64, 1),    # rounded down: never more threads than CPUs at once
    ("50000 100000", 64, 1),     # half a CPU still gets one thread
    ("800000 100000", 4, 4),     # a quota above the mask: the mask
])
def test_available_cpus(tmp_path, monkeypatch, cpu_max, affinity, expected):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(affinity)), raising=False)
    proc, root = fake_cgroups(tmp_path, ["0::/"], {"cpu.max": cpu_max})
    assert threads.available_cpus(proc, root) == expected


class FakeTorch:
    def __init__(self, n):
        self.n, self.calls = n, []

    def get_num_threads(self):
        return self.n

    def set_num_threads(self, n):
        self.calls.append(n)
        self.n = n


@pytest.fixture
def host_of_64(tmp_path, monkeypatch):
    """A pod on a 64-core host with a 2-CPU quota, where torch started with its default of 32 threads."""
    for name in threads.THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(64)), raising=False)
    monkeypatch.setattr(threads, "_torch_default_threads", lambda: {32, 64})
    return fake_cgroups(tmp_path, ["0::/"], {"cpu.max": "200000 100000"})


def test_torch_follows_the_quota(host_of_64):
    torch_ = FakeTorch(32)
    assert threads.use_available_cpus(torch_, *host_of_64) == 2
    assert torch_.calls == [2]


@pytest.mark.parametrize("variable", threads.THREAD_VARIABLES)
def test_a_thread_variable_wins(host_of_64, monkeypatch, variable):
    monkeypatch.setenv(variable, "32")
    torch_ = FakeTorch(32)
    assert threads.use_available_cpus(torch_, *host_of_64) is None
    assert torch_.calls == []


def test_torch_set_num_threads_wins(host_of_64):
    torch_ = FakeTorch(12)  # not one of torch's own defaults: someone chose it
    assert threads.use_available_cpus(torch_, *host_of_64) is None
    assert torch_.calls == []


def test_never_raises_the_count(tmp_path, monkeypatch):
    for name in threads.THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    monkeypatch.setattr(threads, "_torch_default_threads", lambda: {4, 8})
    torch_ = FakeTorch(4)
    assert threads.use_available_cpus(torch_, *fake_cgroups(tmp_path, ["0::/"], {"cpu.max": "max 100000"})) is None
    assert torch_.calls == []


LINUX = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="cgroups and CPU affinity are Linux's")


@LINUX
def test_real_torch_is_resized_and_the_default_is_recognised(tmp_path, monkeypatch):
    for name in threads.THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    before = torch.get_num_threads()
    fresh = subprocess.run([sys.executable, "-c", "import torch; print(torch.get_num_threads())"],
                           env={k: v for k, v in os.environ.items() if k not in threads.THREAD_VARIABLES},
                           capture_output=True, text=True, check=True)
    assert int(fresh.stdout) in threads._torch_default_threads(), "torch's own default must be recognised as one"
    if int(fresh.stdout) < 2:
        pytest.skip("a one-CPU machine: nothing to lower")
    torch.set_num_threads(int(fresh.stdout))
    try:
        proc, root = fake_cgroups(tmp_path, ["0::/"], {"cpu.max": "100000 100000"})
        assert threads.use_available_cpus(None, proc, root) == 1
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


@LINUX
def test_import_symml_fits_torch_to_the_affinity_mask():
    """End to end: torch starts with every CPU, the process is then pinned to one; ``import symml`` follows."""
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs two CPUs to pin to one")
    code = ("import os, torch; before = torch.get_num_threads(); os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
            "import symml; print(before, torch.get_num_threads())")
    env = {k: v for k, v in os.environ.items() if k not in threads.THREAD_VARIABLES}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout.split()
    before, after = map(int, out)
    assert before >= 2 and after == 1, f"torch had {before} threads, {after} after import symml"
    with_variable = subprocess.run([sys.executable, "-c", code], env={**env, "OMP_NUM_THREADS": "2"},
                                   capture_output=True, text=True, check=True).stdout.split()
    assert with_variable == ["2", "2"], "OMP_NUM_THREADS is the user's choice: symml keeps it"
