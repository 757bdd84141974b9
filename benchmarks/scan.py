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
    SEQCONV_FIMO=../meme-build/bin/fimo SEQCONV_TOMTOM=../meme-build/bin/tomtom \
        ../venv-scanbench/bin/python benchmarks/scan.py [--rounds 3]
    python3 benchmarks/scan.py --genome-mb 250     # genome scale only: engine vs scan_to_file, peak RSS

Genome scale: the edited sacCer3 tiled to ``--genome-mb`` Mb (one record per copy), 879 vertebrate
motifs, FIMO's defaults; in fresh processes, the engine alone (hits generated, nothing kept) and
``seqconv scan --format tsv --out`` (hits streamed to text with FIMO's q-values; ``--genome-formats
tsv,bed,gff`` for more formats, a section of its own); wall and CPU s and peak RSS of each, interleaved
over ``--rounds``.  Appends to benchmarks/results/scan.md.

Writes benchmarks/results/scan.md and prints the same tables.
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from _machine import machine_record, machine_text  # noqa: E402  (benchmarks/ is the script's folder)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from seqconv.motifs import read_motifs, write_meme  # noqa: E402
from seqconv.scan import clear_caches, scan  # noqa: E402

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
        WORK.mkdir(parents=True, exist_ok=True)   # --compare-only / --startup may be the first run
        with gzip.open(JASPAR[kind], "rt") as src, open(path, "w") as dst:
            shutil.copyfileobj(src, dst)
    return path


# ------------------------------------------------------------------ tools

def run_seqconv(fa, meme):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return scan(str(fa), str(meme), threshold=THRESH, device="cpu")


def run_fimo(fimo, fa, meme, tag) -> tuple[pd.DataFrame, float]:
    """Real fimo's hits and its wall time; an earlier run's output in benchmarks/work is reused (delete
    benchmarks/work/fimo_* to run it again)."""
    out = WORK / f"fimo_{tag}"
    secs = out / "seconds.txt"
    if not (secs.exists() and (out / "fimo.tsv").exists()):
        t = time.perf_counter()
        subprocess.run([fimo, "--verbosity", "1", "--thresh", str(THRESH), "--oc", str(out), str(meme), str(fa)],
                       check=True)
        secs.write_text(f"{time.perf_counter() - t}\n")
    ref = pd.read_csv(out / "fimo.tsv", sep="\t", comment="#").dropna(subset=["start"])
    ref["start0"] = ref["start"].astype(int) - 1
    return ref, float(secs.read_text())


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


def timed(fn, *a):
    t, c = time.perf_counter(), time.process_time()
    r = fn(*a)
    return r, time.perf_counter() - t, time.process_time() - c


_ENGINE = """
import sys, warnings
sys.path.insert(0, {root!r})
warnings.simplefilter("ignore")
from seqconv.scan import ScanOptions
from seqconv.scan.run import _Run
run = _Run({fa!r}, {meme!r}, ScanOptions())
n = sum(len(h["col"]) for h in run.hits())
run.pi0()
print(n)
"""


def _child(cmd: list[str]) -> tuple[float, float, float, str]:
    """Wall s, CPU s (user + sys) and peak RSS (GiB) of a fresh process."""
    code = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
            "r = subprocess.run(sys.argv[1:], capture_output=True, text=True); w = time.perf_counter() - t; "
            "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
            "print(w, u.ru_utime + u.ru_stime, u.ru_maxrss / 2 ** 20, r.returncode, "
            "repr(('NOTICE compiling scan kernels ' if 'compiling scan kernels' in r.stderr else '') "
            "+ r.stdout[-200:] + r.stderr[-400:]))")
    out = subprocess.run([sys.executable, "-c", code, *cmd], capture_output=True, text=True, check=True).stdout.split(" ", 4)
    if out[3] != "0":
        raise RuntimeError(out[4])
    return float(out[0]), float(out[1]), float(out[2]), out[4]


def _threads() -> dict:
    return {"numba (seqconv, memelite)": os.environ.get("NUMBA_NUM_THREADS", f"all ({os.cpu_count()})")}


