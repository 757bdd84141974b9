"""Scan DNA for motif matches with exact FIMO p-values, both strands, all motifs at once.

>>> from seqconv.scan import scan, score_matrix
>>> hits = scan("peaks.fa", "jaspar", threshold=1e-4)          # doctest: +SKIP

Definitions (MEME suite FIMO, Grant et al. 2011)
------------------------------------------------
* each motif gets a MEME pseudocount (``p' = (p n + pc bg) / (n + pc)``, ``n`` =
  nsites, 20 if unknown) and its log-odds matrix ``log2(p' / bg)`` in bits;
  the minus strand is scanned with the reverse-complement motif;
* the log-odds are put on an integer grid, ``round(w / bin_size)`` (default
  0.1 bit, as memelite), and the window score's distribution under the
  zero-order background is computed *exactly* by dynamic programming: the
  p-value of a window is ``P(S_int >= s_int)``;
* a window is a hit when ``p <= threshold``; windows holding N (or any non-ACGT
  letter) are not scored; soft-masked (lower-case) bases count as upper case;
* ``score`` is the window's exact log-odds in bits (float64 sum of the unrounded
  matrix); ``q_value`` is Benjamini-Hochberg over every test of the run (motif x
  strand x window without N), the minimum over reported hits.

``method="memelite"`` reproduces ``memelite.fimo`` instead (float score compared
with the bin threshold, p-value of the truncated bin, strict ``p < threshold``),
for hit-for-hit comparison in ``benchmarks/scan.py``.

Engines
-------
Sequences are packed into one stream of base codes (records separated by an N)
and cut into blocks overlapping by the widest motif minus one, so memory is
bounded and hits at block borders are exact.

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

``engine="torch"`` (GPU, or CPU without numba): per block and per group of
motifs of similar width, the windows are unfolded into a one-hot matrix and
multiplied with every motif-strand's integer matrix at once (bfloat16 on CPU,
float16 on CUDA: integers up to 256/2048 are exact in those types and the
products are accumulated in float32, exactly).  The threshold is folded in as a
bias, so the sign of the product says "possible hit".

Either way the surviving windows are rescored exactly (integer score, float64
score, N check, p-value from the table).
"""

from __future__ import annotations

import math
import os
import sys
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import torch

from seqconv.errors import InputError
from seqconv.fileio import atomic_path
from seqconv.motifs.core import Motif, check_background
from seqconv.motifs.io import read_motifs

COLUMNS = ["motif_id", "motif_name", "sequence_id", "start", "end", "strand", "score",
           "p_value", "q_value", "matched_sequence"]

#: Base codes: A C G T -> 0..3, anything else (N, IUPAC, gaps) -> 4.
_CODE = np.full(256, 4, dtype=np.uint8)
for _i, _c in enumerate("ACGT"):
    _CODE[ord(_c)] = _i
    _CODE[ord(_c.lower())] = _i
_LETTER = np.frombuffer(b"ACGTN", dtype=np.uint8)
_COMP_LETTER = np.frombuffer(b"TGCAN", dtype=np.uint8)

DEFAULT_BLOCK = 4096          # torch engine
DEFAULT_BLOCK_NUMBA = 1 << 20  # numba engine
_R = 32  # windows per run in the filter's max-reduction


# ============================================================ p-values

def score_distribution(int_matrix, background) -> tuple[int, np.ndarray]:
    """Exact distribution of a window's integer score under a zero-order background.

    Parameters
    ----------
    int_matrix : (L, 4) int array
        Integer-scaled log-odds.
    background : (4,) float

    Returns
    -------
    smin : int
        Lowest possible score.
    pmf : (smax - smin + 1,) float64
        ``pmf[k] = P(S = smin + k)``.
    """
    m = np.asarray(int_matrix, dtype=np.int64)
    bg = np.asarray(background, dtype=np.float64)
    lo = m.min(axis=1)
    shifted = m - lo[:, None]
    pmf = np.ones(1)
    for row in shifted:
        new = np.zeros(len(pmf) + int(row.max()))
        for b in range(4):
            new[row[b]:row[b] + len(pmf)] += pmf * bg[b]
        pmf = new
    return int(lo.sum()), pmf


def survival(pmf: np.ndarray) -> np.ndarray:
    """``sf[k] = P(S >= smin + k)`` from a pmf, summed from the top (accurate small p)."""
    return np.minimum(np.cumsum(pmf[::-1])[::-1], 1.0)


# ============================================================ motifs -> scan tables

@dataclass
class _Strand:
    motif: int          # index into the motif list
    strand: str         # "+" or "-"
    width: int
    lo: np.ndarray      # (W, 4) float64 log-odds (bits)
    ints: np.ndarray    # (W, 4) int64 integer-scaled log-odds
    filt: np.ndarray    # (W, 4) int64 filter matrix (ints, or ceil for memelite)
    smin: int
    sf: np.ndarray      # survival table on the integer grid
    thr: float          # integer filter threshold (inf if unreachable)
    thr_float: float    # memelite: float score threshold


