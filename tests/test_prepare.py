"""seqconv.prepare and `seqconv prepare` on the bundled real yeast excerpt and GUE tf_4 excerpt."""

import gzip
import re
import shlex
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import DATA, ROOT, YEAST_CBF1, YEAST_EXCLUDE, YEAST_GENOME, YEAST_REB1

from seqconv.cli import main
from seqconv.dataset import read_dataset, write_dataset
from seqconv.encode import dinucleotide_counts
from seqconv.errors import InputError
from seqconv.genome import Genome
from seqconv.prepare import from_fasta, from_peaks, from_split_files, from_tsv, parse_split_fractions


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


# ---------------------------------------------------------------- a benchmark's own splits (issue 13, item 5)

GUE_MINI = DATA / "gue_tf4_mini"


def _csv_rows(path):
    with gzip.open(path, "rt") as fh:
        return [line.split(",") for line in fh.read().splitlines()[1:]]


def test_split_files_keep_each_files_rows_in_its_split():
    files = {s: GUE_MINI / f"{f}.csv.gz" for s, f in (("train", "train"), ("valid", "dev"), ("test", "test"))}
    ds, report = from_split_files(files["train"], files["test"], files["valid"])
    t = ds.table
    for split, path in files.items():
        rows = _csv_rows(path)
        part = t[t["split"] == split]
        assert part["sequence"].tolist() == [r[0] for r in rows]
        assert part["label:bound"].tolist() == [int(r[1]) for r in rows]
        assert part["name"].iloc[0] == f"{split}0"
    assert ds.tasks == ["bound"] and ds.width == 101
    sp = ds.meta["split"]
    assert sp["scheme"] == "files" and sp["counts"] == {"train": 600, "valid": 120, "test": 120}
    assert {k: Path(v).name for k, v in sp["files"].items()} == {
        "train": "train.csv.gz", "valid": "dev.csv.gz", "test": "test.csv.gz"}
    assert any(line.startswith("valid: ") and "dev.csv.gz: 120 sequences" in line for line in report.lines)


def test_split_files_without_valid_carve_a_seeded_fraction_of_train():
    a, _ = from_split_files(GUE_MINI / "train.csv.gz", GUE_MINI / "test.csv.gz", valid_fraction=0.25, seed=3)
    b, _ = from_split_files(GUE_MINI / "train.csv.gz", GUE_MINI / "test.csv.gz", valid_fraction=0.25, seed=3)
    c, _ = from_split_files(GUE_MINI / "train.csv.gz", GUE_MINI / "test.csv.gz", valid_fraction=0.25, seed=4)
    assert a.meta["split"]["counts"] == {"train": 450, "valid": 150, "test": 120}
    assert a.meta["split"]["valid"] == {"from": "train", "fraction": 0.25, "seed": 3, "rows": 150}
    assert a.meta["split"]["files"]["valid"] is None
    valid = set(a.table.loc[a.table["split"] == "valid", "name"])
    assert valid == set(b.table.loc[b.table["split"] == "valid", "name"])
    assert valid != set(c.table.loc[c.table["split"] == "valid", "name"])
    assert all(n.startswith("train") for n in valid)  # drawn from the train file, never from test


def test_split_files_shuffles_stay_in_their_sources_split(tmp_path):
    rows = _csv_rows(GUE_MINI / "train.csv.gz")
    train = tmp_path / "AC.seq"  # DeepBind's layout: FoldID, EventID, seq, Bound; training file positives only
    train.write_text("FoldID\tEventID\tseq\tBound\n" + "".join(
        f"A\tseq_{i:05d}_peak\t{s}\t1\n" for i, (s, lab) in enumerate(rows) if lab == "1"))
    test = tmp_path / "B.seq"
    test.write_text("FoldID\tEventID\tseq\tBound\n" + "".join(
        f"B\tseq_{i:05d}_x\t{s}\t{lab}\n" for i, (s, lab) in enumerate(_csv_rows(GUE_MINI / "test.csv.gz"))))
    with pytest.raises(InputError, match=r"AC.seq: the train split has only label 1 .*--shuffles"):
        from_split_files(train, test)
    ds, report = from_split_files(train, test, shuffles=2, seed=5)
    t = ds.table
    assert any("ignored column(s) 'FoldID'" in line for line in report.lines)
    assert t.loc[t["split"] == "test", "name"].tolist() == [f"seq_{i:05d}_x" for i in range(120)]
    assert (t.loc[t["split"] == "test", "kind"] != "shuffle").all()
    sh = t[t["kind"] == "shuffle"]
    assert len(sh) == 2 * 289 and (sh["label:bound"] == 0).all()
    by_name = t.set_index("name")
    for row in sh.sample(30, random_state=0).itertuples():
        src = by_name.loc[row.name.split(":shuf")[0]]
        assert row.split == src["split"] and dinucleotide_counts(row.sequence) == dinucleotide_counts(src["sequence"])


