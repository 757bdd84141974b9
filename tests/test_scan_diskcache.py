"""seqconv.scan.diskcache: banks read back from disk give the same hits as banks built, without the DP; bad
files are rebuilt; the cache can be moved, disabled, and a folder that cannot be written costs nothing but time."""

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seqconv import _scan_kernels as kern
from seqconv.genome import iter_fasta
from seqconv.scan import ScanOptions, clear_caches, diskcache, scan, scan_to_file
from seqconv.scan.bank import _Bank
from seqconv.scan.options import NRDB_DNA

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_FA = ROOT / "data" / "example_oct4_mafk_test.fa"          # 200 real 200-bp peaks (Oct4 / MafK)


@pytest.fixture(scope="module")
def peaks():
    return list(iter_fasta(EXAMPLE_FA))[:80]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """The disk cache in a fresh folder, for banks of any size; the process's own caches emptied."""
    folder = tmp_path / "scan-cache"
    monkeypatch.setenv(diskcache.ENV, str(folder))
    monkeypatch.setattr(diskcache, "MIN_MOTIFS", 1)
    clear_caches()
    yield folder
    clear_caches()


def _files(folder: Path) -> dict[str, Path]:
    return {p.name.split("-")[0]: p for p in folder.glob("*.npz")}


def _no_dp(monkeypatch):
    """Building a bank or the engine's index from now on fails the test."""
    def fail(*a, **k):
        raise AssertionError("tables were built, not read from the disk cache")
    monkeypatch.setattr(kern, "score_tables", fail)
    monkeypatch.setattr(kern, "build_index", fail)
    monkeypatch.setattr(kern, "pi0_bins", fail)


def test_tables_read_back_give_the_same_hits_without_the_dp(cache, motifs, peaks, tmp_path, monkeypatch):
    built = scan(peaks, motifs, threshold=1e-3)
    scan_to_file(peaks, motifs, tmp_path / "built.tsv", options=ScanOptions(threshold=1e-3))
    assert sorted(_files(cache)) == ["bank", "lookahead", "pi0"]
    clear_caches()
    _no_dp(monkeypatch)
    loaded = scan(peaks, motifs, threshold=1e-3)
    clear_caches()
    scan_to_file(peaks, motifs, tmp_path / "loaded.tsv", options=ScanOptions(threshold=1e-3))
    assert len(built) > 500 and built.q_value.min() < 0.5
    pd.testing.assert_frame_equal(loaded, built, check_exact=True)
    assert (tmp_path / "loaded.tsv").read_bytes() == (tmp_path / "built.tsv").read_bytes()


def test_a_bank_read_back_equals_a_fresh_one(cache, motifs):
    from seqconv.scan.bank import bank_for

    opts = ScanOptions(background=(0.3, 0.2, 0.2, 0.3), strands="+")   # other options: another file
    first = bank_for(motifs, opts, np.array([0.35, 0.15, 0.2, 0.3]))
    clear_caches()
    again = bank_for(motifs, opts, np.array([0.35, 0.15, 0.2, 0.3]))
    fresh = _Bank(motifs, opts, np.array([0.35, 0.15, 0.2, 0.3]))
    assert again.sf_flat is not first.sf_flat                 # read back, not the process's copy
    for k, v in vars(fresh).items():
        if isinstance(v, np.ndarray):
            assert np.array_equal(getattr(again, k), v), k
    assert [(s.strand, s.thr, s.smin) for s in again.strands] == [(s.strand, s.thr, s.smin) for s in fresh.strands]
    assert len(_files(cache)) == 1


def _rewrite(path, arrays):
    with open(path, "wb") as fh:
        diskcache._write(fh, arrays)


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage", "other_arrays", "other_key", "unaligned"])
def test_a_bad_cache_file_is_rebuilt_not_a_crash(cache, motifs, peaks, monkeypatch, damage):
    want = scan(peaks, motifs, threshold=1e-3)
    path = _files(cache)["bank"]
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[:len(data) // 2])
    elif damage == "flip":                     # one byte inside the p-value tables: its checksum (and the zip CRC) fail
        i = data.index(b"sf.npy") + 2_000_000
        path.write_bytes(data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1:])
    elif damage == "garbage":
        path.write_bytes(b"not a cache file")
    elif damage == "other_arrays":             # a whole, readable file whose arrays do not fit the motifs
        with np.load(path) as npz:
            arrays = {k: npz[k] for k in npz.files}
        arrays["sf_off"] = arrays["sf_off"][:-1]
        _rewrite(path, arrays)
    elif damage == "other_key":                # another key's file under this name
        with np.load(path) as npz:
            arrays = {k: npz[k] for k in npz.files}
        arrays["__key__"] = np.frombuffer(b"0" * 40, dtype=np.uint8)
        _rewrite(path, arrays)
    else:                                      # the right arrays, but np.savez's layout: not mapped unaligned
        with np.load(path) as npz:
            arrays = {k: npz[k] for k in npz.files}
        np.savez(path, **arrays)
    if damage == "flip":
        with zipfile.ZipFile(path) as z, pytest.raises(zipfile.BadZipFile):
            z.read("sf.npy")
    clear_caches()
    got = scan(peaks, motifs, threshold=1e-3)
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert diskcache.load(*_key_name(motifs), check=None) is not None     # rewritten whole
    clear_caches()
    _no_dp(monkeypatch)
    pd.testing.assert_frame_equal(scan(peaks, motifs, threshold=1e-3), want, check_exact=True)


