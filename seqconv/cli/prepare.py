"""``seqconv prepare``: real files -> one labelled, split dataset file."""

from __future__ import annotations

import click

from seqconv.cli._common import FiniteFloat, InputFile, OutputFile, chrom_alias_option, log, main, quiet_option
from seqconv.errors import InputError


def _chroms(text: str) -> list[str]:
    return [c.strip() for c in text.split(",") if c.strip()]


@main.command()
@click.option("--peaks", "peaks", multiple=True, type=InputFile(what="BED file"),
              help="BED/narrowPeak file of one TF's peaks (repeat for a multi-label dataset).")
@click.option("--genome", type=InputFile(spool=True, what="genome FASTA file"),
              help="Genome FASTA (plain, bgzip or gzip) the peaks refer to.")
@click.option("--names", default=None, help="Comma-separated task names, one per --peaks (default: file names).")
@click.option("--fasta", "pos_fasta", multiple=True, type=InputFile(what="FASTA file"),
              help="FASTA of bound sequences (label 1); instead of --peaks.")
@click.option("--negative-fasta", "neg_fasta", multiple=True, type=InputFile(what="FASTA file"),
              help="FASTA of unbound sequences (label 0), with --fasta.")
@click.option("--tsv", "--labelled", "tsv", type=InputFile(spool=True, what="labelled file"),
              help="One labelled file: TSV/CSV with a 'sequence' column, 0/1 label column(s) and an optional "
                   "'split' column (train/valid/test; dev = valid), or a labelled FASTA "
                   "('>id label=1 split=test').")
@click.option("--train", "train_file", type=InputFile(spool=True, what="train file"),
              help="A benchmark's own training file (labelled TSV/CSV or FASTA, as --tsv); with --test.")
@click.option("--valid", "valid_file", type=InputFile(spool=True, what="valid file"),
              help="Its validation file (GUE's dev.csv); without it --valid-fraction of --train is used.")
@click.option("--test", "test_file", type=InputFile(spool=True, what="test file"),
              help="Its test file.")
@click.option("--split-fractions", default=None, metavar="TRAIN,VALID,TEST",
              help="Random split for --fasta / --tsv data without a split of its own, e.g. 0.8,0.1,0.1 "
                   "(seeded by --seed; must sum to 1).  [default: 0.8,0.1,0.1]")
@click.option("--valid-fraction", type=FiniteFloat(min=0, max=1, min_open=True, max_open=True), default=None,
              help="Fraction of the train rows (seeded by --seed) that becomes the valid split when none is "
                   "given (--train/--test without --valid, or a split column without valid rows).  [default: 0.1]")
@click.option("--width", type=click.IntRange(min=1), default=None,
              show_default="200 for peaks; for --fasta/--tsv the sequences' common length",
              help="Window width in bp (sequences of other lengths are centre-cropped / N-padded).")
@click.option("--negatives", type=click.Choice(["gc", "shuffle", "both", "none"]), default="gc", show_default=True,
              help="Negatives for peaks: GC-matched genomic background, dinucleotide shuffles, both, none.")
@click.option("--ratio", type=FiniteFloat(min=0, min_open=True), default=1.0, show_default=True,
              help="Negatives per positive.")
@click.option("--margin", type=click.IntRange(min=0), default=500, show_default=True,
              help="Background windows keep this distance (bp) from any peak.")
@click.option("--exclude", type=InputFile(what="BED file"), help="BED of regions never used as background (blacklist).")
@click.option("--max-n-frac", type=FiniteFloat(min=0, max=1), default=0.05, show_default=True,
              help="Largest fraction of N in a background window.")
@click.option("--off-end", type=click.Choice(["clamp", "drop"]), default="clamp", show_default=True,
              help="Windows running off a chromosome end: shift inside (still holding the peak centre, as "
                   "predict does) or drop.  A peak past the chromosome end is always an error.")
@click.option("--clamp", is_flag=True, hidden=True, help="Same as --off-end clamp (the default).")
@chrom_alias_option
@click.option("--test-chroms", default="chr8,chr9", show_default=True, help="Chromosomes held out for testing.")
@click.option("--valid-chroms", default="chr7", show_default=True, help="Chromosomes held out for validation.")
@click.option("--shuffles", type=click.IntRange(min=0), default=0, show_default=True,
              help="With --fasta: add this many dinucleotide shuffles of each positive as negatives; with "
                   "--tsv or --train: of each train/valid positive (test rows stay as given).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for every random choice.")
