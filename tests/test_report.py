"""seqconv.report / `seqconv report`: a self-contained page, checked in real headless Chromium."""

import re

import pandas as pd
import pytest
from _chromium import chromium, load_page
from click.testing import CliRunner
from conftest import YEAST_CBF1, YEAST_EXCLUDE, YEAST_GENOME, YEAST_REB1

from seqconv.cli import main

pytestmark = pytest.mark.slow  # the module fixture prepares, trains, evaluates and predicts a real run


def _ok(args):
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    return r


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A real small run on the bundled yeast excerpt: dataset, model, evaluation, motifs, a chr9 track."""
    d = tmp_path_factory.mktemp("run")
    _ok(["prepare", "--peaks", str(YEAST_REB1), "--peaks", str(YEAST_CBF1), "--names", "Reb1,Cbf1", "--genome",
         str(YEAST_GENOME), "--exclude", str(YEAST_EXCLUDE), "--ratio", "2", "--test-chroms", "chr9",
         "--valid-chroms", "chr8", "--out", str(d / "ds.parquet"), "-q"])
    _ok(["train", "--data", str(d / "ds.parquet"), "--arch", "deepbind", "--arch-option", "filters=16",
         "--epochs", "4", "--threads", "1", "--out", str(d / "model"), "-q"])
    _ok(["evaluate", "--model", str(d / "model"), "--data", str(d / "ds.parquet"), "--n-boot", "50",
         "--out", str(d / "eval"), "-q"])
    _ok(["motifs", "--model", str(d / "model"), "--data", str(d / "ds.parquet"), "--max-seqs", "400",
         "--influence-seqs", "200", "--min-sites", "5", "--out", str(d / "motifs"), "-q"])
    _ok(["predict", "--model", str(d / "model"), "--genome", str(YEAST_GENOME), "--chroms", "chr9", "--stride", "50",
         "--bedgraph", str(d / "tracks" / "genome"), "-q"])
    return d


def _report(run, out, *extra):
    return CliRunner().invoke(main, [
        "report", "--dataset", str(run / "ds.parquet"), "--model", str(run / "model"), "--evaluation",
        str(run / "eval"), "--motifs", str(run / "motifs"), "--tracks", str(run / "tracks" / "genome"),
        "--region", "chr9:1-30000", "--title", "yeast Reb1 + Cbf1", "--out", str(out), *extra])


def test_report_sections_self_contained_and_linked(run, tmp_path):
    out = run / "report" / "index.html"
    links = [run / "tracks" / "genome.Reb1.bedGraph", run / "model", run / "eval" / "metrics.tsv"]
    r = _report(run, out, *map(str, links))
    assert r.exit_code == 0, r.output
    page = out.read_text()
    for sid in ("data", "training", "metrics", "motifs", "track", "outputs"):
        assert f'id="{sid}"' in page
    srcs = re.findall(r'src="([^"]*)"', page)
    assert len(srcs) >= 6 and all(s.startswith("data:image/png;base64,") for s in srcs)  # one file, no fetches
    assert "<script" not in page and "http" not in page.replace("https://json", "")
    m = pd.read_csv(run / "eval" / "metrics.tsv", sep="\t").set_index("TF")
    for tf in ("Reb1", "Cbf1"):  # the held-out figures with their intervals, as evaluate wrote them
        r_ = m.loc[tf]
        assert f"{r_.auroc:.3f} [{r_.auroc_lo:.3f}, {r_.auroc_hi:.3f}]" in page
    hrefs = re.findall(r'<a href="([^"#][^"]*)"', page)
    assert hrefs == ["../tracks/genome.Reb1.bedGraph", "../model", "../eval/metrics.tsv"]
    assert all((out.parent / h).exists() for h in hrefs)
    counts = pd.read_parquet(run / "ds.parquet").groupby(["split", "kind"]).size()
    assert f"<td class=\"\">{counts[('train', 'positive')]}</td>" in page


def test_report_renders_in_headless_chromium(run, tmp_path):
    if chromium() is None:
        pytest.skip("chromium not installed (apt-get install -y chromium)")
    out = tmp_path / "report.html"
    assert _report(run, out).exit_code == 0
    shot = tmp_path / "report.png"
    info = load_page(out, shot)
    assert info["errors"] == [] and info["title"] == "yeast Reb1 + Cbf1"
    assert len(info["images"]) >= 6 and all(w > 0 for w in info["images"]), info["images"]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and info["height"] > 2000
    # the checker itself sees a broken page: a bad image and a console error
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><head><title>b</title></head><body>'
                   '<img src="data:image/png;base64,AAAA"><script>console.error("boom")</script></body></html>')
    info = load_page(bad)
    assert info["images"] == [0] and any("boom" in e for e in info["errors"])


def test_report_user_errors_exit_2_and_write_nothing(run, tmp_path):
    out = tmp_path / "r.html"
    r = _report(run, out, "--region", "chr1:1-5000")
    assert r.exit_code == 2 and "no values in chr1:1-5000" in r.output and "Traceback" not in r.output, r.output
    r = CliRunner().invoke(main, ["report", "--evaluation", str(tmp_path), "--out", str(out)])
    assert r.exit_code == 2 and "no metrics.tsv" in r.output
    r = _report(run, out, str(tmp_path / "missing.bw"))
    assert r.exit_code == 2 and "output to link does not exist" in r.output
    assert not out.exists() and not list(tmp_path.glob(".r.html*"))


def test_track_preview_reads_bigwig_or_bedgraph_alike(run, tmp_path):
    import shutil

    from seqconv.report import _track_values

    for tf in ("Reb1", "Cbf1"):
        shutil.copy(run / "tracks" / f"genome.{tf}.bedGraph", tmp_path / f"bg.{tf}.bedGraph")
    a = _track_values(tmp_path / "bg", "Reb1", "chr9", 10_000, 12_000)
    bg = pd.read_csv(run / "tracks" / "genome.Reb1.bedGraph", sep="\t", header=None, names=["c", "s", "e", "v"])
    sel = bg[(bg.c == "chr9") & (bg.e > 10_000) & (bg.s < 12_000)]
    assert a[0].tolist() == sel.s.tolist() and a[2].tolist() == sel.v.tolist() and len(sel) == 41
    if (run / "tracks" / "genome.Reb1.bw").exists():
        b = _track_values(run / "tracks" / "genome", "Reb1", "chr9", 10_000, 12_000)
        assert b[0].tolist() == a[0].tolist() and b[1].tolist() == a[1].tolist()
        assert abs(b[2] - a[2]).max() < 1e-6
