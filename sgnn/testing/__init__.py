"""Equivariance assertions for your own modules (float64, random group elements).

Each assertion applies random elements of a symmetry group to a module's input
and checks that the output transforms accordingly, with a tolerance scaled by
dtype and output magnitude. A failure names the transformation and the error.
"""

from .equivariance import (
    assert_coarse_graining_equivariant,
    assert_en_equivariant,
    assert_lattice_symmetric,
    assert_permutation_equivariant,
    random_orthogonal,
)

__all__ = [
    "assert_coarse_graining_equivariant",
    "assert_en_equivariant",
    "assert_lattice_symmetric",
    "assert_permutation_equivariant",
    "random_orthogonal",
]
