"""Two CPU processes under torchrun end with identical weights, equal to one process on
the same global batches."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import torch

WORKER = Path(__file__).with_name("ddp_worker.py")


def run(cmd: list[str], env: dict[str, str], timeout: float = 240) -> subprocess.CompletedProcess:
    """Run in a new session and kill the whole group on timeout, leaving no stray rank."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, start_new_session=True)  # fmt: skip
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"timed out after {timeout} s:\n{err[-3000:]}") from None
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def test_two_process_ddp_equals_single_process(tmp_path: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).parents[2])}
    out = str(tmp_path / "ddp")
    # --standalone: a free local rendezvous port, so runs never collide.
    done = run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                "--nproc_per_node", "2", str(WORKER), out, "4", "3"], env)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    rank0 = torch.load(f"{out}.rank0", weights_only=True)
    rank1 = torch.load(f"{out}.rank1", weights_only=True)
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key
    # One process, global batch 8 = 2 ranks x 4 (DistributedSampler interleaves ranks,
    # which the same 8 graphs per step cover), 3 epochs of 2 steps.
    single = str(tmp_path / "single")
    done = run([sys.executable, str(WORKER), single, "8", "3"], env)
    assert done.returncode == 0, done.stderr[-3000:]
    reference = torch.load(f"{single}.rank0", weights_only=True)
    for key in reference:
        torch.testing.assert_close(rank0[key], reference[key], rtol=0, atol=1e-12)
    # ... and training moved the weights away from their (seeded) initial values.
    sys.path.insert(0, str(WORKER.parent))
    try:
        from ddp_worker import make_model
    finally:
        sys.path.pop(0)
    initial = make_model().state_dict()
    assert all(not torch.equal(initial[k], rank0[k]) for k in ("lin_self.weight", "lin_set.weight"))
