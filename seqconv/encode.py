"""DNA text <-> one-hot arrays, reverse complement and dinucleotide shuffles.

Shapes
------
X : (N, 4, L) one-hot, channels A, C, G, T.  A single sequence gives ``(1, 4, L)``.

No Python loop runs per base.  ``one_hot`` works on blocks of about 128 kb:
A/C/G/T (either case) are found by comparing the upper-cased bytes with each
channel letter, straight into the output (one fused numba loop for 1-byte
dtypes, numpy comparisons for the others); only blocks holding other
characters (N, IUPAC codes, mistakes) look those up in a 256-row table.
``benchmarks/encode.py`` measures its speed.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence

import numba as nb
import numpy as np

ALPHABET = "ACGT"

#: IUPAC nucleotide codes -> the bases they stand for.
IUPAC = {
    "A": "A", "C": "C", "G": "G", "T": "T",
    "R": "AG", "Y": "CT", "S": "CG", "W": "AT", "K": "GT", "M": "AC",
    "B": "CGT", "D": "AGT", "H": "ACT", "V": "ACG", "N": "ACGT",
}

_COMPLEMENT_PAIRS = "ACGTRYSWKMBDHVN-."
_COMPLEMENT_TO = "TGCAYRSWMKVHDBN-."
_RC_TABLE = str.maketrans(
    _COMPLEMENT_PAIRS + _COMPLEMENT_PAIRS.lower(), _COMPLEMENT_TO + _COMPLEMENT_TO.lower()
)

_DTYPES = {
    "float32": np.float32, "float16": np.float16, "float64": np.float64,
    "uint8": np.uint8, "int8": np.int8, "bool": np.bool_,
}

# bit mask of bases -> IUPAC letter, used by decode
_MASK_TO_CODE = np.frombuffer(b"NACMGRSVTWYHKDBN", dtype=np.uint8)


def _resolve_dtype(dtype) -> np.dtype:
    if isinstance(dtype, str):
        if dtype not in _DTYPES:
            raise ValueError(f"dtype must be one of {sorted(_DTYPES)}, got {dtype!r}")
        return np.dtype(_DTYPES[dtype])
    try:
        import torch

        if isinstance(dtype, torch.dtype):
            return np.dtype(str(dtype).replace("torch.", ""))
    except ImportError:  # pragma: no cover - torch is a core dependency
        pass
    return np.dtype(dtype)


@functools.lru_cache(maxsize=32)
def _tables(n_value: float, iupac: str, dtype: np.dtype):
    """Return (lut (256, 4) of dtype, valid (256,) bool, fractional (256,) bool).

    Cached per argument set; the arrays are read-only.
    """
    if iupac not in ("uniform", "zero", "error"):
        raise ValueError(f"iupac must be 'uniform', 'zero' or 'error', got {iupac!r}")
    if n_value not in (0, 0.25):
        raise ValueError(f"n_value must be 0 or 0.25, got {n_value!r}")
    values = np.zeros((256, 4), dtype=np.float64)
    valid = np.zeros(256, dtype=bool)
    for code, bases in IUPAC.items():
        row = np.array([b in bases for b in ALPHABET], dtype=np.float64)
        if code == "N":
            row = row * n_value
        elif len(bases) > 1:
            if iupac == "error":
                continue
            row = row / len(bases) if iupac == "uniform" else row * 0
        for ch in (code, code.lower()):
            values[ord(ch)] = row
            valid[ord(ch)] = True
    fractional = ((values > 0) & (values < 1)).any(axis=1)
    tables = (values.astype(dtype), valid, fractional)
    for t in tables:
        t.flags.writeable = False
    return tables


def _as_text(seq, index: int) -> tuple[bytes, str]:
    """One input sequence -> (ASCII bytes, label used in error messages)."""
    label = f"sequence {index}"
    if hasattr(seq, "seq") and hasattr(seq, "id"):  # Bio.SeqRecord
        label = f"sequence {index} ({seq.id})"
        seq = seq.seq
    if isinstance(seq, (bytes, bytearray, memoryview)):
        return bytes(seq), label
    text = str(seq)
    try:
        return text.encode("ascii"), label
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"{label}: non-ASCII character {text[exc.start]!r} at position {exc.start}"
        ) from None


def _normalise_inputs(seqs) -> list:
    if isinstance(seqs, (str, bytes, bytearray)) or hasattr(seqs, "seq") or type(seqs).__name__ == "Seq":
        return [seqs]
    if isinstance(seqs, np.ndarray) and seqs.dtype.kind in "US":
        return list(seqs.ravel())
    return list(seqs)


def _fit_length(raw, length: int):
    """Centre-crop or pad with N to ``length`` (str or bytes in, same type out)."""
    n = len(raw)
    if n >= length:
        start = (n - length) // 2
        return raw[start:start + length]
    left = (length - n) // 2
    pad = "N" if isinstance(raw, str) else b"N"
    return pad * left + raw + pad * (length - n - left)


class _Batch:
    """Equal-length sequences (str or ASCII bytes) read block by block as uint8 codes.

    Sequences are never joined into one big buffer: each block of about
    ``_BLOCK`` bases is encoded/joined on its own, so the temporaries stay in
    cache and a large one-hot is written in a single pass.  Error labels are
    only built when an error is raised.
    """

    def __init__(self, items: list, labels, length: int | None):
        self.items, self.labels = items, labels
        types = set(map(type, items))
        if all(issubclass(t, str) for t in types):
            texts = items  # fast path: no Python work per sequence
        else:  # bytes, Bio.Seq, SeqRecord, mixtures: ASCII bytes each
            texts = [self._raw(s, i) for i, s in enumerate(items)]
        lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
        if length is not None:
            if int(length) <= 0:
                raise ValueError(f"length must be > 0, got {length}")
            L = int(length)
            # offsets: original position of position 0 after the crop (>0) or pad (<0)
            self.offsets = np.where(lengths >= L, (lengths - L) // 2, -((L - lengths) // 2))
            if (lengths != L).any():
                texts = [t if len(t) == L else _fit_length(t, L) for t in texts]
        else:
            L = int(lengths[0])
            self.offsets = None
            mismatch = np.flatnonzero(lengths != L)
            if mismatch.size:
                i = int(mismatch[0])
                raise ValueError(
                    f"sequences differ in length ({self.name(0)} has {L} bp, {self.name(i)} has "
                    f"{int(lengths[i])} bp); pass length= to centre-crop/pad them to one width"
                )
            if L == 0:
                raise ValueError(f"{self.name(0)} is empty")
        self.texts, self.shape = texts, (len(texts), L)
        self.is_str = isinstance(texts[0], str)

    def _raw(self, seq, index: int) -> bytes:
        """ASCII bytes of one input (before any length fitting)."""
        if hasattr(seq, "seq") and hasattr(seq, "id"):  # Bio.SeqRecord
            seq = seq.seq
        if isinstance(seq, (bytes, bytearray, memoryview)):
            return bytes(seq)
        text = str(seq)
        try:
            return text.encode("ascii")
        except UnicodeEncodeError as exc:
            raise ValueError(
                f"{self.name(index)}: non-ASCII character {text[exc.start]!r} at position {exc.start}"
            ) from None

    def name(self, i: int) -> str:
        """Label of sequence ``i`` for error messages."""
        if self.labels is not None:
            return f"sequence {self.labels[i]!r}"
        seq = self.items[i]
        if hasattr(seq, "seq") and hasattr(seq, "id"):
            return f"sequence {i} ({seq.id})"
        return f"sequence {i}"

    def position(self, i: int, pos: int) -> int:
        """Position ``pos`` of row ``i`` in the caller's (uncropped, unpadded) sequence."""
        return int(pos) + (0 if self.offsets is None else int(self.offsets[i]))

    def blocks(self):
        """Yield (row slice, column slice) tiling (N, L) in about ``_BLOCK`` bases, row-major."""
        n_rows, length = self.shape
        if length >= _BLOCK:
            for r in range(n_rows):
                for a in range(0, length, _BLOCK):
                    yield slice(r, r + 1), slice(a, min(length, a + _BLOCK))
        else:
            step = max(1, _BLOCK // length)
            cols = slice(0, length)
            for r in range(0, n_rows, step):
                yield slice(r, min(n_rows, r + step)), cols

    def codes(self, rows: slice, cols: slice) -> np.ndarray:
        """uint8 codes of one block, shape (rows, cols)."""
        if rows.stop - rows.start == 1:
            piece = self.texts[rows.start][cols]
        else:  # whole rows
            piece = ("" if self.is_str else b"").join(self.texts[rows])
        width = cols.stop - cols.start
        if self.is_str:
            try:
                piece = piece.encode("ascii")
            except UnicodeEncodeError as exc:
                r, pos = divmod(exc.start, width)
                i = rows.start + r
                raise ValueError(
                    f"{self.name(i)}: non-ASCII character {piece[exc.start]!r} at position "
                    f"{self.position(i, cols.start + pos)}"
                ) from None
        return np.frombuffer(piece, dtype=np.uint8).reshape(-1, width)


#: bases per block in the one-hot fill: the temporaries of one block stay in cache.
_BLOCK = 1 << 17
#: bases per run of a long row in the 1-byte path (one numba call each).
_RUN = 1 << 18
_ACGT_UPPER = np.frombuffer(b"ACGT", dtype=np.uint8)
_N_UPPER = np.uint8(ord("N"))


_LOW7 = np.uint64(0x7F7F7F7F7F7F7F7F)
_ONES = np.uint64(0x0101010101010101)


@nb.njit(cache=True, nogil=True, inline="always")
def _bytes_equal(u, pattern):  # pragma: no cover - compiled by numba
    """0x01 in each byte of the uint64 ``u`` equal to that byte of ``pattern``, else 0x00."""
    x = u ^ pattern
    nonzero = ((x & _LOW7) + _LOW7) | x  # high bit of each byte: that byte of x is not 0
    return (~nonzero >> np.uint64(7)) & _ONES


@nb.njit(cache=True, nogil=True)
def _onehot_words(words, a, c, g, t):  # pragma: no cover - compiled by numba
    """One-hot of 8 bases at a time: ``words`` (n,) uint64 holds the bytes, a/c/g/t (n,) the channels.

    Each byte of the outputs becomes 1 where that byte of ``words`` is the
    channel's letter in either case, else 0.  Returns True when some byte is
    neither A/C/G/T nor N (either case).
    """
    upper = np.uint64(0xDFDFDFDFDFDFDFDF)  # clearing bit 5 upper-cases letters
    invalid = np.uint64(0)
    for j in range(words.shape[0]):
        u = words[j] & upper
        is_a = _bytes_equal(u, np.uint64(0x4141414141414141))
        is_c = _bytes_equal(u, np.uint64(0x4343434343434343))
        is_g = _bytes_equal(u, np.uint64(0x4747474747474747))
        is_t = _bytes_equal(u, np.uint64(0x5454545454545454))
        is_n = _bytes_equal(u, np.uint64(0x4E4E4E4E4E4E4E4E))
        a[j], c[j], g[j], t[j] = is_a, is_c, is_g, is_t
        invalid |= (is_a | is_c | is_g | is_t | is_n) ^ _ONES
    return invalid != 0


@nb.njit(cache=True, nogil=True)
def _onehot_bytes(codes, out, row0, col0):  # pragma: no cover - compiled by numba
    """Write 0/1 bytes of A, C, G, T (either case) for ``codes`` (r, w) into ``out`` (N, 4, L).

    Row ``i`` of ``codes`` goes to ``out[row0 + i, :, col0:col0 + w]``, every
    element of it written (0 for any other byte).  Returns True when some
    byte is neither A/C/G/T nor N (either case).
    """
    invalid = np.uint8(0)
    for i in range(codes.shape[0]):
        row = codes[i]
        w = row.shape[0]
        a = out[row0 + i, 0, col0:col0 + w]
        c = out[row0 + i, 1, col0:col0 + w]
        g = out[row0 + i, 2, col0:col0 + w]
        t = out[row0 + i, 3, col0:col0 + w]
        for j in range(w):
            b = row[j] & np.uint8(0xDF)
            is_a, is_c = np.uint8(b == 65), np.uint8(b == 67)
            is_g, is_t = np.uint8(b == 71), np.uint8(b == 84)
            a[j], c[j], g[j], t[j] = is_a, is_c, is_g, is_t
            invalid |= np.uint8(1) - (is_a + is_c + is_g + is_t + np.uint8(b == 78))
    return invalid != 0


def _onehot_1byte(codes, out, row0: int, col0: int) -> bool:
    """``_onehot_bytes`` with one row's first multiple of 8 bases done 8 at a time."""
    width = codes.shape[1]
    n8 = width // 8 * 8 if codes.shape[0] == 1 else 0
    invalid = False
    if n8:
        dest = out[row0, :, col0:col0 + n8]
        invalid = _onehot_words(codes[0, :n8].view(np.uint64), *(d.view(np.uint64) for d in dest))
    if n8 < width:
        invalid |= _onehot_bytes(codes[:, n8:], out, row0, col0 + n8)
    return bool(invalid)


def _fill(batch: _Batch, out: np.ndarray, lut, valid, fractional) -> None:
    """Write the one-hot of ``batch`` into ``out`` (N, 4, L), block by block.

    1-byte dtypes (uint8, int8, bool; N is then all zeros): one numba pass
    writes every element of a block and flags any byte other than A/C/G/T/N.
    Other dtypes: a block of bytes is upper-cased with one bit mask and
    compared with each channel letter as one flat run, giving a (4, bases)
    bool block that is then copied (cast) into the (rows, 4, L) output, and
    counting the ones tells whether any other byte occurs.  Only blocks with
    such bytes go through the 256-entry tables (N, IUPAC codes, errors).
    """
    n_rows, length = batch.shape
    if out.dtype.itemsize == 1:  # n_value is 0 here: one_hot refuses 0.25 for integer dtypes
        flat = out.view(np.uint8)
        # a long row is read in runs of _RUN bytes (fewer, larger copies of the text than blocks)
        blocks = (
            ((slice(r, r + 1), slice(a, min(length, a + _RUN)))
             for r in range(n_rows) for a in range(0, length, _RUN))
            if length >= _BLOCK else batch.blocks()
        )
        for rows, cols in blocks:
            codes = batch.codes(rows, cols)
            if _onehot_1byte(codes, flat, rows.start, cols.start):
                for a in range(0, codes.shape[1], _BLOCK):  # look the others up block by block
                    part = slice(cols.start + a, min(cols.stop, cols.start + a + _BLOCK))
                    block = codes[:, a:a + _BLOCK]
                    u = np.bitwise_and(block, 0xDF)
                    _fill_others(batch, rows, part, block, u, out[rows, :, part], lut, valid, fractional)
        return
    size = _BLOCK if length >= _BLOCK else min(n_rows, max(1, _BLOCK // length)) * length
    upper = np.empty(size, dtype=np.uint8)
    tmp = np.empty(4 * size, dtype=np.bool_)
    channels = _ACGT_UPPER[:, None]
    # N (the usual other letter) is all zeros by default: counting it settles a block
    n_is_zero = not lut[ord("N")].any()
    for rows, cols in batch.blocks():
        block = batch.codes(rows, cols)
        r, w = block.shape
        # clearing bit 5 upper-cases letters; only 'x' and 'X' map onto 'X'
        u = np.bitwise_and(block.reshape(-1), 0xDF, out=upper[: r * w])
        dest = tmp[: 4 * r * w].reshape(4, r * w)
        np.equal(u, channels, out=dest)
        np.copyto(out[rows, :, cols], dest.reshape(4, r, w).transpose(1, 0, 2))
        n_acgt = np.count_nonzero(dest)
        if n_acgt != r * w and not (
            n_is_zero and n_acgt + np.count_nonzero(u == _N_UPPER) == r * w
        ):
            _fill_others(
                batch, rows, cols, block, u.reshape(r, w), out[rows, :, cols], lut, valid, fractional
            )


def _fill_others(batch, rows, cols, block, u, out, lut, valid, fractional) -> None:
    """Check the non-A/C/G/T bytes of one block and write their rows of ``lut``."""
    is_acgt = u == _ACGT_UPPER[0]
    for b in _ACGT_UPPER[1:]:
        is_acgt |= u == b
    r_idx, c_idx = np.nonzero(~is_acgt)
    found = block[r_idx, c_idx]
    bad = ~valid[found]
    if out.dtype.kind in "iub":
        bad |= fractional[found]
    if bad.any():
        j = int(np.argmax(bad))
        i = rows.start + int(r_idx[j])
        ch = chr(found[j])
        why = "invalid character"
        if valid[found[j]]:
            why = (
                f"ambiguity code that dtype {out.dtype} cannot hold "
                "(use a float dtype or iupac='zero')"
            )
        raise ValueError(
            f"{batch.name(i)}: {why} {ch!r} at position {batch.position(i, cols.start + c_idx[j])}"
        )
    values = lut[found]
    keep = values.any(axis=1)  # all-zero columns are already zero
    if keep.any():
        out[r_idx[keep], :, c_idx[keep]] = values[keep]


def one_hot(
    seqs,
    *,
    dtype="float32",
    length: int | None = None,
    n_value: float = 0.0,
    iupac: str = "uniform",
    labels: Sequence[str] | None = None,
) -> np.ndarray:
    """Encode DNA as one-hot.

    Parameters
    ----------
    seqs : str, bytes, Bio.Seq, Bio.SeqRecord, or a sequence of them
        Upper- or lower-case (soft-masked) DNA; lower case encodes like upper case.
    dtype : {"float32", "float16", "float64", "uint8", "int8", "bool"} or numpy/torch dtype
    length : int, optional
        Target length.  Longer sequences are centre-cropped, shorter ones padded
        with N on both sides.  Without it every sequence must have the same length.
    n_value : {0, 0.25}
        Value given to all four channels at an N.
    iupac : {"uniform", "zero", "error"}
        Ambiguity codes R Y S W K M B D H V: uniform weight over their bases,
        all zeros, or an error.
    labels : sequence of str, optional
        Names used in error messages instead of "sequence i".

    Returns
    -------
    X : (N, 4, L) ndarray of ``dtype``

    Raises
    ------
    ValueError
        For any other character (naming the sequence, position and character), for
        unequal lengths without ``length``, and for fractional values (IUPAC
        codes with ``iupac="uniform"`` or ``n_value=0.25``) requested in an
        integer or bool dtype.  Positions count from 0 in the sequence as given
        (before any crop or pad).

    Notes
    -----
    A/C/G/T in either case take a fast path: bytes are upper-cased with one
    bit mask and compared with each channel letter straight into the output,
    block by block; N costs one more count when it encodes as zeros.  Only
    blocks holding other bytes (IUPAC codes, N with ``n_value=0.25``, mistakes)
    look those positions up in a 256-entry table.
    """
    dt = _resolve_dtype(dtype)
    lut, valid, fractional = _tables(n_value, iupac, dt)
    if dt.kind in "iub" and n_value:
        raise ValueError(f"n_value={n_value} cannot be represented in dtype {dt}")
    items = _normalise_inputs(seqs)
    if not items:
        raise ValueError("no sequences to encode")
    batch = _Batch(items, labels, length)
    out = np.empty((batch.shape[0], 4, batch.shape[1]), dtype=dt)
    _fill(batch, out, lut, valid, fractional)
    return out


def decode(X) -> list[str]:
    """One-hot ``(N, 4, L)`` or ``(4, L)`` -> list of strings.

    Each column becomes the IUPAC letter of its non-zero channels: a one-hot
    column gives A/C/G/T, an all-zero or all-four column gives N.
    """
    arr = _to_numpy(X)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[1] != 4:
        raise ValueError(f"expected one-hot of shape (N, 4, L), got {arr.shape}")
    nz = (arr != 0).astype(np.uint8)
    mask = nz[:, 0] | (nz[:, 1] << 1) | (nz[:, 2] << 2) | (nz[:, 3] << 3)
    letters = _MASK_TO_CODE[mask]
    return [row.tobytes().decode("ascii") for row in letters]


def _to_numpy(X):
    if hasattr(X, "detach"):
        return X.detach().cpu().numpy()
    return np.asarray(X)


def reverse_complement(x):
    """Reverse complement of a string, bytes, list of strings or one-hot array/tensor.

    Strings keep their case and IUPAC codes map to their complements.  For
    one-hot input ``(..., 4, L)`` (numpy or torch) both the channel and the
    length axis are reversed, which is the complement because channels are
    in A, C, G, T order.
    """
    if isinstance(x, str):
        return x.translate(_RC_TABLE)[::-1]
    if isinstance(x, (bytes, bytearray)):
        return bytes(x).decode("ascii").translate(_RC_TABLE)[::-1].encode("ascii")
    if hasattr(x, "flip") and hasattr(x, "detach"):  # torch tensor
        if x.shape[-2] != 4:
            raise ValueError(f"expected one-hot (..., 4, L), got shape {tuple(x.shape)}")
        return x.flip((-2, -1))
    if isinstance(x, np.ndarray) and x.dtype.kind not in "USO":
        if x.ndim < 2 or x.shape[-2] != 4:
            raise ValueError(f"expected one-hot (..., 4, L), got shape {x.shape}")
        return np.ascontiguousarray(x[..., ::-1, ::-1])
    if type(x).__name__ == "Seq":
        return reverse_complement(str(x))
    if isinstance(x, Iterable):
        return [reverse_complement(s) for s in x]
    raise TypeError(f"cannot reverse-complement {type(x).__name__}")


def gc_content(seqs) -> np.ndarray:
    """Fraction of G+C among A/C/G/T bases of each sequence (N and others ignored).

    Returns
    -------
    gc : (N,) float64; NaN for a sequence without any A/C/G/T.
    """
    items = _normalise_inputs(seqs)
    out = np.empty(len(items), dtype=np.float64)
    gc_lut = np.zeros(256, dtype=np.int64)
    acgt_lut = np.zeros(256, dtype=np.int64)
    for ch in "GCgc":
        gc_lut[ord(ch)] = 1
    for ch in "ACGTacgt":
        acgt_lut[ord(ch)] = 1
    for i, s in enumerate(items):
        codes = np.frombuffer(_as_text(s, i)[0], dtype=np.uint8)
        total = acgt_lut[codes].sum()
        out[i] = gc_lut[codes].sum() / total if total else np.nan
    return out


# ---------------------------------------------------------------- shuffles

def _dinuc_shuffle_one(seq: bytes, rng: np.random.Generator) -> bytes:
    """Altschul-Erikson dinucleotide shuffle of one sequence (exact counts)."""
    n = len(seq)
    if n <= 2:
        return seq
    codes = np.frombuffer(seq, dtype=np.uint8)
    symbols, idx = np.unique(codes, return_inverse=True)
    k = len(symbols)
    if k == 1:
        return seq
    src, dst = idx[:-1], idx[1:]
    order = np.argsort(src, kind="stable")
    succ = dst[order].copy()
    counts = np.bincount(src, minlength=k)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    last = idx[-1]
    # 1. random last edges forming an arborescence rooted at the last symbol
    present = [v for v in range(k) if v != last and counts[v] > 0]
    while True:
        last_edge = {}
        for v in present:
            last_edge[v] = starts[v] + rng.integers(counts[v])
        nxt = {v: succ[last_edge[v]] for v in present}
        ok = True
        for v in present:  # every vertex must reach `last` via last edges
            seen, u = set(), v
            while u != last:
                if u in seen:
                    ok = False
                    break
                seen.add(u)
                u = nxt[u]
            if not ok:
                break
        if ok:
            break
    # 2. shuffle each vertex's edge list, with the chosen last edge at the end
    for v in range(k):
        c = counts[v]
        if c == 0:
            continue
        s = starts[v]
        seg = succ[s:s + c]
        if v in last_edge:
            j = last_edge[v] - s
            seg[j], seg[-1] = seg[-1], seg[j]
            if c > 2:
                seg[:-1] = seg[:-1][rng.permutation(c - 1)]
        elif c > 1:
            seg[:] = seg[rng.permutation(c)]
    # 3. walk the Eulerian path
    pos = starts.copy()
    out = np.empty(n, dtype=np.int64)
    u = idx[0]
    out[0] = u
    succ_l, pos_l = succ.tolist(), pos.tolist()
    for i in range(1, n):
        p = pos_l[u]
        pos_l[u] = p + 1
        u = succ_l[p]
        out[i] = u
    return symbols[out].tobytes()


def dinucleotide_shuffle(seqs, *, n_shuffles: int = 1, seed=None):
    """Shuffle sequences preserving their exact dinucleotide counts.

    Uses the Altschul-Erikson (1985) Eulerian-path method: first and last base,
    every dinucleotide count (and so every base count) are kept exactly.
    Characters are shuffled as given (case and N included).

    Parameters
    ----------
    seqs : str or sequence of str
    n_shuffles : int
        Shuffles per input sequence.
    seed : int or numpy Generator, optional

    Returns
    -------
    str if a single string was given and ``n_shuffles == 1``, else a list of
    strings ordered sequence-major (all shuffles of sequence 0 first).
    """
    rng = np.random.default_rng(seed)
    single = isinstance(seqs, (str, bytes)) and n_shuffles == 1
    items = _normalise_inputs(seqs)
    out = []
    for i, s in enumerate(items):
        raw = _as_text(s, i)[0]
        for _ in range(n_shuffles):
            out.append(_dinuc_shuffle_one(raw, rng).decode("ascii"))
    return out[0] if single else out


def dinucleotide_counts(seq: str) -> dict[str, int]:
    """Counts of each overlapping dinucleotide in ``seq`` (as written, case kept)."""
    codes = np.frombuffer(seq.encode("ascii"), dtype=np.uint8).astype(np.int64)
    if len(codes) < 2:
        return {}
    pairs, counts = np.unique(codes[:-1] * 256 + codes[1:], return_counts=True)
    return {chr(p // 256) + chr(p % 256): int(c) for p, c in zip(pairs, counts)}
