"""Motif comparison (Tomtom's scoring, and the gapped variant) against the bundled JASPAR 2024 CORE
vertebrates collection; against the MEME suite's own tomtom when it is installed (SEQCONV_TOMTOM or PATH)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seqconv.errors import InputError
from seqconv.motifs import Motif, jaspar_collection
from seqconv.motifs.compare import MATCH_COLUMNS, MotifComparer, bh_qvalues, column_scores, compare


@pytest.fixture(scope="module")
def db():
    return jaspar_collection()


@pytest.fixture(scope="module")
def comparer(db):
    return MotifComparer(db)


def _get(db, name):
    return next(m for m in db if m.name == name)


@pytest.mark.parametrize("name", ["CTCF", "MAFK", "Pou5f1::Sox2", "POU5F1", "SRF"])
def test_database_motif_ranks_itself_first(comparer, db, name):
    m = _get(db, name)
    table = comparer.compare([m], top=3)
    assert list(table.columns) == list(MATCH_COLUMNS)
    best = table.iloc[0]
    assert best.target_id == m.id and best.target_name == name
    assert best.p_value < 1e-10 and best.q_value < 1e-7
    assert best.offset == 0 and best.orientation == "+" and best.overlap == m.width
    assert table["p_value"].is_monotonic_increasing


@pytest.mark.parametrize("name,seed", [("CTCF", 0), ("Pou5f1::Sox2", 1), ("MAFK", 2), ("Yy1", 3)])
def test_shuffled_columns_do_not_match(comparer, db, name, seed):
    m = _get(db, name)
    rng = np.random.default_rng(seed)
    shuffled = Motif("shuffled", m.probabilities[rng.permutation(m.width)])
    best = comparer.compare([shuffled], top=1).iloc[0]
    assert best.q_value >= 0.05, best


def test_reverse_complement_and_sub_motif_alignment(comparer, db):
    ctcf = _get(db, "CTCF")
    rc = comparer.compare([ctcf.reverse_complement()], top=1).iloc[0]
    assert (rc.target_id, rc.orientation, rc.offset) == (ctcf.id, "-", 0)
    core = Motif("core", ctcf.probabilities[3:13])
    sub = comparer.compare([core], top=1).iloc[0]
    assert (sub.target_name, sub.orientation, sub.offset, sub.overlap) == ("CTCF", "+", 3, 10)
    assert sub.q_value < 1e-4


@pytest.mark.parametrize("method, small", [("tomtom", 0.008), ("gapped", 0.004)])
def test_random_motifs_are_calibrated(db, method, small):
    """Random Dirichlet motifs: p-values near uniform (few small p among 879 targets).  Tomtom's own
    p-values (independent alignments assumed) are slightly liberal in the far tail."""
    comparer = MotifComparer(db, method=method)
    rng = np.random.default_rng(7)
    ps = np.concatenate([comparer.search(rng.dirichlet(np.ones(4), size=int(w))).p_value
                         for w in rng.integers(6, 16, size=12)])
    assert 0.0 < (ps < 0.05).mean() < 0.08
    assert (ps < 0.001).mean() < small


def test_flat_target_columns_are_not_evidence(db):
    """A weak query must not match a spacer-rich motif through flat columns (flat_bits guard)."""
    rng = np.random.default_rng(0)
    weak = Motif("weak", rng.dirichlet(np.full(4, 30.0), size=12))  # ~0.05 bits per column
    guarded = MotifComparer(db, method="gapped").compare([weak], top=1).iloc[0]
    assert guarded.q_value > 0.5
    naive = MotifComparer(db, method="gapped", flat_bits=0).compare([weak], top=1).iloc[0]
    assert naive.q_value < guarded.q_value


def test_flat_flanks_of_a_target_do_not_dilute_a_match(db):
    """A target with flat flanks (e.g. JASPAR 2016 MAX) matched by its own matrix: the flat columns are gaps, so
    the evidence of the informative core is not diluted by them (the p-value is that of the core alone)."""
    core = _get(db, "MAX").probabilities
    core = core[core.max(axis=1) > 0.9]  # the E-box CACGTG
    flat = np.full((3, 4), 0.25) + np.array([0.03, -0.01, -0.01, -0.01])  # < 0.25 bits each
    padded = Motif("padded", np.vstack([flat, core, flat[::-1]]))
    comparer = MotifComparer(db + [padded], method="gapped")
    j = comparer.n_targets - 1
    p_self = comparer.search(padded).p_value[j]
    p_core = comparer.search(core).p_value[j]
    assert p_self < 1e-6
    assert p_self <= 10 * p_core  # (scored over all columns, the flanks' null swamped the core: p ~ 1e-3)


def test_column_scores_and_qvalues():
    Q = np.array([[1, 0, 0, 0], [0.25, 0.25, 0.25, 0.25]], dtype=float)
    C = np.array([[1, 0, 0, 0], [0, 1, 0, 0]], dtype=float)
    ed = column_scores(Q, C, "euclidean")
    assert ed[0, 0] == 0 and ed[0, 1] == pytest.approx(-np.sqrt(2))
    pc = column_scores(Q, C, "pearson")
    assert pc[0, 0] == pytest.approx(1.0) and pc[1, 0] == 0.0  # flat column -> 0
    q = bh_qvalues(np.array([0.01, 0.04, 0.03, 0.2]))
    np.testing.assert_allclose(q, [0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.2])


def test_pearson_metric_and_file_inputs(tmp_path, db):
    from seqconv.motifs import write_meme

    path = tmp_path / "q.meme"
    write_meme([_get(db, "SRF")], path)
    table = compare(path, db[:300] + [_get(db, "SRF")], metric="pearson", top=2)
    assert table.iloc[0].target_name == "SRF" and table.iloc[0].q_value < 1e-3
    bad = tmp_path / "bad.txt"
    bad.write_text("hello\nworld\n")
    with pytest.raises(InputError, match="bad.txt"):
        compare(bad, db)
    with pytest.raises(InputError):
        MotifComparer(db).search(np.zeros((0, 4)))
    with pytest.raises(ValueError, match="metric"):
        MotifComparer(db, metric="cosine")


def test_tomtom_and_gapped_agree_on_self_matches(db):
    for name in ("CTCF", "SRF"):
        m = _get(db, name)
        for method in ("tomtom", "gapped"):
            assert MotifComparer(db, method=method).compare([m], top=1).iloc[0].target_id == m.id
    with pytest.raises(ValueError, match="method"):
        MotifComparer(db, method="blast")


TOMTOM = os.environ.get("SEQCONV_TOMTOM") or shutil.which("tomtom")


@pytest.mark.skipif(not TOMTOM or not Path(TOMTOM).exists(), reason="MEME suite tomtom not installed")
def test_pvalues_offsets_and_top1_equal_real_tomtom(tmp_path, db):
    """Learned-filter-like queries (JASPAR motifs blurred with noise, cut, some reverse-complemented)
    against 300 targets: Tomtom's p-values, offsets, orientations and best match."""
    from seqconv.motifs import write_meme

    rng = np.random.default_rng(5)
    targets = db[:300]
    queries = []
    for i, m in enumerate(targets[::12]):
        p = m.probabilities[1:-1] if m.width > 8 else m.probabilities
        p = 0.6 * p + 0.4 * rng.dirichlet(np.ones(4), size=len(p))
        q = Motif(f"q{i}", p)
        queries.append(q.reverse_complement() if i % 3 == 0 else q)
    write_meme(queries, tmp_path / "q.meme")
    write_meme(targets, tmp_path / "t.meme")
    out = subprocess.run([TOMTOM, "-text", "-verbosity", "1", "-evalue", "-thresh", "1e9", str(tmp_path / "q.meme"),
                          str(tmp_path / "t.meme")], capture_output=True, text=True, check=True).stdout
    ref = pd.read_csv(io.StringIO(out), sep="\t", comment="#").rename(
        columns={"Query_ID": "query_id", "Target_ID": "target_id"})
    got = MotifComparer(targets).compare(queries, top=0)
    m = got.merge(ref, on=["query_id", "target_id"])
    assert len(m) == len(queries) * len(targets)
    rel = np.abs(m.p_value - m["p-value"]) / m["p-value"]
    assert (rel <= 0.01).mean() >= 0.995
    assert (m.offset == m.Optimal_offset).mean() >= 0.99 and (m.orientation == m.Orientation).mean() >= 0.99
    top_ref = ref.sort_values(["query_id", "p-value", "Overlap"], ascending=[True, True, False]).groupby(
        "query_id").target_id.first()
    top_got = got[got["rank"] == 1].set_index("query_id").target_id
    assert (top_got.reindex(top_ref.index) == top_ref).all()


