"""seqconv.scan: exact p-values, hits equal to a slow reference scan (both engines), inputs, chunking, CLI."""

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from seqconv.cli import main
from seqconv.encode import one_hot, reverse_complement
from seqconv.errors import InputError
from seqconv.genome import iter_fasta
from seqconv.motifs import Motif, jaspar_collection, write_meme
from seqconv.scan import (
    NRDB_DNA,
    ScanOptions,
    bh_qvalues,
    estimate_pi0,
    fimo_qvalues,
    scan,
    scan_to_file,
    score_distribution,
    score_matrix,
    survival,
)

ENGINES = ["numba", "torch"]

DATA = Path(__file__).resolve().parents[1] / "data"
EXAMPLE_FA = DATA / "example_oct4_mafk_test.fa"          # 200 real 200-bp peaks (Oct4 / MafK)
YEAST = DATA / "yeast" / "sacCer3_chr1_3_6_7_8_9.fa.gz"

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def peaks():
    return list(iter_fasta(EXAMPLE_FA))


def _codes(seq: str) -> np.ndarray:
    lut = {c: i for i, c in enumerate("ACGT")}
    return np.array([lut.get(c, 4) for c in seq.upper()], dtype=np.int64)


def fimo_bg(bg, both=True):
    """FIMO's treatment of a background: averaged with the complement (both strands), floored at 5e-7."""
    f = np.asarray(bg, dtype=float)
    if both:
        f = (f + f[::-1]) / 2
    f = (f + 5e-7) / (f.sum() + 2e-6)
    return f / f.sum()


def fimo_ints(lo_nat):
    """FIMO's scaled matrix (pssm.c scale_score_matrix) of a log-odds matrix given as log2 via ln * 1.44269504."""
    small, large = lo_nat.min(), lo_nat.max()
    offset = np.floor(small)
    scale = np.floor(1000 / (large - offset))
    x = (lo_nat - offset) * scale
    return np.floor(x + 0.5).astype(np.int64)       # x >= 0


def reference_scan(records, motif_list, threshold, *, pseudocount=0.1, bin_size=None, bg=None, strands=("+", "-")):
    """Slow, independent scan: every window of every record, in plain numpy.  Default: FIMO's
    background (NRDB) and FIMO's per-motif grid; ``bin_size``: one fixed grid."""
    bg = fimo_bg(NRDB_DNA if bg is None else bg, both=len(strands) == 2)
    rows = []
    for m in motif_list:
        for strand, mm in (("+", m), ("-", m.reverse_complement())):
            if strand not in strands:
                continue
            lo = mm.log_odds(pseudocount, bg)
            p = mm.probabilities_with_pseudocount(pseudocount, bg)
            ints = (fimo_ints(np.log(p / bg) * 1.44269504) if bin_size is None
                    else np.round(lo / bin_size).astype(np.int64))
            smin, pmf = score_distribution(ints, bg)
            sf = survival(pmf)
            W = m.width
            for name, seq in records:
                c = _codes(seq)
                for i in range(len(c) - W + 1):
                    w = c[i:i + W]
                    if (w == 4).any():
                        continue
                    s = int(ints[np.arange(W), w].sum())
                    p = sf[s - smin]
                    if p <= threshold:
                        site = seq[i:i + W].upper()
                        rows.append((m.id, name, i, i + W, strand, float(lo[np.arange(W), w].sum()), p,
                                     site if strand == "+" else reverse_complement(site)))
    return pd.DataFrame(rows, columns=["motif_id", "sequence_id", "start", "end", "strand", "score", "p_value",
                                       "matched_sequence"])


def _key(df):
    return df.sort_values(["motif_id", "sequence_id", "start", "strand"]).reset_index(drop=True)


# ---------------------------------------------------------------- p-values

