"""Peak memory of `seqconv predict`, `scan` and `prepare` on 10, 50 and 250 Mb inputs (issue 10).

    python benchmarks/memory.py [--sizes 10 50 250] [--threads 2] [--model deepbind_REST]

Input (synthetic from real data): the real sacCer3 genome (../shared/data/yeast_sacCer3_chip, 17 records,
12.1 Mb) concatenated with itself, each copy's records renamed ``chr1_c0, chr2_c0, ..., chr1_c1 ...``,
up to the size, as plain FASTA; Reb1 ChIP-exo events (Rossi 2021) copied onto every copy for prepare.
The numba kernels are compiled and cached first (``python -m seqconv.scan.warmup``, not measured).
Each command runs in a fresh child process; peak RSS is that child's ``ru_maxrss`` and CPU seconds its
user + system time (getrusage of a wrapper).  Target: flat in the input size (streamed), < 2 GiB at 250 Mb.
Writes benchmarks/results/memory.md and memory.json.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from _machine import machine_record, machine_text  # noqa: E402  (benchmarks/ is the script's folder)
from predict_memory import TARGET_GIB, model_text  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _genome_records(path: Path) -> list[tuple[str, str]]:
    recs, name, chunks = [], None, []
    with gzip.open(path, "rt") as fh:
        for line in fh:
            if line.startswith(">"):
                if name:
                    recs.append((name, "".join(chunks)))
                name, chunks = line[1:].split()[0], []
            else:
                chunks.append(line.strip())
    recs.append((name, "".join(chunks)))
    return recs


def build(work: Path, mb: int, data: Path) -> tuple[Path, Path]:
    """``big_<mb>.fa`` (plain FASTA) and ``peaks_<mb>.bed`` in ``work``; reused when present."""
    fa, bed = work / f"big_{mb}.fa", work / f"peaks_{mb}.bed"
    if fa.exists() and bed.exists():
        return fa, bed
    work.mkdir(parents=True, exist_ok=True)
    recs = _genome_records(data / "yeast_sacCer3_chip" / "sacCer3_R64.fa.gz")
    with gzip.open(data / "yeast_sacCer3_chip" / "chexmix_by_tf" / "Reb1_CX.bed.gz", "rt") as fh:
        peaks = [line.rstrip("\n").split("\t") for line in fh if line.strip() and not line.startswith("#")]
    need, done, copy = mb * 1_000_000, 0, 0
    with open(fa, "w") as out, open(bed, "w") as pb:
        while done < need:
            names = set()
            for name, seq in recs:
                if done >= need:
                    break
                seq = seq[: need - done]
                out.write(f">{name}_c{copy}\n")
                for i in range(0, len(seq), 60):
                    out.write(seq[i:i + 60] + "\n")
                done += len(seq)
                names.add(name)
                limit = len(seq)
                for p in peaks:
                    if p[0] == name and int(p[2]) <= limit:
                        pb.write("\t".join([f"{p[0]}_c{copy}", *p[1:3]]) + "\n")
            copy += 1
    return fa, bed


def run(cmd: list[str], threads: int) -> dict:
    """Run ``cmd`` in a fresh wrapper; wall s, CPU s and peak RSS (GiB) of ``cmd`` alone."""
    wrapper = ("import resource, subprocess, sys; p = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
               "sys.stderr.write(p.stderr[-3000:]); r = resource.getrusage(resource.RUSAGE_CHILDREN); "
               "print(p.returncode, r.ru_maxrss, r.ru_utime + r.ru_stime)")
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               OMP_NUM_THREADS=str(threads))
    t = time.time()
    p = subprocess.run([sys.executable, "-c", wrapper, *cmd], capture_output=True, text=True, env=env)
    wall = time.time() - t
    try:
        rc, peak_kb, cpu = p.stdout.split()
    except ValueError:
        raise SystemExit(f"wrapper failed: {p.stdout}\n{p.stderr}") from None
    if int(rc) != 0:
        raise SystemExit(f"failed ({rc}): {' '.join(cmd)}\n{p.stderr}")
    return {"wall_s": round(wall, 1), "cpu_s": round(float(cpu), 1), "peak_rss_gib": round(int(peak_kb) / 1024 ** 2, 3)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 50, 250])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--model", default="deepbind_REST", help="model that predict tiles with")
    ap.add_argument("--commands", nargs="+", default=["predict", "scan", "prepare"])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--work", default=str(HERE / "work"))
    args = ap.parse_args(argv)
    data, work = Path(args.data), Path(args.work)
    if not (data / "yeast_sacCer3_chip").is_dir():
        raise SystemExit(f"needs the real yeast genome in {data}/yeast_sacCer3_chip")
    seqconv = [sys.executable, "-c", "import sys; from seqconv.cli import main; sys.argv[0] = 'seqconv'; main()"]
    motifs = work / "motifs5.meme"
    if not motifs.exists():
        sys.path.insert(0, str(ROOT))
        from seqconv.motifs.io import jaspar_collection, write_meme

        work.mkdir(parents=True, exist_ok=True)
        write_meme(jaspar_collection()[:5], motifs)
    # compile and cache the numba kernels first, as install.sh does: the rows measure scans, not compilation
    t0 = time.time()
    warm = subprocess.run([sys.executable, "-m", "seqconv.scan.warmup"], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")))
    if warm.returncode != 0:
        raise SystemExit(f"python -m seqconv.scan.warmup failed:\n{warm.stderr[-3000:]}")
    print(f"numba kernels warmed up ({time.time() - t0:.0f} s, not measured)", flush=True)
    threads = {"OMP_NUM_THREADS and --threads of each command": args.threads}
    start = machine_record(threads)
    rows = []
    for mb in args.sizes:
        fa, bed = build(work, mb, data)
        out = work / "out"
        cmds = {
            "predict": ["predict", "--model", args.model, str(fa), "--tile", "--stride", "1000",
                        "--batch-size", "512", "--threads", str(args.threads), "--out", str(out) + ".tsv", "-q"],
            "scan": ["scan", "--motifs", str(motifs), "--fasta", str(fa), "--thresh", "1e-4", "--threads",
                     str(args.threads), "--out", str(out) + ".hits.tsv", "-q"],
            "prepare": ["prepare", "--peaks", str(bed), "--genome", str(fa), "--width", "200", "--test-chroms",
                        "chr1_c0", "--valid-chroms", "chr2_c0", "--out", str(out) + ".parquet", "-q"],
        }
        for name in args.commands:
            r = run(seqconv + cmds[name], args.threads)
            produced = [p for p in work.glob("out*") if p.is_file()]
            r.update(command=name, mb=mb, output_mb=round(sum(p.stat().st_size for p in produced) / 1e6, 1))
            for p in produced:
                p.unlink()
            rows.append(r)
            print(json.dumps(r), flush=True)
    info = machine_record(threads, since=start)
    sys.path.insert(0, str(ROOT))
    model = model_text(args.model)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "memory.json").write_text(json.dumps({"info": info, "model": model, "rows": rows}, indent=1)
                                                  + "\n")
    lines = ["# Peak memory of predict, scan and prepare vs input size", "",
             f"Command: `python benchmarks/memory.py --sizes {' '.join(map(str, args.sizes))} --threads {args.threads}"
             + ("" if args.model == "deepbind_REST" else f" --model {args.model}") + "`  ",
             "Input: the real sacCer3 genome concatenated with itself (records renamed per copy) as plain FASTA; "
             f"Reb1 ChIP-exo events copied onto every copy (prepare).  predict: {model} tiled every 1000 bp, "
             "both strands, batch 512; scan: 5 JASPAR motifs, p <= 1e-4, TSV; prepare: 200 bp windows, GC-matched background.  "
             "Each run is a fresh child process; peak RSS = its ru_maxrss; the numba kernels were compiled and cached "
             "beforehand (`python -m seqconv.scan.warmup`, as install.sh does).", "",
             machine_text(info, own_threads=args.threads), "",
             "| command | input Mb | peak RSS GiB | wall s | CPU s | output MB |", "|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (r["command"], r["mb"])):
        lines.append(f"| {r['command']} | {r['mb']} | {r['peak_rss_gib']:.2f} | {r['wall_s']:.0f} | {r['cpu_s']:.0f} "
                     f"| {r['output_mb']} |")
    top = [r for r in rows if r["mb"] == max(args.sizes)]
    worst = max(top, key=lambda r: r["peak_rss_gib"])
    lines += ["", f"Target peak RSS < {TARGET_GIB:g} GiB at {worst['mb']} Mb: "
              f"{'met' if worst['peak_rss_gib'] < TARGET_GIB else 'NOT met'} (largest: {worst['command']}, "
              f"{worst['peak_rss_gib']:.2f} GiB)."]
    (HERE / "results" / "memory.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
