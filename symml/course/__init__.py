"""The instructor's machinery, apart from the teaching library: ``symml <command>``.

    symml release [--check | --force]      solutions/ -> exercises/ (the student versions), executed
    symml execute [NB ...]                 run notebooks top to bottom, save their outputs
    symml grade SUBMISSIONS... --out F     grade a class in sandboxed kernels (``grade``, ``sandbox``)
    symml site [--out _site]               the course website, offline (``site``)
    symml nbgrader COURSE_DIR [NN ...]     the problem sets as nbgrader source assignments

``python -m symml.course <command>`` is the same. The arrows point one way: ``symml.course`` uses
``symml.checks`` (the exercise declarations) and the library; neither of them imports it.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent  # a git checkout's root; see ``course_root``
