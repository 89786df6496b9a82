"""Run under torchrun by test_distributed.py: a few DDP steps, weights saved per rank."""

from __future__ import annotations

import sys

import torch
from torch.nn.parallel import DistributedDataParallel
from torch_geometric.data import Data

from sgnn.nn import DeepSetsLayer
from sgnn.train import cleanup_distributed, distributed_loader, fit, setup_distributed, unwrap_model


def dataset() -> list[Data]:
    g = torch.Generator().manual_seed(0)
    out = []
    for _ in range(16):
        x = torch.randn(5, 2, generator=g, dtype=torch.float64)
        out.append(Data(x=x, y=x.sum(1, keepdim=True) - x.mean()))
    return out


def loss_fn(model: torch.nn.Module, batch: Data) -> torch.Tensor:
    return torch.nn.functional.mse_loss(model(batch.x, batch.batch), batch.y)


def make_model() -> torch.nn.Module:
    torch.manual_seed(1)
    return DeepSetsLayer(2, 1).double()


def main(out: str, batch_size: int, steps_epochs: int) -> None:
    rank, world = setup_distributed("gloo", timeout_s=60)
    model = make_model()
    if world > 1:
        model = DistributedDataParallel(model)
    loader = distributed_loader(dataset(), batch_size=batch_size, shuffle=False)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    fit(model, loss_fn, loader, epochs=steps_epochs, optimizer=optimizer, progress=False)
    state = unwrap_model(model).state_dict()
    torch.save(state, f"{out}.rank{rank}")
    # Release DDP (its reducer holds the process group) before leaving the group:
    # destroying them in the other order can deadlock in gloo's destructor.
    del model, optimizer
    cleanup_distributed()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
