"""Seed ensembles shipped as one model (seqconv.models.ensemble, seqconv ensemble)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from seqconv.cli import main
from seqconv.errors import InputError
from seqconv.modelfile import load_model, save_model
from seqconv.models import build_model, describe, ensemble, get_config, is_ensemble
from seqconv.predict import predict


def _members(arch="resnet", k=3, length=60):
    return [build_model(get_config(arch, input_length=length), seed=s).eval() for s in range(k)]


@pytest.mark.parametrize("arch", ["deepbind", "basset", "resnet"])
def test_ensemble_is_the_mean_of_its_members_and_round_trips(arch, tmp_path):
    ms = _members(arch, length=101 if arch == "basset" else 60)
    L = ms[0].input_length
    x = torch.randint(0, 2, (6, 4, L)).float()
    e = ensemble(ms)
    assert is_ensemble(e) and e.config.members == 3 and not is_ensemble(ms[0])
    with torch.no_grad():
        ref = torch.stack([m(x) for m in ms]).mean(0)
        assert torch.allclose(e(x), ref, atol=1e-6)
    # the fused predict path (both strands) agrees with the members' own predictions averaged
    p = predict(e, x.numpy(), check=False)
    assert np.allclose(p, np.mean([predict(m, x.numpy(), check=False) for m in ms], 0), atol=1e-5)
    save_model(e, tmp_path / "ens")
    back = load_model(tmp_path / "ens")
    assert back.config == e.config and back.card.training["members"][1]["seed"] is None
    assert np.allclose(predict(back, x.numpy(), check=False), p, atol=1e-6)
    # member k comes back as a single model equal to the k-th input
    m1 = back.member(1)
    assert not is_ensemble(m1)
    with torch.no_grad():
        assert torch.allclose(m1(x), ms[1](x), atol=1e-6)


def test_new_head_on_an_ensemble_has_one_head_per_member_and_reloads(tmp_path):
    e = ensemble(_members())
    h = e.with_head(["a", "b"], hidden=8)
    assert type(h.head).__name__ == "EnsembleHead" and len(h.head.members) == 3
    x = torch.randint(0, 2, (4, 4, 60)).float()
    save_model(h, tmp_path / "h")
    back = load_model(tmp_path / "h")
    assert back.tasks == ["a", "b"]
    assert np.allclose(predict(back, x.numpy(), check=False), predict(h, x.numpy(), check=False), atol=1e-6)


def test_describe_shows_one_member_and_the_ensemble_total():
    ms = _members()
    t = describe(ensemble(ms))
    assert t["layer"].iloc[0].startswith("member 0: trunk.layers.0")
    assert t["params"].iloc[-1] == 3 * sum(p.numel() for p in ms[0].parameters())
    assert t["type"].iloc[-1] == "ensemble of 3"


def test_ensemble_refuses_mismatched_members_and_motif_extraction():
    from seqconv.motifs.extract import first_layer

    a = _members(k=1)[0]
    b = build_model(get_config("resnet", input_length=60, first_filters=8), seed=1)
    with pytest.raises(InputError, match="another architecture config"):
        ensemble([a, b])
    c = build_model(get_config("resnet", input_length=60), seed=2)
    c.card = c.card.replace(tasks=("other",))
    with pytest.raises(InputError, match="other tasks"):
        ensemble([a, c])
    with pytest.raises(InputError, match="at least 2"):
        ensemble([a])
    with pytest.raises(InputError, match="ensemble of 2 models"):
        first_layer(ensemble(_members(k=2)))


@pytest.mark.slow
def test_cli_ensemble_example(tmp_path, monkeypatch):
    """The --help example, run as written from the repository root (bundled yeast excerpt)."""
    import shutil
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    monkeypatch.chdir(tmp_path)
    shutil.copytree(root / "data", tmp_path / "data")
    r = CliRunner()
    res = r.invoke(main, ["prepare", "--peaks", "data/yeast/Reb1_CX.bed.gz", "--genome",
                          "data/yeast/sacCer3_chr1_3_6_7_8_9.fa.gz", "--out", "reb1.parquet", "-q"])
    assert res.exit_code == 0, res.output
    for seed in (0, 1):
        res = r.invoke(main, ["train", "--data", "reb1.parquet", "--arch", "deepbind", "--epochs", "2",
                              "--batch-size", "32", "--seed", str(seed), "--out", f"reb1_s{seed}", "-q",
                              "--threads", "1"])
        assert res.exit_code == 0, res.output
    res = r.invoke(main, ["ensemble", "reb1_s0", "reb1_s1", "--out", "reb1_ens"])
    assert res.exit_code == 0, res.output
    e = load_model("reb1_ens")
    assert e.config.members == 2 and e.tasks == load_model("reb1_s0").tasks
    res = r.invoke(main, ["ensemble", "reb1_s0", "reb1_s1", "--out", "reb1_ens"])
    assert res.exit_code == 2 and "already exists" in res.output
