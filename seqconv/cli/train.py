"""``seqconv train``: train a CNN on a prepared dataset."""

from __future__ import annotations

import json
from pathlib import Path

import click

from seqconv.cli._common import (
    FiniteFloat,
    InputFile,
    check_arch_options,
    device_option,
    log,
    main,
    out_option,
    quiet_option,
    threads_option,
    user_errors,
)
from seqconv.errors import InputError
from seqconv.train import TrainConfig, distributed_context

_D = TrainConfig()


def parse_arch_options(pairs) -> dict:
    """``("filters=[32,64,64]", "hidden=16")`` -> ``{"filters": [32, 64, 64], "hidden": 16}`` (JSON values)."""
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise InputError(f"--arch-option takes KEY=VALUE, got {pair!r}")
        key, value = pair.split("=", 1)
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def training_options(f):
    """The options ``seqconv train`` and ``seqconv finetune`` share; defaults from :class:`TrainConfig`."""
    opts = [
        click.option("--epochs", default=_D.epochs, show_default=True, type=click.IntRange(min=1),
                     help="Maximum number of epochs (early stopping may end sooner)."),
        click.option("--batch-size", default=_D.batch_size, show_default=True, type=click.IntRange(min=1),
                     help="Training sequences per optimiser step."),
        click.option("--lr", default=_D.lr, show_default=True, type=FiniteFloat(min=0, min_open=True),
                     help="Peak learning rate (AdamW)."),
        click.option("--weight-decay", default=_D.weight_decay, show_default=True, type=FiniteFloat(min=0),
                     help="AdamW weight decay."),
        click.option("--schedule", type=click.Choice(["cosine", "constant"]), default=_D.schedule, show_default=True,
                     help="Learning-rate schedule (cosine: warm-up then cosine decay)."),
        click.option("--patience", default=_D.patience, show_default=True, type=click.IntRange(min=1),
                     help="Early stopping: epochs without a better validation auPRC."),
        click.option("--class-weight", type=click.Choice(["balanced", "none"]), default=_D.class_weight,
                     show_default=True, help="balanced: positive weight n_neg / n_pos per task."),
        click.option("--rc-augment/--no-rc-augment", default=_D.rc_augment, show_default=True,
                     help="Random reverse complement of training sequences."),
        click.option("--max-shift", default=_D.max_shift, show_default=True, type=click.IntRange(min=0),
                     help="Random shifts of up to this many bp."),
        click.option("--ema-decay", default=_D.ema_decay, show_default=True, type=click.FloatRange(0, 1, max_open=True),
                     help="Validate and save an exponential moving average of the weights with this decay per "
                          "step (0 = off; ~1/(1-d) recent steps count, e.g. 0.95 for a few hundred steps)."),
        click.option("--seed", default=_D.seed, show_default=True, type=int, help="Same seed, same weights (on CPU)."),
        click.option("--resume", is_flag=True, help="Continue the interrupted run in --out from its last checkpoint."),
        device_option(),
        threads_option(),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def train_config(epochs, batch_size, lr, weight_decay, schedule, patience, class_weight, rc_augment, max_shift,
                 seed, ema_decay=_D.ema_decay) -> TrainConfig:
    return TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay, schedule=schedule,
                       patience=patience, class_weight=class_weight, rc_augment=rc_augment, max_shift=max_shift,
                       seed=seed, ema_decay=ema_decay)


def report_test(model, ds, out, *, seed: int, device, quiet: bool) -> None:
    """Test metrics into the card of ``out`` and one result line (printed even with --quiet); rank 0 only."""
    from seqconv.evaluate import record_test_metrics

    if not distributed_context(device).is_main:
        return

    table = record_test_metrics(model, ds, n_boot=200, seed=seed, device=device, path=out)
    if table is not None:
        click.echo(f"test: auROC {table['auroc'].mean():.4f}  auPRC {table['auprc'].mean():.4f}  "
                   f"MCC {table['mcc'].mean():.4f}  (mean over {len(table)} TF(s), {int(table['n'].iloc[0])} "
                   "windows)", err=True)


@main.command()
@click.option("--data", "data", required=True, type=InputFile(what="dataset file"),
              help="Dataset file from `seqconv prepare`.")
