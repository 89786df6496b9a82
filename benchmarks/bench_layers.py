"""Speed and memory of the layers, each next to baselines measured in the same run.

Prints ``name: value unit`` lines (medians over repeats; this machine is noisy).
Every measurement runs in a fresh subprocess, so its peak memory is the growth
of the process's peak resident set over its size before the measured steps.

* ``EGNNConv`` (hidden 64, kNN graph with k = 16, 3-D), forward + backward
  (gradients of the parameters and of the input features, as for a layer inside a
  network; positions are data), at N = 2·10^3, 2·10^4 and 10^5, against

  - the EGNN authors' sparse layer, ``E_GCL``, its equations written out below
    (:class:`EGCL`: per-edge concatenation ``[h_i, h_j, |x_i - x_j|²]`` through
    the edge MLP, ``(x_i - x_j) φ_x(m_ij)`` and ``Σ_j m_ij`` summed by
    ``index_add_`` over an edge list), the speed-up measured in one process
    with the two layers' steps interleaved, so that the load of a shared
    machine falls on both alike (``egnnconv_speedup_vs_egcl_N...``), and
  - ``egnn-pytorch`` (PyPI, ``EGNN(dim=64, num_nearest_neighbors=16)``,
    dense pairwise distances) where it is installed and fits;

  with the ratios between sizes, which should follow the number of edges.
* ``RGNet`` (hidden 32, num_layers 2) forward on 256², 512², 1024² lattices, with
  the ratios between sizes, which should follow the number of sites.
* ``PairwiseSetConv`` (16 channels, max aggregation) forward on one set of
  10 000 elements with cache-sized chunks (the default) against chunks of 256
  target elements (the former default).

Usage: ``python benchmarks/bench_layers.py [--repeats 5] [--threads T] [--quick]``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import torch
from torch import nn

K = 16
HIDDEN = 64


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _measure(step: Callable[[], None], repeats: int) -> dict[str, float]:
    before = _rss_bytes()
    step()  # warm-up; the peak of a step is reached here already
    times = []
    for _ in range(repeats):
        tic = time.perf_counter()
        step()
        times.append(time.perf_counter() - tic)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"time": statistics.median(times), "memory": max(0, peak - before)}


class EGCL(nn.Module):
    """The EGNN authors' sparse layer (``E_GCL`` of Satorras et al., 2021), written out
    from the paper's equations (3)-(6) with their choices: ``m_ij = φ_e([h_i, h_j,
    |x_i - x_j|²])``, ``x_i' = x_i + Σ_j (x_i - x_j) φ_x(m_ij)``, ``h_i' = h_i +
    φ_h([h_i, Σ_j m_ij])``; per-edge tensors gathered from an edge list and summed
    onto the receivers by ``index_add_``. Messages flow from ``edge_index[0]`` to
    ``edge_index[1]``, as in :class:`~sgnn.nn.EGNNConv`."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        act = nn.SiLU
        self.edge_mlp = nn.Sequential(nn.Linear(2 * dim + 1, hidden), act(),
                                      nn.Linear(hidden, hidden), act())  # fmt: skip
        self.coord_mlp = nn.Sequential(nn.Linear(hidden, hidden), act(),
                                       nn.Linear(hidden, 1, bias=False))  # fmt: skip
        self.node_mlp = nn.Sequential(nn.Linear(dim + hidden, hidden), act(),
                                      nn.Linear(hidden, dim))  # fmt: skip

    def forward(self, h: torch.Tensor, x: torch.Tensor,
                edge_index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        src, dst = edge_index
        diff = x[dst] - x[src]
        radial = (diff**2).sum(1, keepdim=True)
        m = self.edge_mlp(torch.cat([h[dst], h[src], radial], dim=1))
        shift = torch.zeros_like(x).index_add_(0, dst, diff * self.coord_mlp(m))
        agg = torch.zeros(h.size(0), m.size(1), dtype=h.dtype).index_add_(0, dst, m)
        return h + self.node_mlp(torch.cat([h, agg], dim=1)), x + shift


def _egnn_steps(size: int) -> dict[str, Callable[[], None]]:
    """One forward + backward step of each sparse EGNN layer on the same kNN graph."""
    from sgnn.data import particles_to_data
    from sgnn.nn import EGNNConv

    pos = torch.randn(size, 3)
    # As in a network (EGNN embeds its input first): the layer also computes the gradient
    # of its input features; positions are data.
    feats = torch.randn(size, HIDDEN, requires_grad=True)
    edge_index = particles_to_data(pos, graph="knn", k=K).edge_index
    layers = {"sgnn": EGNNConv(HIDDEN, HIDDEN, HIDDEN), "egcl": EGCL(HIDDEN, HIDDEN)}

    def step(layer: nn.Module) -> Callable[[], None]:
        def run() -> None:
            h, x = layer(feats, pos, edge_index)
            (h.sum() + x.sum()).backward()

        return run

    return {name: step(layer) for name, layer in layers.items()}


def _interleaved(steps: dict[str, Callable[[], None]], repeats: int) -> dict[str, float]:
    """Median time of each step, the steps taken in turn ``repeats`` times after a
    warm-up, and the median of the per-round ratios to the first step."""
    for step in steps.values():
        step()
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            tic = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - tic)
    first = next(iter(steps))
    result = {name: statistics.median(t) for name, t in times.items()}
    for name in list(steps)[1:]:
        ratios = [b / a for a, b in zip(times[first], times[name], strict=True)]
        result[f"ratio_{name}"] = statistics.median(ratios)
    return result


