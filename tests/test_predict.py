"""seqconv.predict and `seqconv predict`: strand averaging, FASTA / BED / region inputs, tiling, errors."""

import io

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from _oct4_mafk import EXAMPLE_FA, oct4_mafk_dataset
from seqconv.cli import main
from seqconv.encode import one_hot, reverse_complement
from seqconv.errors import InputError
from seqconv.genome import iter_fasta
from seqconv.models import build_model, get_config
from seqconv.predict import (Scorer, ShortSequenceWarning, parse_region, predict, predict_bed, predict_fasta,
                             predict_region)
from seqconv.train import TrainConfig, fit

torch.set_num_threads(2)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A small deepbind model trained for a few seconds on the real Oct4 / MafK peaks."""
    d = tmp_path_factory.mktemp("m") / "oct4"
    m = build_model(get_config("deepbind", input_length=200, filters=16, kernel_size=15, hidden=8), seed=0)
    fit(m, oct4_mafk_dataset(), config=TrainConfig(epochs=8, batch_size=32, lr=1e-2, seed=0), out_dir=d,
        verbose=False)
    return d


@pytest.fixture(scope="module")
def records():
    return list(iter_fasta(EXAMPLE_FA))


def test_strand_average_is_rc_invariant(model_dir):
    sc = Scorer(model_dir)
    X = oct4_mafk_dataset().X()[:20]
    both = predict(sc.model, X, strand="both")
    fwd = predict(sc.model, X, strand="forward")
    rev = predict(sc.model, reverse_complement(X), strand="forward")
    assert np.allclose(both, (fwd + rev) / 2, atol=1e-5)
    assert np.allclose(predict(sc.model, reverse_complement(X), strand="both"), both, atol=1e-5)
    assert not np.allclose(fwd, rev, atol=1e-3)  # the model itself is not RC-symmetric


def test_predict_fasta_centre_windows(model_dir, records):
    df = predict_fasta(model_dir, EXAMPLE_FA, batch_size=64)
    assert list(df.columns) == ["id", "TF", "score", "probability"]
    assert len(df) == 200 and df["id"].tolist() == [n for n, _ in records] and set(df["TF"]) == {"Oct4"}
    assert np.allclose(df["probability"], 1 / (1 + np.exp(-df["score"])))
    sc = Scorer(model_dir)
    direct = predict(sc.model, one_hot([s for _, s in records], iupac="uniform"))[:, 0]
    assert np.allclose(df["score"], direct, atol=1e-5)
    # a trained model separates the two TFs' real peaks
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(df["id"].str.startswith("oct4"), df["score"]) > 0.8


def _long_fasta(tmp_path, records, n=6):
    seq = "".join(s for _, s in records[:n])  # 1200 bp of real sequence
    path = tmp_path / "long.fa"
    path.write_text(">long\n" + "\n".join(seq[i:i + 60] for i in range(0, len(seq), 60)) + "\n>short\nACGTACGTAC\n")
    return path, seq


def test_tiling_and_long_record(model_dir, records, tmp_path):
    path, seq = _long_fasta(tmp_path, records)
    with pytest.warns(ShortSequenceWarning, match="'short' is 10 bp"):
        df = predict_fasta(model_dir, path, tile=True, stride=150)
    long = df[df["chrom"] == "long"]
    assert long["start"].tolist() == [0, 150, 300, 450, 600, 750, 900, 1000]  # last window flush with the end
    assert (long["end"] - long["start"] == 200).all()
    sc = Scorer(model_dir)
    expect = predict(sc.model, one_hot([seq[s:s + 200] for s in long["start"]]))[:, 0]
    assert np.allclose(long["score"], expect, atol=1e-5)
    # centre mode: the long record is scored at its centre window
    with pytest.warns(ShortSequenceWarning):
        centre = predict_fasta(model_dir, path, strict=False).set_index("id")
    assert centre.loc["long", "score"] == pytest.approx(float(predict(sc.model, one_hot([seq[500:700]]))[0, 0]),
                                                        abs=1e-5)
    with pytest.raises(InputError, match="shorter than the model input"):
        predict_fasta(model_dir, path, strict=True)


def test_bed_and_region_on_genome(model_dir, records, tmp_path):
    seqs = [s for _, s in records[:10]]
    genome = tmp_path / "g.fa"
    genome.write_text(">chrA\n" + "".join(seqs) + "\n")
    bed = tmp_path / "peaks.bed"
    bed.write_text("".join(f"chrA\t{200 * i}\t{200 * i + 200}\tp{i}\n" for i in range(10)))
    by_bed = predict_bed(model_dir, bed, genome)
    sc = Scorer(model_dir)
    assert by_bed["id"].tolist() == [f"p{i}" for i in range(10)]
    assert np.allclose(by_bed["score"], predict(sc.model, one_hot(seqs))[:, 0], atol=1e-5)
    reg = predict_region(model_dir, genome, "chrA:201-1000", stride=100)
    assert reg["start"].tolist() == [200, 300, 400, 500, 600, 700, 800]
    assert np.allclose(reg["score"].iloc[0], by_bed["score"].iloc[1], atol=1e-5)
    with pytest.raises(InputError, match="'chrZ' is not in the genome"):
        predict_region(model_dir, genome, "chrZ")
    assert parse_region("chr1:1,001-2,000") == ("chr1", 1000, 2000)
    with pytest.raises(InputError, match="bad region"):
        parse_region("chr1:5-")


def test_cli_fasta_stdout_and_file(model_dir, tmp_path):
    r0 = r = CliRunner().invoke(main, ["predict", "--model", str(model_dir), str(EXAMPLE_FA), "-q"])
    assert r.exit_code == 0, r.output
    lines = r.output.strip().split("\n")
    assert lines[0] == "id\tTF\tscore\tprobability" and len(lines) == 201
    out = tmp_path / "o.tsv"
    r = CliRunner().invoke(main, ["predict", "--model", str(model_dir), str(EXAMPLE_FA), "--out", str(out),
                                  "--strand", "forward", "--batch-size", "7", "--threads", "1", "-q"])
    assert r.exit_code == 0, r.output
    fwd = pd.read_csv(out, sep="\t")
    both = pd.read_csv(io.StringIO(r0.output), sep="\t")
    assert len(fwd) == 200 and fwd["id"].tolist() == both["id"].tolist()
    assert not np.allclose(fwd["score"], both["score"], atol=1e-4)


def test_cli_region_bedgraph(model_dir, records, tmp_path):
    genome = tmp_path / "g.fa"
    genome.write_text(">chrA\n" + "".join(s for _, s in records[:10]) + "\n")
    prefix = tmp_path / "trk"
    r = CliRunner().invoke(main, ["predict", "--model", str(model_dir), "--genome", str(genome), "--region", "chrA",
                                  "--stride", "50", "--out", str(tmp_path / "t.tsv"), "--bedgraph", str(prefix), "-q"])
    assert r.exit_code == 0, r.output
    tsv = pd.read_csv(tmp_path / "t.tsv", sep="\t")
    assert list(tsv.columns) == ["id", "chrom", "start", "end", "TF", "score", "probability"]
    bg = pd.read_csv(f"{prefix}.Oct4.bedGraph", sep="\t", header=None, names=["c", "s", "e", "v"])
    assert len(bg) == len(tsv)
    assert (bg["s"].to_numpy()[1:] >= bg["e"].to_numpy()[:-1]).all()  # sorted, non-overlapping
    assert np.allclose(bg["v"], tsv["probability"], atol=1e-4)


@pytest.mark.parametrize("args,msg", [
    (["--model", "no_such_model"], "no model directory or bundled model named 'no_such_model'"),
    (["--device", "cuda"], "no CUDA device"),
    (["--strict"], "shorter than the model input"),
    (["--region", "chr1"], "exactly one input"),
])
def test_cli_errors_exit_2_no_output(model_dir, records, tmp_path, args, msg):
    if "cuda" in args and torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    path, _ = _long_fasta(tmp_path, records)
    out = tmp_path / "o.tsv"
    base = ["predict", "--model", str(model_dir), str(path), "--out", str(out), "-q"]
    if args[0] == "--model":
        base[2] = args[1]
        args = []
    r = CliRunner().invoke(main, base + args)
    assert r.exit_code == 2, r.output
    assert msg in r.output
    assert "Traceback" not in r.output
    assert not out.exists() and list(tmp_path.glob(".o.tsv*")) == []


def _bundled():
    from seqconv.pretrained import list_models

    return list_models()


def test_bundled_models_load_and_are_small():
    from seqconv.pretrained import ROOT, load_pretrained

    table = _bundled()
    if table.empty:
        pytest.skip("no bundled models in this checkout")
    total = 0
    for name in table["name"]:
        model = load_pretrained(name)
        card = model.card
        assert len(card.tasks) == model.n_tasks and card.negatives
        assert card.strand == "both" and card.training["split"] and card.metrics["test"]
        total += sum(p.stat().st_size for p in (ROOT / name).iterdir())
    assert total < 5 * 2 ** 20
    r = CliRunner().invoke(main, ["models", "--tsv"])
    assert r.exit_code == 0 and r.output.split("\n")[0].startswith("name\tkind\tarch\twidth\ttasks\tnegatives")
    assert len(r.output.strip().split("\n")) == len(table) + 1


def test_bundled_oct4_mafk_on_bundled_real_input():
    if "oct4_mafk" not in set(_bundled()["name"]):
        pytest.skip("bundled model oct4_mafk absent")
    from sklearn.metrics import roc_auc_score

    r = CliRunner().invoke(main, ["predict", "--model", "oct4_mafk", str(EXAMPLE_FA), "-q"])
    assert r.exit_code == 0, r.output
    df = pd.read_csv(io.StringIO(r.output), sep="\t")
    # janggu's held-out test peaks: Oct4 records must outscore MafK records
    assert roc_auc_score(df["id"].str.startswith("oct4"), df["probability"]) > 0.95
