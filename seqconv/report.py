"""One self-contained HTML page per run: data, training, held-out metrics, motifs, a track, links.

Every figure is a PNG embedded as a ``data:`` URI and the style sheet is inline, so the
page is one file that opens anywhere (no network, no scripts).  Sections, each drawn
from the files the pipeline steps write:

- dataset summary: windows per split and kind, positives per TF, GC distributions
  (``seqconv prepare`` output);
- training curves: ``train_log.csv`` of the model directory;
- held-out metrics with bootstrap 95% intervals and the ROC / PR curves
  (``seqconv evaluate --out`` folder);
- motif logos beside their JASPAR matches, most influential filters first
  (``seqconv motifs`` folder);
- a track preview of one region from the genome-wide bigWig / bedGraph per TF;
- links (relative to the page) to every output given.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from seqconv import __version__
from seqconv.errors import InputError
from seqconv.figures import pyplot
from seqconv.fileio import atomic_open

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1100px;
color:#222;line-height:1.4;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}th,td{border:1px solid #ddd;padding:.25em .6em;
text-align:right}th{background:#f4f4f4}td.l,th.l{text-align:left}img{max-width:100%;height:auto}
.figs{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}.figs figure{margin:0;flex:1 1 45%}
.muted{color:#777;font-size:.9em}
nav a{margin-right:1em}
"""

#: Filters shown beside their matches on the report (most influential first).
TOP_MOTIFS = 8


def _png(fig, dpi: int = 100) -> str:
    """A matplotlib figure as an ``<img>`` with a base64 PNG (the figure is closed)."""
    plt = pyplot()
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return _img_tag(buf.getvalue())


def _img_tag(data: bytes, alt: str = "figure") -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(data).decode()}">'


def _table(df: pd.DataFrame, *, left: tuple = (), floats: str = "{:.4f}") -> str:
    head = "".join(f'<th class="{"l" if c in left else ""}">{html.escape(str(c))}</th>' for c in df.columns)
    rows = []
    for r in df.itertuples(index=False):
        cells = []
        for c, v in zip(df.columns, r):
            text = floats.format(v) if isinstance(v, (float, np.floating)) else str(v)
            cells.append(f'<td class="{"l" if c in left else ""}">{html.escape(text)}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


# --------------------------------------------------------------------------- sections


def dataset_section(path) -> str:
    """Windows per split and kind, positives per TF and split, GC distributions of positives vs background."""
    from seqconv.dataset import read_dataset
    from seqconv.encode import gc_content

    ds = read_dataset(path)
    t = ds.table
    labels = [f"label:{tf}" for tf in ds.tasks]
    counts = t.groupby(["split", "kind"], sort=True).size().rename("windows").reset_index()
    pos = t.groupby("split")[labels].sum().reset_index()
    pos.columns = ["split"] + [f"bound {tf}" for tf in ds.tasks]
    gc = gc_content(list(t["sequence"])) if "sequence" in t else None
    parts = [f"<p>{len(t):,} windows of {ds.width} bp, tasks {', '.join(map(html.escape, ds.tasks))}; "
             f"chromosomes per split: "
             + "; ".join(f"{s}: {', '.join(sorted(set(t.loc[t.split == s, 'chrom'])))}"
                         for s in ("train", "valid", "test") if "chrom" in t and (t.split == s).any())
             + "</p>",
             '<div class="figs"><div>' + _table(counts, left=("split", "kind")) + _table(pos, left=("split",))
             + "</div>"]
    if gc is not None:
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(5, 2.8))
        bins = np.linspace(0, 1, 41)
        for kind, colour in (("positive", "#c0392b"), ("background", "#2c7fb8"), ("shuffle", "#7f7f7f")):
            sel = (t["kind"] == kind).to_numpy()
            if sel.any():
                ax.hist(gc[sel], bins=bins, density=True, histtype="step", lw=1.6, color=colour,
                        label=f"{kind} (n={int(sel.sum())}, median {np.median(gc[sel]):.3f})")
        ax.set_xlabel("GC fraction of the window")
        ax.set_ylabel("density")
        ax.set_title("GC content: bound windows vs negatives", fontsize=9)
        ax.legend(fontsize=7)
        parts.append(f"<figure>{_png(fig)}</figure>")
    parts.append("</div>")
    return "".join(parts)


