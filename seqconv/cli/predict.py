"""``seqconv predict`` (score FASTA records, BED intervals, tiled regions or genome-wide shards with a model)
and ``seqconv merge-tracks`` (gather shard bedGraphs into one sorted bedGraph + bigWig per TF)."""

from __future__ import annotations

import shutil
import sys
import warnings

import click

from seqconv.cli._common import (
    InputFile,
    OutputFile,
    device_option,
    fasta_input,
    log,
    main,
    out_option,
    quiet_option,
    threads_option,
    user_errors,
)
from seqconv.errors import InputError


@main.command()
@fasta_input(type=InputFile(what="FASTA file"), help="FASTA file to score (or give it as the argument FASTA).")
@click.option("--model", "model", required=True, help="Bundled model name (see `seqconv models`) or model directory.")
@click.option("--bed", default=None, type=InputFile(what="BED file"), help="BED intervals to score (with --genome).")
@click.option("--genome", default=None, type=InputFile(spool=True, what="genome FASTA file"),
              help="Genome FASTA (plain or bgzip).")
@click.option("--region", default=None, help="CHROM or CHROM:START-END (1-based) of --genome, tiled with --stride.")
@click.option("--chroms", default=None, metavar="all|CHR,CHR",
              help="Genome-wide tiling of these chromosomes of --genome ('all': every one), from position 0.")
@click.option("--shard", default="1/1", show_default=True, metavar="K/N",
              help="With --chroms: score only shard K of N (the tiles whose centre lies in the K-th N-th of the "
                   "chromosomes laid end to end); `seqconv merge-tracks` joins the shards.")
@click.option("--tile", is_flag=True, help="Score windows along each FASTA record / BED interval, not its centre.")
@click.option("--stride", default=None, type=click.IntRange(min=1),
              help="Tiling step in bp (default: half the model input).")
@out_option(default=None, type=OutputFile(stdout_ok=True),
            help="TSV output (default or -: stdout; with --chroms and --bedgraph: no TSV).")
@click.option("--bedgraph", default=None, metavar="PREFIX",
              help="Also write PREFIX.<TF>.bedGraph of tiled probabilities (and .bw when pyBigWig is installed).")
@click.option("--strand", type=click.Choice(["both", "forward"]), default=None,
              help="Average forward and reverse complement (the bundled models' default) or forward only.")
@click.option("--strict", is_flag=True, help="Error on sequences shorter than the model input instead of N-padding.")
@click.option("--pad", is_flag=True,
              help="N-pad and score sequences under half the model input (refused by default: mostly padding).")
@click.option("--batch-size", default=256, show_default=True, type=click.IntRange(min=1),
              help="Sequences per forward pass (memory, not results).")
