"""``seqconv train``: train a CNN on a prepared dataset."""

from __future__ import annotations

import json

import click

from seqconv.cli._common import FiniteFloat, InputFile, check_arch_options, check_device, log, main, quiet_option, user_errors
from seqconv.errors import InputError


def _parse_options(pairs) -> dict:
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


@main.command()
@click.option("--data", "data", required=True, type=InputFile(what="dataset file"), help="Dataset file from `seqconv prepare`.")
@click.option("--arch", default="basset", show_default=True, help="Architecture: deepbind, basset or resnet.")
@click.option("--arch-option", "arch_options", multiple=True, metavar="KEY=VALUE", callback=check_arch_options,
              help="Override one architecture setting (JSON value), e.g. filters=[32,64,64]; repeatable.")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="Model directory to write.")
@click.option("--epochs", default=20, show_default=True, type=click.IntRange(min=1))
@click.option("--batch-size", default=128, show_default=True, type=click.IntRange(min=1))
@click.option("--lr", default=2e-3, show_default=True, type=FiniteFloat(min=0, min_open=True), help="Peak learning rate (AdamW).")
@click.option("--weight-decay", default=1e-2, show_default=True, type=FiniteFloat(min=0))
@click.option("--schedule", type=click.Choice(["cosine", "constant"]), default="cosine", show_default=True,
              help="Learning-rate schedule (cosine: 1 warm-up epoch then cosine decay).")
@click.option("--patience", default=4, show_default=True, type=click.IntRange(min=1),
              help="Early stopping: epochs without a better validation auPRC.")
@click.option("--class-weight", type=click.Choice(["balanced", "none"]), default="balanced", show_default=True)
@click.option("--rc-augment/--no-rc-augment", default=True, show_default=True,
              help="Random reverse complement of training sequences.")
@click.option("--max-shift", default=3, show_default=True, type=click.IntRange(min=0), help="Random shifts of up to this many bp.")
@click.option("--strand", type=click.Choice(["both", "forward"]), default="both", show_default=True,
              help="Strand handling stored in the model: average forward + reverse complement, or forward only.")
@click.option("--seed", default=0, show_default=True, type=int, help="Same seed, same weights (on CPU).")
@click.option("--resume", is_flag=True, help="Continue the interrupted run in --out from its last checkpoint.")
@click.option("--device", default=None, callback=check_device, help="cpu (default), cuda, cuda:1 ...")
@click.option("--threads", default=None, type=click.IntRange(min=1), help="CPU threads for torch.")
@quiet_option
@user_errors
def train(data, arch, arch_options, out, epochs, batch_size, lr, weight_decay, schedule, patience, class_weight,
          rc_augment, max_shift, strand, seed, resume, device, threads, quiet):
    """Train a model on the train split, early-stopping on the valid split.

    Writes MODEL_DIR/model.safetensors + model.json (the best epoch), train_log.csv
    (one line per epoch) and checkpoint/ (each epoch, for --resume).  When the
    dataset has a test split, its metrics are added to model.json.

    \b
    Example:
      seqconv train --data ds.parquet --arch basset --out models/ctcf --seed 1
      seqconv train --data ds.parquet --arch deepbind --arch-option filters=32 --out m2
      seqconv train --data ds.parquet --arch basset --out models/ctcf --resume
    """
    import torch

    from seqconv.dataset import read_dataset
    from seqconv.evaluate import metrics_table
    from seqconv.modelfile import read_card, write_card
    from seqconv.models import build_model, get_config
    from seqconv.predict import predict, resolve_device
    from seqconv.train import TrainConfig, fit

    if threads:
        torch.set_num_threads(threads)
    resolve_device(device)
    ds = read_dataset(data)
    config = get_config(arch, **{"n_tasks": len(ds.tasks), "input_length": ds.width, **_parse_options(arch_options)})
    model = build_model(config, seed=seed)
    cfg = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay, schedule=schedule,
                      patience=patience, class_weight=class_weight, rc_augment=rc_augment, max_shift=max_shift,
                      seed=seed)
    log(f"training {arch} ({sum(p.numel() for p in model.parameters()):,} parameters) on {data}: "
        f"{len(ds.tasks)} task(s), {ds.width} bp", quiet=quiet)
    res = fit(model, ds, config=cfg, out_dir=out, resume=resume, device=device, verbose=not quiet,
              card_extra={"dataset": str(data)})
    card = read_card(out)
    if strand != card.strand:
        card = card.replace(strand=strand)
    test = ds.subset("test")
    if len(test.table):
        logits = predict(res.model, test.X(), device=device, strand=strand)
        table = metrics_table(test.y(), logits, ds.tasks, n_boot=200, seed=seed)
        card = card.replace(metrics={**card.metrics, "test": json.loads(table.to_json(orient="records"))})
        log(f"test: auROC {table['auroc'].mean():.4f}  auPRC {table['auprc'].mean():.4f}  "
            f"MCC {table['mcc'].mean():.4f}", quiet=quiet)
    write_card(card, out)
    log(f"best epoch {res.best_epoch} (valid auPRC {res.best_metrics['valid_auprc']:.4f}); model in {out}", quiet=quiet)
