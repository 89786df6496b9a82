"""The machinery behind :mod:`sgnn.testing`'s assertions: calling a module on a graph,
transforming graphs by permutations and lattice symmetries, comparing outputs."""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor
from torch_geometric.data import Data

from ..data.hierarchy import HierarchicalData

Forward = Callable[[torch.nn.Module, Data], Any]
_KINDS = ("node", "graph", "edge", "position", "vector", "ignore")
# Relative to the outputs' magnitude: float64 is held to nearly its round-off.
_BASE_TOL = {torch.float64: 1e-9, torch.float32: 1e-4, torch.float16: 1e-2, torch.bfloat16: 1e-2}


def _d4_action(shape: tuple[int, int], new_shape: tuple[int, int], perm: Tensor,
               element: int) -> tuple[Tensor, Tensor]:  # fmt: skip
    """The 2x2 matrix :math:`R` and shift :math:`t` with which lattice coordinates
    ``(row, col)`` of a site map to the coordinates of its image: ``R p + t``."""
    quarter = torch.tensor([[0.0, -1.0], [1.0, 0.0]], dtype=torch.float64)  # as numpy.rot90
    rot = torch.linalg.matrix_power(quarter, element % 4)
    if element >= 4:
        rot = torch.tensor([[1.0, 0.0], [0.0, -1.0]], dtype=torch.float64) @ rot  # fliplr
    old = perm[0]
    old_pos = torch.tensor([old // shape[1], old % shape[1]], dtype=torch.float64)
    return rot, torch.zeros(2, dtype=torch.float64) - rot @ old_pos  # the image of site 0 is (0, 0)


def _edge_map(old: Tensor, new: Tensor, perm: Tensor) -> Tensor:
    """``index`` with ``new[:, k]`` the image of ``old[:, index[k]]``: edge outputs of
    the transformed graph are the reference's, in the re-coalesced order."""
    n = int(perm.numel())
    perm = perm.to(old.device)
    old_key = old[0] * n + old[1]
    new_key = perm[new[0]] * n + perm[new[1]]
    order = torch.argsort(old_key)
    found = torch.searchsorted(old_key[order], new_key)
    found = found.clamp(max=old_key.numel() - 1)
    if not torch.equal(old_key[order][found], new_key):
        raise ValueError("the transformed edges are not the images of the original ones")
    return order[found]


def _levels(out: Any) -> list[Tensor]:
    levels = getattr(out, "levels", out)
    if not isinstance(levels, (list, tuple)):
        raise TypeError(
            "model(data, return_levels=True) must return the per-level outputs, "
            f"as a list or in a .levels field, got {type(out).__name__}"
        )
    return list(levels)


def _lattice_data(x: Tensor, hierarchy: Any, shape: tuple[int, int]) -> Data:
    data = Data(x=x, edge_index=hierarchy.edge_index[0], pos=hierarchy.pos[0],
                lattice_shape=torch.tensor([list(shape)]), num_nodes=x.size(0))  # fmt: skip
    return hierarchy.attach(data)


def _prepare(module: torch.nn.Module, data: Data, dtype: torch.dtype) -> tuple[Any, Data]:
    if not isinstance(data, Data):
        raise TypeError(f"data must be a torch_geometric.data.Data, got {type(data).__name__}")
    module = copy.deepcopy(module).to(dtype)
    data = copy.copy(data)
    for key, value in data.items():
        if isinstance(value, Tensor) and value.is_floating_point():
            data[key] = value.to(dtype)
    return module, data


def _call(module: torch.nn.Module, data: Data, forward: Forward | None) -> Any:
    if forward is not None:
        return forward(module, data)
    params = inspect.signature(module.forward).parameters
    kwargs = {name: data[name] for name in params if name in data}
    if "input" in params and "x" in data:  # torch.nn's name for the node features
        kwargs["input"] = data.x
    if not kwargs:
        return module(data)
    return module(**kwargs)


def _outputs(module: torch.nn.Module, data: Data, forward: Forward | None,
             output: str | Sequence[str],
             prepare: Callable[[Data], Data] | None = None) -> tuple[Tensor, ...]:  # fmt: skip
    if prepare is not None:
        data = prepare(data)
    with torch.no_grad():
        out = _call(module, data, forward)
    if isinstance(out, Tensor):
        return (out,)
    if isinstance(out, (tuple, list)):
        return tuple(out)
    raise TypeError(f"the module returned {type(out).__name__}; expected tensors")


def _kinds(output: str | Sequence[str], outputs: tuple[Any, ...]) -> list[str]:
    kinds = [output] * len(outputs) if isinstance(output, str) else list(output)
    if len(kinds) != len(outputs):
        raise ValueError(f"output names {len(kinds)} kinds for {len(outputs)} outputs")
    for kind in kinds:
        if kind not in _KINDS:
            raise ValueError(f"output kinds must be among {_KINDS}, got {kind!r}")
    return kinds


def _random_permutation(data: Data, gen: torch.Generator) -> Tensor:
    """``perm[new] = old``, non-identity, within each graph when ``batch`` is present."""
    n = data.num_nodes
    if n < 2:
        return torch.arange(n)
    batch = data.get("batch")
    for _ in range(100):  # a non-identity draw is certain unless every graph has one node
        keys = torch.rand(n, generator=gen, dtype=torch.float64)
        if batch is not None:
            keys = keys + batch.to(torch.float64).cpu()  # graphs stay contiguous and ordered
        perm = torch.argsort(keys)
        if not torch.equal(perm, torch.arange(n)):
            return perm
    return torch.arange(n)


def _permute(data: Data, perm: Tensor) -> Data:
    n = data.num_nodes
    inverse = torch.empty_like(perm)
    inverse[perm] = torch.arange(n)
    out = copy.copy(data)
    for key, value in data.items():
        if not isinstance(value, Tensor):
            continue
        is_pairs = value.dim() == 2 and value.size(0) == 2 and not value.is_floating_point()
        if "index" in key and is_pairs and not HierarchicalData.is_level_key(key):
            out[key] = inverse.to(value.device)[value]
        elif data.is_node_attr(key) and value.size(0) == n:
            out[key] = value[perm.to(value.device)]
    return out


def _compare(got: Any, expected: Any, dtype: torch.dtype, atol: float | None, what: str) -> None:
    if expected is None or got is None:
        if (expected is None) != (got is None):
            raise AssertionError(f"{what}: one output is None and the other is not")
        return
    if got.shape != expected.shape:
        raise AssertionError(f"{what}: shape {tuple(got.shape)} != {tuple(expected.shape)}")
    if not expected.is_floating_point():  # integer and bool outputs must match exactly
        if not torch.equal(got, expected):
            raise AssertionError(f"{what}: integer outputs differ")
        return
    scale = max(1.0, float(expected.abs().max())) if expected.numel() else 1.0
    tol = (atol if atol is not None else _BASE_TOL.get(dtype, 1e-4)) * scale
    error = float((got - expected).abs().max()) if got.numel() else 0.0
    if not error <= tol:  # also catches NaN
        raise AssertionError(f"{what} is not equivariant: max |difference| = {error:.3e} "
                             f"> tolerance {tol:.1e}")  # fmt: skip
