"""``seqconv scan``: find motif matches (FIMO's hits, p- and q-values) in FASTA or BED regions."""

from __future__ import annotations

import click

from seqconv.cli._common import (
    FiniteFloat,
    InputFile,
    OutputFile,
    device_option,
    fasta_input,
    log,
    main,
    option,
    out_option,
    quiet_option,
    threads_option,
    user_errors,
)
from seqconv.errors import InputError


def peak_windows(bed, genome, width: int):
    """The ``width`` bp windows centred on the regions of a BED file (see :func:`seqconv.genome.windows`), each
    window once, as a DataFrame of chrom, start, end for :func:`seqconv.scan.scan_to_file` with ``genome=``."""
    from seqconv.genome import Genome, read_bed, windows

    win, _ = windows(read_bed(bed), Genome(genome), width, source=bed, fetch=False)
    return win.drop_duplicates(["chrom", "start", "end"])[["chrom", "start", "end"]].reset_index(drop=True)

#: The numba kernels every CPU scan calls (others serve only some options).
_EVERY_SCAN = ("kmer_codes", "scan_block", "rescore", "valid_windows", "score_tables", "window_codes4", "block_tables4",
               "pi0_bins", "sample_bins")
_S = "seqconv.scan.options:ScanOptions."  # the defaults of the options below are ScanOptions' (read lazily)


@main.command()
@click.option("--motifs", required=True, metavar="FILE|jaspar",
              help="MEME or JASPAR motif file, or 'jaspar' for the bundled JASPAR 2024 CORE vertebrates.")
@fasta_input(type=InputFile(spool=True, what="FASTA file"),
             help="Sequences to scan (gzip allowed; or give the FASTA as the argument).")
@click.option("--bed", default=None, type=InputFile(spool=True, what="BED file"),
              help="Regions to scan (with --genome).")
@click.option("--genome", default=None, type=InputFile(spool=True, what="genome FASTA file"),
              help="Genome FASTA for --bed (plain or bgzip).")
@click.option("--width", type=click.IntRange(min=1), default=None,
              help="With --bed: scan WIDTH bp centred on each region's summit (narrowPeak) or midpoint, as "
              "prepare's windows (shifted inside a chromosome end), instead of the region itself; for peak "
              "files of 1 bp summits.")
@option("--threshold", "thresh", aliases=("--thresh",), config=_S + "threshold", show_default=True, type=float,
        help="Report hits with p-value <= this (FIMO --thresh).")
@click.option("--format", "fmt", type=click.Choice(["tsv", "bed", "gff"]), default="tsv", show_default=True,
              help="tsv: FIMO-like table; bed: BED6; gff: GFF3.")
@out_option(default=None, type=OutputFile(stdout_ok=True),
            help="Output file (default or -: stdout).  Hits wait in a temporary file next to it (~40 bytes a "
                 "hit, its space freed as it is written out) until every q-value is known.")
@option("--strand", "strands", aliases=("--strands",), type=click.Choice(["both", "+", "-"]), config=_S + "strands",
        show_default=True,
        help="FIMO scans both; '+' is FIMO --norc.")
@option("--pseudocount", config=_S + "pseudocount", show_default=True, type=FiniteFloat(min=0),
        help="MEME motif pseudocount (FIMO --motif-pseudo).")
@option("--background", config=_S + "background", show_default=True,
        help="nrdb (FIMO's default), uniform (FIMO --bfile --uniform--), motif (the motif file's, FIMO "
        "--bfile --motif--), sequences (ACGT frequencies of the input; no FIMO equivalent), or four "
        "comma-separated A,C,G,T frequencies.  Averaged with the complement when both strands are "
        "scanned, as FIMO does.")
@option("--bin-size", config=_S + "bin_size", type=FiniteFloat(min=0, min_open=True),
        help="One fixed score grid of this many bits for every motif (0.1 is memelite's) instead of "
        "FIMO's per-motif grid (the default, FIMO's exact p-values).")
@option("--seed", config=_S + "seed", show_default=True, type=int,
        help="Seed of the window sample that estimates each motif's pi0 for q-values.")
@device_option(cpu_when_unset=True)
@option("--engine", type=click.Choice(["auto", "numba", "torch"]), config=_S + "engine", show_default=True,
        help="numba: CPU lookahead engine; torch: matrix products (CPU or CUDA); auto: numba on the "
        "CPU, torch on a GPU.")
