"""seqconv.train under torchrun: DDP over gloo with 2 CPU processes equals a single-process run.

The slow tests launch real ``torchrun --nproc-per-node 2`` jobs (this file is also their
worker script: ``python tests/test_train_distributed.py OUT EPOCHS [STOP_AFTER] [--resume]``).

Tolerance: with the global batch split across ranks, gradients averaged by DDP and
BatchNorm on global-batch statistics, a 2-rank run follows the 1-process run up to float
summation order.  Measured: every weight within 3e-7 (absolute) and train losses within
1e-7 -- except the conv biases that feed a BatchNorm (and the running means that track them).
Their exact gradient is zero (BatchNorm subtracts the batch mean), so what they get is float
round-off, which AdamW rescales to steps of size ~lr: a random walk that differs with the
summation order (1e-2 after 3 epochs here).  It has no effect in training mode and only a
lagged one through the running means in eval mode (test logits within 1e-3 of each other).
"""

import csv
import itertools
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _oct4_mafk import oct4_mafk_dataset, write_oct4_mafk

from seqconv.errors import InputError
from seqconv.train import (
    DistContext,
    TrainConfig,
    _apply_augment,
    _augment_draws,
    _shard_bounds,
    augment,
    distributed_context,
)

ROOT = Path(__file__).resolve().parents[1]
ARCH = {"filters": 16, "kernel_size": 15, "hidden": 8, "dropout": 0.0}  # no dropout: per-rank masks would differ
CLI_ARGS = ["--arch", "deepbind", *[a for k, v in ARCH.items() for a in ("--arch-option", f"{k}={v}")],
            "--epochs", "3", "--batch-size", "32", "--lr", "1e-2", "--patience", "10", "--threads", "1"]
#: conv biases feeding a BatchNorm and the running means tracking them (see the module docstring)
GAUGE = ("trunk.layers.0.conv.bias", "trunk.layers.0.bn.running_mean")


def _env():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    for k in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    return env


def _torchrun(*args, check=True):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--standalone", *args]
    res = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=600, check=False)
    if check and res.returncode != 0:
        raise AssertionError(f"torchrun failed ({res.returncode}):\n{res.stdout}\n{res.stderr[-4000:]}")
    return res


def _weights(path):
    from seqconv.modelfile import load_model

    return load_model(path).state_dict()


def _log(path):
    with open(Path(path) / "train_log.csv") as fh:
        return list(csv.DictReader(fh))


# --------------------------------------------------------------------------- fast: the pieces


def test_shards_partition_every_batch_in_order():
    for n in (1, 2, 5, 31, 32):
        for world in (1, 2, 3, 4):
            parts = [_shard_bounds(n, DistContext(rank=r, world=world)) for r in range(world)]
            assert parts[0][0] == 0 and parts[-1][1] == n
            assert all(a[1] == b[0] for a, b in itertools.pairwise(parts))  # contiguous, in rank order
            sizes = [hi - lo for lo, hi in parts]
            assert max(sizes) - min(sizes) <= 1 and sizes == sorted(sizes, reverse=True)


def test_sliced_augmentation_is_the_single_process_augmentation():
    x = torch.from_numpy(oct4_mafk_dataset().subset("train").X()[:32]).float()
    whole = augment(x, rc=True, max_shift=3, gen=torch.Generator().manual_seed(7))
    shifts, flips = _augment_draws(32, rc=True, max_shift=3, gen=torch.Generator().manual_seed(7))
    for rank in range(3):
        lo, hi = _shard_bounds(32, DistContext(rank=rank, world=3))
        part = _apply_augment(x[lo:hi], shifts[lo:hi], flips[lo:hi], max_shift=3)
        assert torch.equal(part, whole[lo:hi])


def test_context_without_torchrun_is_single_process(monkeypatch):
    for k in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(k, raising=False)
    ctx = distributed_context()
    assert (ctx.rank, ctx.world, ctx.active, ctx.is_main, ctx.backend) == (0, 1, False, True, None)
    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(InputError, match="WORLD_SIZE='two'"):
        distributed_context()
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(InputError, match="RANK is not"):
        distributed_context()


# --------------------------------------------------------------------------- slow: real torchrun, gloo, 2 ranks


