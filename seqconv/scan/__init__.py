"""Scan DNA for motif matches with FIMO's exact answers, both strands, all motifs at once.

>>> from seqconv.scan import scan, score_matrix
>>> hits = scan("peaks.fa", "jaspar", threshold=1e-4)          # doctest: +SKIP

Definitions (MEME suite FIMO 5.5.8, Grant et al. 2011)
------------------------------------------------------
* the background is FIMO's: NRDB frequencies by default, averaged with the
  complement when both strands are scanned (:class:`ScanOptions`);
* each motif gets a MEME pseudocount (``p' = (p n + pc bg) / (n + pc)``, ``n`` =
  nsites, 20 if unknown) and its log-odds matrix ``log2(p' / bg)`` in bits;
  the minus strand is scanned with the reverse-complement motif;
* the log-odds are put on FIMO's own integer grid per motif (entries scaled to
  ``0..1000``, :func:`seqconv.scan.pvalues.fimo_grid`), and the window score's
  distribution under the background is computed exactly by dynamic programming:
  the p-value of a window is ``P(S_int >= s_int)``, FIMO's p-value;
* a window is a hit when ``p <= threshold``; windows holding N (or any non-ACGT
  letter) are not scored; soft-masked (lower-case) bases count as upper case;
  empty records are skipped with a warning;
* ``score`` is the window's exact log-odds in bits (float64 sum of the unrounded
  matrix; FIMO prints the grid's score, within ``width / (2 scale)`` bits of it);
* ``q_value`` is FIMO's: per motif, Benjamini-Hochberg over the motif's scored
  windows (both strands) times its estimated share of true nulls pi0, estimated
  as FIMO does from a sample of 10,000 window p-values (:func:`estimate_pi0`);
  :func:`bh_qvalues` gives the run-wide Benjamini-Hochberg variant.

``bin_size=0.1`` puts every motif on one fixed 0.1-bit grid instead (memelite's;
p-values then are those of the rounded score), and ``method="memelite"``
reproduces ``memelite.fimo`` (float score compared with the bin threshold,
p-value of the truncated bin, strict ``p < threshold``).

Package
-------
:mod:`~seqconv.scan.options` (the frozen :class:`ScanOptions`),
:mod:`~seqconv.scan.pvalues` (grids, score distributions, p- and q-values),
:mod:`~seqconv.scan.bank` (the motif bank, kept per process by content),
:mod:`~seqconv.scan.diskcache` (its tables kept on disk between processes),
:mod:`~seqconv.scan.records` (sequences to blocks), :mod:`~seqconv.scan.device`
(CPU or GPU, decided without importing a CPU-only torch), :mod:`~seqconv.scan.engine_numba` and
:mod:`~seqconv.scan.engine_torch` (the two engines; torch is imported only when its engine
runs), :mod:`~seqconv.scan.dense` (:func:`score_matrix`), :mod:`~seqconv.scan.hits`
(exact rescoring), :mod:`~seqconv.scan.run` (one scan),
:mod:`~seqconv.scan.output` (q-values, files), :mod:`~seqconv.scan.frame` (the DataFrame), :mod:`~seqconv.scan.text`
(the numba TSV/BED/GFF row writer), :mod:`~seqconv.scan.jit` (the one-time
compile notice) and :mod:`~seqconv.scan.warmup` (``python -m seqconv.scan.warmup``,
run by install.sh: compiles and caches every kernel ahead of the first scan).

Engines
-------
numba is a hard dependency.  Sequences are packed into one stream of base codes
(records separated by an N) and cut into blocks overlapping by the widest motif
minus one, so memory is bounded and hits at block borders are exact.

``engine="numba"`` (CPU default, :mod:`seqconv._scan_kernels`): exact integer
lookahead filtration.  Each motif-strand's 8 most selective consecutive columns
(its *seed*) are scored with one lookup of the sequence's 8-mer code; an index
lists, for each 8-mer, the motif-strands whose threshold is still reachable with
it, so a position costs the ~10 motif-strands whose seed passes, not all 1,758 of
JASPAR's; a 64-bit mask over 3 more columns and 4-column block lookups then drop a
window as soon as its partial integer score plus the maxima of its remaining
columns falls below the threshold.  The ~1% of motif-strands whose seeds are not
selective get two seeds and are tested at every window.  All sums are integers on
the p-value grid, so no hit is lost or added.

``engine="torch"`` (GPU, or CPU on request): per block and per group of motifs of
similar width, the windows are unfolded into a one-hot matrix and multiplied with
every motif-strand's integer matrix at once (float16 on CUDA, exact for FIMO's
grid; float32 on the CPU).  The threshold is folded in as a bias, so the sign of
the product says "possible hit".

Either way the surviving windows are rescored exactly (integer score, float64
score, N check, p-value from the table).

Repeated scans
--------------
A process keeps the last motif files it parsed (by path and content) and the last two
motif banks (by the motifs' content and the options that shape the tables: p-value tables,
the CPU engine's index, pi0's tables; ~150 MB for the 879 JASPAR vertebrate motifs), so a
second scan with the same motifs skips ~0.25 CPU s of set-up; :func:`clear_caches` frees them.
Between processes, banks of 64 motifs or more are kept on disk (:mod:`~seqconv.scan.diskcache`:
``$SEQCONV_SCAN_CACHE``, default ``~/.cache/seqconv/scan``; ``SEQCONV_SCAN_CACHE=off`` disables it),
so a new process reads the tables (~0.05 CPU s) instead of building them (~0.3 s).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from seqconv.errors import InputError
from seqconv.fileio import StreamWriter, atomic_path
from seqconv.scan.bank import clear_cache as _clear_banks
from seqconv.scan.engine_numba import DEFAULT_BLOCK_NUMBA
from seqconv.scan.jit import compile_notice
from seqconv.scan.options import DEFAULT_BLOCK, NRDB_DNA, ScanOptions
from seqconv.scan.output import _HEADERS, COLUMNS, _PieceWriter, fimo_q_table, lookup_q
from seqconv.scan.pvalues import bh_qvalues, estimate_pi0, fimo_grid, fimo_qvalues, score_distribution, survival
from seqconv.scan.run import _Run, clear_motif_files

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["COLUMNS", "DEFAULT_BLOCK", "DEFAULT_BLOCK_NUMBA", "NRDB_DNA", "ScanOptions", "bh_qvalues", "clear_caches",
           "estimate_pi0", "fimo_grid", "fimo_qvalues", "scan", "scan_to_file", "score_distribution",
           "score_matrix", "survival"]


def clear_caches() -> None:
    """Forget what this process keeps for repeated scans: parsed motif files (by path and content) and the last
    motif banks (p-value tables, engine index; ~150 MB for the 879 JASPAR motifs, see :mod:`seqconv.scan.bank`)."""
    clear_motif_files()
    _clear_banks()


def _options(options: ScanOptions | None, overrides: dict) -> ScanOptions:
    base = options if options is not None else ScanOptions()
    return base.replace(**overrides) if overrides else base


def _check_threshold(threshold) -> float:
    """``threshold`` as a float in (0, 1] (InputError otherwise)."""
    return ScanOptions(threshold=threshold).threshold


def scan(sequences, motifs, threshold: float | None = None, *, options: ScanOptions | None = None, genome=None,
         ids=None, **overrides) -> pd.DataFrame:
    """Find every motif match with ``p <= threshold``: FIMO's hits, p-values and q-values.

    Parameters
    ----------
    sequences : str, Path, list, dict, (N, 4, L) array, or BED
        A FASTA path (gzip allowed); a DNA string or a list of them (ids ``seq0``,
        ``seq1`` ... or ``ids=``); ``(id, sequence)`` pairs; a dict ``{id: seq}``;
        Bio SeqRecords; one-hot ``X : (N, 4, L)`` (numpy or torch; a column that is
        not one-hot counts as N); with ``genome=``, a BED path or a DataFrame with
        chrom/start/end (ids ``chrom:start-end``, positions relative to the region).
    motifs : str, Path, Motif or list of Motif
        A MEME or JASPAR file, ``"jaspar"`` for the bundled JASPAR 2024 CORE
        vertebrates collection, or :class:`seqconv.motifs.Motif` objects.
    threshold : float in (0, 1], optional
        Shorthand for ``threshold=`` of the options (default 1e-4).
    options : ScanOptions, optional
        Every setting (FIMO's defaults); keyword ``overrides`` (``strands=``,
        ``background=``, ``pseudocount=``, ``bin_size=``, ``method=``, ``engine=``,
        ``device=``, ``block=``, ``seed=``, ``verbose=``) replace single fields.
    genome : str or Path, optional
        Genome FASTA for BED input.

    Returns
    -------
    pandas.DataFrame
        One row per hit: motif_id, motif_name, sequence_id, start, end (0-based,
        half-open), strand, score (bits), p_value, q_value (FIMO's), matched_sequence
        (read on the hit's strand), sorted by motif, sequence, start, strand.

    Raises
    ------
    InputError
        Threshold outside (0, 1], an unreadable motif file, a zero probability
        after pseudocounts, a repeated sequence id, no sequence to scan, bad input.
    """
    # the DataFrame's module imports pandas and pyarrow (~0.3 CPU s), which scans to files never need
    from seqconv.scan.frame import _frame

    if threshold is not None:
        overrides["threshold"] = threshold
    with compile_notice():
        run = _Run(sequences, motifs, _options(options, overrides), genome=genome, ids=ids)
        parts = list(run.hits())
        pidx = np.concatenate([p["pidx"] for p in parts]) if parts else np.zeros(0, np.int64)
        q = lookup_q(pidx, fimo_q_table(pidx, run.bank, run.n_tests(), run.pi0()))
        return _frame(run.bank, run.stream, parts, q)


def scan_to_file(sequences, motifs, out, *, format: str = "tsv", options: ScanOptions | None = None, genome=None,
                 ids=None, **overrides) -> int:
    """Scan and write the hits to ``out`` (tsv, bed or gff), streaming, atomically.

    Hits are kept in raw binary column pieces of ~200,000 rows in a temporary file next to ``out``
    (memory stays bounded for genome-scale runs; that file and ``out`` are written keeping the page
    cache they fill bounded, :class:`seqconv.fileio.StreamWriter`); q-values, which need every p-value of a
    motif, are added when the pieces are written out as text.  On any error nothing is
    left at ``out``.  Rows come in input order, by motif within a piece; numbers are written
    as ``%.6g``.  Options as in :func:`scan`.

    Returns
    -------
    int
        Number of hits written.
    """
    if format not in _HEADERS:
        raise InputError(f"format must be tsv, bed or gff, got {format!r}")
    with compile_notice():
        run = _Run(sequences, motifs, _options(options, overrides), genome=genome, ids=ids)
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=f".{out.name}.", dir=out.parent) as tmp, atomic_path(out) as final:
            pieces = _PieceWriter(run.bank, run.stream, Path(tmp))
            try:
                pieces.collect(run.hits())
                with open(final, "wb") as dst:
                    return pieces.write(StreamWriter(dst), format, run.n_tests(), run.pi0())
            finally:
                pieces.close()


def __getattr__(name):
    # score_matrix runs on torch (~2 s to import), which scans on the CPU never need: loaded on first use
    if name == "score_matrix":
        from seqconv.scan.dense import score_matrix

        return score_matrix
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
