"""seqconv.train.fit and `seqconv train`: learning on real peaks, determinism, resume, logs, checkpoints."""

import csv
import dataclasses
import json

import numpy as np
import pytest
import torch
from _oct4_mafk import oct4_mafk_dataset, write_oct4_mafk
from click.testing import CliRunner

from seqconv.cli import main
from seqconv.errors import InputError
from seqconv.modelfile import load_model
from seqconv.models import build_model, get_config
from seqconv.train import LONG_RUN_S, TrainConfig, _augment_draws, _RunClock, augment, fit

torch.set_num_threads(2)
SMALL = dict(filters=16, kernel_size=15, hidden=8)


def _fit(tmp_path=None, epochs=3, seed=0, verbose=False, **kw):
    ds = oct4_mafk_dataset()
    m = build_model(get_config("deepbind", input_length=200, **SMALL), seed=seed)
    cfg = TrainConfig(epochs=epochs, batch_size=32, lr=1e-2, seed=seed, patience=10, **kw)
    return fit(m, ds, config=cfg, out_dir=tmp_path, verbose=verbose)


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


@pytest.mark.parametrize("ema_decay", [0.0, 0.9])
def test_resume_equals_uninterrupted(tmp_path, ema_decay):
    full = _fit(tmp_path / "full", epochs=4, ema_decay=ema_decay)
    # interrupt a 4-epoch run right after its epoch-2 checkpoint, then resume it
    ds = oct4_mafk_dataset()
    cfg = TrainConfig(epochs=4, batch_size=32, lr=1e-2, seed=0, patience=10, ema_decay=ema_decay)
    m = build_model(get_config("deepbind", input_length=200, **SMALL), seed=0)
    import seqconv.train as tr

    class Stop(Exception):
        pass

    calls = {"n": 0}
    orig = tr._save_checkpoint

    def stop_after_two(*args):
        orig(*args)
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
    if ema_decay:  # the EMA state is in the checkpoint; a run with EMA off cannot resume it
        assert json.loads((tmp_path / "resumed" / "checkpoint" / "last.json").read_text())["ema_steps"] > 0
        with pytest.raises(InputError, match="different training config"):
            fit(m2, ds, config=dataclasses.replace(cfg, ema_decay=0.0), out_dir=tmp_path / "resumed", resume=True,
                verbose=False)


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


def _augment_by_rows(x, shifts, flips, max_shift):
    """Reference: each row shifted right by its shift (zeros in), then reverse-complemented, one row at a time."""
    out = torch.zeros_like(x)
    length = x.shape[2]
    for n in range(len(x)):
        s = int(shifts[n])
        row = torch.zeros_like(x[n])
        lo, hi = max(0, s), min(length, length + s)
        row[:, lo:hi] = x[n][:, lo - s:hi - s]
        out[n] = row.flip(0).flip(1) if flips[n] else row
    return out


def test_augment_on_uint8_real_batch_matches_row_by_row_reference():
    X = torch.from_numpy(oct4_mafk_dataset().subset("train").X()[:64])
    assert X.dtype == torch.uint8  # data stay uint8 until the batch; augmentation runs before the upcast
    shifts, flips = _augment_draws(64, rc=True, max_shift=3, gen=torch.Generator().manual_seed(5))
    assert len(set(shifts.tolist())) > 3 and 5 < int(flips.sum()) < 59
    out = augment(X, rc=True, max_shift=3, gen=torch.Generator().manual_seed(5))
    assert out.dtype == torch.uint8
    assert torch.equal(out, _augment_by_rows(X, shifts, flips, 3))
    assert torch.equal(augment(X.float(), rc=True, max_shift=3, gen=torch.Generator().manual_seed(5)), out.float())


