"""The motif bank's tables on disk: p-value tables, the CPU engine's index and pi0's tables, kept between processes.

Building them for the 879 JASPAR vertebrate motifs (dynamic programming over FIMO's score grid, the 8-mer
index) takes ~0.3 CPU s, more than a 1 kb scan; reading them back takes ~0.04 s.  Each set of tables is one
uncompressed ``.npz`` file (~150 MB for those motifs), named by a digest of everything the tables depend
on: the motifs' content and the options that shape them (:func:`seqconv.scan.bank._bank_key`), the source
of the modules that compute them, and the numpy and numba versions.  So a changed motif, option or
algorithm is a new file, never a stale answer.

* Folder: ``$SEQCONV_SCAN_CACHE`` when set, else ``$XDG_CACHE_HOME/seqconv/scan`` (default
  ``~/.cache/seqconv/scan``).  ``SEQCONV_SCAN_CACHE=off`` (or ``0``, ``none``, ``false``) disables it.
* Only banks of at least :data:`MIN_MOTIFS` motifs are kept (smaller ones build in milliseconds).
* Files are written to a temporary name in the folder and renamed into place (atomic: a reader sees a
  whole file or none); read as ``np.load(allow_pickle=False)`` would (never pickle), but mapped from
  the file instead of copied (:func:`_read`), each array's checksum checked (:func:`checksum`: a 64-bit
  multiply-xor sum at memory speed; the zip format's CRC-32 is still written, so ``np.load`` checks it,
  but at ~1.3 GB/s it took 0.1 s of a 1 Mb scan's 0.3).  A file that cannot be read (truncated, a bad
  checksum, other arrays than expected, another key) is removed and rebuilt.
* At most :data:`MAX_BYTES` are kept; the least recently used files go first.
* A folder that cannot be written (read-only home, full disk) only costs the rebuild: a scan never fails
  because of its cache.
* Trust: like numba's own cache of compiled kernels (machine code loaded from ``__pycache__`` or
  ``NUMBA_CACHE_DIR``), the folder must be writable by its user only (files are created ``0600``): the
  checksums guard against damage, the shape and bound checks against files of another layout, not against a
  crafted file.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import math
import mmap
import os
import struct
import zipfile
from pathlib import Path

import numba
import numpy as np

from seqconv.fileio import scratch_file

#: Environment variable: the cache folder, or off / 0 / none / false to disable the cache.
ENV = "SEQCONV_SCAN_CACHE"
_OFF = ("", "0", "off", "none", "false", "no")
#: Banks of fewer motifs are not kept on disk (built faster than a file is found and read).
MIN_MOTIFS = 64
#: Total size of the folder's cache files kept (least recently used removed first).
MAX_BYTES = 2 * 2 ** 30
#: The file layout; raise it when the arrays stored change meaning.
FORMAT = 3
#: Each array's data starts at a multiple of this many bytes in its file (and so in memory, mapped).
ALIGN = 64
_ALIGN_FIELD = 0xD935        # the zip extra field id of Android's zipalign, for the padding
_SUFFIX = ".npz"
_SUMS = "__sums__"           # the member holding every other member's checksum, in file order


_DISABLED = [0]     # depth of disabled() blocks


@contextlib.contextmanager
def disabled():
    """Within this block, this process neither reads nor writes the disk cache."""
    _DISABLED[0] += 1
    try:
        yield
    finally:
        _DISABLED[0] -= 1


def folder() -> Path | None:
    """The cache folder (see the module's docstring), or None when the cache is disabled."""
    if _DISABLED[0]:
        return None
    value = os.environ.get(ENV)
    if value is not None:
        return None if value.strip().lower() in _OFF else Path(value).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "seqconv" / "scan"


#: The modules whose code computes the cached tables (relative to the seqconv package).
_SOURCES = ("_scan_kernels.py", "motifs/core.py", "scan/bank.py", "scan/engine_numba.py", "scan/options.py",
            "scan/pvalues.py")


@functools.lru_cache(maxsize=1)
def _code_digest() -> bytes:
    """Digest of the source of every module that computes cached tables, and of the numpy and numba versions."""
    package = Path(__file__).resolve().parents[1]
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{FORMAT} {np.__version__} {numba.__version__}".encode())
    for rel in _SOURCES:
        h.update((package / rel).read_bytes())
    return h.digest()


def _path(root: Path, key: str, name: str) -> Path:
    digest = hashlib.blake2b(f"{key}/{name}".encode() + _code_digest(), digest_size=20).hexdigest()
    return root / f"{name}-{digest}{_SUFFIX}"


def load(key: str, name: str, check=None) -> dict[str, np.ndarray] | None:
    """The arrays stored for ``(key, name)``, or None: no cache, no file, or a file that cannot be read,
    was written for another key or fails ``check(arrays)`` (shapes and dtypes that fit the bank)."""
    root = folder()
    if root is None:
        return None
    path = _path(root, key, name)
    try:
        arrays = _read(path)
    except FileNotFoundError:
        return None
    except Exception:  # noqa: BLE001  (truncated, bad CRC, not a zip, unreadable: rebuilt, never a crash)
        with contextlib.suppress(OSError):
            path.unlink()
        return None
    stored_key = arrays.pop("__key__", None)
    if stored_key is None or stored_key.dtype != np.uint8 or stored_key.tobytes() != key.encode():
        return None
    try:
        ok = check is None or bool(check(arrays))
    except (KeyError, AttributeError, ValueError, IndexError, TypeError):
        ok = False
    if not ok:
        return None
    with contextlib.suppress(OSError):
        os.utime(path)                                   # recently used: kept longest
    return arrays


@numba.njit(cache=True, nogil=True)
def checksum(data):  # pragma: no cover - compiled by numba
    """A 64-bit checksum of ``data`` (uint8, (n,), C-contiguous): four multiply-xor lanes over its 8-byte
    words (``h = (h ^ w) * P``, P odd: each step a bijection of the lane's state, so a change confined to
    one word always changes the sum), then its last ``n % 32`` bytes, the lanes and ``n`` folded in the
    same way.  Not cryptographic: it finds damage, not a crafted file."""
    n = data.shape[0]
    n32 = n - n % 32
    w = data[:n32].view(np.uint64)
    p = np.uint64(0x100000001B3)
    h0 = np.uint64(0xCBF29CE484222325)
    h1 = np.uint64(0x84222325CBF29CE4)
    h2 = np.uint64(0x9E3779B97F4A7C15)
    h3 = np.uint64(0xC2B2AE3D27D4EB4F)
    for i in range(0, w.shape[0], 4):
        h0 = (h0 ^ w[i]) * p
        h1 = (h1 ^ w[i + 1]) * p
        h2 = (h2 ^ w[i + 2]) * p
        h3 = (h3 ^ w[i + 3]) * p
    for k in range(n32, n):
        h0 = (h0 ^ np.uint64(data[k])) * p
    h = (h0 ^ h1) * p
    h = (h ^ h2) * p
    h = (h ^ h3) * p
    return (h ^ np.uint64(n)) * p


def _bytes(a: np.ndarray) -> np.ndarray:
    """The data of a C-contiguous array as writable uint8 (n,) (a read-only array, such as the key's bytes, is
    copied: numba compiles read-only arrays as a type of their own, and the warm-up compiles one)."""
    b = a.reshape(-1).view(np.uint8)
    return b if b.flags.writeable else b.copy()


def _read(path: Path) -> dict[str, np.ndarray]:
    """The arrays of a file :func:`_write` wrote, as ``np.load`` reads them, but mapped from the file
    (copy-on-write, so writable; aligned: numba takes them as the arrays it compiled for) instead of
    copied, each array's :func:`checksum` checked against the file's ``__sums__`` member (which is not
    returned); checking them reads the file once at memory speed.

    Raises ValueError (or OSError, zipfile.BadZipFile) for anything but such a file."""
    with open(path, "rb") as fh:
        mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_COPY)
        with zipfile.ZipFile(fh) as z:
            infos = z.infolist()
    view = memoryview(mm)
    arrays, raw = {}, {}
    for info in infos:
        h = info.header_offset
        if (info.compress_type != zipfile.ZIP_STORED or not info.filename.endswith(".npy")
                or mm[h:h + 4] != b"PK\x03\x04"):
            raise ValueError(f"{info.filename}: not a stored .npy member")
        n_name, n_extra = struct.unpack("<HH", mm[h + 26:h + 30])
        start = h + 30 + n_name + n_extra
        end = start + info.file_size
        if end > len(mm):
            raise ValueError(f"{info.filename}: past the end of the file")
        head = io.BytesIO(mm[start:min(end, start + 65_536)])
        version = np.lib.format.read_magic(head)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(head)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(head)
        else:
            raise ValueError(f"{info.filename}: .npy version {version}")
        offset = start + head.tell()
        if dtype.hasobject or offset + math.prod(shape) * dtype.itemsize != end:
            raise ValueError(f"{info.filename}: not a plain array of its size")
        if offset % ALIGN:
            raise ValueError(f"{info.filename}: data not {ALIGN}-byte aligned in the file")
        name = info.filename[:-4]
        arrays[name] = np.ndarray(shape, dtype, buffer=mm, offset=offset, order="F" if fortran else "C")
        raw[name] = np.ndarray((end - offset,), np.uint8, buffer=mm, offset=offset)
    view.release()
    sums = arrays.pop(_SUMS, None)
    if not infos or infos[-1].filename != _SUMS + ".npy" or sums.dtype != np.uint64 or sums.shape != (len(arrays),):
        raise ValueError("no checksums of its arrays")
    for name, want in zip(arrays, sums):
        if checksum(raw[name]) != want:
            raise ValueError(f"{name}: bad checksum")
    return arrays


