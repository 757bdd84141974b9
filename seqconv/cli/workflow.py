"""``seqconv workflow``: the Snakemake workflow shipped in the package (its folder, or a copy to run)."""

from __future__ import annotations

import click

from seqconv.cli._common import log, main, quiet_option, user_errors


@main.group(invoke_without_command=True)
@click.option("--print-path", is_flag=True,
              help="Print the folder of the packaged workflow (its Snakefile runs in place with snakemake -s).")
@click.pass_context
@user_errors
def workflow(ctx, print_path):
    """The Snakemake workflow (peaks + genome -> datasets, models, metrics, motifs, scans, tracks, report).

    It ships inside the package, so it runs from a wheel as from a clone:
    `seqconv workflow init DIR` copies the Snakefile, its config schema, the
    default config, a SLURM profile and the demo data (the real yeast excerpt)
    into DIR; run snakemake there.  --print-path prints the packaged folder,
    to run its Snakefile in place with a config of your own.

    \b
    Example:
      seqconv workflow init my_run
      cd my_run && snakemake --configfile config.yaml -c 2
      seqconv workflow --print-path
    """
    from seqconv.workflow import workflow_dir

    if print_path:
        click.echo(str(workflow_dir()))
    elif ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


@workflow.command()
@click.argument("folder", required=False, type=click.Path(file_okay=False))
@click.option("-o", "--out", "out", default=None, type=click.Path(file_okay=False),
              help="The folder to fill (the same as the FOLDER argument).")
@click.option("--no-demo-data", is_flag=True, help="Copy the rules and configs only, not the demo data (0.9 MB).")
@click.option("--force", is_flag=True, help="Overwrite workflow files that exist in FOLDER (never other files).")
@quiet_option
@user_errors
def init(folder, out, no_demo_data, force, quiet):
    """Copy the workflow into FOLDER: Snakefile, config.schema.yaml, config.yaml, profiles/slurm/ and (unless
    --no-demo-data) data/yeast/, so `snakemake --configfile config.yaml -c 2` runs there as it is.

    Nothing is overwritten without --force (the run stops, writing nothing,
    when a file exists).  Edit config.yaml (genome, peaks, sets) for your own
    data; every key is checked against config.schema.yaml before any job runs.

    \b
    Example:
      seqconv workflow init my_run
      cd my_run && snakemake --configfile config.yaml -c 2 -n
    """
    from seqconv.errors import InputError
    from seqconv.workflow import init as init_workflow

    if (folder is None) == (out is None):
        raise InputError("give the folder once: seqconv workflow init FOLDER (or -o FOLDER)")
    folder = folder or out
    written = init_workflow(folder, demo=not no_demo_data, force=force)
    log(f"wrote {len(written)} files to {folder}/: " + ", ".join(
        str(p.relative_to(folder)) for p in written[:4]) + (", data/yeast/ (demo data)" if not no_demo_data else "")
        + f"\nrun: cd {folder} && snakemake --configfile config.yaml -c 2", quiet=quiet)
