"""seqconv.prepare and `seqconv prepare` on the bundled real yeast excerpt."""


import numpy as np
import pytest
from click.testing import CliRunner
from conftest import YEAST_CBF1, YEAST_EXCLUDE, YEAST_GENOME, YEAST_REB1

from seqconv.cli import main
from seqconv.dataset import read_dataset, write_dataset
from seqconv.encode import dinucleotide_counts
from seqconv.errors import InputError
from seqconv.genome import Genome
from seqconv.prepare import from_fasta, from_peaks, from_tsv


@pytest.fixture(scope="module")
def multi():
    ds, report = from_peaks([YEAST_REB1, YEAST_CBF1], YEAST_GENOME, width=200, task_names=["Reb1", "Cbf1"],
                            negatives="both", exclude=YEAST_EXCLUDE, seed=7)
    return ds, report


def test_from_peaks_multilabel_windows_labels_splits(multi):
    ds, _ = multi
    t = ds.table
    assert ds.tasks == ["Reb1", "Cbf1"] and ds.width == 200
    assert (t["sequence"].str.len() == 200).all()
    genome = Genome(YEAST_GENOME)
    for row in t.sample(20, random_state=0).itertuples():
        if row.kind != "shuffle":
            assert row.sequence == genome.fetch(row.chrom, row.start, row.end)
    pos = t[t["kind"] == "positive"]
    # every peak's window is labelled for its TF; negatives are all zero
    assert pos["label:Reb1"].sum() >= 249 and pos["label:Cbf1"].sum() >= 58
    assert (pos[["label:Reb1", "label:Cbf1"]].sum(axis=1) >= 1).all()
    neg = t[t["kind"] != "positive"]
    assert (neg[["label:Reb1", "label:Cbf1"]] == 0).all().all()
    # whole chromosomes held out: chr8, chr9 test; chr7 valid
    assert set(t.loc[t["split"] == "test", "chrom"]) == {"chr8", "chr9"}
    assert set(t.loc[t["split"] == "valid", "chrom"]) == {"chr7"}
    assert not set(t.loc[t["split"] == "train", "chrom"]) & {"chr7", "chr8", "chr9"}
    # GC-matched negatives per split; shuffles keep the dinucleotides of their source
    for split in ("train", "valid", "test"):
        s = t[t["split"] == split]
        n_pos = (s["kind"] == "positive").sum()
        assert abs((s["kind"] == "background").sum() - n_pos) <= 0.05 * n_pos + 2
        assert (s["kind"] == "shuffle").sum() == n_pos
    sh = t[t["kind"] == "shuffle"].iloc[0]
    src = pos[(pos["chrom"] == sh["chrom"]) & (pos["start"] == sh["start"])].iloc[0]
    assert dinucleotide_counts(sh["sequence"]) == dinucleotide_counts(src["sequence"])


def test_dataset_round_trip_and_arrays(multi, tmp_path):
    ds, _ = multi
    path = write_dataset(ds, tmp_path / "d.parquet")
    back = read_dataset(path)
    assert back.tasks == ds.tasks and back.meta["split"]["test"] == ["chr8", "chr9"]
    assert back.meta["width"] == 200 and back.meta["seed"] == 7
    X, y = back.X("test"), back.y("test")
    assert X.shape == (len(back.subset("test").table), 4, 200) and X.dtype == np.uint8
    assert y.shape == (X.shape[0], 2) and y.dtype == np.float32
    assert (X.sum(axis=1) <= 1).all()


def test_same_seed_same_bytes(tmp_path):
    paths = []
    for i, seed in enumerate((5, 5, 6)):
        ds, _ = from_peaks([YEAST_CBF1], YEAST_GENOME, width=100, negatives="both", seed=seed)
        paths.append(write_dataset(ds, tmp_path / f"{i}.parquet"))
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[0].read_bytes() != paths[2].read_bytes()


