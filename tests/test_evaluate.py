"""seqconv.evaluate and `seqconv evaluate`: metrics vs sklearn, bootstrap intervals, report files."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from _oct4_mafk import oct4_mafk_dataset, write_oct4_mafk
from click.testing import CliRunner
from sklearn.metrics import average_precision_score, roc_auc_score

from seqconv.cli import main
from seqconv.evaluate import _boot_auc, binary_metrics, bootstrap_ci, evaluate, metrics_table
from seqconv.models import build_model, get_config
from seqconv.train import TrainConfig, fit

torch.set_num_threads(2)


def _scores(n=400, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(float)
    s = np.round(y * 1.0 + rng.normal(size=n), 1)  # rounded: many ties
    return y, s


def test_vectorised_bootstrap_auc_matches_sklearn():
    y, s = _scores()
    rng = np.random.default_rng(1)
    idx = rng.integers(0, len(y), size=(5, len(y)))
    roc, ap = _boot_auc(y, s, idx)
    for b in range(5):
        assert roc[b] == pytest.approx(roc_auc_score(y[idx[b]], s[idx[b]]), abs=1e-9)
        assert ap[b] == pytest.approx(average_precision_score(y[idx[b]], s[idx[b]]), abs=1e-9)


def test_bootstrap_interval_contains_estimate_and_shrinks_with_n():
    y, s = _scores(300)
    ci = bootstrap_ci(y, s, n_boot=300, seed=0)
    est = roc_auc_score(y, s)
    assert ci["auroc_lo"] < est < ci["auroc_hi"]
    assert ci["auprc_lo"] < average_precision_score(y, s) < ci["auprc_hi"]
    y2, s2 = _scores(3000)
    ci2 = bootstrap_ci(y2, s2, n_boot=300, seed=0)
    assert ci2["auroc_hi"] - ci2["auroc_lo"] < 0.6 * (ci["auroc_hi"] - ci["auroc_lo"])
    assert bootstrap_ci(y, s, n_boot=100, seed=3) == bootstrap_ci(y, s, n_boot=100, seed=3)


def test_no_bootstrap_gives_nan_bounds():
    y = np.array([0, 1, 0, 1, 1, 0])
    ci = bootstrap_ci(y, np.arange(6.0), n_boot=0)
    assert all(np.isnan(v) for v in ci.values()) and set(ci) == {"auroc_lo", "auroc_hi", "auprc_lo", "auprc_hi"}


def test_metrics_per_task_and_degenerate():
    y, s = _scores()
    Y = np.stack([y, 1 - y, np.zeros_like(y)], 1)
    S = np.stack([s, -s, s], 1)
    t = metrics_table(Y, S, ["a", "b", "none"], n_boot=50)
    assert t["auroc"].iloc[0] == pytest.approx(roc_auc_score(y, s))
    assert t["auroc"].iloc[1] == pytest.approx(roc_auc_score(y, s))
    assert np.isnan(t["auroc"].iloc[2]) and t["n_pos"].tolist() == [y.sum(), len(y) - y.sum(), 0]
    m = binary_metrics(Y[:, :2], S[:, :2])
    assert m["auroc"] == pytest.approx(roc_auc_score(y, s)) and len(m["per_task"]) == 2
    perfect = binary_metrics(y[:, None], (y * 2 - 1)[:, None])
    assert perfect["mcc"] == 1 and perfect["auroc"] == 1


@pytest.mark.slow
def test_evaluate_cli_writes_report(tmp_path):
    data = write_oct4_mafk(tmp_path / "ds.parquet")
    m = build_model(get_config("deepbind", input_length=200, filters=16, kernel_size=15, hidden=8), seed=0)
    fit(m, oct4_mafk_dataset(), config=TrainConfig(epochs=3, batch_size=32, lr=1e-2), out_dir=tmp_path / "m",
        verbose=False)
    out = tmp_path / "eval"
    r = CliRunner().invoke(main, ["evaluate", "--model", str(tmp_path / "m"), "--data", str(data), "--out", str(out),
                                  "--n-boot", "200", "-q"])
    assert r.exit_code == 0, r.output
    tsv = pd.read_csv(out / "metrics.tsv", sep="\t")
    assert tsv["TF"].tolist() == ["Oct4"] and tsv["n"].item() == 30
    assert tsv["auroc_lo"].item() <= tsv["auroc"].item() <= tsv["auroc_hi"].item()
    js = json.loads((out / "metrics.json").read_text())
    assert js["split"] == "test" and js["metrics"][0]["TF"] == "Oct4"
    for png in ("roc.png", "pr.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table, y, logits = evaluate(tmp_path / "m", data, n_boot=10)
    assert table["auroc"].item() == pytest.approx(roc_auc_score(y[:, 0], logits[:, 0]))
    r = CliRunner().invoke(main, ["evaluate", "--model", str(tmp_path / "m"), "--data", str(data), "--n-boot", "0",
                                  "-q", "--no-plots"])
    assert r.exit_code == 0, r.output    # no intervals asked for: point estimates, NaN bounds (was an internal error)
    assert "auROC" in r.output or "auroc" in r.output
    r = CliRunner().invoke(main, ["evaluate", "--model", str(tmp_path / "m"), "--data", str(tmp_path / "nope.parquet")])
    assert r.exit_code == 2 and "no such dataset file" in r.output