def test_labelled_fasta_carries_labels_and_split(tmp_path):
    rows = _csv_rows(GUE_MINI / "dev.csv.gz")
    splits = ["train"] * 80 + ["dev"] * 20 + ["test"] * 20
    fa = tmp_path / "l.fa"
    fa.write_text("".join(f">r{i} some words label={lab} split={sp}\n{s[:50]}\n{s[50:]}\n"
                          for i, ((s, lab), sp) in enumerate(zip(rows, splits))))
    ds, _ = from_tsv(fa)
    assert ds.table["name"].tolist() == [f"r{i}" for i in range(120)]
    assert ds.table["sequence"].tolist() == [r[0] for r in rows]
    assert ds.table["split"].tolist() == ["train"] * 80 + ["valid"] * 20 + ["test"] * 20
    assert ds.y()[:, 0].tolist() == [float(r[1]) for r in rows]
    assert ds.meta["split"]["from"] == "split= in the FASTA headers"
    with pytest.raises(InputError, match="l.fa: --valid-fraction applies when no valid split is given"):
        from_tsv(fa, valid_fraction=0.2)
    multi = tmp_path / "m.fa"
    multi.write_text("".join(f">m{i} label:A={lab} label:B={1 - int(lab)}\n{s}\n" for i, (s, lab) in enumerate(rows)))
    ds, _ = from_tsv(multi, split_fractions="0.5,0.25,0.25", seed=2)
    assert ds.tasks == ["A", "B"] and (ds.y().sum(axis=1) == 1).all()
    assert ds.meta["split"]["counts"] == {"train": 60, "valid": 30, "test": 30}


def test_labelled_fasta_as_split_files(tmp_path):
    rows = _csv_rows(GUE_MINI / "test.csv.gz")
    for name, part in (("tr.fa", rows[:40] + rows[60:100]), ("te.fa", rows[40:60] + rows[100:])):
        (tmp_path / name).write_text("".join(f">{name[:2]}{i} label={lab}\n{s}\n" for i, (s, lab) in enumerate(part)))
    ds, _ = from_split_files(tmp_path / "tr.fa", tmp_path / "te.fa", valid_fraction=0.2)
    assert ds.meta["split"]["counts"] == {"train": 64, "valid": 16, "test": 40}
    assert set(ds.table.loc[ds.table["split"] == "test", "name"]) == {f"te{i}" for i in range(40)}


def test_random_split_fractions_exact_and_seeded(tmp_path):
    paths = []
    for i, seed in enumerate((1, 1, 2)):
        ds, _ = from_tsv(GUE_MINI / "train.csv.gz", split_fractions="0.6,0.2,0.2", seed=seed)
        assert ds.meta["split"]["counts"] == {"train": 360, "valid": 120, "test": 120}
        assert ds.meta["split"]["scheme"] == "random" and ds.meta["split"]["fractions"] == [0.6, 0.2, 0.2]
        paths.append(write_dataset(ds, tmp_path / f"{i}.parquet"))
    assert paths[0].read_bytes() == paths[1].read_bytes() != paths[2].read_bytes()


@pytest.mark.parametrize("text,message", [
    ("0.8,0.1,0.2", "must sum to 1"),
    ("0.8,0.2", "three numbers"),
    ("0.8,0.1,x", "three numbers"),
    ("1.2,-0.1,-0.1", "in [0, 1]"),
    ("0.9,0,0.1", "train and valid fractions must be > 0"),
    ("nan,0.5,0.5", "in [0, 1]"),
])
def test_split_fractions_refused(text, message):
    with pytest.raises(InputError, match=re.escape(message)):
        parse_split_fractions(text)
    assert parse_split_fractions("0.7, 0.2, 0.1") == (0.7, 0.2, 0.1)


def _tsv(tmp_path, name, body):
    p = tmp_path / name
    p.write_text(body)
    return p


