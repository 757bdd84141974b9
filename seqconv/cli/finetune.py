"""``seqconv finetune``: a model for a small cohort from a pretrained backbone, or the comparison of modes."""

from __future__ import annotations

import warnings
from pathlib import Path

import click

from seqconv.cli._common import log, main, quiet_option, user_errors
from seqconv.cli.train import report_test, train_config, training_options
from seqconv.errors import InputError
from seqconv.transfer import HEADS, MODES, TransferConfig

_T = TransferConfig()


@main.command()
@click.option("--backbone", default=None, help="Bundled backbone name (see `seqconv models`) or backbone directory.")
@click.option("--from-model", "from_model", default=None,
              help="Start from the trunk of a trained model (name or directory) instead of a backbone.")
@click.option("--data", "data", required=True, type=click.Path(dir_okay=False),
              help="The target cohort: a dataset file from `seqconv prepare` (train/valid/test splits).")
@click.option("--mode", type=click.Choice(MODES), default=_T.mode, show_default=True,
              help="frozen: new head on the frozen backbone; finetune: head first, then all layers at a lower "
                   "backbone lr; scratch: same architecture, random weights; mixture: pooled with --source in "
                   "one multi-task model; adapt: finetune + CORAL alignment to --source.")
@click.option("--out", "-o", "out", required=True, type=click.Path(file_okay=False),
              help="Model directory to write (with --compare: folder for compare.tsv, summary.tsv, compare.png).")
@click.option("--head", type=click.Choice(HEADS), default=_T.head, show_default=True,
              help="dense: hidden layer + output; linear: a linear probe.")
@click.option("--hidden", default=_T.hidden, type=click.IntRange(min=1),
              help="Hidden width of a dense head (default: the architecture's).")
@click.option("--head-epochs", default=_T.head_epochs, show_default=True, type=click.IntRange(min=0),
              help="finetune/adapt: epochs of head-only training before the backbone is unfrozen.")
@click.option("--backbone-lr", default=_T.backbone_lr, show_default=True,
              type=click.FloatRange(min=0, max=1, min_open=True),
              help="finetune/adapt: the backbone's learning rate as a fraction of the head's (--lr).")
@click.option("--gradual", is_flag=True, help="finetune/adapt: unfreeze the backbone one block per epoch, top first.")
@click.option("--source", default=None, type=click.Path(dir_okay=False),
              help="The backbone's source data (a dataset file), for --mode mixture / adapt.")
@click.option("--source-max", default=_T.source_max, show_default=True, type=click.IntRange(min=1),
              help="mixture/adapt: use at most this many source rows (seeded subsample).")
@click.option("--adapt-weight", default=_T.adapt_weight, show_default=True, type=click.FloatRange(min=0),
              help="adapt: weight of the CORAL penalty.")
@click.option("--strict", is_flag=True,
              help="Error (instead of a warning) when the target's test data overlap the backbone's training data.")
@click.option("--compare", "compare_modes", default=None, metavar="MODES",
              help="Compare modes instead of training one, e.g. scratch,frozen,finetune (all: every mode that "
                   "needs no --source, plus mixture and adapt with --source).")
