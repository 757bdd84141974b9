"""Scoring sequences with a model: arrays, FASTA files, BED + genome, tiled regions.

Everything streams in batches: windows are cut and one-hot encoded one batch at a
time, so memory stays bounded whatever the input size (no ``(N, 4, L)`` array of
a whole chromosome is ever built).

Strand handling: with ``strand="both"`` (the default of the bundled models) the
logit of a window is the mean of the logits of its forward and reverse-complement
one-hot; ``strand="forward"`` scores the forward strand only.

Output tables are long format: one row per (window, TF) with ``score`` (the logit)
and ``probability`` (its sigmoid).
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterable, Iterator

import numpy as np
import pandas as pd
import torch

from seqconv.encode import one_hot
from seqconv.errors import InputError
from seqconv.genome import Genome, check_chroms, iter_fasta, read_bed
from seqconv.progress import progress_bar, progress_iter

#: Without a terminal, the progress log prints one line per this many windows.
PROGRESS_EVERY = 50_000


class ShortSequenceWarning(UserWarning):
    """A sequence shorter than the model input was padded with N."""


def resolve_device(device=None) -> torch.device:
    """``None`` -> CPU; a CUDA/MPS device is checked to exist (InputError otherwise)."""
    if device is None:
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise InputError(f"invalid device {device!r}: {exc}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device {device!r} requested but no CUDA device is present; use --device cpu")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise InputError(f"device {device!r} requested but MPS is not available; use --device cpu")
    return dev


def reverse_complement_batch(x: torch.Tensor) -> torch.Tensor:
    """Reverse complement of a one-hot batch ``(N, 4, L)`` (ACGT channels: flip channels and length)."""
    return x.flip(1).flip(2)


def _logits(model, x: torch.Tensor, strand: str) -> torch.Tensor:
    out = model(x)
    if strand == "both":
        out = (out + model(reverse_complement_batch(x))) / 2
    return out


def _for_inference(model):
    """An eval-mode copy for scoring; a :class:`~seqconv.models.SeqModel` also gets its BatchNorm folded
    into its convs.  The caller's model keeps its device and train/eval mode."""
    import copy

    from seqconv.models import SeqModel, inference_copy

    return inference_copy(model) if isinstance(model, SeqModel) else copy.deepcopy(model).eval()


def predict(model, X, *, batch_size: int = 256, device=None, strand: str | None = None,
            verbose: bool = False, check: bool = True) -> np.ndarray:
    """Logits of a model on an array of one-hot sequences.

    Parameters
    ----------
    model : torch.nn.Module
        ``(N, 4, L)`` float -> ``(N, T)`` logits.  Scored through an eval-mode copy: the
        caller's model keeps its device and train/eval mode.
    X : (N, 4, L) ndarray (uint8 at rest or float) or torch.Tensor, or a list of str
        Strings are one-hot encoded batch by batch at the model's ``input_length``
        (centre-cropped / N-padded).
    batch_size : int
    device : str or torch.device, optional
    strand : {"both", "forward"}, optional
        Average over forward and reverse complement, or forward only (default: the model's
        own ``strand``, else ``"both"``).
    verbose : bool
        Progress bar on stderr.
    check : bool
        Refuse (InputError naming the sequence and position) arrays with NaN/inf,
        values outside [0, 1], or a position whose channels sum above 1 (not
        one-hot).  ``False`` scores any real-valued input (e.g. soft sequences).

    Returns
    -------
    logits : (N, T) float32 ndarray  (``1 / (1 + exp(-logits))`` are probabilities)
    """
    strand = strand or getattr(model, "strand", "both")
    if strand not in ("both", "forward"):
        raise ValueError(f"strand must be 'both' or 'forward', got {strand!r}")
    dev = resolve_device(device)
    model = _for_inference(model).to(dev)
    strings = isinstance(X, (list, tuple))
    n = len(X)
    outs = []
    with torch.inference_mode():
        for i in progress_iter(range(0, n, batch_size), desc="predicted", unit="batches", enabled=verbose):
            xb = X[i:i + batch_size]
            if strings:
                xb = one_hot(list(xb), dtype="float32", length=model.input_length,
                             iupac=getattr(model, "encoding", {}).get("iupac", "zero"))
            xb = torch.as_tensor(np.asarray(xb) if not torch.is_tensor(xb) else xb).to(dev, torch.float32)
            if check:
                _check_one_hot(xb, i)
            outs.append(_logits(model, xb, strand).float().cpu().numpy())
    if not outs:
        return np.zeros((0, getattr(model, "n_tasks", 1)), dtype=np.float32)
    return np.concatenate(outs)


