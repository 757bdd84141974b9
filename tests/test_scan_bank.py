"""seqconv.scan.bank and the scan's fixed costs: cached banks equal fresh ones, p-value tables equal the
Python reference, pi0's binned sample equals a direct count, the window sample keeps the smallest keys,
and the CPU path never imports torch (scan package, device choice, CLI)."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seqconv import _scan_kernels as kern
from seqconv.genome import iter_fasta
from seqconv.motifs import Motif
from seqconv.scan import ScanOptions, scan, score_distribution, survival
from seqconv.scan.bank import _Bank, bank_for, clear_cache
from seqconv.scan.options import NRDB_DNA, fimo_background
from seqconv.scan.pvalues import PI0_GRID, PI0_LAMBDAS, fimo_grid
from seqconv.scan.run import _Run, _WindowSample

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_FA = ROOT / "data" / "example_oct4_mafk_test.fa"          # 200 real 200-bp peaks (Oct4 / MafK)


@pytest.fixture(scope="module")
def peaks():
    return list(iter_fasta(EXAMPLE_FA))


def _arrays(bank):
    return {k: v for k, v in vars(bank).items() if isinstance(v, np.ndarray)}


@pytest.mark.parametrize("opts, bg", [(ScanOptions(), NRDB_DNA), (ScanOptions(strands="+"), NRDB_DNA),
                                      (ScanOptions(background=(0.3, 0.2, 0.2, 0.3)), np.array([0.35, 0.15, 0.2, 0.3])),
                                      (ScanOptions(bin_size=0.1), NRDB_DNA),
                                      (ScanOptions(method="memelite"), np.full(4, 0.25))])
def test_cached_bank_equals_a_fresh_one(motifs, opts, bg):
    clear_cache()
    first = bank_for(motifs, opts, bg)
    again = bank_for(list(motifs), opts, bg)
    fresh = _Bank(motifs, opts, bg)
    assert again.sf_flat is first.sf_flat                      # served from the cache, not rebuilt
    a, f = _arrays(again), _arrays(fresh)
    assert a.keys() == f.keys()
    for k in f:
        assert np.array_equal(a[k], f[k]), k
    assert [st.thr for st in again.strands] == [st.thr for st in fresh.strands]


def test_cache_key_follows_the_content(motifs):
    """Another id, another matrix, another threshold or background: another bank (ids and tables follow)."""
    clear_cache()
    opts = ScanOptions()
    base = bank_for(motifs, opts, NRDB_DNA)
    def copy(m, id=None, probs=None):
        return Motif(id or m.id, m.probabilities if probs is None else probs, name=m.name, background=m.background,
                     n_sites=m.n_sites)

    renamed = [copy(m, id=f"x{m.id}") if i == 0 else m for i, m in enumerate(motifs)]
    b = bank_for(renamed, opts, NRDB_DNA)
    assert b.sf_flat is not base.sf_flat and b.motif_ids[0] == f"x{motifs[0].id}"
    p = motifs[1].probabilities
    p[0] = [0.7, 0.1, 0.1, 0.1]
    changed = [copy(m, probs=p) if i == 1 else m for i, m in enumerate(motifs)]
    b = bank_for(changed, opts, NRDB_DNA)
    assert b.sf_flat is not base.sf_flat
    assert np.array_equal(b.int_table, _Bank(changed, opts, NRDB_DNA).int_table)
    assert not np.array_equal(b.int_table, base.int_table)
    assert bank_for(motifs, opts.replace(threshold=1e-3), NRDB_DNA).thr[0] != base.thr[0]
    assert bank_for(motifs, opts, np.array([0.3, 0.2, 0.2, 0.3])).sf_flat is not base.sf_flat


def test_p_value_tables_equal_the_python_reference(motifs):
    """The bank's tables (numba DP, + and - strands) equal score_distribution/survival bit for bit."""
    bank = _Bank(motifs, ScanOptions(), NRDB_DNA)
    bgv = fimo_background(NRDB_DNA, True)
    for j, st in enumerate(bank.strands):
        m = motifs[st.motif]
        ints, _, _ = fimo_grid(m.probabilities_with_pseudocount(0.1, bgv), bgv)
        # NRDB averaged with its complement is strand-symmetric: the - strand is the + strand's matrix read
        # backwards, with the + strand's (equal) distribution
        assert np.array_equal(st.ints, ints[::-1, ::-1] if st.strand == "-" else ints)
        smin, pmf = score_distribution(ints, bgv)
        assert st.smin == smin
        assert np.array_equal(bank.sf_flat[bank.sf_off[j]:bank.sf_off[j + 1]], survival(pmf))