def worker(kind: str, size: int, repeats: int) -> dict[str, float]:
    torch.manual_seed(0)
    if kind.startswith("pairwise"):
        from sgnn.nn import PairwiseSetConv

        chunk = None if kind == "pairwise_auto" else int(kind.removeprefix("pairwise_chunk"))
        conv = PairwiseSetConv(16, 16, target_chunk_size=chunk)
        elements = torch.randn(size, 16)

        def step() -> None:
            with torch.no_grad():
                conv(elements)

        return _measure(step, repeats)
    if kind == "rgnet":
        from sgnn.data import AddHierarchy, sandpile_to_data
        from sgnn.nn import RGNet
        from sgnn.sandpile import sample_recurrent

        data = AddHierarchy()(sandpile_to_data(sample_recurrent((size, size), 0)))
        model = RGNet(5, 32, 2, num_layers=2).eval()

        def step() -> None:
            with torch.no_grad():
                model(data)

        return _measure(step, repeats)
    if kind == "egnn_interleaved":
        return _interleaved(_egnn_steps(size), repeats)
    if kind == "egnn_pytorch":
        from egnn_pytorch import EGNN

        layer = EGNN(dim=HIDDEN, num_nearest_neighbors=K)
        f, c = torch.randn(1, size, HIDDEN), torch.randn(1, size, 3)

        def step() -> None:
            out_f, out_c = layer(f, c)
            (out_f.sum() + out_c.sum()).backward()

        return _measure(step, repeats)
    from sgnn.data import particles_to_data

    result = _measure(_egnn_steps(size)[kind], repeats)
    # The graph itself, built by scipy's k-d tree, timed apart from the layer.
    tic = time.perf_counter()
    particles_to_data(torch.randn(size, 3), graph="knn", k=K)
    result["graph_time"] = time.perf_counter() - tic
    return result