def _key_name(motifs):
    from seqconv.scan.bank import _bank_key

    opts = ScanOptions(threshold=1e-3)
    return _bank_key(motifs, opts, NRDB_DNA), "bank"


@pytest.mark.parametrize("value", ["off", "0", "none"])
def test_disabled_by_the_environment(tmp_path, monkeypatch, motifs, peaks, value):
    monkeypatch.setenv(diskcache.ENV, value)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(diskcache, "MIN_MOTIFS", 1)
    clear_caches()
    assert diskcache.folder() is None
    assert len(scan(peaks, motifs, threshold=1e-3)) > 500
    assert not list(tmp_path.rglob("*.npz"))
    monkeypatch.setenv(diskcache.ENV, str(tmp_path / "on"))
    with diskcache.disabled():                        # the warm-up's way, for scans of other options
        assert diskcache.folder() is None
    assert diskcache.folder() == tmp_path / "on"


def test_default_folder_follows_xdg_and_small_banks_stay_off_disk(tmp_path, monkeypatch, motifs, peaks):
    monkeypatch.delenv(diskcache.ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert diskcache.folder() == tmp_path / "xdg" / "seqconv" / "scan"
    clear_caches()
    assert len(motifs) < diskcache.MIN_MOTIFS
    scan(peaks, motifs, threshold=1e-3)
    assert not list(tmp_path.rglob("*.npz"))


def test_a_folder_that_cannot_be_written_costs_only_the_rebuild(tmp_path, monkeypatch, motifs, peaks):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    monkeypatch.setenv(diskcache.ENV, str(blocker / "cache"))      # below a regular file: mkdir fails
    monkeypatch.setattr(diskcache, "MIN_MOTIFS", 1)
    clear_caches()
    assert len(scan(peaks, motifs, threshold=1e-3)) > 500
    assert diskcache.save("k", "bank", {"a": np.zeros(3)}) is None


def test_least_recently_used_files_go_first(cache, monkeypatch):
    monkeypatch.setattr(diskcache, "MAX_BYTES", 3_000)
    a = diskcache.save("a", "bank", {"x": np.zeros(200)})           # ~1.9 kB each
    b = diskcache.save("b", "bank", {"x": np.ones(200)})
    assert not a.exists() and b.exists()
    assert diskcache.load("a", "bank") is None
    assert np.array_equal(diskcache.load("b", "bank")["x"], np.ones(200))


def test_files_are_npz_read_back_aligned_and_writable(cache, motifs):
    """np.load reads a cache file as it is mapped back: the same arrays, each aligned (numba compiled its
    kernels for aligned arrays) and writable (copy-on-write: the file never changes)."""
    from seqconv.scan.bank import bank_for

    bank_for(motifs, ScanOptions(), NRDB_DNA)
    path = _files(cache)["bank"]
    before = path.read_bytes()
    got = diskcache._read(path)
    with np.load(path, allow_pickle=False) as npz:
        assert sorted(npz.files) == sorted([*got, "__sums__"])       # the checksums: a member of their own
        for k in got:
            assert got[k].dtype == npz[k].dtype and np.array_equal(got[k], npz[k]), k
        assert npz["__sums__"].tolist() == [diskcache.checksum(got[k].reshape(-1).view(np.uint8)) for k in got]
    assert all(a.ctypes.data % diskcache.ALIGN == 0 and a.flags.aligned and a.flags.writeable for a in got.values())
    got["sf"][:10] = -1.0
    assert path.read_bytes() == before


def test_checksum_changes_with_any_byte_and_with_the_length():
    data = np.random.default_rng(1).integers(0, 256, 203, dtype=np.uint8)   # 6 words of 32 bytes + an 11-byte tail
    base = diskcache.checksum(data)
    assert base == diskcache.checksum(data.copy())
    for i in range(len(data)):                       # every position, word lanes and tail alike
        for bit in (0, 7):
            d = data.copy()
            d[i] ^= 1 << bit
            assert diskcache.checksum(d) != base, (i, bit)
    zeros = {diskcache.checksum(np.zeros(n, dtype=np.uint8)) for n in range(0, 70)}
    assert len(zeros) == 70                          # runs of zeros differ by their length
    swapped = data.copy()
    swapped[:8], swapped[8:16] = data[8:16], data[:8]
    assert diskcache.checksum(swapped) != base       # the same words in other lanes
