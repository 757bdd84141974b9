"""seqconv.transfer and `seqconv finetune`: the bundled yeast backbone on a tiny real cohort (Cbf1 ChIP-exo
events on the bundled sacCer3 excerpt), seconds of training."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from _oct4_mafk import REPO
from click.testing import CliRunner

from seqconv.cli import main
from seqconv.dataset import Dataset, write_dataset
from seqconv.errors import InputError
from seqconv.modelfile import load_model
from seqconv.prepare import from_peaks
from seqconv.pretrained import load_pretrained
from seqconv.train import TrainConfig
from seqconv.transfer import (
    CoralPenalty,
    TransferConfig,
    TransferLeakageWarning,
    check_leakage,
    compare,
    finetune,
    pool,
    summarise,
    target_view,
)

torch.set_num_threads(2)
YEAST = REPO / "data" / "yeast"
GENOME = YEAST / "sacCer3_chr1_3_6_7_8_9.fa.gz"
FAST = TrainConfig(epochs=3, batch_size=16, lr=2e-3, patience=5, seed=0)


def _cohort(tf="Cbf1", **kw) -> Dataset:
    ds, _ = from_peaks([YEAST / f"{tf}_CX.bed.gz"], GENOME, width=101, task_names=[tf], seed=0, **kw)
    return ds


@pytest.fixture(scope="module")
def cbf1():
    return _cohort()


@pytest.fixture(scope="module")
def backbone():
    return load_pretrained("yeast_backbone")


def test_bundled_backbone_describes_itself(backbone):
    assert backbone.card.kind == "backbone" and backbone.input_length == 101
    assert len(backbone.card.tasks) == 30 and not {"Reb1", "Cbf1", "Rap1"} & set(backbone.card.tasks)
    split = backbone.card.training["splits"]
    assert "chr8" not in split["train"]["chromosomes"] and "chr9" not in split["train"]["chromosomes"]
    assert split["train"]["sketch"]["hashes"] and backbone.card.training["genome"] == "sacCer3_R64.fa.gz"


@pytest.mark.slow
def test_frozen_keeps_backbone_exactly_and_learns_a_head(cbf1, backbone, tmp_path):
    res = finetune(backbone, cbf1, mode="frozen", config=FAST, out_dir=tmp_path / "m", verbose=False)
    trunk = res.model.trunk.state_dict()
    for k, v in backbone.trunk.state_dict().items():  # weights AND BatchNorm running statistics
        assert torch.equal(trunk[k], v), k
    head0 = backbone.attach_head(["Cbf1"], seed=0).head.state_dict()
    assert any(not torch.equal(head0[k], v) for k, v in res.model.head.state_dict().items())
    m = load_model(tmp_path / "m")
    assert m.tasks == ["Cbf1"] and m.card.transfer["mode"] == "frozen"
    assert m.card.transfer["backbone"]["name"] == "yeast_backbone"
    assert m.card.transfer["target"]["n"]["train"] == int((cbf1.table["split"] == "train").sum())
    assert m.card.metrics["valid"]["valid_auroc"] > 0.5
    x = torch.from_numpy(cbf1.X("test")[:4]).float()
    assert torch.allclose(m(x), res.model(x), atol=1e-2)  # float32 model vs its saved copy (float32)


@pytest.mark.slow
def test_finetune_moves_backbone_slowly_after_head_epochs(cbf1, backbone):
    tc = TransferConfig(head_epochs=1, backbone_lr=0.1)
    res = finetune(backbone, cbf1, mode="finetune", transfer=tc, config=FAST, verbose=False)
    groups = {g["name"]: g for g in res.model.card.training["groups"]}
    assert groups["backbone"]["lr"] == pytest.approx(0.1 * FAST.lr) and groups["backbone"]["start_epoch"] == 1
    w0 = backbone.trunk.layers[0].conv.weight
    w1 = res.model.trunk.layers[0].conv.weight
    assert not torch.equal(w0, w1) and (w1 - w0).abs().max() < 0.05
    # gradual: one group per backbone block, the top block unfrozen first
    res = finetune(backbone, cbf1, mode="finetune", transfer=TransferConfig(head_epochs=1, gradual=True),
                   config=FAST, verbose=False)
    starts = {g["name"]: g["start_epoch"] for g in res.model.card.training["groups"]}
    assert starts["backbone.2"] == 1 and starts["backbone.1"] == 2 and starts["backbone.0"] == 3
    assert torch.equal(res.model.trunk.layers[0].conv.weight, w0)  # block 0 never unfrozen within 3 epochs


@pytest.mark.slow
def test_scratch_is_same_architecture_random_start(cbf1, backbone):
    res = finetune(backbone, cbf1, mode="scratch", config=FAST, verbose=False)
    assert res.model.config.filters == backbone.config.filters and res.model.n_tasks == 1
    assert not torch.equal(res.model.trunk.layers[0].conv.weight, backbone.trunk.layers[0].conv.weight)


@pytest.mark.slow
def test_mixture_pools_cohorts_with_masked_labels(cbf1, backbone):
    source = _cohort("Reb1")
    pooled = pool(cbf1, source, source_max=200, seed=0)
    assert pooled.tasks == ["Cbf1", "Reb1"]
    y = pooled.y()
    is_src = pooled.table["name"].str.startswith("source:").to_numpy()
    assert np.isnan(y[is_src, 0]).all() and np.isnan(y[~is_src, 1]).all()
    assert not np.isnan(y[~is_src, 0]).any() and is_src.sum() == 200
    res = finetune(backbone, cbf1, mode="mixture", source=source, config=FAST,
                   transfer=TransferConfig(source_max=200), verbose=False)
    assert res.model.tasks == ["Cbf1", "Reb1"]
    view = target_view(res.model, ["Cbf1"])
    x = torch.from_numpy(cbf1.X("test")[:5]).float()
    assert torch.allclose(view.eval()(x)[:, 0], res.model.eval()(x)[:, 0])
    with pytest.raises(InputError, match="needs the backbone's source data"):
        finetune(backbone, cbf1, mode="mixture", config=FAST, verbose=False)


@pytest.mark.slow
def test_adapt_coral_penalty_and_run(cbf1, backbone):
    X = cbf1.X("train")
    pen = CoralPenalty(X, weight=1.0, batch_size=len(X))
    model = backbone.attach_head(["Cbf1"])
    xb = torch.from_numpy(X).float()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        same = float(pen(model.eval(), xb, gen))
        shifted = float(pen(model.eval(), torch.zeros_like(xb), gen))  # all-N input: far from the source features
    assert same < 1e-6 < shifted
    res = finetune(backbone, cbf1, mode="adapt", source=_cohort("Reb1"), config=FAST, verbose=False)
    assert res.model.card.transfer["mode"] == "adapt" and res.model.card.transfer["source"]["tasks"] == ["Reb1"]


def test_leakage_guard_names_the_overlap(backbone):
    leaky = _cohort(test_chroms=("chr1",), valid_chroms=("chr3",))
    with pytest.warns(TransferLeakageWarning, match=r"test chromosomes \['chr1'\]"):
        found = check_leakage(backbone, leaky)
    assert found
    with pytest.raises(InputError, match="leakage"):
        finetune(backbone, leaky, mode="frozen", config=FAST, strict=True, verbose=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", TransferLeakageWarning)
        assert check_leakage(backbone, _cohort()) == []  # chr8 + chr9 test: held out of the backbone too
    # without coordinates: the backbone's own training windows as "test" sequences are found by their sketch
    src = read_dataset_from_card_sketch(backbone)
    with pytest.warns(TransferLeakageWarning, match="test sequences"):
        check_leakage(backbone, src)


def read_dataset_from_card_sketch(backbone) -> Dataset:
    """Backbone training windows re-cut from the bundled genome excerpt (chr1, 3, 6): a coordinate-free test set."""
    from seqconv.genome import Genome

    ds = from_peaks([YEAST / "Reb1_CX.bed.gz"], GENOME, width=101, seed=0)[0]
    ds2 = _backbone_windows(Genome(GENOME), backbone)
    t = pd.concat([ds.table.iloc[:0], ds2], ignore_index=True)
    return Dataset(t, {"width": 101, "name": "coordinate-free"})


def _backbone_windows(g, backbone):
    from seqconv.genome import read_bed

    peaks = read_bed(REPO.parent / "shared" / "data" / "yeast_sacCer3_chip" / "chexmix_by_tf" / "Abf1_CX.bed.gz") \
        if (REPO.parent / "shared" / "data").exists() else None
    if peaks is None:
        pytest.skip("../shared/data absent")
    peaks = peaks[peaks["chrom"].isin(["chr1", "chr3", "chr6"])].head(40)
    seqs = []
    for c, s, e in zip(peaks["chrom"], peaks["start"], peaks["end"]):
        mid = (int(s) + int(e)) // 2
        seqs.append(g.fetch(c, mid - 50, mid + 51))
    n = len(seqs)
    return pd.DataFrame({"name": [f"w{i}" for i in range(n)], "chrom": "", "start": -1, "end": -1,
                         "sequence": seqs, "kind": "positive", "split": "test", "label:Reb1": np.int8(1)})


@pytest.mark.slow
def test_compare_table_and_summary(cbf1, backbone):
    runs = compare(backbone, cbf1, modes=("scratch", "frozen"), seeds=(0, 1), config=FAST, n_boot=20)
    assert len(runs) == 4 and set(runs["mode"]) == {"scratch", "frozen"}
    assert runs["auroc"].between(0, 1).all() and (runs["cpu_seconds"] > 0).all()
    s = summarise(runs).set_index("mode")
    assert s.loc["frozen", "n_seeds"] == 2 and np.isfinite(s.loc["frozen", "d_auroc"])
    per = runs.groupby(["mode", "seed"])["auroc"].mean()
    assert s.loc["frozen", "d_auroc"] == pytest.approx((per["frozen"] - per["scratch"]).mean())


def test_bad_inputs(cbf1, backbone, tmp_path):
    wide = _cohort()
    wide_ds, _ = from_peaks([YEAST / "Cbf1_CX.bed.gz"], GENOME, width=200, seed=0)
    with pytest.raises(InputError, match="200 bp windows but the backbone takes 101 bp"):
        finetune(backbone, wide_ds, mode="frozen", config=FAST, verbose=False)
    one = Dataset(wide.table[wide.table["kind"] == "positive"].reset_index(drop=True), wide.meta)
    with pytest.raises(InputError, match="0 negative"):
        finetune(backbone, one, mode="frozen", config=FAST, verbose=False)
    with pytest.raises(InputError, match="fewer than the batch size"):
        finetune(backbone, cbf1, mode="frozen", config=TrainConfig(epochs=1, batch_size=4096), verbose=False)
    with pytest.raises(InputError, match="unknown transfer mode"):
        TransferConfig(mode="distill")
    with pytest.raises(InputError, match="is a backbone, not a model"):
        load_model(REPO / "seqconv" / "pretrained" / "yeast_backbone")
    write_dataset(cbf1, tmp_path / "c.parquet")
    r = CliRunner().invoke(main, ["finetune", "--backbone", "yeast_chexmix", "--data", str(tmp_path / "c.parquet"),
                                  "--out", str(tmp_path / "x")])
    assert r.exit_code == 2 and "is a model, not a backbone" in r.output and "--from-model" in r.output
    assert not (tmp_path / "x").exists()
    r = CliRunner().invoke(main, ["predict", "--model", "yeast_backbone",
                                  str(REPO / "data" / "example_oct4_mafk_test.fa")])
    assert r.exit_code == 2 and "is a backbone, not a model" in r.output
    r = CliRunner().invoke(main, ["finetune", "--backbone", "yeast_backbone", "--data", str(tmp_path / "c.parquet"),
                                  "--mode", "distill", "--out", str(tmp_path / "y")])
    assert r.exit_code == 2 and "distill" in r.output and not (tmp_path / "y").exists()


@pytest.mark.slow
def test_finetune_cli_and_compare_cli(cbf1, tmp_path):
    data = write_dataset(cbf1, tmp_path / "cbf1.parquet")
    common = ["--epochs", "2", "--batch-size", "16", "--threads", "2"]
    r = CliRunner().invoke(main, ["finetune", "--backbone", "yeast_backbone", "--data", str(data), "--mode",
                                  "finetune", "--out", str(tmp_path / "ft"), "-q", *common])
    assert r.exit_code == 0, r.output
    assert "test: auROC" in r.output  # quiet keeps the result line
    card = json.loads((tmp_path / "ft" / "model.json").read_text())
    assert card["kind"] == "model" and card["transfer"]["mode"] == "finetune" and card["metrics"]["test"]
    r = CliRunner().invoke(main, ["predict", "--model", str(tmp_path / "ft"), "--bed", str(YEAST / "Cbf1_CX.bed.gz"),
                                  "--genome", str(GENOME), "-q"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["describe", str(tmp_path / "ft")])
    assert r.exit_code == 0 and "transfer: mode finetune from backbone yeast_backbone" in r.output
    r = CliRunner().invoke(main, ["finetune", "--from-model", "yeast_chexmix", "--data", str(data), "--compare",
                                  "scratch,frozen", "--seeds", "0,1", "--out", str(tmp_path / "cmp"), "-q", *common])
    assert r.exit_code == 0, r.output
    assert {p.name for p in (tmp_path / "cmp").iterdir()} == {"compare.tsv", "summary.tsv", "compare.png"}
    s = pd.read_csv(tmp_path / "cmp" / "summary.tsv", sep="\t")
    assert list(s["mode"]) == ["scratch", "frozen"] and (s["n_seeds"] == 2).all()
    r = CliRunner().invoke(main, ["finetune", "--backbone", "yeast_backbone", "--data", str(data), "--compare",
                                  "mixture", "--out", str(tmp_path / "cmp2"), *common])
    assert r.exit_code == 2 and "need --source" in r.output
