"""The scan's settings: one frozen dataclass, FIMO's defaults."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from seqconv.errors import InputError
from seqconv.motifs.core import check_background

#: Named backgrounds (``background=``): FIMO's default NRDB frequencies, uniform, the motif file's, or the
#: scanned sequences' own ACGT frequencies.
BACKGROUNDS = ("nrdb", "uniform", "motif", "sequences")

#: Positions per block of the torch engine (the numba engine's is
#: :data:`seqconv.scan.engine_numba.DEFAULT_BLOCK_NUMBA`).
DEFAULT_BLOCK = 4096

#: MEME suite NRDB DNA frequencies (A, C, G, T), FIMO's default background (``alphabet.c``).
NRDB_DNA = np.array([0.281774, 0.222020, 0.228876, 0.267330])


@dataclass(frozen=True)
class ScanOptions:
    """Every setting of a scan, with FIMO 5.5.8's defaults.

    Parameters
    ----------
    threshold : float in (0, 1]
        Report windows with p-value ``<= threshold`` (FIMO ``--thresh``, 1e-4).
    strands : {"both", "+", "-"}
        FIMO scans both (``--norc``: ``"+"``).
    background : {"nrdb", "uniform", "motif", "sequences"} or (4,) frequencies
        Zero-order background for log-odds, pseudocounts and p-values.  ``"nrdb"``
        (default) is FIMO's: the MEME suite's NRDB frequencies.  As FIMO does, the
        background is averaged with its complement when both strands are scanned
        and floored at 5e-7.
    pseudocount : float
        MEME motif pseudocount (FIMO ``--motif-pseudo``, 0.1).
    bin_size : float or None
        ``None`` (default): FIMO's own integer grid per motif (scores scaled to
        ``0..1000`` per column), so hits and p-values are FIMO's.  A number: one
        fixed grid of that many bits for every motif (``0.1`` is memelite's; coarser
        is slightly faster, p-values are then those of the rounded score).
    method : {"fimo", "memelite"}
        ``"memelite"`` reproduces ``memelite.fimo`` (float score against the bin
        threshold, p-value of the truncated bin, strict ``p < threshold``, uniform
        background, 0.1-bit grid unless ``bin_size`` says otherwise).
    engine : {"auto", "numba", "torch"}
        ``"numba"``: the CPU lookahead engine; ``"torch"``: matrix products (CPU or
        CUDA); ``"auto"``: numba on the CPU, torch on a GPU.  Both give the same hits.
    device : str, optional
        Default: CUDA when available, else CPU.
    block : int, optional
        Positions per block (default 2**20 for numba, 4096 for torch).
    seed : int
        Seed of the sample of windows from which each motif's share of true nulls
        (pi0, for q-values) is estimated, as FIMO estimates it from a reservoir sample.
    verbose : bool
        Progress bar on stderr.
    """

    threshold: float = 1e-4
    strands: str = "both"
    background: object = "nrdb"
    pseudocount: float = 0.1
    bin_size: float | None = None
    method: str = "fimo"
    engine: str = "auto"
    device: str | None = None
    block: int | None = None
    seed: int = 0
    verbose: bool = False

    def __post_init__(self):
        try:
            t = float(self.threshold)
        except (TypeError, ValueError):
            raise InputError(f"threshold must be a number in (0, 1], got {self.threshold!r}") from None
        if not (0 < t <= 1):
            raise InputError(f"threshold must be in (0, 1], got {self.threshold!r}")
        object.__setattr__(self, "threshold", t)
        if self.strands not in ("both", "+", "-"):
            raise InputError(f"strands must be 'both', '+' or '-', got {self.strands!r}")
        bg = self.background
        if bg is None:
            bg = "nrdb"
        if isinstance(bg, str):
            if bg not in BACKGROUNDS:
                raise InputError(f"background must be one of {', '.join(BACKGROUNDS)} or 4 frequencies, got {bg!r}")
        else:
            bg = tuple(float(x) for x in check_background(bg))
        object.__setattr__(self, "background", bg)
        if not (np.isfinite(self.pseudocount) and self.pseudocount >= 0):
            raise InputError(f"pseudocount must be >= 0, got {self.pseudocount}")
        if self.bin_size is not None and not self.bin_size > 0:
            raise InputError(f"bin_size must be > 0, got {self.bin_size}")
        if self.method not in ("fimo", "memelite"):
            raise InputError(f"method must be 'fimo' or 'memelite', got {self.method!r}")
        if self.engine not in ("auto", "numba", "torch"):
            raise InputError(f"engine must be 'auto', 'numba' or 'torch', got {self.engine!r}")
        if self.block is not None and int(self.block) < 1:
            raise InputError(f"block must be >= 1, got {self.block}")

    def replace(self, **changes) -> ScanOptions:
        """A copy with ``changes`` (unknown names raise TypeError)."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise TypeError(f"unexpected scan options {sorted(unknown)}")
        return dataclasses.replace(self, **changes)

    @property
    def grid(self) -> float | None:
        """The fixed grid in bits, or None for FIMO's per-motif grid."""
        if self.method == "memelite" and self.bin_size is None:
            return 0.1
        return self.bin_size


def fimo_background(bg, both_strands: bool) -> np.ndarray:
    """A background as FIMO uses it: averaged with its complement when both strands are
    scanned, then floored (``(f + 5e-7) / (1 + 2e-6)``, MEME's ``normalize_frequencies``)."""
    f = np.asarray(bg, dtype=np.float64).copy()
    if both_strands:
        at, cg = (f[0] + f[3]) / 2.0, (f[1] + f[2]) / 2.0
        f = np.array([at, cg, cg, at])
    f = (f + 5e-7) / (f.sum() + 4 * 5e-7)
    return f / f.sum()
