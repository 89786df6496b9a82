"""Equivariance assertions that users run on their own modules."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import torch
from torch import Tensor
from torch_geometric.data import Data

from .._checks import check_positive_int
from ..data.hierarchy import coarse_grain_hierarchy
from ..data.lattice import check_lattice_shape, data_lattice_shape
from ..data.transforms import LatticeSymmetry, lattice_symmetry
from ..pool import coarse_grain
from ._harness import (
    Forward,
    _compare,
    _d4_action,
    _edge_map,
    _kinds,
    _lattice_data,
    _levels,
    _outputs,
    _permute,
    _prepare,
    _random_permutation,
)

__all__ = [
    "assert_coarse_graining_equivariant",
    "assert_en_equivariant",
    "assert_lattice_symmetric",
    "assert_permutation_equivariant",
    "random_orthogonal",
]



def random_orthogonal(n: int, generator: torch.Generator, reflection: bool | None = None,
                      dtype: torch.dtype = torch.float64) -> Tensor:  # fmt: skip
    r"""A random :math:`n \times n` orthogonal matrix (Haar measure on :math:`O(n)`).

    Args:
        n (int): Dimension, a positive int (a ``TypeError`` or ``ValueError`` naming
            ``n`` otherwise).
        generator (torch.Generator): Source of randomness.
        reflection (bool, optional): Force :math:`\det = -1` (:obj:`True`) or
            :math:`+1` (:obj:`False`). (default: :obj:`None`, either)
        dtype (torch.dtype, optional): (default: ``torch.float64``)
    """
    n = check_positive_int(n, "n")
    a = torch.randn(n, n, generator=generator, dtype=torch.float64)
    q, r = torch.linalg.qr(a)
    q = q * torch.sign(torch.diagonal(r))  # the sign fix makes the distribution Haar
    if reflection is not None and (torch.det(q) < 0) != reflection:
        q[:, 0] = -q[:, 0]
    return q.to(dtype)


def assert_permutation_equivariant(
    module: torch.nn.Module,
    data: Data,
    forward: Forward | None = None,
    output: str | Sequence[str] = "node",
    trials: int = 3,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
    atol: float | None = None,
    prepare: Callable[[Data], Data] | None = None,
) -> None:
    r"""Assert :math:`f(\pi \cdot G) = \pi \cdot f(G)` for random node permutations :math:`\pi`.

    Nodes are permuted with random non-identity permutations (within each
    graph of a batch, so that ``batch`` stays sorted); every node-level
    attribute of ``data`` moves with its node and ``edge_index`` (and any
    other key holding an index of shape :math:`(2, E)`) is relabelled, edges
    keeping their order. Outputs are compared by their ``output`` kind:
    ``"node"``, ``"position"`` and ``"vector"`` outputs are permuted,
    ``"graph"`` and ``"edge"`` outputs must be unchanged, ``"ignore"`` is
    skipped.

    Args:
        module (torch.nn.Module): The module under test (a copy is cast to
            ``dtype``; the original is untouched).
        data (torch_geometric.data.Data): A graph or a batch of graphs.
        forward (Callable, optional): ``forward(module, data)`` returning a
            tensor or a tuple of tensors. By default ``module`` is called with
            the attributes of ``data`` named like its ``forward`` parameters
            (``x`` also as ``input``, torch's name), or with ``data`` itself
            if none matches.
        output (str or Sequence[str], optional): Kind of each output, or one
            kind for all. (default: ``"node"``)
        trials (int, optional): Number of random permutations. (default: ``3``)
        seed (int, optional): Seed of the random permutations. (default: ``0``)
        dtype (torch.dtype, optional): Floating dtype of the comparison.
            (default: ``torch.float64``)
        atol (float, optional): Absolute tolerance per unit of output
            magnitude. (default: :obj:`None`, 1e-9 in float64, 1e-4 in float32)
        prepare (Callable, optional): Applied to the original and to every
            transformed graph before the call, e.g. to rebuild edges or edge
            features from positions. (default: :obj:`None`)

    Raises:
        AssertionError: Naming the trial, the output and the largest error.
    """
    module, data = _prepare(module, data, dtype)
    gen = torch.Generator().manual_seed(seed)
    reference = _outputs(module, data, forward, output, prepare)
    for trial in range(trials):
        perm = _random_permutation(data, gen)
        moved = _permute(data, perm)
        got = _outputs(module, moved, forward, output, prepare)
        for index, (kind, ref, out) in enumerate(zip(_kinds(output, reference), reference, got,
                                                     strict=True)):  # fmt: skip
            if kind == "ignore":
                continue
            if ref is None or out is None:  # an absent optional output must stay absent
                _compare(out, ref, dtype, atol, f"output {index} ({kind})")
                continue
            expected = ref[perm] if kind in ("node", "position", "vector") else ref
            _compare(out, expected, dtype, atol,
                     f"permutation trial {trial}: output {index} ({kind})")  # fmt: skip


def assert_en_equivariant(
    module: torch.nn.Module,
    data: Data,
    n: int | None = None,
    forward: Forward | None = None,
    output: str | Sequence[str] = ("node", "position"),
    position_keys: Sequence[str] = ("pos",),
    vector_keys: Sequence[str] = ("vel",),
    trials: int = 4,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
    atol: float | None = None,
    prepare: Callable[[Data], Data] | None = None,
) -> None:
    r"""Assert E(n) and permutation equivariance:
    :math:`f(\pi(Q\mathbf{x} + \mathbf{t}), \pi\mathbf{h}) = \pi(Q f_x + \mathbf{t}, f_h)`.

    Each trial draws a random orthogonal :math:`Q` (half of the trials a
    reflection, :math:`\det Q = -1`), a random translation :math:`\mathbf{t}`
    and a random node permutation :math:`\pi`. Attributes in
    ``position_keys`` become :math:`Q\mathbf{x} + \mathbf{t}`, those in
    ``vector_keys`` :math:`Q\mathbf{v}`; every other attribute (edge
    attributes included) is treated as invariant. Outputs are compared by
    kind: ``"position"`` as :math:`Q\mathbf{y} + \mathbf{t}`, ``"vector"`` as
    :math:`Q\mathbf{y}`, ``"node"`` as invariant features that permute,
    ``"graph"``/``"edge"`` as invariants.

    Args:
        module (torch.nn.Module): The module under test.
        data (torch_geometric.data.Data): Its input, with ``pos``.
        n (int, optional): Dimension; ``data.pos.size(1)`` if omitted.
        forward, output, trials, seed, dtype, atol, prepare: As in
            :func:`assert_permutation_equivariant`; ``prepare`` runs after the
            transformation, so it can recompute edge features from positions.
        position_keys (Sequence[str], optional): Inputs that are positions.
            (default: ``("pos",)``)
        vector_keys (Sequence[str], optional): Inputs that are vectors.
            (default: ``("vel",)``)
    """
    module, data = _prepare(module, data, dtype)
    present = [k for k in position_keys if k in data]
    if not present:
        raise ValueError(f"data has none of the position keys {tuple(position_keys)}")
    dim = n if n is not None else int(data[present[0]].size(1))
    gen = torch.Generator().manual_seed(seed)
    reference = _outputs(module, data, forward, output, prepare)
    kinds = _kinds(output, reference)
    for trial in range(trials):
        q = random_orthogonal(dim, gen, reflection=trial % 2 == 1, dtype=dtype)
        t = torch.randn(dim, generator=gen, dtype=dtype) * 3
        perm = _random_permutation(data, gen)
        moved = _permute(data, perm)
        for key in present:
            moved[key] = moved[key] @ q.t() + t
        for key in vector_keys:
            if key in moved:
                moved[key] = moved[key] @ q.t()
        got = _outputs(module, moved, forward, output, prepare)
        what = f"E({dim}) trial {trial} (det Q = {int(torch.det(q).round())})"
        for index, (kind, ref, out) in enumerate(zip(kinds, reference, got, strict=True)):
            if kind == "ignore":
                continue
            if ref is None or out is None:  # an absent optional output must stay absent
                _compare(out, ref, dtype, atol, f"output {index} ({kind})")
                continue
            expected = ref
            if kind in ("node", "position", "vector"):
                expected = expected[perm]
            if kind == "position":
                expected = expected @ q.t() + t
            elif kind == "vector":
                expected = expected @ q.t()
            _compare(out, expected, dtype, atol, f"{what}: output {index} ({kind})")


def assert_lattice_symmetric(
    module: torch.nn.Module,
    data: Data,
    forward: Forward | None = None,
    output: str | Sequence[str] = "node",
    prepare: Callable[[Data], Data] | None = None,
    dtype: torch.dtype = torch.float64,
    atol: float | None = None,
) -> None:
    r"""Assert equivariance under all 8 symmetries :math:`g \in D_4` of a square-lattice graph.

    Builds :math:`g \cdot G` with :class:`~sgnn.data.LatticeSymmetry` (nodes,
    features and positions move; ``edge_index`` is rebuilt) and checks
    :math:`f(g \cdot G) = g \cdot f(G)`: ``"node"`` outputs move with their
    sites, ``"vector"`` outputs also turn by :math:`g`'s :math:`2 \times 2`
    matrix :math:`R_g` on lattice coordinates ``(row, col)``, ``"position"``
    outputs map as lattice coordinates, :math:`R_g \mathbf{p} + \mathbf{t}_g`,
    ``"edge"`` outputs follow their edges into the re-coalesced order of the
    transformed ``edge_index``, ``"graph"`` outputs are invariant and
    ``"ignore"`` outputs are not compared.

    Args:
        module (torch.nn.Module): The module under test.
        data (torch_geometric.data.Data): A lattice graph with
            ``lattice_shape`` (as built by :func:`~sgnn.data.sandpile_to_data`).
        forward, output, dtype, atol: As in :func:`assert_permutation_equivariant`.
        prepare (Callable, optional): Applied to the original and to every
            transformed graph before the call, e.g. :class:`~sgnn.data.AddHierarchy`.
            (default: :obj:`None`)
    """
    module, data = _prepare(module, data, dtype)
    shape = data_lattice_shape(data)

    reference = _outputs(module, data, forward, output, prepare)
    kinds = _kinds(output, reference)
    for element in range(8):
        perm, new_shape = lattice_symmetry(shape, element)
        moved = LatticeSymmetry(element)(data)
        got = _outputs(module, moved, forward, output, prepare)
        rot, shift = _d4_action(shape, new_shape, perm, element)
        for index, (kind, ref, out) in enumerate(zip(kinds, reference, got, strict=True)):
            if kind == "ignore":
                continue
            if ref is None or out is None:  # an absent optional output must stay absent
                _compare(out, ref, dtype, atol, f"output {index} ({kind})")
                continue
            if kind == "edge":
                expected = ref[_edge_map(data.edge_index, moved.edge_index, perm)]
            elif kind in ("node", "position", "vector"):
                expected = ref[perm]
                if kind in ("position", "vector"):
                    expected = expected @ rot.to(expected.dtype).t()
                if kind == "position":
                    expected = expected + shift.to(expected.dtype)
            else:
                expected = ref
            _compare(out, expected, dtype, atol, f"D4 element {element}: output {index} ({kind})")


def assert_coarse_graining_equivariant(
    model: torch.nn.Module,
    shape: tuple[int, int],
    in_channels: int | None = None,
    factor: int = 2,
    reduce: str | Sequence[str] | None = None,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
    atol: float | None = None,
) -> None:
    r"""Assert :math:`f(P\mathbf{x})^{(k)} = f(\mathbf{x})^{(k+1)}` at every level :math:`k`.

    Draws random features :math:`\mathbf{x}` on the ``shape`` lattice, pools
    them to the lattice :math:`b` times smaller (:math:`P`, ``reduce``), and
    compares the per-level outputs of ``model`` on both, each with its
    natural hierarchy. ``model(data, return_levels=True)`` must return the
    node outputs of every level, as the ``levels`` field of its output (as
    :class:`~sgnn.nn.RGNet` does) or as a list.

    Args:
        model (torch.nn.Module): The model under test.
        shape (tuple[int, int]): The fine lattice, sides multiples of ``factor``.
        in_channels (int, optional): Input feature size; ``model.in_channels``
            if omitted.
        factor (int, optional): Block side :math:`b`. (default: ``2``)
        reduce (str or Sequence[str], optional): The pooling :math:`P` the model
            lifts with, as :func:`~sgnn.pool.coarse_grain` takes it.
            (default: :obj:`None`: ``model.lift(x, cluster)`` if the model has
            one, as :class:`~sgnn.nn.RGNet` does, else ``"mean"``)
        seed, dtype, atol: As in :func:`assert_permutation_equivariant`.
    """
    h, w = check_lattice_shape(shape)
    if h % factor or w % factor:
        raise ValueError(f"shape {shape} must have sides that are multiples of factor={factor}")
    model = copy.deepcopy(model).to(dtype)
    channels = in_channels if in_channels is not None else getattr(model, "in_channels", None)
    if channels is None:
        raise ValueError("give in_channels: the model has no in_channels attribute")
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(h * w, channels, generator=gen, dtype=torch.float64).to(dtype)
    fine = coarse_grain_hierarchy((h, w), factor)
    coarse = coarse_grain_hierarchy((h // factor, w // factor), factor)
    with torch.no_grad():
        if reduce is None and callable(getattr(model, "lift", None)):
            px = model.lift(x, fine.cluster[0], dim_size=fine.num_nodes(1))
        else:
            px = coarse_grain(x, fine.cluster[0], "mean" if reduce is None else reduce)
    with torch.no_grad():
        out_fine = _levels(model(_lattice_data(x, fine, (h, w)), return_levels=True))
        out_coarse = _levels(model(_lattice_data(px, coarse, (h // factor, w // factor)),
                                   return_levels=True))  # fmt: skip
    if len(out_fine) != fine.num_levels or len(out_coarse) != coarse.num_levels:
        raise AssertionError(
            f"the model returned {len(out_fine)} and {len(out_coarse)} levels for hierarchies of "
            f"{fine.num_levels} and {coarse.num_levels}"
        )
    for k, (got, expected) in enumerate(zip(out_coarse, out_fine[1:], strict=True)):
        _compare(got, expected, dtype, atol,
                 f"coarse-graining: level {k} of f(Px) vs level {k + 1} of f(x)")  # fmt: skip
