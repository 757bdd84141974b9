"""seqconv.predict and `seqconv predict`: strand averaging, FASTA / BED / region inputs, tiling, errors."""

import io

import numpy as np
import pandas as pd
import pytest
import torch
from _oct4_mafk import EXAMPLE_FA, oct4_mafk_dataset
from click.testing import CliRunner

from seqconv.cli import main
from seqconv.encode import one_hot, reverse_complement
from seqconv.errors import InputError
from seqconv.genome import iter_fasta
from seqconv.models import build_model, get_config
from seqconv.predict import (
    Scorer,
    ShortSequenceWarning,
    parse_region,
    predict,
    predict_bed,
    predict_fasta,
    predict_region,
)
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
    short = records[n][1][:120]  # 120 bp of real sequence: padded with N to the 200 bp input (over half of it)
    path.write_text(">long\n" + "\n".join(seq[i:i + 60] for i in range(0, len(seq), 60)) + f"\n>short\n{short}\n")
    return path, seq


def test_tiling_and_long_record(model_dir, records, tmp_path):
    path, seq = _long_fasta(tmp_path, records)
    with pytest.warns(ShortSequenceWarning, match="'short' is 120 bp"):
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
    for name, kind in zip(table["name"], table["kind"]):
        total += sum(p.stat().st_size for p in (ROOT / name).iterdir())
        if kind == "backbone":
            bb = load_pretrained(name)
            assert bb.card.kind == "backbone" and bb.card.training["splits"]["train"]["sketch"]
            continue
        model = load_pretrained(name)
        card = model.card
        assert len(card.tasks) == model.n_tasks and card.negatives
        assert card.strand == "both" and card.training["split"] and card.metrics["test"]
    assert total < 12 * 2 ** 20
    r = CliRunner().invoke(main, ["models", "--tsv"])
    assert r.exit_code == 0 and r.output.split("\n")[0].startswith("name\tkind\tarch\twidth\ttasks\tnegatives")
    assert len(r.output.strip().split("\n")) == len(table) + 1
    # every single-task model shows the interval of its stored test auROC (which contains the point
    # estimate) and every model says where its test set came from
    for row in table[table["kind"] == "model"].itertuples():
        assert row.test_split, row.name
        if "," not in row.tasks:
            lo, hi = map(float, row.test_auroc_95ci.split("-"))
            assert lo <= row.test_auroc <= hi, row.name


def test_describe_shows_test_split_and_interval():
    table = _bundled()
    if "yeast_chexmix" not in set(table["name"]):
        pytest.skip("bundled model yeast_chexmix absent")
    r = CliRunner().invoke(main, ["describe", "yeast_chexmix"])
    assert r.exit_code == 0, r.output
    assert "test split: held-out chr8,chr9" in r.output
    assert "test Reb1: auROC" in r.output and "[" in r.output


def test_bundled_oct4_mafk_on_bundled_real_input():
    if "oct4_mafk" not in set(_bundled()["name"]):
        pytest.skip("bundled model oct4_mafk absent")
    from sklearn.metrics import roc_auc_score

    r = CliRunner().invoke(main, ["predict", "--model", "oct4_mafk", str(EXAMPLE_FA), "-q"])
    assert r.exit_code == 0, r.output
    df = pd.read_csv(io.StringIO(r.output), sep="\t")
    # janggu's held-out test peaks: Oct4 records must outscore MafK records
    assert roc_auc_score(df["id"].str.startswith("oct4"), df["probability"]) > 0.95


# --------------------------------------------------------------------------- genome-wide shards


def test_open_genome_is_the_one_genome_reader(tmp_path):
    """predict reads genomes with seqconv.genome.Genome (bgzip by position: tests/test_genome.py)."""
    from conftest import YEAST_GENOME

    from seqconv.genome import Genome
    from seqconv.predict import open_genome

    g = open_genome(YEAST_GENOME)
    assert isinstance(g, Genome) and g.compression == "bgzf" and g._mem is None
    with pytest.raises(InputError, match="no such genome FASTA"):
        open_genome(tmp_path / "missing.fa.gz")


