r"""The sign-structure task: predict :math:`\operatorname{sign}\psi(\sigma)` of a frustrated
magnet's ground state from the spin image :math:`\sigma` (:class:`~sgnn.data.HeisenbergSigns`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import torch
from torch import Tensor
from torch.nn import Linear, Module, Sequential, SiLU
from torch.nn.functional import binary_cross_entropy_with_logits
from torch.utils.data import DataLoader, RandomSampler, Sampler, WeightedRandomSampler
from torch_geometric.nn.inits import reset
from torch_geometric.profile import count_parameters
from tqdm.auto import tqdm

from .._checks import check_lattice_shape, check_positive_int
from .._progress import tqdm_disable
from ..data.heisenberg import HeisenbergSigns, spin_batch
from ..nn import LatticeGNN
from ..train.loop import fit

__all__ = [
    "SIGN_MODELS",
    "SpinMLP",
    "sign_accuracy",
    "sign_logits",
    "sign_model",
    "train_sign_model",
]

#: The models of the sign task: an invariant stack of dilated lattice convolutions, the
#: same stack without dilations, and a multilayer perceptron on the flattened spins.
SIGN_MODELS = ("dilated", "plain", "mlp")
#: How :func:`train_sign_model` draws minibatch states from the training set.
_SAMPLINGS = ("weight", "uniform")


class SpinMLP(Module):
    r"""A multilayer perceptron on the flattened spin image: no symmetry built in.

    .. math::
        y = W_L\,\sigma(\cdots \sigma(W_1 \operatorname{vec}(\mathbf{x}) + b_1) \cdots) + b_L

    Args:
        num_sites (int): Nodes per graph :math:`N` (the input has :math:`N F_{in}` entries).
        hidden_channels (int): Width of the hidden layers.
        out_channels (int, optional): Outputs per graph. (default: ``1``)
        num_layers (int, optional): Linear layers, :math:`\ge 2`. (default: ``3``)
        in_channels (int, optional): Features per node. (default: ``1``)

    Shapes:
        - **input:** a batch of graphs of ``num_sites`` nodes each, ``x`` of shape
          :math:`(B N, F_{in})`, nodes in the same order in every graph
        - **output:** :math:`(B, F_{out})`
    """

    def __init__(self, num_sites: int, hidden_channels: int, out_channels: int = 1,
                 num_layers: int = 3, in_channels: int = 1) -> None:  # fmt: skip
        super().__init__()
        self.num_sites = check_positive_int(num_sites, "num_sites")
        self.in_channels = check_positive_int(in_channels, "in_channels")
        self.hidden_channels = check_positive_int(hidden_channels, "hidden_channels")
        self.out_channels = check_positive_int(out_channels, "out_channels")
        if check_positive_int(num_layers, "num_layers") < 2:
            raise ValueError(f"num_layers must be >= 2, got {num_layers}")
        self.num_layers = num_layers
        widths = [num_sites * in_channels] + [hidden_channels] * (num_layers - 1)
        layers: list[Module] = []
        for a, b in pairwise(widths):
            layers += [Linear(a, b), SiLU()]
        self.net = Sequential(*layers, Linear(widths[-1], out_channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for child in self.children():  # each resets itself (PyG's reset)
            reset(child)

    def forward(self, data: Any) -> Tensor:
        x = data.x
        n, f = self.num_sites, self.in_channels
        if x.dim() != 2 or x.size(1) != f or x.size(0) % n:
            raise ValueError(f"data.x must have shape (B * {n}, {f}), got {tuple(x.shape)}")
        return self.net(x.reshape(-1, n * f))

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.num_sites}, {self.hidden_channels}, "
                f"{self.out_channels}, num_layers={self.num_layers})")  # fmt: skip


def sign_model(name: str, num_sites: int, hidden_channels: int = 16,
               dilations: Sequence[int] = (1, 2, 3), mlp_hidden_channels: int | None = None,
               ) -> Module:  # fmt: skip
    r"""A model of the sign task, one logit per graph.

    ``"dilated"``: :class:`~sgnn.nn.LatticeGNN` with ``dilations`` and mean pooling over
    the lattice, invariant under the periodic translations and :math:`D_4`;
    ``"plain"``: the same with every dilation 1 (identical parameter count);
    ``"mlp"``: :class:`SpinMLP` with two hidden layers of ``mlp_hidden_channels`` (by
    default the width whose parameter count is closest to the lattice models').

    Args:
        name (str): One of :data:`SIGN_MODELS`.
        num_sites (int): Spins per cluster :math:`N`.
        hidden_channels (int, optional): Width of the lattice models. (default: ``16``)
        dilations (Sequence[int], optional): Dilations of the dilated model, one per layer.
            (default: ``(1, 2, 3)``)
        mlp_hidden_channels (int, optional): Width of the MLP. (default: :obj:`None`)
    """
    if name not in SIGN_MODELS:
        raise ValueError(f"name must be one of {SIGN_MODELS}, got {name!r}")
    dilations = tuple(dilations)
    if name != "mlp":
        ds = dilations if name == "dilated" else (1,) * len(dilations)
        return LatticeGNN(1, hidden_channels, 1, dilations=ds, graph_aggr="mean")
    if mlp_hidden_channels is None:
        target = count_parameters(LatticeGNN(1, hidden_channels, 1, dilations, graph_aggr="mean"))
        # Parameters of SpinMLP(N, h): (N + 1) h + (h + 1) h + h + 1; the closest h.
        a, b, c = 1.0, num_sites + 3.0, 1.0 - target
        mlp_hidden_channels = max(1, round((-b + math.sqrt(b * b - 4 * a * c)) / (2 * a)))
    return SpinMLP(num_sites, mlp_hidden_channels)


def sign_logits(
    model: Module,
    spins: Tensor,
    shape: tuple[int, int],
    dilations: Sequence[int] = (1,),
    batch_size: int = 8192,
) -> Tensor:
    """The model's logit for each spin image of ``spins`` (:math:`(M, HW)`), in batches of
    :func:`~sgnn.data.spin_batch` without gradients; ``dilations`` are the edge sets to
    attach.

    Raises:
        ValueError: If the model is built for another number of sites than
            :math:`H W` (a :class:`SpinMLP`), or returns other than one logit per state.
    """
    h, w = check_lattice_shape(shape)
    sites = getattr(model, "num_sites", None)
    if isinstance(sites, int) and sites != h * w:
        raise ValueError(f"model is built for num_sites={sites} but shape {(h, w)} has "
                         f"{h * w} sites; build it with sign_model(name, {h * w})")  # fmt: skip
    out = []
    with torch.no_grad():
        for part in spins.split(check_positive_int(batch_size, "batch_size")):
            logits = model(spin_batch(part, shape, dilations)).view(-1)
            if logits.numel() != part.size(0):
                raise ValueError(f"model returned {logits.numel()} logits for {part.size(0)} "
                                 f"states of shape {(h, w)}; a sign model must return one "
                                 "logit per state")  # fmt: skip
            out.append(logits)
    return torch.cat(out) if out else torch.empty(0)


def sign_accuracy(logits: Tensor, sign: Tensor, weight: Tensor) -> tuple[float, float]:
    r"""Sign accuracy weighted by :math:`|\psi|^2` and unweighted.

    .. math::
        A_w = \frac{\sum_\sigma |\psi(\sigma)|^2\, [\hat s(\sigma) = s(\sigma)]}
                   {\sum_\sigma |\psi(\sigma)|^2}, \qquad
        A = \frac{1}{M} \sum_\sigma [\hat s(\sigma) = s(\sigma)],

    with :math:`\hat s = +1` where the logit is positive. States where :math:`\psi` vanishes
    (``sign`` 0) carry no sign and are left out of both.

    Returns:
        (float, float): :math:`(A_w, A)`.
    """
    logits, sign, weight = logits.view(-1), sign.view(-1), weight.view(-1)
    if not logits.numel() == sign.numel() == weight.numel():
        raise ValueError(f"logits, sign and weight must have one entry per state, got "
                         f"{logits.numel()}, {sign.numel()}, {weight.numel()}")  # fmt: skip
    keep = sign != 0
    if not keep.any():
        raise ValueError("sign has no nonzero entry: no state carries a sign")
    correct = ((logits > 0) == (sign > 0))[keep].double()
    w = weight[keep].double()
    return float((w * correct).sum() / w.sum()), float(correct.mean())


def train_sign_model(model: Module, dataset: HeisenbergSigns, steps: int = 2000,
                     batch_size: int = 256, lr: float = 3e-3, dilations: Sequence[int] = (1,),
                     seed: int = 0, sampling: str = "weight",
                     progress: bool | None = None) -> list[float]:  # fmt: skip
    """Adam on the binary cross-entropy of the sign over ``steps`` minibatches of
    ``dataset``, the learning rate decaying to zero on a cosine. Returns the loss of every
    step.

    With ``sampling="weight"`` minibatch states are drawn with probability
    :math:`\\propto |\\psi(\\sigma)|^2` (``dataset.weight``, a
    :class:`~torch.utils.data.WeightedRandomSampler`), so the loss estimates the weighted
    error the task is scored by; with ``"uniform"`` every training state is equally
    likely. The two differ once :math:`\\varepsilon` is large: a training set drawn
    without replacement then holds many states of negligible weight, and uniform
    minibatches spend most of their gradient on them (see the tutorial).

    It runs :func:`~sgnn.train.fit` for ``steps`` epochs of one minibatch each (so that
    the schedule steps and the loss is recorded every step), with replacement, drawn
    from a generator seeded by ``seed``; the model is left in eval mode."""
    steps = check_positive_int(steps, "steps")
    batch_size = check_positive_int(batch_size, "batch_size")
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive finite float, got {lr!r}")
    if sampling not in _SAMPLINGS:
        raise ValueError(f"sampling must be one of {_SAMPLINGS}, got {sampling!r}")
    weight = dataset.weight.double().clamp_min(0)
    if sampling == "weight" and not weight.sum() > 0:
        raise ValueError("sampling='weight' needs a dataset with positive total weight")
    generator = torch.Generator().manual_seed(seed)
    size = min(batch_size, len(dataset))
    sampler: Sampler[int]
    if sampling == "weight":
        sampler = WeightedRandomSampler(weight, size, replacement=True, generator=generator)
    else:
        sampler = RandomSampler(range(len(dataset)), True, size, generator=generator)
    loader = DataLoader(
        range(len(dataset)),
        batch_size=size,
        sampler=sampler,
        collate_fn=lambda index: dataset.lattice_batch(torch.tensor(index), dilations),
        generator=torch.Generator().manual_seed(seed),  # leaves torch's global RNG alone
    )
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    with tqdm(total=steps, desc="train signs", leave=False, disable=tqdm_disable(progress)) as bar:
        history = fit(model, _sign_loss, loader, epochs=steps, optimizer=opt, scheduler=sched,
                      progress=False, on_epoch_end=lambda epoch, history: bar.update())  # fmt: skip
    model.eval()
    return history.train_loss


def _sign_loss(model: Module, batch: Any) -> Tensor:
    return binary_cross_entropy_with_logits(model(batch).view(-1), batch.y.float())
