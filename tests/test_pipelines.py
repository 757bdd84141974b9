"""The Snakemake workflow in pipelines/ runs end to end on the bundled real yeast excerpt."""

import shutil
import subprocess
import sys

import pandas as pd
import pytest

from conftest import ROOT
from seqconv.dataset import read_dataset
from seqconv.motifs import read_meme

SNAKEFILE = ROOT / "pipelines" / "Snakefile"
CONFIG = ROOT / "pipelines" / "config.yaml"

pytest.importorskip("snakemake")


def _snakemake(*args, cwd=ROOT):
    exe = shutil.which("snakemake") or sys.executable
    cmd = [exe] if exe != sys.executable else [exe, "-m", "snakemake"]
    return subprocess.run(cmd + ["-s", str(SNAKEFILE), "--configfile", str(CONFIG), *args],
                          cwd=cwd, capture_output=True, text=True)


def test_dry_run_lists_every_step(tmp_path):
    p = _snakemake("-n", "--config", f"out={tmp_path}", "regions=[chr8, 'chr9:1-5000']")
    assert p.returncode == 0, p.stderr + p.stdout
    text = p.stdout + p.stderr
    for rule in ("prepare", "train", "evaluate", "motifs", "predict_region", "all"):
        assert rule in text
    assert text.count("rule predict_region") == 2  # one job per region


def test_workflow_runs_on_bundled_yeast_data(tmp_path):
    out = tmp_path / "run"
    p = _snakemake("-c", "2", "--config", f"out={out}", "epochs=2", "threads=1", "motif_max_seqs=150",
                   "regions=['chr8:1-20000']", "stride=100")
    assert p.returncode == 0, p.stderr[-3000:] + p.stdout[-2000:]

    ds = read_dataset(out / "dataset.parquet")
    assert ds.tasks == ["Reb1", "Cbf1"]
    test_chroms = set(ds.table.loc[ds.table.split == "test", "chrom"])
    assert test_chroms <= {"chr8", "chr9"} and test_chroms
    assert "chr8" not in set(ds.table.loc[ds.table.split == "train", "chrom"])

    metrics = pd.read_csv(out / "evaluation" / "metrics.tsv", sep="\t")
    assert list(metrics.TF) == ["Reb1", "Cbf1"]
    assert metrics.auroc.between(0, 1).all()

    motifs = read_meme(out / "motifs" / "motifs.meme")
    assert motifs and all(m.counts.shape[1] == 4 for m in motifs)
    assert (out / "motifs" / "matches.tsv").stat().st_size > 0

    track = pd.read_csv(out / "tracks" / "chr8_1_20000.Reb1.bedGraph", sep="\t", header=None,
                        names=["chrom", "start", "end", "p"])
    assert (track.chrom == "chr8").all() and track.start.min() >= 0 and track.end.max() <= 20000
    assert track.p.between(0, 1).all()
    tiled = pd.read_csv(out / "tracks" / "chr8_1_20000.tsv", sep="\t")
    assert set(tiled.TF) == {"Reb1", "Cbf1"}