@pytest.mark.parametrize("files,call,message", [
    ({"tr.tsv": "sequence\tlabel\nACGT\t1\nAAGT\t0\n", "te.tsv": "sequence\tlabel\nACGTA\t1\nAAGTA\t0\n"},
     "files", r"te.tsv:2: sequences are 5 bp, those of \S*tr.tsv 4 bp"),
    ({"tr.tsv": "sequence\tlabel\nACGT\t1\nAAGT\t0\n", "te.tsv": "sequence\tlabel:X\nACGT\t1\nAAGT\t0\n"},
     "files", r"te.tsv: its tasks \['X'\] differ from those of the train file"),
    ({"tr.tsv": "sequence\tlabel\tsplit\nACGT\t1\ttrain\nAAGT\t0\ttest\n", "te.tsv": "sequence\tlabel\nACGT\t1\n"},
     "files", r"tr.tsv:3: split 'test' in a file given as the train file"),
    ({"tr.tsv": "id\tsequence\tlabel\na\tACGT\t1\nb\tAAGT\t0\n", "te.tsv": "id\tsequence\tlabel\nb\tACGT\t1\n"},
     "files", r"te.tsv:2: sequence id 'b' is repeated \(first in \S*tr.tsv line 3\)"),
    ({"tr.tsv": "sequence\tlabel\n", "te.tsv": "sequence\tlabel\nACGT\t1\n"},
     "files", r"tr.tsv: TSV file has a header but no rows"),
    ({"t.tsv": "sequence\tlabel\tsplit\nACGT\t1\ttrain\nAAGT\t0\tholdout\n"}, "tsv",
     r"t.tsv:3: split 'holdout': split must be train, valid or test"),
    ({"t.tsv": "sequence\tlabel\tsplit\nACGT\t1\ttrain\nAAGT\t0\t\n"}, "tsv", r"t.tsv:3: an empty split value"),
    ({"t.tsv": "sequence\tlabel\tsplit\nACGT\t1\ttrain\nAAGT\t0\ttrain\nAAAT\t0\tvalid\n"}, "tsv",
     r"t.tsv: no test rows: its split column gives none \(an empty split\)"),
    ({"t.fa": ">a label=1\nACGT\n>b\nAAGT\n"}, "tsv", r"t.fa:3: record 'b' has no label in its header"),
    ({"t.fa": ">a label=1\nACGT\n>b label=2\nAAGT\n"}, "tsv", r"t.fa:3: record 'b': label must be 0 or 1, got '2'"),
    ({"t.fa": ">a label=1 split=train\nACGT\n>b label=0\nAAGT\n"}, "tsv", r"t.fa:3: record 'b': no split="),
    ({"t.fa": ">a label=1 split=train\nACGT\n>b label=0 split=x\nAAGT\n"}, "tsv", r"t.fa:3: split 'x'"),
    ({"t.fa": ">a label:A=1\nACGT\n>b label:B=0\nAAGT\n"}, "tsv", r"t.fa:3: record 'b' has labels for \['B'\]"),
    ({"t.tsv": "sequence\tlabel\tsplit\nACGT\t1\ttrain\nAAGT\t0\ttest\n"}, "tsv-fractions",
     r"t.tsv: the file has its own split"),
])
def test_split_bad_inputs_name_file_and_line(tmp_path, files, call, message):
    paths = [_tsv(tmp_path, name, body) for name, body in files.items()]
    with pytest.raises(InputError, match=message):
        if call == "files":
            from_split_files(paths[0], paths[1])
        elif call == "tsv":
            from_tsv(paths[0])
        else:
            from_tsv(paths[0], split_fractions="0.8,0.1,0.1")


def test_real_gue_and_deepbind_files_load_directly(shared_data):
    gue = shared_data / "gue_tf" / "mouse_3"
    ds, _ = from_split_files(gue / "train.csv.gz", gue / "test.csv.gz", gue / "dev.csv.gz")
    assert ds.meta["split"]["counts"] == {"train": 1904, "valid": 239, "test": 239} and ds.width == 101
    db = shared_data / "deepbind_encode"
    ds, _ = from_split_files(db / "MYC_H1-hESC_c-Myc_Stanford_AC.seq.gz", db / "MYC_H1-hESC_c-Myc_Stanford_B.seq.gz",
                             shuffles=1, seed=0)
    t = ds.table
    assert ds.meta["split"]["counts"] == {"train": 2 * 3646, "valid": 2 * 405, "test": 1000}
    test = t[t["split"] == "test"]
    assert test["name"].str.endswith("_peak").sum() == 500 == int(test["label:bound"].sum())