def test_shard_ranges_partition_every_tile():
    from seqconv.predict import _tile_starts, count_owned_tiles, shard_ranges

    sizes = {"chrA": 1000, "chrB": 137, "chrC": 2501}  # chrB is shorter than the window
    width, stride = 200, 50
    total = count_owned_tiles(sizes, shard_ranges(sizes), width, stride)
    assert total == len(_tile_starts(1000, width, stride)) + 1 + len(_tile_starts(2501, width, stride))
    for n in (1, 2, 3, 7, 50):
        parts = [shard_ranges(sizes, None, (k, n)) for k in range(1, n + 1)]
        assert sum(count_owned_tiles(sizes, p, width, stride) for p in parts) == total
        flat = [r for p in parts for r in p]
        for chrom, size in sizes.items():  # the centre ranges tile each chromosome exactly once
            rs = sorted((lo, hi) for c, lo, hi in flat if c == chrom)
            assert rs[0][0] == 0 and rs[-1][1] == size and all(a[1] == b[0] for a, b in zip(rs, rs[1:]))
    assert shard_ranges(sizes, ["chrC"], (2, 2)) == [("chrC", 1250, 2501)]
    with pytest.raises(InputError, match="not in the genome"):
        shard_ranges(sizes, ["chrZ"])


def test_tile_bins_do_not_depend_on_the_shard():
    from seqconv.predict import _tile_starts, tile_bins

    starts = _tile_starts(1000, 200, 150)  # 0 150 300 450 600 750 800: the last one is flush with the end
    lo, hi = tile_bins(starts, starts + 200, 150)
    assert lo.tolist() == [25, 175, 325, 475, 625, 775, 925] and hi.tolist() == [175, 325, 475, 625, 775, 925, 1000]
    one = tile_bins(starts[-1:], starts[-1:] + 200, 150)  # the flush tile alone, as the first tile of a shard
    assert (one[0][0], one[1][0]) == (925, 1000)


def _shard_cli(model_dir, genome, prefix, *extra):
    r = CliRunner().invoke(main, ["predict", "--model", str(model_dir), "--genome", str(genome), "--stride", "40",
                                  "--bedgraph", str(prefix), "-q", *extra])
    assert r.exit_code == 0, r.output
    return r


def test_two_shards_and_merge_equal_one_run_byte_for_byte(model_dir, tmp_path, monkeypatch):
    """Real yeast sequence (bundled bgzip excerpt): shards 1/2 + 2/2 of chr1+chr3 -> the one-run track."""
    from conftest import YEAST_GENOME

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    chroms = ["--chroms", "chr3,chr1"]
    _shard_cli(model_dir, YEAST_GENOME, tmp_path / "one", *chroms, "--out", str(tmp_path / "one.tsv"))
    for k in (1, 2):
        _shard_cli(model_dir, YEAST_GENOME, tmp_path / f"s{k}", *chroms, "--shard", f"{k}/2",
                   "--out", str(tmp_path / f"s{k}.tsv"))
    one = (tmp_path / "one.Oct4.bedGraph").read_bytes()
    s1, s2 = (tmp_path / "s1.Oct4.bedGraph").read_bytes(), (tmp_path / "s2.Oct4.bedGraph").read_bytes()
    assert s1 and s2 and s1 + s2 == one  # concatenation is the single run, byte for byte
    tsv1, tsv2 = (tmp_path / "s1.tsv").read_text(), (tmp_path / "s2.tsv").read_text()
    assert tsv1 + tsv2.split("\n", 1)[1] == (tmp_path / "one.tsv").read_text()
    # the shard boundary falls inside chr3 (chr3 316,620 bp + chr1 230,218 bp, halved -> chr3:273,419)
    assert s1.split(b"\n")[-2].startswith(b"chr3\t2733") and s2.startswith(b"chr3\t2734")
    # merge (shards given in any order) == merge of the single run; sorted chr1 before chr3
    for args, out in ((["s2", "s1"], "m2"), (["one"], "m1")):
        r = CliRunner().invoke(main, ["merge-tracks", *[str(tmp_path / a) for a in args], "--genome",
                                      str(YEAST_GENOME), "--out", str(tmp_path / out), "-q", "--no-bigwig"])
        assert r.exit_code == 0, r.output
    merged = (tmp_path / "m2.Oct4.bedGraph").read_bytes()
    assert merged == (tmp_path / "m1.Oct4.bedGraph").read_bytes()
    bg = pd.read_csv(io.BytesIO(merged), sep="\t", header=None, names=["c", "s", "e", "v"])
    assert bg["c"].iloc[0] == "chr1" and bg["c"].iloc[-1] == "chr3" and bg["c"].is_monotonic_increasing
    assert (bg.groupby("c")["s"].apply(lambda s: s.is_monotonic_increasing)).all()
    # last chr3 tile [316420, 316620) (flush): its bin starts where the previous one ends (316520), 40 bp
    assert bg["e"].max() == 316_560 and len(bg) == len(pd.read_csv(tmp_path / "one.tsv", sep="\t"))
    # the genome-wide track of a chromosome is the --region track of that chromosome
    _shard_cli(model_dir, YEAST_GENOME, tmp_path / "reg", "--region", "chr1", "--out", str(tmp_path / "r.tsv"))
    chr1 = b"".join(line + b"\n" for line in one.split(b"\n") if line.startswith(b"chr1\t"))
    assert chr1 == (tmp_path / "reg.Oct4.bedGraph").read_bytes()


