"""Malformed inputs to the layers raise errors that name the argument, never run silently."""

from __future__ import annotations

import pytest
import torch

from sgnn.nn import (
    EGNN,
    DeepSetsLayer,
    EGNNConv,
    LatticeConv,
    LatticeGNN,
    PairwiseSetConv,
    RGNet,
    SetReadout,
)


def _graph(n: int = 5, e: int = 7) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 3, generator=g)
    edge_index = torch.randint(0, n, (2, e), generator=g)
    return x, edge_index


def test_egnn_conv_refuses_a_transposed_or_out_of_range_edge_index() -> None:
    x, edge_index = _graph()
    pos = torch.randn(5, 2)
    conv = EGNNConv(3, 3)
    with pytest.raises(ValueError, match=r"edge_index must have shape \(2, E\).*transpose"):
        conv(x, pos, edge_index.t())
    with pytest.raises(ValueError, match=r"edge_index must hold node indices in 0\.\.4"):
        conv(x, pos, edge_index + 5)
    with pytest.raises(TypeError, match="edge_index must hold integer node indices"):
        conv(x, pos, edge_index.float())


def test_egnn_conv_checks_edge_attr_and_box() -> None:
    x, edge_index = _graph()
    pos = torch.randn(5, 2)
    conv = EGNNConv(3, 3, edge_dim=2)
    with pytest.raises(ValueError, match=r"edge_attr must have shape \(E, 2\) with E = 7"):
        conv(x, pos, edge_index, torch.randn(7, 3))
    with pytest.raises(ValueError, match=r"edge_attr must have shape \(E, 2\) with E = 7"):
        conv(x, pos, edge_index, torch.randn(6, 2))
    boxed = EGNNConv(3, 3, box=[1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="pos must have 3 columns, one per box length"):
        boxed(x, pos, edge_index)


def test_pair_layers_check_edge_index_and_batch() -> None:
    x, edge_index = _graph()
    for conv in (LatticeConv(3, 4), PairwiseSetConv(3, 4)):
        with pytest.raises(ValueError, match=r"edge_index must have shape \(2, E\)"):
            conv(x, edge_index=edge_index.t())
    with pytest.raises(ValueError, match=r"batch must have shape \(5,\)"):
        PairwiseSetConv(3, 4)(x, batch=torch.zeros(4, dtype=torch.long))
    # sgnn 0.1's order (x, batch) is refused, not run with batch as edges.
    with pytest.raises(TypeError, match="pass the set assignment as batch="):
        PairwiseSetConv(3, 4)(x, torch.zeros(5, dtype=torch.long))
    with pytest.raises(TypeError, match="batch must hold integer graph indices"):
        DeepSetsLayer(3, 4)(x, torch.zeros(5))
    with pytest.raises(ValueError, match="batch must hold non-negative graph indices"):
        SetReadout(3)(x, torch.tensor([0, 0, -1, 1, 1]))


@pytest.mark.parametrize("channels", [0, -2, 2.5, True])
def test_channel_counts_must_be_positive_ints(channels: object) -> None:
    with pytest.raises((ValueError, TypeError), match="in_channels"):
        DeepSetsLayer(channels, 4)  # type: ignore[arg-type]
    with pytest.raises((ValueError, TypeError), match="in_channels"):
        SetReadout(channels)  # type: ignore[arg-type]
    with pytest.raises((ValueError, TypeError), match="out_channels"):
        DeepSetsLayer(4, channels)  # type: ignore[arg-type]
    for model in (RGNet, LatticeGNN):
        with pytest.raises((ValueError, TypeError), match="hidden_channels"):
            model(4, channels, 1)  # type: ignore[arg-type]
        with pytest.raises((ValueError, TypeError), match="out_channels"):
            model(4, 4, channels)  # type: ignore[arg-type]
    with pytest.raises((ValueError, TypeError), match="hidden_channels"):
        EGNN(4, channels, 2)  # type: ignore[arg-type]


def test_egnn_conv_refuses_non_finite_positions_but_lets_feature_nan_propagate() -> None:
    """The NaN policy: positions are checked (cheap, on the CPU), features are not."""
    x, edge_index = _graph()
    conv = EGNNConv(3, 3)
    for bad in (float("nan"), float("inf")):
        pos = torch.randn(5, 2)
        pos[3, 1] = bad
        with pytest.raises(ValueError, match="pos must be finite, got NaN or inf in row 3"):
            conv(x, pos, edge_index)
    x_nan = x.clone()
    x_nan[edge_index[0, 0], 0] = float("nan")
    h, _ = conv(x_nan, torch.randn(5, 2), edge_index)
    assert torch.isnan(h).any()


def test_inputs_of_another_dtype_than_the_parameters_name_the_argument() -> None:
    x, edge_index = _graph()
    pos = torch.randn(5, 2)
    conv = EGNNConv(3, 3)
    for dtype in (torch.float16, torch.float64):
        with pytest.raises(TypeError, match=rf"x must have the dtype of the layer's parameters, "
                           rf"torch.float32, got {dtype}"):  # fmt: skip
            conv(x.to(dtype), pos, edge_index)
        with pytest.raises(TypeError, match=rf"pos must have the dtype .*got {dtype}"):
            conv(x, pos.to(dtype), edge_index)
        with pytest.raises(TypeError, match=rf"x must have the dtype .*got {dtype}"):
            LatticeConv(3, 4)(x.to(dtype), edge_index)
        with pytest.raises(TypeError, match=rf"x must have the dtype .*got {dtype}"):
            EGNN(3, 4, 1)(x.to(dtype), pos, edge_index)
    # A layer cast to the input's dtype runs, and autocast's mixed dtypes are left alone.
    assert conv.double()(x.double(), pos.double(), edge_index)[0].dtype == torch.float64
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert LatticeConv(3, 4)(x.bfloat16(), edge_index).shape == (5, 4)


# Constructor probes of every layer: a bad size raises an error naming the argument,
# never torch's negative-dimension error. Add new layers here.
BAD_SIZES = [
    (lambda: EGNNConv(8, 8, hidden_channels=-3), "hidden_channels"),
    (lambda: EGNNConv(8, 8, edge_dim=-1), "edge_dim"),
    (lambda: EGNN(8, 8, 2, graph_channels=-3), "graph_channels"),
    (lambda: EGNN(8, 8, 0), "num_layers"),
    (lambda: LatticeConv(8, -1), "out_channels"),
    (lambda: LatticeGNN(8, 8, -2), "out_channels"),
    (lambda: PairwiseSetConv(-8, 8), "in_channels"),
]


@pytest.mark.parametrize(("build", "name"), BAD_SIZES)
def test_negative_sizes_name_the_argument(build, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        build()


def test_valid_inputs_still_run() -> None:
    x, edge_index = _graph()
    assert EGNNConv(3, 3)(x, torch.randn(5, 2), edge_index)[0].shape == (5, 3)
    assert LatticeConv(3, 4)(x, edge_index).shape == (5, 4)
    batch = torch.tensor([0, 0, 1, 1, 1])
    assert PairwiseSetConv(3, 4)(x, batch=batch).shape == (5, 4)
    assert DeepSetsLayer(3, 4)(x, batch).shape == (5, 4)
    assert SetReadout(3)(x, batch).shape == (2, 3)
