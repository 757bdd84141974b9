"""The torch engine (GPU, or CPU on request): dense matrix products filter the windows exactly."""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from seqconv.progress import progress_bar
from seqconv.scan.bank import _Bank
from seqconv.scan.device import scan_device
from seqconv.scan.hits import _rescore

_R = 32  # windows per run in the filter's max-reduction


def _device(device) -> torch.device:
    return torch.device(scan_device(device))


class _Done:
    """A finished job, for the single-worker path."""

    def __init__(self, value):
        self.value = value

    def result(self):
        return self.value


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
            for W, _cols, mat, dt in self.groups:
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


def torch_hits(run):
    """The torch engine's block loop for a :class:`seqconv.scan.run._Run`: yields the rescored hits of each block.

    On the CPU, blocks run on a pool of single-threaded workers (coarse-grained parallelism: torch's
    intra-op threads would synchronise at every small op); torch's thread count is restored after.
    """
    bank, stream, dev = run.bank, run.stream, torch.device(run.dev)
    filt = _Filter(bank, dev, stream.block - stream.overlap)
    n_workers = 1 if dev.type == "cuda" else max(1, torch.get_num_threads())
    prev_threads = torch.get_num_threads()
    bar = progress_bar(desc="scanned", unit="bp", unit_scale=True, enabled=run.options.verbose)
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
                run._account(codes_np, n_owned)
                job = pool.submit(filt, codes_np, n_owned) if pool else _Done(filt(codes_np, n_owned))
                pending.append((g0, codes_np, n_owned, job))
            if not pending:
                break
            g0, codes_np, n_owned, job = pending.popleft()
            pos, col = job.result()
            bar.update(n_owned)
            if len(pos):
                hits = _rescore(bank, stream, g0, codes_np, pos, col)
                if hits is not None:
                    yield hits
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        torch.set_num_threads(prev_threads)
        bar.close()
