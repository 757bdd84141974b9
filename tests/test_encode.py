"""seqconv.encode: one-hot, decode, reverse complement, GC content and dinucleotide shuffles.

one_hot is checked against a plain per-character reference (written here, from the IUPAC table in
the issue) on hypothesis-generated sequences, also with a tiny block size so that block edges,
multi-block batches and error positions in later blocks are exercised.
"""

from collections import Counter

import numpy as np
import pytest
import torch
from Bio.Seq import Seq
from Bio.SeqRecord import SeqRecord
from hypothesis import given, settings
from hypothesis import strategies as st

import seqconv.encode as enc
from seqconv.encode import (
    decode,
    dinucleotide_counts,
    dinucleotide_shuffle,
    gc_content,
    one_hot,
    reverse_complement,
)

# IUPAC code -> bases, written out independently of seqconv.encode.IUPAC
BASES = {
    "A": "A", "C": "C", "G": "G", "T": "T", "R": "AG", "Y": "CT", "S": "CG", "W": "AT",
    "K": "GT", "M": "AC", "B": "CGT", "D": "AGT", "H": "ACT", "V": "ACG", "N": "ACGT",
}
COMPLEMENT = {"A": "T", "C": "G", "G": "C", "T": "A", "R": "Y", "Y": "R", "S": "S", "W": "W",
              "K": "M", "M": "K", "B": "V", "V": "B", "D": "H", "H": "D", "N": "N"}
LETTERS = "".join(BASES) + "".join(BASES).lower()


def reference(seqs, n_value=0.0, iupac="uniform"):
    """Per-character one-hot, (N, 4, L) float64."""
    out = np.zeros((len(seqs), 4, len(seqs[0])))
    for i, s in enumerate(seqs):
        for j, ch in enumerate(s.upper()):
            bases = BASES[ch]
            if ch == "N":
                weight = n_value
            elif len(bases) == 1:
                weight = 1.0
            else:
                weight = 1.0 / len(bases) if iupac == "uniform" else 0.0
            for b in bases:
                out[i, "ACGT".index(b), j] = weight
    return out


@pytest.fixture(params=[None, 7], ids=["default_block", "block7"])
def block(request, monkeypatch):
    """Run with the real block size, and with a 7-base block (many block edges on small data)."""
    if request.param is not None:
        monkeypatch.setattr(enc, "_BLOCK", request.param)
    return request.param


# ---------------------------------------------------------------- one_hot: values and shapes

def test_shape_order_and_single_sequence():
    x = one_hot("ACGT")
    assert x.shape == (1, 4, 4) and x.dtype == np.float32
    np.testing.assert_array_equal(x[0], np.eye(4, dtype=np.float32))
    x = one_hot(["AAC", "GTT"], dtype="uint8")
    assert x.shape == (2, 4, 3)
    np.testing.assert_array_equal(x[1], [[0, 0, 0], [0, 0, 0], [1, 0, 0], [0, 1, 1]])
    assert x.flags.c_contiguous


def test_input_types_encode_alike():
    want = one_hot("ACGTN")
    for seqs in (b"ACGTN", bytearray(b"ACGTN"), Seq("ACGTN"), SeqRecord(Seq("ACGTN"), id="r"),
                 ["ACGTN"], [b"ACGTN"], np.array(["ACGTN"]), ("ACGTN",), iter(["ACGTN"])):
        np.testing.assert_array_equal(one_hot(seqs), want)
    mixed = one_hot(["ACGTN", b"acgtn", Seq("AcGtN"), SeqRecord(Seq("ACGTN"), id="x")])
    np.testing.assert_array_equal(mixed, np.repeat(want, 4, axis=0))


def test_lowercase_encodes_like_uppercase(block):
    s = "ACGTRYSWKMBDHVN" * 3
    for dtype in ("float32", "uint8"):
        kw = {} if dtype == "float32" else {"iupac": "zero"}
        np.testing.assert_array_equal(one_hot(s.lower(), dtype=dtype, **kw),
                                      one_hot(s, dtype=dtype, **kw))