def training_section(model_dir) -> str:
    """Loss and validation auROC / auPRC per epoch from ``train_log.csv`` (best epoch marked)."""
    log = Path(model_dir) / "train_log.csv"
    if not log.exists():
        return '<p class="muted">no train_log.csv in the model directory</p>'
    h = pd.read_csv(log)
    card = _card(model_dir)
    best = (card.get("training") or {}).get("best_epoch")
    plt = pyplot()
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3))
    a.plot(h["epoch"], h["train_loss"], "o-", ms=3, label="train")
    a.plot(h["epoch"], h["valid_loss"], "o-", ms=3, label="valid")
    a.set_xlabel("epoch")
    a.set_ylabel("loss")
    a.legend(fontsize=8)
    b.plot(h["epoch"], h["valid_auroc"], "o-", ms=3, label="valid auROC")
    b.plot(h["epoch"], h["valid_auprc"], "o-", ms=3, label="valid auPRC")
    b.set_xlabel("epoch")
    b.set_ylim(0, 1)
    b.legend(fontsize=8)
    for ax in (a, b):
        if best:
            ax.axvline(best, color="#999", ls="--", lw=1)
    arch = card.get("architecture", {})
    cfg = (card.get("training") or {}).get("config", {})
    text = (f"<p>{html.escape(str(arch.get('name', arch.get('arch', ''))))} model, {len(h)} epoch(s) run, "
            f"best epoch {best} (dashed), {h['seconds'].sum():.1f} s"
            + (f"; settings: {html.escape(', '.join(f'{k}={v}' for k, v in cfg.items()))}" if cfg else "")
            + "</p>")
    return text + f"<figure>{_png(fig)}</figure>"


def _card(model_dir) -> dict:
    p = Path(model_dir) / "model.json"
    return json.loads(p.read_text()) if p.exists() else {}


def metrics_section(evaluation_dir) -> str:
    """The held-out metrics table (95% bootstrap intervals) and the ROC / PR figures of ``seqconv evaluate``."""
    d = Path(evaluation_dir)
    tsv = d / "metrics.tsv"
    if not tsv.exists():
        raise InputError("no metrics.tsv (run `seqconv evaluate --out` first)", path=d)
    m = pd.read_csv(tsv, sep="\t")
    meta = json.loads((d / "metrics.json").read_text()) if (d / "metrics.json").exists() else {}
    show = pd.DataFrame({"TF": m["TF"], "n": m["n"], "bound": m["n_pos"],
                         "auROC [95% CI]": [f"{r.auroc:.3f} [{r.auroc_lo:.3f}, {r.auroc_hi:.3f}]"
                                            for r in m.itertuples()],
                         "auPRC [95% CI]": [f"{r.auprc:.3f} [{r.auprc_lo:.3f}, {r.auprc_hi:.3f}]"
                                            for r in m.itertuples()],
                         "chance auPRC": (m["n_pos"] / m["n"]).round(3).astype(str),
                         "MCC": m["mcc"].round(3).astype(str)})
    figs = "".join(f"<figure>{_img_tag((d / f).read_bytes(), f)}</figure>" for f in ("roc.png", "pr.png")
                   if (d / f).exists())
    note = (f'<p class="muted">split {html.escape(str(meta.get("split", "test")))}, '
            f'{meta.get("n_boot", "?")} bootstrap resamples</p>')
    return _table(show, left=("TF",)) + note + f'<div class="figs">{figs}</div>'


