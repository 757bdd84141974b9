"""One scan run: motifs and sequences in, blocks of rescored hits out, with the counts q-values need."""

from __future__ import annotations

import hashlib
import importlib
import os
import queue
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from seqconv import _scan_kernels as kern
from seqconv.errors import InputError
from seqconv.motifs.core import check_background
from seqconv.motifs.io import read_motifs
from seqconv.progress import progress_bar
from seqconv.scan.bank import bank_for
from seqconv.scan.device import device_type, scan_device
from seqconv.scan.engine_numba import DEFAULT_BLOCK_NUMBA, _Lookahead
from seqconv.scan.options import DEFAULT_BLOCK, NRDB_DNA, ScanOptions
from seqconv.scan.pvalues import PI0_LAMBDAS, PI0_SAMPLE, pi0_from_histograms
from seqconv.scan.records import _records, _sequence_background, _Stream

#: Motif files parsed in this process, by path and content digest (a few; parsing 879 motifs takes ~0.04 s).
_MOTIF_FILES: OrderedDict[tuple[str, bytes], list] = OrderedDict()
_MOTIF_FILES_KEPT = 4
_MOTIF_FILES_LOCK = threading.Lock()


def _motif_list(motifs) -> list:
    """:func:`seqconv.motifs.read_motifs` of ``motifs``; a regular file read before in this process with the
    same bytes is not parsed again (its Motif objects are shared: the scan never changes them)."""
    if not (isinstance(motifs, (str, Path)) and str(motifs) != "-" and os.path.isfile(motifs)):
        return read_motifs(motifs)
    data = Path(motifs).read_bytes()
    key = (os.path.realpath(motifs), hashlib.blake2b(data, digest_size=20).digest())
    with _MOTIF_FILES_LOCK:
        hit = _MOTIF_FILES.get(key)
        if hit is not None:
            _MOTIF_FILES.move_to_end(key)
    if hit is None:
        hit = read_motifs(motifs)
        if hashlib.blake2b(Path(motifs).read_bytes(), digest_size=20).digest() != key[1]:
            return hit                  # the file changed while it was read: not kept
        with _MOTIF_FILES_LOCK:
            _MOTIF_FILES[key] = hit
            while len(_MOTIF_FILES) > _MOTIF_FILES_KEPT:
                _MOTIF_FILES.popitem(last=False)
    return list(hit)


def clear_motif_files() -> None:
    """Forget the motif files kept by :func:`_motif_list`."""
    with _MOTIF_FILES_LOCK:
        _MOTIF_FILES.clear()


def _resolve_background(options: ScanOptions, sequences, genome, ids):
    """The scan's background as (4,) frequencies, or None for each motif's own."""
    bg = options.background
    if options.method == "memelite" or bg == "uniform":
        return check_background(None)
    if bg == "nrdb":
        return NRDB_DNA.copy()
    if bg == "motif":
        return None
    if bg == "sequences":
        return _sequence_background(sequences, genome, ids)
    return np.asarray(bg, dtype=np.float64)


def _pick_engine(engine: str, dev: str) -> str:
    if engine == "auto":
        return "torch" if device_type(dev) != "cpu" else "numba"
    if engine == "numba" and device_type(dev) != "cpu":
        raise InputError(f"engine='numba' runs on the CPU, not on {dev}")
    return engine


class _WindowSample:
    """A uniform sample (bottom-k of random keys) of ``size`` window starts over the whole run,
    each kept with the codes of the widest window: FIMO's reservoir of p-values, for pi0."""

    def __init__(self, size: int, width: int, seed: int):
        self.size, self.width = size, width
        self.rng = np.random.default_rng(seed)
        self.keys = np.zeros(0, dtype=np.float64)
        self.codes = np.zeros((0, width), dtype=np.uint8)

    def add(self, codes: np.ndarray, n_owned: int):
        keys = self.rng.random(n_owned)
        cut = self.keys.max() if len(self.keys) >= self.size else 1.0
        # only keys below the cut can enter; of many, only the block's `size` smallest: those lie below
        # a cut expected to keep 4 `size` of the keys (uniform), when at least `size` do
        low = min(cut, 4.0 * self.size / n_owned) if n_owned else cut
        pos = np.flatnonzero(keys < low)
        if len(pos) < self.size and low < cut:
            pos = np.flatnonzero(keys < cut)
        if len(pos) > 4 * self.size:            # keep the block's smallest keys only
            pos = pos[np.argpartition(keys[pos], self.size)[:self.size]]
        win = codes[np.minimum(pos[:, None] + np.arange(self.width)[None], len(codes) - 1)]
        k = np.concatenate([self.keys, keys[pos]])
        c = np.concatenate([self.codes, win])
        if len(k) > self.size:
            keep = np.argpartition(k, self.size)[:self.size]
            k, c = k[keep], c[keep]
        self.keys, self.codes = k, c