def test_n_both_options():
    x = one_hot("ANn")
    np.testing.assert_array_equal(x[0, :, 1:], 0)
    x = one_hot("ANn", n_value=0.25)
    np.testing.assert_array_equal(x[0, :, 1:], 0.25)
    np.testing.assert_array_equal(x[0, :, 0], [1, 0, 0, 0])
    with pytest.raises(ValueError, match="n_value"):
        one_hot("AN", n_value=0.5)
    with pytest.raises(ValueError, match="cannot be represented"):
        one_hot("AN", n_value=0.25, dtype="uint8")


def test_iupac_uniform_zero_error():
    x = one_hot("RYSWKMBDHV")[0]
    np.testing.assert_allclose(x.sum(axis=0), 1.0, rtol=1e-6)
    np.testing.assert_allclose(x[:, 0], [0.5, 0, 0.5, 0])  # R = A/G
    np.testing.assert_allclose(x[:, 6], [0, 1 / 3, 1 / 3, 1 / 3], rtol=1e-6)  # B = C/G/T
    np.testing.assert_array_equal(one_hot("RYSWKMBDHV", iupac="zero"), 0)
    with pytest.raises(ValueError, match=r"sequence 0: invalid character 'K' at position 2"):
        one_hot("ACKT", iupac="error")
    with pytest.raises(ValueError, match="iupac must be"):
        one_hot("ACGT", iupac="bogus")


@pytest.mark.parametrize("dtype", ["uint8", "int8", "bool", "float16", "float64", np.uint8,
                                   torch.float32, torch.int8])
def test_dtypes(dtype):
    s = ["ACGTN", "tgcan"]
    x = one_hot(s, dtype=dtype)
    want = enc._resolve_dtype(dtype)
    assert x.dtype == want
    np.testing.assert_array_equal(x.astype(np.float64), reference(s))


def test_integer_dtypes_reject_fractional_codes_only():
    np.testing.assert_array_equal(one_hot("ARN", dtype="uint8", iupac="zero")[0, :, 1:], 0)
    msg = r"sequence 1: ambiguity code that dtype uint8 cannot hold .* 'r' at position 3"
    with pytest.raises(ValueError, match=msg):
        one_hot(["ACGTA", "ACGrA"], dtype="uint8")
    with pytest.raises(ValueError, match="dtype must be one of"):
        one_hot("ACGT", dtype="complex")


# hypothesis: arbitrary mixtures of the 30 letters, any option, against the reference
seqs_strategy = st.integers(1, 40).flatmap(
    lambda n: st.lists(st.text(alphabet=LETTERS, min_size=n, max_size=n), min_size=1, max_size=6)
)


@settings(max_examples=150, deadline=None)
@given(seqs=seqs_strategy, n_value=st.sampled_from([0.0, 0.25]),
       iupac=st.sampled_from(["uniform", "zero"]), block=st.sampled_from([3, 7, 64, 1 << 16]))
def test_one_hot_matches_reference(seqs, n_value, iupac, block):
    old = enc._BLOCK
    enc._BLOCK = block
    try:
        x = one_hot(seqs, n_value=n_value, iupac=iupac, dtype="float64")
    finally:
        enc._BLOCK = old
    np.testing.assert_allclose(x, reference(seqs, n_value, iupac))


def test_long_sequence_and_large_batch_match_reference():
    rng = np.random.default_rng(1)
    letters = np.frombuffer(LETTERS.encode(), dtype=np.uint8)
    # mostly A/C/G/T with a sprinkle of everything else, longer than one block
    codes = np.frombuffer(b"ACGTacgt", dtype=np.uint8)[rng.integers(0, 8, 150_001)]
    spots = rng.choice(codes.size, 300, replace=False)
    codes[spots] = letters[rng.integers(0, letters.size, spots.size)]
    s = codes.tobytes().decode()
    x = one_hot(s)
    # per-letter reference on the distinct letters, gathered with numpy
    table = {ch: reference([ch])[0, :, 0] for ch in set(s)}
    want = np.stack([table[ch] for ch in s], axis=1)
    np.testing.assert_allclose(x[0], want, rtol=1e-6)
    pieces = [s[i:i + 150] for i in range(0, 150_000, 150)]  # 1,000 rows, many row blocks
    np.testing.assert_array_equal(one_hot(pieces), x[0, :, :150_000].reshape(4, 1000, 150).transpose(1, 0, 2))
    np.testing.assert_array_equal(one_hot(pieces, dtype="uint8", iupac="zero"),
                                  one_hot(pieces, iupac="zero").astype(np.uint8))


