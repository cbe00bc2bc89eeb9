"""The GPU tests are collected on every machine: without CUDA they are reported as skipped, with the
reason, instead of vanishing (tests parametrized over ``conftest.DEVICES``)."""

import subprocess
import sys
from pathlib import Path

import torch
from conftest import NO_CUDA

ROOT = Path(__file__).resolve().parent.parent
# the test files whose equivariance checks run on every device
DEVICE_TESTS = ["tests/test_so3.py", "tests/test_cg.py", "tests/test_sh.py", "tests/test_nn.py"]


def test_cuda_tests_are_reported_skipped_with_the_reason_not_dropped():
    proc = subprocess.run([sys.executable, "-m", "pytest", *DEVICE_TESTS, "-k", "cuda", "-rsp", "-q", "-p", "no:cacheprovider"], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    reported = [line for line in out.splitlines() if line.startswith(("SKIPPED", "PASSED"))]
    for path in DEVICE_TESTS:  # each file has a cuda variant, run or reported
        assert any(path in line for line in reported), f"{path} has no cuda test:\n{out[-3000:]}"
    if torch.cuda.is_available():
        assert all(line.startswith("PASSED") for line in reported), out[-3000:]
    else:
        assert all(line.startswith("SKIPPED") and NO_CUDA in line for line in reported), out[-3000:]