def run(kind: str, size: int, repeats: int, threads: int | None = None,
        timeout: float = 900) -> dict[str, float] | None:  # fmt: skip
    cmd = [sys.executable, __file__, "--worker", kind, str(size), "--repeats", str(repeats)]
    if threads:
        cmd += ["--threads", str(threads)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    if done.returncode != 0:
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(name: str, value: float, unit: str) -> None:
    print(f"{name}: {value:.4g} {unit}", flush=True)


def report_growth(prefix: str, results: dict[int, dict[str, float] | None], label: str,
                  what: str) -> None:  # fmt: skip
    """Time and memory ratios between successive sizes, next to the size ratio."""
    for a, b in itertools.pairwise(sorted(results)):
        ra, rb = results[a], results[b]
        if ra and rb:
            note = f"({what} x{b / a:g})"
            report(f"{prefix}_time_ratio_{label}{b}_over_{label}{a}", rb["time"] / ra["time"], note)
            memory = rb["memory"] / max(ra["memory"], 1)
            report(f"{prefix}_memory_ratio_{label}{b}_over_{label}{a}", memory, note)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads of every measurement (default: torch's)",
    )
    parser.add_argument(
        "--only", choices=["egnn"], default=None, help="run only the EGNNConv measurements"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    parser.add_argument("--worker", nargs=2, metavar=("KIND", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.worker:
        print(json.dumps(worker(args.worker[0], int(args.worker[1]), args.repeats)))
        return
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads, medians of "
          f"{args.repeats}, forward+backward, hidden {HIDDEN}, kNN k={K}, 3-D")  # fmt: skip
    sizes = [1000, 2000] if args.quick else [2000, 20_000, 100_000]
    results: dict[str, dict[int, dict[str, float] | None]] = {}
    for kind in ("sgnn", "egcl", "egnn_pytorch"):
        results[kind] = {}
        for n in sizes:
            if kind == "egnn_pytorch" and n > 20_000:
                results[kind][n] = None  # dense N x N distances: 40 GB at N = 10^5
                continue
            results[kind][n] = res = run(kind, n, args.repeats, args.threads)
            if res is None:
                print(f"egnnconv_{kind}_N{n}: n/a (failed, not installed, or out of time)")
                continue
            report(f"egnnconv_{kind}_N{n}_time", res["time"], "s")
            report(f"egnnconv_{kind}_N{n}_peak_memory", res["memory"] / 2**20, "MiB")
            if "graph_time" in res and kind == "sgnn":
                report(f"knn_graph_scipy_N{n}_time", res["graph_time"], "s")
    ours = results["sgnn"]
    for n in sizes:
        theirs = results["egnn_pytorch"].get(n)
        if ours.get(n) and theirs:
            report(f"egnnconv_speedup_vs_egnn_pytorch_N{n}", theirs["time"] / ours[n]["time"],
                   "x")  # fmt: skip
    # Against the authors' layer: both in one process, their steps interleaved.
    for n in sizes:
        res = run("egnn_interleaved", n, args.repeats, args.threads)
        if res is None:
            print(f"egnnconv_speedup_vs_egcl_N{n}: n/a (failed or out of time)")
            continue
        report(f"egnnconv_interleaved_sgnn_N{n}_time", res["sgnn"], "s")
        report(f"egnnconv_interleaved_egcl_N{n}_time", res["egcl"], "s")
        report(f"egnnconv_speedup_vs_egcl_N{n}", res["ratio_egcl"], "x")
    report_growth("egnnconv", ours, "N", "edges")
    if args.only == "egnn":
        return
    lattice = [64, 128] if args.quick else [256, 512, 1024]
    rg: dict[int, dict[str, float] | None] = {}
    for side in lattice:
        rg[side] = res = run("rgnet", side, args.repeats, args.threads)
        if res is None:
            print(f"rgnet_{side}x{side}: n/a")
            continue
        report(f"rgnet_forward_{side}x{side}_time", res["time"], "s")
        report(f"rgnet_forward_{side}x{side}_peak_memory", res["memory"] / 2**20, "MiB")
    report_growth("rgnet", {side * side: res for side, res in rg.items()}, "sites", "sites")
    n = 2000 if args.quick else 10_000
    pair = {kind: run(kind, n, args.repeats, args.threads)
            for kind in ("pairwise_auto", "pairwise_chunk256")}  # fmt: skip
    for kind, res in pair.items():
        if res is None:
            print(f"{kind}_n{n}: n/a")
            continue
        report(f"{kind.replace('pairwise', 'pairwise_set_conv')}_n{n}_time", res["time"], "s")
    if all(pair.values()):
        report(f"pairwise_set_conv_speedup_vs_chunk256_n{n}",
               pair["pairwise_chunk256"]["time"] / pair["pairwise_auto"]["time"], "x")  # fmt: skip


if __name__ == "__main__":
    main()