class _Run:
    """One scan.  :meth:`hits` yields the rescored hits of each block (dicts of arrays, see
    :func:`seqconv.scan.hits._decide`); afterwards :meth:`n_tests` and :meth:`pi0` give each motif's
    windows scored and estimated share of true nulls, for FIMO's q-values."""

    def __init__(self, sequences, motifs, options: ScanOptions, *, genome=None, ids=None):
        self.options = options
        motif_list = _motif_list(motifs)
        if not motif_list:
            raise InputError("no motifs to scan")
        bg = _resolve_background(options, sequences, genome, ids)
        self.bank = bank = bank_for(motif_list, options, bg)
        self.dev = scan_device(options.device)
        engine = _pick_engine(options.engine, self.dev)
        if engine == "numba" and not _Lookahead.supports(bank):
            if options.engine == "numba":
                raise InputError("engine='numba' takes fewer than 65,536 motif-strands, at most 120 wide, with "
                                 "integer scores below 2**28 (use engine='torch')")
            engine = "torch"
        self.engine = engine
        block = options.block or (DEFAULT_BLOCK if engine == "torch" else DEFAULT_BLOCK_NUMBA)
        self.stream = _Stream(_records(sequences, genome, ids), block, bank.max_width - 1)
        self.windows = np.zeros(bank.max_width + 1, dtype=np.int64)   # windows without N, per width
        self.sample = _WindowSample(PI0_SAMPLE // 2 if options.strands == "both" else PI0_SAMPLE,
                                    bank.max_width, options.seed)

    def _account(self, codes: np.ndarray, n_owned: int):
        self.windows += kern.valid_windows(codes, n_owned, self.bank.max_width)
        self.sample.add(codes, n_owned)

    def n_tests(self) -> np.ndarray:
        """Windows scored per motif (both strands counted), ``(n_motifs,)`` int64."""
        bank = self.bank
        return np.bincount(bank.motif_of, weights=self.windows[bank.widths],
                           minlength=len(bank.motifs)).astype(np.int64)

    def pi0(self) -> np.ndarray:
        """Each motif's estimated share of true nulls (FIMO's estimate from its p-value sample), ``(n_motifs,)``."""
        bank = self.bank
        c4, first_n = kern.window_codes4(np.ascontiguousarray(self.sample.codes))
        tab, bins = bank.pi0_tables()
        hist_j = kern.sample_bins(c4, first_n, bank.widths, tab, bank.smin, bank.sf_off, bins, PI0_LAMBDAS)
        hist = np.zeros((len(bank.motifs), PI0_LAMBDAS + 1), dtype=np.int64)
        np.add.at(hist, bank.motif_of, hist_j)
        return pi0_from_histograms(hist)

    def hits(self):
        if self.engine == "numba":
            yield from self._hits_numba()
        else:
            # the torch engine's module imports torch (~2 s of start-up): loaded only when it runs
            yield from importlib.import_module("seqconv.scan.engine_torch").torch_hits(self)

    def _hits_numba(self):
        """The CPU engine's block loop: blocks are read by a helper thread while the kernel (which
        releases the GIL) scans the previous one."""
        bank, stream = self.bank, self.stream
        threshold = self.options.threshold
        engine = bank.derived("lookahead", lambda: _Lookahead(bank, threshold))
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
        bar = progress_bar(desc="scanned", unit="bp", unit_scale=True, enabled=self.options.verbose)
        reader.start()
        try:
            while True:
                kind, item = q.get()
                if kind == "end":
                    break
                if kind == "error":
                    raise item
                g0, codes_np, n_owned = item
                self._account(codes_np, n_owned)
                hits = engine(stream, g0, codes_np, n_owned)
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