@click.option("--seeds", default="0,1,2", show_default=True, help="--compare: comma-separated seeds.")
@training_options
@quiet_option
@user_errors
def finetune(backbone, from_model, data, mode, out, head, hidden, head_epochs, backbone_lr, gradual, source,
             source_max, adapt_weight, strict, compare_modes, seeds, epochs, batch_size, lr, weight_decay, schedule,
             patience, class_weight, rc_augment, max_shift, ema_decay, seed, resume, device, threads, quiet):
    """Train a model for a small target cohort from a pretrained backbone.

    The result is an ordinary model directory (predict, evaluate, describe and motifs
    take it); its model.json records the backbone, the mode and both cohorts.  Before
    training, the target's test chromosomes / sequences are checked against the
    backbone's training data: an overlap is a loud warning (--strict: an error).
    With --compare, several modes run on the same cohort, split and seeds and
    --out gets compare.tsv (every run), summary.tsv (mean +- sd per mode and the
    paired difference to scratch with a 95% interval) and compare.png.

    \b
    Example:
      seqconv prepare --peaks data/yeast/Cbf1_CX.bed.gz --genome data/yeast/sacCer3_chr1_3_6_7_8_9.fa.gz \\
          --width 101 --out cbf1.parquet
      seqconv finetune --backbone yeast_backbone --data cbf1.parquet --mode finetune --batch-size 16 --out cbf1_ft
      seqconv finetune --backbone yeast_backbone --data cbf1.parquet --compare scratch,frozen,finetune \\
          --seeds 0,1 --epochs 10 --batch-size 16 --out cbf1_compare
    """
    import torch

    from seqconv.dataset import read_dataset
    from seqconv.fileio import atomic_open
    from seqconv.predict import resolve_device
    from seqconv.train import distributed_context
    from seqconv.transfer import TransferLeakageWarning, compare, plot_compare, resolve_start, summarise
    from seqconv.transfer import finetune as run

    if threads:
        torch.set_num_threads(threads)
    resolve_device(device)
    main_rank = distributed_context(device).is_main  # under torchrun only rank 0 prints and writes
    quiet = quiet or not main_rank
    bb = resolve_start(backbone, from_model)
    ds = read_dataset(data)
    ds.meta.setdefault("name", Path(data).name)
    tcfg = TransferConfig(mode=mode, head=head, hidden=hidden, head_epochs=head_epochs, backbone_lr=backbone_lr,
                          gradual=gradual, adapt_weight=adapt_weight, source_max=source_max)
    cfg = train_config(epochs, batch_size, lr, weight_decay, schedule, patience, class_weight, rc_augment, max_shift,
                       seed, ema_decay)
    src = read_dataset(source) if source else None
    name = backbone or f"trunk of {from_model}"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", TransferLeakageWarning)
        if compare_modes:
            modes = _modes(compare_modes, src is not None)
            seed_list = _seeds(seeds)
            log(f"comparing {', '.join(modes)} on {data} from {name}, seeds {seed_list}", quiet=quiet)
            runs = compare(bb, ds, modes=modes, seeds=seed_list, config=cfg, transfer=tcfg, source=src,
                           strict=strict, device=device, verbose=not quiet)
        else:
            log(f"{mode} from {name} ({bb.arch}, {bb.input_length} bp, {len(bb.card.tasks)} source task(s)) "
                f"on {data}: {len(ds.tasks)} target task(s)", quiet=quiet)
            res = run(bb, ds, config=cfg, transfer=tcfg, source=src, out_dir=out, resume=resume, strict=strict,
                      device=device, verbose=not quiet)
    for w in caught:
        if issubclass(w.category, TransferLeakageWarning):
            click.echo(f"seqconv: WARNING: {w.message}", err=True)
    if compare_modes and not main_rank:
        return
    if compare_modes:
        summary = summarise(runs)
        outdir = Path(out)
        outdir.mkdir(parents=True, exist_ok=True)
        with atomic_open(outdir / "compare.tsv") as fh:
            runs.to_csv(fh, sep="\t", index=False, float_format="%.4f")
        with atomic_open(outdir / "summary.tsv") as fh:
            summary.to_csv(fh, sep="\t", index=False, float_format="%.4f")
        plot_compare(runs, outdir / "compare.png", title=f"{Path(data).name} from {name}")
        click.echo(summary.to_csv(sep="\t", index=False, float_format="%.4f"), nl=False)
        log(f"wrote {outdir}/compare.tsv, summary.tsv, compare.png", quiet=quiet)
        return
    report_test(res.model, ds, out, seed=seed, device=device, quiet=quiet)
    log(f"best epoch {res.best_epoch} (valid auPRC {res.best_metrics['valid_auprc']:.4f}); model in {out}", quiet=quiet)


def _modes(spec: str, have_source: bool) -> list[str]:
    if spec.strip() == "all":
        return [m for m in MODES if have_source or m not in ("mixture", "adapt")]
    modes = [m.strip() for m in spec.split(",") if m.strip()]
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        raise InputError(f"--compare: unknown mode(s) {bad or spec!r}; choose from {', '.join(MODES)} or 'all'")
    if not have_source and any(m in ("mixture", "adapt") for m in modes):
        raise InputError("--compare: mixture and adapt need --source (the backbone's source data)")
    return modes


def _seeds(spec: str) -> list[int]:
    try:
        out = [int(s) for s in spec.split(",") if s.strip()]
    except ValueError:
        raise InputError(f"--seeds takes comma-separated integers, got {spec!r}") from None
    if not out:
        raise InputError("--seeds: give at least one seed")
    return out
