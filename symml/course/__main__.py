"""``symml <command> ...`` and ``python -m symml.course <command> ...``: see ``symml.course``."""

import sys

COMMANDS = {
    "release": "make exercises/ from solutions/",
    "execute": "execute notebooks in place",
    "grade": "grade students' notebooks",
    "site": "build the course website",
}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] not in COMMANDS:
        print("usage: symml {" + ",".join(COMMANDS) + "} ...")
        for name, what in COMMANDS.items():
            print(f"  {name:8s} {what}")
        return 2
    command, rest = argv[0], argv[1:]
    if command == "grade":
        from symml.course.grade import main as run
    elif command == "site":
        from symml.course.site import main as run
    elif command == "execute":
        from symml.course.execute import main as run
    else:
        from symml.course.release import main as run
    return run(rest) or 0


if __name__ == "__main__":
    sys.exit(main())