def test_from_fasta_and_tsv(tmp_path):
    pos = tmp_path / "pos.fa"
    pos.write_text("".join(f">p{i}\n{'ACGTTGCA' * 10}\n" for i in range(20)))
    neg = tmp_path / "neg.fa"
    neg.write_text("".join(f">n{i}\n{'AATTCCGG' * 9}\n" for i in range(20)))
    ds, _ = from_fasta([pos, neg], [1, 0], width=80, shuffle_negatives=1, seed=0)
    assert len(ds.table) == 60 and ds.y().sum() == 20
    assert (ds.table["sequence"].str.len() == 80).all()
    assert ds.table.loc[ds.table["name"] == "n0", "sequence"].iloc[0] == "NNNN" + "AATTCCGG" * 9 + "NNNN"
    tsv = tmp_path / "d.tsv"
    tsv.write_text("id\tsequence\tlabel:A\tlabel:B\tsplit\n"
                   "s1\tACGTACGT\t1\t0\ttrain\ns2\tTTTTAAAA\t0\t1\tdev\ns3\tGGGGCCCC\t0\t0\ttest\n"
                   "s4\tACGTTTGT\t0\t1\ttrain\n")
    ds, _ = from_tsv(tsv)
    assert ds.tasks == ["A", "B"] and list(ds.table["split"]) == ["train", "valid", "test", "train"]
    assert ds.y().tolist() == [[1, 0], [0, 1], [0, 0], [0, 1]]
    assert ds.meta["split"]["scheme"] == "given" and ds.meta["split"]["file"].endswith("d.tsv")


def test_tsv_errors(tmp_path):
    bad = tmp_path / "b.tsv"
    bad.write_text("sequence\tlabel\nACGT\t1\nACGT\tyes\n")
    with pytest.raises(InputError, match=r"b.tsv:3: column 'label': label must be 0 or 1, got 'yes'"):
        from_tsv(bad)
    nos = tmp_path / "n.tsv"
    nos.write_text("dna\tlabel\nACGT\t1\n")
    with pytest.raises(InputError, match="no 'sequence' column"):
        from_tsv(nos)


# ---------------------------------------------------------------- CLI

def run(args):
    return CliRunner().invoke(main, args, catch_exceptions=False)


def test_cli_prepare_prints_summary(tmp_path):
    out = tmp_path / "ds.parquet"
    r = run(["prepare", "--peaks", str(YEAST_REB1), "--genome", str(YEAST_GENOME), "--names", "Reb1",
             "--exclude", str(YEAST_EXCLUDE), "--width", "150", "--out", str(out), "-q"])
    assert r.exit_code == 0, r.output
    assert "counts per split and kind" in r.stdout and "GC content by kind" in r.stdout
    for word in ("train", "valid", "test", "background", "positive", "median_gc"):
        assert word in r.stdout
    ds = read_dataset(out)
    assert ds.width == 150 and ds.tasks == ["Reb1"]


@pytest.mark.parametrize("setup,args,message", [
    ("chr1\t10\t20\nchr1\t30\n", [], "bad.bed:2: expected at least 3"),
    ("chr1\t10\t20\nchrZZ\t30\t40\n", [], "bad.bed:2: chromosome 'chrZZ' is not in the genome"),
    ("chr1\t50\t20\n", [], "bad.bed:1: start >= end"),
    ("chr1\t-1\t20\n", [], "bad.bed:1: negative coordinate"),
    ("chr1\tabc\t20\n", [], "bad.bed:1: start/end must be integers"),
    ("", [], "bad.bed: empty BED file"),
    ("chr1\t1000\t1020\n", ["--width", "0"], "0 is not in the range x>=1"),
    ("chr1\t1000\t1020\n", ["--test-chroms", "chr99"], "['chr99'] are not in the genome"),
])
def test_cli_prepare_bad_input_exit_2_no_output(tmp_path, setup, args, message):
    bed = tmp_path / "bad.bed"
    bed.write_text(setup)
    out = tmp_path / "ds.parquet"
    r = CliRunner().invoke(main, ["prepare", "--peaks", str(bed), "--genome", str(YEAST_GENOME),
                                  "--out", str(out), "-q", *args])
    assert r.exit_code == 2
    assert message in r.stderr and "Traceback" not in r.output
    assert not out.exists() and list(tmp_path.iterdir()) == [bed]


def test_cli_prepare_bad_fasta_and_missing_file(tmp_path):
    fa = tmp_path / "x.fa"
    fa.write_text(">a\nACGT\n>b\nAC!T\n")
    out = tmp_path / "o.parquet"
    r = CliRunner().invoke(main, ["prepare", "--fasta", str(fa), "--out", str(out)])
    assert r.exit_code == 2 and "x.fa:4: record 'b': invalid character '!' at column 3" in r.stderr
    r = CliRunner().invoke(main, ["prepare", "--peaks", str(tmp_path / "nope.bed"), "--genome",
                                  str(YEAST_GENOME), "--out", str(out)])
    assert r.exit_code == 2 and "nope.bed: no such BED file" in r.stderr
    assert not out.exists()


def test_cli_help_has_example():
    r = run(["prepare", "--help"])
    assert r.exit_code == 0 and "Examples:" in r.output and "seqconv prepare --peaks" in r.output
