r"""Photonic crystals: band structures of two-dimensional crystals on the square lattice by
the plane-wave expansion method, reference and random unit cells, and batches of band
structures for datasets. numpy and scipy only (no torch).

A unit cell is an :math:`n \times n` array of relative permittivities (lattice constant
:math:`a = 1`, pixel ``eps[i, j]`` centred at :math:`((i + \frac12)/n, (j + \frac12)/n)`);
frequencies are normalised, :math:`\omega a / (2\pi c)`.

.. code-block:: python

   from sgnn.photonics import band_gap, photonic_bands, rod_lattice

   bands = photonic_bands(rod_lattice(32), num_bands=4, polarization="tm")
   print(band_gap(bands).ratio)  # about 0.313: the TM gap of Joannopoulos et al., ch. 5
"""

from .bands import BandGap, band_gap, k_path, num_plane_waves, photonic_bands
from .cells import random_cells, rod_lattice, vein_lattice
from .dataset import BandStructures, band_structures

__all__ = [
    "BandGap",
    "BandStructures",
    "band_gap",
    "band_structures",
    "k_path",
    "num_plane_waves",
    "photonic_bands",
    "random_cells",
    "rod_lattice",
    "vein_lattice",
]