@pytest.mark.parametrize("seed", range(6))
def test_pvalues_equal_exact_enumeration(seed):
    """P(S >= s) from the DP equals brute-force enumeration of all 4^W sites."""
    rng = np.random.default_rng(seed)
    W = 1 + seed % 6
    ints = rng.integers(-40, 25, size=(W, 4))
    bg = rng.dirichlet(np.ones(4) * 2)
    smin, pmf = score_distribution(ints, bg)
    sf = survival(pmf)
    scores = np.zeros(4 ** W, dtype=np.int64)
    probs = np.ones(4 ** W)
    for k, site in enumerate(itertools.product(range(4), repeat=W)):
        scores[k] = ints[np.arange(W), site].sum()
        probs[k] = np.prod(bg[list(site)])
    assert pmf.sum() == pytest.approx(1.0, abs=1e-12)
    for s in np.unique(scores):
        exact = probs[scores >= s].sum()
        assert sf[s - smin] == pytest.approx(exact, rel=1e-12, abs=0)
    assert sf[0] == pytest.approx(1.0)


@pytest.mark.parametrize("bin_size", [None, 0.1])
def test_hit_pvalue_matches_enumeration_for_a_real_short_motif(bin_size):
    """Under a uniform background every 6-mer is equally likely: p = share of 6-mers scoring as high."""
    m = next(x for x in jaspar_collection() if x.width == 6)
    seqs = ["".join(s) for s in itertools.product("ACGT", repeat=6)]  # every 6-mer once
    hits = scan(seqs, [m], threshold=1e-2, strands="+", background="uniform", bin_size=bin_size)
    bg = np.full(4, 0.25)
    p = m.probabilities_with_pseudocount(0.1, bg)
    ints = fimo_ints(np.log(p / bg) * 1.44269504) if bin_size is None else np.round(m.log_odds(0.1) / 0.1).astype(int)
    all_scores = np.array([ints[np.arange(6), _codes(s)].sum() for s in seqs])
    for row in hits.itertuples():
        s = ints[np.arange(6), _codes(row.matched_sequence)].sum()
        assert row.p_value == pytest.approx((all_scores >= s).mean(), rel=1e-12)
    expected = {s for s, sc in zip(seqs, all_scores) if (all_scores >= sc).mean() <= 1e-2}
    assert set(hits.matched_sequence) == expected and len(expected) > 0


# ---------------------------------------------------------------- hits vs reference

@pytest.fixture(scope="module")
def ref_peaks_1e3(motifs, peaks):
    return reference_scan(peaks, motifs, 1e-3)


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
def test_hits_equal_slow_reference_on_real_peaks(motifs, peaks, ref_peaks_1e3, engine):
    got = scan(peaks, motifs, threshold=1e-3, engine=engine)
    ref = ref_peaks_1e3
    assert len(ref) > 500
    got, ref = _key(got), _key(ref)
    pd.testing.assert_frame_equal(got[["motif_id", "sequence_id", "start", "end", "strand", "matched_sequence"]],
                                  ref[["motif_id", "sequence_id", "start", "end", "strand", "matched_sequence"]],
                                  check_dtype=False)
    np.testing.assert_allclose(got.p_value, ref.p_value, rtol=1e-12)
    np.testing.assert_allclose(got.score, ref.score, rtol=0, atol=1e-9)
    names = {m.id: m.name for m in motifs}
    assert (got.motif_name == got.motif_id.map(names)).all()


@pytest.mark.parametrize("dtype, limit", [(torch.float16, 2048), (torch.float32, 2 ** 24)])
def test_filter_dtypes_give_the_same_hits(monkeypatch, motifs, peaks, dtype, limit):
    """float16 is the CUDA filter dtype, float32 the fallback: both must give the bfloat16 hits."""
    import seqconv.scan.engine_torch as et

    ref = scan(peaks[:40], motifs, threshold=1e-3, engine="torch")
    monkeypatch.setattr(et, "_filter_dtype", lambda dev: (dtype, limit))
    pd.testing.assert_frame_equal(scan(peaks[:40], motifs, threshold=1e-3, engine="torch"), ref)


