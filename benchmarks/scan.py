"""Motif scanning benchmark: seqconv.scan vs the MEME suite's own fimo 5.5.8, memelite and MOODS, one run.

Data: the real S. cerevisiae genome (sacCer3 R64, ../shared/data/yeast_sacCer3_chip) cut into a 1 Mb
and a 10 Mb set; the assembly has no N, so assembly-gap-like N runs (one 50-2,000 bp run per ~40 kb)
and one IUPAC letter per ~10 kb are put in at seeded positions, and one empty record is added.
Motifs: JASPAR 2024 CORE vertebrates (879) and fungi (178) non-redundant (../shared/data/jaspar2024).
p < 1e-4, both strands.

* Agreement: ``seqconv.scan`` with its defaults (FIMO's) against plain ``fimo --thresh 1e-4`` on the
  same files: hits (Jaccard), p-values of common hits at FIMO's printed precision (%.3g), q-values.
* Speed: rounds interleaved (seqconv, memelite, MOODS, seqconv, ...), best round kept; fimo runs
  once per set (it is ~100x slower).  memelite and MOODS get the uniform background (their
  default) and the same pseudocounted matrices; seqconv runs with FIMO's defaults (its slowest
  setting: NRDB background, FIMO's grid, q-values).

Run (fimo/tomtom from benchmarks/build_meme.sh; memelite and MOODS in their own venv):

    python3 -m venv --system-site-packages ../venv-scanbench
    ../venv-scanbench/bin/pip install --no-deps memelite==0.5.0 MOODS-python==1.9.4.1
    SEQCONV_FIMO=../meme-build/bin/fimo ../venv-scanbench/bin/python benchmarks/scan.py [--rounds 3]

Writes benchmarks/results/scan.md and prints the same tables.
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from seqconv.motifs import read_motifs  # noqa: E402
from seqconv.scan import scan  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
WORK = ROOT / "benchmarks" / "work"
RESULTS = ROOT / "benchmarks" / "results" / "scan.md"
THRESH = 1e-4
PSEUDO = 0.1
JASPAR = {"vertebrates": SHARED / "jaspar2024" / "JASPAR2024_CORE_vertebrates_nonredundant.meme.gz",
          "fungi": SHARED / "jaspar2024" / "JASPAR2024_CORE_fungi_nonredundant.meme.gz"}


def genome_sets(sizes_mb=(1, 10)) -> dict[int, Path]:
    """FASTA files of the first ``mb`` Mb of sacCer3 (whole chromosomes, the last one cut), with N runs,
    IUPAC letters and an empty record put in (seed 0)."""
    WORK.mkdir(parents=True, exist_ok=True)
    chroms, name, buf = [], None, []
    with gzip.open(SHARED / "yeast_sacCer3_chip" / "sacCer3_R64.fa.gz", "rt") as fh:
        for line in fh:
            if line.startswith(">"):
                if name:
                    chroms.append((name, "".join(buf)))
                name, buf = line[1:].split()[0], []
            else:
                buf.append(line.strip())
    chroms.append((name, "".join(buf)))
    rng = np.random.default_rng(0)
    edited = []
    for name, seq in chroms:
        s = np.frombuffer(seq.encode(), dtype=np.uint8).copy()
        for a in rng.integers(0, len(s), len(s) // 40_000):
            s[a:a + int(rng.integers(50, 2000))] = ord("N")
        for a in rng.integers(0, len(s), len(s) // 10_000):
            s[a] = ord(rng.choice(list("RYKMSWBDHV")))
        edited.append((name, s.tobytes().decode()))
    out = {}
    for mb in sizes_mb:
        path = WORK / f"sacCer3_{mb}mb.fa"
        left = mb * 1_000_000
        with open(path, "w") as fh:
            for i, (name, seq) in enumerate(edited):
                piece = seq[:left]
                fh.write(f">{name}\n{piece}\n")
                if i == 0:
                    fh.write(">empty_record\n\n")
                left -= len(piece)
                if left <= 0:
                    break
        out[mb] = path
    return out


def meme_file(kind: str) -> Path:
    path = WORK / f"jaspar_{kind}.meme"
    if not path.exists():
        with gzip.open(JASPAR[kind], "rt") as src, open(path, "w") as dst:
            shutil.copyfileobj(src, dst)
    return path


# ------------------------------------------------------------------ tools

def run_seqconv(fa, meme):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return scan(str(fa), str(meme), threshold=THRESH, device="cpu")


def run_fimo(fimo, fa, meme, tag):
    out = WORK / f"fimo_{tag}"
    subprocess.run([fimo, "--verbosity", "1", "--thresh", str(THRESH), "--oc", str(out), str(meme), str(fa)],
                   check=True)
    ref = pd.read_csv(out / "fimo.tsv", sep="\t", comment="#").dropna(subset=["start"])
    ref["start0"] = ref["start"].astype(int) - 1
    return ref


def run_memelite(fa, motifs):
    from memelite import fimo

    d = {m.id: m.probabilities_with_pseudocount(PSEUDO).T.copy() for m in motifs}
    hits = [h for h in fimo(d, str(fa), threshold=THRESH, eps=0.0, bin_size=0.1) if len(h)]
    return sum(len(h) for h in hits)


def read_fasta_plain(path):
    names, seqs, cur = [], [], None
    with open(path) as fh:
        for line in fh:
            if line.startswith(">"):
                if cur is not None:
                    seqs.append("".join(cur))
                names.append(line[1:].split()[0])
                cur = []
            else:
                cur.append(line.strip())
    seqs.append("".join(cur))
    return [(n, s) for n, s in zip(names, seqs) if s]


def moods_setup(motifs):
    import MOODS.tools

    mats, thr = [], []
    for m in motifs:
        for mm in (m, m.reverse_complement()):
            lo = mm.log_odds(PSEUDO)
            mat = [list(map(float, lo[:, b])) for b in range(4)]
            mats.append(mat)
            thr.append(MOODS.tools.threshold_from_p(mat, [0.25] * 4, THRESH))
    return mats, thr


def run_moods(fa, setup):
    import MOODS.scan

    mats, thr = setup
    scanner = MOODS.scan.Scanner(7)
    scanner.set_motifs(mats, [0.25] * 4, thr)
    return sum(len(h) for _, seq in read_fasta_plain(fa) for h in scanner.scan(seq))


def agreement(got: pd.DataFrame, ref: pd.DataFrame) -> dict:
    a = set(zip(got.motif_id, got.sequence_id, got.start, got.strand))
    b = set(zip(ref.motif_id, ref.sequence_name, ref.start0, ref.strand))
    m = got.merge(ref, left_on=["motif_id", "sequence_id", "start", "strand"],
                  right_on=["motif_id", "sequence_name", "start0", "strand"])
    pr = np.array([float(f"{p:.3g}") for p in m.p_value])
    relp = np.abs(pr - m["p-value"]) / m["p-value"]
    qr = np.array([float(f"{q:.3g}") for q in m.q_value])
    relq = np.abs(qr - m["q-value"]) / m["q-value"]
    return {"seqconv hits": len(a), "fimo hits": len(b), "common": len(a & b),
            "Jaccard": len(a & b) / max(1, len(a | b)), "p within 1%": (relp <= 0.01).mean(),
            "p max rel. diff": relp.max(), "q within 1%": (relq <= 0.01).mean(),
            "q within 5%": (relq <= 0.05).mean(), "q median rel. diff": np.median(relq),
            "q < 0.05 (seqconv / fimo)": f"{int((m.q_value < 0.05).sum())} / {int((m['q-value'] < 0.05).sum())}"}


def cpu_model() -> str:
    try:
        return next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if "model name" in line)
    except (OSError, StopIteration):
        return platform.processor()


def timed(fn, *a):
    t, c = time.perf_counter(), time.process_time()
    r = fn(*a)
    return r, time.perf_counter() - t, time.process_time() - c


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-fimo", action="store_true")
    args = ap.parse_args()
    fimo = os.environ.get("SEQCONV_FIMO") or shutil.which("fimo")
    load0 = os.getloadavg()
    sets = genome_sets()
    lines = ["# Motif scanning: seqconv vs real FIMO 5.5.8, memelite 0.5.0, MOODS 1.9.4.1", "",
             f"Command: `SEQCONV_FIMO=../meme-build/bin/fimo ../venv-scanbench/bin/python benchmarks/scan.py "
             f"--rounds {args.rounds}`", "",
             f"CPU: {cpu_model()}, {os.cpu_count()} cores; numba threads {os.environ.get('NUMBA_NUM_THREADS', 'all')}; "
             f"load average before {load0[0]:.2f}.", "",
             "Data: sacCer3 R64 (real genome), N runs and IUPAC letters put in, one empty record "
             "(see the docstring); p < 1e-4, both strands.", ""]
    # ---------------- agreement with real fimo (and its time)
    fimo_time = {}
    if fimo and not args.no_fimo:
        lines += ["## Agreement with real fimo (plain `fimo --thresh 1e-4`, seqconv with its defaults)", "",
                  "| set | motifs | seqconv hits | fimo hits | "
                  "Jaccard | p within 1% | p max rel. diff | q within 1% | q within 5% | q median rel. diff | "
                  "q < 0.05 (seqconv / fimo) | fimo wall s | seqconv wall s |", "|" + "---|" * 13]
        for kind in ("vertebrates", "fungi"):
            meme = meme_file(kind)
            ref, tf, _ = timed(run_fimo, fimo, sets[1], meme, f"{kind}_1mb")
            got, ts, _ = timed(run_seqconv, sets[1], meme)
            fimo_time[kind] = tf
            a = agreement(got, ref)
            lines.append(f"| 1 Mb | {kind} {len(read_motifs(meme))} | {a['seqconv hits']} | {a['fimo hits']} | "
                         f"{a['Jaccard']:.5f} | {a['p within 1%']:.5f} | {a['p max rel. diff']:.2g} | "
                         f"{a['q within 1%']:.4f} | {a['q within 5%']:.4f} | {a['q median rel. diff']:.2g} | "
                         f"{a['q < 0.05 (seqconv / fimo)']} | {tf:.1f} | {ts:.2f} |")
            print(lines[-1], flush=True)
        lines.append("")
    # ---------------- speed, interleaved
    meme = meme_file("vertebrates")
    motifs = read_motifs(meme)
    setup = moods_setup(motifs)
    lines += ["## Speed (879 vertebrate motifs; best of interleaved rounds; wall s and CPU s)", "",
              "| size | seqconv wall | seqconv CPU | memelite wall | memelite CPU | MOODS wall | MOODS CPU | "
              "seqconv / memelite | seqconv / MOODS | real fimo wall |", "|" + "---|" * 10]
    run_seqconv(sets[1], meme)                     # compile / load kernels once
    for mb, fa in sets.items():
        best = {}
        for r in range(args.rounds if mb == 1 else max(1, args.rounds - 1)):
            for tool, fn in (("seqconv", lambda: run_seqconv(fa, meme)), ("memelite", lambda: run_memelite(fa, motifs)),
                             ("moods", lambda: run_moods(fa, setup))):
                _, w, c = timed(fn)
                if tool not in best or w < best[tool][0]:
                    best[tool] = (w, c)
                print(f"{mb} Mb round {r} {tool}: {w:.2f} s wall, {c:.2f} s CPU", flush=True)
        s, m_, mo = best["seqconv"], best["memelite"], best["moods"]
        ft = f"{fimo_time['vertebrates']:.0f} ({fimo_time['vertebrates'] / s[0]:.0f}x)" if mb == 1 and fimo_time else "-"
        lines.append(f"| {mb} Mb | {s[0]:.2f} | {s[1]:.2f} | {m_[0]:.2f} | {m_[1]:.2f} | {mo[0]:.2f} | {mo[1]:.2f} | "
                     f"{m_[0] / s[0]:.2f}x | {mo[0] / s[0]:.2f}x | {ft} |")
        print(lines[-1], flush=True)
    load1 = os.getloadavg()
    lines += ["", f"Load average after: {load1[0]:.2f} (before {load0[0]:.2f}); the 2 cores are shared, so "
              "ratios come from the same interleaved rounds.", ""]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
