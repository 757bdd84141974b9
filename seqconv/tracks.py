"""Genome tracks: merge the bedGraphs of prediction shards into one sorted bedGraph (+ bigWig) per TF.

Shards from ``seqconv predict --chroms ... --shard K/N`` each hold the tiles whose
centre falls in their own half-open range, so their bedGraphs never overlap and
together cover exactly what one run gives.  :func:`merge_bedgraphs` streams them
(it never holds a whole track in memory): each file is cut into runs of lines on
one chromosome, the runs are ordered by ``(chrom, start)`` -- chromosomes in byte
order, as ``sort -k1,1 -k2,2n`` and ``bedGraphToBigWig`` expect -- checked for
overlaps and copied byte for byte.  :func:`bedgraph_to_bigwig` writes a bigWig
whose header lists the chromosome sizes of the genome (pyBigWig, the ``bigwig``
extra).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from seqconv.errors import InputError
from seqconv.fileio import atomic_path


@dataclass(frozen=True)
class _Run:
    """Consecutive lines of one file on one chromosome: bytes ``[offset, offset + length)``."""

    chrom: str
    start: int
    end: int
    path: str
    offset: int
    length: int
    line: int


def _runs(path) -> list[_Run]:
    """Cut a bedGraph into per-chromosome runs, checking each line and that a run is sorted and disjoint."""
    runs: list[_Run] = []
    cur = None  # [chrom, start, last_end, offset, first_line]
    offset = 0
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if raw.startswith((b"track", b"browser", b"#")) or not raw.strip():
                if cur is not None:
                    raise InputError("header or blank line inside the track", path=path, line=lineno)
                offset += len(raw)
                continue
            f = raw.rstrip(b"\r\n").split(b"\t")
            try:
                chrom, s, e = f[0].decode(), int(f[1]), int(f[2])
                float(f[3])
            except (IndexError, ValueError, UnicodeDecodeError):
                raise InputError("expected 4 tab-separated columns: chrom, start, end, value",
                                 path=path, line=lineno) from None
            if not 0 <= s < e:
                raise InputError(f"bad interval {chrom}:{s}-{e}", path=path, line=lineno)
            if cur is not None and chrom == cur[0]:
                if s < cur[2]:
                    raise InputError(f"{chrom}:{s}-{e} starts before the previous interval ends ({cur[2]}); "
                                     "a bedGraph must be sorted and non-overlapping", path=path, line=lineno)
                cur[2] = e
            else:
                if cur is not None:
                    runs.append(_Run(cur[0], cur[1], cur[2], str(path), cur[3], offset - cur[3], cur[4]))
                cur = [chrom, s, e, offset, lineno]
            offset += len(raw)
    if cur is not None:
        runs.append(_Run(cur[0], cur[1], cur[2], str(path), cur[3], offset - cur[3], cur[4]))
    return runs


def merge_bedgraphs(paths: Iterable, out, *, sizes: dict | None = None) -> list[tuple[str, int]]:
    """Merge non-overlapping bedGraph shards into one sorted bedGraph, written atomically.

    Parameters
    ----------
    paths : iterable of path
        Shard bedGraphs, in any order.
    out : path
    sizes : dict, optional
        ``{chrom: length}``: every interval must lie on a known chromosome, inside it.

    Returns
    -------
    list of (chrom, n_bp_covered), in output order.

    Raises
    ------
    InputError
        A malformed line, an unsorted shard, two shards covering the same bases,
        an unknown chromosome or an interval past a chromosome end.
    """
    paths = [str(p) for p in paths]
    if not paths:
        raise InputError("no bedGraph shards to merge")
    runs = [r for p in paths for r in _runs(p)]
    runs.sort(key=lambda r: (r.chrom.encode(), r.start))
    for a, b in zip(runs, runs[1:]):
        if a.chrom == b.chrom and b.start < a.end:
            raise InputError(f"shards overlap on {a.chrom}: {a.path} (line {a.line}...) covers up to {a.end}, "
                             f"{b.path} (line {b.line}) starts at {b.start}; were they cut with the same "
                             "--stride and --shard N?")
    if sizes is not None:
        for r in runs:
            if r.chrom not in sizes:
                raise InputError(f"chromosome {r.chrom!r} is not in the genome / chromosome sizes",
                                 path=r.path, line=r.line)
            if r.end > sizes[r.chrom]:
                raise InputError(f"{r.chrom} interval ends at {r.end}, past the chromosome end ({sizes[r.chrom]})",
                                 path=r.path)
    covered: dict[str, int] = {}
    handles: dict[str, object] = {}
    try:
        with atomic_path(out, suffix=".bedGraph") as tmp, open(tmp, "wb") as dst:
            for r in runs:
                fh = handles.get(r.path)
                if fh is None:
                    fh = handles[r.path] = open(r.path, "rb")
                fh.seek(r.offset)
                dst.write(fh.read(r.length))
                covered[r.chrom] = covered.get(r.chrom, 0) + (r.end - r.start)
    finally:
        for fh in handles.values():
            fh.close()
    return list(covered.items())


def read_chrom_sizes(path) -> dict:
    """``chrom<TAB>length`` lines (UCSC ``.chrom.sizes``) -> ``{chrom: length}``."""
    sizes = {}
    with open(path) as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            f = line.split()
            try:
                sizes[f[0]] = int(f[1])
            except (IndexError, ValueError):
                raise InputError("expected 'chrom<TAB>length'", path=path, line=lineno) from None
    if not sizes:
        raise InputError("empty chromosome sizes file", path=path)
    return sizes


def bedgraph_to_bigwig(bedgraph, out, sizes: dict, *, batch: int = 100_000) -> int:
    """Write a bedGraph as bigWig (atomically); the header lists every chromosome of ``sizes``.

    The header order is the chromosomes' order of first appearance in the
    bedGraph followed by the rest in byte order, so any sorted bedGraph converts.

    Parameters
    ----------
    bedgraph : path
        Sorted, non-overlapping (as written by :func:`merge_bedgraphs` or ``seqconv predict``).
    out : path
    sizes : dict
        ``{chrom: length}``.
    batch : int
        Intervals passed to pyBigWig per call.

    Returns
    -------
    int : intervals written.
    """
    try:
        import pyBigWig
    except ImportError:
        raise InputError("bigWig output needs pyBigWig: pip install 'seqconv[bigwig]' (or pyBigWig)") from None
    order: list[str] = []
    with open(bedgraph, "rb") as fh:
        last = None
        for raw in fh:
            c = raw.split(b"\t", 1)[0].decode()
            if c != last and not raw.startswith((b"track", b"browser", b"#")) and raw.strip():
                if c in order:
                    raise InputError(f"chromosome {c!r} appears in two separate blocks (sort the bedGraph)",
                                     path=bedgraph)
                if c not in sizes:
                    raise InputError(f"chromosome {c!r} is not in the chromosome sizes", path=bedgraph)
                order.append(c)
                last = c
    header = [(c, int(sizes[c])) for c in order] + sorted(((c, int(n)) for c, n in sizes.items() if c not in order),
                                                         key=lambda t: t[0].encode())
    n = 0
    with atomic_path(out, suffix=".bw") as tmp:
        bw = pyBigWig.open(str(tmp), "w")
        try:
            bw.addHeader(header)
            cols: tuple[list, list, list, list] = ([], [], [], [])
            with open(bedgraph) as fh:
                for line in fh:
                    if line.startswith(("track", "browser", "#")) or not line.strip():
                        continue
                    c, s, e, v = line.split("\t")[:4]
                    cols[0].append(c)
                    cols[1].append(int(s))
                    cols[2].append(int(e))
                    cols[3].append(float(v))
                    if len(cols[0]) >= batch:
                        n += _flush(bw, cols)
            n += _flush(bw, cols)
        finally:
            bw.close()
    return n


def _flush(bw, cols) -> int:
    k = len(cols[0])
    if k:
        bw.addEntries(cols[0], cols[1], ends=cols[2], values=cols[3])
        for c in cols:
            c.clear()
    return k


def shard_bedgraphs(prefixes: Iterable, tasks: list | None = None) -> dict[str, list[Path]]:
    """``{TF: [PREFIX.<TF>.bedGraph, ...]}`` for shard prefixes; every shard must hold the same TFs.

    ``tasks=None`` takes the TFs from the files next to the first prefix.
    """
    prefixes = [str(p) for p in prefixes]
    if not prefixes:
        raise InputError("no shard prefixes given")

    def found(prefix):
        p = Path(prefix)
        tail = ".bedGraph"
        return sorted(f.name[len(p.name) + 1:-len(tail)] for f in p.parent.glob(f"{p.name}.*{tail}"))

    tasks = list(tasks) if tasks else found(prefixes[0])
    if not tasks:
        raise InputError(f"no {prefixes[0]}.<TF>.bedGraph files")
    out: dict[str, list[Path]] = {tf: [] for tf in tasks}
    for prefix in prefixes:
        for tf in tasks:
            f = Path(f"{prefix}.{tf}.bedGraph")
            if not f.exists():
                raise InputError(f"shard {prefix!r} has no track for TF {tf!r}", path=f)
            out[tf].append(f)
    return out