@pytest.mark.parametrize("engine", ENGINES)
def test_background_from_sequences_and_given(motifs, peaks, engine):
    bg = [0.3, 0.2, 0.2, 0.3]
    got = _key(scan(peaks[:40], motifs[:10], threshold=1e-3, background=bg, engine=engine))
    ref = _key(reference_scan(peaks[:40], motifs[:10], 1e-3, bg=np.array(bg)))
    assert list(zip(got.motif_id, got.start, got.strand)) == list(zip(ref.motif_id, ref.start, ref.strand))
    np.testing.assert_allclose(got.p_value, ref.p_value, rtol=1e-12)
    seqbg = scan(peaks[:40], motifs[:10], threshold=1e-3, background="sequences", engine=engine)
    assert len(seqbg) > 0 and not seqbg.equals(got)
    # an asymmetric background on one strand (FIMO symmetrises it only for both): the minus strand's
    # own log-odds and p-value table
    bg = [0.4, 0.3, 0.2, 0.1]
    got = _key(scan(peaks[:20], motifs[:6], threshold=1e-3, background=bg, engine=engine, strands="-"))
    ref = _key(reference_scan(peaks[:20], motifs[:6], 1e-3, bg=np.array(bg), strands=("-",)))
    assert len(ref) > 10
    assert list(zip(got.motif_id, got.start, got.strand)) == list(zip(ref.motif_id, ref.start, ref.strand))
    np.testing.assert_allclose(got.p_value, ref.p_value, rtol=1e-12)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.slow
def test_chunk_borders_are_exact_on_a_long_sequence(motifs, engine):
    name, seq = next(iter_fasta(YEAST))
    seq = seq[:30_000]
    big = scan({name: seq}, motifs, threshold=1e-4, engine=engine)
    small = scan({name: seq}, motifs, threshold=1e-4, block=257, engine=engine)  # ~120 blocks, borders everywhere
    pd.testing.assert_frame_equal(big, small)
    ref = _key(reference_scan([(name, seq[:6000])], motifs, 1e-4))
    head = _key(small[small.end <= 6000])
    assert list(zip(head.motif_id, head.start, head.strand)) == list(zip(ref.motif_id, ref.start, ref.strand))


@pytest.mark.parametrize("engine", ENGINES)
def test_windows_with_n_get_no_hit_and_strands(motifs, engine):
    ctcf = [m for m in motifs if m.id == "MA0139.2"]
    site = ctcf[0].consensus()
    seq = "TTTT" + site + "AAAA" + site[:7] + "N" + site[8:] + "CCCC"
    hits = scan([seq], ctcf, threshold=1e-5, engine=engine)
    assert list(hits.start) == [4] and hits.strand.tolist() == ["+"]
    rc = scan([reverse_complement(seq)], ctcf, threshold=1e-5, engine=engine)
    assert rc.strand.tolist() == ["-"] and rc.start.tolist() == [len(seq) - 4 - len(site)]
    assert rc.matched_sequence.tolist() == [site]  # read on the hit's strand
    assert rc.p_value.tolist() == hits.p_value.tolist()
    assert len(scan([seq], ctcf, threshold=1e-5, strands="-", engine=engine)) == 0


@pytest.fixture(scope="module")
def kernel_case(peaks):
    """Motifs that take every path of the numba engine, on real peaks riddled with N plus short records."""
    allm = jaspar_collection()
    narrow = [m for m in allm if m.width < 8][:4]                              # seed past the window
    dense = [m for m in allm if m.id in ("MA0138.3", "MA1929.2", "MA2335.1")]  # low-information, wide
    inverted = allm[100:700:120]
    rng = np.random.default_rng(7)
    recs = []
    for name, seq in peaks[:24]:
        s = np.array(list(seq))
        s[rng.random(len(s)) < 0.01] = "N"
        a = int(rng.integers(0, 150))
        s[a:a + int(rng.integers(1, 12))] = "N"                                 # a run of N
        recs.append((name, "".join(s)))
    for i, n in enumerate([1, 3, 5, 6, 7, 8, 9, 12]):
        recs.append((f"short{i}", peaks[30 + i][1][:n]))
    return narrow + dense + inverted, recs


