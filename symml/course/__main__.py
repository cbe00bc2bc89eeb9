"""``symml <command> ...`` and ``python -m symml.course <command> ...``: see ``symml.course``."""

import importlib
import sys

COMMANDS = {  # command -> (the module whose main() runs it, what it does)
    "release": ("symml.course.release", "make exercises/ from solutions/"),
    "execute": ("symml.course.execute", "execute notebooks in place"),
    "grade": ("symml.course.grade", "grade students' notebooks in sandboxed kernels"),
    "site": ("symml.course.site", "build the course website"),
    "colab": ("symml.course.colab", "put the Colab install cell first in every notebook"),
    "nbgrader": ("symml.course.nbgrader", "write the problem sets as nbgrader source assignments"),
    "gradescope": ("symml.course.gradescope", "write a Gradescope autograder zip for one problem set"),
    "points": ("symml.course.points", "how each problem set's points split: graded transfers, formative predictions"),
}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] not in COMMANDS:
        print("usage: symml {" + ",".join(COMMANDS) + "} ...")
        for name, (_, what) in COMMANDS.items():
            print(f"  {name:9s} {what}")
        return 2
    module, _ = COMMANDS[argv[0]]
    return importlib.import_module(module).main(argv[1:]) or 0


if __name__ == "__main__":
    sys.exit(main())
