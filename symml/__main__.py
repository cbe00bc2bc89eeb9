"""``python -m symml <command>``, the same as the ``symml`` command: see ``symml.course``."""

import sys

from symml.course.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