@pytest.mark.slow
def test_numba_engine_paths_equal_reference(kernel_case):
    from seqconv.scan.bank import _Bank
    from seqconv.scan.engine_numba import _Lookahead

    motif_list, recs = kernel_case
    bank = _Bank(motif_list, ScanOptions(threshold=1e-3), NRDB_DNA)
    eng = _Lookahead(bank, 1e-3)
    assert len(eng.dense) and len(eng.narrow) and len(eng.ent)     # every path is taken
    got = _key(scan(recs, motif_list, threshold=1e-3, engine="numba"))
    ref = _key(reference_scan(recs, motif_list, 1e-3))
    assert len(ref) > 100
    pd.testing.assert_frame_equal(got[["motif_id", "sequence_id", "start", "end", "strand", "matched_sequence"]],
                                  ref[["motif_id", "sequence_id", "start", "end", "strand", "matched_sequence"]],
                                  check_dtype=False)
    np.testing.assert_allclose(got.p_value, ref.p_value, rtol=1e-12)
    np.testing.assert_allclose(got.score, ref.score, rtol=0, atol=1e-9)
    # blocks of 50 positions: borders, N and record ends everywhere
    pd.testing.assert_frame_equal(_key(scan(recs, motif_list, threshold=1e-3, engine="numba", block=50)), got)


def test_numba_hit_buffers_overflow_and_rerun(monkeypatch, kernel_case):
    from seqconv.scan.engine_numba import _Lookahead

    motif_list, recs = kernel_case
    full = scan(recs, motif_list, threshold=1e-2, engine="numba")
    monkeypatch.setattr(_Lookahead, "CAP_MAX", 2)
    monkeypatch.setattr(_Lookahead, "CHUNK", 512)
    monkeypatch.setattr(_Lookahead, "SEGMENT", 700)
    small = scan(recs, motif_list, threshold=1e-2, engine="numba")
    assert len(full) > 500
    pd.testing.assert_frame_equal(small, full)


