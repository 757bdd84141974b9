"""``seqconv describe``: layers, output lengths, receptive fields and parameter counts of a model."""

from __future__ import annotations

import click

from seqconv.cli._common import main, user_errors


@main.command()
@click.argument("model")
@click.option("--length", type=click.IntRange(min=1), default=None, help="Input length in bp (default: the model's input width).")
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
      seqconv describe models/ctcf --tsv
    """
    from pathlib import Path

    from seqconv.models import ARCHITECTURES, build_model, describe as describe_model, format_table, get_config

    if model in ARCHITECTURES and not Path(model).exists():
        net = build_model(get_config(model, n_tasks=n_tasks, **({"input_length": length} if length else {})))
        title = f"{model} (default config, {net.input_length} bp input)"
    else:
        from seqconv.modelfile import resolve_model

        net, card = resolve_model(model)
        title = f"{model}: {net.arch}, {card.input_width} bp input, tasks {', '.join(card.tasks)}"
    table = describe_model(net, length)
    if tsv:
        click.echo(table.to_csv(sep="\t", index=False), nl=False)
        return
    click.echo(title)
    click.echo(format_table(table))
