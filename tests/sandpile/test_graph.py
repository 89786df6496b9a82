"""SandpileGraph construction from CSR and networkx."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from sandpile_reference import dense_laplacian

from sgnn.sandpile import SandpileGraph


@pytest.mark.parametrize("shape", [(1, 1), (1, 5), (4, 3), (8, 8)])
def test_square_lattice_structure(shape: tuple[int, int]) -> None:
    h, w = shape
    g = SandpileGraph.square_lattice(shape)
    assert g.num_nodes == h * w and g.shape == shape and g.sink == h * w
    np.testing.assert_array_equal(g.threshold, 4)
    for i in range(h):
        for j in range(w):
            node = i * w + j
            nbrs = sorted(int(v) for v in g.indices[g.indptr[node] : g.indptr[node + 1]])
            expected = sorted(
                a * w + b if 0 <= a < h and 0 <= b < w else g.sink
                for a, b in ((i - 1, j), (i + 1, j), (i, j - 1), (i, j + 1))
            )
            assert nbrs == expected
            np.testing.assert_array_equal(g.pos[node], [i, j])
    assert g.sink_edges.sum() == 2 * (h + w)
    np.testing.assert_array_equal(g.to_scipy().toarray(), dense_laplacian(g))
    assert repr(g) == f"SandpileGraph(square_lattice={shape})"


def test_from_csr_renumbers_around_sinks_and_adds_dissipation() -> None:
    # Path 0 - 1 - 2 - 3 with node 0 a sink and one dissipated grain at node 3.
    indptr = np.array([0, 1, 3, 5, 6])
    indices = np.array([1, 0, 2, 1, 3, 2])
    pos = np.arange(8.0).reshape(4, 2)
    g = SandpileGraph.from_csr(indptr, indices, sinks=[0], dissipation=[0, 0, 0, 1], pos=pos)
    assert g.num_nodes == 3
    np.testing.assert_array_equal(g.threshold, [2, 2, 2])
    np.testing.assert_array_equal(g.sink_edges, [1, 0, 1])
    np.testing.assert_array_equal(g.pos, pos[1:])
    lap = np.array([[2, -1, 0], [-1, 2, -1], [0, -1, 2]])
    np.testing.assert_array_equal(g.to_scipy().toarray(), lap)


def test_from_networkx_multigraph_counts_parallel_edges() -> None:
    mg = nx.MultiGraph([("a", "b"), ("a", "b"), ("b", "s")])
    g = SandpileGraph.from_networkx(mg, sinks=["s"])
    assert g.labels == ["a", "b"]
    np.testing.assert_array_equal(g.threshold, [2, 3])
    np.testing.assert_array_equal(dense_laplacian(g), [[2, -2], [-2, 3]])


def test_from_networkx_reads_position_attribute() -> None:
    g = nx.path_graph(3)
    nx.set_node_attributes(g, {0: (0.0, 1.0), 1: (2.0, 3.0), 2: (4.0, 5.0)}, "xy")
    sg = SandpileGraph.from_networkx(g, sinks=[2], pos="xy")
    np.testing.assert_array_equal(sg.pos, [[0, 1], [2, 3]])


def test_graph_arrays_are_read_only() -> None:
    g = SandpileGraph.square_lattice((3, 3))
    with pytest.raises(ValueError):
        g.threshold[0] = 7


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: SandpileGraph.from_networkx(nx.cycle_graph(4)), "sink"),
        (lambda: SandpileGraph.from_networkx(nx.Graph([(0, 1), (2, 3)]), sinks=[0]), "sink"),
        (lambda: SandpileGraph.from_networkx(nx.DiGraph([(0, 1)]), sinks=[0]), "undirected"),
        (lambda: SandpileGraph.from_networkx(nx.Graph([(0, 0), (0, 1)]), sinks=[1]), "self-loop"),
        (lambda: SandpileGraph.from_networkx(nx.path_graph(3), sinks=[7]), "sink"),
        (lambda: SandpileGraph.from_networkx(nx.path_graph(2), sinks=[0, 1]), "sink"),
        (lambda: SandpileGraph.from_networkx([(0, 1)]), "graph"),
        (lambda: SandpileGraph.from_csr([0, 1, 1], [1], sinks=[]), "symmetric"),
        (lambda: SandpileGraph.from_csr([0, 2, 3], [1], sinks=[]), "indptr"),
        (lambda: SandpileGraph.from_csr([0, 1, 2], [1, 5], sinks=[]), "indices"),
        (lambda: SandpileGraph.from_csr([0, 1, 2], [1, 0], [1], [-1, 0]), "dissipation"),
        (lambda: SandpileGraph.from_csr([0.0, 1.0], [0]), "indptr"),
        (lambda: SandpileGraph.square_lattice((0, 4)), "shape"),
        (lambda: SandpileGraph.square_lattice((3,)), "shape"),
        (lambda: SandpileGraph.square_lattice((2.5, 3)), "shape"),
        (lambda: SandpileGraph.square_lattice(5), "shape"),
    ],
)
def test_bad_graphs_are_rejected(build, match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        build()