class _Bank:
    """Every motif-strand's matrices, p-value tables and thresholds."""

    def __init__(self, motifs: list[Motif], *, threshold, strands, background, pseudocount,
                 bin_size, method):
        self.motifs = motifs
        self.method = method
        self.strands: list[_Strand] = []
        wanted = {"both": ("+", "-"), "+": ("+",), "-": ("-",)}[strands]
        try:
            from seqconv._scan_kernels import score_tables
        except ImportError:
            score_tables = None
        los, owner, strand_of, bgs, same = [], [], [], [], []
        for k, motif in enumerate(motifs):
            bg = motif.background if isinstance(background, str) else background
            bgv = np.asarray(bg, dtype=np.float64)
            # a strand-symmetric background gives the reverse complement the same score distribution,
            # and its log-odds are the + strand's read backwards with A<->T, C<->G
            symmetric = bgv[0] == bgv[3] and bgv[1] == bgv[2]
            lo_plus = motif.log_odds(pseudocount, bg) if symmetric or "+" in wanted else None
            for i, s in enumerate(wanted):
                if s == "+":
                    lo = lo_plus
                elif symmetric:
                    lo = lo_plus[::-1, ::-1]
                else:
                    lo = motif.reverse_complement().log_odds(pseudocount, bg)
                los.append(lo)
                owner.append(k)
                strand_of.append(s)
                bgs.append(bgv)
                same.append(i > 0 and symmetric)
        widths = np.array([len(lo) for lo in los], dtype=np.int64)
        offs = np.concatenate([[0], np.cumsum(widths)])
        lo_all = np.ascontiguousarray(np.concatenate(los))
        scaled = lo_all / bin_size
        ints_all = np.round(scaled).astype(np.int64)
        # memelite compares the float score: ceil() keeps the filter an upper bound
        filt_all = np.ceil(scaled - 1e-9).astype(np.int64) if method == "memelite" else ints_all
        strict = method == "memelite"
        if score_tables is not None:
            smins, sf_all, sf_off, first = score_tables(ints_all, offs, np.array(bgs), np.array(same), threshold,
                                                        strict)
            sfs = [sf_all[sf_off[j]:sf_off[j + 1]] for j in range(len(los))]
        else:
            smins, sfs, first = [], [], []
            for j in range(len(los)):
                if same[j]:
                    smin, sf = smins[-1], sfs[-1]
                else:
                    smin, pmf = score_distribution(ints_all[offs[j]:offs[j + 1]], bgs[j])
                    sf = survival(pmf)
                ok = np.flatnonzero(sf < threshold if strict else sf <= threshold)
                smins.append(smin)
                sfs.append(sf)
                first.append(int(ok[0]) if ok.size else -1)
        for j in range(len(los)):
            smin = int(smins[j])
            thr_int = smin + int(first[j]) if first[j] >= 0 else math.inf
            thr_float = float(np.float32(thr_int * bin_size)) if first[j] >= 0 else math.inf
            a0, a1 = offs[j], offs[j + 1]
            self.strands.append(_Strand(owner[j], strand_of[j], int(widths[j]), lo_all[a0:a1], ints_all[a0:a1],
                                        filt_all[a0:a1], smin, sfs[j], thr_int, thr_float))
        self.max_width = max(st.width for st in self.strands)
        J, W = len(self.strands), self.max_width
        # rescoring tables (J, W, 5): column 4 (N) and positions past the width are 0
        self.int_table = np.zeros((J, W, 5), dtype=np.int64)
        self.float_table = np.zeros((J, W, 5), dtype=np.float64)
        rows = np.repeat(np.arange(J), widths)
        cols = np.arange(len(rows)) - np.repeat(offs[:-1], widths)
        self.int_table[rows, cols, :4] = ints_all
        self.float_table[rows, cols, :4] = lo_all
        self.widths = np.array([st.width for st in self.strands], dtype=np.int64)
        self.strand_of = np.array([st.strand for st in self.strands], dtype=object)
        self.minus_of = self.strand_of == "-"
        self.motif_of = np.array([st.motif for st in self.strands], dtype=np.int64)
        self.motif_ids = np.array([m.id for m in motifs], dtype=object)
        self.motif_names = np.array([m.name for m in motifs], dtype=object)
        self.thr = np.array([st.thr for st in self.strands], dtype=np.float64)
        self.thr_float = np.array([st.thr_float for st in self.strands], dtype=np.float64)
        self.smin = np.array([st.smin for st in self.strands], dtype=np.int64)
        self.sf_off = np.concatenate([[0], np.cumsum([len(st.sf) for st in self.strands])])
        self.sf_flat = np.concatenate([st.sf for st in self.strands])
        self.sf_len = np.diff(self.sf_off)

    def groups(self, dtype_exact_limit: int):
        """Motif-strands grouped by width: ``(W, columns, weights (5 W, n), exact)`` per group.

        Strands whose threshold cannot be reached are left out; ``columns`` is -1 for padding.
        """
        order = np.argsort(self.widths, kind="stable")
        groups, cur = [], []
        for j in order:
            if cur and self.widths[j] > max(self.widths[cur[0]] * 1.3, self.widths[cur[0]] + 2):
                groups.append(cur)
                cur = []
            if np.isfinite(self.thr[j]):
                cur.append(int(j))
        if cur:
            groups.append(cur)
        out = []
        for g in groups:
            if not g:
                continue
            W = int(self.widths[g].max())
            n = -(-len(g) // 8) * 8  # padded to a multiple of 8 columns (aligned rows)
            # channels A, C, G, T and a constant 1 that carries minus the threshold, spread over
            # the W positions in integer parts the filter dtype holds exactly
            weights = np.zeros((W, 5, n), dtype=np.float64)
            thr = np.full(n, float(W * dtype_exact_limit))  # padding columns: never reached
            for c, j in enumerate(g):
                st = self.strands[j]
                weights[:st.width, :4, c] = st.filt
                thr[c] = self.thr[j] - (1 if self.method == "memelite" else 0)
            weights = np.maximum(weights, -dtype_exact_limit)  # raising a weight keeps an upper bound
            q = -thr
            weights[:, 4, :] = np.floor(q / W)
            weights[: 1, 4, :] += q - np.floor(q / W) * W
            exact = np.abs(weights).max() <= dtype_exact_limit
            weights += 0.0  # no -0.0: an all-zero sum must stay +0.0 for the sign test
            out.append((W, np.concatenate([np.asarray(g), np.full(n - len(g), -1)]).astype(np.int64),
                        weights.reshape(W * 5, n), exact))
        return out


# ============================================================ sequences -> records

def _encode(seq) -> np.ndarray:
    if isinstance(seq, np.ndarray) and seq.dtype == np.uint8:
        return seq
    if isinstance(seq, str):
        seq = seq.encode("ascii", "replace")
    return _CODE[np.frombuffer(bytes(seq), dtype=np.uint8)]


def _onehot_codes(X) -> np.ndarray:
    """(N, 4, L) one-hot -> (N, L) codes; columns that are not exactly one-hot become N."""
    if hasattr(X, "detach"):
        X = X.detach().cpu().numpy()
    X = np.asarray(X)
    if X.ndim == 2:
        X = X[None]
    if X.ndim != 3 or X.shape[1] != 4:
        raise InputError(f"one-hot input must be (N, 4, L), got shape {X.shape}")
    arg = X.argmax(axis=1).astype(np.uint8)
    ok = (X.sum(axis=1) == 1) & (X.max(axis=1) == 1)
    return np.where(ok, arg, 4).astype(np.uint8)


def _records(sequences, genome=None, ids=None) -> Iterator[tuple[str, np.ndarray]]:
    """Yield ``(id, codes)`` for every input sequence (see :func:`scan` for accepted inputs)."""
    from seqconv import genome as gmod

    if genome is not None:
        regions = gmod.read_bed(sequences) if isinstance(sequences, (str, Path)) else pd.DataFrame(sequences)
        g = gmod.Genome(genome)
        for row in regions.itertuples(index=False):
            yield f"{row.chrom}:{row.start}-{row.end}", _encode(g.fetch(row.chrom, int(row.start), int(row.end)))
        return
    if isinstance(sequences, Path) or (isinstance(sequences, str) and os.path.isfile(sequences)):
        for name, seq in gmod.iter_fasta(sequences):
            yield name, _encode(seq)
        return
    if isinstance(sequences, (np.ndarray, torch.Tensor)) and sequences.ndim == 3:
        codes = _onehot_codes(sequences)
        names = ids if ids is not None else [f"seq{i}" for i in range(len(codes))]
        for name, row in zip(names, codes):
            yield str(name), row
        return
    if isinstance(sequences, str):
        if set(sequences.upper()) - set("ACGTNRYSWKMBDHV"):
            raise InputError(f"{sequences[:60]!r} is neither an existing FASTA file nor a DNA sequence")
        sequences = [sequences]
    if isinstance(sequences, dict):
        items = list(sequences.items())
    else:
        items = []
        for i, s in enumerate(sequences):
            if isinstance(s, tuple) and len(s) == 2:
                items.append((str(s[0]), s[1]))
            elif hasattr(s, "seq") and hasattr(s, "id"):
                items.append((str(s.id), str(s.seq)))
            else:
                items.append((str(ids[i]) if ids is not None else f"seq{i}", s))
    for name, s in items:
        yield str(name), _encode(str(s) if not isinstance(s, (bytes, bytearray, np.ndarray)) else s)


class _Stream:
    """Packs records into one code stream (records separated by one N) cut into overlapping blocks."""

    def __init__(self, records, block: int, overlap: int):
        self.records = records
        self.block = max(block, 4 * overlap + 1)
        self.overlap = overlap
        self.ids: list[str] = []
        self._starts = np.zeros(1024, dtype=np.int64)   # global start of each record (growable)
        self._seen: set[str] = set()

    def blocks(self) -> Iterator[tuple[int, np.ndarray, int]]:
        """Yield ``(g0, codes, n_owned)``: block start, its ``n_owned + overlap`` codes, and the
        number of window starts it owns (every block but the last owns ``block - overlap``)."""
        pieces: list[np.ndarray] = []   # codes from global position g0 on, joined when a block is full
        held = 0
        g0 = 0
        pos = 0
        step = self.block - self.overlap
        sep = np.array([4], dtype=np.uint8)
        for name, codes in self.records:
            if name in self._seen:
                raise InputError(f"sequence id {name!r} is repeated")
            if len(codes) == 0:
                raise InputError(f"sequence {name!r} is empty")
            self._seen.add(name)
            if len(self.ids) == len(self._starts):
                self._starts = np.concatenate([self._starts, np.zeros_like(self._starts)])
            self._starts[len(self.ids)] = pos
            self.ids.append(name)
            pos += len(codes) + 1
            pieces += [codes, sep]
            held += len(codes) + 1
            if held < self.block:
                continue
            data = np.concatenate(pieces)
            o = 0
            while len(data) - o >= self.block:
                yield g0, data[o:o + self.block], step
                g0 += step
                o += step
            pieces, held = [data[o:]], len(data) - o
        if not self.ids:
            raise InputError("no sequences to scan")
        if held:
            yield g0, np.concatenate(pieces + [np.full(self.overlap, 4, dtype=np.uint8)]), held

    @property
    def starts(self) -> np.ndarray:
        """Stream position of each record read so far."""
        return self._starts[:len(self.ids)]

    def locate(self, gpos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        starts = self._starts[:len(self.ids)]
        idx = np.searchsorted(starts, gpos, side="right") - 1
        return idx, gpos - starts[idx]


# ============================================================ the engine

def _device(device) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _check_threshold(threshold) -> float:
    try:
        t = float(threshold)
    except (TypeError, ValueError):
        raise InputError(f"threshold must be a number in (0, 1], got {threshold!r}") from None
    if not (0 < t <= 1):
        raise InputError(f"threshold must be in (0, 1], got {threshold!r}")
    return t


def _sequence_background(sequences, genome, ids) -> np.ndarray:
    counts = np.zeros(5, dtype=np.int64)
    for _, codes in _records(sequences, genome, ids):
        counts += np.bincount(codes, minlength=5)[:5]
    if counts[:4].sum() == 0:
        raise InputError("cannot estimate a background: the sequences hold no A, C, G or T")
    freq = counts[:4] / counts[:4].sum()
    return check_background(np.maximum(freq, 1e-6) / np.maximum(freq, 1e-6).sum())


def _iter_hits(sequences, motifs, *, threshold, strands, background, pseudocount, bin_size,
               method, device, block, genome, ids, verbose, counter, engine="auto"):
    """Yield the rescored hits of each block (dicts of arrays, see :func:`_rescore`).

    ``counter`` receives ``tests`` (windows x motif-strands tested, for q-values), ``bank`` and ``stream``.
    """
    counter["tests"] = 0
    threshold = _check_threshold(threshold)
    if strands not in ("both", "+", "-"):
        raise InputError(f"strands must be 'both', '+' or '-', got {strands!r}")
    if method not in ("fimo", "memelite"):
        raise ValueError(f"method must be 'fimo' or 'memelite', got {method!r}")
    if not bin_size > 0:
        raise ValueError(f"bin_size must be > 0, got {bin_size}")
    motif_list = read_motifs(motifs)
    if not motif_list:
        raise InputError("no motifs to scan")
    if isinstance(background, str):
        if background == "uniform":
            background = None
        elif background == "sequences":
            background = _sequence_background(sequences, genome, ids)
        elif background != "motif":
            raise InputError(f"background must be 'uniform', 'sequences', 'motif' or 4 frequencies, "
                             f"got {background!r}")
    if not isinstance(background, str):
        background = check_background(background)
    if method == "memelite":
        background = check_background(None)
    bank = _Bank(motif_list, threshold=threshold, strands=strands, background=background,
                 pseudocount=pseudocount, bin_size=bin_size, method=method)
    dev = _device(device)
    asked = engine
    engine = _pick_engine(engine, dev)
    if engine == "numba" and not _Lookahead.supports(bank):
        if asked == "numba":
            raise InputError("engine='numba' takes fewer than 65,536 motif-strands, at most 120 wide, with "
                             "integer scores below 2**28 (use a larger bin_size, or engine='torch')")
        engine = "torch"
    if block is None:
        block = DEFAULT_BLOCK if engine == "torch" else DEFAULT_BLOCK_NUMBA
    stream = _Stream(_records(sequences, genome, ids), block, bank.max_width - 1)
    counter["bank"], counter["stream"] = bank, stream
    if engine == "numba":
        yield from _iter_hits_numba(bank, stream, threshold, bin_size, verbose, counter)
        return
    filt = _Filter(bank, dev, stream.block - stream.overlap)
    per_width = {int(w): int((bank.widths == w).sum()) for w in np.unique(bank.widths)}
    # CPU: blocks run on a pool of single-threaded workers (coarse-grained parallelism: torch's
    # intra-op threads would synchronise at every small op); torch's thread count is restored after.
    n_workers = 1 if dev.type == "cuda" else max(1, torch.get_num_threads())
    prev_threads = torch.get_num_threads()

    from tqdm import tqdm
    bar = tqdm(total=None, unit="bp", unit_scale=True, disable=not verbose, desc="scanning", file=sys.stderr)
    pool = ThreadPoolExecutor(n_workers) if n_workers > 1 else None
    try:
        if dev.type == "cpu":
            torch.set_num_threads(1)
        pending: deque = deque()
        blocks = stream.blocks()
        while True:
            while len(pending) < 2 * n_workers:
                nxt = next(blocks, None)
                if nxt is None:
                    break
                g0, codes_np, n_owned = nxt
                counter["tests"] += _count_tests(codes_np, n_owned, per_width)
                job = pool.submit(filt, codes_np, n_owned) if pool else _Done(filt(codes_np, n_owned))
                pending.append((g0, codes_np, n_owned, job))
            if not pending:
                break
            g0, codes_np, n_owned, job = pending.popleft()
            pos, col = job.result()
            bar.update(n_owned)
            if len(pos):
                hits = _rescore(bank, stream, g0, codes_np, pos, col, bin_size)
                if hits is not None:
                    yield hits
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        torch.set_num_threads(prev_threads)
        bar.close()


def _pick_engine(engine, dev: torch.device) -> str:
    if engine not in ("auto", "numba", "torch"):
        raise ValueError(f"engine must be 'auto', 'numba' or 'torch', got {engine!r}")
    if engine == "auto":
        return "torch" if dev.type != "cpu" or not _numba_available() else "numba"
    if engine == "numba":
        if dev.type != "cpu":
            raise InputError(f"engine='numba' runs on the CPU, not on {dev}")
        if not _numba_available():
            raise InputError("engine='numba' needs numba (pip install numba)")
    return engine


def _iter_hits_numba(bank: _Bank, stream: _Stream, threshold: float, bin_size: float, verbose: bool,
                     counter: dict):
    """The CPU engine's block loop: blocks are read by a helper thread while the kernel (which
    releases the GIL) scans the previous one."""
    import queue

    from tqdm import tqdm

    from seqconv import _scan_kernels as kern

    engine = _Lookahead(bank, threshold)
    width_counts = np.bincount(bank.widths, minlength=bank.max_width + 1).astype(np.int64)
    q: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()

    def produce():
        try:
            for item in stream.blocks():
                while not stop.is_set():
                    try:
                        q.put(("block", item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(("end", None))
        except BaseException as exc:  # handed to the consumer, raised there
            q.put(("error", exc))

    reader = threading.Thread(target=produce, daemon=True)
    bar = tqdm(total=None, unit="bp", unit_scale=True, disable=not verbose, desc="scanning", file=sys.stderr)
    reader.start()
    try:
        while True:
            kind, item = q.get()
            if kind == "end":
                break
            if kind == "error":
                raise item
            g0, codes_np, n_owned = item
            counter["tests"] += int(kern.count_tests(codes_np, n_owned, width_counts))
            hits = engine(stream, g0, codes_np, n_owned, bin_size)
            bar.update(n_owned)
            if hits is not None:
                yield hits
    finally:
        stop.set()
        while reader.is_alive():
            try:
                q.get(timeout=0.05)
            except queue.Empty:
                pass
        reader.join()
        bar.close()


class _Done:
    """A finished job, for the single-worker path."""

    def __init__(self, value):
        self.value = value

    def result(self):
        return self.value


def _count_tests(codes_np: np.ndarray, n_owned: int, per_width: dict) -> int:
    """Windows without N among the block's owned starts, times the motif-strands of each width."""
    isn = np.concatenate([[0], np.cumsum(codes_np == 4)])
    total = 0
    for w, k in per_width.items():
        n = max(0, min(n_owned, len(codes_np) - w + 1))
        if n:
            total += k * int((isn[w:w + n] == isn[:n]).sum())
    return total


def _filter_dtype(dev: torch.device):
    """The filter's product dtype and the largest integer it holds exactly (float32 accumulation)."""
    return (torch.float16, 2048) if dev.type == "cuda" else (torch.bfloat16, 256)


class _Filter:
    """Exact candidate filter: windows whose integer score reaches the threshold, per motif-strand.

    Calling it on a block's codes returns ``(pos, col)`` numpy arrays (window start in the block,
    motif-strand index).  Buffers are per thread and reused, so the big products never touch
    fresh memory.
    """

    def __init__(self, bank: _Bank, dev: torch.device, rows: int):
        self.dev, self.rows = dev, -(-rows // _R) * _R
        fdtype, limit = _filter_dtype(dev)
        self.groups = []
        for W, cols, mat, exact in bank.groups(limit):
            dt = fdtype if exact else torch.float32
            self.groups.append((W, torch.as_tensor(cols, device=dev), torch.as_tensor(mat, dtype=dt, device=dev), dt))
        base = torch.cat([torch.eye(4), torch.zeros(1, 4)], 0)
        base = torch.cat([base, torch.ones(5, 1)], 1)                  # A C G T + constant 1; N = 0 0 0 0 1
        self.onehots = {dt: base.to(dev, dt) for _, _, _, dt in self.groups}
        self._local = threading.local()

    def _buffers(self):
        bufs = getattr(self._local, "bufs", None)
        if bufs is None:
            bufs = []
            for W, cols, mat, dt in self.groups:
                n = mat.shape[1]
                ints = torch.int32 if dt == torch.float32 else torch.int16
                bufs.append((torch.empty(self.rows, 5 * W, dtype=dt, device=self.dev),
                             torch.empty(self.rows, n, dtype=dt, device=self.dev),
                             torch.empty(self.rows // _R, n, dtype=ints, device=self.dev)))
            self._local.bufs = bufs
        return bufs

    def __call__(self, codes_np: np.ndarray, n_win: int):
        n_pad = -(-n_win // _R) * _R
        need = n_pad + (len(codes_np) - n_win)
        if len(codes_np) < need:
            codes_np = np.concatenate([codes_np, np.full(need - len(codes_np), 4, dtype=np.uint8)])
        codes = torch.as_tensor(codes_np.astype(np.int64), device=self.dev)
        x5 = {dt: t[codes] for dt, t in self.onehots.items()}          # (len, 5)
        ar = torch.arange(_R, device=self.dev)
        pos, col = [], []
        for (W, cols, mat, dt), (A, out, red) in zip(self.groups, self._buffers()):
            A, out, red = A[:n_pad], out[:n_pad], red[:n_pad // _R]
            # window p's inputs are x5[p:p+W], contiguous in memory: one strided copy
            A.copy_(x5[dt].view(-1).as_strided((n_pad, 5 * W), (5, 1)))
            torch.matmul(A, mat, out=out)                              # score - threshold, exact sign
            # a float is >= 0 iff its integer view is (no -0.0 here, see _Bank.groups): take the
            # max over runs of _R windows, then look inside the few runs that reach 0
            signed = out.view(red.dtype)
            torch.amax(signed.view(n_pad // _R, _R, -1), dim=1, out=red)
            b, c = torch.nonzero(red >= 0, as_tuple=True)
            if b.numel() == 0:
                continue
            rows = b[:, None] * _R + ar[None]
            k, lane = torch.nonzero(signed[rows, c[:, None]] >= 0, as_tuple=True)
            r, c = rows[k, lane], cols[c[k]]
            keep = (r < n_win) & (c >= 0)
            pos.append(r[keep])
            col.append(c[keep])
        if not pos:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return torch.cat(pos).cpu().numpy(), torch.cat(col).cpu().numpy()


def _numba_available() -> bool:
    try:
        import seqconv._scan_kernels  # noqa: F401
    except ImportError:
        return False
    return True


class _Lookahead:
    """CPU engine: exact integer lookahead filtration with k-mer seeds (numba, see
    :mod:`seqconv._scan_kernels`).  Calling it on a block returns the rescored hits (or None)."""

    CHUNK = 262144          # seed positions per parallel task (inverted motif-strands)
    SEGMENT = 1 << 18      # window starts per parallel task (dense motif-strands)
    CAP_MAX = 1 << 22      # largest first size of a task's hit buffer (a task that overflows it runs again)
    DENSE_RATE = 0.15      # seeds passing more often than this are tested at every window

    @staticmethod
    def supports(bank: _Bank) -> bool:
        """Whether the engine's packed tables hold this bank (else the torch engine runs)."""
        # the filter matrices are the integer scores, or (memelite) at most 1 above them
        return (len(bank.strands) < 1 << 16 and bank.max_width <= 120
                and (int(np.abs(bank.int_table).max()) + 1) * bank.max_width < 2 ** 28)

    def __init__(self, bank: _Bank, threshold: float):
        from seqconv import _scan_kernels as kern

        self.kern = kern
        self.bank = bank
        k = kern.K
        widths = bank.widths.astype(np.int64)
        offs = np.concatenate([[0], np.cumsum(widths)]).astype(np.int64)
        filt = np.concatenate([st.filt for st in bank.strands]).astype(np.int64)
        if not self.supports(bank):
            raise ValueError("the lookahead engine takes fewer than 65,536 motif-strands, at most 120 wide, "
                             "with integer scores below 2**28 (use a larger bin_size, or engine='torch')")
        filt = filt.astype(np.int32)
        reach = np.isfinite(bank.thr)
        big = 2 ** 30
        fthr = np.where(reach, np.nan_to_num(bank.thr, posinf=big) - (1 if bank.method == "memelite" else 0),
                        big).astype(np.int64)
        live = np.flatnonzero(reach).astype(np.int64)
        ow, need = kern.seeds(filt, offs, widths, fthr, k)
        self.lst_start, ent, dense = kern.build_index(filt, offs, widths, ow, need, fthr, live,
                                                           self.DENSE_RATE, k)
        self.dense = live[dense]
        self.ent = ent.ravel()
        self.max_list = max(1, int(np.diff(self.lst_start).max()))
        ow, ow2 = kern.second_seeds(filt, offs, widths, ow, self.dense, k)
        (need, self.blk_off, self.blk_col, tab, self.blk_suf, self.full_off, self.full_col, self.full_val,
         self.full_suf) = kern.layouts(filt, offs, widths, fthr, ow, ow2, k)
        self.blk_tab = tab.astype(np.int16) if tab.size and np.abs(tab).max() < 2 ** 15 else tab
        self.ow, self.ow2, self.fthr, self.widths = ow, ow2, fthr, widths
        self.dense_need = need[self.dense].astype(np.int64)
        self.dtab = kern.build_dense_tables(filt, offs, widths, ow, self.dense, k)
        # second seed's table: all 0 (and 0 for N: the first seed's N entry decides) when there is none
        self.dtab2 = kern.build_dense_tables(filt, offs, widths, ow2, self.dense, k)
        self.dtab2[ow2[self.dense] == ow[self.dense]] = 0
        # int16 tables when the scores allow (halves the cache they take): N's entry is clamped,
        # still far below any need
        lo16, hi16 = -(2 ** 15), 2 ** 15 - 1
        fits = (self.dense_need.size == 0
                or (np.abs(np.where(self.dtab > kern._NEG, self.dtab, 0)).max() < 2 ** 13
                    and np.abs(np.where(self.dtab2 > kern._NEG, self.dtab2, 0)).max() < 2 ** 13
                    and self.dense_need.min() > -(2 ** 13)))
        if fits:
            self.dtab = np.clip(self.dtab, lo16, hi16).astype(np.int16)
            self.dtab2 = np.clip(self.dtab2, lo16, hi16).astype(np.int16)
        narrow = live[widths[live] < k]
        self.narrow = narrow[np.argsort(widths[narrow], kind="stable")]
        self.max_ow = int(ow[live].max()) + 1 if live.size else 1
        self.int_table = bank.int_table
        self.float_table = bank.float_table
        # first sizes of the hit buffers: 8 times the expected hits of a task (a task holds CHUNK
        # positions of every inverted motif-strand, or SEGMENT positions of one dense one)
        rate = min(1.0, 8 * threshold)
        self.cap = int(min(self.CAP_MAX, 1024 + self.CHUNK * max(1, live.size) * rate))
        self.cap_dense = int(min(self.CAP_MAX, 1024 + self.SEGMENT * rate))

    def candidates(self, codes: np.ndarray, n_owned: int) -> tuple[np.ndarray, np.ndarray]:
        """``(pos, col)``: every window start below ``n_owned`` and motif-strand that pass the filter."""
        kern = self.kern
        k = kern.K
        kc, k4, k3, run = kern.kmer_codes(codes, k, self.bank.max_width + 1)
        pos, col = [], []

        def inverted(ids, cap, out_x, out_m, counts):
            kern.scan_block(codes, kc, k4, k3, run, n_owned, self.CHUNK, ids, cap, k,
                            self.ow, self.fthr, self.blk_off, self.blk_col, self.blk_tab, self.blk_suf,
                            self.lst_start, self.ent, self.max_ow, self.max_list,
                            self.narrow, self.widths, self.full_off, self.full_col, self.full_val, self.full_suf,
                            out_x, out_m, counts)

        def dense(ids, cap, out_x, out_m, counts):
            kern.scan_dense(kc, k4, n_owned, self.SEGMENT, ids, cap, self.ow, self.ow2, self.fthr, self.blk_off,
                            self.blk_col, self.blk_tab, self.blk_suf, self.dense, self.dense_need, self.dtab,
                            self.dtab2, out_x, out_m, counts)

        n_inv = -(-min(n_owned + self.max_ow, len(codes)) // self.CHUNK)
        n_dense = len(self.dense) * -(-n_owned // self.SEGMENT)
        for fn, n_tasks, cap0 in ((inverted, n_inv, self.cap), (dense, n_dense, self.cap_dense)):
            todo = [(np.arange(n_tasks, dtype=np.int64), cap0)] if n_tasks else []
            while todo:
                ids, cap = todo.pop()
                out_x = np.empty((ids.size, cap), dtype=np.int32)
                out_m = np.empty((ids.size, cap), dtype=np.int32)
                counts = np.zeros(ids.size, dtype=np.int64)
                fn(ids, cap, out_x, out_m, counts)
                ok = counts <= cap
                for r in np.flatnonzero(ok & (counts > 0)):
                    pos.append(out_x[r, :counts[r]])
                    col.append(out_m[r, :counts[r]])
                # a buffer overflowed: run each of those tasks again with a buffer that fits
                for i in np.flatnonzero(~ok):
                    todo.append((ids[i:i + 1], int(counts[i])))
        if not pos:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.concatenate(pos).astype(np.int64), np.concatenate(col).astype(np.int64)

    def __call__(self, stream: _Stream, g0: int, codes: np.ndarray, n_owned: int, bin_size: float):
        pos, col = self.candidates(codes, n_owned)
        if not pos.size:
            return None
        s_int, s_float, has_n = self.kern.rescore(codes, pos, col, self.widths, self.int_table, self.float_table)
        return _decide(self.bank, stream, g0, pos, col, s_int, s_float, has_n, None, bin_size, codes=codes)


def _rescore(bank: _Bank, stream: _Stream, g0: int, codes_np: np.ndarray, pos: np.ndarray, col: np.ndarray,
             bin_size: float):
    """Exact scores, N check, hit decision and p-values for the candidate windows of one block."""
    W_all = bank.max_width
    k = np.arange(W_all)
    idx = np.minimum(pos[:, None] + k[None], len(codes_np) - 1)
    wcodes = codes_np[idx].astype(np.int64)                            # (n, W_all)
    inside = k[None] < bank.widths[col][:, None]
    has_n = ((wcodes == 4) & inside).any(axis=1)
    s_int = bank.int_table[col[:, None], k[None], wcodes].sum(axis=1)   # 0 past each width
    # summed left to right, as the numba engine does, so that both engines give the same floats
    s_float = np.cumsum(bank.float_table[col[:, None], k[None], wcodes], axis=1)[:, -1]
    return _decide(bank, stream, g0, pos, col, s_int, s_float, has_n, wcodes, bin_size)


def _decide(bank: _Bank, stream: _Stream, g0: int, pos, col, s_int, s_float, has_n, wcodes, bin_size: float,
            codes=None):
    """Hit decision (FIMO: integer score >= threshold; memelite: float score > its threshold) and p-values.

    The matched sites are read from ``wcodes`` (candidates x width) or, when it is None, from the
    block's ``codes``."""
    if bank.method == "memelite":
        hit = ~has_n & (s_float > bank.thr_float[col])
        bins = np.trunc(s_float / bin_size).astype(np.int64)
    else:
        hit = ~has_n & (s_int >= bank.thr[col])
        bins = s_int
    if not hit.any():
        return None
    if not hit.all():
        pos, col, bins, s_float = pos[hit], col[hit], bins[hit], s_float[hit]
        if wcodes is not None:
            wcodes = wcodes[hit]
    kk = np.clip(bins - bank.smin[col], 0, bank.sf_len[col] - 1)
    pidx = bank.sf_off[col] + kk
    pv = bank.sf_flat[pidx]
    seq_idx, local = stream.locate(g0 + pos)
    return {"col": col, "seq": seq_idx, "start": local, "score": s_float, "p_value": pv, "pidx": pidx,
            "matched": _matched(wcodes, bank.widths[col], bank.minus_of[col], codes=codes, pos=pos)}


def _matched(wcodes, widths: np.ndarray, minus: np.ndarray, *, codes=None, pos=None):
    """Each hit's site read on its strand: the letters of all sites, concatenated (uint8; from the
    block's ``codes`` at ``pos``, or from the windows' codes ``wcodes``), or a pyarrow string
    array when numba is not installed."""
    try:
        from seqconv._scan_kernels import matched_from_codes
    except ImportError:
        return _matched_arrow(wcodes, widths, minus)
    if wcodes is not None:  # the windows' rows, one after another, each site at its row's start
        codes = np.ascontiguousarray(wcodes).reshape(-1)
        pos = np.arange(len(wcodes), dtype=np.int64) * wcodes.shape[1]
    return matched_from_codes(codes, pos, widths.astype(np.int64), minus)[0]


def _frame(bank: _Bank, stream: _Stream, parts: list[dict], n_tests: int | None = None) -> pd.DataFrame:
    """One DataFrame (sorted by motif, sequence, start, strand) from rescored blocks; q-values over
    ``n_tests`` tests when given (the hits are all the run's), else NaN."""
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(
            COLUMNS, [object, object, object, np.int64, np.int64, object, float, float, float, object])})
    import pyarrow as pa

    h = {k: np.concatenate([p[k] for p in parts]) for k in parts[0] if k != "matched"}
    col = h["col"]
    motif_idx = bank.motif_of[col]
    minus = bank.minus_of[col]
    # by motif, then stream position (= sequence, start), then strand
    key = (stream.starts[h["seq"]] + h["start"]) * 2 + minus
    qtab = np.zeros(0) if n_tests is None else _bh_by_table(h["pidx"], bank.sf_flat, n_tests, per_entry=True)
    try:
        from seqconv import _scan_kernels as kern
    except ImportError:
        kern = None
    if kern is None:
        order = np.lexsort((key, motif_idx))
        col, motif_idx, minus = col[order], motif_idx[order], minus[order].astype(np.int64)
        seq_idx, start = h["seq"][order], h["start"][order]
        end = start + bank.widths[col]
        score, p_value = h["score"][order], h["p_value"][order]
        q_value = np.full(len(order), np.nan) if n_tests is None else qtab[h["pidx"][order]]
        matched = pa.chunked_array([p["matched"] for p in parts], type=pa.string()).take(pa.array(order))
        matched = _as_str_column(matched.combine_chunks())
    else:
        order = kern.hit_order(motif_idx, key, len(bank.motifs))
        motif_idx, seq_idx, start, end, minus, score, p_value, q_value = kern.gather_hits(
            order, col, h["seq"], h["start"], h["score"], h["p_value"], qtab, h["pidx"], bank.widths,
            bank.motif_of, bank.minus_of)
        # the letters of each part's sites, in hit order; every site is as long as its motif
        data = np.concatenate([p["matched"] for p in parts])
        offsets = np.zeros(len(col) + 1, dtype=np.int64)
        np.cumsum(bank.widths[col], out=offsets[1:])
        matched = _string_column(data, offsets, order)
    return pd.DataFrame({
        "motif_id": _take_strings(bank.motif_ids, motif_idx),
        "motif_name": _take_strings(bank.motif_names, motif_idx),
        "sequence_id": _take_strings(stream.ids, seq_idx),
        "start": start,
        "end": end,
        "strand": _take_strings(["+", "-"], minus),
        "score": score,
        "p_value": p_value,
        "q_value": q_value,
        "matched_sequence": matched,
    }, copy=False)                    # fresh arrays: no copy into 2-d blocks


def _string_column(data: np.ndarray, offsets: np.ndarray, idx: np.ndarray):
    """Strings ``idx`` of ``(data, offsets)`` as a column of pandas' default string dtype."""
    import pyarrow as pa

    from seqconv._scan_kernels import take_strings

    d, o = take_strings(data, offsets, np.asarray(idx, dtype=np.int64))
    arr = pa.Array.from_buffers(pa.large_string(), len(idx), [None, pa.py_buffer(o), pa.py_buffer(d)])
    return _as_str_column(arr)


_STR_DTYPE = pd.Series(["A"]).dtype      # pandas' default string dtype (arrow-backed "str" from pandas 3)


def _as_str_column(arr):
    """A pyarrow string array as a column of pandas' default string dtype."""
    if _STR_DTYPE == object:
        return arr.to_numpy(zero_copy_only=False).astype(object)
    return pd.array(arr, dtype=_STR_DTYPE)


def _take_strings(values, idx: np.ndarray):
    """``values[idx]`` (a list of str) as a column of pandas' default string dtype."""
    import pyarrow as pa

    if not _numba_available():
        return _as_str_column(pa.array(list(values), type=pa.string()).take(pa.array(idx)))
    encoded = [str(v).encode() for v in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    data = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    return _string_column(data, offsets, idx)


def _matched_arrow(wcodes, widths: np.ndarray, minus: np.ndarray):
    """Each hit's site read on its strand from the windows' codes, as a pyarrow string array (numpy only)."""
    import pyarrow as pa

    matched = np.empty(len(widths), dtype=object)
    for w in np.unique(widths):
        sel = np.flatnonzero(widths == w)
        codes = wcodes[sel, :w]
        m = minus[sel]
        letters = np.where(m[:, None], _COMP_LETTER[codes[:, ::-1]], _LETTER[codes])
        matched[sel] = np.ascontiguousarray(letters).view(f"S{w}").ravel().astype(str)
    return pa.array(matched, type=pa.string())


def _bh_by_table(pidx: np.ndarray, table: np.ndarray, n_tests: int, per_entry: bool = False) -> np.ndarray:
    """:func:`bh_qvalues` of ``table[pidx]`` (the same numbers), sorting only the distinct table
    entries used instead of every p-value (``per_entry``: the q-value of each table entry instead).

    A q-value depends on the p-value only: ``q(v) = min over used values u >= v of
    u * n_tests / #(p <= u)``, capped at 1.
    """
    n_tests = max(int(n_tests), pidx.size)
    cnt = np.bincount(pidx, minlength=len(table))
    used = np.flatnonzero(cnt)
    o = np.argsort(table[used], kind="stable")
    used = used[o]
    v = table[used]
    cum = np.cumsum(cnt[used])
    last = np.append(v[1:] != v[:-1], True)               # last entry of each run of equal values
    group = np.cumsum(np.concatenate([[0], last[:-1]]))     # run of each entry
    r = v[last] * n_tests
    r /= cum[last]
    q = np.minimum(np.minimum.accumulate(r[::-1])[::-1], 1.0)
    qtab = np.zeros(len(table))
    qtab[used] = q[group]
    return qtab if per_entry else qtab[pidx]


def bh_qvalues(p_values, n_tests: int) -> np.ndarray:
    """Benjamini-Hochberg q-values of ``p_values`` among ``n_tests`` tests (unreported p-values are larger).

    ``q_i = min over k >= rank_i of p_(k) * n_tests / k``, capped at 1; computed in place
    (about 32 bytes per hit) so that genome-scale runs stay lean.
    """
    p = np.asarray(p_values, dtype=np.float64)
    if p.size == 0:
        return p.copy()
    n_tests = max(int(n_tests), p.size)
    order = np.argsort(p)             # ties get the same q-value whatever their order
    ranked = p[order]
    ranked *= n_tests
    for a in range(0, ranked.size, 1 << 20):                       # / rank, in slices
        ranked[a:a + (1 << 20)] /= np.arange(a + 1, min(a + (1 << 20), ranked.size) + 1)
    rev = ranked[::-1]
    np.minimum.accumulate(rev, out=rev)
    np.minimum(ranked, 1.0, out=ranked)
    out = np.empty_like(ranked)
    out[order] = ranked
    return out


def scan(sequences, motifs, threshold: float = 1e-4, strands: str = "both", background=None,
         pseudocount: float = 0.1, *, bin_size: float = 0.1, method: str = "fimo", genome=None,
         ids=None, device=None, engine: str = "auto", block: int | None = None,
         verbose: bool = False) -> pd.DataFrame:
    """Find every motif match with ``p <= threshold`` (FIMO definitions, exact p-values).

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
    threshold : float in (0, 1]
        Report windows with p-value ``<= threshold``.
    strands : {"both", "+", "-"}
    background : None, "uniform", "sequences", "motif" or (4,) array
        Zero-order background for log-odds, pseudocounts and p-values; default uniform.
    pseudocount : float
        MEME motif pseudocount (FIMO ``--motif-pseudo``, default 0.1).
    bin_size : float
        Width in bits of the integer score grid (p-value resolution).
    method : {"fimo", "memelite"}
        See the module docstring; ``"memelite"`` always uses the uniform background.
    genome : str or Path, optional
        Genome FASTA for BED input.
    device : str or torch.device, optional
        Default: CUDA when available, else CPU.
    engine : {"auto", "numba", "torch"}
        ``"numba"``: the CPU lookahead engine (k-mer seeds, exact integer bounds;
        needs numba); ``"torch"``: dense matrix products (CPU or CUDA).  ``"auto"``
        (default) takes numba on the CPU when it is installed, torch otherwise or on
        a GPU.  Both give the same hits.
    block : int, optional
        Positions per block (default 2**20 for numba, 4096 for torch, whose memory
        per block is ~ block x motif-strands x 2 bytes).
    verbose : bool
        Progress bar on stderr.

    Returns
    -------
    pandas.DataFrame
        One row per hit: motif_id, motif_name, sequence_id, start, end (0-based,
        half-open), strand, score (bits), p_value, q_value, matched_sequence (read
        on the hit's strand), sorted by motif, sequence, start, strand.

    Raises
    ------
    InputError
        Threshold outside (0, 1], an unreadable motif file, a zero probability
        after pseudocounts, an empty or repeated sequence id, bad sequence input.
    """
    counter = {}
    parts = list(_iter_hits(sequences, motifs, threshold=threshold, strands=strands,
                            background=background, pseudocount=pseudocount, bin_size=bin_size,
                            method=method, device=device, engine=engine, block=block, genome=genome, ids=ids,
                            verbose=verbose, counter=counter))
    return _frame(counter["bank"], counter["stream"], parts, n_tests=counter["tests"])


# ============================================================ writing results

def _format_rows(df: pd.DataFrame, fmt: str) -> str:
    if fmt == "tsv":
        return df[COLUMNS].to_csv(sep="\t", index=False, header=False, float_format="%.6g")
    if fmt == "bed":
        score = np.minimum(1000, np.round(-10 * np.log10(np.maximum(df["p_value"].to_numpy(), 1e-300))))
        out = pd.DataFrame({"chrom": df["sequence_id"], "start": df["start"], "end": df["end"],
                            "name": df["motif_id"] + "_" + df["motif_name"], "score": score.astype(int),
                            "strand": df["strand"]})
        return out.to_csv(sep="\t", index=False, header=False)
    if fmt == "gff":
        attrs = ("Name=" + df["motif_id"] + "_" + df["sequence_id"] + df["strand"] + ";Alias=" + df["motif_name"]
                 + ";pvalue=" + df["p_value"].map("{:.3g}".format) + ";qvalue="
                 + df["q_value"].map("{:.3g}".format) + ";sequence=" + df["matched_sequence"])
        out = pd.DataFrame({"seqid": df["sequence_id"], "source": "seqconv", "type": "nucleotide_motif",
                            "start": df["start"] + 1, "end": df["end"], "score": df["score"].round(3),
                            "strand": df["strand"], "phase": ".", "attributes": attrs})
        return out.to_csv(sep="\t", index=False, header=False)
    raise InputError(f"format must be tsv, bed or gff, got {fmt!r}")


_HEADERS = {"tsv": "\t".join(COLUMNS) + "\n", "bed": "", "gff": "##gff-version 3\n"}


def scan_to_file(sequences, motifs, out, *, format: str = "tsv", threshold: float = 1e-4,
                 strands: str = "both", background=None, pseudocount: float = 0.1, **kwargs) -> int:
    """Scan and write the hits to ``out`` (tsv, bed or gff), streaming, atomically.

    Hits are kept in Parquet pieces of ~200,000 rows in a temporary folder next to
    ``out`` (memory stays bounded for genome-scale runs); q-values, which need every
    p-value of the run, are added when the pieces are written out as text.  On any
    error nothing is left at ``out``.  Rows come in input order, by motif within a piece.

    Returns
    -------
    int
        Number of hits written.
    """
    import tempfile

    if format not in _HEADERS:
        raise InputError(f"format must be tsv, bed or gff, got {format!r}")
    counter: dict = {}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    pvals = []
    with tempfile.TemporaryDirectory(prefix=f".{out.name}.", dir=out.parent) as tmp, atomic_path(out) as final:
        pieces: list[Path] = []

        def flush(parts):
            df = _frame(counter["bank"], counter["stream"], parts)
            pieces.append(Path(tmp) / f"{len(pieces):06d}.parquet")
            df.drop(columns="q_value").to_parquet(pieces[-1], index=False)
            pvals.append(df["p_value"].to_numpy())
            parts.clear()

        parts: list[dict] = []
        for hits in _iter_hits(sequences, motifs, threshold=threshold, strands=strands, background=background,
                               pseudocount=pseudocount, counter=counter, **_engine_kwargs(kwargs)):
            parts.append(hits)
            if sum(len(p["col"]) for p in parts) >= 200_000:
                flush(parts)
        if parts:
            flush(parts)
        p = np.concatenate(pvals) if pvals else np.zeros(0)
        pvals.clear()
        q = bh_qvalues(p, counter["tests"])
        n_hits = int(p.size)
        del p
        with open(final, "w") as dst:
            dst.write(_HEADERS[format])
            done = 0
            for piece in pieces:
                chunk = pd.read_parquet(piece)
                chunk.insert(COLUMNS.index("q_value"), "q_value", q[done:done + len(chunk)])
                done += len(chunk)
                dst.write(_format_rows(chunk, format))
    return n_hits


def _engine_kwargs(kwargs: dict) -> dict:
    base = dict(bin_size=0.1, method="fimo", device=None, engine="auto", block=None, genome=None, ids=None,
                verbose=False)
    unknown = set(kwargs) - set(base)
    if unknown:
        raise TypeError(f"unexpected arguments {sorted(unknown)}")
    base.update(kwargs)
    return base


# ============================================================ dense tracks

def score_matrix(sequences, motifs, *, strands: str = "both", background=None, pseudocount: float = 0.1,
                 ids=None, device=None) -> np.ndarray:
    """Dense log-odds score of every motif at every position (max over strands).

    Parameters
    ----------
    sequences : list of str of equal length, or one-hot ``X : (N, 4, L)``
    motifs : motif file, ``"jaspar"``, Motif or list of Motif
    strands : {"both", "+", "-"}

    Returns
    -------
    S : (N, M, L) float32
        ``S[n, m, i]`` = score (bits) of motif ``m`` on the window starting at
        ``i`` of sequence ``n``; NaN where the window runs past the end or holds N.
    """
    motif_list = read_motifs(motifs)
    if strands not in ("both", "+", "-"):
        raise InputError(f"strands must be 'both', '+' or '-', got {strands!r}")
    recs = list(_records(sequences, None, ids))
    if not recs:
        raise InputError("no sequences")
    L = len(recs[0][1])
    if any(len(c) != L for _, c in recs):
        raise InputError("score_matrix needs sequences of equal length (pad or scan them one by one)")
    if isinstance(background, str) and background != "uniform":
        raise InputError(f"score_matrix takes background=None, 'uniform' or 4 frequencies, got {background!r}")
    bg = None if background is None or isinstance(background, str) else check_background(background)
    dev = _device(device)
    codes = torch.as_tensor(np.stack([c for _, c in recs]).astype(np.int64), device=dev)  # (N, L)
    onehot = torch.cat([torch.eye(4), torch.zeros(1, 4)]).to(dev)[codes].permute(0, 2, 1)  # (N, 4, L)
    isn = (codes == 4).to(torch.float32)[:, None]
    out = torch.full((len(recs), len(motif_list), L), float("nan"), device=dev)
    for k, m in enumerate(motif_list):
        mats = []
        if strands in ("both", "+"):
            mats.append(m.log_odds(pseudocount, bg))
        if strands in ("both", "-"):
            mats.append(m.reverse_complement().log_odds(pseudocount, bg))
        if m.width > L:
            continue
        w = torch.as_tensor(np.stack(mats).transpose(0, 2, 1), dtype=torch.float32, device=dev)
        s = torch.nn.functional.conv1d(onehot, w).amax(dim=1)  # (N, L - W + 1)
        nmask = torch.nn.functional.conv1d(isn, torch.ones(1, 1, m.width, device=dev))[:, 0] > 0
        out[:, k, :s.shape[1]] = torch.where(nmask, float("nan"), s)
    return out.cpu().numpy()
