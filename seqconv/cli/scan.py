"""``seqconv scan``: find motif matches (FIMO p-values, both strands) in FASTA or BED regions."""

from __future__ import annotations

import click

from seqconv.cli._common import FiniteFloat, InputFile, OutputFile, check_device, main, quiet_option, user_errors
from seqconv.errors import InputError


@main.command()
@click.option("--motifs", required=True, metavar="FILE|jaspar",
              help="MEME or JASPAR motif file, or 'jaspar' for the bundled JASPAR 2024 CORE vertebrates.")
@click.option("--fasta", default=None, type=InputFile(spool=True, what="FASTA file"), help="Sequences to scan (gzip allowed).")
@click.option("--bed", default=None, type=InputFile(spool=True, what="BED file"), help="Regions to scan (with --genome).")
@click.option("--genome", default=None, type=InputFile(spool=True, what="genome FASTA file"), help="Genome FASTA for --bed.")
@click.option("--thresh", default=1e-4, show_default=True, type=float, help="Report hits with p-value <= this.")
@click.option("--format", "fmt", type=click.Choice(["tsv", "bed", "gff"]), default="tsv", show_default=True)
@click.option("--out", default=None, type=OutputFile(stdout_ok=True), help="Output file (default or -: stdout).")
@click.option("--strands", type=click.Choice(["both", "+", "-"]), default="both", show_default=True)
@click.option("--pseudocount", default=0.1, show_default=True, type=FiniteFloat(min=0), help="MEME motif pseudocount.")
@click.option("--background", default="uniform", show_default=True,
              help="uniform, sequences (ACGT frequencies of the input), motif (the motif file's), "
                   "or four comma-separated A,C,G,T frequencies.")
@click.option("--device", default=None, callback=check_device, help="cpu or cuda (default: cuda when available).")
@click.option("--engine", type=click.Choice(["auto", "numba", "torch"]), default="auto", show_default=True,
              help="numba: CPU lookahead engine; torch: matrix products (CPU or CUDA); auto: numba on the "
                   "CPU when installed.")
@click.option("--threads", default=None, type=click.IntRange(min=1), help="CPU threads (numba and torch).")
@quiet_option
@user_errors
def scan(motifs, fasta, bed, genome, thresh, fmt, out, strands, pseudocount, background, device, engine, threads,
         quiet):
    """Scan sequences for motif matches: FIMO definitions, exact p-values.

    Each hit is a window whose p-value (exact, from the log-odds score
    distribution under the background) is <= --thresh, on either strand.  TSV
    columns: motif_id, motif_name, sequence_id, start, end (0-based, half-open),
    strand, score (bits), p_value, q_value (Benjamini-Hochberg), matched_sequence.
    --format bed gives BED6 (score = min(1000, -10 log10 p)); gff gives GFF3
    like FIMO's.  Output appears only when the whole run succeeds.

    \b
    Example:
      seqconv scan --motifs jaspar --fasta data/example_oct4_mafk_test.fa --thresh 1e-5
      seqconv scan --motifs motifs.meme --bed peaks.bed --genome hg38.fa --format bed --out hits.bed
    """
    import os
    import shutil
    import sys
    import tempfile

    import torch

    from seqconv.scan import _check_threshold, scan_to_file

    _check_threshold(thresh)
    if (fasta is None) == (bed is None):
        raise InputError("give exactly one input: --fasta FILE, or --bed FILE with --genome FILE")
    if bed is not None and genome is None:
        raise InputError("--bed needs --genome")
    if threads is not None and threads < 1:
        raise InputError(f"--threads must be >= 1, got {threads}")
    if threads:
        torch.set_num_threads(threads)
        try:
            import numba
        except ImportError:
            pass
        else:
            numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    bg = background
    if background not in ("uniform", "sequences", "motif"):
        try:
            bg = [float(x) for x in background.split(",")]
        except ValueError:
            raise InputError(f"--background must be uniform, sequences, motif or A,C,G,T frequencies, "
                             f"got {background!r}") from None
    kwargs = dict(format=fmt, threshold=thresh, strands=strands, background=bg, pseudocount=pseudocount,
                  device=device, engine=engine, verbose=not quiet)
    if bed is not None:
        kwargs["genome"] = genome
    source = bed if bed is not None else fasta
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