JASPAR_VERTEBRATES = (Path(__file__).resolve().parents[1].parent / "shared" / "data" / "jaspar2024"
                      / "JASPAR2024_CORE_vertebrates_nonredundant.meme.gz")


@pytest.mark.slow
@pytest.mark.skipif(not JASPAR_VERTEBRATES.exists(), reason="../shared/data/jaspar2024 not present")
@pytest.mark.parametrize("metric", ["euclidean", "pearson"])
def test_compiled_search_equals_the_previous_kernel(metric):
    """The per-query compiled search (seqconv/motifs/_tomtom.py) gives exactly the table of the previous
    kernel and its Python ranking (tests/_tomtom_reference.py, the code of commit 20f64c1), on real
    JASPAR 2024 vertebrate motifs (all 879 targets): JASPAR queries, cut and blurred ones, reverse
    complements, and random motifs (weak matches, whose q-values need every p-value), weak wide ones
    among them."""
    from _tomtom_reference import reference_table

    from seqconv.motifs import read_motifs

    targets = read_motifs(JASPAR_VERTEBRATES)
    rng = np.random.default_rng(11)
    queries = list(targets[:: 40 if metric == "euclidean" else 120])
    for i, m in enumerate(targets[5::90]):
        p = 0.6 * m.probabilities[1:-1] + 0.4 * rng.dirichlet(np.ones(4), size=m.width - 2)
        q = Motif(f"blur{i}", p)
        queries.append(q.reverse_complement() if i % 2 else q)
    queries += [Motif(f"random{i}", rng.dirichlet(np.ones(4), size=int(w))) for i, w in enumerate([4, 9, 17, 30])]
    # weak, wide queries like a CNN's learned filters (near-flat columns: narrow, gapped column nulls)
    queries += [Motif(f"weak{i}", rng.dirichlet(np.full(4, 6.0), size=int(w))) for i, w in enumerate([13, 25])]
    comparer = MotifComparer(targets, metric=metric)
    for top in (5, 0):
        got = comparer.compare(queries, top=top)
        pd.testing.assert_frame_equal(got, reference_table(comparer, queries, top=top), check_exact=True)
    # search(): every target motif, with the q-values and similarities the table reports
    r = comparer.search(queries[-1])
    row = got[got.query_id == queries[-1].id].set_index("target_id")
    ids = [t.id for t in targets]
    np.testing.assert_array_equal(r.p_value, row.loc[ids, "p_value"].to_numpy())
    np.testing.assert_array_equal(r.q_value, row.loc[ids, "q_value"].to_numpy())


