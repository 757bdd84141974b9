"""The bad-input catalogue: every command, every class of issue 10, one parametrised case each.

Each case gives the command line, the files it finds in its (fresh) working folder, the expected exit
code and words of the message; every case also checks that no traceback is printed, that the working
folder is byte-for-byte what it was (no output, no hidden temporary file, no input changed) and that
nothing is left in the (per-test) system temporary folder.

Classes (issue 10): 1 data loss, 2 nonsense training data (prepare side), 3 cropping / chromosome ends,
4 environment, 5 streams and encodings, 6 options and arrays, 7 chromosome names, 8 error types.
Training-side class-2 checks (one-class split, too few examples, constant task, --resume with another
dataset) belong to ``train`` and are not in this table.
"""

from __future__ import annotations

import errno
import gzip
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from _resources import EXAMPLE_FA, build, corrupt_gzip, private_tempdir, snapshot, truncated_gzip
from click.testing import CliRunner

from seqconv.cli import main


@pytest.fixture(scope="session")
def res(tmp_path_factory):
    return build(tmp_path_factory.mktemp("catalogue_resources"))


@dataclass(frozen=True)
class Case:
    id: str
    cls: int
    argv: tuple
    code: int = 2
    words: tuple = ()
    files: dict = field(default_factory=dict)   # name -> str | bytes | callable(res) -> str | bytes
    stdin: bytes | None = None
    patch: object = None                        # callable(monkeypatch, work folder)


def C(id, cls, argv, code=2, words=(), files=None, stdin=None, patch=None):
    return Case(id, cls, tuple(argv.split()) if isinstance(argv, str) else tuple(argv), code, tuple(words),
                files or {}, stdin, patch)


FA = "{r}/in.fa"
G = "{G}"
PRED = "predict --model oct4_mafk -q"
SCAN = "scan --motifs {r}/m.meme -q"
PREP = "prepare -q"
TR = "sequence\tlabel\nACGT\t1\nAAGT\t0\n"
PEAK = "chr1\t10000\t10100\tp1\nchr1\t20000\t20100\tp2\nchr3\t30000\t30100\tp3\n"


def _fa(res):
    return Path(res.fasta).read_text()


def _enospc_parquet(mp, w):
    import pyarrow.parquet as pq

    def full(table, where, **kw):
        Path(where).write_bytes(b"PAR1 half")
        raise OSError(errno.ENOSPC, "No space left on device", str(where))

    mp.setattr(pq, "write_table", full)


def _enospc_tsv(mp, w):
    import seqconv.predict as P

    real = P.write_tsv

    def full(chunks, fh, **kw):
        fh.write("id\tTF\n")
        fh.flush()
        raise OSError(errno.ENOSPC, "No space left on device")

    mp.setattr(P, "write_tsv", full)
    assert real is not full


def _mkstemp_fails(code):
    """No temporary file can be created in the output folder (what a read-only or forbidden folder does)."""
    def patch(mp, w):
        import tempfile

        from seqconv import fileio

        def fail(*a, **kw):
            raise OSError(code, os.strerror(code), str(kw.get("dir") or w))

        def fail_new(tmp_dir, *a, **kw):
            raise OSError(code, os.strerror(code), str(tmp_dir or w))

        mp.setattr(tempfile, "mkstemp", fail)
        mp.setattr(fileio, "_new_temp", fail_new)   # the atomic writers' own creation
    return patch


def _unreadable(name):
    def patch(mp, w):
        import builtins

        import seqconv.fileio as F

        def guarded(path, *a, **kw):
            if str(path).endswith(name):
                raise PermissionError(errno.EACCES, "Permission denied", str(path))
            return builtins.open(path, *a, **kw)

        mp.setattr(F, "open", guarded, raising=False)
    return patch


def _internal_bug(exc):
    def patch(mp, w):
        import seqconv.prepare as P

        def boom(*a, **kw):
            raise exc

        mp.setattr(P, "from_tsv", boom)
    return patch