def _own(threads: dict) -> int:
    return int(os.environ.get("NUMBA_NUM_THREADS") or os.cpu_count() or 1)


def genome_scale(mb: int, rounds: int, formats: tuple[str, ...] = ("tsv",)) -> list[str]:
    """The engine alone vs ``seqconv scan --format F --out`` for each of ``formats``, interleaved rounds."""
    base = genome_sets((1, 10))[10]
    fa = WORK / f"sacCer3_tiled_{mb}mb.fa"
    if not fa.exists():
        text = base.read_text().split(">")[1:]
        recs = [(r.split("\n", 1)[0], r.split("\n", 1)[1].replace("\n", "")) for r in text]
        left = mb * 1_000_000
        with open(fa, "w") as fh:
            copy = 0
            while left > 0:
                for name, seq in recs:
                    piece = seq[:left]
                    if piece:
                        fh.write(f">{name}_copy{copy}\n{piece}\n")
                    left -= len(piece)
                    if left <= 0:
                        break
                copy += 1
    meme = meme_file("vertebrates")
    threads = _threads()
    start = machine_record(threads)
    os.environ["PYTHONPATH"] = str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")
    exe = shutil.which("seqconv") or "seqconv"
    runs = [("engine", [sys.executable, "-c", _ENGINE.format(root=str(ROOT), fa=str(fa), meme=str(meme))])]
    runs += [(fmt, [exe, "scan", "--motifs", str(meme), "--fasta", str(fa), "--format", fmt,
                    "--out", str(WORK / f"genome_hits.{fmt}"), "-q"]) for fmt in formats]
    best, per_round, sizes = {}, [], {}
    for r in range(rounds):
        pair = {}
        for tool, cmd in runs:
            w, c, rss, _ = _child(cmd)
            print(f"{mb} Mb round {r} {tool}: {w:.1f} s wall, {c:.1f} s CPU, {rss:.2f} GiB peak", flush=True)
            pair[tool] = (w, c, rss)
            if tool not in best or w < best[tool][0]:
                best[tool] = (w, c, rss)
            if tool != "engine":
                out = WORK / f"genome_hits.{tool}"
                with open(out, "rb") as fh:
                    n_lines = sum(1 for line in fh if not line.startswith(b"#"))
                sizes[tool] = (n_lines - (tool == "tsv"), out.stat().st_size / 2 ** 30)
                out.unlink()
        per_round.append(pair)
    machine = machine_record(threads, since=start)
    e = best["engine"]
    names = {"tsv": "TSV", "bed": "BED", "gff": "GFF"}
    title = "/".join(names[f] for f in formats)
    cmd_fmt = "" if formats == ("tsv",) else f" --genome-formats {','.join(formats)}"
    head = "## Genome scale" + ("" if formats == ("tsv",) else f", {title}")   # its own section in scan.md
    lines = ["", f"{head}: {mb} Mb to {title} (879 vertebrate motifs, FIMO's defaults; best of {rounds} "
             "interleaved rounds, fresh processes)", "",
             f"Command: `python3 benchmarks/scan.py --genome-mb {mb} --rounds {rounds}{cmd_fmt}` "
             f"(`seqconv scan --motifs jaspar_vertebrates.meme --fasta sacCer3_tiled_{mb}mb.fa --format F "
             "--out hits.F -q`; the engine alone: hits generated and p-values looked up, pi0 estimated, "
             "nothing kept).", "",
             "| run | wall s | CPU s | peak RSS GiB | run / engine, wall (best of each) | run / engine, CPU |",
             "|---|---|---|---|---|---|",
             f"| engine only (hits generated, pi0) | {e[0]:.1f} | {e[1]:.1f} | {e[2]:.2f} | 1 | 1 |"]
    for fmt in formats:
        f = best[fmt]
        lines.append(f"| `seqconv scan --format {fmt}` | {f[0]:.1f} | {f[1]:.1f} | {f[2]:.2f} | {f[0] / e[0]:.2f}x "
                     f"| {f[1] / e[1]:.2f}x |")
    lines += ["", "; ".join(f"{names[f]}: {sizes[f][0]:,} hits, {sizes[f][1]:.2f} GiB" for f in formats) + ".  "
              "Per round (run / engine, wall and CPU): "
              + "; ".join(", ".join(f"{names[f]} {p[f][0] / p['engine'][0]:.2f}x, {p[f][1] / p['engine'][1]:.2f}x"
                                    for f in formats) for p in per_round)
              + " (wall s stretch with the load; the CPU ratio is the steadier figure).", "",
              machine_text(machine, own_threads=_own(threads)), ""]
    return lines