@device_option()
@threads_option()
@quiet_option
@user_errors
def predict(fasta, model, bed, genome, region, chroms, shard, tile, stride, out, bedgraph, strand, strict, pad,
            batch_size, device, threads, quiet):
    """Predict TF binding on sequences: TSV with id, TF, score (logit), probability.

    Input is one of: a FASTA file (the FASTA argument or --fasta; each record
    scored at its centre window, or along its length with --tile); --bed with
    --genome; --region with --genome
    (a region or whole chromosome, tiled with --stride); --chroms with --genome
    (genome-wide tiling, optionally one --shard K/N of it).  Tiled outputs add
    chrom, start, end columns.  Windows stream in batches, so memory stays
    bounded on chromosome-sized inputs; a bgzip genome is read through its
    index, never loaded whole.  Outputs appear only when the run succeeds.
    Progress: a bar on a terminal, else (a log file) one line per 50,000
    windows, with the total and an ETA for --region, --bed and --chroms.

    Genome-wide shards own half-open ranges of tile centres, so the bedGraphs of
    shards 1/N..N/N concatenate into exactly the one-run bedGraph; join them
    with `seqconv merge-tracks`.

    \b
    Example:
      seqconv predict --model oct4_mafk data/example_oct4_mafk_test.fa
      seqconv predict --model yeast_chexmix --bed data/yeast/Reb1_CX.bed.gz \\
          --genome data/yeast/sacCer3_chr1_3_6_7_8_9.fa.gz --out scores.tsv
      seqconv predict --model yeast_chexmix --genome data/yeast/sacCer3_chr1_3_6_7_8_9.fa.gz --region chr8 \\
          --stride 50 --out chr8.tsv --bedgraph chr8
      seqconv predict --model yeast_chexmix --genome data/yeast/sacCer3_chr1_3_6_7_8_9.fa.gz --chroms all \\
          --shard 1/2 --stride 50 --bedgraph shard1 -q
    """
    import contextlib
    import os
    import tempfile

    import torch

    from seqconv.fileio import atomic_path
    from seqconv.predict import Scorer, ShortSequenceWarning, open_genome, parse_shard, write_tsv

    modes = [fasta is not None, bed is not None, region is not None, chroms is not None]
    if sum(modes) != 1:
        raise InputError("give exactly one input: a FASTA file, --bed, --region or --chroms (the last three with "
                         "--genome)")
    if (bed or region or chroms) and not genome:
        raise InputError("--bed, --region and --chroms need --genome")
    if bedgraph and not (tile or region or bed or chroms):
        raise InputError("--bedgraph needs tiled windows (--tile, --region, --bed or --chroms)")
    shard_kn = parse_shard(shard)
    if shard_kn != (1, 1) and chroms is None:
        raise InputError("--shard needs --chroms")
    if chroms is not None and not (out or bedgraph):
        raise InputError("--chroms needs --out (TSV) and/or --bedgraph (tracks)")
    if threads:
        torch.set_num_threads(threads)
    scorer = Scorer(model, strand=strand, batch_size=batch_size, device=device, verbose=not quiet, pad=pad)
    if fasta:
        chunks = scorer.fasta(fasta, tile=tile, stride=stride, strict=strict)
    elif bed:
        chunks = scorer.bed(bed, genome, tile=tile, stride=stride, strict=strict)
    elif region:
        chunks = scorer.region(genome, region, stride=stride, strict=strict)
    else:
        g = open_genome(genome)
        names = None if chroms.strip() == "all" else [c.strip() for c in chroms.split(",") if c.strip()]
        chunks = scorer.genome(g, names, shard=shard_kn, stride=stride, strict=strict)
    eff_stride = scorer._stride(stride)
    short: list[str] = []
    no_tsv = chroms is not None and out is None
    with contextlib.ExitStack() as stack:
        tmpdir = None if out else stack.enter_context(tempfile.TemporaryDirectory(prefix="seqconv-predict-"))
        target = out or os.path.join(tmpdir, "predictions.tsv")
        tsv_tmp = stack.enter_context(atomic_path(target, suffix=".tsv"))
        graphs = [stack.enter_context(atomic_path(f"{bedgraph}.{tf}.bedGraph", suffix=".bedGraph"))
                  for tf in (scorer.tasks if bedgraph else [])]
        handles = {tf: stack.enter_context(open(p, "w")) for tf, p in zip(scorer.tasks, graphs)}
        with open(tsv_tmp, "w") as fh, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ShortSequenceWarning)
            n = write_tsv(chunks, None if no_tsv else fh, bedgraph=handles or None, stride=eff_stride,
                          grid=chroms is not None)
            short = [str(w.message) for w in caught if issubclass(w.category, ShortSequenceWarning)]
        for h in handles.values():
            h.close()
        if out is None and not no_tsv:
            with open(tsv_tmp) as fh:
                shutil.copyfileobj(fh, sys.stdout)
    if short:
        log(f"warning: {len(short)} sequence(s) shorter than the model input were padded with N, e.g. {short[0]}",
            quiet=False)
    if bedgraph and shard_kn[1] == 1:  # a shard's track is joined (and converted) by `seqconv merge-tracks`
        _maybe_bigwig(bedgraph, scorer.tasks, genome, quiet)
    log(f"scored {n // max(1, len(scorer.tasks))} window(s) x {len(scorer.tasks)} TF(s)"
        + (f" -> {out}" if out else ""), quiet=quiet)