def test_run_time_estimate_and_long_run_warning():
    now = [0.0]
    clock = _RunClock(steps=100, epochs=20, clock=lambda: now[0])
    now[0] = 1.0
    assert clock.batch_done(10) == [] and clock.pending  # neither 20 batches nor 5 s yet
    now[0] = 2.0
    lines = clock.batch_done(20)  # 0.1 s a batch: 10 s an epoch, 200 s for 20 epochs
    assert lines == ["estimated ~10 s per epoch, up to 3.3 min for 20 epoch(s) (from the first 20 of 100 batches)"]
    assert not clock.pending
    slow = _RunClock(steps=1000, epochs=30, clock=lambda: now[0])
    now[0] += 6.0  # 5 s passed before 20 batches: estimate now, from 3 batches (2 s each)
    lines = slow.batch_done(3)
    assert lines[0].startswith("estimated ~33.3 min per epoch, up to 16.7 h for 30 epoch(s)")
    assert 1000 * 2.0 * 30 > LONG_RUN_S and lines[1].startswith("warning: this run may take ~16.7 h")
    tiny = _RunClock(steps=4, epochs=2, clock=lambda: now[0])
    assert tiny.batch_done(3) == [] and len(tiny.batch_done(4)) == 1  # an epoch under 20 batches: at its end


def test_fit_prints_one_estimate_line_before_the_first_epoch(capsys):
    _fit(epochs=2, verbose=True)
    err = capsys.readouterr().err.splitlines()
    est = [i for i, line in enumerate(err) if line.startswith("estimated ~")]
    first_epoch = next(i for i, line in enumerate(err) if line.startswith("epoch   1"))
    assert len(est) == 1 and est[0] < first_epoch
    assert "per epoch, up to" in err[est[0]] and "for 2 epoch(s)" in err[est[0]]
    assert not any(line.startswith("warning: this run") for line in err)  # a seconds-long run is not "long"


def test_best_weights_with_and_without_out_dir_are_the_same(tmp_path):
    """Without out_dir the best epoch's weights come from memory, with it from the saved model: same bits."""
    kw = dict(epochs=5, schedule="constant")
    on_disk, in_memory = _fit(tmp_path / "m", **kw), _fit(None, **kw)
    assert on_disk.best_epoch == in_memory.best_epoch < 5  # the best epoch is not the last: not the final weights
    a, b = on_disk.model.state_dict(), in_memory.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


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
    assert "estimated ~" in r.output and "for 2 epoch(s)" in r.output  # the run-time estimate, one plain line
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


def _deepbind(seed=0):
    return build_model(get_config("basset", input_length=200, filters=[8, 8, 8], hidden=8), seed=seed)


def test_frozen_group_keeps_weights_and_batchnorm_stats_other_group_learns():
    from seqconv.train import ParamGroup

    m = _deepbind()
    before = {k: v.clone() for k, v in m.trunk.state_dict().items()}
    head0 = {k: v.clone() for k, v in m.head.state_dict().items()}
    res = fit(m, oct4_mafk_dataset(), config=TrainConfig(epochs=2, batch_size=32, seed=0), verbose=False,
              groups=[ParamGroup("trunk", ("trunk",), frozen=True), ParamGroup("head", ("head",), lr=5e-3)])
    for k, v in res.model.trunk.state_dict().items():  # running_mean / running_var included
        assert torch.equal(v, before[k]), k
    assert any(not torch.equal(v, head0[k]) for k, v in res.model.head.state_dict().items())
    g = res.model.card.training["groups"]
    assert [x["name"] for x in g] == ["trunk", "head"] and g[1]["lr"] == 5e-3
    assert all(p.requires_grad for p in res.model.parameters())  # the caller's flags are restored


def test_gradual_group_starts_later_and_discriminative_lr():
    from seqconv.train import ParamGroup

    m = _deepbind()
    w0 = m.trunk.layers[0].conv.weight.clone()
    groups = [ParamGroup("head", ("head",)), ParamGroup("top", ("trunk.layers.1", "trunk.layers.2"), lr=2e-4),
              ParamGroup("first", ("trunk.layers.0",), lr=2e-4, start_epoch=5)]
    res = fit(m, oct4_mafk_dataset(), config=TrainConfig(epochs=2, batch_size=32, seed=0), groups=groups,
              verbose=False)
    assert torch.equal(res.model.trunk.layers[0].conv.weight, w0)  # not yet unfrozen
    assert not torch.equal(res.model.trunk.layers[1].conv.weight, _deepbind().trunk.layers[1].conv.weight)
    with pytest.raises(ValueError, match="match no parameter"):
        fit(_deepbind(), oct4_mafk_dataset(), config=TrainConfig(epochs=1), verbose=False,
            groups=[ParamGroup("x", ("stem",))])