def _put_section(lines: list[str]) -> None:
    """Write a ``## ...`` section into scan.md: in place of the section with the same title up to its first
    ``(`` or ``:``, else at the end."""
    title = lines[1] if not lines[0] else lines[0]
    key = title.split("(")[0].split(":")[0].strip()
    old = RESULTS.read_text().split("\n") if RESULTS.exists() else []
    heads = [i for i, line in enumerate(old) if line.startswith("## ")]
    for i in heads:
        if old[i].split("(")[0].split(":")[0].strip() == key:
            end = next((j for j in heads if j > i), len(old))
            old[i - 1 if i and not old[i - 1] else i:end] = lines + [""]
            break
    else:
        old += lines
    RESULTS.write_text("\n".join(old).rstrip("\n") + "\n")


def startup(rounds: int) -> list[str]:
    """Start-up cost of ``seqconv scan`` (fresh processes): cold caches, the install-time warm-up, later calls.

    A fresh install is an empty ``NUMBA_CACHE_DIR`` (numba then neither reads nor writes
    ``seqconv/__pycache__``) and an empty ``SEQCONV_SCAN_CACHE`` (the motif tables' disk cache).  Inputs: the
    first 1 kb of the edited sacCer3 (a scan that is nearly all overhead) and the 1 Mb set; 879 vertebrate
    motifs, FIMO's defaults.  Later calls are timed with the motif tables read from the disk cache and, for
    comparison, with it off (tables built in the call).
    """
    one_mb = genome_sets((1,))[1]
    tiny = WORK / "sacCer3_1kb.fa"
    tiny.write_text(">chrI_1kb\n" + one_mb.read_text().split("\n")[1][:1000] + "\n")
    meme = meme_file("vertebrates")
    out = WORK / "startup_hits.tsv"
    exe = shutil.which("seqconv") or "seqconv"
    os.environ["PYTHONPATH"] = str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")
    scan_cmd = lambda fa: [exe, "scan", "--motifs", str(meme), "--fasta", str(fa), "--out", str(out)]  # noqa: E731
    rows, start = [], machine_record({"numba": "default"})

    def run(label, cmd, cache, tables):
        os.environ["NUMBA_CACHE_DIR"], os.environ["SEQCONV_SCAN_CACHE"] = str(cache), str(tables)
        w, c, rss, tail = _child(cmd)
        notice = "compiling scan kernels" in tail
        rows.append((label, w, c, notice))
        print(f"{label}: {w:.2f} s wall, {c:.2f} s CPU, notice {notice}", flush=True)

    with tempfile.TemporaryDirectory(prefix="startup-") as tmp:
        tmp = Path(tmp)
        for _r in range(rounds):
            run("`python -c 'import seqconv.cli'` (every command pays it)", [sys.executable, "-c", "import seqconv.cli"],
                tmp / "import", "off")
        run("first `seqconv scan`, 1 kb, empty caches (no warm-up; kernels compiled, tables built)", scan_cmd(tiny),
            tmp / "cold", tmp / "cold-tables")
        run("second `seqconv scan`, 1 kb, same caches", scan_cmd(tiny), tmp / "cold", tmp / "cold-tables")
        warm, tables = tmp / "warm", tmp / "warm-tables"
        run("`python -m seqconv.scan.warmup -q` (install.sh), empty caches",
            [sys.executable, "-m", "seqconv.scan.warmup", "-q"], warm, tables)
        for _r in range(rounds):
            run("`seqconv scan` after the warm-up, 1 kb (tables read from the disk cache)", scan_cmd(tiny), warm, tables)
            run("`seqconv scan` after the warm-up, 1 kb, `SEQCONV_SCAN_CACHE=off` (tables built)", scan_cmd(tiny),
                warm, "off")
            run("`seqconv scan` after the warm-up, 1 Mb (tables read from the disk cache)", scan_cmd(one_mb), warm,
                tables)
        os.environ["NUMBA_CACHE_DIR"] = str(warm)
        split = {"read from the disk cache": _split_cpu(tiny, meme, out, rounds, tables),
                 "built (`SEQCONV_SCAN_CACHE=off`)": _split_cpu(tiny, meme, out, rounds, "off")}
        os.environ.pop("NUMBA_CACHE_DIR")
        os.environ.pop("SEQCONV_SCAN_CACHE")
    out.unlink(missing_ok=True)
    machine = machine_record({"numba": "default"}, since=start)
    best: dict[str, tuple] = {}
    for label, w, c, notice in rows:
        if label not in best or w < best[label][0]:
            best[label] = (w, c, notice, sum(1 for x in rows if x[0] == label))
    lines = ["", "## Start-up: first and later `seqconv scan` calls (fresh processes; best of the rounds)", "",
             f"Command: `python3 benchmarks/scan.py --startup --rounds {rounds}`.  A fresh install is an empty "
             "`NUMBA_CACHE_DIR` and an empty `SEQCONV_SCAN_CACHE` (the motif tables' disk cache, "
             "seqconv.scan.diskcache); install.sh runs the warm-up, which fills both for the bundled JASPAR "
             "motifs under the default options (wall s stretch with the load, CPU s much less).", "",
             machine_text(machine), "",
             "| call | runs | wall s | CPU s | compile notice on stderr |", "|---|---|---|---|---|"]
    for label, (w, c, notice, n) in best.items():
        lines.append(f"| {label} | {n} | {w:.2f} | {c:.2f} | {'yes' if notice else 'no'} |")
    imp = best["`python -c 'import seqconv.cli'` (every command pays it)"][1]
    after = best["`seqconv scan` after the warm-up, 1 kb (tables read from the disk cache)"][1]
    built = best["`seqconv scan` after the warm-up, 1 kb, `SEQCONV_SCAN_CACHE=off` (tables built)"][1]
    parts = "; ".join(f"tables {kind}: " + ", ".join(f"{k} {v:.2f}" for k, v in got.items() if k != "imported")
                      + f" (imported: {got['imported']})" for kind, got in split.items())
    lines += ["", f"Overhead of a later 1 kb scan beyond the CLI's import: {after - imp:.2f} s CPU with the motif "
              f"tables read from the disk cache, {built - imp:.2f} s CPU with `SEQCONV_SCAN_CACHE=off` (tables "
              "built in the call); wall s of calls made at different loads are not compared.  Where a later "
              f"call's CPU s go (one process after the warm-up, `time.process_time()` between steps, best of "
              f"{rounds}): {parts}.", ""]
    return lines


