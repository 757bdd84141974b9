"""``seqconv models``: the bundled pretrained models and their held-out metrics."""

from __future__ import annotations

import click

from seqconv.cli._common import main, user_errors


@main.command()
@click.option("--tsv", is_flag=True, help="Tab-separated output.")
@user_errors
def models(tsv):
    """List the pretrained models shipped inside seqconv (usable offline by name).

    Columns: name, architecture, input width, TFs, training data, held-out test
    auROC / auPRC / MCC (mean over TFs) and file size.

    \b
    Example:
      seqconv models
      seqconv predict --model oct4_mafk data/example_oct4_mafk_test.fa
    """
    from seqconv.pretrained import list_models

    table = list_models()
    if tsv:
        click.echo(table.to_csv(sep="\t", index=False), nl=False)
    elif table.empty:
        click.echo("no bundled models")
    else:
        click.echo(table.to_string(index=False))