@settings(max_examples=150, deadline=None)
@given(seqs=st.integers(1, 70).flatmap(
           lambda n: st.lists(st.text(alphabet=LETTERS, min_size=n, max_size=n), min_size=1, max_size=4)),
       dtype=st.sampled_from(["uint8", "int8", "bool"]), block=st.sampled_from([3, 8, 64, 1 << 16]))
def test_one_byte_dtypes_match_reference(seqs, dtype, block):
    """The 1-byte path (8 bases per word on one row, a byte loop on the rest) equals the reference."""
    old = enc._BLOCK
    enc._BLOCK = block
    try:
        x = one_hot(seqs, dtype=dtype, iupac="zero")
    finally:
        enc._BLOCK = old
    assert x.dtype == np.dtype(dtype) and x.flags.c_contiguous
    np.testing.assert_array_equal(x.astype(np.float64), reference(seqs, 0.0, "zero"))


@pytest.mark.parametrize("dtype", ["uint8", "float32"])
def test_every_byte_value_is_accepted_or_refused_exactly(dtype, block):
    """Each of the 256 byte values, at each place of an 8-base word: only IUPAC letters encode."""
    base = b"ACGTacgtTGCAtgca"
    for value in range(256):
        for place in (0, 5, 7, 8, 15):
            raw = base[:place] + bytes([value]) + base[place + 1:]
            ch = chr(value)
            if ch.upper() in BASES and ch.isascii() and ch.isalpha():
                x = one_hot([raw], dtype=dtype, iupac="zero")
                np.testing.assert_array_equal(x, reference([raw.decode()], 0.0, "zero"))
            else:
                with pytest.raises(ValueError, match=f"at position {place}$"):
                    one_hot([raw], dtype=dtype, iupac="zero")


# ---------------------------------------------------------------- one_hot: errors

def test_invalid_character_names_sequence_position_character(block):
    with pytest.raises(ValueError, match=r"^sequence 2: invalid character 'X' at position 5$"):
        one_hot(["ACGTAC", "ACGTAC", "ACGTAX"])
    with pytest.raises(ValueError, match=r"sequence 0: invalid character '-' at position 1"):
        one_hot("A-CGT")
    with pytest.raises(ValueError, match=r"invalid character 'u' at position 0"):
        one_hot("uACG")
    # the first bad character in sequence order is the one named
    with pytest.raises(ValueError, match=r"sequence 1: invalid character '\*' at position 2"):
        one_hot(["ACGTACGT", "AC*TACG?", "ZZZZZZZZ"])


def test_invalid_character_in_later_block(block):
    s = "ACGT" * 40_000 + "acgtZ" + "ACGT"
    with pytest.raises(ValueError, match=r"sequence 0: invalid character 'Z' at position 160004"):
        one_hot(s)
    with pytest.raises(ValueError, match=r"sequence 6: invalid character '!' at position 3"):
        one_hot(["ACGTA"] * 6 + ["ACG!A"] + ["ACGTA"] * 50)


def test_error_names_record_id_and_labels():
    recs = [SeqRecord(Seq("ACGT"), id="chr1:0-4"), SeqRecord(Seq("AQGT"), id="peak_7")]
    with pytest.raises(ValueError, match=r"sequence 1 \(peak_7\): invalid character 'Q' at position 1"):
        one_hot(recs)
    with pytest.raises(ValueError, match=r"sequence 'second': invalid character 'Q' at position 1"):
        one_hot(["ACGT", "AQGT"], labels=["first", "second"])


