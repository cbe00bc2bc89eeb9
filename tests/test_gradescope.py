"""Route 3 of docs/instructors.md: `symml gradescope 07 --out autograder.zip`, as written in the guide,
then the zip's run_autograder in a temporary folder laid out like Gradescope's /autograder (the
wheel installed as setup.sh would, without the network), on the three students of tests/test_guide.py.
results.json is checked against Gradescope's documented format
(https://gradescope-autograders.readthedocs.io/en/latest/specs/, "Output format")."""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from test_guide import STUDENTS, base_env, blocks, expected_points, no_edges_case, run, student_notebook

TOP_LEVEL = {"score", "execution_time", "output", "output_format", "test_output_format", "test_name_format", "visibility",
             "stdout_visibility", "extra_data", "tests", "leaderboard"}
TEST_FIELDS = {"score", "max_score", "status", "name", "name_format", "number", "output", "output_format", "tags", "visibility", "extra_data"}
VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}


def valid_results(data: dict) -> None:
    """Fail unless ``data`` is a results.json Gradescope accepts (its documented fields and types)."""
    assert isinstance(data, dict) and set(data) <= TOP_LEVEL, set(data) - TOP_LEVEL
    assert isinstance(data["score"], float)
    assert data.get("visibility", "visible") in VISIBILITY
    assert isinstance(data.get("output", ""), str)
    assert isinstance(data["tests"], list)
    for t in data["tests"]:
        assert set(t) <= TEST_FIELDS, set(t) - TEST_FIELDS
        assert isinstance(t["name"], str) and t["name"]
        assert isinstance(t["score"], float) and isinstance(t["max_score"], float) and 0 <= t["score"] <= t["max_score"]
        assert isinstance(t["output"], str)
        assert t.get("visibility", "visible") in VISIBILITY
    assert sum(t["score"] for t in data["tests"]) == pytest.approx(data["score"])


@pytest.fixture(scope="module")
def autograder(tmp_path_factory):
    """The guide's command run as written; the zip unpacked into a fake /autograder, the wheel installed."""
    work = tmp_path_factory.mktemp("instructor")
    run(blocks()["gradescope"], work, base_env(work, with_bin=True), timeout=900)
    zipped = work / "autograder.zip"
    root = tmp_path_factory.mktemp("autograder")
    with zipfile.ZipFile(zipped) as z:
        names = z.namelist()
        z.extractall(root / "source")
        modes = {i.filename: i.external_attr >> 16 for i in z.infolist()}
    (wheel,) = [n for n in names if n.endswith(".whl")]
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(root / "site"), str(root / "source" / wheel)],
                   check=True, timeout=600)
    runner = root / "run_autograder"  # Gradescope copies it to /autograder/run_autograder
    runner.write_text((root / "source" / "run_autograder").read_text())
    runner.chmod(0o755)
    return root, names, modes


def grade_with_autograder(root: Path, notebook_text: str | None, name: str = "my upload.ipynb") -> dict:
    for folder in ("submission", "results"):
        subprocess.run(["rm", "-rf", str(root / folder)], check=True)
    (root / "submission").mkdir()
    if notebook_text is not None:
        (root / "submission" / name).write_text(notebook_text)
    env = dict(base_env(root, with_bin=False), PYTHONPATH=str(root / "site"), SYMML_PYTHON=sys.executable)  # only the wheel's symml
    result = subprocess.run([str(root / "run_autograder"), str(root)], capture_output=True, text=True, env=env, timeout=900, cwd=root)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads((root / "results" / "results.json").read_text())


def test_the_zip_holds_setup_run_autograder_and_the_wheel(autograder):
    root, names, modes = autograder
    assert {"setup.sh", "run_autograder"} <= set(names) and any(n.startswith("symml-") and n.endswith(".whl") for n in names)
    assert all(modes[n] & 0o111 for n in ("setup.sh", "run_autograder")), "both scripts executable"
    setup = (root / "source" / "setup.sh").read_text()
    assert "torch==2.13.0" in setup and "download.pytorch.org/whl/cpu" in setup
    (wheel,) = [n for n in names if n.endswith(".whl")]
    assert f"pip install ./{wheel}" in setup
    assert subprocess.run(["bash", "-n", str(root / "source" / "setup.sh")]).returncode == 0


@pytest.mark.slow
@pytest.mark.parametrize("student", STUDENTS)
def test_run_autograder_grades_as_symml_grade_does(autograder, student):
    root, *_ = autograder
    data = grade_with_autograder(root, nbformat.writes(student_notebook(student)))
    valid_results(data)
    assert data["score"] == pytest.approx(expected_points()[student])
    tests = {t["name"].split()[0]: t for t in data["tests"]}
    assert list(tests) == [f"07.{k}" for k in range(1, 6)]
    assert tests["07.2"]["max_score"] == 0.0 and "formative" in tests["07.2"]["name"]
    if student == "partial":
        ex = no_edges_case()
        assert tests["07.1"]["score"] == pytest.approx(float(ex.points) * (len(ex.tests(0)) - 1) / len(ex.tests(0)))
        assert "no edges" in tests["07.1"]["output"] and "hidden test" in tests["07.1"]["output"]
        assert tests["07.2"]["output"].startswith("failed: ") and "4e" not in tests["07.2"]["output"], "the hint, never the key"


def test_no_notebook_submitted_gets_a_valid_zero(autograder):
    root, *_ = autograder
    data = grade_with_autograder(root, None)
    valid_results(data)
    assert data["score"] == 0.0 and "No notebook" in data["output"]


def test_a_bad_switch_is_refused_before_any_zip_is_written(tmp_path):
    result = subprocess.run([sys.executable, "-m", "symml", "gradescope", "07", "--out", str(tmp_path / "a.zip"), "--graded-predictions", "07.1"],
                            capture_output=True, text=True, env=dict(os.environ))
    assert result.returncode == 2 and "function exercise" in result.stderr and not (tmp_path / "a.zip").exists()
