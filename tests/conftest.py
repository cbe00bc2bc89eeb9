import pytest
import torch

NO_CUDA = "no CUDA device: torch.cuda.is_available() is False (this test runs on a machine with a GPU and a CUDA build of torch)"

# Every test parametrized over DEVICES has a cuda variant, whatever the machine: without a GPU it is
# reported as skipped, with the reason (`-ra`), never silently left out. Unlike a missing chromium
# or bwrap, a missing GPU is not a failure in CI (SYMML_CI): CI's machines have none.
DEVICES = ["cpu", pytest.param("cuda", id="cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason=NO_CUDA))]


@pytest.fixture
def float64():
    """Run a test with float64 as the default dtype (e3nn builds its matrices in the default dtype)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def random_O3(n, seed):
    """n random orthogonal matrices, half of them improper (det -1), float64."""
    from symml.so3 import rand_matrix

    R = rand_matrix(n, dtype=torch.float64, seed=seed)
    sign = torch.ones(n, dtype=torch.float64)
    sign[1::2] = -1
    return R * sign[:, None, None]


# ---------------------------------------------------------------- programs from system packages

CI_STRICT = "SYMML_CI"  # .ci/run sets it: there a missing system program fails the test instead of skipping it
SYSTEM_PACKAGES = {"chromium": "chromium", "bwrap": "bubblewrap"}  # program -> the Debian package that has it


def require_system(program: str) -> str:
    """The path of ``program`` (e.g. ``"chromium"``, ``"bwrap"``) on PATH; if it is missing, skip the test.

    Some tests need a program that pip cannot install (Debian's chromium for the browser tests,
    bubblewrap's ``bwrap`` for the grader's sandbox). On a laptop without it the test is skipped and
    ``-ra`` prints the reason with the package to install; in CI (``SYMML_CI=1``, set by ``.ci/run``,
    which installs both) a missing program fails the test, so CI can never pass by skipping.
    Call it in a test or fixture:  ``bwrap = require_system("bwrap")``.
    """
    import os
    import shutil

    path = shutil.which(program)
    if path:
        return path
    package = SYSTEM_PACKAGES.get(program, program)
    reason = f"`{program}` is not on PATH: install Debian's {package} (apt-get install {package}) to run this test"
    if os.environ.get(CI_STRICT):
        pytest.fail(f"{reason}; {CI_STRICT} is set, so CI must have it (.ci/run installs it)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium_executable():
    """Debian's chromium for Playwright (``executable_path``); the browser tests skip without it, CI fails."""
    return require_system("chromium")


# ---------------------------------------------------------------- which files start first

# `make test` hands whole files to its workers (pytest-xdist --dist loadfile) in collection order
# (--no-loadscope-reorder). xdist's own order, most tests first, starts the files of a few long
# tests last: with 4 workers nbgrader's three runs were the last minutes, on one worker alone; with
# 2 the unit stage took 801 s instead of 823 s. These go first, longest first (their times under
# `--durations`, on 2 cores); the rest follow in the usual order. A file missing here is only
# scheduled later, never skipped.
LONGEST_FIRST = ["test_grade.py", "test_sandbox.py", "test_nbgrader.py", "test_guide.py", "test_checks.py", "test_course.py",
                 "test_site.py", "test_colab.py", "test_binder.py", "test_browser.py", "test_datasets.py", "test_gradescope.py", "test_nn.py"]


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: a file's tests keep their order
