"""Sequence logos and the summary sheet: every filter beside its best database match.

Logos show information content in bits (uniform background), letters A, C, G, T, the tallest on top.
Each letter's outline is made once (matplotlib's ``TextPath``, bold DejaVu Sans, scaled to a unit box)
and every letter of a logo is a scaled copy of it; a logo is four patches, one per letter colour,
so drawing a sheet of a hundred logos takes seconds (logomaker, used before, made a text path and a
patch per letter: ~10x slower here).  Figures are drawn with matplotlib's non-interactive ``Agg``
backend and written atomically (no half-written PNG).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd

from seqconv.figures import pyplot, save_png

_COLORS = {"A": "#109648", "C": "#255C99", "G": "#F7B32B", "T": "#D62839"}


def information_matrix(motif) -> pd.DataFrame:
    """Letter heights ``(L, 4)`` in bits: ``p * IC`` per position (uniform background), columns A, C, G, T."""
    p = motif.probabilities if hasattr(motif, "probabilities") else np.asarray(motif, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ic = 2.0 + np.where(p > 0, p * np.log2(p), 0.0).sum(axis=1)
    return pd.DataFrame(p * ic[:, None], columns=list("ACGT"))


def draw_logo(motif, ax=None, *, title: str | None = None, xoffset: int = 0, xticks: bool = True):
    """Draw a motif's logo on a matplotlib axis (a new figure when ``ax`` is None).

    Parameters
    ----------
    motif : Motif or (L, 4) probability array
    ax : matplotlib Axes, optional
    title : str, optional
    xoffset : int
        Position of the motif's first column on the x axis (to align two logos).
    xticks : bool
        Label every column's position (False: no x ticks, as on the summary sheet).

    Returns
    -------
    matplotlib Axes
    """
    plt = pyplot()
    if ax is None:
        width = motif.width if hasattr(motif, "width") else len(motif)
        _, ax = plt.subplots(figsize=(max(2.5, 0.35 * width), 1.6))
    heights = information_matrix(motif).to_numpy()
    for patch in _letter_patches(heights, int(xoffset)):
        patch.set_transform(ax.transData)
        ax.add_artist(patch)  # not add_patch: the limits are set below, no need for its Bezier extents
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)
    n = len(heights)
    ax.set_xlim(int(xoffset) - 0.5, int(xoffset) + n - 0.5)
    ax.set_xticks(np.arange(n) + int(xoffset) if xticks else [])
    ax.set_ylim(0, 2)
    ax.set_yticks([0, 1, 2])
    ax.set_ylabel("bits", fontsize=7)
    ax.tick_params(labelsize=6)
    if title:
        ax.set_title(title, fontsize=8, loc="left")
    return ax


_VPAD = 0.02    # share of a letter's height left blank above and below it
_HPAD = 0.05    # share of a column left blank on either side of its letters


@functools.cache
def _glyph(letter: str):
    """The letter's outline as (vertices, codes), its ink scaled to the unit square [0, 1] x [0, 1]."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.path import Path as MPath
    from matplotlib.textpath import TextPath

    path = TextPath((0, 0), letter, size=1, prop=FontProperties(family="DejaVu Sans", weight="bold"))
    v = np.asarray(path.vertices, dtype=float)
    ink = v[np.asarray(path.codes) != MPath.CLOSEPOLY]     # a CLOSEPOLY's vertex is a placeholder at (0, 0)
    lo, hi = ink.min(axis=0), ink.max(axis=0)
    v = (v - lo) / (hi - lo)
    v.flags.writeable = False
    return v, np.asarray(path.codes)


def _letter_patches(heights: np.ndarray, x0: int) -> list:
    """One PathPatch per letter colour for the stacked letters of ``heights`` ``(L, 4)`` (bits, A C G T).

    In each column the letters are stacked smallest at the bottom, each the column's width and its
    height; column ``i`` is centred at ``x0 + i``.  Letters of zero height are left out.
    """
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path as MPath

    order = np.argsort(heights, axis=1, kind="stable")  # small first: the tallest ends on top
    base = np.zeros_like(heights)
    rows = np.arange(len(heights))[:, None]
    base[rows, order] = np.cumsum(heights[rows, order], axis=1) - heights[rows, order]
    patches = []
    for k, letter in enumerate("ACGT"):
        v, codes = _glyph(letter)
        cols = np.flatnonzero(heights[:, k] > 1e-6)
        if not len(cols):
            continue
        h = heights[cols, k]
        left = x0 + cols - 0.5 + _HPAD
        bottom = base[cols, k] + _VPAD * h
        verts = np.empty((len(cols), len(v), 2))
        verts[:, :, 0] = left[:, None] + v[None, :, 0] * (1 - 2 * _HPAD)
        verts[:, :, 1] = bottom[:, None] + v[None, :, 1] * (h * (1 - 2 * _VPAD))[:, None]
        path = MPath(verts.reshape(-1, 2), np.tile(codes, len(cols)))
        patches.append(PathPatch(path, facecolor=_COLORS[letter], edgecolor="none", linewidth=0))
    return patches


