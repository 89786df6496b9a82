"""D4 symmetries of lattice graphs."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch_geometric import seed_everything
from torch_geometric.data import Batch

from sgnn.data import (
    AddDilatedEdges,
    AddHierarchy,
    LatticeSymmetry,
    RandomLatticeSymmetry,
    lattice_graph,
    lattice_symmetry,
    sandpile_to_data,
)
from sgnn.pool import dilated_edge_key
from sgnn.sandpile import sample_recurrent


def numpy_image(z: np.ndarray, element: int) -> np.ndarray:
    out = np.rot90(z, element % 4)
    return np.fliplr(out) if element >= 4 else out


@pytest.mark.parametrize("element", range(8))
def test_lattice_symmetry_acts_like_numpy(element: int) -> None:
    z = np.arange(12).reshape(3, 4)
    perm, shape = lattice_symmetry((3, 4), element)
    expected = numpy_image(z, element)
    assert shape == expected.shape
    np.testing.assert_array_equal(z.reshape(-1)[perm.numpy()].reshape(shape), expected)


def d4_product(a: int, b: int) -> int:
    """The element ``c`` with ``c = b after a``, from the presentation of :math:`D_4`: with
    ``element = r + 4s`` meaning ``F^s R^r`` (``R`` a quarter turn, ``F`` a flip, ``F R F = R^-1``),
    ``F^s2 R^r2 F^s1 R^r1 = F^(s1 + s2) R^(r1 + (-1)^s1 r2)``."""
    (s1, r1), (s2, r2) = divmod(a, 4), divmod(b, 4)
    return (r1 + (-1) ** s1 * r2) % 4 + 4 * ((s1 + s2) % 2)


@pytest.mark.parametrize("shape", [(4, 5), (4, 4)])
def test_lattice_symmetry_is_d4(shape: tuple[int, int]) -> None:
    """The 8 permutations of :func:`lattice_symmetry` are distinct and compose by the Cayley
    table of :math:`D_4`: applying ``a`` then ``b`` is exactly ``d4_product(a, b)``, on the
    permutation and on the shape; ``a`` then its inverse is the identity."""
    perms = [lattice_symmetry(shape, e) for e in range(8)]
    assert perms[0][0].tolist() == list(range(shape[0] * shape[1])) and perms[0][1] == shape
    assert len({(tuple(p.tolist()), s) for p, s in perms}) == 8
    for a in range(8):
        perm_a, shape_a = perms[a]
        for b in range(8):
            perm_b, shape_b = lattice_symmetry(shape_a, b)
            perm_c, shape_c = perms[d4_product(a, b)]
            assert shape_b == shape_c, (a, b)
            assert torch.equal(perm_a[perm_b], perm_c), (a, b)  # x[perm_a][perm_b]
        assert sum(d4_product(a, b) == 0 for b in range(8)) == 1


def test_lattice_symmetry_transforms_compose_like_d4() -> None:
    """On a graph with node, edge and graph attributes: ``LatticeSymmetry(b)`` after
    ``LatticeSymmetry(a)`` is ``LatticeSymmetry(d4_product(a, b))``, field by field."""
    data = sandpile_to_data(sample_recurrent((3, 5), 4), drop_site=(2, 1))
    data.edge_attr = torch.arange(data.edge_index.size(1), dtype=torch.float)[:, None]
    for a in range(8):
        once = LatticeSymmetry(a)(data)
        for b in range(8):
            twice, direct = LatticeSymmetry(b)(once), LatticeSymmetry(d4_product(a, b))(data)
            assert sorted(twice.keys()) == sorted(direct.keys())
            for key in direct.keys():
                if isinstance(direct[key], torch.Tensor):
                    assert torch.equal(twice[key], direct[key]), (a, b, key)
                else:
                    assert twice[key] == direct[key], (a, b, key)


@pytest.mark.parametrize("element", range(8))
def test_lattice_symmetry_transform_on_data(element: int) -> None:
    z = sample_recurrent((5, 8), element)
    top = np.random.default_rng(element).integers(0, 9, size=(5, 8))
    data = sandpile_to_data(z, drop_site=(1, 6), targets={"top": top, "g": 3.0})
    before = copy.deepcopy(data)
    out = LatticeSymmetry(element)(data)
    assert sorted(before.keys()) == sorted(data.keys())
    for key in before.keys():  # the input is not modified
        if isinstance(data[key], torch.Tensor):
            assert torch.equal(before[key], data[key]), key
        else:
            assert before[key] == data[key], key
    image = numpy_image(z, element)
    expected = sandpile_to_data(image, targets={"top": numpy_image(top, element), "g": 3.0})
    assert out.lattice_shape.tolist() == [list(image.shape)]
    torch.testing.assert_close(out.x[:, :5], expected.x)  # heights and boundary counts
    assert torch.equal(out.edge_index, lattice_graph(image.shape)[0])
    assert torch.equal(out.pos, expected.pos)
    assert torch.equal(out.top, expected.top) and torch.equal(out.g, expected.g)
    # The drop site moved with its node.
    drop = np.zeros((5, 8))
    drop[1, 6] = 1
    np.testing.assert_array_equal(out.x[:, 5].numpy(), numpy_image(drop, element).reshape(-1))


def test_random_lattice_symmetry_is_seeded_and_covers_d4() -> None:
    data = sandpile_to_data(sample_recurrent((3, 5), 0))
    seed_everything(0)
    first = [RandomLatticeSymmetry()(data).x for _ in range(50)]
    seed_everything(0)
    second = [RandomLatticeSymmetry()(data).x for _ in range(50)]
    assert all(torch.equal(a, b) for a, b in zip(first, second, strict=True))
    images = {tuple(x[:, :4].argmax(1).tolist()) for x in first}
    assert len(images) == 8


def test_transform_reprs_and_errors() -> None:
    assert repr(LatticeSymmetry(5)) == "LatticeSymmetry(5)"
    assert repr(RandomLatticeSymmetry()) == "RandomLatticeSymmetry()"
    with pytest.raises(ValueError, match="element"):
        LatticeSymmetry(8)
    with pytest.raises(TypeError, match="element"):
        LatticeSymmetry(1.0)
    data = sandpile_to_data(np.zeros((4, 4), dtype=int))
    with pytest.raises(ValueError, match="before AddHierarchy"):
        LatticeSymmetry(1)(AddHierarchy()(data))
    del data.lattice_shape
    with pytest.raises(ValueError, match="lattice_shape"):
        LatticeSymmetry(1)(data)
    with pytest.raises(ValueError, match="lattice_shape"):
        AddHierarchy()(data)


def test_add_dilated_edges_matches_lattice_graph_and_batches() -> None:
    data = sandpile_to_data(np.zeros((6, 9), dtype=int))
    out = AddDilatedEdges([4, 1, 2])(data)
    assert dilated_edge_key(1) == "edge_index" and "edge_index_dilation_1" not in out
    for d in (2, 4):
        assert torch.equal(out[dilated_edge_key(d)], lattice_graph((6, 9), dilation=d)[0])
    assert "edge_index_dilation_2" not in data  # the input is not modified
    periodic = AddDilatedEdges([2], boundary="periodic")(data)
    expected = lattice_graph((6, 9), "periodic", dilation=2)[0]
    assert torch.equal(periodic.edge_index_dilation_2, expected)
    batch = Batch.from_data_list([out, out])
    assert torch.equal(batch.edge_index_dilation_4[:, out.edge_index_dilation_4.size(1):],
                       out.edge_index_dilation_4 + 54)  # fmt: skip
    assert repr(AddDilatedEdges([2, 1])) == "AddDilatedEdges([1, 2], boundary='open')"
    with pytest.raises(ValueError, match="dilation"):
        AddDilatedEdges([0])
    with pytest.raises(TypeError, match="dilations"):
        AddDilatedEdges(2)
    with pytest.raises(ValueError, match="boundary"):
        AddDilatedEdges([2], boundary="twisted")
    del data.lattice_shape
    with pytest.raises(ValueError, match="lattice_shape"):
        AddDilatedEdges([2])(data)