@pytest.mark.slow
def test_cli_two_ranks_equal_one_process(tmp_path):
    from click.testing import CliRunner

    from seqconv.cli import main
    from seqconv.modelfile import load_model
    from seqconv.predict import predict

    data = write_oct4_mafk(tmp_path / "ds.parquet")
    torch.set_num_threads(1)
    one = CliRunner().invoke(main, ["train", "--data", str(data), *CLI_ARGS, "--out", str(tmp_path / "one")])
    assert one.exit_code == 0, one.output
    res = _torchrun("--no-python", "seqconv", "train", "--data", str(data), *CLI_ARGS, "--out", str(tmp_path / "two"))
    # rank 0 alone talks: each epoch line and the test line exactly once
    assert [ln.split()[1] for ln in res.stderr.splitlines() if ln.startswith("epoch")] == ["1", "2", "3"]
    assert res.stderr.count("test: auROC") == 1
    two, one = (sorted(p.name for p in (tmp_path / d).rglob("*")) for d in ("two", "one"))
    assert two == one
    a, b = _weights(tmp_path / "one"), _weights(tmp_path / "two")
    assert a.keys() == b.keys()
    for k in a:
        tol = 0.1 if k in GAUGE else 1e-5
        assert torch.allclose(a[k].double(), b[k].double(), rtol=0, atol=tol), (k, (a[k] - b[k]).abs().max())
    la, lb = _log(tmp_path / "one"), _log(tmp_path / "two")
    assert len(la) == len(lb) == 3
    for ra, rb in zip(la, lb):
        assert float(ra["train_loss"]) == pytest.approx(float(rb["train_loss"]), rel=1e-5)
        assert float(ra["valid_loss"]) == pytest.approx(float(rb["valid_loss"]), abs=1e-3)
    X = oct4_mafk_dataset().subset("test").X()
    pa, pb = predict(load_model(tmp_path / "one"), X), predict(load_model(tmp_path / "two"), X)
    assert np.abs(pa - pb).max() < 5e-3
    card = load_model(tmp_path / "two").card
    assert card.training["best_epoch"] == load_model(tmp_path / "one").card.training["best_epoch"]
    assert "test" in card.metrics  # rank 0 recorded the test metrics


@pytest.mark.slow
def test_resume_under_torchrun_equals_uninterrupted_and_only_rank0_writes(tmp_path):
    me = str(Path(__file__).resolve())
    _torchrun(me, str(tmp_path / "full"), "4")
    stopped = _torchrun(me, str(tmp_path / "resumed"), "4", "2", check=False)
    assert stopped.returncode != 0 and "STOP after 2 checkpoints" in stopped.stderr + stopped.stdout
    assert len(_log(tmp_path / "resumed")) == 2
    _torchrun(me, str(tmp_path / "resumed"), "4", "0", "--resume")
    assert [r["epoch"] for r in _log(tmp_path / "resumed")] == ["1", "2", "3", "4"]
    a, b = _weights(tmp_path / "full"), _weights(tmp_path / "resumed")
    for k in a:
        assert torch.allclose(a[k], b[k], rtol=0, atol=1e-6), (k, (a[k] - b[k]).abs().max())
    for ra, rb in zip(_log(tmp_path / "full"), _log(tmp_path / "resumed")):
        assert float(ra["train_loss"]) == pytest.approx(float(rb["train_loss"]), rel=1e-6)
    shutil.rmtree(tmp_path / "full")


def _worker(out: str, epochs: int, stop_after: int, resume: bool) -> None:
    """One torchrun worker: fit on the bundled peaks; ranks > 0 must never write; rank 0 may stop early."""
    import seqconv.modelfile
    import seqconv.train as tr
    from seqconv.models import build_model, get_config

    torch.set_num_threads(1)
    ctx = tr.distributed_context()
    assert ctx.world == 2 and ctx.backend == "gloo"
    if not ctx.is_main:
        def forbidden(*a, **k):
            raise AssertionError(f"rank {ctx.rank} tried to write")

        tr._save_checkpoint = tr._write_log = seqconv.modelfile.save_model = forbidden
    elif stop_after:
        orig, calls = tr._save_checkpoint, []

        def stopping(*a, **k):
            orig(*a, **k)
            calls.append(1)
            if len(calls) == stop_after:
                raise SystemExit(f"STOP after {stop_after} checkpoints")

        tr._save_checkpoint = stopping
    model = build_model(get_config("deepbind", input_length=200, **ARCH), seed=0)
    cfg = TrainConfig(epochs=epochs, batch_size=32, lr=1e-2, seed=0, patience=10)
    tr.fit(model, oct4_mafk_dataset(), config=cfg, out_dir=out, resume=resume, verbose=False)


if __name__ == "__main__":
    argv = [a for a in sys.argv[1:] if a != "--resume"]
    _worker(argv[0], int(argv[1]), int(argv[2]) if len(argv) > 2 else 0, "--resume" in sys.argv)
