"""Motif scanning benchmark: seqconv.scan vs memelite's fimo, MOODS and Biopython, in one run.

All 879 JASPAR 2024 CORE vertebrates non-redundant motifs, both strands, p < 1e-4, over real
genomic sequence from ../shared/data (janggu pseudo-genome = Oct4/MafK peaks, then GUE TF
sequences): 1 Mb and 10 Mb, plus a 250 Mb sequence (the real sequences tiled) for seqconv.

Every tool gets the same log-odds: MEME pseudocount 0.1 (n = nsites), log2(p'/0.25).  memelite
is given the pseudocounted probabilities with eps=0, MOODS and Biopython the log-odds matrices.
Tools run interleaved (rounds of seqconv, memelite, MOODS, ...) and the best round is kept, as
the 2 CPU cores are shared.  Throughput = bases x motifs / second (both strands scanned).

Run (needs benchmarks/.venv-scan: python -m venv --system-site-packages benchmarks/.venv-scan;
benchmarks/.venv-scan/bin/pip install memelite MOODS-python):

    benchmarks/.venv-scan/bin/python benchmarks/scan.py            # 1 Mb, 10 Mb, 250 Mb
    benchmarks/.venv-scan/bin/python benchmarks/scan.py --quick    # 1 Mb only

Writes benchmarks/results/scan.md and prints the same tables.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.metadata as md
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from seqconv.motifs import jaspar_collection  # noqa: E402
from seqconv.scan import scan  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
WORK = ROOT / "benchmarks" / "work"
RESULTS = ROOT / "benchmarks" / "results" / "scan.md"
THRESH = 1e-4
PSEUDO = 0.1


# ------------------------------------------------------------------ data

def _real_records():
    """Real sequences in a fixed order: janggu pseudo-genome records, then GUE sequences."""
    from seqconv.genome import iter_fasta

    for name, seq in iter_fasta(SHARED / "janggu_oct4_mafk" / "pseudo_genome.fa.gz"):
        yield name, seq.upper()
    for task in ["tf_0", "tf_1", "tf_2", "tf_3", "tf_4", "mouse_0", "mouse_2", "mouse_3", "mouse_4"]:
        for split in ["train", "dev", "test"]:
            with gzip.open(SHARED / "gue_tf" / task / f"{split}.csv.gz", "rt") as fh:
                next(fh)
                for i, line in enumerate(fh):
                    yield f"gue_{task}_{split}_{i}", line.split(",")[0]


def build_inputs(sizes):
    WORK.mkdir(parents=True, exist_ok=True)
    paths = {}
    for label, n_bp, mode in sizes:
        path = WORK / f"scan_{label}.fa"
        paths[label] = path
        if path.exists():
            continue
        with open(path, "w") as fh:
            if mode == "records":   # real records until n_bp (the last one cut)
                left = n_bp
                for name, seq in _real_records():
                    piece = seq[:left]
                    fh.write(f">{name}\n{piece}\n")
                    left -= len(piece)
                    if left <= 0:
                        break
            else:                   # one record tiling the real sequences (chromosome-sized)
                fh.write(">tiled_real_250Mb\n")
                left = n_bp
                while left > 0:
                    for _, seq in _real_records():
                        piece = seq[:left]
                        for k in range(0, len(piece), 80):
                            fh.write(piece[k:k + 80] + "\n")
                        left -= len(piece)
                        if left <= 0:
                            break
    return paths


def read_fasta_plain(path):
    names, seqs, cur = [], [], []
    with open(path) as fh:
        for line in fh:
            if line.startswith(">"):
                if cur:
                    seqs.append("".join(cur))
                names.append(line[1:].split()[0])
                cur = []
            else:
                cur.append(line.strip())
    seqs.append("".join(cur))
    return names, seqs


# ------------------------------------------------------------------ tools

def run_seqconv(fa, motifs, method="fimo"):
    return scan(str(fa), motifs, threshold=THRESH, pseudocount=PSEUDO, method=method, device="cpu")


def run_memelite(fa, motifs):
    from memelite import fimo

    d = {m.id: m.probabilities_with_pseudocount(PSEUDO).T.copy() for m in motifs}
    hits = fimo(d, str(fa), threshold=THRESH, eps=0.0, bin_size=0.1)
    hits = [h for h in hits if len(h)]
    return pd.concat(hits, ignore_index=True) if hits else pd.DataFrame()


def moods_setup(motifs):
    import MOODS.tools

    mats, thr, ids = [], [], []
    for m in motifs:
        for strand, mm in (("+", m), ("-", m.reverse_complement())):
            lo = mm.log_odds(PSEUDO)
            mat = [list(map(float, lo[:, b])) for b in range(4)]
            mats.append(mat)
            thr.append(MOODS.tools.threshold_from_p(mat, [0.25] * 4, THRESH))
            ids.append((m.id, strand, m.width))
    return mats, thr, ids


def run_moods(fa, motifs, setup):
    import MOODS.scan

    mats, thr, ids = setup
    scanner = MOODS.scan.Scanner(7)
    scanner.set_motifs(mats, [0.25] * 4, thr)
    names, seqs = read_fasta_plain(fa)
    rows = []
    for name, seq in zip(names, seqs):
        res = scanner.scan(seq)
        for j, hits in enumerate(res):
            mid, strand, _ = ids[j]
            for h in hits:
                rows.append((mid, name, h.pos, strand, h.score))
    return pd.DataFrame(rows, columns=["motif_id", "sequence_id", "start", "strand", "score"])


def run_biopython(fa, motifs, setup_thr):
    from Bio.motifs.matrix import PositionSpecificScoringMatrix

    names, seqs = read_fasta_plain(fa)
    n = 0
    for m, t in zip(motifs, setup_thr):
        lo = m.log_odds(PSEUDO)
        pssm = PositionSpecificScoringMatrix("ACGT", {c: lo[:, k] for k, c in enumerate("ACGT")})
        for seq in seqs:
            for _pos, _score in pssm.search(seq, threshold=t, both=True):
                n += 1
    return n


def timed(fn, *args):
    t = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t, out


def versions():
    out = {"python": platform.python_version(), "torch": torch.__version__}
    for pkg in ["memelite", "MOODS-python", "biopython", "numba", "numpy"]:
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = "absent"
    return out


# ------------------------------------------------------------------ correctness

def compare(sc_memelite, sc_fimo, mm, moods):
    key = ["motif_id", "sequence_id", "start", "strand"]
    mm = mm.rename(columns={"motif_name": "motif_id", "sequence_name": "sequence_id", "p-value": "p_value"})
    A = set(map(tuple, sc_memelite[key].to_numpy()))
    B = set(map(tuple, mm[key].to_numpy()))
    only_mm = mm[[k not in A for k in map(tuple, mm[key].to_numpy())]]
    only_sc = sc_memelite[[k not in B for k in map(tuple, sc_memelite[key].to_numpy())]]
    both = sc_memelite.merge(mm, on=key, suffixes=("_sc", "_mm"))
    both = both[both.p_value_mm > 0]
    rel = (np.abs(both.p_value_sc - both.p_value_mm) / both.p_value_mm).max()
    dscore = np.abs(both.score_sc - both.score_mm).max()
    zero_p = int((only_mm.p_value == 0).sum())
    F = set(map(tuple, sc_fimo[key].to_numpy()))
    M = set(map(tuple, moods[key].to_numpy()))
    return {
        "memelite_hits": len(B), "seqconv_memelite_mode_hits": len(A),
        "agree": len(A & B), "only_memelite": len(B - A), "only_seqconv": len(A - B),
        "only_memelite_with_p0": zero_p,
        "only_memelite_motifs": sorted(set(only_mm.motif_id))[:10],
        "only_seqconv_examples": only_sc.head(3).to_dict("records"),
        "agreement_excluding_p0": (len(A & B)) / max(1, len(A | B) - zero_p),
        "max_rel_pvalue_diff": float(rel), "max_abs_score_diff": float(dscore),
        "fimo_mode_hits": len(F), "fimo_vs_memelite_jaccard": len(F & B) / len(F | B),
        "fimo_only": len(F - B), "memelite_only_vs_fimo": len(B - F),
        "moods_hits": len(M), "fimo_vs_moods_jaccard": len(F & M) / len(F | M),
    }


# ------------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="1 Mb only")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-biopython", action="store_true")
    ap.add_argument("--no-250", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    import numba

    numba.set_num_threads(args.threads)
    sizes = [("1Mb", 1_000_000, "records"), ("10Mb", 10_000_000, "records")]
    if args.quick:
        sizes = sizes[:1]
    if not args.quick and not args.no_250:
        sizes.append(("250Mb", 250_000_000, "tiled"))
    paths = build_inputs(sizes)
    motifs = jaspar_collection()
    M = len(motifs)
    vers = versions()
    print(json.dumps(vers))

    # warm-ups (numba compile, torch first call), not timed
    small = WORK / "scan_warm.fa"
    small.write_text(">w\n" + "ACGT" * 500 + "\n")
    run_memelite(small, motifs)
    run_seqconv(small, motifs)
    t_setup, moods_cfg = timed(moods_setup, motifs)
    print(f"MOODS thresholds + matrices: {t_setup:.1f} s (not counted)")

    rows, correctness = [], None
    for label, n_bp, _ in sizes:
        if label == "250Mb":
            continue
        fa = paths[label]
        bases = sum(len(s) for s in read_fasta_plain(fa)[1])
        best = {}
        for rnd in range(args.rounds):
            for tool in ["seqconv", "memelite", "MOODS"] + ([] if args.no_biopython or label != "1Mb" or rnd
                                                            else ["Biopython"]):
                if tool == "seqconv":
                    dt, out = timed(run_seqconv, fa, motifs)
                    n = len(out)
                    if label == "1Mb":
                        sc_fimo = out
                elif tool == "memelite":
                    dt, out = timed(run_memelite, fa, motifs)
                    n = len(out)
                    if label == "1Mb":
                        mm = out
                elif tool == "MOODS":
                    dt, out = timed(run_moods, fa, motifs, moods_cfg)
                    n = len(out)
                    if label == "1Mb":
                        moods = out
                else:
                    thr = [moods_cfg[1][2 * k] for k in range(M)]
                    dt, n = timed(run_biopython, fa, motifs, thr)
                print(f"{label} round {rnd} {tool}: {dt:.2f} s, {n} hits", flush=True)
                if tool not in best or dt < best[tool][0]:
                    best[tool] = (dt, n)
        for tool, (dt, n) in best.items():
            rows.append({"input": label, "bases": bases, "tool": tool, "seconds": dt, "hits": n,
                         "Gbase_motif_per_s": bases * M / dt / 1e9})
        if label == "1Mb":
            sc_ml = run_seqconv(fa, motifs, method="memelite")
            correctness = compare(sc_ml, sc_fimo, mm, moods)
            print(json.dumps(correctness, indent=1, default=str))
    table = pd.DataFrame(rows)
    for label in table.input.unique():
        sel = table.input == label
        ref = table[sel & (table.tool == "memelite")].seconds.iloc[0]
        table.loc[sel, "speed_vs_memelite"] = ref / table[sel].seconds

    big = None
    if "250Mb" in paths:
        code = ("import sys,time,torch; sys.path.insert(0, %r); torch.set_num_threads(%d);"
                "from seqconv.scan import scan_to_file; t=time.perf_counter();"
                "n=scan_to_file(%r, 'jaspar', %r, threshold=%g); print(n, time.perf_counter()-t)"
                % (str(ROOT), args.threads, str(paths["250Mb"]), str(WORK / "scan_250Mb_hits.tsv"), THRESH))
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stderr[-2000:])
        else:
            n_hits, secs = proc.stdout.split()
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            big = {"bases": 250_000_000, "hits": int(n_hits), "seconds": float(secs),
                   "peak_rss_MB": max(peak, before) / 1024,
                   "Gbase_motif_per_s": 250e6 * M / float(secs) / 1e9}
            print(json.dumps(big))
    write_report(table, correctness, big, vers, args)


def write_report(table, corr, big, vers, args):
    lines = ["# Motif scanning benchmark (`benchmarks/scan.py`)", ""]
    lines += [f"Command: `benchmarks/.venv-scan/bin/python benchmarks/scan.py"
              f"{' --quick' if args.quick else ''}` ({args.rounds} interleaved rounds, best kept; "
              f"{args.threads} threads for torch and numba; MOODS and Biopython single-threaded).", ""]
    lines += ["Machine: " + f"{os.cpu_count()} CPU cores (shared with other jobs), {platform.processor() or 'x86_64'}; "
              + ", ".join(f"{k} {v}" for k, v in vers.items()), ""]
    lines += ["Motifs: 879 JASPAR 2024 CORE vertebrates non-redundant, both strands, p < 1e-4, "
              "pseudocount 0.1, uniform background.", ""]
    lines += ["## Speed", "", "| input | bases | tool | seconds | hits | Gbase x motif / s | speed vs memelite |",
              "|---|---|---|---|---|---|---|"]
    for r in table.itertuples():
        lines.append(f"| {r.input} | {r.bases:,} | {r.tool} | {r.seconds:.2f} | {r.hits:,} | "
                     f"{r.Gbase_motif_per_s:.3f} | {r.speed_vs_memelite:.2f}x |")
    if big:
        lines += ["", f"250 Mb (one record tiling the real sequences, seqconv only, `scan_to_file` streaming "
                  f"to TSV): {big['seconds']:.0f} s, {big['hits']:,} hits, "
                  f"{big['Gbase_motif_per_s']:.3f} Gbase x motif / s, peak RSS {big['peak_rss_MB']:.0f} MB."]
    if corr:
        lines += ["", "## Correctness (1 Mb)", "", "```", json.dumps(corr, indent=1, default=str), "```"]
    lines += ["", NOTES.strip(), "", readme_snippet()]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


NOTES = """
## How the hit sets differ, and why

