"""The sandpile model zoo: what each model reads, how it is built and trained, and the
loader that mixes lattice sizes; shared by the command line and the examples."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from torch.nn import Module
from torch_geometric.transforms import Compose

from .._checks import check_positive_int
from .._names import SANDPILE_MODELS, SANDPILE_TRAINING
from ..data.transforms import AddDilatedEdges, AddHierarchy
from ..nn.lattice_gnn import LatticeGNN
from ..nn.rgnet import RGNet
from ..train.loop import fit
from .count_automaton import CountAutomaton
from .count_training import train_count_automaton
from .sandpile_losses import check_target, sandpile_loss
from .sandpile_recurrent import FootprintAutomaton, RGRecurrent
from .topple_automaton import ToppleAutomaton
from .wave_hazard import WaveHazard

__all__ = [
    "RECURRENT_MODELS",
    "SANDPILE_MODELS",
    "SANDPILE_TRAINING",
    "MixedSizeLoader",
    "sandpile_model",
    "sandpile_transform",
    "train_sandpile_model",
]

#: The recurrent models, run until their state settles: footprint target only.
RECURRENT_MODELS = ("hint", "recurrent", "rg-recurrent", "count")
#: Dilations of the ``"dilated"`` baseline; a fixed number, whatever the lattice size.
_DILATIONS = (1, 2, 4, 8)
#: Input channels of sandpile_to_data: one-hot height (4), missing neighbours, drop site.
_IN_CHANNELS = {"footprint": 6, "hazard": 5}
_OUT_CHANNELS = {"footprint": 2, "hazard": 1}


def sandpile_transform(name: str | None = None) -> Compose | None:
    """What a sandpile model reads beyond the lattice itself.

    Without ``name``, the transform every model can read: the hierarchy and
    dilated edges. With a model name, only what that model needs: the
    hierarchy for the RGNets and ``"rg-recurrent"``, the dilated edges for
    ``"dilated"``, nothing (:obj:`None`) for the others. Use it as a dataset's
    ``transform`` to keep cached graphs small on large lattices.
    """
    if name is None:
        return Compose([AddHierarchy(), AddDilatedEdges(_DILATIONS)])
    if name not in SANDPILE_MODELS:
        raise ValueError(f"name must be one of {SANDPILE_MODELS}, got {name!r}")
    if name in ("rgnet-exact", "rgnet-unet", "rg-recurrent"):
        return Compose([AddHierarchy()])
    if name == "dilated":
        return Compose([AddDilatedEdges(_DILATIONS)])
    return None


def sandpile_model(name: str, target: str = "footprint", hidden_channels: int = 32) -> Module:
    r"""One of the models compared on sandpile avalanches.

    Feed-forward, with comparable parameter counts:

    * ``"rgnet-exact"``: :class:`~sgnn.nn.RGNet` (``mode="exact"``, ``num_layers=4``);
    * ``"rgnet-unet"``: :class:`~sgnn.nn.RGNet` (``mode="unet"``, ``num_layers=2``);
    * ``"local"``: :class:`~sgnn.nn.LatticeGNN` with four nearest-neighbour layers;
    * ``"dilated"``: :class:`~sgnn.nn.LatticeGNN` with dilations 1, 2, 4, 8.

    Recurrent, run until their state settles (footprint target only):

    * ``"hint"``: :class:`~sgnn.tasks.ToppleAutomaton`, the toppling rule
      learnt from single steps (a linear rule on an ordinal state);
    * ``"recurrent"``: :class:`~sgnn.tasks.FootprintAutomaton`, learnt from
      footprints alone;
    * ``"rg-recurrent"``: :class:`~sgnn.tasks.RGRecurrent`, the RGNet V-cycle
      as the recurrent body (``hidden_channels // 4`` wide: every iteration
      covers the whole hierarchy);
    * ``"count"``: :class:`~sgnn.tasks.CountAutomaton`, the least-action
      counting rule with thresholds tied across topplings, learnt from
      footprints alone (:func:`~sgnn.tasks.train_count_automaton`; 9
      parameters, ``hidden_channels`` unused).

    The RGNets mean-pool the one-hot heights (local densities, renormalized
    by :math:`b = 2` per level, see :class:`~sgnn.nn.RGNet`) and max-pool the
    missing-neighbour count and the drop-site indicator, so that every level
    knows which blocks touch the boundary and which holds the drop site.

    From exact first waves (hazard target only):

    * ``"wave"``: :class:`~sgnn.tasks.WaveHazard`, the first two waves of every
      site, exact, and a learned local correction for the waves that follow.

    Args:
        name (str): One of :data:`SANDPILE_MODELS`.
        target (str, optional): ``"footprint"`` (outputs: toppled logit and
            :math:`\log(1 + \text{topplings})` per site) or ``"hazard"``
            (output: predicted hazard per site). (default: ``"footprint"``)
        hidden_channels (int, optional): Hidden size. (default: ``32``)
    """
    check_target(target)
    check_positive_int(hidden_channels, "hidden_channels")
    if name in RECURRENT_MODELS:
        if target != "footprint":
            raise ValueError(f"the recurrent model {name!r} predicts footprints only, not "
                             f"{target!r}")  # fmt: skip
        if name == "count":
            return CountAutomaton("footprint")
        if name == "hint":
            return ToppleAutomaton(hidden_channels)
        if name == "recurrent":
            return FootprintAutomaton(hidden_channels=hidden_channels)
        return RGRecurrent(hidden_channels=max(1, hidden_channels // 4))
    if name == "wave":
        if target != "hazard":
            raise ValueError(f"the model 'wave' predicts hazard maps only, not {target!r}")
        return WaveHazard(hidden_channels)
    c_in, c_out = _IN_CHANNELS[target], _OUT_CHANNELS[target]
    reduce = ("mean",) * 4 + ("max",) * (c_in - 4)
    if name in ("rgnet-exact", "rgnet-unet"):
        mode, num_layers = ("exact", 4) if name == "rgnet-exact" else ("unet", 2)
        return RGNet(c_in, hidden_channels, c_out, mode=mode, num_layers=num_layers, reduce=reduce,
                     renormalize=2.0)  # fmt: skip
    if name == "local":
        return LatticeGNN(c_in, hidden_channels, c_out, (1, 1, 1, 1))
    if name == "dilated":
        return LatticeGNN(c_in, hidden_channels, c_out, _DILATIONS)
    raise ValueError(f"name must be one of {SANDPILE_MODELS}, got {name!r}")


def train_sandpile_model(model: Module, train_sets: Sequence[Any], val_sets: Sequence[Any], *,
                         epochs: int, lr: float, target: str = "footprint",
                         batch_size: int = 16, seed: int = 0,
                         patience: int | None = None, grad_clip: float | None = None,
                         progress: bool | None = None, desc: str | None = None,
                         print_fn: Callable[[str], None] | None = None,
                         loss: Callable[[Module, Any], Any] | None = None) -> Any:  # fmt: skip
    r"""Train a sandpile model on datasets of one lattice size each, as ``sgnn train`` does.

    :class:`~sgnn.tasks.CountAutomaton` is trained in stages by
    :func:`~sgnn.tasks.train_count_automaton` (``epochs`` first-wave epochs at
    ``lr``, then its threshold step; the validation sets are not used) and the
    result of that is returned; every other model by :func:`~sgnn.train.fit`
    with :func:`sandpile_loss` of ``target`` (or ``loss(model, batch)`` if given, e.g.
    for an ablation of the loss) on a :class:`MixedSizeLoader` (sizes shuffled
    together, seeded), returning its :class:`~sgnn.train.History`.
    """
    from torch_geometric.loader import DataLoader  # loads PyG's loaders only when training

    if not train_sets or any(len(d) == 0 for d in train_sets):
        raise ValueError("train_sets must hold at least one dataset, none of them empty")
    if isinstance(model, CountAutomaton):
        data = [graph for dataset in train_sets for graph in dataset]
        return train_count_automaton(model, data, warm_epochs=epochs, lr=lr, seed=seed,
                                     print_fn=print_fn)  # fmt: skip
    train = MixedSizeLoader([DataLoader(d, batch_size, shuffle=True) for d in train_sets], seed)
    val = MixedSizeLoader([DataLoader(d, batch_size) for d in val_sets], seed)
    return fit(
        model,
        sandpile_loss(target, seed=seed) if loss is None else loss,
        train,
        val,
        epochs=epochs,
        lr=lr,
        patience=patience,
        grad_clip=grad_clip,
        progress=progress,
        desc=desc,
    )


class MixedSizeLoader:
    """Batches drawn from several loaders (one per lattice size), shuffled together.

    Graphs of one batch must share their number of hierarchy levels, so each
    loader holds one size; every epoch the batches of all loaders are visited
    in a fresh random order (seeded), so training alternates between sizes.
    Batches are drawn from the loaders as the epoch goes, one at a time (the
    loaders need a length).

    Args:
        loaders (Iterable): Loaders, e.g. one
            :class:`torch_geometric.loader.DataLoader` per size.
        seed (int, optional): Seed of the order. (default: ``0``)
    """

    def __init__(self, loaders: Iterable[Iterable[Any]], seed: int = 0) -> None:
        self.loaders = list(loaders)
        if not self.loaders:
            raise ValueError("loaders must hold at least one loader")
        self.rng = random.Random(seed)

    def __iter__(self) -> Iterator[Any]:
        # Lazy: shuffle which loader each step draws from, not the collated batches,
        # so only one batch is held at a time.
        order = [i for i, loader in enumerate(self.loaders) for _ in range(len(loader))]
        self.rng.shuffle(order)
        iterators = [iter(loader) for loader in self.loaders]
        for i in order:
            yield next(iterators[i])

    def __len__(self) -> int:
        return sum(len(loader) for loader in self.loaders)  # type: ignore[arg-type]
