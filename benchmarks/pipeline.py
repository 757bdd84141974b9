"""Wall time and per-rule benchmark figures of the Snakemake workflow on a config.

    python benchmarks/pipeline.py [--config pipelines/config_yeast_genome.yaml] [--cores 2] [--out DIR]

Runs `snakemake -s pipelines/Snakefile --configfile CONFIG -c CORES` from the repository root into a fresh
output folder (benchmarks/work/pipeline/<config name> unless --out), then collects every `benchmark:` TSV
(wall s, max RSS, CPU s per job), the outputs (tracks, metrics) and the load average before and after, and
writes benchmarks/results/pipeline_<config name>.md (+ a screenshot of each report page when Chromium is
installed: benchmarks/results/pipeline_<config name>_<set>_report.png).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
from _machine import machine_record, machine_text  # noqa: E402  (benchmarks/ is the script's folder)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def _benchmarks(out: Path) -> pd.DataFrame:
    rows = []
    for f in sorted((out / "benchmarks").rglob("*.tsv")):
        b = pd.read_csv(f, sep="\t")
        rel = f.relative_to(out / "benchmarks")
        job = str(rel.with_suffix(""))
        rule = rel.parts[-2] if rel.parts[-2] in ("predict_shard", "merge_tracks") else (
            "scan" if rel.parts[0] == "scan" else rel.stem)
        rows.append({"rule": rule, "job": job, "wall_s": float(b["s"].iloc[-1]),
                     "cpu_s": float(b["cpu_time"].iloc[-1]), "max_rss_mb": float(b["max_rss"].iloc[-1])})
    return pd.DataFrame(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="pipelines/config_yeast_genome.yaml")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    name = Path(a.config).stem.removeprefix("config_")
    out = Path(a.out) if a.out else ROOT / "benchmarks" / "work" / "pipeline" / name
    if out.exists():
        shutil.rmtree(out)
    threads = {"snakemake -c": a.cores}
    start = machine_record(threads)
    t0 = time.perf_counter()
    cmd = ["snakemake", "-s", "pipelines/Snakefile", "--configfile", a.config, "-c", str(a.cores),
           "--config", f"out={out}"]
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    machine = machine_record(threads, since=start)
    if p.returncode:
        sys.stderr.write(p.stderr[-4000:])
        return p.returncode
    bm = _benchmarks(out)
    per_rule = bm.groupby("rule", sort=False).agg(jobs=("job", "size"), wall_s_sum=("wall_s", "sum"),
                                                  wall_s_max=("wall_s", "max"), cpu_s_sum=("cpu_s", "sum"),
                                                  max_rss_mb=("max_rss_mb", "max")).reset_index()
    lines = [f"# Workflow benchmark: {a.config}", "",
             f"Command (repository root): `{' '.join(cmd[:-2])} --config out=<fresh folder>`", "",
             f"- wall time, whole workflow: **{wall:.0f} s** ({wall / 60:.1f} min), {len(bm)} jobs, "
             f"-c {a.cores}",
             f"- {machine_text(machine, own_threads=a.cores)}",
             f"- sum of job wall times {bm.wall_s.sum():.0f} s, of job CPU times {bm.cpu_s.sum():.0f} s", "",
             "## Per rule (Snakemake `benchmark:` files)", "", per_rule.to_markdown(index=False, floatfmt=".1f"),
             "", "## Per job", "", bm.to_markdown(index=False, floatfmt=".1f"), "", "## Outputs", ""]
    for mt in sorted(out.glob("*/evaluation/metrics.tsv")):
        m = pd.read_csv(mt, sep="\t")
        lines += [f"Held-out metrics, set `{mt.parent.parent.name}` ({mt.relative_to(out)}):", "",
                  m.to_markdown(index=False, floatfmt=".3f"), ""]
    for bg in sorted(out.glob("*/tracks/genome.*.bedGraph")):
        chroms = pd.read_csv(bg, sep="\t", header=None, usecols=[0])[0].nunique()
        n = sum(1 for _ in open(bg))
        bw = bg.with_suffix(".bw")
        lines.append(f"- `{bg.relative_to(out)}`: {n:,} intervals on {chroms} chromosomes, "
                     f"{bg.stat().st_size / 2**20:.1f} MiB" + (f"; `.bw` {bw.stat().st_size / 2**20:.1f} MiB"
                                                             if bw.exists() else ""))
    for scan in sorted((out / "scan").glob("*")):
        lines.append(f"- `{scan.relative_to(out)}`: {sum(1 for _ in open(scan)):,} motif hits")
    sys.path.insert(0, str(ROOT / "tests"))
    from _chromium import chromium, load_page

    for rep in sorted(out.glob("*/report.html")):
        line = f"- `{rep.relative_to(out)}`: {rep.stat().st_size / 1024:.0f} KiB"
        if chromium():
            shot = RESULTS / f"pipeline_{name}_{rep.parent.name}_report.png"
            info = load_page(rep, shot)
            line += (f"; headless Chromium: {len(info['images'])} images, all rendered: "
                     f"{all(w > 0 for w in info['images'])}, console errors: {len(info['errors'])}; "
                     f"screenshot `{shot.relative_to(ROOT)}`")
        lines.append(line)
    RESULTS.mkdir(parents=True, exist_ok=True)
    md = RESULTS / f"pipeline_{name}.md"
    md.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
