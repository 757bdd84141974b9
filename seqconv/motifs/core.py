"""The :class:`Motif` type: a position frequency/probability matrix and its conversions.

Shapes
------
Every matrix is ``(L, 4)``: one row per motif position, columns A, C, G, T.
A background is ``(4,)`` (A, C, G, T), summing to one.

Conversions follow the MEME suite (FIMO) definitions:

* counts -> probabilities: ``counts / n_sites`` (``n_sites`` = a row's sum);
* pseudocounts (MEME ``apply_pseudocount_to_motif``):
  ``p' = (p * n_sites + pseudocount * bg) / (n_sites + pseudocount)``, with
  ``n_sites = 20`` when the motif does not say (MEME's default site count);
* log-odds: ``log2(p' / bg)`` in bits.
"""

from __future__ import annotations

import math

import numpy as np

from seqconv.encode import ALPHABET
from seqconv.errors import InputError

#: MEME's DEFAULT_SITE_COUNT: the number of sites assumed for a probability
#: matrix that does not state ``nsites``.
DEFAULT_N_SITES = 20

#: Largest deviation from 1 tolerated for a probability row (MEME files often
#: carry 3-6 decimals); rows within it are renormalised.
ROW_SUM_TOLERANCE = 0.02

UNIFORM = np.full(4, 0.25)

_COMPLEMENT = [3, 2, 1, 0]  # A<->T, C<->G in ACGT column order


def check_background(background, *, where: str = "background") -> np.ndarray:
    """Validate a background ``(4,)`` (A, C, G, T) and return it as float64 summing to 1.

    ``None`` gives the uniform background.
    """
    if background is None:
        return UNIFORM.copy()
    bg = np.asarray(background, dtype=np.float64).reshape(-1)
    if bg.shape != (4,):
        raise InputError(f"{where}: expected 4 frequencies (A, C, G, T), got {bg.size}")
    # four Python floats: the checks below cost ~1 us, not numpy's ~20 (a scan checks each motif's)
    a, c, g, t = bg.tolist()
    if not all(math.isfinite(x) and x > 0 for x in (a, c, g, t)):
        raise InputError(f"{where}: frequencies must be finite and > 0, got {bg.tolist()}")
    total = a + c + g + t
    if abs(total - 1) > ROW_SUM_TOLERANCE:
        raise InputError(f"{where}: frequencies must sum to 1, they sum to {total:.4g}")
    return bg / total