def test_pi0_histograms_equal_a_direct_count(motifs, peaks):
    """The binned sample (4-column score blocks, per-entry bin table) counts what the p-values say."""
    run = _Run(peaks[:60], motifs, ScanOptions())
    list(run.hits())
    bank, win = run.bank, run.sample.codes.astype(np.int64)
    c4, first_n = kern.window_codes4(np.ascontiguousarray(run.sample.codes))
    tab, bins = bank.pi0_tables()
    got = kern.sample_bins(c4, first_n, bank.widths, tab, bank.smin, bank.sf_off, bins, PI0_LAMBDAS)
    assert (win == 4).any()                                     # the sample holds windows with N
    for j, w in enumerate(bank.widths):
        ok = (win[:, :w] <= 3).all(axis=1)
        s = bank.int_table[j, np.arange(w)[None], win[ok, :w]].sum(axis=1)
        k = np.clip(s - bank.smin[j], 0, bank.sf_len[j] - 1)
        p = bank.sf_flat[bank.sf_off[j] + k]
        want = np.bincount(np.searchsorted(PI0_GRID, p, side="right"), minlength=PI0_LAMBDAS + 1)
        assert np.array_equal(got[j], want), j


def test_window_sample_keeps_the_smallest_keys():
    """Bottom-k over blocks of very different sizes: the kept keys are the k smallest of all drawn."""
    size, rng = 500, np.random.default_rng(1)
    sample = _WindowSample(size, 4, seed=3)
    draws = np.random.default_rng(3)        # the sample's own stream, replayed
    codes_all, keys_all = [], []
    for n in (50, 200_000, 7, 120_000, 1_000, 300_000):
        codes = rng.integers(0, 5, n + 3).astype(np.uint8)
        sample.add(codes, n)
        keys_all.append(draws.random(n))
        codes_all.append(codes[np.minimum(np.arange(n)[:, None] + np.arange(4)[None], len(codes) - 1)])
    keys, codes = np.concatenate(keys_all), np.concatenate(codes_all)
    best = np.argsort(keys)[:size]
    order = np.argsort(sample.keys)
    assert np.array_equal(sample.keys[order], keys[best])
    assert np.array_equal(sample.codes[order], codes[best])


def test_scan_with_a_cached_bank_equals_a_fresh_scan(motifs, peaks):
    clear_cache()
    fresh = scan(peaks, motifs, threshold=1e-3)
    cached = scan(peaks, motifs, threshold=1e-3)
    clear_cache()
    again = scan(peaks, motifs, threshold=1e-3)
    assert len(fresh) > 100
    pd.testing.assert_frame_equal(fresh, cached)
    pd.testing.assert_frame_equal(fresh, again)


def _python(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}).stdout.strip()


def test_cpu_scans_never_import_torch(tmp_path):
    """The scan package, a CPU scan and the `seqconv scan` command work without importing torch."""
    from seqconv.scan.device import _gpu_build

    if _gpu_build():
        pytest.skip("this torch is built for a GPU: device=None asks torch whether one is present")
    out = tmp_path / "hits.tsv"
    code = ("import sys\n"
            "from seqconv.scan import scan\n"
            f"df = scan({str(EXAMPLE_FA)!r}, 'jaspar', threshold=1e-5)\n"
            "from seqconv.cli import main\n"
            f"main(['scan', '--motifs', 'jaspar', '--fasta', {str(EXAMPLE_FA)!r}, '--out', {str(out)!r}, '-q',"
            " '--threshold', '1e-5'], standalone_mode=False)\n"
            "print(len(df), 'torch' in sys.modules)")
    n, torch_loaded = _python(code).split()
    assert int(n) > 0 and torch_loaded == "False"
    assert len(out.read_text().splitlines()) == int(n) + 1


def test_score_matrix_still_reachable():
    """score_matrix (torch) is loaded on first use from seqconv.scan."""
    assert _python("import sys, seqconv.scan as s; a = 'torch' in sys.modules; f = s.score_matrix; "
                   "print(a, 'torch' in sys.modules, f.__module__)") == "False True seqconv.scan.dense"


def test_a_motif_file_is_parsed_again_when_its_bytes_change(tmp_path, motifs):
    from seqconv.motifs import write_meme
    from seqconv.scan.run import _motif_list

    path = tmp_path / "m.meme"
    write_meme(motifs[:3], path)
    first = _motif_list(path)
    assert _motif_list(str(path))[0] is first[0]               # same bytes: parsed once
    write_meme(motifs[3:5], path)
    again = _motif_list(path)
    assert [m.id for m in again] == [m.id for m in motifs[3:5]]
