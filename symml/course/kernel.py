"""The kernel the grader runs a submission in: ipykernel under a memory cap.

Started as ``python -m symml._grading_kernel MEMORY_BYTES -f CONNECTION_FILE``. The cap is set with
``RLIMIT_DATA`` (heap and anonymous mappings), which torch respects: an allocation past it fails
with an error inside the student's cell instead of taking the grader's machine down.
"""

import os
import resource
import sys


def main():
    memory = int(sys.argv.pop(1))
    if memory > 0:
        resource.setrlimit(resource.RLIMIT_DATA, (memory, memory))
    os.environ["SYMML_GRADING"] = "1"  # check() stays quiet; it still records the answers it is given
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


if __name__ == "__main__":
    main()
