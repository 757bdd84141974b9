"""``seqconv predict``: score FASTA records, BED intervals or tiled genomic regions with a model."""

from __future__ import annotations

import shutil
import sys
import warnings

import click

from seqconv.cli._common import InputFile, OutputFile, check_device, log, main, quiet_option, user_errors
from seqconv.errors import InputError


@main.command()
@click.argument("fasta", required=False, type=InputFile(what="FASTA file"))
@click.option("--model", "model", required=True, help="Bundled model name (see `seqconv models`) or model directory.")
@click.option("--bed", default=None, type=InputFile(what="BED file"), help="BED intervals to score (with --genome).")
@click.option("--genome", default=None, type=InputFile(spool=True, what="genome FASTA file"), help="Genome FASTA (plain or bgzip).")
@click.option("--region", default=None, help="CHROM or CHROM:START-END (1-based) of --genome, tiled with --stride.")
@click.option("--tile", is_flag=True, help="Score windows along each FASTA record / BED interval, not its centre.")
@click.option("--stride", default=None, type=click.IntRange(min=1), help="Tiling step in bp (default: half the model input).")
@click.option("--out", "out", default=None, type=OutputFile(stdout_ok=True), help="TSV output (default or -: stdout).")
@click.option("--bedgraph", default=None, metavar="PREFIX",
              help="Also write PREFIX.<TF>.bedGraph of tiled probabilities (and .bw when pyBigWig is installed).")
@click.option("--strand", type=click.Choice(["both", "forward"]), default=None,
              help="Average forward and reverse complement (the bundled models' default) or forward only.")
@click.option("--strict", is_flag=True, help="Error on sequences shorter than the model input instead of N-padding.")
@click.option("--batch-size", default=256, show_default=True, type=click.IntRange(min=1))
@click.option("--device", default=None, callback=check_device, help="cpu (default), cuda, cuda:1 ...")
@click.option("--threads", default=None, type=click.IntRange(min=1), help="CPU threads for torch.")
@quiet_option
@user_errors
def predict(fasta, model, bed, genome, region, tile, stride, out, bedgraph, strand, strict, batch_size, device,
            threads, quiet):
    """Predict TF binding on sequences: TSV with id, TF, score (logit), probability.

    Input is one of: a FASTA file (each record scored at its centre window, or
    along its length with --tile); --bed with --genome; --region with --genome
    (a region or whole chromosome, tiled with --stride).  Tiled outputs add
    chrom, start, end columns.  Windows stream in batches, so memory stays
    bounded on chromosome-sized inputs.  Outputs appear only when the run succeeds.

    \b
    Example:
      seqconv predict --model oct4_mafk data/example_oct4_mafk_test.fa
      seqconv predict --model models/ctcf --bed peaks.bed --genome hg38.fa --out scores.tsv
      seqconv predict --model yeast_chexmix --genome data/yeast/sacCer3_chr1_3_6_7_8_9.fa.gz --region chr8 \\
          --stride 50 --out chr8.tsv --bedgraph chr8
    """
    import contextlib
    import os
    import tempfile

    import torch

    from seqconv.fileio import atomic_path
    from seqconv.predict import Scorer, ShortSequenceWarning, write_tsv

    modes = [fasta is not None, bed is not None, region is not None]
    if sum(modes) != 1:
        raise InputError("give exactly one input: a FASTA file, --bed (with --genome) or --region (with --genome)")
    if (bed or region) and not genome:
        raise InputError("--bed and --region need --genome")
    if bedgraph and not (tile or region or bed):
        raise InputError("--bedgraph needs tiled windows (--tile, --region or --bed)")
    if threads:
        torch.set_num_threads(threads)
    scorer = Scorer(model, strand=strand, batch_size=batch_size, device=device, verbose=not quiet)
    if fasta:
        chunks = scorer.fasta(fasta, tile=tile, stride=stride, strict=strict)
    elif bed:
        chunks = scorer.bed(bed, genome, tile=tile, stride=stride, strict=strict)
    else:
        chunks = scorer.region(genome, region, stride=stride, strict=strict)
    eff_stride = scorer._stride(stride)
    short: list[str] = []
    with contextlib.ExitStack() as stack:
        tmpdir = None if out else stack.enter_context(tempfile.TemporaryDirectory(prefix="seqconv-predict-"))
        target = out or os.path.join(tmpdir, "predictions.tsv")
        tsv_tmp = stack.enter_context(atomic_path(target, suffix=".tsv"))
        graphs = [stack.enter_context(atomic_path(f"{bedgraph}.{tf}.bedGraph", suffix=".bedGraph"))
                  for tf in (scorer.tasks if bedgraph else [])]
        handles = {tf: stack.enter_context(open(p, "w")) for tf, p in zip(scorer.tasks, graphs)}
        with open(tsv_tmp, "w") as fh, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ShortSequenceWarning)
            n = write_tsv(chunks, fh, bedgraph=handles or None, stride=eff_stride)
            short = [str(w.message) for w in caught if issubclass(w.category, ShortSequenceWarning)]
        for h in handles.values():
            h.close()
        if out is None:
            with open(tsv_tmp) as fh:
                shutil.copyfileobj(fh, sys.stdout)
    if short:
        log(f"warning: {len(short)} sequence(s) shorter than the model input were padded with N, e.g. {short[0]}",
            quiet=False)
    if bedgraph:
        _maybe_bigwig(bedgraph, scorer.tasks, genome, quiet)
    log(f"scored {n // max(1, len(scorer.tasks))} window(s) x {len(scorer.tasks)} TF(s)"
        + (f" -> {out}" if out else ""), quiet=quiet)


def _maybe_bigwig(prefix, tasks, genome, quiet):
    """Convert PREFIX.<TF>.bedGraph to .bw when pyBigWig is installed and chromosome sizes are known."""
    try:
        import pyBigWig
    except ImportError:
        return
    if not genome:
        return
    from seqconv.genome import Genome

    sizes = list(Genome(genome).sizes.items())
    for tf in tasks:
        bw = pyBigWig.open(f"{prefix}.{tf}.bw", "w")
        bw.addHeader(sizes)
        with open(f"{prefix}.{tf}.bedGraph") as fh:
            rows = [line.split("\t") for line in fh]
        if rows:
            bw.addEntries([r[0] for r in rows], [int(r[1]) for r in rows], ends=[int(r[2]) for r in rows],
                          values=[float(r[3]) for r in rows])
        bw.close()
        log(f"wrote {prefix}.{tf}.bw", quiet=quiet)