CASES = [
    # ------------------------------------------------ 1. data loss: an output that is an input
    C("predict-out-is-input", 1, f"{PRED} {{w}}/x.fa --out {{w}}/x.fa", words=["x.fa", "is the input file"],
      files={"x.fa": _fa}),
    C("predict-out-hardlink-of-input", 1, f"{PRED} {{w}}/x.fa --out {{w}}/y.fa",
      words=["is the input file", "x.fa"], files={"x.fa": _fa, "y.fa": "hardlink:x.fa"}),
    C("predict-out-symlink-to-input", 1, f"{PRED} {{w}}/x.fa --out {{w}}/l.tsv", words=["is the input file"],
      files={"x.fa": _fa, "l.tsv": "symlink:x.fa"}),
    C("predict-bed-out-is-bed", 1, f"{PRED} --bed {{w}}/p.bed --genome {G} --out {{w}}/p.bed",
      words=["p.bed", "is the input file"], files={"p.bed": PEAK}),
    C("scan-out-is-fasta", 1, f"{SCAN} --fasta {{w}}/x.fa --out {{w}}/x.fa", words=["is the input file"],
      files={"x.fa": _fa}),
    C("scan-out-is-motif-file", 1, f"scan --motifs {{w}}/m.meme --fasta {FA} --out {{w}}/m.meme -q",
      words=["m.meme", "is the input file"], files={"m.meme": lambda r: Path(r.meme).read_text()}),
    C("prepare-out-is-peaks", 1, f"{PREP} --peaks {{w}}/p.bed --genome {G} --out {{w}}/p.bed",
      words=["p.bed", "is the input file"], files={"p.bed": PEAK}),
    C("prepare-out-is-exclude", 1, f"{PREP} --peaks {{w}}/p.bed --exclude {{w}}/x.bed --genome {G} --out {{w}}/x.bed",
      words=["x.bed", "is the input file"], files={"p.bed": PEAK, "x.bed": "chr1\t1\t100\n"}),
    C("prepare-out-is-genome", 1, f"{PREP} --peaks {{w}}/p.bed --genome {{w}}/g.fa --out {{w}}/g.fa",
      words=["g.fa", "is the input file"], files={"p.bed": PEAK, "g.fa": lambda r: Path(r.chr1).read_text()}),
    C("prepare-out-is-tsv", 1, f"{PREP} --tsv {{w}}/t.tsv --out {{w}}/t.tsv", words=["t.tsv", "is the input file"],
      files={"t.tsv": "sequence\tlabel\nACGT\t1\nAAGT\t0\n"}),
    C("prepare-out-is-a-folder", 1, f"{PREP} --tsv {{w}}/t.tsv --out {{w}}/sub", words=["is a folder"],
      files={"t.tsv": "sequence\tlabel\nACGT\t1\nAAGT\t0\n", "sub/keep.txt": "mine"}),
    C("prepare-out-stdout-refused", 1, f"{PREP} --tsv {{w}}/t.tsv --out -", words=["cannot be standard output"],
      files={"t.tsv": "sequence\tlabel\nACGT\t1\nAAGT\t0\n"}),
    C("prepare-out-is-train-file", 1, f"{PREP} --train {{w}}/tr.tsv --test {{w}}/te.tsv --out {{w}}/tr.tsv",
      words=["tr.tsv", "is the input file"], files={"tr.tsv": TR, "te.tsv": TR}),
    # ------------------------------------------------ 2. options that give no negatives (prepare side)
    C("prepare-negatives-none-one-task", 2,
      f"{PREP} --peaks {{w}}/p.bed --genome {G} --negatives none --out {{w}}/o.parquet",
      words=["no negatives", "--negatives none"], files={"p.bed": PEAK}),
    C("prepare-ratio-nan", 2, f"{PREP} --peaks {{w}}/p.bed --genome {G} --ratio nan --out {{w}}/o.parquet",
      words=["--ratio", "'nan' is not allowed", "finite"], files={"p.bed": PEAK}),
    C("prepare-ratio-inf", 2, f"{PREP} --peaks {{w}}/p.bed --genome {G} --ratio inf --out {{w}}/o.parquet",
      words=["--ratio", "'inf' is not allowed"], files={"p.bed": PEAK}),
    C("prepare-ratio-zero", 2, f"{PREP} --peaks {{w}}/p.bed --genome {G} --ratio 0 --out {{w}}/o.parquet",
      words=["--ratio", "> 0"], files={"p.bed": PEAK}),
    C("prepare-ratio-negative", 2, f"{PREP} --peaks {{w}}/p.bed --genome {G} --ratio -1 --out {{w}}/o.parquet",
      words=["--ratio", "> 0"], files={"p.bed": PEAK}),
    C("prepare-tsv-all-positive", 2, f"{PREP} --tsv {{w}}/t.tsv --out {{w}}/o.parquet",
      words=["t.tsv", "task 'bound'", "no negatives", "labelled 1"],
      files={"t.tsv": "sequence\tlabel\n" + "ACGTACGT\t1\n" * 10}),
    C("prepare-tsv-all-negative", 2, f"{PREP} --tsv {{w}}/t.tsv --out {{w}}/o.parquet",
      words=["task 'A'", "no positives"], files={"t.tsv": "sequence\tlabel:A\n" + "ACGTACGT\t0\n" * 10}),
    C("prepare-fasta-only-positives", 2, f"{PREP} --fasta {{w}}/x.fa --out {{w}}/o.parquet",
      words=["no negatives", "--negative-fasta", "--shuffles"], files={"x.fa": _fa}),
    C("prepare-negative-fasta-alone", 2, f"{PREP} --negative-fasta {{w}}/x.fa --out {{w}}/o.parquet",
      words=["give exactly one input"], files={"x.fa": _fa}),
    C("prepare-max-n-frac-2", 2, f"{PREP} --peaks {{w}}/p.bed --genome {G} --max-n-frac 2 --out {{w}}/o.parquet",
      words=["--max-n-frac", "<= 1"], files={"p.bed": PEAK}),
    C("prepare-margin-negative", 2, f"{PREP} --peaks {{w}}/p.bed --genome {G} --margin -5 --out {{w}}/o.parquet",
      words=["--margin", "x>=0"], files={"p.bed": PEAK}),
    C("prepare-shuffles-negative", 2, f"{PREP} --fasta {{w}}/x.fa --shuffles -1 --out {{w}}/o.parquet",
      words=["--shuffles", "x>=0"], files={"x.fa": _fa}),
    C("prepare-split-unknown-value", 2, f"{PREP} --tsv {{w}}/t.tsv --out {{w}}/o.parquet",
      words=["t.tsv:3:", "split 'holdout'", "train, valid or test"],
      files={"t.tsv": "sequence\tlabel\tsplit\nACGT\t1\ttrain\nAAGT\t0\tholdout\n"}),
    C("prepare-split-empty-value", 2, f"{PREP} --tsv {{w}}/t.tsv --out {{w}}/o.parquet",
      words=["t.tsv:2:", "an empty split value"], files={"t.tsv": "sequence\tlabel\tsplit\nACGT\t1\t\n"}),
    C("prepare-split-no-test-rows", 2, f"{PREP} --tsv {{w}}/t.tsv --out {{w}}/o.parquet",
      words=["t.tsv", "no test rows", "empty split"],
      files={"t.tsv": "sequence\tlabel\tsplit\n" + "ACGT\t1\ttrain\nAAGT\t0\ttrain\n" * 5 + "AAAT\t0\tdev\n"}),
    C("prepare-split-file-empty", 2, f"{PREP} --train {{w}}/tr.tsv --test {{w}}/te.tsv --out {{w}}/o.parquet",
      words=["te.tsv", "header but no rows"], files={"tr.tsv": TR, "te.tsv": "sequence\tlabel\n"}),
    C("prepare-split-files-tasks-differ", 2, f"{PREP} --train {{w}}/tr.tsv --test {{w}}/te.tsv --out {{w}}/o.parquet",
      words=["te.tsv", "tasks ['X'] differ", "tr.tsv"],
      files={"tr.tsv": TR, "te.tsv": "sequence\tlabel:X\nACGT\t1\nAAGT\t0\n"}),
    C("prepare-split-column-disagrees-with-file", 2,
      f"{PREP} --train {{w}}/tr.tsv --test {{w}}/te.tsv --out {{w}}/o.parquet",
      words=["tr.tsv:3:", "split 'test' in a file given as the train file"],
      files={"tr.tsv": "sequence\tlabel\tsplit\nACGT\t1\ttrain\nAAGT\t0\ttest\n", "te.tsv": TR}),
    C("prepare-split-train-one-class", 2, f"{PREP} --train {{w}}/tr.tsv --test {{w}}/te.tsv --out {{w}}/o.parquet",
      words=["tr.tsv", "train split has only label 1", "--shuffles"],
      files={"tr.tsv": "sequence\tlabel\n" + "ACGT\t1\n" * 20, "te.tsv": TR}),
    C("prepare-labelled-fasta-no-label", 2, f"{PREP} --tsv {{w}}/l.fa --out {{w}}/o.parquet",
      words=["l.fa:3:", "record 'b' has no label", "label=1 split=test"],
      files={"l.fa": ">a label=1\nACGT\n>b\nAAGT\n"}),
    C("prepare-labelled-fasta-bad-split", 2, f"{PREP} --train {{w}}/l.fa --test {{w}}/te.tsv --out {{w}}/o.parquet",
      words=["l.fa:3:", "split 'final'"], files={"l.fa": ">a label=1 split=train\nACGT\n>b label=0 split=final\nAAGT\n",
                                                "te.tsv": TR}),
    # ------------------------------------------------ 3. cropping and chromosome ends
    C("prepare-tsv-unequal-lengths", 3, f"{PREP} --tsv {{w}}/t.tsv --out {{w}}/o.parquet",
      words=["t.tsv", "3 different lengths", "median", "--width"],
      files={"t.tsv": "sequence\tlabel\nACG\t1\n" + "ACGTACGTAA\t0\n" * 5 + "ACGTACGTAAC\t1\n"}),
    C("prepare-fasta-unequal-lengths", 3,
      f"{PREP} --fasta {{w}}/a.fa --negative-fasta {{w}}/b.fa --out {{w}}/o.parquet",
      words=["different lengths", "min 4", "max 8", "--width"],
      files={"a.fa": ">a\nACGT\n>b\nACGTACGT\n", "b.fa": ">c\nACGTACGT\n"}),
    C("prepare-peak-past-chrom-end", 3, f"{PREP} --peaks {{w}}/p.bed --genome {G} --out {{w}}/o.parquet",
      words=["p.bed:2:", "runs past the end of chr1", "assembly"],
      files={"p.bed": "chr1\t10000\t10100\nchr1\t230100\t230300\n"}),
    C("prepare-peak-beyond-chrom-end", 3,
      f"{PREP} --peaks {{w}}/p.bed --genome {G} --off-end drop --out {{w}}/o.parquet",
      words=["p.bed:1:", "runs past the end"], files={"p.bed": "chr1\t900000\t900100\n"}),
    C("predict-bed-past-chrom-end", 3, f"{PRED} --bed {{w}}/p.bed --genome {G}",
      words=["p.bed:1:", "runs past the chromosome end"], files={"p.bed": "chr1\t230100\t230300\n"}),
    C("scan-bed-past-chrom-end", 3, f"{SCAN} --bed {{w}}/p.bed --genome {G}",
      words=["chr1:230100-230300", "outside chr1", "assembly"], files={"p.bed": "chr1\t230100\t230300\n"}),
    C("prepare-width-zero", 3, f"{PREP} --tsv {{w}}/t.tsv --width 0 --out {{w}}/o.parquet",
      words=["--width", "x>=1"], files={"t.tsv": "sequence\tlabel\nACGT\t1\nAAGT\t0\n"}),
    C("prepare-split-file-other-width", 3, f"{PREP} --train {{w}}/tr.tsv --test {{w}}/te.tsv --out {{w}}/o.parquet",
      words=["te.tsv:2:", "sequences are 5 bp", "tr.tsv 4 bp", "--width"],
      files={"tr.tsv": TR, "te.tsv": "sequence\tlabel\nACGTA\t1\nAAGTA\t0\n"}),
    # ------------------------------------------------ 4. environment
    C("prepare-disk-full", 4, f"{PREP} --tsv {{w}}/t.tsv --out {{w}}/o.parquet", patch=_enospc_parquet,
      words=["o.parquet", "no space left on device"], files={"t.tsv": "sequence\tlabel\nACGT\t1\nAAGT\t0\n"}),
    C("prepare-disk-full-new-folders-removed", 4, f"{PREP} --tsv {{w}}/t.tsv --out {{w}}/a/b/o.parquet",
      patch=_enospc_parquet, words=["no space left on device"],
      files={"t.tsv": "sequence\tlabel\nACGT\t1\nAAGT\t0\n"}),
    C("predict-disk-full", 4, f"{PRED} {FA} --out {{w}}/o.tsv", patch=_enospc_tsv, words=["no space left on device"]),
    C("predict-dev-full", 4, f"{PRED} {FA} --out /dev/full", words=["/dev/full", "no space left on device"]),
    C("scan-dev-full", 4, f"{SCAN} --fasta {FA} --thresh 1e-3 --out /dev/full", words=["no space left on device"]),
    C("prepare-read-only-folder", 4, f"{PREP} --tsv {{w}}/t.tsv --out {{w}}/o.parquet",
      patch=_mkstemp_fails(errno.EROFS), words=["read-only file system", "write to another folder"],
      files={"t.tsv": "sequence\tlabel\nACGT\t1\nAAGT\t0\n"}),
    C("predict-permission-denied-folder", 4, f"{PRED} {FA} --out {{w}}/o.tsv",
      patch=_mkstemp_fails(errno.EACCES), words=["permission denied"]),
    C("predict-out-parent-is-a-file", 4, f"{PRED} {FA} --out {{w}}/f.txt/o.tsv",
      words=["f.txt", "not a folder"], files={"f.txt": "x"}),
    C("predict-input-permission-denied", 4, f"{PRED} {{w}}/x.fa", patch=_unreadable("x.fa"),
      words=["x.fa", "permission denied"], files={"x.fa": _fa}),
    # ------------------------------------------------ 5. streams and encodings
    C("predict-truncated-gzip", 5, f"{PRED} {{w}}/x.fa.gz", words=["x.fa.gz", "truncated gzip"],
      files={"x.fa.gz": lambda r: truncated_gzip(r.fasta)}),
    C("prepare-truncated-gzip-bed", 5, f"{PREP} --peaks {{w}}/p.bed.gz --genome {G} --out {{w}}/o.parquet",
      words=["p.bed.gz", "truncated gzip"], files={"p.bed.gz": lambda r: truncated_gzip(Path(r.dir) / "peaks.bed")}),
    C("prepare-truncated-gzip-genome", 5, f"{PREP} --peaks {{w}}/p.bed --genome {{w}}/g.fa.gz --out {{w}}/o.parquet",
      words=["g.fa.gz", "truncated gzip"], files={"p.bed": PEAK, "g.fa.gz": lambda r: truncated_gzip(r.chr1, 0.3)}),
    C("scan-corrupt-gzip", 5, f"{SCAN} --fasta {{w}}/x.fa.gz", words=["x.fa.gz", "corrupt gzip"],
      files={"x.fa.gz": lambda r: corrupt_gzip(r.fasta)}),
    C("predict-latin1-fasta", 5, f"{PRED} {{w}}/x.fa", words=["x.fa:3:", "not UTF-8", "column 5"],
      files={"x.fa": ">a\nACGT\n>caf\xe9 b\nACGT\n".encode("latin-1")}),
    C("scan-binary-fasta", 5, f"{SCAN} --fasta {{w}}/x.fa", words=["x.fa:1:", "is this a FASTA file?"],
      files={"x.fa": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xff"}),
    C("predict-nul-bytes", 5, f"{PRED} {{w}}/x.fa", words=["x.fa:2:", "NUL byte", "not a text file"],
      files={"x.fa": b">a\nAC\x00GT\n"}),
    C("prepare-binary-bed", 5, f"{PREP} --peaks {{w}}/p.bed --genome {G} --out {{w}}/o.parquet",
      words=["p.bed:1:", "not UTF-8"], files={"p.bed": b"\xff\xfe\x00c\x00h\x00r\x00"}),
    C("prepare-binary-tsv", 5, f"{PREP} --tsv {{w}}/t.tsv --out {{w}}/o.parquet", words=["t.tsv", "not UTF-8"],
      files={"t.tsv": b"sequence\tlabel\nAC\xc3GT\t1\n"}),
    C("scan-binary-motif-file", 5, f"scan --motifs {{w}}/m.meme --fasta {FA} -q", words=["m.meme", "not UTF-8"],
      files={"m.meme": b"MEME version 4\n\xff\xfe\n"}),
    C("predict-parquet-as-fasta", 5, f"{PRED} {{r}}/ds.parquet", words=["ds.parquet:1:", "not UTF-8"]),
    C("evaluate-fasta-as-dataset", 5, f"evaluate --model oct4_mafk --data {FA} -q",
      words=["in.fa", "not a seqconv dataset"]),
    C("predict-empty-stdin", 5, f"{PRED} -", words=["<stdin>", "empty FASTA"], stdin=b""),
    C("predict-stdin-bad-char", 5, f"{PRED} -", words=["<stdin>:2:", "invalid character '!'"],
      stdin=b">a\nAC!T\n"),
    C("scan-stdin-bad-char", 5, f"{SCAN} --fasta -", words=["<stdin>:2:", "invalid character '!'"],
      stdin=b">a\nAC!T\n"),
    C("prepare-stdin-genome-bad-char", 5, f"{PREP} --peaks {{w}}/p.bed --genome - --out {{w}}/o.parquet",
      words=["'chr1' is not in the genome <stdin>"], stdin=b">chr2\nACGTACGT\n", files={"p.bed": PEAK}),
    C("prepare-stdin-bed-bad-line", 5, f"{PREP} --peaks - --genome {G} --out {{w}}/o.parquet",
      words=["<stdin>:2:", "expected at least 3"], stdin=b"chr1\t100\t200\nchr1\t5\n"),
    C("predict-folder-as-fasta", 5, f"{PRED} {{w}}/d", words=["is a folder"], files={"d/x": "x"}),
    C("scan-missing-fasta", 5, f"{SCAN} --fasta {{w}}/nope.fa", words=["nope.fa", "no such"]),
    C("prepare-missing-genome", 5, f"{PREP} --peaks {{w}}/p.bed --genome {{w}}/nope.fa --out {{w}}/o.parquet",
      words=["nope.fa", "no such genome"], files={"p.bed": PEAK}),
    # ------------------------------------------------ 6. options, arrays, duplicates, damaged models
    C("predict-threads-zero", 6, f"{PRED} {FA} --threads 0", words=["--threads", "x>=1"]),
    C("predict-threads-negative", 6, f"{PRED} {FA} --threads -2", words=["--threads", "x>=1"]),
    C("predict-batch-size-zero", 6, f"{PRED} {FA} --batch-size 0", words=["--batch-size", "x>=1"]),
    C("predict-stride-zero", 6, f"{PRED} {FA} --tile --stride 0", words=["--stride", "x>=1"]),
    C("predict-unknown-device", 6, f"{PRED} {FA} --device gpu0", words=["--device", "not a device", "cpu, cuda"]),
    C("predict-cuda-index-out-of-range", 6, f"{PRED} {FA} --device cuda:99", words=["--device", "cuda:99"]),
    C("scan-threads-zero", 6, f"{SCAN} --fasta {FA} --threads 0", words=["--threads", "x>=1"]),
    C("scan-thresh-above-one", 6, f"{SCAN} --fasta {FA} --thresh 2", words=["threshold must be in (0, 1]", "2.0"]),
    C("scan-thresh-nan", 6, f"{SCAN} --fasta {FA} --thresh nan", words=["threshold must be in (0, 1]", "nan"]),
    C("scan-pseudocount-negative", 6, f"{SCAN} --fasta {FA} --pseudocount -1", words=["--pseudocount", ">= 0"]),
    C("scan-unknown-device", 6, f"{SCAN} --fasta {FA} --device tpu", words=["--device", "not a device"]),
    C("train-batch-size-zero", 6, "train --data {r}/ds.parquet --out {w}/m --batch-size 0 -q",
      words=["--batch-size", "x>=1"]),
    C("train-epochs-zero", 6, "train --data {r}/ds.parquet --out {w}/m --epochs 0 -q", words=["--epochs", "x>=1"]),
    C("train-lr-nan", 6, "train --data {r}/ds.parquet --out {w}/m --lr nan -q", words=["--lr", "finite"]),
    C("train-arch-option-negative", 6, "train --data {r}/ds.parquet --out {w}/m --arch-option filters=-3 -q",
      words=["--arch-option", "filters must be >= 1"]),
    C("train-arch-option-dropout", 6, "train --data {r}/ds.parquet --out {w}/m --arch-option dropout=1.5 -q",
      words=["--arch-option", "dropout", "[0, 1)"]),
    C("train-arch-option-no-equals", 6, "train --data {r}/ds.parquet --out {w}/m --arch-option filters -q",
      words=["--arch-option", "KEY=VALUE"]),
    C("train-arch-option-unknown-key", 6, "train --data {r}/ds.parquet --out {w}/m --arch-option nope=1 -q",
      words=["no option", "nope"]),
    C("describe-length-zero", 6, "describe basset --length 0", words=["--length", "x>=1"]),
    C("describe-length-too-short", 6, "describe basset --length 5", words=["invalid model configuration"]),
    C("evaluate-n-boot-negative", 6, "evaluate --model oct4_mafk --data {r}/ds.parquet --n-boot -1 -q",
      words=["--n-boot", "x>=0"]),
    C("evaluate-unknown-device", 6, "evaluate --model oct4_mafk --data {r}/ds.parquet --device cuda0 -q",
      words=["--device", "not a device"]),
    C("motifs-threshold-above-one", 6, f"motifs --model oct4_mafk --data {FA} --out {{w}}/mo --threshold 1.5 -q",
      words=["--threshold", "< 1"]),
    C("motifs-top-zero", 6, f"motifs --model oct4_mafk --data {FA} --out {{w}}/mo --top 0 -q", words=["--top", "x>=1"]),
    C("prepare-split-fractions-not-one", 6,
      f"{PREP} --tsv {{w}}/t.tsv --split-fractions 0.8,0.1,0.2 --out {{w}}/o.parquet",
      words=["--split-fractions", "must sum to 1", "1.1"], files={"t.tsv": TR}),
    C("prepare-split-fractions-two-numbers", 6,
      f"{PREP} --tsv {{w}}/t.tsv --split-fractions 0.8,0.2 --out {{w}}/o.parquet",
      words=["--split-fractions", "three numbers"], files={"t.tsv": TR}),
    C("prepare-split-fractions-with-peaks", 6,
      f"{PREP} --peaks {{w}}/p.bed --genome {G} --split-fractions 0.8,0.1,0.1 --out {{w}}/o.parquet",
      words=["--split-fractions", "--peaks hold out chromosomes"], files={"p.bed": PEAK}),
    C("prepare-split-fractions-with-split-column", 6,
      f"{PREP} --tsv {{w}}/t.tsv --split-fractions 0.8,0.1,0.1 --out {{w}}/o.parquet",
      words=["t.tsv", "has its own split"], files={"t.tsv": "sequence\tlabel\tsplit\nACGT\t1\ttrain\n"}),
    C("prepare-test-without-train", 6, f"{PREP} --test {{w}}/te.tsv --out {{w}}/o.parquet",
      words=["--valid/--test need --train"], files={"te.tsv": TR}),
    C("prepare-train-without-test", 6, f"{PREP} --train {{w}}/tr.tsv --out {{w}}/o.parquet",
      words=["--train needs --test"], files={"tr.tsv": TR}),
    C("predict-duplicate-ids", 6, f"{PRED} --pad {{w}}/x.fa", words=["x.fa:5:", "'a' is repeated", "line 1"],
      files={"x.fa": ">a\nACGT\n>b\nACGT\n>a\nACGT\n"}),
    C("scan-duplicate-ids", 6, f"{SCAN} --fasta {{w}}/x.fa", words=["'a' is repeated"],
      files={"x.fa": ">a\nACGT\n>b\nACGT\n>a\nACGT\n"}),
    C("prepare-duplicate-ids", 6, f"{PREP} --fasta {{w}}/x.fa --negative-fasta {{w}}/y.fa --out {{w}}/o.parquet",
      words=["x.fa:5:", "'a' is repeated"], files={"x.fa": ">a\nACGT\n>b\nACGT\n>a\nACGT\n", "y.fa": ">n\nACGT\n"}),
    C("prepare-split-files-same-id", 6, f"{PREP} --train {{w}}/tr.tsv --test {{w}}/te.tsv --out {{w}}/o.parquet",
      words=["te.tsv:2:", "'b' is repeated", "first in", "tr.tsv line 3"],
      files={"tr.tsv": "id\tsequence\tlabel\na\tACGT\t1\nb\tAAGT\t0\n",
             "te.tsv": "id\tsequence\tlabel\nb\tACGT\t1\nc\tAAGT\t0\n"}),
    C("motifs-duplicate-ids", 6, "motifs --model oct4_mafk --data {w}/x.fa --out {w}/mo -q", words=["'a' is repeated"],
      files={"x.fa": ">a\nACGT\n>b\nACGT\n>a\nACGT\n"}),
    C("predict-nan-weights", 6, f"predict --model {{r}}/nan_model {FA} -q", words=["NaN or inf", "unusable"]),
    C("describe-nan-weights", 6, "describe {r}/nan_model", words=["model.safetensors", "NaN"]),
    # ------------------------------------------------ 7. chromosome names
    C("prepare-chr-vs-bare", 7, f"{PREP} --peaks {{w}}/p.bed --genome {{r}}/nochr.fa --out {{w}}/o.parquet",
      words=["p.bed:1:", "the intervals use 'chr1', the genome has '1'", "--chrom-alias"],
      files={"p.bed": "chr1\t10000\t10100\n"}),
    C("prepare-bare-vs-chr", 7, f"{PREP} --peaks {{w}}/p.bed --genome {{r}}/chr1.fa --out {{w}}/o.parquet",
      words=["the intervals use '1', the genome has 'chr1'"], files={"p.bed": "1\t10000\t10100\n"}),
    C("prepare-chrM-vs-MT", 7, f"{PREP} --peaks {{w}}/p.bed --genome {{r}}/nochr.fa --out {{w}}/o.parquet",
      words=["'chrM', the genome has 'MT'"], files={"p.bed": "chrM\t100\t200\n"}),
    C("predict-bed-chr-vs-bare", 7, f"{PRED} --bed {{w}}/p.bed --genome {{r}}/nochr.fa",
      words=["p.bed:1:", "the intervals use 'chr1', the genome has '1'"], files={"p.bed": "chr1\t10000\t10100\n"}),
    C("predict-region-chr-vs-bare", 7, f"{PRED} --genome {{r}}/nochr.fa --region chr1:1-1000",
      words=["'chr1' is not in the genome", "the intervals use 'chr1', the genome has '1'"]),
    C("scan-bed-chr-vs-bare", 7, f"{SCAN} --bed {{w}}/p.bed --genome {{r}}/nochr.fa",
      words=["the intervals use 'chr1', the genome has '1'"], files={"p.bed": "chr1\t10000\t10100\n"}),
    C("prepare-alias-to-missing-chrom", 7,
      f"{PREP} --peaks {{w}}/p.bed --genome {{r}}/nochr.fa --chrom-alias chr1=chr99 --out {{w}}/o.parquet",
      words=["--chrom-alias", "'chr99'", "not in the genome"], files={"p.bed": "chr1\t10000\t10100\n"}),
    C("prepare-alias-file-missing", 7,
      f"{PREP} --peaks {{w}}/p.bed --genome {{r}}/nochr.fa --chrom-alias {{w}}/nope.txt --out {{w}}/o.parquet",
      words=["nope.txt", "no such chromosome alias file"], files={"p.bed": "chr1\t10000\t10100\n"}),
    C("prepare-alias-without-peaks", 7, f"{PREP} --tsv {{w}}/t.tsv --chrom-alias auto --out {{w}}/o.parquet",
      words=["--chrom-alias applies to --peaks"], files={"t.tsv": "sequence\tlabel\nACGT\t1\nAAGT\t0\n"}),
    # ------------------------------------------------ 8. error types: a bug is exit 1, not a user mistake
    C("internal-valueerror-is-exit-1", 8, f"{PREP} --tsv {{w}}/t.tsv --out {{w}}/o.parquet", code=1,
      patch=_internal_bug(ValueError("an invariant broke")),
      words=["internal error", "ValueError: an invariant broke", "please report", "--debug"],
      files={"t.tsv": "sequence\tlabel\nACGT\t1\nAAGT\t0\n"}),
    C("internal-keyerror-is-exit-1", 8, f"{PREP} --tsv {{w}}/t.tsv --out {{w}}/o.parquet", code=1,
      patch=_internal_bug(KeyError("x")), words=["internal error", "KeyError", "please report"],
      files={"t.tsv": "sequence\tlabel\nACGT\t1\nAAGT\t0\n"}),
]


def _materialise(case: Case, res, w: Path) -> None:
    for name, content in case.files.items():
        p = w / name
        p.parent.mkdir(parents=True, exist_ok=True)
        if callable(content):
            content = content(res)
        if isinstance(content, str) and content.startswith(("hardlink:", "symlink:")):
            kind, target = content.split(":", 1)
            (os.link if kind == "hardlink" else os.symlink)(w / target, p)
        elif isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content)


def test_catalogue_size_and_coverage():
    assert len(CASES) >= 60 and len({c.id for c in CASES}) == len(CASES)
    assert {c.cls for c in CASES} == set(range(1, 9))
    commands = {c.argv[0] for c in CASES}
    assert {"prepare", "predict", "scan", "train", "evaluate", "describe", "motifs"} <= commands


#: cases whose run takes seconds (the scan ones compile numba kernels in-process): ``-m slow`` only
SLOW_CASES = {"scan-out-is-motif-file", "scan-bed-past-chrom-end", "scan-dev-full"}


@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.slow) if c.id in SLOW_CASES else c
                                  for c in CASES], ids=[c.id for c in CASES])
