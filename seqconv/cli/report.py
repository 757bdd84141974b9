"""``seqconv report``: one self-contained HTML page for a run (data, training, metrics, motifs, track, links)."""

from __future__ import annotations

import click

from seqconv.cli._common import log, main, option, out_option, quiet_option, user_errors


@main.command()
@click.argument("links", nargs=-1, type=click.Path(exists=False))
@out_option(required=True, type=click.Path(dir_okay=False), help="The HTML page to write.")
@click.option("--dataset", default=None, type=click.Path(dir_okay=False), help="Dataset (`seqconv prepare`).")
@click.option("--model", default=None, type=click.Path(file_okay=False), help="Model directory (`seqconv train`).")
@click.option("--evaluation", default=None, type=click.Path(file_okay=False),
              help="Folder written by `seqconv evaluate --out`.")
@click.option("--motifs", default=None, type=click.Path(file_okay=False), help="Folder written by `seqconv motifs`.")
@option("--motif-db", "db", aliases=("--db",), default="jaspar", show_default=True,
        help="The motif collection the matches of --motifs refer to (`seqconv motifs --motifs`).")
@click.option("--tracks", default=None, metavar="PREFIX",
              help="Track prefix: PREFIX.<TF>.bw or PREFIX.<TF>.bedGraph per TF of --model.")
@click.option("--region", default=None, help="CHROM:START-END (1-based) of the track preview.")
@click.option("--title", default="seqconv run", show_default=True, help="Title of the page.")
@quiet_option
@user_errors
def report(links, out, dataset, model, evaluation, motifs, db, tracks, region, title, quiet):
    """Write one self-contained HTML page about a run; LINKS are outputs to link to.

    Sections: dataset summary (windows per split and kind, GC distributions),
    training curves (train_log.csv), held-out metrics with 95% intervals and
    ROC / PR curves, motif logos beside their JASPAR matches, a track preview
    of one region, and links (relative to the page) to every output given.
    Figures are embedded PNGs: the page is one file, with no scripts and no
    network access.

    \b
    Example:
      seqconv prepare --peaks data/yeast/Reb1_CX.bed.gz --names Reb1 --width 101 \\
          --genome data/yeast/sacCer3_chr1_3_6_7_8_9.fa.gz --out reb1_101.parquet -q
      seqconv train --data reb1_101.parquet --arch deepbind --epochs 3 --batch-size 32 --out rep_model -q
      seqconv evaluate --model rep_model --data reb1_101.parquet --out rep_eval -q
      seqconv report --dataset reb1_101.parquet --model rep_model --evaluation rep_eval --out report.html
    """
    from seqconv.report import build_report

    path = build_report(out, dataset=dataset, model=model, evaluation=evaluation, motifs=motifs, tracks=tracks,
                        region=region, links=links, db=db, title=title)
    log(f"wrote {path} ({path.stat().st_size / 1024:,.0f} KiB)", quiet=quiet)
