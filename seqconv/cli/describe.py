"""``seqconv describe``: layers, output lengths, receptive fields and parameter counts of a model."""

from __future__ import annotations

import click

from seqconv.cli._common import main, user_errors
from seqconv.models.card import split_summary


@main.command()
@click.argument("model")
@click.option("--length", type=click.IntRange(min=1), default=None,
              help="Input length in bp (default: the model's input width).")
@click.option("--tasks", "n_tasks", type=click.IntRange(min=1), default=1, show_default=True,
              help="Outputs, when MODEL is an architecture name.")
@click.option("--tsv", is_flag=True, help="Tab-separated output instead of an aligned table.")
@user_errors
def describe(model, length, n_tasks, tsv):
    """Describe MODEL: a model directory, a bundled model name, or an architecture name.

    One row per layer with its output shape, output length, receptive field (bp)
    and parameter count, then the totals.

    \b
    Example:
      seqconv describe basset --length 101
      seqconv describe oct4_mafk
      seqconv describe deepbind_REST --tsv
    """
    from pathlib import Path

    from seqconv.models import ARCHITECTURES, build_model, format_table, get_config
    from seqconv.models import describe as describe_model

    if model in ARCHITECTURES and not Path(model).exists():
        net = build_model(get_config(model, n_tasks=n_tasks, **({"input_length": length} if length else {})))
        title = f"{model} (default config, {net.input_length} bp input)"
    else:
        from seqconv.modelfile import resolve_model

        net = resolve_model(model)
        title = _model_title(model, net)
    table = describe_model(net, length)
    if tsv:
        click.echo(table.to_csv(sep="\t", index=False), nl=False)
        return
    click.echo(title)
    click.echo(format_table(table))


def _model_title(name, net) -> str:
    """Header lines of a saved model: architecture, width, tasks, negatives, provenance and test metrics."""
    card = net.card
    lines = [f"{name}: {net.arch}, {net.input_length} bp input, strand {card.strand}, tasks {', '.join(card.tasks)}"]
    if card.negatives:
        lines.append(f"negatives: {card.negatives}")
    t = card.training or {}
    split = t.get("split") or {}
    if t.get("dataset") or split:
        held = {k: split[k] for k in ("test", "valid") if isinstance(split, dict) and k in split}
        lines.append(f"trained on: {t.get('dataset', '?')}" + (f"; held out: {held}" if held else ""))
    if card.transfer:
        bb = card.transfer.get("backbone") or {}
        lines.append(f"transfer: mode {card.transfer.get('mode', '?')} from backbone {bb.get('name', '?')} "
                     f"({len(bb.get('tasks') or [])} source tasks)")
    where = split_summary(card)
    if where:
        lines.append(f"test split: {where}")
    for row in (card.metrics or {}).get("test") or []:
        if isinstance(row, dict) and "auroc" in row:
            lines.append(f"test {row.get('TF', '')}: auROC {row['auroc']:.4f} "
                         f"[{row.get('auroc_lo', float('nan')):.4f}, "
                         f"{row.get('auroc_hi', float('nan')):.4f}]  auPRC {row['auprc']:.4f} "
                         f"[{row.get('auprc_lo', float('nan')):.4f}, {row.get('auprc_hi', float('nan')):.4f}]"
                         f"  (n = {row.get('n', '?')})")
    return "\n".join(lines)
