"""Property-based tests (hypothesis) of every parser and the encoders.

* random bytes, and random text assembled from each format's own fragments, make a parser either
  succeed or raise its documented error type, :class:`~seqconv.errors.InputError` (``ValueError`` for
  the encoders) -- never another exception;
* round trips are exact: FASTA and BED write/read, MEME and JASPAR write/read/write (byte-identical
  second write), one_hot/decode, dataset write/read.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqconv.dataset import Dataset, read_dataset, write_dataset
from seqconv.encode import decode, one_hot
from seqconv.errors import InputError
from seqconv.genome import iter_fasta, read_bed, write_bed, write_fasta
from seqconv.motifs.core import Motif
from seqconv.motifs.io import read_jaspar, read_meme, read_motifs, write_jaspar, write_meme
from seqconv.prepare import from_tsv

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# text assembled from the formats' own pieces finds deeper paths than raw bytes alone
FRAGMENTS = {
    "fasta": [">", ">a", ">a b", "ACGT", "acgtn", "RYKM", "N", "!", " ", ";c", "\n", "\r\n", "\r", ">", "é"],
    "bed": ["chr1", "\t", "0", "10", "-5", "99999999999999999999999", "1_0", "x", ".", "+", "track", "#", "\n",
            " ", "1e3", "\t5\t10\t.\t0\t+\t1\t2\t3\t4"],
    "meme": ["MEME version 4\n", "ALPHABET= ACGT\n", "ALPHABET= ACDE\n", "Background letter frequencies\n",
             "A 0.25 C 0.25 G 0.25 T 0.25\n", "MOTIF m1 name\n", "MOTIF\n",
             "letter-probability matrix: alength= 4 w= 2 nsites= 20 E= 0\n",
             "letter-probability matrix: alength= 4 w= 0\n", "letter-probability matrix: w= x\n",
             "0.25 0.25 0.25 0.25\n", "1 0 0 0\n", "0.5 0.5\n", "nan 0 0 1\n", "-1 2 0 0\n", "1e400 0 0 0\n",
             "URL http://x\n", "\n"],
    "jaspar": [">MA1 X\n", ">\n", "A [ 1 2 ]\n", "C [ 0 1 ]\n", "G [ 3 0 ]\n", "T [ 0 0 ]\n", "A [ 1 ]\n",
               "1 2 3\n", "A [ x ]\n", "T [ -1 1 ]\n", "G [ nan 1 ]\n", "#\n", "\n", "A 1 2\n"],
    "tsv": ["sequence", "label", "label:A", "name", "split", "\t", ",", "\n", "ACGT", "ACG", "1", "0", "2",
            "train", "dev", "bogus", "x", "\"", "", "NNNN", "acgt"],
}


def _text(kind):
    return st.lists(st.sampled_from(FRAGMENTS[kind]), max_size=40).map("".join)


def _inputs(kind):
    return st.one_of(st.binary(max_size=400), _text(kind).map(lambda s: s.encode("utf-8")))


def _write(tmp_path_factory, data: bytes, name: str):
    p = tmp_path_factory.mktemp("prop") / name
    p.write_bytes(data)
    return p


# ---------------------------------------------------------------- parsers: only the documented error

@SETTINGS
@given(data=_inputs("fasta"))
def test_fasta_parser_raises_only_input_error(tmp_path_factory, data):
    p = _write(tmp_path_factory, data, "x.fa")
    try:
        recs = list(iter_fasta(p))
    except InputError:
        return
    assert recs and all(name and seq for name, seq in recs)
    assert len({n for n, _ in recs}) == len(recs)


@SETTINGS
@given(data=_inputs("bed"))
def test_bed_parser_raises_only_input_error(tmp_path_factory, data):
    p = _write(tmp_path_factory, data, "x.bed")
    try:
        df = read_bed(p)
    except InputError:
        return
    assert len(df) and (df["start"] < df["end"]).all() and (df["start"] >= 0).all()


@SETTINGS
@given(data=_inputs("meme"))
def test_meme_parser_raises_only_input_error(tmp_path_factory, data):
    p = _write(tmp_path_factory, data, "x.meme")
    for reader in (read_meme, read_motifs):
        try:
            motifs = reader(p)
        except InputError:
            continue
        for m in motifs:
            assert m.probabilities.shape[1] == 4 and np.allclose(m.probabilities.sum(axis=1), 1, atol=1e-3)


@SETTINGS
@given(data=_inputs("jaspar"))
def test_jaspar_parser_raises_only_input_error(tmp_path_factory, data):
    p = _write(tmp_path_factory, data, "x.jaspar")
    for reader in (read_jaspar, read_motifs):
        try:
            motifs = reader(p)
        except InputError:
            continue
        assert all(np.isfinite(m.probabilities).all() for m in motifs)


@SETTINGS
@given(data=_inputs("tsv"), suffix=st.sampled_from([".tsv", ".csv"]))
def test_tsv_parser_raises_only_input_error(tmp_path_factory, data, suffix):
    p = _write(tmp_path_factory, data, "x" + suffix)
    try:
        ds, _ = from_tsv(p, width=8)
    except InputError:
        return
    assert len(ds.table) and (ds.table["sequence"].str.len() == 8).all()


@SETTINGS
@given(seqs=st.lists(st.one_of(st.text(max_size=30), st.binary(max_size=30)), min_size=1, max_size=5),
       length=st.one_of(st.none(), st.integers(-3, 40)), iupac=st.sampled_from(["uniform", "zero", "error"]))
def test_one_hot_raises_only_value_error(seqs, length, iupac):
    try:
        x = one_hot(seqs, length=length, iupac=iupac)
    except ValueError:
        return
    assert x.shape[0] == len(seqs) and x.shape[1] == 4 and np.isfinite(x).all()


# ---------------------------------------------------------------- round trips

IUPAC_UPPER = "ACGTNRYSWKMBDHV"
DNA = st.text(alphabet=IUPAC_UPPER, min_size=1, max_size=150)
IDS = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=0x2FF, exclude_characters=">"),
              min_size=1, max_size=12).filter(lambda s: not any(c.isspace() for c in s))


@SETTINGS
@given(seqs=st.lists(DNA, min_size=1, max_size=6), same_length=st.booleans())
def test_one_hot_decode_round_trip(seqs, same_length):
    if same_length:
        seqs = [s.ljust(len(seqs[0]), "A")[: len(seqs[0])] for s in seqs]
        assert decode(one_hot(seqs)) == seqs
        assert decode(one_hot([s.lower() for s in seqs])) == seqs
    else:
        for s in seqs:
            assert decode(one_hot(s))[0] == s


@SETTINGS
@given(recs=st.dictionaries(IDS, st.text(alphabet="ACGTNacgtn", min_size=1, max_size=200), min_size=1, max_size=6),
       width=st.integers(1, 80))
def test_fasta_write_read_round_trip(tmp_path_factory, recs, width):
    p = tmp_path_factory.mktemp("fa") / "r.fa"
    write_fasta(recs, p, line_width=width)
    assert dict(iter_fasta(p)) == recs


@SETTINGS
@given(rows=st.lists(st.tuples(st.sampled_from(["chr1", "chrX", "2", "scaffold_7"]), st.integers(0, 10**9),
                               st.integers(1, 10**4), st.text(alphabet="abcXYZ_:0123", min_size=1, max_size=8),
                               st.one_of(st.just(np.nan), st.floats(-1e6, 1e6, allow_nan=False)),
                               st.sampled_from(["+", "-", "."])), min_size=1, max_size=20))
def test_bed_write_read_round_trip(tmp_path_factory, rows):
    df = pd.DataFrame([(c, s, s + w, n, sc, sd) for c, s, w, n, sc, sd in rows],
                      columns=["chrom", "start", "end", "name", "score", "strand"])
    p = tmp_path_factory.mktemp("bed") / "r.bed"
    write_bed(df, p)
    back = read_bed(p)
    pd.testing.assert_frame_equal(back[df.columns.tolist()], df, check_dtype=False)


def _motifs():
    row = st.lists(st.integers(0, 50), min_size=4, max_size=4).filter(lambda r: sum(r) > 0)
    return st.lists(st.lists(row, min_size=1, max_size=12), min_size=1, max_size=4).map(
        lambda mats: [Motif(f"M{i}", np.array(m, dtype=float), kind="counts", name=f"n{i}")
                      for i, m in enumerate(mats)])


@SETTINGS
@given(motifs=_motifs())
def test_meme_and_jaspar_round_trips(tmp_path_factory, motifs):
    d = tmp_path_factory.mktemp("motifs")
    write_meme(motifs, d / "a.meme")
    back = read_meme(d / "a.meme")
    assert [m.id for m in back] == [m.id for m in motifs]
    for a, b in zip(motifs, back):
        np.testing.assert_allclose(b.probabilities, a.probabilities, atol=5e-6)  # 6 decimals, rows kept summing to 1
    write_meme(back, d / "b.meme")
    assert (d / "a.meme").read_bytes() == (d / "b.meme").read_bytes()
    write_jaspar(motifs, d / "a.jaspar")
    jb = read_jaspar(d / "a.jaspar")
    for a, b in zip(motifs, jb):
        np.testing.assert_array_equal(b.counts, a.counts)  # integer counts come back exactly
        assert b.id == a.id and b.name == a.name
    write_jaspar(jb, d / "b.jaspar")
    assert (d / "a.jaspar").read_bytes() == (d / "b.jaspar").read_bytes()


@SETTINGS
@given(n=st.integers(1, 30), width=st.integers(1, 50), tasks=st.lists(st.sampled_from(["A", "B", "C:x"]),
                                                                      min_size=1, max_size=3, unique=True),
       seed=st.integers(0, 2**16))
def test_dataset_write_read_round_trip(tmp_path_factory, n, width, tasks, seed):
    rng = np.random.default_rng(seed)
    table = pd.DataFrame({
        "name": [f"s{i}" for i in range(n)],
        "chrom": rng.choice(["chr1", "", "2"], n),
        "start": rng.integers(-1, 10**6, n).astype(np.int64),
        "end": rng.integers(0, 10**6, n).astype(np.int64),
        "sequence": ["".join(rng.choice(list("ACGTNacgt"), width)) for _ in range(n)],
        "kind": rng.choice(["positive", "background", "shuffle", "input"], n),
        "split": rng.choice(["train", "valid", "test"], n),
        **{f"label:{t}": rng.integers(0, 2, n).astype(np.int8) for t in tasks},
    })
    ds = Dataset(table, {"width": width, "seed": seed, "split": {"scheme": "random"}})
    p = tmp_path_factory.mktemp("ds") / "d.parquet"
    write_dataset(ds, p)
    back = read_dataset(p)
    pd.testing.assert_frame_equal(back.table, table)
    assert back.tasks == tasks and back.meta["width"] == width and back.meta["seed"] == seed


def test_fragment_tables_reach_the_success_paths(tmp_path):
    """The generators can produce valid files (so the properties test parsing, not only rejection)."""
    (tmp_path / "ok.meme").write_text("MEME version 4\nALPHABET= ACGT\nMOTIF m1 name\n"
                                      "letter-probability matrix: alength= 4 w= 2 nsites= 20 E= 0\n"
                                      "0.25 0.25 0.25 0.25\n1 0 0 0\n")
    assert read_meme(tmp_path / "ok.meme")[0].width == 2
    (tmp_path / "ok.jaspar").write_text(">MA1 X\nA [ 1 2 ]\nC [ 0 1 ]\nG [ 3 0 ]\nT [ 0 0 ]\n")
    assert read_jaspar(tmp_path / "ok.jaspar")[0].width == 2
    (tmp_path / "ok.tsv").write_text("sequence\tlabel\nACGT\t1\nACGT\t0\n")
    assert len(from_tsv(tmp_path / "ok.tsv", width=8)[0].table) == 2
    with pytest.raises(InputError):
        read_bed_text = tmp_path / "bad.bed"
        read_bed_text.write_text("chr1\t1_0\t20\n")
        read_bed(read_bed_text)