_SPLIT = """
import json, sys, time
c = [time.process_time()]
import seqconv.cli
c.append(time.process_time())
import numpy as np
from seqconv.scan.jit import load_numba_registries
load_numba_registries()                      # as `seqconv scan` does
from seqconv import _scan_kernels as k
k.count_into(np.zeros(1, np.int64), np.zeros(1, np.int64))
c.append(time.process_time())
from seqconv.motifs import read_motifs
from seqconv.scan import ScanOptions
from seqconv.scan.bank import bank_for
from seqconv.scan.engine_numba import _Lookahead
from seqconv.scan.options import NRDB_DNA
from seqconv.scan.run import _resolve_background
ms = read_motifs(sys.argv[2])
c.append(time.process_time())
opts = ScanOptions()
bank = bank_for(ms, opts, _resolve_background(opts, None, None, None))
c.append(time.process_time())
bank.derived("lookahead", lambda: _Lookahead(bank, opts.threshold))
bank.pi0_tables()
c.append(time.process_time())
from seqconv.scan import scan_to_file
scan_to_file(sys.argv[1], ms, sys.argv[3])
c.append(time.process_time())
names = ["import seqconv.cli", "numba's registries (no scipy.linalg) and first kernel", "reading the 879 motifs",
         "bank (matrices, p-value tables)", "engine index + pi0 tables",
         "the 1 kb scan to TSV (kernels loaded, sample, q-values, writing)"]
got = dict(zip(names, np.diff(c).tolist()))
got["imported"] = ", ".join(f"{m} {'yes' if m in sys.modules else 'no'}" for m in ("pandas", "pyarrow", "scipy.linalg"))
print(json.dumps(got))
"""


