"""``seqconv ensemble``: K trained models (e.g. K seeds of one recipe) saved as one model that averages them."""

from __future__ import annotations

import click

from seqconv.cli._common import log, main, out_option, quiet_option, user_errors


@main.command()
@click.argument("models", nargs=-1, required=True)
@out_option(help="Output model directory (must not exist).", required=True)
@click.option("--description", default=None, help="Card description (default: the first member's, marked).")
@quiet_option
@user_errors
def ensemble(models, out, description, quiet):
    """Save MODELS (2 or more model directories or bundled names with the same architecture, tasks, strand
    and encoding) as ONE model whose prediction is the mean of their logits.

    The result predicts, evaluates and takes a new head (``seqconv finetune``) like any model;
    ``seqconv motifs`` needs a single model.

    \b
    Example:
      seqconv prepare --peaks data/yeast/Reb1_CX.bed.gz --genome data/yeast/sacCer3_chr1_3_6_7_8_9.fa.gz \\
          --out reb1.parquet
      seqconv train --data reb1.parquet --arch deepbind --epochs 2 --batch-size 32 --seed 0 --out reb1_s0 -q
      seqconv train --data reb1.parquet --arch deepbind --epochs 2 --batch-size 32 --seed 1 --out reb1_s1 -q
      seqconv ensemble reb1_s0 reb1_s1 --out reb1_ens
    """
    from pathlib import Path

    from seqconv.errors import InputError
    from seqconv.modelfile import resolve_model, save_model
    from seqconv.models import ensemble as make_ensemble

    if Path(out).exists():
        raise InputError(f"{out} already exists; give a new --out")
    if len(models) < 2:
        raise InputError("give at least 2 models to ensemble")
    model = make_ensemble([resolve_model(m) for m in models], description=description)
    save_model(model, out)
    log(f"ensemble of {len(models)} models ({sum(p.numel() for p in model.parameters()):,} parameters) -> {out}",
        quiet=quiet)
