"""``symml`` on the command line: ``symml grade ...`` (also ``python -m symml grade ...``)."""

import sys


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in ("grade",):
        print("usage: symml grade SUBMISSIONS... --out grades.csv   (symml grade --help for more)")
        return 2
    from symml.grade import main as grade

    return grade(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
