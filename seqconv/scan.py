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

Engine
------
Sequences are packed into one stream of base codes (records separated by an N)
and cut into blocks overlapping by the widest motif minus one, so memory is
bounded and hits at block borders are exact.  Per block and per group of motifs
of similar width, the windows are unfolded into a one-hot matrix and multiplied
with every motif-strand's integer matrix at once (bfloat16 on CPU, float16 on
CUDA: integers up to 256/2048 are exact in those types and the products are
accumulated in float32, exactly).  The threshold is folded in as a bias, so the
sign of the product says "possible hit"; only those windows are materialised
(``torch.nonzero``) and rescored exactly (integer score, float64 score, N check,
p-value from the table).
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
        for k, motif in enumerate(motifs):
            bg = motif.background if isinstance(background, str) else background
            bgv = np.asarray(bg, dtype=np.float64)
            # a strand-symmetric background gives the reverse complement the same score distribution
            symmetric = bgv[0] == bgv[3] and bgv[1] == bgv[2]
            dist = None
            for s in wanted:
                m = motif if s == "+" else motif.reverse_complement()
                lo = m.log_odds(pseudocount, bg)
                scaled = lo / bin_size
                ints = np.round(scaled).astype(np.int64)
                if dist is None or not symmetric:
                    smin, pmf = score_distribution(ints, bg)
                    dist = smin, survival(pmf)
                smin, sf = dist
                ok = np.flatnonzero(sf < threshold if method == "memelite" else sf <= threshold)
                thr_int = smin + int(ok[0]) if ok.size else math.inf
                thr_float = float(np.float32(thr_int * bin_size)) if ok.size else math.inf
                # memelite compares the float score: ceil() keeps the filter an upper bound
                filt = np.ceil(scaled - 1e-9).astype(np.int64) if method == "memelite" else ints
                self.strands.append(_Strand(k, s, m.width, lo, ints, filt, smin, sf, thr_int, thr_float))
        self.max_width = max(st.width for st in self.strands)
        J, W = len(self.strands), self.max_width
        # rescoring tables (J, W, 5): column 4 (N) and positions past the width are 0
        self.int_table = np.zeros((J, W, 5), dtype=np.int64)
        self.float_table = np.zeros((J, W, 5), dtype=np.float64)
        for j, st in enumerate(self.strands):
            self.int_table[j, :st.width, :4] = st.ints
            self.float_table[j, :st.width, :4] = st.lo
        self.widths = np.array([st.width for st in self.strands], dtype=np.int64)
        self.strand_of = np.array([st.strand for st in self.strands], dtype=object)
        self.motif_of = np.array([st.motif for st in self.strands], dtype=np.int64)
        self.motif_ids = np.array([m.id for m in motifs], dtype=object)
        self.motif_names = np.array([m.name for m in motifs], dtype=object)
        self.thr = np.array([st.thr for st in self.strands], dtype=np.float64)
        self.thr_float = np.array([st.thr_float for st in self.strands], dtype=np.float64)
        self.smin = np.array([st.smin for st in self.strands], dtype=np.int64)
        self.sf_off = np.concatenate([[0], np.cumsum([len(st.sf) for st in self.strands])])
        self.sf_flat = np.concatenate([st.sf for st in self.strands])

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
    engine = _pick_engine(engine, dev)
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
            raise ValueError(f"engine='numba' runs on the CPU, not on {dev}")
        if not _numba_available():
            raise ImportError("engine='numba' needs numba (pip install numba)")
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

    CHUNK = 16384          # seed positions per parallel task
    DENSE_RATE = 0.15      # seeds passing more often than this are tested at every window

    def __init__(self, bank: _Bank, threshold: float):
        from seqconv import _scan_kernels as kern

        self.kern = kern
        self.bank = bank
        k = kern.K
        J = len(bank.strands)
        widths = bank.widths.astype(np.int64)
        offs = np.concatenate([[0], np.cumsum(widths)]).astype(np.int64)
        filt = np.concatenate([st.filt for st in bank.strands]).astype(np.int64)
        if np.abs(filt).max() * max(1, int(widths.max())) >= 2 ** 29:
            raise ValueError("integer scores too large for the int32 lookahead engine (use a larger bin_size)")
        filt = filt.astype(np.int32)
        reach = np.isfinite(bank.thr)
        big = 2 ** 30
        fthr = np.where(reach, np.nan_to_num(bank.thr, posinf=big) - (1 if bank.method == "memelite" else 0),
                        big).astype(np.int64)
        live = np.flatnonzero(reach).astype(np.int64)
        mats = [filt[offs[j]:offs[j + 1]].astype(np.int64) for j in range(J)]
        cmaxs = [f.max(axis=1) for f in mats]
        gaps = [c - f.mean(axis=1) for c, f in zip(cmaxs, mats)]
        # seed: the k consecutive columns with the largest summed (max - mean)
        ow = np.array([int(np.argmax(np.convolve(g, np.ones(k), mode="valid"))) if len(g) > k else 0
                       for g in gaps], dtype=np.int64)
        need = np.array([fthr[j] - cmaxs[j].sum() + cmaxs[j][ow[j]:ow[j] + k].sum() for j in range(J)],
                        dtype=np.int64)
        rates = kern.seed_rates(filt, offs, widths, ow, need, live, k)
        dense_mask = rates > self.DENSE_RATE
        self.dense = live[dense_mask]
        inverted = live[~dense_mask]
        # dense motif-strands wide enough get a second seed (disjoint, next best k columns)
        ow2 = ow.copy()
        for j in self.dense:
            W = widths[j]
            if W < 2 * k:
                continue
            cs = np.convolve(gaps[j], np.ones(k), mode="valid")
            best, pair = -np.inf, (ow[j], ow[j])
            for o1 in range(len(cs)):
                for o2 in range(o1 + k, len(cs)):
                    if cs[o1] + cs[o2] > best:
                        best, pair = cs[o1] + cs[o2], (o1, o2)
            ow[j], ow2[j] = pair
        digits = (np.arange(256)[:, None] >> (2 * (3 - np.arange(4)))[None, :]) & 3   # (256, 4)
        blk_n, blk_col, blk_tab, blk_suf = np.zeros(J, dtype=np.int64), [], [], []
        full_col, full_val, full_suf, full_n = [], [], [], np.zeros(J, dtype=np.int64)
        for j, st in enumerate(bank.strands):
            f, cmax, W = mats[j], cmaxs[j], st.width
            crange = cmax - f.min(axis=1)
            # full column order (narrow motif-strands' direct scoring), most informative first
            cols = np.argsort(-crange, kind="stable")
            full_col.append(cols)
            full_val.append(f[cols].ravel())
            full_suf.append(np.concatenate([np.cumsum(cmax[cols][::-1])[::-1][1:], [0]]))
            full_n[j] = W
            if W <= k:       # the seed is the whole motif (plus zero-weight columns past it)
                need[j] = fthr[j]
                continue
            seeded = np.zeros(W + 1, dtype=bool)
            seeded[ow[j]:ow[j] + k] = True
            seeded[ow2[j]:ow2[j] + k] = True
            seeded[W] = True
            # the other columns in runs of <= 4 consecutive columns, each read as the 4-mer of a
            # 4-column block inside the window (columns of the block outside the run weigh 0)
            runs, a0 = [], None
            for c in range(W + 1):
                if not seeded[c] and a0 is None:
                    a0 = c
                elif (seeded[c] or c - a0 == 4) and a0 is not None:
                    runs.append((a0, c))
                    a0 = None if seeded[c] else c
            info = [crange[a:e].sum() for a, e in runs]
            tabs, bmax, bcols = [], [], []
            for r in np.argsort(-np.asarray(info), kind="stable"):
                a, e = runs[r]
                bs = min(a, W - 4)
                w = np.zeros((4, 4), dtype=np.int64)
                w[a - bs:e - bs] = f[a:e]
                tabs.append(w[np.arange(4)[None, :], digits].sum(axis=1))
                bmax.append(cmax[a:e].sum())
                bcols.append(bs)
            blk_n[j] = len(runs)
            if runs:
                blk_col.append(np.asarray(bcols))
                blk_tab.append(np.concatenate(tabs))
                blk_suf.append(np.concatenate([np.cumsum(np.asarray(bmax)[::-1])[::-1][1:], [0]]))
            need[j] = fthr[j] - sum(bmax)
        cat = lambda parts, dt: np.concatenate(parts).astype(dt) if parts else np.zeros(0, dt)  # noqa: E731
        self.ow, self.ow2 = ow, ow2
        self.fthr = fthr.astype(np.int64)
        self.blk_off = np.concatenate([[0], np.cumsum(blk_n)]).astype(np.int64)
        tab = cat(blk_tab, np.int64)
        self.blk_tab = tab.astype(np.int16 if tab.size and np.abs(tab).max() < 2 ** 15 else np.int32)
        self.blk_col, self.blk_suf = cat(blk_col, np.int64), cat(blk_suf, np.int64)
        self.full_off = np.concatenate([[0], np.cumsum(full_n)]).astype(np.int64)
        self.full_col, self.full_val, self.full_suf = (cat(full_col, np.int64), cat(full_val, np.int32),
                                                       cat(full_suf, np.int64))
        self.widths = widths
        self.dense_need = need[self.dense].astype(np.int64)
        self.dtab = kern.build_dense_tables(filt, offs, widths, ow, self.dense, k)
        # second seed's table: all 0 (and 0 for N: the first seed's N entry decides) when there is none
        self.dtab2 = kern.build_dense_tables(filt, offs, widths, ow2, self.dense, k)
        for d, j in enumerate(self.dense):
            if ow2[j] == ow[j]:
                self.dtab2[d] = 0
        self.lst_start, self.ent_m, self.ent_s = kern.build_index(filt, offs, widths, ow, need, inverted, k)
        self.narrow = live[widths[live] < k]
        self.max_ow = int(ow[live].max()) + 1 if live.size else 1
        self.int_table = bank.int_table
        self.float_table = bank.float_table
        # expected windows passing per seed position, for the first size of the hit buffers
        self.cap = int(min(1 << 16, 1024 + self.CHUNK * max(1, live.size) * min(1.0, 8 * threshold)))

    def candidates(self, codes: np.ndarray, n_owned: int) -> tuple[np.ndarray, np.ndarray]:
        kern = self.kern
        k = kern.K
        kc, k4 = kern.kmer_codes(codes, k)
        n_chunks = -(-min(n_owned + self.max_ow, len(codes)) // self.CHUNK)
        ids = np.arange(n_chunks, dtype=np.int64)
        cap = self.cap
        pos, col = [], []
        while ids.size:
            out_x = np.empty((ids.size, cap), dtype=np.int32)
            out_m = np.empty((ids.size, cap), dtype=np.int32)
            counts = np.zeros(ids.size, dtype=np.int64)
            kern.scan_block(codes, kc, k4, n_owned, self.CHUNK, ids, cap, k,
                            self.ow, self.fthr, self.blk_off, self.blk_col, self.blk_tab, self.blk_suf,
                            self.lst_start, self.ent_m, self.ent_s, self.max_ow,
                            self.dense, self.dense_need, self.dtab, self.ow2, self.dtab2,
                            self.narrow, self.widths, self.full_off, self.full_col, self.full_val, self.full_suf,
                            out_x, out_m, counts)
            ok = counts <= cap
            mask = np.arange(cap)[None, :] < counts[ok, None]
            pos.append(out_x[ok][mask])
            col.append(out_m[ok][mask])
            ids = ids[~ok]
            if ids.size:
                cap = int(counts[~ok].max())
        return np.concatenate(pos).astype(np.int64), np.concatenate(col).astype(np.int64)

    def __call__(self, stream: _Stream, g0: int, codes: np.ndarray, n_owned: int, bin_size: float):
        pos, col = self.candidates(codes, n_owned)
        if not pos.size:
            return None
        s_int, s_float, has_n, wcodes = self.kern.rescore(codes, pos, col, self.widths, self.int_table,
                                                          self.float_table, self.bank.max_width)
        return _decide(self.bank, stream, g0, pos, col, s_int, s_float, has_n, wcodes, bin_size)


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
    s_float = bank.float_table[col[:, None], k[None], wcodes].sum(axis=1)
    return _decide(bank, stream, g0, pos, col, s_int, s_float, has_n, wcodes, bin_size)


def _decide(bank: _Bank, stream: _Stream, g0: int, pos, col, s_int, s_float, has_n, wcodes, bin_size: float):
    """Hit decision (FIMO: integer score >= threshold; memelite: float score > its threshold) and p-values."""
    if bank.method == "memelite":
        hit = ~has_n & (s_float > bank.thr_float[col])
        bins = np.trunc(s_float / bin_size).astype(np.int64)
    else:
        hit = ~has_n & (s_int >= bank.thr[col])
        bins = s_int
    if not hit.any():
        return None
    pos, col, wcodes, bins, s_float = pos[hit], col[hit], wcodes[hit], bins[hit], s_float[hit]
    kk = np.clip(bins - bank.smin[col], 0, np.diff(bank.sf_off)[col] - 1)
    pv = bank.sf_flat[bank.sf_off[col] + kk]
    seq_idx, local = stream.locate(g0 + pos)
    return {"col": col, "seq": seq_idx, "start": local, "score": s_float, "p_value": pv,
            "wcodes": wcodes.astype(np.uint8)}


def _frame(bank: _Bank, stream: _Stream, parts: list[dict]) -> pd.DataFrame:
    """One DataFrame (sorted by motif, sequence, start, strand; no q-values) from rescored blocks."""
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(
            COLUMNS, [object, object, object, np.int64, np.int64, object, float, float, float, object])})
    h = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    col = h["col"]
    motif_idx = bank.motif_of[col]
    order = np.lexsort((bank.strand_of[col] == "-", h["start"], h["seq"], motif_idx))
    col, motif_idx = col[order], motif_idx[order]
    seq_idx, start, wcodes = h["seq"][order], h["start"][order], h["wcodes"][order]
    widths = bank.widths[col]
    strand = bank.strand_of[col]
    minus = strand == "-"
    matched = np.empty(len(col), dtype=object)
    for w in np.unique(widths):
        sel = np.flatnonzero(widths == w)
        codes = wcodes[sel, :w]
        m = minus[sel]
        letters = np.where(m[:, None], _COMP_LETTER[codes[:, ::-1]], _LETTER[codes])
        matched[sel] = np.ascontiguousarray(letters).view(f"S{w}").ravel().astype(str)
    ids = stream.ids
    return pd.DataFrame({
        "motif_id": bank.motif_ids[motif_idx],
        "motif_name": bank.motif_names[motif_idx],
        "sequence_id": np.array([ids[i] for i in seq_idx], dtype=object),
        "start": start.astype(np.int64),
        "end": (start + widths).astype(np.int64),
        "strand": strand,
        "score": h["score"][order],
        "p_value": h["p_value"][order],
        "q_value": np.nan,
        "matched_sequence": matched,
    })


def bh_qvalues(p_values, n_tests: int) -> np.ndarray:
    """Benjamini-Hochberg q-values of ``p_values`` among ``n_tests`` tests (unreported p-values are larger).

    ``q_i = min over k >= rank_i of p_(k) * n_tests / k``, capped at 1; computed in place
    (about 32 bytes per hit) so that genome-scale runs stay lean.
    """
    p = np.asarray(p_values, dtype=np.float64)
    if p.size == 0:
        return p.copy()
    n_tests = max(int(n_tests), p.size)
    order = np.argsort(p, kind="stable")
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
    block : int
        Positions per block (memory per block ~ block x motif-strands x 2 bytes).
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
    df = _frame(counter["bank"], counter["stream"], parts)
    df["q_value"] = bh_qvalues(df["p_value"].to_numpy(), counter["tests"])
    return df


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
