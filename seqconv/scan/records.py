"""Sequences in, records (id, base codes) out, packed into overlapping blocks."""

from __future__ import annotations

import gzip
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from seqconv.encode import IUPAC
from seqconv.errors import InputError
from seqconv.motifs.core import check_background

#: Base codes: A C G T -> 0..3, anything else (N, IUPAC, gaps) -> 4.
_CODE = np.full(256, 4, dtype=np.uint8)
for _i, _c in enumerate("ACGT"):
    _CODE[ord(_c)] = _i
    _CODE[ord(_c.lower())] = _i
_LETTER = np.frombuffer(b"ACGTN", dtype=np.uint8)
_COMP_LETTER = np.frombuffer(b"TGCAN", dtype=np.uint8)
_WARN_EMPTY = 5    # empty records named one by one before a summary
_VALID = ("".join(IUPAC) + "".join(IUPAC).lower() + "-*").encode("ascii")


def _iter_fasta_codes(path) -> Iterator[tuple[str, np.ndarray]]:
    """``(id, codes)`` of each record of a (gzipped) FASTA file, read as bytes.

    As :func:`seqconv.genome.iter_fasta` (errors name the file and line), except that a
    record without sequence is yielded empty (the scan skips it with a warning, as FIMO does).
    """
    path = Path(path)
    if not path.exists():
        raise InputError("no such FASTA file", path=path)
    with open(path, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    name, chunks, n = None, [], 0
    with (gzip.open(path, "rb") if gz else open(path, "rb")) as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.rstrip(b"\r\n")
            if line.startswith(b">"):
                if name is not None:
                    yield name, _CODE[np.frombuffer(b"".join(chunks), dtype=np.uint8)]
                    n += 1
                head = line[1:].split(maxsplit=1)
                if not head:
                    raise InputError("FASTA header without a sequence id", path=path, line=lineno)
                name, chunks = head[0].decode("utf-8", "replace"), []
            elif not line.strip() or line.startswith(b";"):
                continue
            else:
                if name is None:
                    raise InputError("sequence data before the first '>' header (is this a FASTA file?)",
                                     path=path, line=lineno)
                line = line.strip()
                if line.translate(None, _VALID):
                    col = next(i for i, ch in enumerate(line) if ch not in _VALID)
                    raise InputError(f"record {name!r}: invalid character {chr(line[col])!r} at column {col + 1}",
                                     path=path, line=lineno)
                chunks.append(line)
    if name is not None:
        yield name, _CODE[np.frombuffer(b"".join(chunks), dtype=np.uint8)]
        n += 1
    if n == 0:
        raise InputError("empty FASTA file (no '>' records)", path=path)


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


def _is_tensor(x) -> bool:
    """Whether ``x`` is a torch tensor (without importing torch: a tensor exists only once torch is imported)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def _records(sequences, genome=None, ids=None) -> Iterator[tuple[str, np.ndarray]]:
    """Yield ``(id, codes)`` for every input sequence (see :func:`scan` for accepted inputs)."""
    if genome is not None:
        # BED regions and genome FASTA files take seqconv.genome (and with it pandas, ~0.3 CPU s of start-up),
        # which FASTA scans never need
        import pandas as pd

        from seqconv import genome as gmod

        regions = gmod.read_bed(sequences) if isinstance(sequences, (str, Path)) else pd.DataFrame(sequences)
        g = gmod.Genome(genome)
        for row in regions.itertuples(index=False):
            yield f"{row.chrom}:{row.start}-{row.end}", _encode(g.fetch(row.chrom, int(row.start), int(row.end)))
        return
    if isinstance(sequences, Path) or (isinstance(sequences, str) and os.path.isfile(sequences)):
        yield from _iter_fasta_codes(sequences)
        return
    if (isinstance(sequences, np.ndarray) or _is_tensor(sequences)) and sequences.ndim == 3:
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
        self.skipped = 0          # empty records

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
            self._seen.add(name)
            if len(codes) == 0:          # FIMO skips empty records
                self.skipped += 1
                if self.skipped <= _WARN_EMPTY:
                    warnings.warn(f"sequence {name!r} is empty: skipped", stacklevel=2)
                continue
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
        if self.skipped > _WARN_EMPTY:
            warnings.warn(f"{self.skipped} empty sequences skipped in all", stacklevel=2)
        if not self.ids:
            raise InputError("no sequences to scan" + (" (every one is empty)" if self.skipped else ""))
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


def _sequence_background(sequences, genome, ids) -> np.ndarray:
    counts = np.zeros(5, dtype=np.int64)
    for _, codes in _records(sequences, genome, ids):
        counts += np.bincount(codes, minlength=5)[:5]
    if counts[:4].sum() == 0:
        raise InputError("cannot estimate a background: the sequences hold no A, C, G or T")
    freq = counts[:4] / counts[:4].sum()
    return check_background(np.maximum(freq, 1e-6) / np.maximum(freq, 1e-6).sum())
