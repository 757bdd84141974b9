"""Compile and cache seqconv's numba kernels ahead of the first scan: ``python -m seqconv.scan.warmup``.

``install.sh`` runs it once after installing.  It scans a small generated FASTA
(random DNA, seed 0, with soft-masked stretches, N runs, an IUPAC letter and a
record shorter than most motifs) against the bundled JASPAR collection in every
setting whose kernels take other argument types (the three output formats, one
strand, the fixed 0.1-bit grid, memelite's method, the DataFrame result, one-hot
input) and one-hot encodes 1-byte output, so numba compiles each kernel
specialisation once and writes it to its cache; later scans load them (see
:mod:`seqconv.scan.jit`).  The bundled motifs' tables under the default options
go to the disk cache (:mod:`seqconv.scan.diskcache`), so the first
``seqconv scan --motifs jaspar`` reads them instead of building them.  Prints
what it did and the CPU seconds it took.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import itertools
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numba as nb
import numpy as np

from seqconv import _scan_kernels as kern
from seqconv.encode import one_hot
from seqconv.motifs import read_motifs
from seqconv.motifs.compare import compare
from seqconv.scan import ScanOptions, diskcache, scan, scan_to_file
from seqconv.threads import available_cores


def _fasta(path: Path, seed: int = 0) -> None:
    """A 40 kb FASTA of random DNA with the cases the kernels branch on."""
    rng = np.random.default_rng(seed)
    seq = np.frombuffer(b"ACGT", dtype=np.uint8)[rng.integers(0, 4, 40_000)].copy()
    seq[1_000:1_500] += 32          # soft-masked (lower case)
    seq[5_000:5_300] = ord("N")     # an assembly-gap-like run
    seq[9_001] = ord("R")           # an IUPAC letter
    text = seq.tobytes().decode("ascii")
    with open(path, "w") as fh:
        fh.write(f">chrA\n{text[:30_000]}\n>chrB\n{text[30_000:]}\n>short\nACGTAC\n")


#: kernel -> arguments whose dtype the engine picks from the motifs' scores (int16 when they fit, else int32)
_TABLE_ARGS = {"scan_block": ("blk_tab",), "scan_dense": ("blk_tab", "dtab", "dtab2")}


def _compile_table_variants() -> int:
    """Compile the engine kernels for the table dtypes the bundled motifs did not use; returns how many.

    The scans above compile each kernel for the argument types JASPAR gives;
    other motif collections can give int32 instead of int16 tables (or the
    reverse).  Those signatures are the compiled ones with those arguments'
    dtype swapped; they are compiled (and cached) without running.
    """
    n = 0
    for name, table_args in _TABLE_ARGS.items():
        dispatcher = getattr(kern, name)
        params = list(inspect.signature(dispatcher.py_func).parameters)
        where = [params.index(a) for a in table_args]
        for sig in list(dispatcher.signatures):
            for dtypes in itertools.product((nb.int16, nb.int32), repeat=len(where)):
                new = list(sig)
                for i, dt in zip(where, dtypes):
                    new[i] = new[i].copy(dtype=dt)
                if tuple(new) not in dispatcher.signatures:
                    dispatcher.compile(tuple(new))
                    n += 1
    return n


def _compare_kernels() -> None:
    compare(read_motifs("jaspar")[:3], "jaspar")


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def warm_up(verbose: bool = True, *, compare_kernels: bool = True, parallel: bool | None = None) -> float:
    """Run every kernel specialisation a scan uses once (and, with ``compare_kernels``, those of
    :func:`seqconv.motifs.compare`); returns the CPU seconds taken (a helper process's included).

    ``parallel`` (default: when two or more CPUs are usable): the comparison kernels compile in a
    second process while this one compiles the scan kernels (numba compiles in one thread; the two
    sets share no kernel), so the warm-up's wall time is about the longer of the two, not their sum.
    """
    t0, c0 = time.process_time(), _children_cpu()
    say = (lambda msg: print(msg, file=sys.stderr, flush=True)) if verbose else (lambda msg: None)
    if parallel is None:
        parallel = available_cores() >= 2
    helper = None
    if compare_kernels and parallel:
        helper = subprocess.Popen([sys.executable, "-m", "seqconv.scan.warmup", "--compare-only", "-q"],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _scan_kernels_warm_up(say)
    except BaseException:
        if helper is not None:          # this part failed (or was interrupted): the helper's work is moot
            helper.kill()
            helper.wait()
        raise
    if helper is not None:
        err = helper.communicate()[1]
        if helper.returncode != 0:
            raise RuntimeError(f"the comparison kernels' warm-up failed (exit {helper.returncode}): "
                               + err.decode(errors="replace")[-2000:])
        say("  motifs.compare: done (in a second process)")
    elif compare_kernels:
        _compare_kernels()
        say("  motifs.compare: done")
    return time.process_time() - t0 + _children_cpu() - c0


def _scan_kernels_warm_up(say) -> None:
    with tempfile.TemporaryDirectory(prefix="seqconv-warmup-") as tmp:
        fa = Path(tmp) / "warmup.fa"
        _fasta(fa)
        runs = [("tsv", {}), ("bed", {}), ("gff", {}), ("tsv", {"strands": "+"}),
                ("tsv", {"bin_size": 0.1}), ("tsv", {"method": "memelite", "bin_size": 0.1})]
        for fmt, kw in runs:
            # the disk cache keeps the bundled motifs' tables for the default options only (~150 MB)
            with diskcache.disabled() if kw else contextlib.nullcontext():
                scan_to_file(fa, "jaspar", Path(tmp) / f"hits.{fmt}", format=fmt, options=ScanOptions(**kw))
            say(f"  scan --format {fmt} {kw or ''}: done")
        diskcache.checksum(np.zeros(64, dtype=np.uint8))   # also where the disk cache is off (SEQCONV_SCAN_CACHE)
        n = _compile_table_variants()
        say(f"  engine kernels for the other table dtypes: {n} compiled")
        seqs = [line.strip() for line in open(fa) if not line.startswith(">")]
        scan(seqs[:2], "jaspar")
        scan(one_hot([seqs[1][:2_000], seqs[1][2_000:4_000]]), "jaspar")
        say("  scan() to a DataFrame, from strings and one-hot: done")
        # one-hot, 1-byte output: a long row (8 bases per word, aligned and not) and a batch
        for text in (seqs[0], seqs[0][:-3]):
            one_hot(text, dtype="uint8", iupac="zero")
        one_hot([seqs[1][i:i + 500] for i in range(0, 5_000, 500)], dtype="uint8")
        say("  one_hot(dtype='uint8'): done")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m seqconv.scan.warmup",
        description="Compile and cache seqconv's numba kernels so the first scan does not wait for them.")
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing")
    parser.add_argument("--scan-only", action="store_true",
                        help="only the scan kernels, not motif comparison's (seqconv motifs; ~45 CPU s less)")
    parser.add_argument("--compare-only", action="store_true",
                        help="only motif comparison's kernels (what the parallel warm-up's second process runs)")
    parser.add_argument("--serial", action="store_true",
                        help="compile both sets in this process, one after the other (default: in parallel "
                             "where two CPUs are usable)")
    args = parser.parse_args(argv)
    if args.scan_only and args.compare_only:
        parser.error("--scan-only and --compare-only exclude each other")
    if args.compare_only:
        t0 = time.process_time()
        _compare_kernels()
        if not args.quiet:
            print(f"seqconv warm-up: comparison kernels done in {time.process_time() - t0:.0f} CPU s",
                  file=sys.stderr)
        return 0
    if not args.quiet:
        print("seqconv warm-up: compiling and caching the numba kernels (once after install) ...",
              file=sys.stderr, flush=True)
    cpu = warm_up(verbose=not args.quiet, compare_kernels=not args.scan_only, parallel=False if args.serial else None)
    if not args.quiet:
        print(f"seqconv warm-up: done in {cpu:.0f} CPU s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
