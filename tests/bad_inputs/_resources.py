"""Shared, read-only resources of the bad-input catalogue: small real files built once per session."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data"
YEAST_GENOME = DATA / "yeast" / "sacCer3_chr1_3_6_7_8_9.fa.gz"
YEAST_REB1 = DATA / "yeast" / "Reb1_CX.bed.gz"
EXAMPLE_FA = DATA / "example_oct4_mafk_test.fa"


@dataclass(frozen=True)
class Resources:
    dir: Path
    genome_gz: Path      # real yeast excerpt, gzip (read into memory)
    chr1: Path           # plain FASTA: yeast chr1 as 'chr1' (pyfaidx)
    nochr: Path          # plain FASTA: yeast chr1 as '1' and a slice as 'MT'
    fasta: Path          # 40 real Oct4/MafK 200 bp records
    meme: Path           # 3 JASPAR motifs
    dataset: Path        # 200 bp Reb1 dataset (chromosome split)
    nan_model: Path      # oct4_mafk with one NaN weight
    model: str = "oct4_mafk"


def _records(path, n=None):
    from seqconv.genome import iter_fasta

    out = []
    for i, rec in enumerate(iter_fasta(path)):
        if n is not None and i >= n:
            break
        out.append(rec)
    return out


def build(folder: Path) -> Resources:
    """Write every resource into ``folder`` (once per test session)."""
    from seqconv.dataset import write_dataset
    from seqconv.genome import read_fasta
    from seqconv.modelfile import resolve_model, save_model
    from seqconv.motifs.io import jaspar_collection, write_meme
    from seqconv.prepare import from_peaks

    folder.mkdir(parents=True, exist_ok=True)
    chr1_seq = read_fasta(YEAST_GENOME)["chr1"]
    chr1 = folder / "chr1.fa"
    chr1.write_text(">chr1\n" + "\n".join(chr1_seq[i:i + 60] for i in range(0, len(chr1_seq), 60)) + "\n")
    nochr = folder / "nochr.fa"
    nochr.write_text(">1\n" + "\n".join(chr1_seq[i:i + 60] for i in range(0, len(chr1_seq), 60)) + "\n"
                     + ">MT\n" + chr1_seq[5000:25000] + "\n")
    fasta = folder / "in.fa"
    fasta.write_text("".join(f">{n}\n{s}\n" for n, s in _records(EXAMPLE_FA, 40)))
    (folder / "peaks.bed").write_text("".join(f"chr1\t{10000 + 300 * i}\t{10100 + 300 * i}\tp{i}\n"
                                              for i in range(300)))
    meme = folder / "m.meme"
    write_meme(jaspar_collection()[:3], meme)
    ds, _ = from_peaks([YEAST_REB1], YEAST_GENOME, width=200, test_chroms=["chr9"], valid_chroms=["chr8"], seed=0)
    dataset = folder / "ds.parquet"
    write_dataset(ds, dataset)
    nan_model = folder / "nan_model"
    save_model(resolve_model("oct4_mafk"), nan_model)
    nan_weights(nan_model / "model.safetensors")
    return Resources(folder, YEAST_GENOME, chr1, nochr, fasta, meme, dataset, nan_model)


def nan_weights(weights: Path) -> None:
    """Put a NaN into the first floating-point tensor of a safetensors file (save_model refuses to write one)."""
    import torch
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(weights))
    key = next(k for k, v in tensors.items() if v.is_floating_point())
    tensors[key] = tensors[key].clone()
    tensors[key].view(-1)[0] = float("nan")
    save_file(tensors, str(weights))
    assert not torch.isfinite(load_file(str(weights))[key]).all()


def truncated_gzip(path: Path, keep: float = 0.5) -> bytes:
    """The first ``keep`` fraction of the gzip compression of ``path``."""
    data = gzip.compress(Path(path).read_bytes())
    return data[: max(20, int(len(data) * keep))]


def corrupt_gzip(path: Path) -> bytes:
    """A gzip of ``path`` with its CRC flipped (complete stream, wrong checksum)."""
    data = bytearray(gzip.compress(Path(path).read_bytes()))
    data[-8] ^= 0xFF
    return bytes(data)


def snapshot(folder: Path) -> dict:
    """``{relative path: bytes or 'dir'/'link->target'}`` of everything under ``folder``, hidden files included."""
    out = {}
    for root, dirs, files in os.walk(folder):
        for d in dirs:
            p = Path(root) / d
            out[str(p.relative_to(folder))] = "dir"
        for f in files:
            p = Path(root) / f
            rel = str(p.relative_to(folder))
            out[rel] = f"link->{os.readlink(p)}" if p.is_symlink() else p.read_bytes()
    return out


def private_tempdir(monkeypatch, folder: Path) -> Path:
    """Point Python's temporary folder at ``folder`` (so leftovers are this test's, not a neighbour's)."""
    folder.mkdir(parents=True, exist_ok=True)
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def can_mount_tmpfs() -> bool:
    if sys.platform != "linux" or os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    probe = Path(tempfile.mkdtemp(prefix="seqconv-mountprobe-"))
    try:
        ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(probe)],
                            capture_output=True).returncode == 0
        if ok:
            subprocess.run(["umount", str(probe)], capture_output=True)
        return ok
    finally:
        probe.rmdir()