def _split_cpu(tiny: Path, meme: Path, out: Path, rounds: int, tables) -> dict:
    """CPU s of each step of a later scan, in one fresh process (best of ``rounds``), with the disk cache
    ``tables`` (a folder, or ``off``)."""
    import json

    best: dict = {}
    env = dict(os.environ, SEQCONV_SCAN_CACHE=str(tables))
    for _ in range(rounds):
        got = json.loads(subprocess.run([sys.executable, "-c", _SPLIT, str(tiny), str(meme), str(out)], env=env,
                                        capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])
        best = {k: (v if isinstance(v, str) else min(v, best.get(k, v))) for k, v in got.items()}
    return best


MODELS = {"oct4_mafk": "data/example_oct4_mafk_test.fa", "gue_tf_0": "w101", "deepbind_CTCFL": "w101",
          "yeast_chexmix": "w101"}


def learned_motifs() -> Path:
    """Learned-filter motifs of four bundled models (``seqconv motifs``, flanks trimmed), one MEME file."""
    out = WORK / "learned_filters.meme"
    if out.exists():
        return out
    w101 = WORK / "peaks_101bp.fa"
    recs = (ROOT / "data" / "example_oct4_mafk_test.fa").read_text().split(">")[1:]
    with open(w101, "w") as fh:
        for r in recs:
            name, seq = r.split("\n", 1)
            name, seq = name.split()[0], seq.replace("\n", "")   # ids stay unique: <id>a, <id>b
            fh.write(f">{name}a\n{seq[:101]}\n>{name}b\n{seq[99:200]}\n")
    motifs = []
    for model, data in MODELS.items():
        d = WORK / f"motifs_{model}"
        subprocess.run([shutil.which("seqconv") or "seqconv", "motifs", "--model", model, "--data",
                        str(w101 if data == "w101" else ROOT / data), "--out", str(d), "--no-influence", "-q",
                        "--min-sites", "5"], check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        for m in read_motifs(d / "motifs.meme"):
            m.id = f"{model}.{m.id}"
            motifs.append(m)
    write_meme(motifs, out)
    return out


def run_tomtom(tomtom: str, qpath: Path, targets_path: Path) -> tuple[str, float]:
    """Real tomtom's text output and its wall time; an earlier run on the same query and target bytes is reused
    (benchmarks/work/tomtom_<digest>; delete it to run tomtom again)."""
    import hashlib

    digest = hashlib.sha1(Path(qpath).read_bytes() + b"\0" + Path(targets_path).read_bytes()).hexdigest()[:16]
    out = WORK / f"tomtom_{digest}"
    if not ((out / "seconds.txt").exists() and (out / "tomtom.txt").exists()):
        t = time.perf_counter()
        text = subprocess.run([tomtom, "-text", "-verbosity", "1", "-evalue", "-thresh", "1e9", str(qpath),
                               str(targets_path)], capture_output=True, text=True, check=True).stdout
        out.mkdir(parents=True, exist_ok=True)
        (out / "tomtom.txt").write_text(text)
        (out / "seconds.txt").write_text(f"{time.perf_counter() - t}\n")
    return (out / "tomtom.txt").read_text(), float((out / "seconds.txt").read_text())


def compare_section(rounds: int, tomtom: str | None) -> list[str]:
    """seqconv.motifs.compare vs memelite's tomtom vs real tomtom: speed (interleaved) and top-1 agreement."""
    import io

    from memelite import tomtom as ml_tomtom

    from seqconv.motifs.compare import MotifComparer

    targets_path = meme_file("vertebrates")
    targets = read_motifs(targets_path)
    comparer = MotifComparer(targets)
    T = [m.probabilities_with_pseudocount(PSEUDO).T.copy() for m in targets]
    threads = _threads()
    start = machine_record(threads)
    lines = ["## Motif comparison (Tomtom): seqconv `compare` vs memelite 0.5.0 `tomtom` vs real tomtom 5.5.8", "",
             f"Command: `SEQCONV_TOMTOM=../meme-build/bin/tomtom ../venv-scanbench/bin/python benchmarks/scan.py "
             f"--compare-only --rounds {rounds}` (or part of the full run).", "",
             "Targets: the 879 JASPAR vertebrate motifs.  Speed: `comparer.compare(queries, top=5)` (the target "
             "collection prepared once, outside the timing) and memelite `tomtom(Q, T)` (all targets' p-values) "
             f"in {rounds} interleaved rounds, the best round's wall s and CPU s (user + sys of the process, both "
             "threads), and the median (lowest, highest) of the rounds' CPU ratios memelite / seqconv (each round "
             "times both, one after the other, so both see that round's load); real tomtom once.  Top-1: the best "
             "target of each query equals real tomtom's (its order: p-value, then overlap).", "",
             "| queries | n | seqconv wall s | seqconv CPU s | memelite wall s | memelite CPU s | seqconv / memelite "
             "(wall, CPU) | per-round CPU ratio, median (range) | real tomtom s | top-1 = real tomtom | "
             "p within 1% of tomtom's |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for label, qpath in (("JASPAR (first 100)", None), ("learned filters, 4 bundled models", learned_motifs())):
        queries = targets[:100] if qpath is None else read_motifs(qpath)
        if qpath is None:
            qpath = WORK / "jaspar100.meme"
            from seqconv.motifs import write_meme

            write_meme(queries, qpath)
        Q = [m.probabilities_with_pseudocount(PSEUDO).T.copy() for m in queries]
        comparer.compare(queries[:2], top=1)
        ml_tomtom(Q[:2], T)
        best_s = best_m = (float("inf"), float("inf"))
        ratios = []
        for _ in range(rounds):
            # memelite returns arrays; seqconv its best 5 rows per query (as a DataFrame)
            _, w, c = timed(lambda: comparer.compare(queries, top=5))
            best_s = min(best_s, (w, c))
            _, w2, c2 = timed(ml_tomtom, Q, T)
            best_m = min(best_m, (w2, c2))
            ratios.append(c2 / c)
        tt_s, top1, pfrac = "-", "-", "-"
        got = comparer.compare(queries, top=0)
        if tomtom:
            out, secs = run_tomtom(tomtom, qpath, targets_path)
            tt_s = f"{secs:.1f}"
            ref = pd.read_csv(io.StringIO(out), sep="\t", comment="#").rename(
                columns={"Query_ID": "query_id", "Target_ID": "target_id"})
            top_ref = ref.sort_values(["query_id", "p-value", "Overlap"], ascending=[True, True, False]).groupby(
                "query_id").target_id.first()
            top_got = got[got["rank"] == 1].set_index("query_id").target_id
            top1 = f"{(top_got.reindex(top_ref.index) == top_ref).mean():.4f} ({len(top_ref)})"
            mm = got.merge(ref, on=["query_id", "target_id"])
            pfrac = f"{(np.abs(mm.p_value - mm['p-value']) <= 0.01 * mm['p-value']).mean():.4f}"
        lines.append(f"| {label} | {len(queries)} | {best_s[0]:.3f} | {best_s[1]:.3f} | {best_m[0]:.3f} | "
                     f"{best_m[1]:.3f} | {best_m[0] / best_s[0]:.2f}x, {best_m[1] / best_s[1]:.2f}x | "
                     f"{np.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f}) | {tt_s} | "
                     f"{top1} | {pfrac} |")
        print(lines[-1], flush=True)
    machine = machine_record(threads, since=start)
    return lines + ["", machine_text(machine, own_threads=_own(threads)), ""]


def speed_rows(sets: dict[int, Path], rounds: int, fimo_time: dict) -> list[str]:
    """The speed table: seqconv (its first calls in the process apart), memelite and MOODS in interleaved
    rounds on each set, best round of each; ``fimo_time`` adds real fimo's 1 Mb time when given.

    The motif tables' disk cache is a folder of this run, filled by one scan in a child process first, so
    that the first call and the calls "tables read from the disk cache" read them, as a new process does
    after any earlier scan of these motifs with these options (or the install's warm-up, for the bundled
    JASPAR); "tables built" calls run with the disk cache off."""
    from seqconv.scan import diskcache

    meme = meme_file("vertebrates")
    motifs = read_motifs(meme)
    setup = moods_setup(motifs)
    clear_caches()
    cache_dir = tempfile.TemporaryDirectory(prefix="scan-tables-")
    os.environ["SEQCONV_SCAN_CACHE"] = cache_dir.name
    subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r}); from seqconv.scan import "
                    f"scan_to_file; scan_to_file({str(sets[1])!r}, {str(meme)!r}, {str(WORK / 'prime.tsv')!r})"],
                   check=True, capture_output=True)
    (WORK / "prime.tsv").unlink()
    _, first_w, first_c = timed(run_seqconv, sets[1], meme)   # kernels loaded, tables read from the disk cache
    built, loaded = [], []
    for _ in range(rounds):                                     # motifs parsed, tables built / read in the call
        clear_caches()
        with diskcache.disabled():
            built.append(timed(run_seqconv, sets[1], meme)[1:])
        clear_caches()
        loaded.append(timed(run_seqconv, sets[1], meme)[1:])
    (built_w, built_c), (loaded_w, loaded_c) = min(built), min(loaded)
    lines = ["## Speed (879 vertebrate motifs; best of interleaved rounds; wall s and CPU s)", "",
             "| size | seqconv wall | seqconv CPU | memelite wall | memelite CPU | MOODS wall | MOODS CPU | "
             "seqconv / memelite | seqconv / MOODS | real fimo wall |", "|" + "---|" * 10]
    for mb, fa in sets.items():
        best = {}
        for r in range(rounds if mb == 1 else max(1, rounds - 1)):
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
        if mb == 1:
            cold_row = (f"seqconv's 1 Mb call with the motifs parsed in the call (`seqconv.scan.clear_caches()` "
                        f"first; best of {rounds}, interleaved): motif tables (p-value tables, engine index, pi0 "
                        f"tables) read from the disk cache {loaded_w:.2f} s wall, {loaded_c:.2f} CPU s = "
                        f"{m_[0] / loaded_w:.2f}x memelite's best; tables built in the call (disk cache off) "
                        f"{built_w:.2f} s wall, {built_c:.2f} CPU s = {m_[0] / built_w:.2f}x.  A process's first "
                        f"call (numba kernels loaded from their cache, tables read from the disk cache): "
                        f"{first_w:.2f} s wall, {first_c:.2f} CPU s.  The rows' later calls reuse the parsed motif "
                        "file and the bank (kept by content: seqconv.scan.bank.bank_for).")
    os.environ.pop("SEQCONV_SCAN_CACHE")
    cache_dir.cleanup()
    return lines + ["", cold_row, ""]


