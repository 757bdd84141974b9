"""``seqconv motifs``: first-layer filters -> motifs, named against JASPAR, ranked by influence, drawn."""

from __future__ import annotations

from pathlib import Path

import click

from seqconv.cli._common import (
    FiniteFloat,
    InputFile,
    device_option,
    log,
    main,
    option,
    out_option,
    quiet_option,
    threads_option,
    user_errors,
)
from seqconv.errors import InputError


def read_sequences(path, width: int, *, split: str | None = None):
    """One-hot ``(N, 4, width)`` uint8 sequences, labels ``(N, T)`` or None, and task names, from a
    seqconv dataset (Parquet) or a FASTA file (records centre-cropped / N-padded to ``width``)."""
    from seqconv.encode import one_hot

    p = Path(path)
    if not p.exists():
        raise InputError("no such dataset or FASTA file", path=p)
    with open(p, "rb") as fh:
        magic = fh.read(4)
    if magic == b"PAR1":
        from seqconv.dataset import read_dataset

        ds = read_dataset(p)
        if ds.width != width:
            raise InputError(f"dataset windows are {ds.width} bp but the model takes {width} bp", path=p)
        sub = ds.subset(split)
        if len(sub.table) == 0:
            raise InputError(f"dataset has no rows in split {split!r}", path=p)
        return ds.X(split), ds.y(split), ds.tasks
    from seqconv.genome import iter_fasta

    recs = list(iter_fasta(p))
    names = [n for n, _ in recs]
    return one_hot([s for _, s in recs], dtype="uint8", length=width, labels=names), None, None


@main.command()
@click.option("--model", "model", required=True, help="Model directory or bundled model name.")
@click.option("--data", "data", required=True, type=InputFile(what="dataset or FASTA file"),
              help="Dataset (`seqconv prepare`, labels used for influence) or FASTA file.")
@out_option(required=True, type=click.Path(file_okay=False), help="Output directory.")
@click.option("--split", type=click.Choice(["all", "train", "valid", "test"]), default="all", show_default=True,
              help="Dataset rows to use.")
@click.option("--max-seqs", default=5000, show_default=True, type=click.IntRange(min=0),
              help="Use a random subset of this many sequences (0 = all).")
@click.option("--method", type=click.Choice(["activation", "weights"]), default="activation", show_default=True,
              help="Activation alignment (counts of activating windows) or the direct weight view.")
@click.option("--threshold", default=0.7, show_default=True, type=FiniteFloat(min=0, max=1, max_open=True),
              help="Activation alignment: fraction of each filter's maximum activation.")
@click.option("--min-sites", default=10, show_default=True, type=click.IntRange(min=1),
              help="Filters with fewer sites are dropped.")
@click.option("--trim", default=0.3, show_default=True, type=FiniteFloat(min=0, max=2),
              help="Trim flanks below this many bits before writing/comparing (0 = keep all columns).")
@option("--motifs", "db", aliases=("--db",), default="jaspar", show_default=True,
              help="Motif collection: 'jaspar' (bundled JASPAR 2024 CORE vertebrates) or a MEME/JASPAR file.")
@click.option("--metric", type=click.Choice(["euclidean", "pearson"]), default="euclidean", show_default=True,
              help="Column similarity of the Tomtom-like comparison.")
@click.option("--top", default=3, show_default=True, type=click.IntRange(min=1), help="Matches reported per filter.")
@click.option("--no-influence", is_flag=True, help="Skip the filter-zeroing influence (faster).")
@click.option("--influence-seqs", default=2000, show_default=True, type=click.IntRange(min=0),
              help="Influence on a random subset of this many of the sequences (0 = all): it runs the model "
                   "once per filter.")
@click.option("--no-logos", is_flag=True, help="Skip the per-filter PNG logos (the summary sheet is still drawn).")
@click.option("--strand", type=click.Choice(["both", "forward"]), default=None,
              help="Override the model's strand handling.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the --max-seqs subset.")
@click.option("--batch-size", default=256, show_default=True, type=click.IntRange(min=1),
              help="Sequences per forward pass (memory, not results).")