* **seqconv `method="memelite"` vs memelite** (same log-odds, same 0.1-bit grid, memelite's rule: float score
  above the bin threshold, p-value of the truncated bin, strict `p < 1e-4`): every seqconv hit is a memelite hit,
  p-values agree to ~1e-14 relative and scores to ~1e-14 bits.  The only memelite-only hits all have
  **p-value = 0** and come from motifs whose best possible window has p > 1e-4 (e.g. MA0103.4, width 6: the best
  6-mer has p = 4^-6 = 2.4e-4), so no window can reach the threshold.  memelite's p-value table has empty bins
  above the motif's top score (its table range adds `+ width` bins), whose log p-value is -inf; its threshold search
  picks the first of them and the top-scoring windows are reported with p = 0.  These are memelite false positives.
* **seqconv default (`method="fimo"`) vs memelite**: FIMO (and seqconv) decide on the integer-scaled score, the sum
  of the rounded column scores, whose p-value is exact; memelite compares the float score with a bin boundary and
  looks up the truncated bin.  The two rules only disagree near the threshold, hence a Jaccard index of ~0.95
  (the fimo-mode counts above).  Measured on the 1 Mb input (`method="memelite"` run as the reference, so memelite's
  p = 0 hits are left out): the 8,236 fimo-only windows have float scores 0 to 0.42 bit *below* memelite's threshold
  (76% within one 0.1-bit bin) but a rounded integer score at FIMO's threshold; the 2,728 memelite-only windows have
  float scores 0 to 0.22 bit *above* it (94% within one bin) but a rounded score just short.  All of them have
  p-values between 6.1e-5 and 1e-4 in both definitions.  Neither is wrong: they are two discretisations of the same
  p-value; seqconv's default is MEME FIMO's.
