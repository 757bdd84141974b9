"""Peak memory of `seqconv predict` tiling a chromosome-sized (250 Mb) sequence.

    python benchmarks/predict_memory.py [--mb 250] [--stride 1000] [--model deepbind_REST] [--threads 2]

Builds benchmarks/work/big.fa: one 250 Mb record made of the real sacCer3 genome repeated
(../shared/data/yeast_sacCer3_chip), then runs `seqconv predict --tile` on it and, through the
genome path, `--genome big.fa --region big` (pyfaidx index), each in a child process, and reports
the child's peak resident memory (getrusage), wall time and CPU seconds.  Target: peak RSS < 2 GiB.
Writes benchmarks/results/predict_memory.md.
"""

from __future__ import annotations

import argparse
import gzip
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _machine import machine_record, machine_text  # noqa: E402  (benchmarks/ is the script's folder)

#: the peak-RSS target (GiB) at 250 Mb
TARGET_GIB = 2.0


def model_text(name: str) -> str:
    """``name`` as measured: architecture, parameters and file size of the bundled model (or model folder)."""
    from seqconv.pretrained import list_models, load_pretrained

    index = list_models().set_index("name")
    if name not in index.index:
        return f"`{name}`"
    model = load_pretrained(name)
    return (f"bundled `{name}` ({model.arch}, {model.input_length} bp input, "
            f"{sum(p.numel() for p in model.parameters()):,} parameters, {index.loc[name, 'size_kb']:.0f} KB file)")


def build(path: Path, mb: int, genome: Path) -> None:
    if path.exists() and path.stat().st_size > mb * 1_000_000:
        return
    with gzip.open(genome, "rt") as fh:
        seq = "".join(line.strip() for line in fh if not line.startswith(">"))
    path.parent.mkdir(parents=True, exist_ok=True)
    need = mb * 1_000_000
    big = (seq * (need // len(seq) + 1))[:need]
    with open(path, "w") as out:
        out.write(">big\n")
        for i in range(0, need, 60):
            out.write(big[i:i + 60] + "\n")


def run(cmd: list[str]) -> tuple[float, float, float]:
    """Run ``cmd`` under a fresh wrapper process: (wall s, CPU s (user + system), peak RSS GiB) of ``cmd`` alone."""
    wrapper = ("import resource, subprocess, sys; p = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
               "sys.stderr.write(p.stderr[-2000:]); r = resource.getrusage(resource.RUSAGE_CHILDREN); "
               "print(p.returncode, r.ru_maxrss, r.ru_utime + r.ru_stime)")
    t = time.time()
    p = subprocess.run([sys.executable, "-c", wrapper, *cmd], capture_output=True, text=True)
    wall = time.time() - t
    rc, peak_kb, cpu = p.stdout.split()
    if int(rc) != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{p.stderr}")
    return wall, float(cpu), int(peak_kb) / 1024 ** 2


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=int, default=250)
    ap.add_argument("--stride", type=int, default=1000)
    ap.add_argument("--model", default="deepbind_REST")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data", default=str(HERE.parents[1] / "shared" / "data"))
    args = ap.parse_args(argv)
    big = HERE / "work" / "big.fa"
    build(big, args.mb, Path(args.data) / "yeast_sacCer3_chip" / "sacCer3_R64.fa.gz")
    base = ["seqconv", "predict"]
    rows = []
    threads = {"predict --threads": args.threads}
    start = machine_record(threads)
    for label, extra in (("FASTA --tile", [str(big), "--tile"]),
                         ("--genome --region (pyfaidx)", ["--genome", str(big), "--region", "big"])):
        out = HERE / "work" / "big_pred.tsv"
        cmd = base + ["--model", args.model, *extra, "--stride", str(args.stride), "--threads", str(args.threads),
                      "--batch-size", "512", "--out", str(out), "-q"]
        wall, cpu, peak_gib = run(cmd)
        with open(out) as fh:
            n = sum(1 for _ in fh) - 1
        rows.append((label, wall, cpu, peak_gib, n))
        print(label, f"{wall:.0f} s wall, {cpu:.0f} CPU s", f"peak RSS {peak_gib:.2f} GiB", f"{n} rows", flush=True)
    machine = machine_record(threads, since=start)
    lines = [f"# `seqconv predict` memory on a {args.mb} Mb sequence", "",
             f"Command: `python benchmarks/predict_memory.py --mb {args.mb} --stride {args.stride} --model {args.model} "
             f"--threads {args.threads}`  ",
             f"Model: {model_text(args.model)}.  ",
             f"Input: one {args.mb} Mb record (real sacCer3 genome repeated), windows every {args.stride} bp, both "
             f"strands, batch 512, {args.threads} thread(s).  Peak RSS = max resident memory of the child "
             "process (getrusage of a fresh wrapper per run).", "", machine_text(machine, own_threads=args.threads), "",
             "| input mode | wall s | CPU s | peak RSS GiB | output rows |", "|---|---|---|---|---|"]
    lines += [f"| {a} | {b:.0f} | {c:.0f} | {d:.2f} | {e:,} |" for a, b, c, d, e in rows]
    worst = max(r[3] for r in rows)
    lines += ["", f"Target peak RSS < {TARGET_GIB:g} GiB: {'met' if worst < TARGET_GIB else 'NOT met'} (largest "
              f"{worst:.2f} GiB)."]
    text = "\n".join(lines) + "\n"
    (HERE / "results" / "predict_memory.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
