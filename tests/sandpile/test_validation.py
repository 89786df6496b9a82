"""Bad input at every public entry point raises a clear error naming the argument."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from sgnn.sandpile import (
    SandpileGraph,
    add_grain,
    avalanche_sizes,
    drive,
    expected_avalanche_size,
    height_probabilities,
    identity,
    is_recurrent,
    relax,
    sample_recurrent,
)

BAD_HEIGHTS = [
    (np.array([[1, -1], [0, 0]]), ValueError, "non-negative"),
    (np.array([[1.0, 2.0]]), TypeError, "integer"),
    (np.array([[True, False]]), TypeError, "integer"),
    (np.array([1, 2, 3]), ValueError, "2-D"),
    (np.zeros((2, 2, 2), dtype=int), ValueError, "2-D"),
    (np.zeros((0, 3), dtype=int), ValueError, "at least one site"),
    (np.zeros((2, 2), dtype=object), TypeError, "integer"),
    (np.zeros((2, 2), dtype=complex), TypeError, "integer"),
    (np.zeros((), dtype=int), ValueError, "2-D"),
]


@pytest.mark.parametrize(("z", "exc", "match"), BAD_HEIGHTS)
@pytest.mark.parametrize("fn", [relax, is_recurrent, height_probabilities])
def test_bad_heights(fn, z: np.ndarray, exc: type, match: str) -> None:
    with pytest.raises(exc, match=f"z .*{match}|{match}.*z|z must"):
        fn(z)


@pytest.mark.parametrize(("z", "exc", "match"), BAD_HEIGHTS)
def test_bad_heights_add_grain_and_drive(z: np.ndarray, exc: type, match: str) -> None:
    with pytest.raises(exc, match="z"):
        add_grain(z, (0, 0))
    with pytest.raises(exc, match="z"):
        drive(z, 1, 0)


PATH = SandpileGraph.from_networkx(nx.path_graph(4), sinks=[0])  # 3 nodes, thresholds 2

BAD_GRAPH_HEIGHTS = [
    (np.array([1, -1, 0]), ValueError, "non-negative"),
    (np.array([1.0, 0.0, 0.0]), TypeError, "integer"),
    (np.array([True, False, True]), TypeError, "integer"),
    (np.zeros(4, dtype=int), ValueError, "shape"),
    (np.zeros((1, 3), dtype=int), ValueError, "shape"),
]


@pytest.mark.parametrize(("z", "exc", "match"), BAD_GRAPH_HEIGHTS)
def test_bad_heights_on_graph(z: np.ndarray, exc: type, match: str) -> None:
    for fn in (
        lambda: relax(z, graph=PATH),
        lambda: is_recurrent(z, graph=PATH),
        lambda: height_probabilities(z, graph=PATH),
        lambda: add_grain(z, 0, graph=PATH),
        lambda: drive(z, 1, 0, graph=PATH, progress=False),
    ):
        with pytest.raises(exc, match=f"z .*{match}|z must"):
            fn()


def test_unstable_on_graph_is_refused_where_stability_is_needed() -> None:
    z = np.array([1, 2, 1])  # node 1 has threshold 2
    with pytest.raises(ValueError, match=r"z must be stable.*node 1 has height 2 >= 2"):
        add_grain(z, 0, graph=PATH)
    with pytest.raises(ValueError, match="z must be stable"):
        drive(z, 3, 0, graph=PATH, progress=False)
    np.testing.assert_array_equal(z, [1, 2, 1])  # nothing was changed
    assert is_recurrent(z, graph=PATH) is False


def test_a_networkx_graph_is_not_a_lattice_shape() -> None:
    for shape in (nx.path_graph(2), {3, 4}, "44"):
        with pytest.raises(TypeError, match="shape must be a lattice shape"):
            sample_recurrent(shape, 0)


def test_in_place_functions_need_a_writeable_numpy_array() -> None:
    with pytest.raises(TypeError, match="z must be a numpy"):
        add_grain([[0, 1]], (0, 0))
    z = np.zeros((2, 2), dtype=int)
    z.setflags(write=False)
    with pytest.raises(ValueError, match="z must be writeable"):
        drive(z, 1, 0)


def test_unstable_configurations_are_refused_where_stability_is_needed() -> None:
    z = np.full((3, 3), 4)
    with pytest.raises(ValueError, match="z must be stable"):
        add_grain(z, (0, 0))
    with pytest.raises(ValueError, match="z must be stable"):
        drive(z, 10, 0)


@pytest.mark.parametrize(
    ("site", "exc"),
    [((3, 0), ValueError), ((0, -1), ValueError), ((0,), TypeError), (5, TypeError),
     ((0.5, 1), TypeError), ((True, 0), TypeError)],
)  # fmt: skip
def test_bad_site(site, exc: type) -> None:
    with pytest.raises(exc, match="site"):
        add_grain(np.zeros((3, 3), dtype=int), site)


def test_bad_site_on_graph() -> None:
    g = PATH
    for site in (3, -1):
        with pytest.raises(ValueError, match="site"):
            add_grain(np.zeros(3, dtype=int), site, graph=g)
    for site in ((0, 1), 1.0, True, "0"):
        with pytest.raises(TypeError, match="site"):
            add_grain(np.zeros(3, dtype=int), site, graph=g)
    z = np.zeros(3, dtype=int)
    with pytest.raises(ValueError, match="site"):
        add_grain(z, 3, graph=g)
    np.testing.assert_array_equal(z, 0)  # a refused call leaves z alone


def test_configuration_must_match_graph() -> None:
    g = SandpileGraph.from_networkx(nx.path_graph(4), sinks=[0])
    with pytest.raises(ValueError, match=r"z must have shape \(3,\)"):
        relax(np.zeros(4, dtype=int), graph=g)
    with pytest.raises(TypeError, match="graph must be a SandpileGraph"):
        relax(np.zeros((2, 2), dtype=int), graph="lattice")
    with pytest.raises(TypeError, match="graph must be a SandpileGraph"):
        is_recurrent(np.zeros(3, dtype=int), graph=nx.path_graph(4))  # not converted silently


@pytest.mark.parametrize(("n", "exc"), [(-1, ValueError), (2.0, TypeError), (True, TypeError)])
def test_bad_grain_count(n, exc: type) -> None:
    with pytest.raises(exc, match="n_grains"):
        drive(np.zeros((2, 2), dtype=int), n, 0)


def test_bad_rng_and_progress() -> None:
    with pytest.raises(TypeError, match="rng"):
        drive(np.zeros((2, 2), dtype=int), 1, "seed")
    with pytest.raises(TypeError, match="rng"):
        sample_recurrent((2, 2), 1.5)
    with pytest.raises(TypeError, match="progress"):
        drive(np.zeros((2, 2), dtype=int), 1, 0, progress="yes")


@pytest.mark.parametrize(
    ("num_threads", "exc"),
    [(0, ValueError), (-2, ValueError), (10**6, ValueError), (2.0, TypeError), (True, TypeError),
     ("2", TypeError)],
)  # fmt: skip
def test_bad_num_threads(num_threads, exc: type) -> None:
    with pytest.raises(exc, match="num_threads"):
        avalanche_sizes(np.zeros((2, 2), dtype=int), num_threads=num_threads)


def test_bad_progress_of_avalanche_sizes() -> None:
    with pytest.raises(TypeError, match="progress"):
        avalanche_sizes(np.zeros((2, 2), dtype=int), progress="yes")


@pytest.mark.parametrize("fn", [sample_recurrent, identity, expected_avalanche_size])
@pytest.mark.parametrize(
    ("shape", "exc"), [((0, 3), ValueError), ((2, 2, 2), ValueError), ("ab", TypeError),
                       (None, TypeError), ((-1, 2), ValueError)],
)  # fmt: skip
def test_bad_shapes(fn, shape, exc: type) -> None:
    with pytest.raises(exc, match="shape"):
        fn(shape)


def test_huge_piles_are_refused_rather_than_overflowing() -> None:
    with pytest.raises(ValueError, match="2\\*\\*62"):
        relax(np.full((2, 2), 2**61, dtype=np.int64))
