"""Draw the coarse-graining hierarchy of an 8x8 and a ragged 5x7 lattice.

Run by ``docs/conf.py`` at every build (so the picture always shows what the
code does), or by hand: ``python docs/scripts/plot_hierarchy.py OUT.png``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import Rectangle

from sgnn.data import coarse_grain_hierarchy

COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"]


def draw(ax: plt.Axes, shape: tuple[int, int], level: int, factor: int = 2) -> None:
    h = coarse_grain_hierarchy(shape, factor)
    size = factor**level
    rows, cols = h.shapes[level]
    for i in range(rows):  # the blocks of this level, clipped to the lattice
        for j in range(cols):
            top, left = i * size - 0.5, j * size - 0.5
            height = min(size, shape[0] - i * size)
            width = min(size, shape[1] - j * size)
            ax.add_patch(Rectangle((left, top), width, height, fill=True, alpha=0.08,
                                   color=COLOURS[level], lw=0))  # fmt: skip
            ax.add_patch(Rectangle((left, top), width, height, fill=False, lw=1.2,
                                   color=COLOURS[level]))  # fmt: skip
    fine = h.pos[0]
    ax.scatter(fine[:, 1], fine[:, 0], s=6, color="0.6", zorder=2)
    if level > 0:
        member = h.cluster[0]
        for k in range(1, level):
            member = h.cluster[k][member]
        parent = h.pos[level][member]
        for a in range(fine.shape[0]):  # each site is linked to its block at this level
            ax.plot([fine[a, 1], parent[a, 1]], [fine[a, 0], parent[a, 0]], color="0.8", lw=0.5)
    pos, edges = h.pos[level], h.edge_index[level]
    for s, t in edges.t().tolist():
        ax.plot([pos[s, 1], pos[t, 1]], [pos[s, 0], pos[t, 0]], color=COLOURS[level], lw=1.5)
    ax.scatter(pos[:, 1], pos[:, 0], s=40, color=COLOURS[level], zorder=3)
    ax.set_title(f"{shape[0]}x{shape[1]}, level {level}: {rows}x{cols}", fontsize=9)
    ax.set_xlim(-1, shape[1])
    ax.set_ylim(shape[0], -1)
    ax.set_aspect("equal")
    ax.axis("off")


def main(out: Path) -> None:
    fig, axes = plt.subplots(2, 4, figsize=(11, 5.8))
    for level in range(4):
        draw(axes[0, level], (8, 8), level)
        draw(axes[1, level], (5, 7), level)
    fig.suptitle("Coarse-graining hierarchy (b = 2): blocks, block centres and lattice edges")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("hierarchy.png"))
