r"""A Gradescope autograder for one problem set: ``symml gradescope 07 --out autograder.zip``.

Gradescope (https://gradescope-autograders.readthedocs.io/en/latest/specs/) builds an image from a
zip with ``setup.sh`` (run once, as root) and ``run_autograder`` (run for every submission, in
``/autograder``; the student's files are in ``/autograder/submission``, the grade goes to
``/autograder/results/results.json``). The zip written here holds:

* ``setup.sh``: installs the CPU build of ``torch==2.13.0``, then the course wheel from the zip
  (its other dependencies from PyPI), and adds a user ``student`` that owns nothing of the grader;
* ``run_autograder``: finds the submitted notebook, copies it under the problem set's own name
  (the student may have renamed it), and runs ``symml grade NOTEBOOK --gradescope results.json``
  with the switches given here (``--graded-predictions``); in bubblewrap's sandbox where the
  container allows it, else ``--no-sandbox`` as the user ``student`` (when run as root);
* the course wheel (``symml-*.whl``), built from this checkout, or the one given with ``--wheel``.

``run_autograder`` takes its root from its first argument or ``$AUTOGRADER_ROOT`` (default
``/autograder``) and its Python from ``$SYMML_PYTHON`` (default ``python3``), so the tests run it
in a temporary folder laid out like ``/autograder``.
"""

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from symml.course import ROOT

TORCH = "torch==2.13.0"

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, as root, to build the autograder's image.
set -euo pipefail
cd "$(dirname "$0")"
python3 -m pip install --upgrade pip
python3 -m pip install {torch} --index-url https://download.pytorch.org/whl/cpu
python3 -m pip install ./{wheel}
id student >/dev/null 2>&1 || useradd --create-home student   # the notebook runs as this user, never as root
"""

RUN = """#!/usr/bin/env bash
# Gradescope runs this for every submission. Problem set {lesson}; switches: {switches}
set -uo pipefail
root="${{1:-${{AUTOGRADER_ROOT:-/autograder}}}}"
python="${{SYMML_PYTHON:-python3}}"
mkdir -p "$root/results"
results="$root/results/results.json"
notebook=$(find "$root/submission" -name '*.ipynb' -not -path '*/.ipynb_checkpoints/*' | sort | head -n 1)
if [ -z "$notebook" ]; then
  echo '{{"score": 0.0, "output": "No notebook was submitted: upload your {name}.", "tests": []}}' > "$results"
  exit 0
fi
work=$(mktemp -d)
chmod 755 "$work"
cp "$notebook" "$work/{name}"   # the problem set is this autograder's, whatever the file is called
sandbox=()
"$python" -c "from symml.course.sandbox import check; check()" 2>/dev/null || sandbox=(--no-sandbox)
as=()
if [ "$(id -u)" = 0 ] && id student >/dev/null 2>&1; then
  chown -R student "$work"
  as=(runuser -u student --)   # root could rewrite the installed grader; the student user cannot
fi
"${{as[@]}}" "$python" -m symml grade "$work/{name}" --gradescope "$work/results.json" "${{sandbox[@]}}" {args}
status=$?
if [ -s "$work/results.json" ]; then
  cp "$work/results.json" "$results"
else
  echo '{{"score": 0.0, "output": "The grader could not grade this notebook (exit status '"$status"'): ask your instructor.", "tests": []}}' > "$results"
fi
"""


def build_wheel(root: Path = ROOT) -> Path:
    """The course wheel, built from the checkout at ``root`` (no dependencies bundled)."""
    if not (root / "pyproject.toml").exists():
        raise FileNotFoundError(f"{root} is not a checkout of the course (no pyproject.toml): pass --wheel symml-*.whl")
    folder = Path(tempfile.mkdtemp(prefix="symml-wheel-"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(folder), str(root)], check=True)
    (wheel,) = folder.glob("symml-*.whl")
    return wheel


def autograder(lesson: str, out: Path, graded: str = "", wheel: Path | None = None) -> Path:
    """Write the autograder zip for problem set ``lesson`` ("07") to ``out``; returns ``out``.

    ``graded`` is ``--graded-predictions``'s value (validated here); ``wheel``: the course wheel to
    ship (default: built from this checkout).
    """
    from symml.checks import graded_predictions, lessons

    if lesson not in lessons():
        raise ValueError(f"no problem set {lesson!r}: there are {', '.join(lessons())}")
    graded_predictions(graded)  # a bad switch fails here, not in every student's run
    names = sorted((ROOT / "solutions").glob(f"{lesson}_*.ipynb")) or sorted((ROOT / "exercises").glob(f"{lesson}_*.ipynb"))
    name = names[0].name if names else f"{lesson}_submission.ipynb"
    wheel = Path(wheel) if wheel else build_wheel()
    args = f"--graded-predictions {graded}" if graded else ""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for filename, text in (("setup.sh", SETUP.format(torch=TORCH, wheel=wheel.name)),
                               ("run_autograder", RUN.format(lesson=lesson, name=name, args=args, switches=args or "none"))):
            info = zipfile.ZipInfo(filename)
            info.external_attr = 0o755 << 16  # executable once unzipped
            z.writestr(info, text)
        z.write(wheel, wheel.name)
    return out


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="symml gradescope", description="Write a Gradescope autograder zip for one problem set.")
    parser.add_argument("lesson", help="the problem set, e.g. 07")
    parser.add_argument("--out", type=Path, default=Path("autograder.zip"), help="the zip to write (default: autograder.zip)")
    parser.add_argument("--graded-predictions", default="", metavar="SETS_OR_IDS", help="as in symml grade: predictions that earn points (default: none)")
    parser.add_argument("--wheel", type=Path, help="ship this course wheel instead of building one from the checkout")
    args = parser.parse_args(argv)
    try:
        path = autograder(args.lesson, args.out, args.graded_predictions, args.wheel)
    except (ValueError, FileNotFoundError) as e:
        print(f"symml gradescope: {e}", file=sys.stderr)
        return 2
    print(f"wrote {path}: upload it as the assignment's autograder (Configure Autograder → Zip file upload)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