def _check_one_hot(xb: torch.Tensor, offset: int) -> None:
    """A batch must be ``(n, 4, L)``, finite, in [0, 1], each position summing to at most 1 (N = all 0 or 0.25)."""
    if xb.ndim != 3 or xb.shape[1] != 4:
        raise InputError(f"one-hot input must be (N, 4, L), got shape {tuple(xb.shape)}")
    bad = ~torch.isfinite(xb).all(dim=1)
    what = "NaN or infinite values"
    if not bad.any():
        bad = (xb < 0).any(dim=1) | (xb > 1).any(dim=1) | (xb.sum(dim=1) > 1 + 1e-3)
        what = "values that are not one-hot (each position: one 1, or all 0 / 0.25 for N)"
    if bad.any():
        n, pos = (int(v) for v in torch.nonzero(bad)[0])
        raise InputError(f"sequence {offset + n} of the input array has {what} at position {pos}")


# --------------------------------------------------------------------------- inputs


def parse_region(region: str) -> tuple[str, int | None, int | None]:
    """Parse a region.

    ``"chr1"`` -> ``("chr1", None, None)``; ``"chr1:1,001-2,000"`` (1-based, inclusive) -> ``("chr1", 1000, 2000)``.
    """
    m = re.fullmatch(r"([^:\s]+)(?::([\d,]+)-([\d,]+))?", region.strip())
    if not m:
        raise InputError(f"bad region {region!r}; use CHROM or CHROM:START-END (1-based)")
    chrom, s, e = m.groups()
    if s is None:
        return chrom, None, None
    s, e = int(s.replace(",", "")) - 1, int(e.replace(",", ""))
    if s < 0 or e <= s:
        raise InputError(f"bad region {region!r}: need 1 <= START <= END")
    return chrom, s, e


#: a sequence shorter than this fraction of the model input is refused unless padding is asked for
MIN_FRACTION = 0.5


def _centre(seq, width: int, name: str, strict: bool, pad: bool = False):
    """The central ``width`` bp of ``seq``; a shorter sequence is N-padded (with a warning), refused under
    ``strict``, and refused when under half the width unless ``pad`` (its score would mean little)."""
    n = len(seq)
    if n < width:
        msg = f"sequence {name!r} is {n} bp, shorter than the model input ({width} bp)"
        if strict:
            raise InputError(msg + " (--strict)")
        if n < MIN_FRACTION * width and not pad:
            raise InputError(f"sequence {name!r} is {n} bp, under half the model input ({width} bp): most of the "
                             "window would be N padding and its score would mean little; pass --pad "
                             "(pad=True) to score it anyway")
        warnings.warn(msg + "; padded with N", ShortSequenceWarning, stacklevel=3)
        left = (width - n) // 2
        return "N" * left + seq + "N" * (width - n - left)
    s = (n - width) // 2
    return seq[s:s + width]


def _tile_starts(n: int, width: int, stride: int) -> np.ndarray:
    if n <= width:
        return np.array([0])
    starts = np.arange(0, n - width + 1, stride)
    if starts[-1] != n - width:
        starts = np.append(starts, n - width)
    return starts


def _n_tiles(length: int, width: int, stride: int) -> int:
    """How many windows :func:`_tiles` yields along ``length`` bp (for progress totals)."""
    if length <= width:
        return 1
    n = (length - width) // stride + 1
    return n + int((n - 1) * stride != length - width)


def _tiles(name: str, chrom: str, offset: int, length: int, fetch, width: int, stride: int, strict: bool,
           chunk: int = 1 << 20, pad: bool = False):
    """Yield ``(id, chrom, start, end, window_sequence)`` along ``[offset, offset + length)``; ``fetch(s, e)`` reads."""
    if length < width:
        seq = _centre(fetch(offset, offset + length), width, name, strict, pad)
        yield f"{chrom}:{offset}-{offset + length}", chrom, offset, offset + length, seq
        return
    starts = _tile_starts(length, width, stride)
    i = 0
    while i < len(starts):
        lo = starts[i]
        j = int(np.searchsorted(starts, lo + chunk, side="right"))
        j = max(j, i + 1)
        block = fetch(offset + lo, offset + starts[j - 1] + width)
        for s in starts[i:j]:
            a = offset + int(s)
            yield f"{chrom}:{a}-{a + width}", chrom, a, a + width, block[s - lo:s - lo + width]
        i = j