def motifs_section(motifs_dir, db="jaspar", top: int = TOP_MOTIFS) -> str:
    """The most influential filters' logos beside their best database match, and their match table."""
    from seqconv.motifs import read_meme
    from seqconv.motifs.logos import summary_sheet

    d = Path(motifs_dir)
    if not (d / "motifs.meme").exists():
        raise InputError("no motifs.meme (run `seqconv motifs` first)", path=d)
    motifs = {m.id: m for m in read_meme(d / "motifs.meme")}
    matches = pd.read_csv(d / "matches.tsv", sep="\t") if (d / "matches.tsv").exists() else None
    infl = pd.read_csv(d / "influence.tsv", sep="\t") if (d / "influence.tsv").exists() else None
    order = [i for i in (infl.sort_values("rank")["id"] if infl is not None else motifs) if i in motifs][:top]
    if not order:
        return '<p class="muted">no filter motif had enough activating sites</p>'
    import tempfile

    with tempfile.TemporaryDirectory(prefix="seqconv-report-") as tmp:
        sheet = Path(tmp) / "top.png"
        summary_sheet([motifs[i] for i in order], matches, sheet, influence=infl, collection=db, columns=1,
                      title=f"top {len(order)} filters by influence, beside their best match")
        img = _img_tag(sheet.read_bytes(), "motif logos beside their matches")
    rows = []
    best = {} if matches is None else {r.query_id: r for r in matches[matches["rank"] == 1].itertuples()}
    inf = {} if infl is None else {r.id: r for r in infl.itertuples()}
    for i in order:
        b, f = best.get(i), inf.get(i)
        rows.append({"filter": i, "influence (auROC drop)": float(f.influence) if f is not None else np.nan,
                     "top TF": f.top_task if f is not None and "top_task" in infl else "",
                     "best match": f"{b.target_name} ({b.target_id})" if b is not None else "-",
                     "q-value": float(b.q_value) if b is not None else np.nan})
    return (f"<p>{len(motifs)} filters became motifs; the {len(order)} most influential:</p>"
            + f"<figure>{img}</figure>" + _table(pd.DataFrame(rows), left=("filter", "top TF", "best match"),
                                                 floats="{:.3g}"))


def _track_values(prefix, tf, chrom, start, end) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Intervals ``(starts, ends, values)`` of one TF's track on ``chrom:start-end`` (bigWig when readable)."""
    bw = Path(f"{prefix}.{tf}.bw")
    if bw.exists():
        try:
            import pyBigWig

            with_bw = pyBigWig.open(str(bw))
            try:
                iv = with_bw.intervals(chrom, start, end) if chrom in with_bw.chroms() else None
            finally:
                with_bw.close()
            iv = iv or []
            return (np.array([i[0] for i in iv]), np.array([i[1] for i in iv]), np.array([i[2] for i in iv]))
        except ImportError:
            pass
    bg = Path(f"{prefix}.{tf}.bedGraph")
    if not bg.exists():
        raise InputError(f"no track for TF {tf!r} ({prefix}.{tf}.bw / .bedGraph)")
    s, e, v = [], [], []
    with open(bg) as fh:
        for line in fh:
            f = line.split("\t")
            if f[0] == chrom and int(f[2]) > start and int(f[1]) < end:
                s.append(int(f[1]))
                e.append(int(f[2]))
                v.append(float(f[3]))
    return np.array(s), np.array(e), np.array(v)