def save_logo(motif, path, *, title: str | None = None, dpi: int = 120) -> Path:
    """Write one motif's logo as a PNG (atomically)."""
    plt = pyplot()
    w, h = max(2.5, 0.35 * motif.width), 1.6
    fig = plt.figure(figsize=(w, h))
    # fixed margins in inches (tight_layout would draw the figure once more to measure it):
    # 0.5 left for "bits" and its ticks, 0.3 below for the positions, 0.3 above for the title
    ax = fig.add_axes((0.5 / w, 0.3 / h, 1 - 0.6 / w, 1 - 0.6 / h))
    draw_logo(motif, ax, title=title if title is not None else f"{motif.id}"
              + (f" {motif.name}" if getattr(motif, "name", None) not in (None, motif.id) else ""))
    return save_png(fig, path, dpi=dpi)


def save_logos(motifs, out_dir, *, dpi: int = 120) -> list[Path]:
    """One PNG per motif, ``out_dir/<id>.png``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return [save_logo(m, out / f"{_safe(m.id)}.png", dpi=dpi) for m in motifs]


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)


def summary_sheet(motifs, matches: pd.DataFrame | None, path, *, influence: pd.DataFrame | None = None,
                  collection=None, dpi: int = 100, title: str | None = None, columns: int | None = None) -> Path:
    """One PNG with every filter's logo beside its best database match, aligned.

    Parameters
    ----------
    motifs : list of Motif
        The filter motifs (rows, in the order given; sort them beforehand, e.g. by influence).
    matches : DataFrame or None
        Output of :func:`seqconv.motifs.compare.compare` (rank 1 rows are used).
    path : str or Path
        The PNG to write.
    influence : DataFrame, optional
        Output of :func:`seqconv.motifs.extract.filter_influence` (shown per row).
    collection : list of Motif, optional
        The database the matches refer to (to draw the matched logos); default
        the bundled JASPAR collection.
    dpi : int
    title : str, optional
    columns : int, optional
        Filter/match pairs per row of the sheet (filled row by row, so the order reads
        left to right).  Default: 1 for up to 16 motifs, 2 beyond (keeps a sheet of 64
        filters readable at a modest height).

    Returns
    -------
    Path
    """
    from seqconv.motifs.io import read_motifs

    plt = pyplot()
    motifs = list(motifs)
    if not motifs:
        raise ValueError("no motifs to draw")
    db = {m.id: m for m in (read_motifs(collection if collection is not None else "jaspar")
                            if matches is not None and len(matches) else [])}
    best = {} if matches is None or not len(matches) else \
        {r.query_id: r for r in matches[matches["rank"] == 1].itertuples(index=False)}
    infl = {} if influence is None else {r.id: r for r in influence.itertuples(index=False)}
    n = len(motifs)
    if columns is None:
        columns = 1 if n <= 16 else 2
    if columns < 1:
        raise ValueError(f"columns must be >= 1, got {columns}")
    columns = min(int(columns), n)
    n_rows = -(-n // columns)
    top = 0.6 if title else 0.3   # inches above the first row (its titles, the sheet's title)
    height = 1.25 * n_rows + top
    width = 11 * columns
    # a fixed layout in inches (tight_layout would draw the whole sheet once more to measure it): each
    # row 1.25 in, 0.95 of it the logo and 0.3 its title; 0.5 in left of each logo for "bits" and its ticks
    fig = plt.figure(figsize=(width, height))
    grid = fig.add_gridspec(n_rows, 2 * columns, left=0.5 / width, right=1 - 0.1 / width,
                            top=1 - top / height, bottom=0.1 / height, hspace=0.3 / 0.95,
                            wspace=0.5 / (width / (2 * columns) - 0.5))
    axes = np.array([[fig.add_subplot(grid[i, j]) for j in range(2 * columns)] for i in range(n_rows)])
    for k in range(n, n_rows * columns):  # unused cells of the last row
        axes[k // columns, 2 * (k % columns)].axis("off")
        axes[k // columns, 2 * (k % columns) + 1].axis("off")
    for k, m in enumerate(motifs):
        row, c0 = k // columns, 2 * (k % columns)
        ax_q, ax_t = axes[row, c0], axes[row, c0 + 1]
        r = best.get(m.id)
        lo, hi = 0, m.width
        target, off = None, 0
        if r is not None and r.target_id in db:
            target = db[r.target_id]
            if r.orientation == "-":
                target = target.reverse_complement()
            off = -int(r.offset)  # target column j sits at x = j - offset
            lo, hi = min(0, off), max(m.width, off + target.width)
        label = f"{m.id}"
        if m.n_sites is not None:
            label += f"  n={m.n_sites:.0f}"
        if m.id in infl:
            label += f"  influence {infl[m.id].influence:+.3g} (rank {infl[m.id].rank})"
        draw_logo(m, ax_q, title=label, xticks=False)
        ax_q.set_xlim(lo - 0.5, hi - 0.5)
        if target is not None:
            sig = "" if r.q_value < 0.05 else "  (n.s.)"
            draw_logo(target, ax_t, xoffset=off, xticks=False,
                      title=f"{r.target_name} {r.target_id} ({r.orientation})  q={r.q_value:.2g}{sig}")
            ax_t.set_xlim(lo - 0.5, hi - 0.5)
        else:
            ax_t.axis("off")
            ax_t.text(0.02, 0.5, "no match", fontsize=8, transform=ax_t.transAxes)
    if title:
        fig.suptitle(title, fontsize=10, x=0.01, y=1 - 0.12 / height, ha="left", va="top")
    return save_png(fig, path, dpi=dpi)