@pytest.mark.parametrize("method, bin_size", [("fimo", None), ("fimo", 0.1), ("memelite", None)])
def test_engines_give_identical_frames(motifs, peaks, method, bin_size):
    a = scan(peaks[:80], motifs, threshold=1e-3, method=method, bin_size=bin_size, engine="numba")
    b = scan(peaks[:80], motifs, threshold=1e-3, method=method, bin_size=bin_size, engine="torch")
    assert len(a) > 500
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_kmer_codes_match_naive():
    from seqconv._scan_kernels import kmer_codes

    rng = np.random.default_rng(0)
    for n in [1, 5, 9, 100, 70_000, 140_003]:             # one-chunk and several-chunk arrays
        codes = rng.integers(0, 4, n).astype(np.uint8)
        codes[rng.random(n) < 0.05] = 4
        kc, k4, k3, run = kmer_codes(codes, 8, 3)
        assert (k3[n:] == 64).all() and len(k3) == n + 3
        for p in range(0, n, max(1, n // 2000)):
            w = codes[p:p + 8]
            g = int(np.argmax(w > 3)) if (w > 3).any() else len(w)

            def code(m):
                return sum(int(w[i]) * 4 ** (m - 1 - i) for i in range(m))

            assert run[p] == g
            assert kc[p] == (code(8) if g == 8 else 4 ** 8)
            assert k4[p] == (code(4) if g >= 4 else 256)
            assert k3[p] == (code(3) if g >= 3 else 64)


def test_engine_choice_errors(motifs):
    with pytest.raises(InputError, match="engine must be"):
        scan(["ACGTACGTACGT"], motifs[:1], engine="gpu")
    with pytest.raises(InputError, match="engine='numba' runs on the CPU"):
        scan(["ACGTACGTACGT"], motifs[:1], engine="numba", device="cuda")


def test_inputs_agree_strings_fasta_onehot_bed(tmp_path, motifs, peaks):
    recs = peaks[:30]
    by_str = scan(recs, motifs, threshold=1e-3)
    fa = tmp_path / "x.fa"
    fa.write_text("".join(f">{n}\n{s}\n" for n, s in recs))
    pd.testing.assert_frame_equal(by_str, scan(str(fa), motifs, threshold=1e-3))
    X = one_hot([s for _, s in recs])
    by_x = scan(X, motifs, threshold=1e-3, ids=[n for n, _ in recs])
    pd.testing.assert_frame_equal(by_str, by_x)
    X8 = one_hot([s for _, s in recs], dtype="uint8")  # the at-rest dtype of seqconv datasets
    pd.testing.assert_frame_equal(by_str, scan(X8, motifs, threshold=1e-3, ids=[n for n, _ in recs]))
    pd.testing.assert_frame_equal(by_str, scan(torch.as_tensor(X), motifs, threshold=1e-3,
                                               ids=[n for n, _ in recs]))
    # BED regions on a genome made of the same sequences
    genome = tmp_path / "g.fa"
    genome.write_text(">chrA\n" + "".join(s for _, s in recs) + "\n")
    bed = tmp_path / "r.bed"
    bed.write_text("".join(f"chrA\t{200 * i}\t{200 * i + 200}\n" for i in range(len(recs))))
    by_bed = scan(str(bed), motifs, threshold=1e-3, genome=str(genome))
    ids = {f"chrA:{200 * i}-{200 * i + 200}": n for i, (n, _) in enumerate(recs)}
    by_bed["sequence_id"] = by_bed.sequence_id.map(ids)
    a, b = _key(by_str), _key(by_bed)
    pd.testing.assert_frame_equal(a.drop(columns="q_value"), b.drop(columns="q_value"))


@pytest.mark.parametrize("engine", ENGINES)
def test_threshold_one_reports_every_window(motifs, engine):
    """p <= 1 holds everywhere: every window without N, both strands, ends of blocks included."""
    seqs = {"a": "ACGTTGCAAGGCTTACGATCGATTTACG" * 5, "b": "GGGCCCAAATTT" + "N" + "ACGTACGTACGTAC"}
    m = motifs[:3]
    hits = scan(seqs, m, threshold=1.0, block=40, engine=engine)
    expected = 0
    for s in seqs.values():
        c = _codes(s)
        for mm in m:
            expected += 2 * sum(1 for i in range(len(c) - mm.width + 1) if (c[i:i + mm.width] < 4).all())
    assert len(hits) == expected
    assert (hits.p_value <= 1).all() and not hits.duplicated(["motif_id", "sequence_id", "start", "strand"]).any()


def test_qvalues_by_table_equal_bh_qvalues():
    """scan() computes q-values from the p-value table entries used; the numbers must be identical."""
    from seqconv.scan.pvalues import _bh_by_table

    rng = np.random.default_rng(1)
    for _ in range(20):
        table = np.sort(rng.random(50)) ** 3
        table[rng.integers(0, 50, 10)] = table[rng.integers(0, 50, 10)]   # equal values in different entries
        pidx = rng.integers(0, 50, rng.integers(1, 300))
        for n in (len(pidx), 10 ** 6):
            assert np.array_equal(_bh_by_table(pidx, table, n), bh_qvalues(table[pidx], n))


def test_qvalues_are_benjamini_hochberg():
    p = np.array([0.01, 0.0001, 0.03, 0.0001])
    q = bh_qvalues(p, 100)
    # sorted p: 1e-4, 1e-4, 0.01, 0.03 -> p*m/rank = 5e-3, 5e-3, 0.333, 0.75
    np.testing.assert_allclose(q, [1 / 3, 5e-3, 0.75, 5e-3])
    assert (bh_qvalues(np.array([0.5]), 10) == 1).all()


def test_q_values_are_fimos_per_motif_over_every_window(motifs, peaks):
    """q = FIMO's per-motif q-value: its hits' p-values, its windows (both strands), its pi0."""
    from seqconv.scan.run import _Run

    recs = peaks[:20]
    hits = scan(recs, motifs[:5], threshold=1e-3)
    run = _Run(recs, motifs[:5], ScanOptions(threshold=1e-3))
    list(run.hits())
    n_tests, pi0 = run.n_tests(), run.pi0()
    assert ((pi0 > 0.5) & (pi0 <= 1)).all()
    for k, m in enumerate(motifs[:5]):
        assert n_tests[k] == sum(2 * (len(s) - m.width + 1) for _, s in recs)
        h = hits[hits.motif_id == m.id]
        if len(h):
            np.testing.assert_allclose(h.q_value, fimo_qvalues(h.p_value.to_numpy(), n_tests[k], pi0[k]),
                                       rtol=1e-12)


def test_fimo_qvalues_definition():
    p = np.array([0.01, 0.0001, 0.03, 0.0001])
    # sorted p: 1e-4, 1e-4, 0.01, 0.03 -> pi0 p n / rank = 0.5 * (5e-3, 5e-3, 0.333, 0.75)
    np.testing.assert_allclose(fimo_qvalues(p, 100, 0.5), [1 / 6, 2.5e-3, 0.375, 2.5e-3])
    np.testing.assert_allclose(fimo_qvalues(p, 100, 1.0), bh_qvalues(p, 100))


@pytest.mark.parametrize("share", [1.0, 0.7])
def test_pi0_estimates_the_share_of_nulls(share):
    """Storey's estimate (FIMO's): uniform p-values give ~1; 30% near-zero p-values give ~0.7, from the
    p-values themselves and from their lambda histogram (the scan's route)."""
    from seqconv.scan.pvalues import pi0_from_histograms

    rng = np.random.default_rng(3)
    n = 10_000
    p = rng.random(n)
    k = int((1 - share) * n)
    p[:k] = rng.random(k) * 1e-4
    lam = np.arange(1, 101) / 100 * 0.5
    hist = np.bincount(np.searchsorted(lam, p, side="right"), minlength=101)[None]
    for est in (estimate_pi0(p), pi0_from_histograms(hist)[0]):
        assert est == pytest.approx(share, abs=0.04)
    assert estimate_pi0(p[:50]) == 1.0            # too few p-values: 1, as FIMO


def test_memelite_method_uses_float_threshold(motifs, peaks):
    fimo = scan(peaks[:50], motifs, threshold=1e-3, background="uniform")
    ml = scan(peaks[:50], motifs, threshold=1e-3, method="memelite")
    assert len(ml) > 0
    # memelite: p-value of the truncated float score's bin; same windows mostly
    a = set(zip(fimo.motif_id, fimo.sequence_id, fimo.start, fimo.strand))
    b = set(zip(ml.motif_id, ml.sequence_id, ml.start, ml.strand))
    assert len(a & b) / len(a | b) > 0.9
    assert (ml.p_value < 1e-3).all()


def test_score_matrix_matches_reference(motifs, peaks):
    seqs = [s for _, s in peaks[:3]]
    seqs[0] = seqs[0][:50] + "N" + seqs[0][51:]
    S = score_matrix(seqs, motifs[:4])
    assert S.shape == (3, 4, 200) and S.dtype == np.float32
    for k, m in enumerate(motifs[:4]):
        lo, lo_rc = m.log_odds(0.1), m.reverse_complement().log_odds(0.1)
        for n, seq in enumerate(seqs):
            c = _codes(seq)
            for i in range(0, 200 - m.width + 1, 7):
                w = c[i:i + m.width]
                if (w == 4).any():
                    assert np.isnan(S[n, k, i])
                    continue
                best = max(lo[np.arange(m.width), w].sum(), lo_rc[np.arange(m.width), w].sum())
                assert S[n, k, i] == pytest.approx(best, abs=1e-4)
            assert np.isnan(S[n, k, 200 - m.width + 1:]).all()


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("threshold", [0, -1e-4, 1.5, float("nan"), "abc"])
def test_threshold_outside_unit_interval(threshold, motifs):
    with pytest.raises(InputError, match=r"threshold must be .*\(0, 1\]"):
        scan(["ACGTACGTACGT"], motifs[:1], threshold=threshold)


def test_bad_sequences(motifs):
    with pytest.warns(UserWarning, match="sequence 'b' is empty: skipped"):      # FIMO skips it too
        got = scan({"a": "ACGTAGCTAGCTAG", "b": "", "c": "ACGT"}, motifs[:1], threshold=1.0)
    assert set(got.sequence_id) == {"a"}
    with pytest.warns(UserWarning), pytest.raises(InputError, match="every one is empty"):
        scan({"b": ""}, motifs[:1])
    with pytest.raises(InputError, match="sequence id 'x' is repeated"):
        scan([("x", "ACGTACGATCGAT"), ("x", "ACGATCGATCGA")], motifs[:1])
    with pytest.raises(InputError, match="neither an existing FASTA file nor a DNA sequence"):
        scan("no/such/file.fa", motifs[:1])


def test_zero_row_after_pseudocount(tmp_path):
    m = Motif.from_probabilities("Z1", [[1, 0, 0, 0], [0, 1, 0, 0]], source="z.meme")
    with pytest.raises(InputError, match="z.meme: motif Z1: probability of C at row 1 is zero after pseudocount 0"):
        scan(["ACGTACGT"], [m], pseudocount=0)


def test_scan_to_file_formats_and_no_partial_output(tmp_path, motifs, peaks):
    fa = tmp_path / "p.fa"
    fa.write_text("".join(f">{n}\n{s}\n" for n, s in peaks[:40]))
    hits = scan(str(fa), motifs, threshold=1e-3)
    out = tmp_path / "h.tsv"
    assert scan_to_file(str(fa), motifs, out, threshold=1e-3, block=1000) == len(hits)
    back = pd.read_csv(out, sep="\t")
    assert list(back.columns) == list(hits.columns)
    np.testing.assert_allclose(np.sort(back.q_value), np.sort(hits.q_value), rtol=1e-5)
    bed = tmp_path / "h.bed"
    scan_to_file(str(fa), motifs, bed, format="bed", threshold=1e-3)
    first = bed.read_text().splitlines()[0].split("\t")
    assert len(first) == 6 and first[5] in "+-"
    gff = tmp_path / "h.gff"
    scan_to_file(str(fa), motifs, gff, format="gff", threshold=1e-3)
    assert gff.read_text().startswith("##gff-version 3\n")
    # a repeated id late in the input: nothing is left behind
    bad = tmp_path / "bad.fa"
    bad.write_text(fa.read_text() + f">{peaks[0][0]}\nACGTACGTAGCTAGCTAGCATCGAC\n")
    target = tmp_path / "never.tsv"
    with pytest.raises(InputError, match="repeated"):
        scan_to_file(str(bad), motifs, target, threshold=1e-3, block=1000)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["p.fa", "h.tsv", "h.bed", "h.gff", "bad.fa"])


def test_cli_scan_and_errors(tmp_path, motifs, peaks):
    fa = tmp_path / "p.fa"
    fa.write_text("".join(f">{n}\n{s}\n" for n, s in peaks[:20]))
    meme = tmp_path / "m.meme"
    write_meme(motifs, meme)
    runner = CliRunner()
    res = runner.invoke(main, ["scan", "--motifs", str(meme), "--fasta", str(fa), "--thresh", "1e-3", "-q"])
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    lines_default = res.stdout
    assert lines[0].split("\t")[:3] == ["motif_id", "motif_name", "sequence_id"]
    assert len(lines) - 1 == len(scan(str(fa), motifs, threshold=1e-3))
    out = tmp_path / "o.bed"
    for args, message in [
        (["--thresh", "0"], "threshold must be"),
        (["--thresh", "2"], "threshold must be"),
        (["--motifs", str(tmp_path / "missing.meme")], "motif file not found"),
    ]:
        base = {"--motifs": str(meme), "--fasta": str(fa), "--out": str(out), "--thresh": "1e-3"}
        for k, v in zip(args[::2], args[1::2]):
            base[k] = v
        res = runner.invoke(main, ["scan", *itertools.chain(*base.items()), "-q"])
        assert res.exit_code == 2, res.output
        assert message in res.output and "Traceback" not in res.output
        assert not out.exists()
    dup = tmp_path / "dup.fa"
    dup.write_text(">a\nACGTTGCA\n>a\nACGTTTGCA\n")
    res = runner.invoke(main, ["scan", "--motifs", str(meme), "--fasta", str(dup), "--out", str(out), "-q"])
    assert res.exit_code == 2 and "repeated" in res.output and not out.exists()
    res = runner.invoke(main, ["scan", "--motifs", str(meme), "--fasta", str(fa), "--thresh", "1e-3", "-q",
                               "--engine", "torch", "--threads", "1"])
    assert res.exit_code == 0 and res.stdout == lines_default, res.output
    res = runner.invoke(main, ["scan", "--help"])
    assert "Example" in res.output and "--engine" in res.output


REB1_CBF1_MEME = """MEME version 4

ALPHABET= ACGT

strands: + -

Background letter frequencies
A 0.25 C 0.25 G 0.25 T 0.25

MOTIF MA0363.3 REB1
letter-probability matrix: alength= 4 w= 9 nsites= 691 E= 0
0.406657 0.114327 0.406657 0.072359
0.011577 0.028944 0.007236 0.952243
0.040521 0.040521 0.010130 0.908828
0.982634 0.001447 0.004342 0.011577
0.002894 0.989870 0.002894 0.004342
0.005789 0.985528 0.007236 0.001447
0.004342 0.985528 0.004342 0.005789
0.015919 0.007236 0.836469 0.140376
0.150507 0.192475 0.545586 0.111433

MOTIF MA0281.3 CBF1
letter-probability matrix: alength= 4 w= 10 nsites= 256 E= 0
0.535156 0.054688 0.285156 0.125000
0.046875 0.078125 0.214844 0.660156
0.003906 0.992188 0.003906 0.000000
0.988281 0.000000 0.007812 0.003906
0.003906 0.949219 0.007812 0.039062
0.027344 0.000000 0.972656 0.000000
0.000000 0.000000 0.000000 1.000000
0.000000 0.003906 0.996094 0.000000
0.839844 0.093750 0.042969 0.023438
0.066406 0.570312 0.035156 0.328125
"""


def test_cli_bed_width_scans_windows_around_summits_and_finds_each_tfs_own_motif(tmp_path):
    """The bundled ChIP-exo peaks are 1 bp summits: scanned as given they hold no 9 bp motif at all; with
    --width 200 each TF's own JASPAR motif is in most of its peaks and the other TF's in few."""
    from seqconv.genome import read_bed

    meme = tmp_path / "reb1_cbf1.meme"
    meme.write_text(REB1_CBF1_MEME)
    runner = CliRunner()
    share = {}
    for tf in ("Reb1", "Cbf1"):
        bed = DATA / "yeast" / f"{tf}_CX.bed.gz"
        args = ["scan", "--motifs", str(meme), "--bed", str(bed), "--genome", str(YEAST), "-q"]
        bare = tmp_path / f"{tf}.bare.tsv"
        r = runner.invoke(main, args + ["--out", str(bare)])
        assert r.exit_code == 0, r.output
        assert len(pd.read_csv(bare, sep="\t")) == 0
        out = tmp_path / f"{tf}.tsv"
        r = runner.invoke(main, args + ["--width", "200", "--out", str(out)])
        assert r.exit_code == 0, r.output
        hits = pd.read_csv(out, sep="\t")
        peaks = read_bed(bed)
        # every hit lies in a 200 bp window centred on a summit, inside the window
        win = hits.sequence_id.str.extract(r"^(\w+):(\d+)-(\d+)$").astype({1: int, 2: int})
        assert (win[2] - win[1] == 200).all() and (hits.start >= 0).all() and (hits.end <= 200).all()
        summits = set(zip(peaks.chrom, peaks.start))
        assert all((c, s + 100) in summits for c, s in zip(win[0], win[1]))
        share[tf] = hits.groupby("motif_name").sequence_id.nunique() / len(peaks)
    # measured: REB1 in 53% of Reb1 peaks (CBF1 6%); CBF1 in 84% of Cbf1 peaks (REB1 10%)
    assert share["Reb1"]["REB1"] > 0.4 and share["Reb1"]["REB1"] > 4 * share["Reb1"]["CBF1"]
    assert share["Cbf1"]["CBF1"] > 0.7 and share["Cbf1"]["CBF1"] > 4 * share["Cbf1"]["REB1"]


def test_cli_width_needs_bed(tmp_path):
    r = CliRunner().invoke(main, ["scan", "--motifs", "jaspar", "--fasta", str(EXAMPLE_FA), "--width", "100"])
    assert r.exit_code == 2 and "--width" in r.output and "--bed" in r.output