@click.option("--arch", default="resnet", show_default=True,
              help="Architecture: resnet (the most accurate in benchmarks/results/accuracy.md, ~3x basset's CPU "
                   "time per epoch), basset, or deepbind (~10x faster than resnet).")
@click.option("--arch-option", "arch_options", multiple=True, metavar="KEY=VALUE", callback=check_arch_options,
              help="Override one architecture setting (JSON value), e.g. filters=[32,64,64]; repeatable.")
@out_option(required=True, type=click.Path(file_okay=False), help="Model directory to write.")
@click.option("--strand", type=click.Choice(["both", "forward"]), default="both", show_default=True,
              help="Strand handling stored in the model: average forward + reverse complement, or forward only.")
@click.option("--iupac", type=click.Choice(["zero", "uniform"]), default="zero", show_default=True,
              help="Encoding of IUPAC codes (N is always zero), stored in the model and used at prediction too.")
@training_options
@quiet_option
@user_errors
def train(data, arch, arch_options, out, strand, iupac, epochs, batch_size, lr, weight_decay, schedule, patience,
          class_weight, rc_augment, max_shift, ema_decay, seed, resume, device, threads, quiet):
    """Train a model on the train split, early-stopping on the valid split.

    Writes MODEL_DIR/model.safetensors + model.json (the best epoch), train_log.csv
    (one line per epoch) and checkpoint/ (each epoch, for --resume).  When the
    dataset has a test split, its metrics (with 95% bootstrap intervals) go into
    model.json and one "test:" line is printed, also with --quiet.

    Under torchrun (one process per GPU or CPU worker) it trains with
    DistributedDataParallel: --batch-size is the global batch, split across the
    processes; only rank 0 prints and writes.

    \b
    Example:
      seqconv prepare --peaks data/yeast/Reb1_CX.bed.gz --genome data/yeast/sacCer3_chr1_3_6_7_8_9.fa.gz \\
          --out reb1.parquet
      seqconv train --data reb1.parquet --arch deepbind --epochs 5 --batch-size 32 --out reb1_db
      torchrun --nproc-per-node 2 --no-python seqconv train --data reb1.parquet --arch deepbind \\
          --epochs 5 --batch-size 32 --out reb1_ddp
    """
    import torch

    from seqconv.dataset import read_dataset
    from seqconv.models import ModelCard, build_model, get_config
    from seqconv.predict import resolve_device
    from seqconv.train import fit

    if threads:
        torch.set_num_threads(threads)
    resolve_device(device)
    quiet = quiet or not distributed_context(device).is_main  # under torchrun only rank 0 talks
    ds = read_dataset(data)
    ds.meta.setdefault("name", Path(data).name)
    config = get_config(arch, **{"n_tasks": len(ds.tasks), "input_length": ds.width,
                                 **parse_arch_options(arch_options)})
    card = ModelCard(tasks=ds.tasks, strand=strand, encoding={"iupac": iupac}, negatives=dataset_negatives(ds))
    model = build_model(config, seed=seed, card=card)
    cfg = train_config(epochs, batch_size, lr, weight_decay, schedule, patience, class_weight, rc_augment, max_shift,
                       seed, ema_decay)
    log(f"training {arch} ({sum(p.numel() for p in model.parameters()):,} parameters) on {data}: "
        f"{len(ds.tasks)} task(s), {ds.width} bp", quiet=quiet)
    res = fit(model, ds, config=cfg, out_dir=out, resume=resume, device=device, verbose=not quiet,
              card_extra={"dataset": Path(data).name})
    report_test(res.model, ds, out, seed=seed, device=device, quiet=quiet)
    log(f"best epoch {res.best_epoch} (valid auPRC {res.best_metrics['valid_auprc']:.4f}); model in {out}", quiet=quiet)


def dataset_negatives(ds) -> str:
    """What a dataset's negatives are, from its ``kind`` column: genomic background, shuffles, another TF."""
    kinds = set(ds.table.loc[ds.table[[c for c in ds.table.columns if c.startswith("label:")]].max(axis=1) == 0,
                             "kind"])
    names = {"background": "genomic background (GC-matched)", "shuffle": "dinucleotide shuffles",
             "positive": "peaks of other TFs/conditions (a discriminator)",
             "input": "given negatives (unlabelled kind)"}
    return ", ".join(names.get(k, k) for k in sorted(kinds)) or "none"
