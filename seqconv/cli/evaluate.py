"""``seqconv evaluate``: auROC / auPRC per TF on the held-out split, with bootstrap intervals and curves."""

from __future__ import annotations

import click

from seqconv.cli._common import (
    InputFile,
    device_option,
    log,
    main,
    out_option,
    quiet_option,
    threads_option,
    user_errors,
)
from seqconv.errors import InputError


@main.command()
@click.option("--model", "model", required=True, help="Model directory or bundled model name.")
@click.option("--data", "data", required=True, type=InputFile(what="dataset file"),
              help="Dataset file (`seqconv prepare`).")
@click.option("--split", type=click.Choice(["test", "valid", "train"]), default="test", show_default=True,
              help="Which split of --data to score.")
@out_option(default=None, type=click.Path(file_okay=False),
              help="Directory for metrics.tsv, metrics.json, roc.png, pr.png (default: table on stdout only).")
@click.option("--n-boot", default=1000, show_default=True, type=click.IntRange(min=0),
              help="Bootstrap resamples for 95% intervals (0: no intervals, NaN in the table).")
@click.option("--seed", default=0, show_default=True, type=int, help="Bootstrap seed.")
@click.option("--strand", type=click.Choice(["both", "forward"]), default=None,
              help="Override the model's strand handling.")
@click.option("--no-plots", is_flag=True, help="Skip the PNG curves.")
@click.option("--scores", is_flag=True, help="With --out: also write scores.tsv, one row per sequence (label, logit, "
              "probability per TF).")
@click.option("--batch-size", default=256, show_default=True, type=click.IntRange(min=1),
              help="Sequences per forward pass (memory, not results).")
@device_option()
@threads_option()
@quiet_option
@user_errors
def evaluate(model, data, split, out, n_boot, seed, strand, no_plots, scores, batch_size, device, threads, quiet):
    """Evaluate a model on the held-out (test) split of a dataset.

    Prints a TSV table (per TF: n, positives, auROC and auPRC with bootstrap 95%
    intervals, MCC at probability 0.5); with --out also writes it as TSV + JSON
    and plots ROC and precision-recall curves.

    \b
    Example:
      seqconv prepare --peaks data/yeast/Reb1_CX.bed.gz --names Reb1 --width 101 \\
          --genome data/yeast/sacCer3_chr1_3_6_7_8_9.fa.gz --out reb1_101.parquet -q
      seqconv train --data reb1_101.parquet --arch deepbind --epochs 3 --batch-size 32 --out reb1_101_model -q
      seqconv evaluate --model reb1_101_model --data reb1_101.parquet --out reb1_eval --scores
    """
    import torch

    from seqconv.dataset import read_dataset
    from seqconv.evaluate import evaluate as run
    from seqconv.evaluate import score_table, write_report

    if threads:
        torch.set_num_threads(threads)
    if scores and not out:
        raise InputError("--scores needs --out (the folder that gets scores.tsv)")
    ds = read_dataset(data)
    n = len(ds.subset(split).table)
    log(f"scoring the {split} split of {data}: {n} sequences; auROC/auPRC with {n_boot} bootstrap resamples",
        quiet=quiet)
    table, y, logits = run(model, ds, split=split, n_boot=n_boot, seed=seed, batch_size=batch_size,
                           device=device, strand=strand, verbose=not quiet)
    if out:
        per_seq = score_table(ds.subset(split).table["name"], y, logits, list(table["TF"])) if scores else None
        paths = write_report(table, y, logits, out, plots=not no_plots, scores=per_seq, inputs=[data],
                             info={"model": str(model), "data": str(data), "split": split, "n_boot": n_boot,
                                   "seed": seed})
        log("wrote " + ", ".join(str(p) for p in paths), quiet=quiet)
    click.echo(table.to_csv(sep="\t", index=False, float_format="%.4f"), nl=False)
