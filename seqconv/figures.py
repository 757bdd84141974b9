"""Matplotlib figures for files: the non-interactive backend, and PNGs written atomically.

matplotlib is imported on first use only (``seqconv`` commands that draw nothing never load it).
"""

from __future__ import annotations

from pathlib import Path

from seqconv.fileio import atomic_path


def pyplot():
    """``matplotlib.pyplot`` with the non-interactive ``Agg`` backend (kept where one is already in use)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def save_png(fig, path, *, dpi: int) -> Path:
    """Write ``fig`` to ``path`` as a PNG, atomically (no half-written file), and close it, also on failure."""
    try:
        with atomic_path(path, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=dpi, format="png")
    finally:
        pyplot().close(fig)
    return Path(path)