def test_cli_split_files_then_train_and_evaluate(tmp_path):
    out = tmp_path / "gue.parquet"
    r = run(["prepare", "--train", str(GUE_MINI / "train.csv.gz"), "--valid", str(GUE_MINI / "dev.csv.gz"),
             "--test", str(GUE_MINI / "test.csv.gz"), "-o", str(out), "-q"])
    assert r.exit_code == 0, r.output
    assert read_dataset(out).meta["split"]["counts"] == {"train": 600, "valid": 120, "test": 120}
    model = tmp_path / "m"
    r = run(["train", "--data", str(out), "--out", str(model), "--arch", "deepbind", "--epochs", "1",
             "--batch-size", "64", "--threads", "1", "-q"])
    assert r.exit_code == 0, r.output
    r = run(["evaluate", "--model", str(model), "--data", str(out), "-q", "--n-boot", "20"])
    assert r.exit_code == 0, r.output
    assert "\nbound\t120\t60\t60\t" in r.stdout


@pytest.mark.parametrize("args,message", [
    (["--valid", "{m}/dev.csv.gz", "--test", "{m}/test.csv.gz"], "--valid/--test need --train"),
    (["--train", "{m}/train.csv.gz"], "--train needs --test"),
    (["--train", "{m}/train.csv.gz", "--test", "{m}/test.csv.gz", "--split-fractions", "0.8,0.1,0.1"],
     "--train/--valid/--test give the split"),
    (["--train", "{m}/train.csv.gz", "--test", "{m}/test.csv.gz", "--valid", "{m}/dev.csv.gz",
      "--valid-fraction", "0.2"], "--valid-fraction applies when no valid split is given"),
    (["--tsv", "{m}/train.csv.gz", "--split-fractions", "0.8,0.1,0.2"], "must sum to 1"),
    (["--tsv", "{m}/train.csv.gz", "--valid-fraction", "0.2"], "for a random split give --split-fractions"),
    (["--tsv", "{m}/train.csv.gz", "--train", "{m}/train.csv.gz", "--test", "{m}/test.csv.gz"],
     "give exactly one input"),
])
def test_cli_split_option_errors_exit_2(tmp_path, args, message):
    out = tmp_path / "o.parquet"
    r = CliRunner().invoke(main, ["prepare", "-q", "--out", str(out), *[a.format(m=GUE_MINI) for a in args]])
    assert r.exit_code == 2 and message in r.stderr and "Traceback" not in r.output
    assert not out.exists()


def _help_examples() -> list[list[str]]:
    text = run(["prepare", "--help"]).output.split("Examples:", 1)[1].split("Options:", 1)[0]
    joined = re.sub(r"\\\n\s*", " ", text)
    return [shlex.split(line.strip()) for line in joined.splitlines() if line.strip().startswith("seqconv prepare")]


def test_help_examples_run_as_written_from_a_clone(tmp_path, monkeypatch):
    examples = _help_examples()
    assert len(examples) >= 5 and any("--train" in e for e in examples)
    assert any("--split-fractions" in e for e in examples)
    monkeypatch.chdir(ROOT)
    for argv in examples:
        i = argv.index("--out")
        target = tmp_path / argv[i + 1]
        argv = argv[2:i + 1] + [str(target)] + argv[i + 2:]
        r = CliRunner().invoke(main, ["prepare", "-q", *argv])
        assert r.exit_code == 0, (argv, r.output)
        assert read_dataset(target).meta["seqconv_version"]


def test_cli_labelled_fasta_from_stdin_and_tsv_shuffles(tmp_path):
    rows = _csv_rows(GUE_MINI / "test.csv.gz")
    fasta = "".join(f">r{i} label={lab} split={'test' if i % 4 == 0 else 'train'}\n{s}\n"
                    for i, (s, lab) in enumerate(rows))
    out = tmp_path / "l.parquet"
    r = CliRunner().invoke(main, ["prepare", "--labelled", "-", "--valid-fraction", "0.25", "-o", str(out), "-q"],
                           input=fasta)
    assert r.exit_code == 0, r.output
    ds = read_dataset(out)
    assert ds.meta["split"]["counts"] == {"train": 68, "valid": 22, "test": 30}
    assert ds.meta["split"]["file"] == "<stdin>" and ds.meta["split"]["valid"]["fraction"] == 0.25
    # --shuffles with a random split: negatives for train and valid positives only, each in its source's split
    tsv = tmp_path / "pos.tsv"
    tsv.write_text("sequence\tlabel\n" + "".join(f"{s}\t{lab}\n" for s, lab in rows))
    ds, _ = from_tsv(tsv, split_fractions="0.5,0.25,0.25", shuffles=1, seed=3)
    t = ds.table
    sh = t[t["kind"] == "shuffle"]
    src = t.set_index("name").loc[[n.split(":shuf")[0] for n in sh["name"]]]
    assert (sh["split"].to_numpy() == src["split"].to_numpy()).all() and "test" not in set(sh["split"])
    assert len(sh) == int(((t["split"] != "test") & (t["kind"] == "positive")).sum())