def test_non_ascii_and_non_ascii_bytes(block):
    with pytest.raises(ValueError, match=r"sequence 1: non-ASCII character 'é' at position 2"):
        one_hot(["ACGT", "ACéT"])
    with pytest.raises(ValueError, match=r"sequence 'x': non-ASCII character 'é' at position 3"):
        one_hot(["ACGT", "ACGé"], labels=["w", "x"])
    with pytest.raises(ValueError, match=r"sequence 1: non-ASCII character 'é' at position 3"):
        one_hot([b"ACGT", "ACGé"])  # mixed types take the per-sequence path
    with pytest.raises(ValueError, match=r"sequence 0: invalid character 'ÿ' at position 1"):
        one_hot([b"A\xffGT"])


def test_unequal_lengths_and_empty():
    with pytest.raises(ValueError, match=r"sequence 0 has 4 bp, sequence 2 has 3 bp.*length="):
        one_hot(["ACGT", "ACGT", "ACG"])
    with pytest.raises(ValueError, match="no sequences"):
        one_hot([])
    with pytest.raises(ValueError, match="empty"):
        one_hot("")
    with pytest.raises(ValueError, match="length must be > 0"):
        one_hot("ACGT", length=0)


# ---------------------------------------------------------------- one_hot: length

def test_length_centre_crop_and_pad(block):
    x = one_hot(["AACCGGTT", "CG", "ACGTA"], length=4)
    assert decode(x) == ["CCGG", "NCGN", "ACGT"]  # crop from (8-4)//2, pad left (4-2)//2
    x = one_hot(["ACG"], length=6)
    assert decode(x) == ["NACGNN"]
    x = one_hot(["ACGT", "ACGT"], length=4, n_value=0.25)
    np.testing.assert_array_equal(x, one_hot(["ACGT", "ACGT"]))
    # padding N follows n_value
    np.testing.assert_array_equal(one_hot("A", length=3, n_value=0.25)[0, :, 0], 0.25)


def test_length_error_positions_are_in_the_given_sequence(block):
    # 'Z' is at 6 in the caller's string: cropped (start 2) or padded (left 3) it moves, the message must not
    with pytest.raises(ValueError, match=r"sequence 1: invalid character 'Z' at position 6"):
        one_hot(["ACGT", "ACGTACZTAC"], length=6)
    with pytest.raises(ValueError, match=r"sequence 0: invalid character 'Z' at position 6"):
        one_hot(["ACGTACZ"], length=13)
    with pytest.raises(ValueError, match=r"sequence 0: non-ASCII character 'é' at position 6"):
        one_hot(["ACGTACé"], length=13)
    one_hot(["ZACGTACGTZ"], length=4)  # bad characters cropped away are not encoded


# ---------------------------------------------------------------- decode

def test_decode_round_trip_with_iupac_and_n():
    s = ["ACGTRYSWKMBDHVN", "acgtrysWKMBDHVn"]
    assert decode(one_hot(s)) == [x.upper() for x in s]
    assert decode(one_hot(s, n_value=0.25)) == [x.upper() for x in s]
    assert decode(one_hot(s, iupac="zero")) == ["ACGTNNNNNNNNNNN"] * 2
    assert decode(torch.from_numpy(one_hot(s))) == [x.upper() for x in s]
    assert decode(one_hot("ACGT")[0]) == ["ACGT"]  # (4, L)
    with pytest.raises(ValueError, match="expected one-hot"):
        decode(np.zeros((2, 3, 5)))


# ---------------------------------------------------------------- reverse complement

