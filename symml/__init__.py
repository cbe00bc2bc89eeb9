"""symml: a course on symmetry-equivariant machine learning, and the small library behind it.

One module per idea, each mirrored by a lesson:

* ``symml.so3``    — rotations and the matrices of every irrep (lesson 02)
* ``symml.irreps`` — irreducible representations and how to find them (lesson 03)
* ``symml.cg``     — Clebsch-Gordan coefficients as a null space (lesson 04)
* ``symml.sh``     — spherical harmonics from tensor products (lesson 05)
* ``symml.nn``     — an E(3)-equivariant network (lessons 07–08)

Conventions are e3nn 0.6's: vectors are (x, y, z) and ``o3.Irreps`` is the irreps type.
"""

__version__ = "0.1.0"