def _write(fh, arrays: dict[str, np.ndarray]) -> None:
    """``arrays`` as an uncompressed ``.npz`` (what ``np.savez`` writes, ``np.load`` reads it), each member's
    data :data:`ALIGN`-byte aligned in the file (a padding extra field in its local header, as zipalign
    does), so that :func:`_read` maps aligned arrays: numba compiled its kernels for aligned ones."""
    arrays = {k: np.ascontiguousarray(v) for k, v in arrays.items() if k != _SUMS}
    arrays[_SUMS] = np.array([checksum(_bytes(a)) for a in arrays.values()], dtype=np.uint64)
    with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as z:
        for name, a in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            zip64 = a.nbytes > zipfile.ZIP64_LIMIT - 2 ** 20          # zipfile then adds a 20-byte extra field
            # the .npy header pads the array data to a multiple of 64 within the member: align the member
            fixed = fh.tell() + 30 + len(info.filename.encode()) + 4 + (20 if zip64 else 0)
            pad = -fixed % ALIGN
            info.extra = struct.pack("<HH", _ALIGN_FIELD, pad) + bytes(pad)
            with z.open(info, "w", force_zip64=zip64) as out:
                np.lib.format.write_array(out, a, allow_pickle=False)


def save(key: str, name: str, arrays: dict[str, np.ndarray]) -> Path | None:
    """Store ``arrays`` for ``(key, name)`` atomically; returns the file, or None when nothing was written
    (cache disabled, folder not writable, disk full)."""
    root = folder()
    if root is None:
        return None
    path = _path(root, key, name)
    try:
        root.mkdir(parents=True, exist_ok=True)
        with scratch_file(root, f".{path.stem}.", ".tmp") as tmp:
            with open(tmp, "wb") as fh:
                _write(fh, {"__key__": np.frombuffer(key.encode(), dtype=np.uint8), **arrays})
            os.replace(tmp, path)
    except OSError:
        return None
    _trim(root, keep=path)
    return path


def fetch(key: str, name: str, make, check=None) -> dict[str, np.ndarray]:
    """The arrays of ``(key, name)`` from the cache (see :func:`load`), else ``make()`` (a dict of arrays),
    stored for next time."""
    arrays = load(key, name, check)
    if arrays is None:
        arrays = make()
        save(key, name, arrays)
    return arrays


def _trim(root: Path, keep: Path) -> None:
    """Remove the least recently used cache files until the folder's total is at most :data:`MAX_BYTES`."""
    files = []
    for p in root.glob(f"*{_SUFFIX}"):
        with contextlib.suppress(OSError):
            st = p.stat()
            files.append((st.st_mtime, st.st_size, p))
    total = sum(size for _, size, _ in files)
    for _, size, p in sorted(files, key=lambda f: f[0]):
        if total <= MAX_BYTES:
            break
        if p != keep:
            with contextlib.suppress(OSError):
                p.unlink()
                total -= size


def clear() -> None:
    """Remove every cache file of the folder (nothing else in it)."""
    root = folder()
    if root is not None and root.is_dir():
        for p in root.glob(f"*{_SUFFIX}"):
            with contextlib.suppress(OSError):
                p.unlink()