def _maybe_bigwig(prefix, tasks, genome, quiet):
    """Convert PREFIX.<TF>.bedGraph to .bw when pyBigWig is installed and chromosome sizes are known."""
    try:
        import pyBigWig  # noqa: F401  (optional: the bigwig extra)
    except ImportError:
        return
    if not genome:
        return
    from seqconv.predict import open_genome
    from seqconv.tracks import bedgraph_to_bigwig

    sizes = open_genome(genome).sizes
    for tf in tasks:
        bedgraph_to_bigwig(f"{prefix}.{tf}.bedGraph", f"{prefix}.{tf}.bw", sizes)
        log(f"wrote {prefix}.{tf}.bw", quiet=quiet)


@main.command("merge-tracks")
@click.argument("prefixes", nargs=-1, required=True)
@out_option(required=True, metavar="PREFIX",
            help="Write PREFIX.<TF>.bedGraph (and PREFIX.<TF>.bw with --bigwig).")
@click.option("--genome", default=None, type=click.Path(dir_okay=False),
              help="Genome FASTA giving the chromosome sizes (plain or bgzip).")
@click.option("--sizes", "sizes_file", default=None, type=click.Path(dir_okay=False),
              help="A chrom.sizes file instead of --genome.")
@click.option("--tfs", default=None, help="Comma-separated TFs (default: the tracks found for the first prefix).")
@click.option("--bigwig/--no-bigwig", default=True, show_default=True,
              help="Also write bigWig (needs pyBigWig: pip install 'seqconv[bigwig]').")
@quiet_option
@user_errors
def merge_tracks(prefixes, out, genome, sizes_file, tfs, bigwig, quiet):
    """Join shard tracks (`seqconv predict --chroms ... --shard K/N --bedgraph PREFIX`) per TF.

    Reads PREFIX.<TF>.bedGraph of every shard prefix and writes one bedGraph per
    TF sorted by chromosome (byte order, as bedGraphToBigWig wants) and start,
    plus a bigWig whose header holds every chromosome size of the genome.
    Shards must not overlap (the error names the two files); shards may come in
    any order.  Streams: a track is never held in memory.

    \b
    Example:
      seqconv predict --model yeast_chexmix --genome data/yeast/sacCer3_chr1_3_6_7_8_9.fa.gz --chroms chr1,chr6 \\
          --shard 1/2 --stride 50 --bedgraph shards/s1 -q
      seqconv predict --model yeast_chexmix --genome data/yeast/sacCer3_chr1_3_6_7_8_9.fa.gz --chroms chr1,chr6 \\
          --shard 2/2 --stride 50 --bedgraph shards/s2 -q
      seqconv merge-tracks shards/s1 shards/s2 --genome data/yeast/sacCer3_chr1_3_6_7_8_9.fa.gz --out tracks/genome
    """
    from seqconv.predict import open_genome
    from seqconv.tracks import bedgraph_to_bigwig, merge_bedgraphs, read_chrom_sizes, shard_bedgraphs

    if (genome is None) == (sizes_file is None):
        raise InputError("give exactly one of --genome or --sizes (the chromosome sizes)")
    sizes = open_genome(genome).sizes if genome else read_chrom_sizes(sizes_file)
    by_tf = shard_bedgraphs(prefixes, [t.strip() for t in tfs.split(",")] if tfs else None)
    if bigwig:
        try:
            import pyBigWig  # noqa: F401
        except ImportError:
            raise InputError("--bigwig needs pyBigWig: pip install 'seqconv[bigwig]' (or use --no-bigwig)") from None
    for tf, files in by_tf.items():
        covered = merge_bedgraphs(files, f"{out}.{tf}.bedGraph", sizes=sizes)
        log(f"{tf}: {len(files)} shard(s) -> {out}.{tf}.bedGraph ({len(covered)} chromosome(s), "
            f"{sum(n for _, n in covered):,} bp)", quiet=quiet)
        if bigwig:
            bedgraph_to_bigwig(f"{out}.{tf}.bedGraph", f"{out}.{tf}.bw", sizes)
            log(f"{tf}: wrote {out}.{tf}.bw", quiet=quiet)