def test_reverse_complement_strings():
    assert reverse_complement("AACGTN") == "NACGTT"
    assert reverse_complement("acgRYk") == "mRYcgt"
    assert reverse_complement(b"AAC") == b"GTT"
    assert reverse_complement(["AC", "GG"]) == ["GT", "CC"]
    assert reverse_complement(Seq("AAC")) == "GTT"
    with pytest.raises(ValueError, match="expected one-hot"):
        reverse_complement(np.zeros((3, 5)))


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=LETTERS, min_size=1, max_size=60))
def test_reverse_complement_commutes_with_one_hot(s):
    rc = reverse_complement(s)
    assert len(rc) == len(s)
    assert rc == "".join(COMPLEMENT[c.upper()] if c.isupper() else COMPLEMENT[c.upper()].lower()
                         for c in reversed(s))
    assert reverse_complement(rc) == s
    x = one_hot(s)
    np.testing.assert_array_equal(one_hot(rc), reverse_complement(x))
    t = reverse_complement(torch.from_numpy(x))
    assert isinstance(t, torch.Tensor)
    np.testing.assert_array_equal(t.numpy(), one_hot(rc))
    np.testing.assert_array_equal(reverse_complement(x[0]), one_hot(rc)[0])  # (4, L)


# ---------------------------------------------------------------- GC content

def test_gc_content():
    gc = gc_content(["GGCC", "ATGC", "gcNN", "NNNN", "AT"])
    np.testing.assert_allclose(gc[[0, 1, 2, 4]], [1.0, 0.5, 1.0, 0.0])
    assert np.isnan(gc[3])
    assert gc_content("ACGTACGG")[0] == pytest.approx(5 / 8)


# ---------------------------------------------------------------- dinucleotide shuffle

@settings(max_examples=150, deadline=None)
@given(st.text(alphabet="ACGTNacgt", min_size=0, max_size=80), st.integers(0, 2**32 - 1))
def test_dinucleotide_shuffle_keeps_exact_counts(s, seed):
    out = dinucleotide_shuffle([s], seed=seed, n_shuffles=2)
    assert len(out) == 2
    for shuffled in out:
        assert len(shuffled) == len(s)
        assert dinucleotide_counts(shuffled) == dinucleotide_counts(s)
        assert Counter(shuffled) == Counter(s)
        if s:
            assert shuffled[0] == s[0] and shuffled[-1] == s[-1]


def test_dinucleotide_shuffle_seeds():
    rng = np.random.default_rng(3)
    seqs = ["".join(rng.choice(list("ACGT"), 200)) for _ in range(5)]
    a = dinucleotide_shuffle(seqs, seed=11)
    assert a == dinucleotide_shuffle(seqs, seed=11)
    b = dinucleotide_shuffle(seqs, seed=12)
    assert all(x != y for x, y in zip(a, b))
    assert all(x != s for x, s in zip(a, seqs))
    assert isinstance(dinucleotide_shuffle(seqs[0], seed=1), str)
    assert dinucleotide_shuffle(seqs[0], seed=np.random.default_rng(5)) == \
        dinucleotide_shuffle(seqs[0], seed=5)


def test_dinucleotide_shuffle_short_sequences():
    assert dinucleotide_shuffle("", seed=0) == ""
    assert dinucleotide_shuffle("A", seed=0) == "A"
    assert dinucleotide_shuffle("AC", seed=0) == "AC"
    assert dinucleotide_shuffle("AAAA", seed=0) == "AAAA"
    assert dinucleotide_shuffle("ACA", seed=0) == "ACA"  # the only arrangement


def _all_arrangements(s):
    """Every string with the first letter and dinucleotide counts of s (depth-first walk)."""
    left = Counter(zip(s, s[1:]))
    found, path = [], [s[0]]

    def walk():
        if len(path) == len(s):
            found.append("".join(path))
            return
        for (a, b), n in list(left.items()):
            if a == path[-1] and n:
                left[a, b] -= 1
                path.append(b)
                walk()
                path.pop()
                left[a, b] += 1

    walk()
    return set(found)


def test_dinucleotide_shuffle_is_uniform_over_arrangements():
    """Altschul-Erikson draws every sequence with the same doublet counts equally often."""
    s = "ACAGATCAGA"
    arrangements = _all_arrangements(s)
    assert len(arrangements) == 12 and s in arrangements
    draws = Counter(dinucleotide_shuffle([s], n_shuffles=3000, seed=7))
    assert set(draws) == arrangements
    expected = 3000 / len(arrangements)
    chi2 = sum((draws[a] - expected) ** 2 / expected for a in arrangements)
    assert chi2 < 31.3  # chi-square, 11 degrees of freedom, p = 0.001
