"""DNA text <-> one-hot arrays, reverse complement and dinucleotide shuffles.

Shapes
------
X : (N, 4, L) one-hot, channels A, C, G, T.  A single sequence gives ``(1, 4, L)``.

Everything here is vectorised with numpy look-up tables: a sequence is viewed
as bytes, each byte indexes a 256-row table, no Python loop runs per base.
"""

from __future__ import annotations

from typing import Iterable, Sequence

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


def _tables(n_value: float, iupac: str, dtype: np.dtype):
    """Return (lut (256, 4) of dtype, valid (256,) bool, fractional (256,) bool)."""
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
    return values.astype(dtype), valid, fractional


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


def _fit_length(raw: bytes, length: int) -> bytes:
    """Centre-crop or pad with N to ``length``."""
    n = len(raw)
    if n >= length:
        start = (n - length) // 2
        return raw[start:start + length]
    left = (length - n) // 2
    return b"N" * left + raw + b"N" * (length - n - left)


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
        integer or bool dtype.
    """
    dt = _resolve_dtype(dtype)
    lut, valid, fractional = _tables(n_value, iupac, dt)
    if dt.kind in "iub" and n_value:
        raise ValueError(f"n_value={n_value} cannot be represented in dtype {dt}")
    items = _normalise_inputs(seqs)
    if not items:
        raise ValueError("no sequences to encode")
    raws, names = [], []
    for i, s in enumerate(items):
        raw, label = _as_text(s, i)
        if labels is not None:
            label = f"sequence {labels[i]!r}"
        raws.append(raw)
        names.append(label)
    if length is not None:
        if int(length) <= 0:
            raise ValueError(f"length must be > 0, got {length}")
        raws = [_fit_length(r, int(length)) for r in raws]
    L = len(raws[0])
    for raw, name in zip(raws, names):
        if len(raw) != L:
            raise ValueError(
                f"sequences differ in length ({names[0]} has {L} bp, {name} has {len(raw)} bp); "
                "pass length= to centre-crop/pad them to one width"
            )
    if L == 0:
        raise ValueError(f"{names[0]} is empty")
    codes = np.frombuffer(b"".join(raws), dtype=np.uint8).reshape(len(raws), L)
    bad = ~valid[codes]
    if dt.kind in "iub":
        bad |= fractional[codes]
    if bad.any():
        i, pos = np.argwhere(bad)[0]
        ch = chr(codes[i, pos])
        why = "invalid character"
        if valid[codes[i, pos]]:
            why = f"ambiguity code that dtype {dt} cannot hold (use a float dtype or iupac='zero')"
        raise ValueError(f"{names[i]}: {why} {ch!r} at position {pos}")
    out = np.empty((len(raws), 4, L), dtype=dt)
    for c in range(4):
        np.take(lut[:, c], codes, out=out[:, c, :])
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
