"""Charged particles in 3-D: the N-body benchmark of NRI and EGNN, simulated locally."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch_geometric.data import Data

from .._checks import check_positive_int
from .simulated import SimulatedDataset

__all__ = ["NBodyCharged", "charged_energy", "charged_forces", "simulate_charged"]

#: Bumped whenever the generator changes what a sample contains; part of every cache name.
_GENERATOR_VERSION = 1
#: Default number of samples and seed offset of each split (offsets keep splits disjoint).
_SPLITS = {"train": (3000, 0), "valid": (2000, 1), "test": (2000, 2)}


def charged_forces(
    pos: np.ndarray, charge: np.ndarray, max_force: float | None = 100.0
) -> np.ndarray:
    r"""Coulomb-like forces :math:`F_i = \sum_{j \ne i} q_i q_j (x_i - x_j) / |x_i - x_j|^3`.

    Like charges repel. Each component is clipped to :math:`\pm` ``max_force``
    (NRI's :math:`0.1 / \Delta t`), which tames close encounters.

    Args:
        pos (numpy.ndarray): Positions, shape :math:`(..., n, d)`.
        charge (numpy.ndarray): Charges, shape :math:`(..., n)`.
        max_force (float, optional): Clip value; :obj:`None` does not clip.

    Returns:
        numpy.ndarray: Shape of ``pos``.
    """
    pos, charge = _check_charged(pos, charge)
    diff = pos[..., :, None, :] - pos[..., None, :, :]
    dist2 = (diff**2).sum(-1)
    np.einsum("...ii->...i", dist2)[...] = np.inf  # no self-interaction
    strength = charge[..., :, None] * charge[..., None, :] / dist2**1.5
    forces = (strength[..., None] * diff).sum(-2)
    if max_force is not None:
        np.clip(forces, -max_force, max_force, out=forces)
    return forces


#: The pairwise arrays of charged_forces hold (..., n, n, d) float64 values; refuse more.
_PAIR_BYTES_LIMIT = 1 << 32


def _check_charged(pos: np.ndarray, charge: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pos = np.asarray(pos, dtype=np.float64)
    charge = np.asarray(charge, dtype=np.float64)
    if pos.ndim < 2:
        raise ValueError(f"pos must have shape (..., n, d), got {pos.shape}")
    try:
        if np.broadcast_shapes(charge.shape, pos.shape[:-1]) != pos.shape[:-1]:
            raise ValueError
    except ValueError:
        raise ValueError(f"charge must have shape {pos.shape[:-1]} (pos without its last "
                         f"axis) or one that broadcasts to it, got {charge.shape}") from None
    need = 8 * pos.size * pos.shape[-2]
    if need > _PAIR_BYTES_LIMIT:
        raise ValueError(f"pos: {pos.shape[-2]} particles need {need / 2**30:.1f} GiB of "
                         f"pairwise arrays, more than {_PAIR_BYTES_LIMIT / 2**30:.0f} GiB")
    return pos, charge


def charged_energy(pos: np.ndarray, vel: np.ndarray, charge: np.ndarray) -> np.ndarray:
    r"""Total energy :math:`\tfrac12 \sum_i |v_i|^2 + \sum_{i<j} q_i q_j / |x_i - x_j|`
    (unit masses), shape :math:`(...)`."""
    pos, charge = _check_charged(pos, charge)
    vel = np.asarray(vel, dtype=np.float64)
    if vel.shape != pos.shape:
        raise ValueError(f"vel must have the shape of pos, {pos.shape}, got {vel.shape}")
    diff = pos[..., :, None, :] - pos[..., None, :, :]
    dist = np.sqrt((diff**2).sum(-1))
    np.einsum("...ii->...i", dist)[...] = np.inf
    potential = 0.5 * (charge[..., :, None] * charge[..., None, :] / dist).sum((-1, -2))
    return 0.5 * (vel**2).sum((-1, -2)) + potential


def simulate_charged(
    pos: np.ndarray,
    vel: np.ndarray,
    charge: np.ndarray,
    steps: int,
    dt: float = 1e-3,
    save_every: int = 100,
    max_force: float | None = 100.0,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Integrate charged particles and save every ``save_every`` steps.

    The integrator is NRI's: a kick with the forces at the current positions,
    then a drift with the new velocities,

    .. math::
        v \leftarrow v + \Delta t\, F(x), \qquad x \leftarrow x + \Delta t\, v,

    the symplectic (semi-implicit) Euler method. It is first order: when no
    force is clipped, the energy error is :math:`O(\Delta t)` and oscillates
    without a secular drift (it halves when :math:`\Delta t` halves); a clipped
    close encounter changes the energy by an amount the bound does not cover.

    Args:
        pos, vel (numpy.ndarray): Initial state, shape :math:`(..., n, d)`.
        charge (numpy.ndarray): Charges, shape :math:`(..., n)`.
        steps (int): Number of steps.
        dt (float, optional): Time step. (default: ``1e-3``)
        save_every (int, optional): Steps between saved frames. (default: ``100``)
        max_force (float, optional): Force clip, see :func:`charged_forces`.

    Returns:
        tuple: positions and velocities of frames :math:`0, 1, \dots`
        (frame :math:`k` after :math:`k \cdot` ``save_every`` steps), each of
        shape :math:`(T, ..., n, d)` with :math:`T = \lfloor steps /
        save\_every \rfloor + 1`, float64.
    """
    pos = np.array(pos, dtype=np.float64)
    vel = np.array(vel, dtype=np.float64)
    charge = np.asarray(charge, dtype=np.float64)
    if pos.ndim < 2 or pos.shape != vel.shape:
        raise ValueError(f"pos and vel must have one shape (..., n, d), got {pos.shape} "
                         f"and {vel.shape}")  # fmt: skip
    if charge.shape != pos.shape[:-1]:
        raise ValueError(f"charge must have shape {pos.shape[:-1]}, got {charge.shape}")
    if not (np.isfinite(pos).all() and np.isfinite(vel).all() and np.isfinite(charge).all()):
        raise ValueError("pos, vel and charge must be finite")
    for name, value in (("steps", steps), ("save_every", save_every)):
        check_positive_int(value, name)
    if not (isinstance(dt, (int, float)) and np.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be a positive number, got {dt!r}")
    frames_pos, frames_vel = [pos.copy()], [vel.copy()]
    for step in range(1, steps + 1):
        vel += dt * charged_forces(pos, charge, max_force)
        pos += dt * vel
        if step % save_every == 0:
            frames_pos.append(pos.copy())
            frames_vel.append(vel.copy())
    return np.stack(frames_pos), np.stack(frames_vel)


class NBodyCharged(SimulatedDataset):
    r"""The charged N-body task of Kipf et al. (NRI, 2018) and Satorras et al. (EGNN, 2021).

    Five particles in 3-D with charges :math:`\pm 1` drawn uniformly, initial
    positions :math:`\mathcal{N}(0, 1)` per coordinate (NRI's ``loc_std``),
    initial velocities of norm 0.5 in uniformly random directions (NRI's
    ``vel_norm``), time step 0.001, forces clipped at :math:`\pm 100`
    (NRI's :math:`0.1/\Delta t`), no walls, unit masses
    (:func:`simulate_charged`). Frames are saved every 100 steps; as in
    EGNN's experiment, the input is frame 30 and the target the positions at
    frame 40, 1 000 steps later. Frame :math:`k` here is the state after
    :math:`100 k` steps (frame 0 is the initial state); NRI's simulator
    overwrites its frame 0 with the state after 100 steps, so its frame
    :math:`k` is step :math:`100 (k + 1)` and its task runs from step 3 100 to
    4 100 instead of 3 000 to 4 000. The two tasks differ by 0.1 time units of
    an evolution that has long forgotten its start; the fitted linear
    baseline scores 0.0818 here against the paper's 0.0819. Each sample is a
    complete graph without self-loops: ``pos``, ``vel`` :math:`(5, 3)`, ``charge`` :math:`(5, 1)`,
    ``edge_attr`` :math:`q_i q_j` :math:`(20, 1)`, target ``y`` :math:`(5, 3)`,
    all float32 (the simulation runs in float64).

    Splits default to 3 000 / 2 000 / 2 000 samples and use disjoint seeds;
    sample :math:`i` of a split draws from the :math:`i`-th child of its
    ``numpy.random.SeedSequence``, so data are identical however generated.
    Files are cached under ``root`` with every parameter in their names and
    written atomically.

    Args:
        root (str): Cache directory.
        split (str, optional): ``"train"``, ``"valid"`` or ``"test"``.
            (default: ``"train"``)
        num_samples (int, optional): Samples; the split's default if omitted.
        seed (int, optional): Seed of the dataset. (default: ``0``)
        frame_in, frame_out (int, optional): Input and target frames.
            (default: ``30``, ``40``)
        transform, pre_transform (Callable, optional): As in PyG.
        log (bool, optional): PyG's messages. (default: :obj:`False`)
        force_reload (bool, optional): Regenerate. (default: :obj:`False`)
    """

    num_particles = 5
    dim = 3
    dt = 1e-3
    save_every = 100
    loc_std = 1.0
    vel_norm = 0.5
    max_force = 100.0

    def __init__(
        self,
        root: str,
        split: str = "train",
        num_samples: int | None = None,
        seed: int = 0,
        frame_in: int = 30,
        frame_out: int = 40,
        transform: Callable[[Data], Data] | None = None,
        pre_transform: Callable[[Data], Data] | None = None,
        log: bool = False,
        force_reload: bool = False,
    ) -> None:
        if split not in _SPLITS:
            raise ValueError(f"split must be one of {tuple(_SPLITS)}, got {split!r}")
        num_samples = _SPLITS[split][0] if num_samples is None else num_samples
        checks = (("num_samples", num_samples, 1), ("seed", seed, 0), ("frame_in", frame_in, 0),
                  ("frame_out", frame_out, 1))
        for name, value, low in checks:
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"{name} must be an int, got {value!r}")
            if value < low:
                raise ValueError(f"{name} must be >= {low}, got {value}")
        if frame_out <= frame_in:
            raise ValueError(f"frame_out must be after frame_in ({frame_in}), got {frame_out}")
        self.split, self.num_samples, self.seed = split, int(num_samples), int(seed)
        self.frame_in, self.frame_out = int(frame_in), int(frame_out)
        super().__init__(root, transform, pre_transform, log=log, force_reload=force_reload)
        self._load_cache(self.processed_paths[0])

    @property
    def processed_file_names(self) -> str:
        name = (f"charged_{self.split}_n{self.num_samples}_seed{self.seed}_frames{self.frame_in}"
                f"to{self.frame_out}_p{self.num_particles}_d{self.dim}_dt{self.dt:g}"
                f"_every{self.save_every}_loc{self.loc_std:g}_vel{self.vel_norm:g}"
                f"_clip{self.max_force:g}_v{_GENERATOR_VERSION}")  # fmt: skip
        return name + self._pre_transform_tag() + ".pt"

    def initial_conditions(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Positions, velocities :math:`(S, 5, 3)` and charges :math:`(S, 5)` of frame 0."""
        n, d = self.num_particles, self.dim
        split_seed = np.random.SeedSequence([self.seed, _SPLITS[self.split][1]])
        pos, vel, charge = [], [], []
        for child in split_seed.spawn(self.num_samples):
            rng = np.random.default_rng(child)
            pos.append(rng.normal(0.0, self.loc_std, (n, d)))
            v = rng.normal(size=(n, d))
            vel.append(self.vel_norm * v / np.linalg.norm(v, axis=1, keepdims=True))
            charge.append(rng.choice([-1.0, 1.0], size=n))
        return np.stack(pos), np.stack(vel), np.stack(charge)

    def process(self) -> None:
        pos, vel, charge = self.initial_conditions()
        traj_pos, traj_vel = simulate_charged(pos, vel, charge, self.frame_out * self.save_every,
                                              self.dt, self.save_every, self.max_force)  # fmt: skip
        n = self.num_particles
        row, col = np.nonzero(~np.eye(n, dtype=bool))
        edge_index = torch.from_numpy(np.stack([row, col])).long()
        data_list = []
        for s in range(self.num_samples):
            q = torch.from_numpy(charge[s]).float()
            data = Data(pos=torch.from_numpy(traj_pos[self.frame_in, s]).float(),
                        vel=torch.from_numpy(traj_vel[self.frame_in, s]).float(),
                        charge=q[:, None], edge_index=edge_index,
                        edge_attr=(q[row] * q[col])[:, None],
                        y=torch.from_numpy(traj_pos[self.frame_out, s]).float())  # fmt: skip
            data_list.append(self.pre_transform(data) if self.pre_transform else data)
        self._save_atomically(data_list, self.processed_paths[0])

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)}, split={self.split!r}, seed={self.seed})"