def test_masked_loss_ignores_unlabelled_entries():
    from seqconv.train import _masked_loss

    logits = torch.tensor([[2.0, -1.0], [0.5, 3.0], [-2.0, 0.0]])
    y = torch.tensor([[1.0, float("nan")], [0.0, 1.0], [float("nan"), 0.0]])
    keep = ~torch.isnan(y)
    ref = torch.nn.functional.binary_cross_entropy_with_logits(logits[keep], y[keep])
    assert torch.allclose(_masked_loss(logits, y, None), ref)


def test_fit_leaves_global_rng_alone_and_checks_classes(tmp_path):
    torch.manual_seed(123)
    state = torch.get_rng_state()
    _fit(epochs=1)
    assert torch.equal(torch.get_rng_state(), state)
    ds = oct4_mafk_dataset()
    pos_only = type(ds)(ds.table[(ds.table["label:Oct4"] == 1) | (ds.table["split"] != "train")].reset_index(drop=True),
                        ds.meta)
    with pytest.raises(InputError, match=r"train split has 70 positive\(s\) and 0 negative\(s\) for task 'Oct4'"):
        fit(_deepbind(), pos_only, config=TrainConfig(epochs=1, batch_size=32), verbose=False)
    no_valid_neg = type(ds)(ds.table[(ds.table["label:Oct4"] == 1) | (ds.table["split"] != "valid")]
                            .reset_index(drop=True), ds.meta)
    with pytest.raises(InputError, match="no task has both classes in the valid split"):
        fit(_deepbind(), no_valid_neg, config=TrainConfig(epochs=1, batch_size=32), verbose=False)


@pytest.mark.slow
def test_resume_with_another_dataset_is_refused(tmp_path):
    cfg = TrainConfig(epochs=2, batch_size=32, seed=0)
    fit(_deepbind(), oct4_mafk_dataset(seed=0), config=cfg, out_dir=tmp_path / "m", verbose=False)
    with pytest.raises(InputError, match="different dataset"):
        fit(_deepbind(), oct4_mafk_dataset(seed=1), config=cfg, out_dir=tmp_path / "m", resume=True, verbose=False)


def test_training_and_prediction_encode_iupac_the_same_way():
    from seqconv.models import ModelCard
    from seqconv.predict import Scorer

    ds = oct4_mafk_dataset()
    seq = ds.table["sequence"].iloc[0]
    amb = seq[:50] + "R" * 20 + seq[70:]
    for policy in ("zero", "uniform"):
        m = build_model(get_config("deepbind", input_length=200, **SMALL), seed=0,
                        card=ModelCard(tasks=["Oct4"], encoding={"iupac": policy}))
        t = ds.table.iloc[:1].assign(sequence=amb)
        X = type(ds)(t, ds.meta).X(iupac=m.encoding["iupac"]).astype("float32")
        expect = 0.0 if policy == "zero" else 0.5
        assert X[0, 0, 60] == expect and X[0, 2, 60] == expect  # A and G columns of an R
        sc = Scorer(m)
        direct = sc.model(torch.from_numpy(X)).detach()
        direct = (direct + sc.model(torch.from_numpy(X).flip(1).flip(2)).detach()) / 2
        assert np.allclose(sc._score([amb], ["x"]), direct.numpy(), atol=1e-5)


def test_ema_decay_is_validated_and_recorded_only_when_on():
    for bad in (1.0, -0.1, float("nan")):
        with pytest.raises(ValueError, match="ema_decay"):
            TrainConfig(ema_decay=bad)
    assert "ema_decay" not in TrainConfig().to_dict()  # cards and checkpoints made before EMA existed compare equal
    assert TrainConfig(ema_decay=0.99).to_dict()["ema_decay"] == 0.99