class Motif:
    """A DNA motif: counts or probabilities ``(L, 4)`` (A, C, G, T) plus metadata.

    Parameters
    ----------
    id : str
        Identifier (e.g. ``MA0139.2``).
    matrix : array-like (L, 4)
        Counts (``kind="counts"``) or probabilities (``kind="probabilities"``).
    kind : {"probabilities", "counts"}
    name : str, optional
        Human-readable name (e.g. ``CTCF``); defaults to ``id``.
    background : array-like (4,), optional
        Background frequencies the motif was defined against (uniform if absent).
    n_sites : float, optional
        Number of sites behind the matrix.  For counts it defaults to the largest
        row sum; for probabilities it stays ``None`` (MEME then assumes 20).
    source : str, optional
        File the motif came from; named in error messages.
    url : str, optional

    Raises
    ------
    InputError
        Width 0, non-finite or negative entries, a probability row not summing
        to one (beyond :data:`ROW_SUM_TOLERANCE`), a count row summing to zero;
        the message names ``source`` and ``id``.
    """

    __slots__ = ("id", "name", "_counts", "_probs", "background", "n_sites", "source", "url")

    def __init__(self, id, matrix, *, kind="probabilities", name=None, background=None,
                 n_sites=None, source=None, url=None):
        self.id = str(id)
        self.name = str(name) if name is not None else self.id
        self.source = None if source is None else str(source)
        self.url = url
        where = self._where()
        m = np.array(matrix, dtype=np.float64, copy=True)
        if m.ndim != 2 or m.shape[1] != 4:
            if m.ndim == 2 and m.shape[0] == 4 and m.shape[1] != 4:
                raise InputError(f"{where}: matrix has shape {m.shape}; motifs are (L, 4) with "
                                 "columns A, C, G, T (transpose it)")
            raise InputError(f"{where}: matrix must be (L, 4) with columns A, C, G, T, got shape {m.shape}")
        if m.shape[0] == 0:
            raise InputError(f"{where}: motif has width 0")
        if not np.all(np.isfinite(m)):
            r = int(np.argwhere(~np.isfinite(m))[0, 0])
            raise InputError(f"{where}: non-finite value in row {r + 1}")
        if np.any(m < 0):
            r, c = np.argwhere(m < 0)[0]
            what = "count" if kind == "counts" else "probability"
            raise InputError(f"{where}: negative {what} {m[r, c]:g} at row {r + 1}, column {ALPHABET[c]}")
        sums = m.sum(axis=1)
        if kind == "counts":
            if np.any(sums <= 0):
                r = int(np.argmax(sums <= 0))
                raise InputError(f"{where}: row {r + 1} has no counts")
            self._counts = m
            self._probs = m / sums[:, None]
            self.n_sites = float(n_sites) if n_sites is not None else float(sums.max())
        elif kind == "probabilities":
            bad = np.abs(sums - 1) > ROW_SUM_TOLERANCE
            if np.any(bad):
                r = int(np.argmax(bad))
                raise InputError(f"{where}: probability row {r + 1} sums to {sums[r]:.6g}, not 1")
            self._counts = None
            self._probs = m / sums[:, None]
            self.n_sites = None if n_sites is None else float(n_sites)
        else:
            raise ValueError(f"kind must be 'probabilities' or 'counts', got {kind!r}")
        if self.n_sites is not None and not self.n_sites > 0:
            raise InputError(f"{where}: n_sites must be > 0, got {self.n_sites}")
        self.background = check_background(background, where=f"{where}: background")

    # ------------------------------------------------------------ basics
    def _where(self) -> str:
        return (f"{self.source}: " if self.source else "") + f"motif {self.id}"

    @classmethod
    def from_counts(cls, id, counts, **kwargs) -> Motif:
        """Motif from a count matrix ``(L, 4)``."""
        return cls(id, counts, kind="counts", **kwargs)

    @classmethod
    def from_probabilities(cls, id, probabilities, **kwargs) -> Motif:
        """Motif from a probability matrix ``(L, 4)`` (rows sum to one)."""
        return cls(id, probabilities, kind="probabilities", **kwargs)

    @property
    def width(self) -> int:
        """Number of positions ``L``."""
        return self._probs.shape[0]

    def __len__(self) -> int:
        return self.width

    @property
    def probabilities(self) -> np.ndarray:
        """Letter probabilities ``(L, 4)`` without pseudocounts (a copy)."""
        return self._probs.copy()

    @property
    def counts(self) -> np.ndarray:
        """Counts ``(L, 4)``: as given, or probabilities times ``n_sites`` (default 20)."""
        if self._counts is not None:
            return self._counts.copy()
        return self._probs * (self.n_sites or DEFAULT_N_SITES)

    @property
    def has_counts(self) -> bool:
        """Whether the motif was built from counts."""
        return self._counts is not None

    def __repr__(self) -> str:
        return f"Motif(id={self.id!r}, name={self.name!r}, width={self.width}, n_sites={self.n_sites})"

    def __eq__(self, other) -> bool:
        if not isinstance(other, Motif):
            return NotImplemented
        return (self.id == other.id and self.name == other.name and self.width == other.width
                and np.allclose(self._probs, other._probs, atol=1e-6)
                and np.allclose(self.background, other.background, atol=1e-6))

    __hash__ = None

    def consensus(self) -> str:
        """The most probable letter at each position."""
        return "".join(ALPHABET[i] for i in self._probs.argmax(axis=1))

    # ------------------------------------------------------------ conversions
    def probabilities_with_pseudocount(self, pseudocount: float = 0.1, background=None) -> np.ndarray:
        """Probabilities ``(L, 4)`` with a MEME-style pseudocount.

        ``p' = (p * n + pseudocount * bg) / (n + pseudocount)`` where ``n`` is
        ``n_sites`` (20 when unknown) and ``bg`` the given background (default:
        the motif's own).
        """
        if pseudocount < 0 or not np.isfinite(pseudocount):
            raise ValueError(f"pseudocount must be >= 0, got {pseudocount}")
        bg = self.background if background is None else check_background(background)
        n = self.n_sites or DEFAULT_N_SITES
        return (self._probs * n + pseudocount * bg) / (n + pseudocount)

    def log_odds(self, pseudocount: float = 0.1, background=None) -> np.ndarray:
        """Log-odds matrix (PWM) in bits ``(L, 4)``: ``log2(p' / bg)``.

        Raises
        ------
        InputError
            If a probability is still zero after the pseudocount (``pseudocount=0``
            with a zero in the matrix): the score would be ``-inf``.
        """
        bg = self.background if background is None else check_background(background)
        p = self.probabilities_with_pseudocount(pseudocount, bg)
        if np.any(p <= 0):
            r, c = np.argwhere(p <= 0)[0]
            raise InputError(f"{self._where()}: probability of {ALPHABET[c]} at row {r + 1} is zero "
                             f"after pseudocount {pseudocount}; use a pseudocount > 0")
        return np.log2(p / bg)

    def information_content(self, pseudocount: float = 0.0, background=None) -> np.ndarray:
        """Information content per position ``(L,)`` in bits: ``sum p log2(p / bg)``.

        With a uniform background this is ``2 - entropy``.
        """
        bg = self.background if background is None else check_background(background)
        p = self.probabilities_with_pseudocount(pseudocount, bg) if pseudocount else self._probs
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(p > 0, p * np.log2(p / bg), 0.0)
        return terms.sum(axis=1)

    def _replace(self, probs=None, counts=None, **kw) -> Motif:
        args = dict(name=self.name, background=self.background, n_sites=self.n_sites,
                    source=self.source, url=self.url)
        args.update(kw)
        motif_id = args.pop("id", self.id)
        if counts is not None:
            return Motif(motif_id, counts, kind="counts", **args)
        return Motif(motif_id, probs, kind="probabilities", **args)

    def trim(self, min_information: float = 0.25) -> Motif:
        """Drop flanking positions whose information content is below ``min_information`` bits.

        The core (first to last position at or above the cut) is kept whole.

        Raises
        ------
        InputError
            If no position reaches ``min_information``.
        """
        ic = self.information_content()
        keep = np.flatnonzero(ic >= min_information)
        if keep.size == 0:
            raise InputError(f"{self._where()}: no position has information >= {min_information} bits "
                             f"(max {ic.max():.3g}); nothing left after trimming")
        a, b = int(keep[0]), int(keep[-1]) + 1
        if self._counts is not None:
            return self._replace(counts=self._counts[a:b])
        return self._replace(probs=self._probs[a:b])

    def reverse_complement(self) -> Motif:
        """The motif read on the other strand: rows reversed, A<->T and C<->G swapped.

        The background is complemented too, so scores against it are unchanged.
        """
        bg = self.background[_COMPLEMENT]
        if self._counts is not None:
            return self._replace(counts=self._counts[::-1, _COMPLEMENT], background=bg)
        return self._replace(probs=self._probs[::-1, _COMPLEMENT], background=bg)


def as_motif_list(motifs) -> list[Motif]:
    """A Motif, an iterable of Motifs, or a dict id -> Motif, as a list (checked)."""
    if isinstance(motifs, Motif):
        return [motifs]
    if isinstance(motifs, dict):
        motifs = list(motifs.values())
    out = list(motifs)
    for i, m in enumerate(out):
        if not isinstance(m, Motif):
            raise TypeError(f"motif {i} is a {type(m).__name__}, not a seqconv Motif")
    return out