* **MOODS** uses `MOODS.tools.threshold_from_p` (its own approximate score distribution), which gives looser score
  thresholds here, hence more hits (Jaccard ~0.77 with seqconv).  **Biopython** was given the same score thresholds
  as MOODS and returns exactly the same number of hits, a check of both.
* Windows containing N: seqconv and MEME FIMO skip them; memelite scores N as 0.  The benchmark sequences hold no N.

## Speed against the issue's target (>= 3x memelite, faster than MOODS)

Not met on this CPU.  seqconv beats MOODS and Biopython but reaches about 0.5x (1 Mb) to 0.9x (10 Mb) of
memelite 0.5.0.  The engine is the dense design of the issue: per block of 4,096 windows and per width group,
one bfloat16 matrix product of the unfolded one-hot windows with every motif-strand's integer matrix (threshold
folded in as a bias, exact), a max over runs of 32 windows on the int16 view to find the sign changes, then exact
rescoring of the few candidates.  It evaluates every (window, motif-strand) pair: 1.76e9 per Mb with 879 motifs,
about 45 multiply-adds each, and writes each product once.  memelite 0.5.0 is a numba kernel tuned on this very CPU
family (AMD Zen 5) that abandons most windows after one or two table lookups, so it touches far less than one
multiply-add per pair.  Closing the gap on CPU needs a sub-linear filter (k-mer seeds of the informative motifs with
an inverted index of the sequence, the dense product kept for the ~12% low-information motifs) or a compiled kernel;
on a GPU the same dense product runs as float16 matrix products (`device="cuda"`, not measured here: no GPU was
available to this run).
"""


def readme_snippet():
    """A real scan of the bundled example peaks, through the CLI and the API (for the README)."""
    fa = ROOT / "data" / "example_oct4_mafk_test.fa"
    cmd = ["seqconv", "scan", "--motifs", "jaspar", "--fasta", str(fa.relative_to(ROOT)), "--thresh", "1e-5", "-q"]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    head = "\n".join(res.stdout.splitlines()[:6])
    hits = scan(str(fa), "jaspar", threshold=1e-5)
    top = hits.motif_name.value_counts().head(5)
    pou = hits[hits.motif_name == "Pou5f1::Sox2"]
    in_oct4 = pou.sequence_id.str.startswith("oct4").sum()
    return "\n".join([
        "## README snippet", "",
        "Scan 200 real ChIP-seq peaks (100 Oct4, 100 MafK; `data/example_oct4_mafk_test.fa`) with all 879 JASPAR "
        "2024 CORE vertebrate motifs, both strands:", "",
        "```console", "$ " + " ".join(cmd) + " | head -6", head, "```", "",
        "```python",
        ">>> from seqconv.scan import scan",
        f">>> hits = scan({str(fa.relative_to(ROOT))!r}, \"jaspar\", threshold=1e-5)",
        ">>> len(hits)", str(len(hits)),
        ">>> hits.motif_name.value_counts().head(5)", top.to_string(),
        "```", "",
        f"MAF-family motifs lead (half the peaks are MafK peaks) and {in_oct4} of the {len(pou)} "
        "Pou5f1::Sox2 (MA0142.1) hits fall in the Oct4 peaks.  Columns: 0-based half-open start/end, score in bits, "
        "exact FIMO p-value, Benjamini-Hochberg q-value over every window tested, matched site read on its strand.",
    ])


if __name__ == "__main__":
    main()