# --------------------------------------------------------------------------- genome-wide tiling (shards)


def open_genome(path):
    """The genome reader of ``path`` (:class:`seqconv.genome.Genome`: plain FASTA or bgzip read by position
    through pyfaidx, a small plain gzip in memory)."""
    return Genome(path)


def parse_shard(spec: str) -> tuple[int, int]:
    """``"2/8"`` -> ``(2, 8)`` (1-based shard index, number of shards)."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(spec))
    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise InputError(f"bad shard {spec!r}; use K/N with 1 <= K <= N, e.g. 2/8")
    return int(m.group(1)), int(m.group(2))


def shard_ranges(sizes: dict, chroms=None, shard: tuple[int, int] = (1, 1)) -> list[tuple[str, int, int]]:
    """The tile-centre ranges a shard owns: ``[(chrom, lo, hi), ...]``, half-open.

    The chromosomes (``chroms``, default all, in the order given) are laid end to
    end and cut into ``N`` pieces of equal length; shard ``K`` owns piece ``K``.
    A tile belongs to the shard holding its centre, so the shards partition the
    tiles of a single run exactly, whatever ``N``.

    Parameters
    ----------
    sizes : dict
        ``{chrom: length}``.
    chroms : list of str, optional
    shard : (K, N)
        1-based shard index and shard count.
    """
    chroms = list(sizes) if chroms is None else list(chroms)
    unknown = [c for c in chroms if c not in sizes]
    if unknown:
        raise InputError(f"chromosome(s) {unknown[:5]} are not in the genome (it has {list(sizes)[:5]} ...)")
    if len(set(chroms)) != len(chroms):
        raise InputError(f"a chromosome is listed twice in {chroms}")
    k, n = shard
    total = sum(sizes[c] for c in chroms)
    lo_g, hi_g = (k - 1) * total // n, k * total // n
    out, off = [], 0
    for c in chroms:
        a, b = max(lo_g, off), min(hi_g, off + sizes[c])
        if a < b:
            out.append((c, a - off, b - off))
        off += sizes[c]
    return out


def tile_bins(starts: np.ndarray, ends: np.ndarray, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """The bedGraph bin of each tile of a chromosome-wide grid (origin 0): a pure function of the tile.

    A tile's bin is the central ``stride`` bp of its window; where that would
    overlap the bin of the grid tile before it (only the last tile, flush with the
    chromosome end) it starts where that bin ends and runs ``stride`` bp or to
    the window end.  Bins never overlap and do not depend on which shard scored
    the tile: the same bins as a one-run ``--region CHROM`` track.

    Parameters
    ----------
    starts, ends : (n,) int arrays
        Window coordinates (``ends - starts`` is the model width, or the
        chromosome length for a chromosome shorter than that).
    stride : int

    Returns
    -------
    lo, hi : (n,) int arrays; a tile with ``hi <= lo`` has no bin.
    """
    starts, ends = np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64)
    half = stride // 2

    def bin_of(s, e):
        lo = np.maximum((s + e) // 2 - half, s)
        return lo, np.minimum(lo + stride, e)

    lo, _ = bin_of(starts, ends)
    prev = (starts - 1) // stride * stride  # the grid tile before (a full window: only chromosomes >= width have one)
    _, prev_hi = bin_of(prev, prev + (ends - starts))
    lo = np.where(starts > 0, np.maximum(lo, prev_hi), lo)
    return lo, np.minimum(lo + stride, ends)


def _owned_tiles(chrom: str, clen: int, lo: int, hi: int, fetch, width: int, stride: int, strict: bool,
                 chunk: int = 1 << 20):
    """Yield the grid tiles of ``chrom`` whose centre lies in ``[lo, hi)`` as ``(id, chrom, start, end, seq)``."""
    if clen < width:
        if lo <= clen // 2 < hi:
            yield from _tiles(chrom, chrom, 0, clen, fetch, width, stride, strict)
        return
    starts = _tile_starts(clen, width, stride)
    centres = starts + width // 2
    starts = starts[(centres >= lo) & (centres < hi)]
    i = 0
    while i < len(starts):
        j = max(int(np.searchsorted(starts, starts[i] + chunk, side="right")), i + 1)
        a0 = int(starts[i])
        block = fetch(a0, int(starts[j - 1]) + width)
        for s in starts[i:j]:
            s = int(s)
            yield f"{chrom}:{s}-{s + width}", chrom, s, s + width, block[s - a0:s - a0 + width]
        i = j


def count_owned_tiles(sizes: dict, ranges, width: int, stride: int) -> int:
    """How many tiles the centre ranges of :func:`shard_ranges` hold (for progress totals)."""
    n = 0
    for chrom, lo, hi in ranges:
        clen = sizes[chrom]
        if clen < width:
            n += int(lo <= clen // 2 < hi)
            continue
        c = _tile_starts(clen, width, stride) + width // 2
        n += int(np.count_nonzero((c >= lo) & (c < hi)))
    return n


# --------------------------------------------------------------------------- scoring streams


class Scorer:
    """A model scoring windows in batches, with the tasks, input width, strand and encoding it carries.

    Parameters
    ----------
    model : SeqModel, str or Path
        A model (its card gives tasks, width, strand and encoding), a model directory or a
        bundled model name.
    strand : {"both", "forward"}, optional
        Override the model's strand handling (default: ``model.strand``).
    batch_size : int
    device : str, optional
        ``None`` = CPU.
    verbose : bool
        Progress bar (windows scored) on stderr.
    pad : bool
        N-pad sequences shorter than half the model input instead of refusing them (sequences
        between half and the full width are N-padded with a warning either way).
    """

    def __init__(self, model, *, strand: str | None = None, batch_size: int = 256, device=None,
                 verbose: bool = False, pad: bool = False):
        from seqconv.modelfile import resolve_model

        self.device = resolve_device(device)
        if not isinstance(model, torch.nn.Module):
            model = resolve_model(model)
        self.width = int(model.input_length)
        self.tasks = list(getattr(model, "tasks", None) or [f"task{i}" for i in range(model.n_tasks)])
        self.encoding = dict(getattr(model, "encoding", None) or {"n": "zero", "iupac": "zero"})
        self.model = _for_inference(model).to(self.device)
        self.strand = strand or getattr(model, "strand", "both")
        if self.strand not in ("both", "forward"):
            raise InputError(f"strand must be 'both' or 'forward', got {self.strand!r}")
        if batch_size < 1:
            raise InputError(f"batch size must be >= 1, got {batch_size}")
        self.batch_size = batch_size
        self.verbose = verbose
        self.pad = pad

    def _score(self, seqs: list, names: list) -> np.ndarray:
        try:
            x = one_hot(seqs, dtype="float32", iupac=self.encoding["iupac"], labels=names)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        with torch.inference_mode():
            return _logits(self.model, torch.from_numpy(x).to(self.device), self.strand).float().cpu().numpy()

    def stream(self, windows: Iterable[tuple], *, tiled: bool, total: int | None = None) -> Iterator[pd.DataFrame]:
        """Score ``(id, chrom, start, end, seq)`` windows; yield long-format DataFrame chunks.

        Progress (when ``verbose``, :func:`seqconv.progress.progress_bar`): a bar on a terminal, else one
        line per :data:`PROGRESS_EVERY` windows, with the total and an ETA when ``total`` is given.
        """
        bar = progress_bar(total, desc="scored", unit="windows", enabled=self.verbose, every=PROGRESS_EVERY)
        buf: list[tuple] = []

        def flush():
            logits = self._score([w[4] for w in buf], [w[0] for w in buf])
            bar.update(len(buf))
            n, t = logits.shape
            cols = {"id": np.repeat([w[0] for w in buf], t)}
            if tiled:
                cols["chrom"] = np.repeat([w[1] for w in buf], t)
                cols["start"] = np.repeat([w[2] for w in buf], t)
                cols["end"] = np.repeat([w[3] for w in buf], t)
            cols["TF"] = np.tile(self.tasks, n)
            flat = logits.reshape(-1).astype(np.float64)
            cols["score"] = flat
            cols["probability"] = 1.0 / (1.0 + np.exp(-flat))
            return pd.DataFrame(cols)

        try:
            for w in windows:
                buf.append(w)
                if len(buf) == self.batch_size:
                    yield flush()
                    buf = []
            if buf:
                yield flush()
        finally:
            bar.close()

    # ---- inputs
    def fasta(self, path, *, tile: bool = False, stride: int | None = None, strict: bool = False):
        """Chunks for a FASTA file: one centre window per record, or tiles along each record."""
        stride = self._stride(stride)

        def windows():
            for name, seq in iter_fasta(path):
                if tile:
                    yield from _tiles(name, name, 0, len(seq), lambda a, b, _q=seq: _q[a:b], self.width,
                                      stride, strict, pad=self.pad)
                else:
                    yield name, name, -1, -1, _centre(seq, self.width, name, strict, self.pad)

        return self.stream(windows(), tiled=tile)

    def bed(self, bed, genome, *, tile: bool = False, stride: int | None = None, strict: bool = False):
        """Chunks for BED intervals on a genome: the centre window of each interval, or tiles along it."""
        g = open_genome(genome)
        stride = self._stride(stride)
        peaks = read_bed(bed)
        check_chroms(peaks["chrom"].tolist(), g, source=bed, lines=peaks["line"].to_numpy())

        def windows():
            for name, chrom, s, e, line in zip(peaks["name"], peaks["chrom"], peaks["start"], peaks["end"],
                                               peaks["line"]):
                clen = g.sizes[chrom]
                if e > clen:
                    raise InputError(f"interval {chrom}:{s}-{e} runs past the chromosome end ({clen})", path=bed,
                                     line=int(line))
                def fetch(a, b, _c=chrom):
                    return g.fetch(_c, int(a), int(b))

                if tile:
                    for w in _tiles(name, chrom, int(s), int(e - s), fetch, self.width, stride, strict, pad=self.pad):
                        yield (f"{name}|{w[0]}",) + w[1:]
                    continue
                if e - s < self.width and strict:
                    raise InputError(f"interval {name!r} is {e - s} bp, shorter than the model input "
                                     f"({self.width} bp) (--strict)", path=bed, line=int(line))
                c = (s + e) // 2
                a = int(max(0, min(c - self.width // 2, clen - self.width)))
                seq = fetch(a, min(a + self.width, clen))
                yield name, chrom, a, a + len(seq), _centre(seq, self.width, name, strict, self.pad)

        lengths = (peaks["end"] - peaks["start"]).to_numpy()
        total = sum(_n_tiles(int(n), self.width, stride) for n in lengths) if tile else len(peaks)
        return self.stream(windows(), tiled=True, total=total)

    def region(self, genome, region: str, *, stride: int | None = None, strict: bool = False):
        """Chunks for windows tiled with ``stride`` along a region ``CHROM[:START-END]`` of a genome."""
        g = open_genome(genome)
        chrom, s, e = parse_region(region)
        check_chroms([chrom], g)
        clen = g.sizes[chrom]
        s, e = (0, clen) if s is None else (s, min(e, clen))
        if s >= clen:
            raise InputError(f"region {region!r} starts past the end of {chrom} ({clen} bp)")
        stride = self._stride(stride)
        return self.stream(_tiles(chrom, chrom, s, e - s, lambda a, b: g.fetch(chrom, int(a), int(b)), self.width,
                                  stride, strict), tiled=True, total=_n_tiles(e - s, self.width, stride))

    def genome(self, genome, chroms=None, *, shard: tuple[int, int] = (1, 1), stride: int | None = None,
               strict: bool = False):
        """Chunks for a shard of genome-wide tiling: the grid tiles whose centre the shard owns.

        Every chromosome (or ``chroms``) is tiled from position 0 with ``stride``
        (plus one window flush with its end); shard ``(K, N)`` scores the tiles
        whose centre lies in its range (:func:`shard_ranges`), so the outputs of
        shards ``1/N .. N/N`` concatenate into exactly the one-run output.

        Parameters
        ----------
        genome : str, Path or genome reader
            A BGZF genome is read through pyfaidx, never loaded whole.
        chroms : list of str, optional
        shard : (K, N)
        """
        g = open_genome(genome) if isinstance(genome, (str, os.PathLike)) else genome
        stride = self._stride(stride)
        ranges = shard_ranges(g.sizes, chroms, shard)
        total = count_owned_tiles(g.sizes, ranges, self.width, stride)

        def windows():
            for chrom, lo, hi in ranges:
                yield from _owned_tiles(chrom, g.sizes[chrom], lo, hi,
                                        lambda a, b, _c=chrom: g.fetch(_c, int(a), int(b)),
                                        self.width, stride, strict)

        return self.stream(windows(), tiled=True, total=total)

    def _stride(self, stride):
        stride = self.width // 2 if stride is None else int(stride)
        if stride < 1:
            raise InputError(f"stride must be >= 1 bp, got {stride}")
        return stride


def _concat(chunks) -> pd.DataFrame:
    chunks = list(chunks)
    return pd.concat(chunks, ignore_index=True) if chunks else pd.DataFrame()


def predict_fasta(model, path, *, tile: bool = False, stride: int | None = None, strict: bool = False,
                  strand: str | None = None, batch_size: int = 256, device=None, verbose: bool = False
                  ) -> pd.DataFrame:
    """Predict on a FASTA file (see :meth:`Scorer.fasta`); ``model`` is a model, directory or bundled name.

    Returns
    -------
    DataFrame with columns ``id, TF, score, probability`` (tiles: ``id, chrom, start, end, TF, ...``).
    """
    sc = Scorer(model, strand=strand, batch_size=batch_size, device=device, verbose=verbose)
    return _concat(sc.fasta(path, tile=tile, stride=stride, strict=strict))


def predict_bed(model, bed, genome, *, tile: bool = False, stride: int | None = None, strict: bool = False,
                strand: str | None = None, batch_size: int = 256, device=None, verbose: bool = False
                ) -> pd.DataFrame:
    """Predict on BED intervals of a genome FASTA (see :meth:`Scorer.bed`)."""
    sc = Scorer(model, strand=strand, batch_size=batch_size, device=device, verbose=verbose)
    return _concat(sc.bed(bed, genome, tile=tile, stride=stride, strict=strict))


def predict_region(model, genome, region: str, *, stride: int | None = None, strand: str | None = None,
                   batch_size: int = 256, device=None, verbose: bool = False) -> pd.DataFrame:
    """Predict on windows tiled along ``region`` (``chr`` or ``chr:start-end``, 1-based) of a genome."""
    sc = Scorer(model, strand=strand, batch_size=batch_size, device=device, verbose=verbose)
    return _concat(sc.region(genome, region, stride=stride))


# --------------------------------------------------------------------------- writers


def write_tsv(chunks: Iterable[pd.DataFrame], fh, *, bedgraph: dict | None = None, stride: int | None = None,
              grid: bool = False) -> int:
    """Write prediction chunks as TSV to an open text file (``fh=None``: no TSV); returns the number of rows.

    ``bedgraph`` maps TF name -> open text file: each tiled window's probability is
    written for the central ``stride`` bp of the window (non-overlapping bins).
    ``grid=True`` (genome-wide shards) takes the bins from :func:`tile_bins`, a pure
    function of each tile, so shard tracks concatenate into the one-run track.
    """
    n, header = 0, True
    last_end: dict = {}
    for chunk in chunks:
        if fh is not None:
            chunk.to_csv(fh, sep="\t", index=False, header=header, float_format="%.6g")
        header = False
        n += len(chunk)
        if bedgraph:
            if grid:
                _write_grid_bedgraph(chunk, bedgraph, int(stride))
            else:
                _write_bedgraph(chunk, bedgraph, int(stride), last_end)
    return n


def _write_grid_bedgraph(chunk: pd.DataFrame, outs: dict, stride: int) -> None:
    for tf, out in outs.items():
        sub = chunk[chunk["TF"] == tf]
        lo, hi = tile_bins(sub["start"].to_numpy(), sub["end"].to_numpy(), max(1, stride))
        out.write("".join(f"{c}\t{a}\t{b}\t{p:.5g}\n" for c, a, b, p in
                          zip(sub["chrom"], lo.tolist(), hi.tolist(), sub["probability"].tolist()) if b > a))


def _write_bedgraph(chunk: pd.DataFrame, outs: dict, stride: int, last_end: dict) -> None:
    """Append the central ``stride`` bp of each window to per-TF bedGraph files, never overlapping."""
    stride = max(1, stride)
    for tf, out in outs.items():
        sub = chunk[chunk["TF"] == tf]
        lines = []
        for c, s, e, p in zip(sub["chrom"], sub["start"].to_numpy(), sub["end"].to_numpy(),
                              sub["probability"].to_numpy()):
            lo = max(int((s + e) // 2 - stride // 2), int(s))
            prev = last_end.get((tf, c), -1)
            lo = max(lo, prev)
            hi = min(lo + stride, int(e))
            if hi <= lo:
                continue
            last_end[(tf, c)] = hi
            lines.append(f"{c}\t{lo}\t{hi}\t{p:.5g}\n")
        out.write("".join(lines))