@click.option("--out", "-o", required=True, type=OutputFile(), help="Dataset file to write (.parquet).")
@quiet_option
def prepare(peaks, genome, names, pos_fasta, neg_fasta, tsv, train_file, valid_file, test_file, split_fractions,
            valid_fraction, width, negatives, ratio, margin, exclude, max_n_frac, off_end, clamp, chrom_alias,
            test_chroms, valid_chroms, shuffles, seed, out, quiet):
    """Turn peaks + genome, labelled FASTA, a TSV or a benchmark's split files into a dataset file.

    Peaks give fixed-width windows centred on the summit (narrowPeak) or the
    midpoint, negatives (GC-matched genomic background and/or dinucleotide
    shuffles) and a split that holds out whole chromosomes (the default for
    peaks).  Inputs without coordinates keep the split they carry, else get a
    seeded random split (--split-fractions):

    \b
    * --train F --test F [--valid F]: a benchmark's own files (GUE train.csv /
      dev.csv / test.csv, DeepBind *_AC / *_B); each is a labelled file as
      --tsv reads; the dataset records which file gave which split.
    * --tsv F with a 'split' column (train, valid or test; dev, val and
      validation mean valid) keeps that split.
    * a labelled FASTA (--tsv or --train ...) carries its labels and split in
      each header: '>id label=1 split=test' ('label:TF=0' per task for several
      tasks; split= on every header or none).

    Any input may be '-' (standard input) or a pipe, e.g. --peaks <(zcat peaks.bed.gz).

    Refused: options that leave a task without negatives (or positives),
    unequal --fasta/--tsv sequence lengths without --width, peaks past a
    chromosome end, chromosome names the genome does not have (see
    --chrom-alias).

    The summary (counts per split and kind, GC distribution of positives vs
    negatives) is printed on stdout; the dataset is written atomically.

    \b
    Examples:
      seqconv prepare --peaks data/yeast/Reb1_CX.bed.gz \\
          --genome data/yeast/sacCer3_chr1_3_6_7_8_9.fa.gz --width 200 --out reb1.parquet
      seqconv prepare --peaks data/yeast/Reb1_CX.bed.gz --peaks data/yeast/Cbf1_CX.bed.gz \\
          --genome data/yeast/sacCer3_chr1_3_6_7_8_9.fa.gz --negatives both --out multi.parquet
      seqconv prepare --fasta data/example_oct4_mafk_test.fa --shuffles 1 --out ds.parquet
      seqconv prepare --train data/gue_tf4_mini/train.csv.gz \\
          --valid data/gue_tf4_mini/dev.csv.gz --test data/gue_tf4_mini/test.csv.gz \\
          --out gue.parquet
      seqconv prepare --tsv data/gue_tf4_mini/train.csv.gz \\
          --split-fractions 0.8,0.1,0.1 --seed 1 --out random.parquet
    """
    from seqconv import prepare as P
    from seqconv.dataset import write_dataset

    modes = sum([bool(peaks), bool(pos_fasta), bool(tsv), bool(train_file or valid_file or test_file)])
    if modes != 1:
        raise InputError("give exactly one input: --peaks (with --genome), --fasta, --tsv, or --train/--test")
    if (valid_file or test_file) and not train_file:
        raise InputError("--valid/--test need --train (the benchmark's training file)")
    if train_file and not test_file:
        raise InputError("--train needs --test (the benchmark's test file); for a random split of one file "
                         "use --tsv FILE --split-fractions 0.8,0.1,0.1")
    if split_fractions is not None and (peaks or train_file):
        raise InputError("--split-fractions applies to --fasta / --tsv data without a split of its own; "
                         + ("--peaks hold out chromosomes (--test-chroms, --valid-chroms)" if peaks
                            else "--train/--valid/--test give the split"))
    if valid_fraction is not None and (peaks or pos_fasta or valid_file):
        raise InputError("--valid-fraction applies when no valid split is given (--train/--test without --valid, "
                         "or a --tsv split column without valid rows)")
    if shuffles and peaks:
        raise InputError("--shuffles applies to --fasta, --tsv and --train; for --peaks use --negatives shuffle")
    if peaks:
        if not genome:
            raise InputError("--peaks needs --genome")
        ds, report = P.from_peaks(
            peaks, genome, width=200 if width is None else width,
            task_names=_chroms(names) if names else None, negatives=negatives, ratio=ratio, margin=margin,
            exclude=exclude, max_n_frac=max_n_frac, off_end="clamp" if clamp else off_end,
            test_chroms=_chroms(test_chroms), valid_chroms=_chroms(valid_chroms), seed=seed, chrom_alias=chrom_alias)
    elif chrom_alias:
        raise InputError("--chrom-alias applies to --peaks with --genome")
    if pos_fasta:
        files = list(pos_fasta) + list(neg_fasta)
        labels = [1] * len(pos_fasta) + [0] * len(neg_fasta)
        _, valid, test = P.parse_split_fractions(split_fractions or "0.8,0.1,0.1")
        ds, report = P.from_fasta(files, labels, width=width, shuffle_negatives=shuffles, valid=valid, test=test,
                                  seed=seed)
    elif tsv:
        ds, report = P.from_tsv(tsv, width=width, seed=seed, split_fractions=split_fractions,
                                valid_fraction=valid_fraction, shuffles=shuffles)
    elif train_file:
        ds, report = P.from_split_files(train_file, test_file, valid_file, width=width,
                                        valid_fraction=0.1 if valid_fraction is None else valid_fraction,
                                        shuffles=shuffles, seed=seed)
    for line in report.lines:
        log(line, quiet=quiet)
    write_dataset(ds, out)
    log(f"wrote {out}: {len(ds.table)} windows of {ds.width} bp, tasks {', '.join(ds.tasks)}", quiet=quiet)
    with _pd_display():
        click.echo("counts per split and kind (pos:<TF> = windows labelled bound):")
        click.echo(ds.summary().to_string(index=False))
        click.echo("\nGC content by kind (fraction of windows per GC bin):")
        click.echo(P.gc_summary(ds).to_string(index=False))


def _pd_display():
    import pandas as pd

    return pd.option_context("display.width", 200, "display.max_columns", 50)