@device_option()
@threads_option()
@quiet_option
@user_errors
def motifs(model, data, out, split, max_seqs, method, threshold, min_sites, trim, db, metric, top, no_influence,
           influence_seqs, no_logos, strand, seed, batch_size, device, threads, quiet):
    """Turn a model's first-layer filters into motifs and name them against JASPAR.

    Writes to OUT: motifs.meme (one motif per filter, flanks trimmed),
    matches.tsv (best database matches: p, q, offset, orientation),
    influence.tsv (drop in auROC, or in mean output for FASTA input, when the
    filter is zeroed), logos/<filter>.png and summary.png (every filter beside its
    best match, most influential first).

    \b
    Example:
      seqconv motifs --model oct4_mafk --data data/example_oct4_mafk_test.fa --out motifs/oct4
      seqconv motifs --model gue_tf_4_binding --data data/example_gue_tf4_test.fa --motifs jaspar --out motifs/tf4
    """
    import numpy as np
    import torch

    from seqconv.modelfile import resolve_model
    from seqconv.motifs.compare import MotifComparer
    from seqconv.motifs.extract import activation_motifs, filter_influence, first_layer, weight_motifs
    from seqconv.motifs.io import read_motifs, write_meme
    from seqconv.motifs.logos import save_logos, summary_sheet
    from seqconv.progress import progress_iter, uncompiled_kernels

    if threads:
        torch.set_num_threads(threads)
    if not 0 <= threshold < 1:
        raise InputError(f"--threshold must be in [0, 1), got {threshold}")
    net = resolve_model(model, device=device)
    first_layer(net)  # clear error for a model without a convolutional first layer
    strand = strand or net.strand
    collection = read_motifs(db)
    X, y, tasks = read_sequences(data, net.input_length, split=None if split == "all" else split)
    if max_seqs and len(X) > max_seqs:
        idx = np.sort(np.random.default_rng(seed).choice(len(X), size=max_seqs, replace=False))
        X, y = X[idx], (None if y is None else y[idx])
    log(f"{len(X)} sequences, {first_layer(net).n_filters} filters, strand {strand}", quiet=quiet)
    if method == "activation":
        found = activation_motifs(net, X, threshold=threshold, strand=strand, min_sites=min_sites,
                                  batch_size=batch_size, device=device, verbose=not quiet)
    else:
        found = weight_motifs(net)
    kept, dropped = [], []
    for m in found:
        try:
            kept.append(m.trim(trim) if trim > 0 else m)
        except InputError:
            dropped.append(m.id)
    n_f = first_layer(net).n_filters
    log(f"{len(kept)} filter motifs ({n_f - len(found)} with < {min_sites} sites, "
        f"{len(dropped)} with no position >= {trim} bits)", quiet=quiet)
    if not kept:
        raise InputError("no filter gave an informative motif on these sequences; try more sequences "
                         "or a lower --threshold / --min-sites / --trim")
    import seqconv.motifs._tomtom as tomtom_kernels

    if not quiet and uncompiled_kernels(tomtom_kernels, ("tomtom_queries", "rank_matches")):
        log("compiling the motif comparison kernels (first run after install; cached for later runs)...")
    log(f"comparing {len(kept)} motifs with {len(collection)} {db} motifs", quiet=quiet)
    comparer = MotifComparer(collection, metric=metric)
    matches = comparer.compare(kept, top=top, verbose=not quiet)
    influence = None
    if not no_influence:
        if y is not None and not all(0 < y[:, t].sum() < len(y) for t in range(y.shape[1])):
            log("labels lack a class for some task: influence is the drop in mean output", quiet=quiet)
            y = None
        Xi, yi = X, y
        if influence_seqs and len(X) > influence_seqs:
            idx = np.sort(np.random.default_rng(seed + 1).choice(len(X), size=influence_seqs, replace=False))
            Xi, yi = X[idx], (None if y is None else y[idx])
            if yi is not None and not all(0 < yi[:, t].sum() < len(yi) for t in range(yi.shape[1])):
                yi = None
        log(f"influence: each of {n_f} filters zeroed in turn on {len(Xi)} sequences", quiet=quiet)
        influence = filter_influence(net, Xi, yi, tasks=tasks, strand=strand, batch_size=batch_size,
                                     device=device, verbose=not quiet)
        best = matches[matches["rank"] == 1].set_index("query_id")
        influence = influence.assign(
            best_match=[best["target_name"].get(i, "") for i in influence["id"]],
            best_match_id=[best["target_id"].get(i, "") for i in influence["id"]],
            best_q=[best["q_value"].get(i, np.nan) for i in influence["id"]],
        )
    rank = {} if influence is None else dict(zip(influence["id"], influence["rank"]))
    ordered = sorted(kept, key=lambda m: (rank.get(m.id, 10 ** 9), int(m.id[6:]) if m.id[6:].isdigit() else 0))
    from seqconv.fileio import atomic_dir

    out = Path(out)
    with atomic_dir(out, inputs=[p for p in (data, db) if Path(str(p)).exists()]) as tmp:  # all files appear together
        write_meme(kept, tmp / "motifs.meme")
        matches.to_csv(tmp / "matches.tsv", sep="\t", index=False, float_format="%.4g")
        if influence is not None:
            influence.sort_values("rank").to_csv(tmp / "influence.tsv", sep="\t", index=False, float_format="%.4g")
        if not no_logos:
            for m in progress_iter(kept, desc="drew", unit="logos", enabled=not quiet, every=10):
                save_logos([m], tmp / "logos")
        log(f"drawing summary.png: {len(ordered)} motifs beside their best matches", quiet=quiet)
        summary_sheet(ordered, matches, tmp / "summary.png", influence=influence, collection=collection,
                      title=f"{model}: first-layer filters ({method}) vs {db}")
    n_sig = int((matches[matches["rank"] == 1]["q_value"] < 0.05).sum())
    log(f"{n_sig}/{len(kept)} filters match a {db} motif with q < 0.05; wrote {out}/motifs.meme, matches.tsv"
        + (", influence.tsv" if influence is not None else "") + (", logos/" if not no_logos else "")
        + ", summary.png", quiet=quiet)
