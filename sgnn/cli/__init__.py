"""Command-line interface: ``python -m sgnn <command>`` or the ``sgnn`` script.

Commands:

* ``simulate`` -- drive a sandpile from an exact stationary sample (or from an
  empty lattice) and print statistics of heights and avalanches next to the
  exact values.
* ``generate`` -- build a :class:`~sgnn.data.SandpileAvalanches` dataset (or
  one shard of it) in a cache directory.
* ``train`` -- train one of :data:`~sgnn.tasks.SANDPILE_MODELS` on avalanches
  of small lattices and save a checkpoint.
* ``evaluate`` -- print a checkpoint's metrics on fresh configurations of
  several lattice sizes.

:func:`build_parser` builds the parser without importing torch or the numba kernels
(``sgnn --help`` and ``sgnn simulate`` stay light); :func:`main` runs a command and
returns its exit status (0: done, 1: trained or evaluated but not converged, 2: a user
error, reported on one line). ``--help`` of every command gives every option's default.
"""

from __future__ import annotations

from collections.abc import Sequence

from ._parser import build_parser, check_arguments

__all__ = ["build_parser", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    check_arguments(parser, args)
    return int(args.func(args))