def test_genome_wide_cli_errors(model_dir, tmp_path):
    from conftest import YEAST_GENOME

    base = ["predict", "--model", str(model_dir), "--genome", str(YEAST_GENOME), "-q"]
    for extra, msg in [(["--chroms", "chr2", "--bedgraph", "x"], "['chr2'] are not in the genome"),
                       (["--chroms", "chr1", "--shard", "3/2", "--bedgraph", "x"], "bad shard '3/2'"),
                       (["--chroms", "chr1"], "--chroms needs --out"),
                       (["--region", "chr1", "--shard", "1/2"], "--shard needs --chroms")]:
        r = CliRunner().invoke(main, base + extra)
        assert r.exit_code == 2 and msg in r.output and "Traceback" not in r.output, r.output
    assert not list(tmp_path.iterdir())


def test_progress_lines_without_a_terminal(model_dir, records, tmp_path, monkeypatch):
    """stderr not a TTY (a Snakemake log): tiled prediction prints plain lines every N windows with the total
    and an ETA, no carriage returns; -q prints none of them."""
    import seqconv.predict as P

    genome = tmp_path / "g.fa"
    genome.write_text(">chrA\n" + "".join(s for _, s in records[:30]) + "\n")   # 6,000 bp of real peaks
    monkeypatch.setattr(P, "PROGRESS_EVERY", 40)
    args = ["predict", "--model", str(model_dir), "--genome", str(genome), "--region", "chrA", "--stride", "50",
            "--batch-size", "20", "--out", str(tmp_path / "t.tsv")]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    total = P._n_tiles(6000, 200, 50)
    tsv = pd.read_csv(tmp_path / "t.tsv", sep="\t")
    assert total == 117 and len(tsv) == total * tsv.TF.nunique()
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("scored ") and "windows (" in ln]
    assert [ln.split(",")[0] for ln in lines] == [f"scored {n}/117 windows ({100 * n / 117:.1f}%)"
                                                   for n in (40, 80, 117)], r.stderr
    assert all("ETA" in ln for ln in lines[:-1]) and "ETA" not in lines[-1]
    assert "\r" not in r.stderr
    q = CliRunner().invoke(main, args + ["-q"])
    assert q.exit_code == 0 and q.stderr == "", q.stderr


def test_sequences_under_half_the_width_are_refused_unless_padding_is_asked_for(tmp_path):
    from seqconv.errors import InputError
    from seqconv.predict import Scorer

    fa = tmp_path / "short.fa"
    fa.write_text(">short\nACGTACGTACGTACGTACGTACGTAC\n>ok\n" + "ACGT" * 30 + "\n")
    with pytest.raises(InputError, match="'short' is 26 bp, under half the model input \\(200 bp\\)"):
        list(Scorer("oct4_mafk").fasta(fa))
    with pytest.warns(UserWarning, match="padded with N"):
        chunks = list(Scorer("oct4_mafk", pad=True).fasta(fa))
    assert list(pd.concat(chunks)["id"]) == ["short", "ok"]
