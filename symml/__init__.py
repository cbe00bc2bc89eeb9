"""symml: a course on symmetry-equivariant machine learning, and the small library behind it.

One module per idea, each mirrored by a lesson:

* ``symml.so3``    — rotations and the matrices of every irrep (lesson 02)
* ``symml.irreps`` — irreducible representations and how to find them (lesson 03)
* ``symml.cg``     — Clebsch-Gordan coefficients as a null space (lesson 04)
* ``symml.sh``     — spherical harmonics from tensor products (lesson 05)
* ``symml.nn``     — an E(3)-equivariant network (lessons 07–08)
* ``symml.symmetry`` — the point group of a point cloud (lesson 10)

and the course's tools: ``symml.datasets`` and ``symml.train`` (small data and a training loop for
the lessons), ``symml.plot`` (figures that also read well on GitHub), ``symml.checks`` (the
autotested exercises), ``symml.course`` (student notebooks from solutions), ``symml.grade`` (the
instructor's grader) and ``symml.site`` (the course website).

Conventions are e3nn 0.6's: vectors are (x, y, z) and ``o3.Irreps`` is the irreps type.
"""

__version__ = "0.1.0"

from symml.threads import use_available_cpus

use_available_cpus()  # a Binder pod sees the host's cores but may use 1-2: size torch's pool to those
