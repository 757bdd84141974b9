"""seqconv.train.fit and `seqconv train`: learning on real peaks, determinism, resume, logs, checkpoints."""

import csv
import json

import pytest
import torch
from click.testing import CliRunner

from _oct4_mafk import oct4_mafk_dataset, write_oct4_mafk
from seqconv.cli import main
from seqconv.errors import InputError
from seqconv.modelfile import load_model
from seqconv.models import build_model, get_config
from seqconv.train import TrainConfig, augment, fit

torch.set_num_threads(2)
SMALL = dict(filters=16, kernel_size=15, hidden=8)


def _fit(tmp_path=None, epochs=3, seed=0, **kw):
    ds = oct4_mafk_dataset()
    m = build_model(get_config("deepbind", input_length=200, **SMALL), seed=seed)
    cfg = TrainConfig(epochs=epochs, batch_size=32, lr=1e-2, seed=seed, patience=10, **kw)
    return fit(m, ds, config=cfg, out_dir=tmp_path, verbose=False)


def test_learns_oct4_vs_mafk(tmp_path):
    res = _fit(tmp_path / "m", epochs=8)
    losses = [h["train_loss"] for h in res.history]
    assert losses[-1] < losses[0]
    assert res.best_metrics["valid_auroc"] > 0.75  # 30 held-out real peaks; chance is 0.5
    assert res.best_metrics["valid_auprc"] == max(h["valid_auprc"] for h in res.history)
    model = load_model(tmp_path / "m")
    card = model.card
    assert card.tasks == ("Oct4",) and card.training["best_epoch"] == res.best_epoch
    assert card.training["config"]["seed"] == 0
    sd = res.model.state_dict()
    assert all(torch.allclose(sd[k], v) for k, v in model.state_dict().items())
    with open(tmp_path / "m" / "train_log.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["epoch"]) for r in rows] == list(range(1, 9))
    assert {"train_loss", "valid_auroc", "valid_auprc", "lr", "seconds", "cpu_seconds"} <= set(rows[0])
    assert all(float(r["cpu_seconds"]) > 0 for r in rows)  # CPU time of each epoch (robust on a shared machine)
    assert (tmp_path / "m" / "checkpoint" / "last.safetensors").exists()


def test_same_seed_same_weights_other_seed_differs():
    a, b, c = _fit(epochs=2, seed=3), _fit(epochs=2, seed=3), _fit(epochs=2, seed=4)
    sa, sb, sc = (r.model.state_dict() for r in (a, b, c))
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not torch.equal(sa["head.net.1.weight"], sc["head.net.1.weight"])


def test_resume_equals_uninterrupted(tmp_path):
    full = _fit(tmp_path / "full", epochs=4)
    # interrupt a 4-epoch run right after its epoch-2 checkpoint, then resume it
    ds = oct4_mafk_dataset()
    cfg = TrainConfig(epochs=4, batch_size=32, lr=1e-2, seed=0, patience=10)
    m = build_model(get_config("deepbind", input_length=200, **SMALL), seed=0)
    import seqconv.train as tr

    class Stop(Exception):
        pass

    calls = {"n": 0}
    orig = tr._save_checkpoint

    def stop_after_two(out, model, opt, state):
        orig(out, model, opt, state)
        calls["n"] += 1
        if calls["n"] == 2:
            raise Stop

    tr._save_checkpoint = stop_after_two
    try:
        with pytest.raises(Stop):
            fit(m, ds, config=cfg, out_dir=tmp_path / "resumed", verbose=False)
    finally:
        tr._save_checkpoint = orig
    m2 = build_model(get_config("deepbind", input_length=200, **SMALL), seed=99)  # weights come from checkpoint
    res = fit(m2, ds, config=cfg, out_dir=tmp_path / "resumed", resume=True, verbose=False)
    assert len(res.history) == 4
    assert [h["valid_auprc"] for h in res.history] == pytest.approx([h["valid_auprc"] for h in full.history])
    sf, sr = full.model.state_dict(), res.model.state_dict()
    assert all(torch.allclose(sf[k], sr[k], atol=1e-6) for k in sf)
    with pytest.raises(InputError, match="already holds a training run"):
        fit(m2, ds, config=cfg, out_dir=tmp_path / "resumed", verbose=False)
    with pytest.raises(InputError, match="different training config"):
        fit(m2, ds, config=TrainConfig(epochs=5, batch_size=32, lr=1e-2, seed=0), out_dir=tmp_path / "resumed",
            resume=True, verbose=False)


def test_augment_rc_and_shift():
    x = torch.zeros(64, 4, 10)
    x[:, 0, :] = 1  # all A
    x[:, 2, 0] = 1  # marker G at position 0 ... keep one-hot: clear A there
    x[:, 0, 0] = 0
    g = torch.Generator().manual_seed(0)
    out = augment(x, rc=True, max_shift=0, gen=g)
    flipped = out[:, 1, -1] == 1  # rc: G at 0 -> C at the end, A -> T
    assert 10 < int(flipped.sum()) < 54
    assert torch.equal(out[flipped], x[flipped].flip(1).flip(2))
    assert torch.equal(out[~flipped], x[~flipped])
    out = augment(x, rc=False, max_shift=2, gen=torch.Generator().manual_seed(1))
    pos = out[:, 2, :].argmax(1)
    assert set(pos.tolist()) <= {0, 1, 2}  # marker moved right by up to 2 (or left off the edge -> N)
    assert (out.sum(1) <= 1).all()


def test_bad_dataset_shapes():
    ds = oct4_mafk_dataset()
    with pytest.raises(InputError, match="200 bp but the model takes 101"):
        fit(build_model(get_config("deepbind")), ds, config=TrainConfig(epochs=1), verbose=False)
    with pytest.raises(InputError, match="1 task"):
        fit(build_model(get_config("deepbind", n_tasks=2, input_length=200)), ds, config=TrainConfig(epochs=1),
            verbose=False)


def test_train_cli(tmp_path):
    data = write_oct4_mafk(tmp_path / "ds.parquet")
    args = ["train", "--data", str(data), "--arch", "deepbind", "--arch-option", "filters=16",
            "--arch-option", "kernel_size=15", "--out", str(tmp_path / "m"), "--epochs", "2", "--batch-size", "32",
            "--seed", "1", "--threads", "2"]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    assert "epoch   2" in r.output and "valid_auPRC" in r.output
    card = json.loads((tmp_path / "m" / "model.json").read_text())
    assert card["architecture"]["filters"] == 16
    assert card["metrics"]["test"][0]["TF"] == "Oct4" and 0 <= card["metrics"]["test"][0]["auroc"] <= 1
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2 and "--resume" in r.output
    r = CliRunner().invoke(main, args[:3] + ["--arch", "transformer", "--out", str(tmp_path / "x")])
    assert r.exit_code == 2 and "unknown architecture 'transformer'" in r.output
    assert not (tmp_path / "x").exists()
    r = CliRunner().invoke(main, args[:-4] + ["--device", "cuda:0", "--out", str(tmp_path / "y")])
    if not torch.cuda.is_available():
        assert r.exit_code == 2 and "no CUDA device" in r.output
        assert not (tmp_path / "y").exists()