def track_section(prefix, tasks, region: str, out_html=None) -> str:
    """Predicted probability per TF along one region, one panel per TF (``prefix`` shown relative to the page)."""
    from seqconv.predict import parse_region

    chrom, s, e = parse_region(region)
    if s is None:
        raise InputError(f"the track preview needs CHROM:START-END, got {region!r}")
    plt = pyplot()
    fig, axes = plt.subplots(len(tasks), 1, figsize=(10, 0.9 + 0.9 * len(tasks)), sharex=True, squeeze=False)
    n_iv = 0
    for ax, tf in zip(axes[:, 0], tasks):
        starts, ends, vals = _track_values(prefix, tf, chrom, s, e)
        n_iv += len(vals)
        if len(vals):
            x = np.c_[starts, ends].ravel()  # each interval as a flat step
            ax.fill_between(x, np.repeat(vals, 2), color="#2c7fb8", alpha=0.8, lw=0)
        ax.set_ylim(0, 1)
        ax.set_xlim(s, e)
        ax.set_ylabel(tf, rotation=0, ha="right", va="center", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[-1, 0].set_xlabel(f"{chrom} position (bp); predicted binding probability")
    if n_iv == 0:
        raise InputError(f"the tracks have no values in {region} (is it among the tiled chromosomes?)")
    shown = os.path.relpath(Path(prefix).resolve(), Path(out_html).resolve().parent) if out_html else str(prefix)
    return (f"<p>{html.escape(region)}: {n_iv:,} intervals from <code>{html.escape(shown)}.&lt;TF&gt;"
            f"</code></p><figure>{_png(fig)}</figure>")


def links_section(paths, out_html) -> str:
    """A list of links, relative to the page, with file sizes."""
    base = Path(out_html).resolve().parent
    items = []
    for p in paths:
        p = Path(p)
        if not p.exists():
            raise InputError("output to link does not exist", path=p)
        size = sum(f.stat().st_size for f in p.rglob("*") if f.is_file()) if p.is_dir() else p.stat().st_size
        rel = os.path.relpath(p.resolve(), base)
        items.append(f'<li><a href="{html.escape(rel)}">{html.escape(rel)}</a> '
                     f'<span class="muted">({size / 1024:,.1f} KiB{", folder" if p.is_dir() else ""})</span></li>')
    return "<ul>" + "".join(items) + "</ul>"


# --------------------------------------------------------------------------- page


def build_report(out, *, dataset=None, model=None, evaluation=None, motifs=None, tracks=None, region=None,
                 links=(), db="jaspar", title: str = "seqconv run") -> Path:
    """Write the report page (atomically) and return its path.

    Parameters
    ----------
    out : path
        The HTML file.
    dataset : path, optional
        ``seqconv prepare`` output (``.parquet``).
    model : path, optional
        Model directory (``train_log.csv``, ``model.json``).
    evaluation, motifs : path, optional
        ``seqconv evaluate --out`` and ``seqconv motifs --out`` folders.
    tracks : str, optional
        Track prefix: ``PREFIX.<TF>.bw`` or ``.bedGraph`` per TF of the model.
    region : str, optional
        ``CHROM:START-END`` (1-based) of the track preview.
    links : sequence of path
        Outputs to link to.
    db : str
        The motif collection the matches refer to.
    title : str
    """
    sections: list[tuple[str, str, str]] = []
    card = _card(model) if model else {}
    tasks = list(card.get("tasks", []))
    if dataset:
        sections.append(("data", "Dataset", dataset_section(dataset)))
    if model:
        sections.append(("training", "Training", training_section(model)))
    if evaluation:
        sections.append(("metrics", "Held-out metrics", metrics_section(evaluation)))
    if motifs:
        sections.append(("motifs", "Motifs", motifs_section(motifs, db=db)))
    if tracks:
        if not tasks:
            raise InputError("a track preview needs --model (for its TF names)")
        if not region:
            raise InputError("a track preview needs --region CHROM:START-END")
        sections.append(("track", "Track preview", track_section(tracks, tasks, region, out)))
    if links:
        sections.append(("outputs", "Outputs", links_section(links, out)))
    if not sections:
        raise InputError("nothing to report: give at least one of --dataset, --model, --evaluation, --motifs")
    nav = "".join(f'<a href="#{k}">{html.escape(h)}</a>' for k, h, _ in sections)
    body = "".join(f'<h2 id="{k}">{html.escape(h)}</h2>{s}' for k, h, s in sections)
    stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime())
    page = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"
            f'<p class="muted">seqconv {__version__}, {stamp}</p><nav>{nav}</nav>{body}</body></html>\n')
    with atomic_open(out, "w", encoding="utf-8") as fh:
        fh.write(page)
    return Path(out)