def test_weight_ema_is_the_bias_corrected_average_of_the_trajectory():
    """After steps w_1..w_t: sum d^(t-i) w_i / sum d^(t-i), for weights and BatchNorm statistics alike;
    the initial weights never enter; integer buffers are copied; applied() swaps and restores."""
    from seqconv.ema import WeightEMA

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    d = 0.8
    ema = WeightEMA(net, d)
    traj = []
    for _ in range(5):
        with torch.no_grad():
            for p in net.parameters():
                p.copy_(torch.randn_like(p))
        net.train()(torch.randn(16, 3))  # moves the BatchNorm running statistics
        ema.update(net)
        traj.append({k: v.clone() for k, v in net.state_dict().items()})
    w = torch.tensor([d ** (4 - i) for i in range(5)], dtype=torch.float64)
    for k in ("0.weight", "0.bias", "1.weight", "1.running_mean", "1.running_var"):
        ref = sum(w[i] * traj[i][k].double() for i in range(5)) / w.sum()
        assert torch.allclose(ema.shadow[k].double(), ref, atol=1e-6), k
    assert int(ema.shadow["1.num_batches_tracked"]) == 5
    live = {k: v.clone() for k, v in net.state_dict().items()}
    with ema.applied(net):
        assert torch.equal(net.state_dict()["0.weight"], ema.shadow["0.weight"])
    assert all(torch.equal(v, live[k]) for k, v in net.state_dict().items())
    with pytest.raises(ValueError, match="decay"):
        WeightEMA(net, 1.0)


def test_fit_with_ema_validates_and_saves_the_averaged_weights(tmp_path):
    res = _fit(tmp_path / "m", epochs=3, ema_decay=0.9, schedule="constant")
    again = _fit(None, epochs=3, ema_decay=0.9, schedule="constant")
    live = _fit(None, epochs=3, schedule="constant")
    from safetensors.torch import load_file

    ck = load_file(str(tmp_path / "m" / "checkpoint" / "last.safetensors"))
    sd = res.model.state_dict()
    assert all(torch.equal(sd[k], again.model.state_dict()[k]) for k in sd)  # same seed, same weights
    assert res.history[0]["train_loss"] == live.history[0]["train_loss"]  # EMA does not change the training itself
    if res.best_epoch == 3:  # the saved model is the average, the checkpoint holds both
        assert all(torch.equal(sd[k], ck[f"ema.{k}"].reshape(sd[k].shape)) for k in sd)
    assert not torch.equal(ck["model.head.net.1.weight"], ck["ema.head.net.1.weight"])
    from seqconv.predict import predict

    ds = oct4_mafk_dataset()
    va = ds.subset("valid")
    from seqconv.evaluate import binary_metrics

    m = binary_metrics(va.y(), predict(res.model, va.X(), strand="both"))
    assert m["auprc"] == pytest.approx(res.best_metrics["valid_auprc"], abs=1e-9)  # what was validated is saved
    assert load_model(tmp_path / "m").card.training["config"]["ema_decay"] == 0.9


def test_train_cli_ema_decay(tmp_path):
    data = write_oct4_mafk(tmp_path / "ds.parquet")
    args = ["train", "--data", str(data), "--arch", "deepbind", "--arch-option", "filters=8", "--arch-option",
            "kernel_size=15", "--epochs", "1", "--batch-size", "32", "--threads", "2", "-q"]
    r = CliRunner().invoke(main, args + ["--ema-decay", "0.95", "--out", str(tmp_path / "m")])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "m" / "model.json").read_text())["training"]["config"]["ema_decay"] == 0.95
    r = CliRunner().invoke(main, args + ["--ema-decay", "1", "--out", str(tmp_path / "x")])
    assert r.exit_code == 2 and "--ema-decay" in r.output and not (tmp_path / "x").exists()
    r = CliRunner().invoke(main, ["train", "--help"])
    assert "--ema-decay" in r.output and "default: 0.0; 0<=x<1" in " ".join(r.output.split())