def speed_only(rounds: int) -> list[str]:
    """``--speed-only``: the speed rows alone (no real fimo, no comparison), as their own section."""
    threads = _threads()
    start = machine_record(threads)
    rows = speed_rows(genome_sets(), rounds, {})
    machine = machine_record(threads, since=start)
    rows[0] = "## Speed only (879 vertebrate motifs; best of interleaved rounds; wall s and CPU s; no fimo)"
    return (["", rows[0], "", f"Command: `../venv-scanbench/bin/python benchmarks/scan.py --speed-only "
             f"--rounds {rounds}`.  " + machine_text(machine, own_threads=_own(threads))
             + "  Ratios come from the same interleaved rounds."] + rows[1:])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-fimo", action="store_true")
    ap.add_argument("--genome-mb", type=int, default=0, help="only the genome-scale run, at this size (Mb)")
    ap.add_argument("--genome-formats", default="tsv", help="with --genome-mb: output formats, e.g. tsv,bed,gff")
    ap.add_argument("--startup", action="store_true", help="only the start-up run (cold cache, warm-up, later calls)")
    ap.add_argument("--compare-only", action="store_true",
                    help="only the motif comparison section (seqconv compare vs memelite and real tomtom)")
    ap.add_argument("--speed-only", action="store_true",
                    help="only the 1 Mb / 10 Mb speed rows (seqconv, memelite, MOODS; no real fimo): own section")
    args = ap.parse_args()
    if args.compare_only:
        lines = compare_section(args.rounds, os.environ.get("SEQCONV_TOMTOM") or shutil.which("tomtom"))
        _put_section([""] + lines)      # (a blank line before the section, as in the full run)
        print("\n".join(lines))
        return
    if args.genome_mb or args.startup or args.speed_only:
        formats = tuple(args.genome_formats.split(","))
        lines = (genome_scale(args.genome_mb, args.rounds, formats) if args.genome_mb else startup(args.rounds)
                 if args.startup else speed_only(args.rounds))
        _put_section(lines)
        print("\n".join(lines))
        return
    fimo = os.environ.get("SEQCONV_FIMO") or shutil.which("fimo")
    threads = _threads()
    start = machine_record(threads)
    sets = genome_sets()
    lines = ["# Motif scanning: seqconv vs real FIMO 5.5.8, memelite 0.5.0, MOODS 1.9.4.1", "",
             f"Command: `SEQCONV_FIMO=../meme-build/bin/fimo SEQCONV_TOMTOM=../meme-build/bin/tomtom "
             f"../venv-scanbench/bin/python benchmarks/scan.py --rounds {args.rounds}`", "",
             "<machine>", "",
             "Data: sacCer3 R64 (real genome), N runs and IUPAC letters put in, one empty record "
             "(see the docstring); p < 1e-4, both strands.", ""]
    # ---------------- agreement with real fimo (and its time)
    fimo_time = {}
    if fimo and not args.no_fimo:
        lines += ["## Agreement with real fimo (plain `fimo --thresh 1e-4`, seqconv with its defaults)", "",
                  "| set | motifs | seqconv hits | fimo hits | "
                  "Jaccard | p within 1% | p max rel. diff | q within 1% | q within 5% | q median rel. diff | "
                  "q < 0.05 (seqconv / fimo) | fimo wall s |", "|" + "---|" * 12]
        run_seqconv(sets[1], meme_file("fungi"))           # compile / load the kernels first
        for kind in ("vertebrates", "fungi"):
            meme = meme_file(kind)
            ref, tf = run_fimo(fimo, sets[1], meme, f"{kind}_1mb")
            got = run_seqconv(sets[1], meme)
            fimo_time[kind] = tf
            a = agreement(got, ref)
            lines.append(f"| 1 Mb | {kind} {len(read_motifs(meme))} | {a['seqconv hits']} | {a['fimo hits']} | "
                         f"{a['Jaccard']:.5f} | {a['p within 1%']:.5f} | {a['p max rel. diff']:.2g} | "
                         f"{a['q within 1%']:.4f} | {a['q within 5%']:.4f} | {a['q median rel. diff']:.2g} | "
                         f"{a['q < 0.05 (seqconv / fimo)']} | {tf:.1f} |")
            print(lines[-1], flush=True)
        lines.append("")
    # ---------------- speed, interleaved
    lines += speed_rows(sets, args.rounds, fimo_time)
    lines += compare_section(args.rounds, os.environ.get("SEQCONV_TOMTOM") or shutil.which("tomtom"))
    machine = machine_record(threads, since=start)
    lines[lines.index("<machine>")] = (machine_text(machine, own_threads=_own(threads))
                                       + "  Ratios come from the same interleaved rounds.")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