def test_bad_input(case, res, tmp_path, monkeypatch):
    w = tmp_path / "w"
    w.mkdir()
    _materialise(case, res, w)
    before = snapshot(w)
    systmp = private_tempdir(monkeypatch, tmp_path / "systmp")
    resources = snapshot(Path(res.dir))
    argv = [a.format(w=w, r=res.dir, G=res.genome_gz) for a in case.argv]
    if case.patch is not None:
        case.patch(monkeypatch, w)
    r = CliRunner().invoke(main, argv, input=case.stdin, catch_exceptions=False)
    monkeypatch.undo()
    text = r.stderr + r.stdout
    assert r.exit_code == case.code, text
    for word in case.words:
        assert word in text, f"{word!r} not in {text!r}"
    assert "Traceback" not in text
    assert snapshot(w) == before, "the working folder changed (an output or a temporary file was left)"
    assert list(systmp.iterdir()) == [], "a temporary file or folder was left behind"
    after = snapshot(Path(res.dir))
    assert {k: v for k, v in after.items() if not k.endswith(".fai")} == \
        {k: v for k, v in resources.items() if not k.endswith(".fai")}


def test_internal_error_traceback_only_under_debug(res, tmp_path, monkeypatch):
    t = tmp_path / "t.tsv"
    t.write_text("sequence\tlabel\nACGT\t1\nAAGT\t0\n")
    _internal_bug(RuntimeError("kaboom"))(monkeypatch, tmp_path)
    r = CliRunner().invoke(main, ["--debug", "prepare", "-q", "--tsv", str(t), "--out", str(tmp_path / "o.parquet")])
    assert r.exit_code == 1 and "Traceback" in r.stderr and "kaboom" in r.stderr
    assert not (tmp_path / "o.parquet").exists()


def test_gzip_resources_are_really_broken(res):
    """The broken gzip inputs fail in the standard library too (the catalogue is not testing a fake)."""
    with pytest.raises(EOFError):
        gzip.decompress(truncated_gzip(EXAMPLE_FA))
    with pytest.raises(gzip.BadGzipFile):
        gzip.decompress(corrupt_gzip(EXAMPLE_FA))