@threads_option(help="CPU threads of the numba and torch engines (default: all cores).")
@quiet_option
@user_errors
def scan(motifs, fasta, bed, genome, width, thresh, fmt, out, strands, pseudocount, background, bin_size, seed, device,
         engine, threads, quiet):
    """Scan sequences for motif matches: FIMO's hits, p-values and q-values.

    Each hit is a window whose p-value (exact, on FIMO's per-motif score grid,
    under the background) is <= --threshold, on either strand; defaults are
    FIMO 5.5.8's (background NRDB, pseudocount 0.1, threshold 1e-4, both
    strands).  TSV columns: motif_id, motif_name, sequence_id, start, end,
    strand, score (bits), p_value, q_value, matched_sequence.  --format bed gives
    BED6 (score = min(1000, -10 log10 p)); gff gives GFF3 like FIMO's.  Output
    appears only when the whole run succeeds; empty records are skipped with a
    warning, as FIMO does.

    \b
    Differences from FIMO's fimo.tsv (no flag needed to get FIMO's hits):
    - start is 0-based, end exclusive (FIMO: 1-based start, inclusive stop);
      GFF and BED follow their formats.
    - score is the window's exact log-odds; FIMO prints its grid's score
      (within width/(2*scale) bits, scale ~ 1000 / column range).
    - q_value is FIMO's (per motif, BH x pi0), but pi0 comes from our own
      sample of 10,000 window p-values (--seed), so q-values can differ from
      FIMO's by a few percent where pi0 < 1.
    - every hit is kept (FIMO keeps the best 100,000 per motif:
      --max-stored-scores).

    \b
    The motif tables (p-value tables, the engine's index; ~150 MB for the
    879 JASPAR motifs) are kept on disk for the next run with the same
    motifs and options: in $SEQCONV_SCAN_CACHE, default
    ~/.cache/seqconv/scan; SEQCONV_SCAN_CACHE=off disables it.

    \b
    Example:
      seqconv scan --motifs jaspar --fasta data/example_oct4_mafk_test.fa --threshold 1e-5
      seqconv scan --motifs jaspar --bed data/yeast/Reb1_CX.bed.gz --width 200 \\
          --genome data/yeast/sacCer3_chr1_3_6_7_8_9.fa.gz --format bed --out reb1_hits.bed
    """
    import os
    import shutil
    import sys
    import tempfile

    import numba

    from seqconv import _scan_kernels as kernels
    from seqconv.progress import uncompiled_kernels
    from seqconv.scan import ScanOptions, scan_to_file
    from seqconv.scan.jit import load_numba_registries

    if (fasta is None) == (bed is None):
        raise InputError("give exactly one input: --fasta FILE, or --bed FILE with --genome FILE")
    if bed is not None and genome is None:
        raise InputError("--bed needs --genome")
    if width is not None and bed is None:
        raise InputError("--width centres windows on --bed regions; it needs --bed and --genome")
    if threads is not None and threads < 1:
        raise InputError(f"--threads must be >= 1, got {threads}")
    if threads:
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        if engine == "torch" or device != "cpu":  # only the torch engine needs torch (~2 s to import)
            import torch

            torch.set_num_threads(threads)
    bg = background
    if background not in ("nrdb", "uniform", "sequences", "motif"):
        try:
            bg = [float(x) for x in background.split(",")]
        except ValueError:
            raise InputError(f"--background must be nrdb, uniform, sequences, motif or A,C,G,T frequencies, "
                             f"got {background!r}") from None
    options = ScanOptions(threshold=thresh, strands=strands, background=bg, pseudocount=pseudocount,
                          bin_size=bin_size, seed=seed, device=device, engine=engine, verbose=not quiet)
    load_numba_registries()  # this process runs seqconv's kernels only: no scipy.linalg for numba's BLAS probe
    if not quiet and engine != "torch" and uncompiled_kernels(kernels, _EVERY_SCAN):
        log("compiling the scan kernels (first scan after install; cached for later runs)...")
    kwargs = dict(format=fmt, options=options)
    if bed is not None:
        kwargs["genome"] = genome
    source = bed if bed is not None else fasta
    if width is not None:
        source = peak_windows(bed, genome, width)
    if out:
        n = scan_to_file(source, motifs, out, **kwargs)
    else:
        with tempfile.TemporaryDirectory(prefix="seqconv-scan-") as tmp:
            path = os.path.join(tmp, "hits")
            n = scan_to_file(source, motifs, path, **kwargs)
            with open(path) as fh:
                shutil.copyfileobj(fh, sys.stdout)
    if not quiet:
        click.echo(f"seqconv scan: {n} hits with p <= {thresh:g}" + (f" written to {out}" if out else ""),
                   err=True)