def test_wide_query_sums_in_int32_equal_int16(comparer, db):
    """The diagonal sums of a query are int16 where every sum fits and int32 otherwise (queries over 324
    columns): both give the same sums, null counts and largest integer score on a real JASPAR query."""
    from seqconv.motifs._tomtom import _integer_rows, _row_stats

    Q = comparer._query_matrices([_get(db, "CTCF")])[0]
    m, K = Q.shape[0], comparer._k_cols.shape[1]
    T = len(comparer._k_start)
    t_last = np.empty(T, dtype=np.int64)
    for g in range(len(comparer._k_width)):
        t0, t1 = comparer._k_group[g], comparer._k_group[g + 1]
        t_last[t0:t1] = comparer._k_start[t0:t1] + comparer._k_width[g] - 1
    S = np.empty((m, K))
    stats = [_row_stats(Q[r], comparer._k_cols, True, S[r], np.empty(K, dtype=np.int16),
                        np.empty((4, 1024), dtype=np.int32), np.empty(K), np.empty((2, 64))) for r in range(m)]
    med = np.array([s[2] for s in stats])
    srt = np.sort(S, axis=1)                          # Tomtom's median: ranks floor(K/2) - 1 and ceil(K/2) - 1
    np.testing.assert_array_equal(med, (srt[:, K // 2 - 1] + srt[:, (K + 1) // 2 - 1]) / 2)
    small, large = min(s[0] - s[2] for s in stats), max(s[1] - s[2] for s in stats)
    off, out = np.floor(small), []
    scale = np.floor(100 / (large - off))
    for dt in (np.int16, np.int32):
        E = np.empty((m, T), dtype=np.int32)
        counts, lo, hi = np.empty((m, 102), dtype=np.int64), np.empty(m, dtype=np.int64), np.empty(m, dtype=np.int64)
        D, maxv = _integer_rows(S, med, off, scale, comparer._k_start, t_last, np.empty(K, dtype=np.uint8),
                                np.empty(K, dtype=dt), np.empty(K, dtype=dt), E, np.empty((4, 102), dtype=np.int32),
                                lo, hi, counts)
        out.append((D.astype(np.int64), E, counts, lo, hi, maxv))
    for a, b in zip(*out):
        np.testing.assert_array_equal(a, b)
    # the counts are the integer scores' histogram, and the sums from the first row add one score per row
    V = np.floor((S - med[:, None] - off) * scale + 0.5).astype(np.int64)
    np.testing.assert_array_equal(out[0][2][0], np.bincount(V[0], minlength=102))
    c0 = comparer._k_start[np.argmax(comparer._k_width[np.searchsorted(comparer._k_group, np.arange(T), "right") - 1]
                                     >= m)]
    assert out[0][0][c0] == sum(V[i, c0 + i] for i in range(m))


def test_rank_matches_equals_sorting_every_p_value():
    """rank_matches (k smallest p-values by insertion, the rest bucketed by exponent and mantissa bits) gives
    the entries and q-values of sorting all p-values: ties, subnormal and equal p-values, several k."""
    from seqconv.motifs._tomtom import rank_matches

    rng = np.random.default_rng(5)
    nq, T = 40, 1200
    P = rng.random((nq, T)) ** 4
    P[:10, :30] *= 1e-310                                 # subnormal
    P[10:20] = np.round(P[10:20], 2)                      # many ties
    P[20:25, :] = 1.0
    V = rng.integers(1, 6, (nq, T))
    pi0 = rng.uniform(0.3, 1.0, nq)
    for k in (1, 3, 40):
        sel, qsel = rank_matches(P, V, pi0, 2, k)
        for i in range(nq):
            order = np.lexsort((np.arange(T), -V[i], P[i]))
            ps = P[i, order]
            q = np.minimum.accumulate(np.minimum(pi0[i] * ps * T / np.arange(1, T + 1), 1.0)[::-1])[::-1]
            _, first = np.unique(order // 2, return_index=True)
            keep = np.sort(first)[:k]
            np.testing.assert_array_equal(sel[i], order[keep])
            np.testing.assert_array_equal(qsel[i], q[keep])


def test_diagonal_sums_dtype_holds_the_largest_sum():
    """int16 diagonal sums up to 324 query columns (324 * 101 <= 32767), int32 beyond.  (The int32 kernel's
    arithmetic is checked against int16 in test_wide_query_sums_in_int32_equal_int16; a whole search in
    int32, ~28 s of compiling, was left out of the suite to keep it near 10 minutes.)"""
    from seqconv.motifs._tomtom import TOMTOM_BINS, diagonal_dtype

    assert diagonal_dtype(324) == np.int16 and diagonal_dtype(325) == np.int32
    assert 324 * (TOMTOM_BINS + 1) <= np.iinfo(np.int16).max < 325 * (TOMTOM_BINS + 1)
