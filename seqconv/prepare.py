"""Build a labelled, split :class:`~seqconv.dataset.Dataset` from real files.

Three kinds of input:

* peaks (BED/narrowPeak, one file per TF) + a genome FASTA
  (:func:`from_peaks`): summit-centred windows, negatives, chromosome split;
* labelled FASTA files (:func:`from_fasta`): one label per file;
* a TSV with a ``sequence`` column and label column(s) (:func:`from_tsv`).
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from seqconv import __version__
from seqconv.dataset import LABEL_PREFIX, Dataset
from seqconv.encode import gc_content
from seqconv.errors import InputError
from seqconv.fileio import open_text
from seqconv.genome import (
    DEFAULT_TEST_CHROMS,
    DEFAULT_VALID_CHROMS,
    WINDOW_POLICY,
    Genome,
    _check_width,
    check_chroms,
    chromosome_split,
    gc_matched_background,
    iter_fasta,
    parse_chrom_alias,
    peak_centres,
    random_split,
    read_bed,
    shuffled_negatives,
    windows,
)

NEGATIVE_KINDS = ("gc", "shuffle", "both", "none")


@dataclass
class PrepareReport:
    """Log lines collected while preparing a dataset."""

    lines: list = field(default_factory=list)

    def add(self, *lines: str) -> None:
        self.lines.extend(lines)


def task_name(path) -> str:
    """Default task name of a peak/FASTA file: its name without extensions."""
    name = Path(path).name
    for ext in (".gz", ".bed", ".narrowPeak", ".bed6", ".fa", ".fasta", ".fna", ".tsv", ".txt"):
        if name.endswith(ext):
            name = name[: -len(ext)]
    return name


def from_peaks(
    peak_files: Sequence,
    genome_path,
    *,
    width: int = 200,
    task_names: Sequence[str] | None = None,
    negatives: str = "gc",
    ratio: float = 1.0,
    margin: int = 500,
    exclude=None,
    off_end: str = "clamp",
    max_n_frac: float = 0.05,
    test_chroms: Sequence[str] = DEFAULT_TEST_CHROMS,
    valid_chroms: Sequence[str] = DEFAULT_VALID_CHROMS,
    seed: int = 0,
    chrom_alias=None,
) -> tuple[Dataset, PrepareReport]:
    """Peaks + genome -> dataset with negatives and a chromosome split.

    Each peak file is one task.  Positive windows are centred on each peak's
    summit (narrowPeak) or midpoint; a window is labelled 1 for every task with
    a peak centre inside it, so overlapping peaks of several TFs give
    multi-label rows.  Negatives are labelled 0 for all tasks.

    Parameters
    ----------
    peak_files : BED/narrowPeak paths, one per TF
    genome_path : genome FASTA (plain, BGZF or gzip)
    width : window width in bp
    task_names : names of the tasks (default: file names)
    negatives : "gc" (GC-matched genomic background), "shuffle"
        (dinucleotide shuffles of positives), "both", or "none"
    ratio : negatives per positive (for "both": this many of each kind)
    margin : background windows stay this many bp away from any peak
    exclude : BED of regions never sampled as background (blacklist)
    off_end : "clamp" (default) or "drop" windows running off a chromosome end
        (see :data:`seqconv.genome.WINDOW_POLICY`; a peak past the end is an error)
    max_n_frac : largest fraction of N in a background window
    test_chroms, valid_chroms : held-out chromosomes
    seed : every random choice derives from it (byte-reproducible output)
    chrom_alias : None, "auto", a two-column file, "A=B,..." or a dict mapping the
        peaks' chromosome names to the genome's (see :func:`seqconv.genome.parse_chrom_alias`)

    Raises
    ------
    InputError
        Besides bad files: options that would give a task no negatives (or no
        positives) at all, or a train split with one class for a task.
    """
    width = _check_width(width)
    if negatives not in NEGATIVE_KINDS:
        raise InputError(f"negatives must be one of {NEGATIVE_KINDS}, got {negatives!r}")
    try:
        ratio = float(ratio)
    except (TypeError, ValueError):
        raise InputError(f"negative ratio must be a finite number > 0, got {ratio!r}") from None
    if not math.isfinite(ratio) or ratio <= 0:
        raise InputError(f"negative ratio must be a finite number > 0, got {ratio}")
    if not (isinstance(max_n_frac, (int, float)) and 0 <= max_n_frac <= 1):
        raise InputError(f"max_n_frac must be in [0, 1], got {max_n_frac!r}")
    if int(margin) != margin or margin < 0:
        raise InputError(f"margin must be an integer >= 0, got {margin!r}")
    peak_files = [Path(p) for p in peak_files]
    if not peak_files:
        raise InputError("no peak files given")
    names = list(task_names) if task_names else [task_name(p) for p in peak_files]
    if len(names) != len(peak_files) or len(set(names)) != len(names):
        raise InputError(f"need one distinct task name per peak file, got {names}")
    report = PrepareReport()
    genome = Genome(genome_path)
    beds = [read_bed(path) for path in peak_files]
    used = list(dict.fromkeys(c for b in beds for c in b["chrom"].unique()))
    aliases = chrom_alias if isinstance(chrom_alias, dict) else parse_chrom_alias(
        chrom_alias, used + list(test_chroms) + list(valid_chroms), genome.sizes)
    if aliases:
        genome = Genome(genome_path, aliases=aliases)
        report.add("chromosome aliases: " + ", ".join(f"{a}->{b}" for a, b in list(aliases.items())[:6])
                   + (" ..." if len(aliases) > 6 else ""))
        test_chroms = [genome.resolve(c) for c in test_chroms]
        valid_chroms = [genome.resolve(c) for c in valid_chroms]
    for path, p in zip(peak_files, beds):  # names first: a chr1-vs-1 genome fails here, with the hint
        check_chroms(p["chrom"].tolist(), genome, source=path, lines=p["line"].to_numpy())
    # validate held-out chromosomes before any heavy work
    chromosome_split([], test=test_chroms, valid=valid_chroms, known=list(genome.sizes))
    report.add(f"window policy: {WINDOW_POLICY}"
               + ("" if off_end == "clamp" else "; --off-end drop: such windows are dropped instead"))
    peaks = {}
    frames = []
    for path, task, p in zip(peak_files, names, beds):
        p = p.assign(chrom=[genome.resolve(c) for c in p["chrom"]])
        peaks[task] = p
        w, wrep = windows(p, genome, width, off_end=off_end, source=path)
        report.add(f"{task} ({path}): " + "; ".join(wrep.lines()))
        w["task"] = task
        frames.append(w)
    pos = pd.concat(frames, ignore_index=True)
    # one row per distinct window; labels from every task's peak centres inside it
    pos = (pos.drop_duplicates(["chrom", "start", "end"]).sort_values(["chrom", "start"], kind="stable")
           .reset_index(drop=True))
    for task, p in peaks.items():
        pos[LABEL_PREFIX + task] = _centres_inside(pos, p).astype(np.int8)
    pos["kind"] = "positive"

    negs = []
    rng = np.random.default_rng(seed)
    seeds = rng.integers(0, 2**32 - 1, size=2)
    if negatives in ("gc", "both"):
        avoid = list(peaks.values())
        if exclude is not None:
            ex = read_bed(exclude)
            avoid.append(ex.assign(chrom=[genome.resolve(c) for c in ex["chrom"]]))
        # match GC within each split's chromosomes, so every split gets its own matched negatives
        pos_split = chromosome_split(pos["chrom"], test=test_chroms, valid=valid_chroms)
        genome_split = chromosome_split(list(genome.sizes), test=test_chroms, valid=valid_chroms)
        pos_gc = gc_content(pos["sequence"].tolist())
        for i, part in enumerate(("train", "valid", "test")):
            chroms = [c for c, s in zip(genome.sizes, genome_split) if s == part]
            mask = pos_split == part
            if not mask.any() or not chroms:
                continue
            bg, brep = gc_matched_background(
                genome, pos_gc[mask], width, avoid=avoid, margin=margin, ratio=ratio,
                max_n_frac=max_n_frac, chroms=chroms, seed=int(seeds[0]) + i)
            report.add(f"{part}: " + "\n  ".join(brep.lines()))
            bg["kind"] = "background"
            negs.append(bg)
    if negatives in ("shuffle", "both"):
        k = max(1, int(round(ratio)))
        sh = shuffled_negatives(pos[["chrom", "start", "end", "name", "sequence"]], ratio=k, seed=int(seeds[1]))
        sh["kind"] = "shuffle"
        negs.append(sh)
    for n in negs:
        for task in names:
            n[LABEL_PREFIX + task] = np.int8(0)
    table = pd.concat([pos.drop(columns=["task"])] + negs, ignore_index=True)
    table["split"] = chromosome_split(table["chrom"], test=test_chroms, valid=valid_chroms)
    table = table[["name", "chrom", "start", "end", "sequence", "kind", "split"] + [LABEL_PREFIX + t for t in names]]
    _check_classes(table, names, hint={
        "none": "--negatives none gives no negatives here; use --negatives gc, shuffle or both",
    }.get(negatives, "no negatives could be drawn (raise --ratio, lower --margin, or use --negatives shuffle)"))
    meta = {
        "width": width,
        "seed": seed,
        "split": {"scheme": "chromosome", "test": list(test_chroms), "valid": list(valid_chroms),
                  "train": sorted(set(table.loc[table["split"] == "train", "chrom"]))},
        "negatives": {"kind": negatives, "ratio": ratio, "margin": margin, "max_n_frac": max_n_frac},
        "off_end": off_end,
        "sources": {"peaks": [str(p) for p in peak_files], "genome": str(genome_path),
                    "exclude": None if exclude is None else str(exclude)},
        "chrom_alias": dict(aliases) if aliases else None,
        "seqconv_version": __version__,
    }
    return Dataset(table.reset_index(drop=True), meta), report


def _centres_inside(win: pd.DataFrame, peaks: pd.DataFrame) -> np.ndarray:
    """For each window, whether any peak centre of ``peaks`` lies inside it."""
    out = np.zeros(len(win), dtype=bool)
    centres = pd.DataFrame({"chrom": peaks["chrom"], "c": peak_centres(peaks)})
    for chrom, g in centres.groupby("chrom", sort=False):
        c = np.sort(g["c"].to_numpy())
        m = (win["chrom"] == chrom).to_numpy()
        if not m.any():
            continue
        s, e = win.loc[m, "start"].to_numpy(), win.loc[m, "end"].to_numpy()
        out[m] = np.searchsorted(c, e, side="left") > np.searchsorted(c, s, side="left")
    return out


def _no_coordinates(n: int) -> dict:
    return {"chrom": [""] * n, "start": np.full(n, -1, np.int64), "end": np.full(n, -1, np.int64)}


def _sequence_table(names, seqs, labels: dict, kind) -> pd.DataFrame:
    t = pd.DataFrame({"name": names, **_no_coordinates(len(seqs)), "sequence": seqs, "kind": kind})
    for task, values in labels.items():
        t[LABEL_PREFIX + task] = np.asarray(values, dtype=np.int8)
    return t


def from_fasta(
    fasta_files: Sequence,
    labels: Sequence[int],
    *,
    width: int | None = None,
    task: str = "bound",
    shuffle_negatives: int = 0,
    valid: float = 0.1,
    test: float = 0.1,
    seed: int = 0,
) -> tuple[Dataset, PrepareReport]:
    """Labelled FASTA files (one 0/1 label per file) -> dataset with a seeded random split.

    Sequences are centre-cropped / N-padded to ``width``; without ``width``
    they must all have the same length (else an error gives the length
    distribution).  ``shuffle_negatives=k`` adds k dinucleotide shuffles of
    every positive as negatives.  A task left with one class (only bound
    files and no shuffles) is an error.
    """
    if len(fasta_files) != len(labels):
        raise InputError("need one label per FASTA file")
    report = PrepareReport()
    frames = []
    for path, lab in zip(fasta_files, labels):
        if lab not in (0, 1):
            raise InputError(f"label must be 0 or 1, got {lab!r}", path=path)
        recs = list(iter_fasta(path))
        report.add(f"{path}: {len(recs)} sequences, label {lab}")
        frames.append(_sequence_table([r[0] for r in recs], [r[1] for r in recs], {task: [lab] * len(recs)},
                                      "positive" if lab else "input"))
    table = pd.concat(frames, ignore_index=True)
    _check_unique_names(table)
    if width is None:
        width = _common_length(table["sequence"], ", ".join(str(p) for p in fasta_files))
    width = _check_width(width)
    table["sequence"] = _fit(table["sequence"], width)
    if int(shuffle_negatives) != shuffle_negatives or shuffle_negatives < 0:
        raise InputError(f"shuffles must be an integer >= 0, got {shuffle_negatives!r}")
    if shuffle_negatives:
        pos = table[table[LABEL_PREFIX + task] == 1]
        sh = shuffled_negatives(pos, ratio=int(shuffle_negatives), seed=seed + 1)
        sh["kind"] = "shuffle"
        sh[LABEL_PREFIX + task] = np.int8(0)
        table = pd.concat([table, sh], ignore_index=True)
    table["split"] = random_split(len(table), valid=valid, test=test, seed=seed)
    _check_classes(table, [task], hint="give --negative-fasta files or --shuffles N")
    meta = {"width": width, "seed": seed,
            "split": {"scheme": "random", "valid": valid, "test": test},
            "sources": {"fasta": [str(p) for p in fasta_files], "labels": list(labels)}}
    cols = ["name", "chrom", "start", "end", "sequence", "kind", "split", LABEL_PREFIX + task]
    return Dataset(table[cols].reset_index(drop=True), meta), report


def from_tsv(
    path,
    *,
    width: int | None = None,
    valid: float = 0.1,
    test: float = 0.1,
    seed: int = 0,
) -> tuple[Dataset, PrepareReport]:
    """TSV with a header: ``sequence`` plus one or more 0/1 label columns.

    Label columns are ``label``, ``label:<TF>`` or any other integer column;
    optional ``name``/``id`` and ``split`` (train/valid/test, kept as given;
    ``dev`` and ``val`` mean valid) columns.  Without ``split`` a seeded random
    split is made.
    """
    with open_text(path, what="TSV file") as fh:
        text = fh.read()
        src = fh.name
    path = Path(src)
    if "\t" not in text.split("\n", 1)[0] and path.suffix != ".csv" and "," in text.split("\n", 1)[0]:
        sep = ","
    else:
        sep = "," if path.suffix == ".csv" else "\t"
    try:
        raw = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise InputError("empty TSV file", path=path) from None
    except pd.errors.ParserError as exc:
        raise InputError(f"cannot parse as {'CSV' if sep == ',' else 'TSV'}: {exc}", path=path) from None
    if raw.empty:
        raise InputError("TSV file has a header but no rows", path=path)
    cols = {c.lower(): c for c in raw.columns}
    if "sequence" not in cols:
        raise InputError(f"no 'sequence' column (columns: {list(raw.columns)})", path=path)
    special = {cols.get(k) for k in ("sequence", "name", "id", "split")} - {None}
    label_cols = [c for c in raw.columns if c not in special]
    if not label_cols:
        raise InputError("no label column next to 'sequence'", path=path)
    labels = {}
    for c in label_cols:
        values = raw[c].str.strip()
        bad = ~values.isin(["0", "1"])
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(f"column {c!r}: label must be 0 or 1, got {raw[c].iloc[i]!r}", path=path, line=i + 2)
        name = c[len(LABEL_PREFIX):] if c.startswith(LABEL_PREFIX) else ("bound" if c == "label" else c)
        labels[name] = values.astype(int).to_numpy()
    name_col = cols.get("name") or cols.get("id")
    names = raw[name_col].tolist() if name_col else [f"seq{i}" for i in range(len(raw))]
    seqs = raw[cols["sequence"]].fillna("").str.strip().tolist()
    for i, s in enumerate(seqs):
        if not s:
            raise InputError("empty sequence", path=path, line=i + 2)
    pos_any = np.any(np.stack(list(labels.values())), axis=0)
    table = _sequence_table(names, seqs, labels, np.where(pos_any, "positive", "input"))
    _check_unique_names(table, path)
    if width is None:
        width = _common_length(table["sequence"], path)
    width = _check_width(width)
    table["sequence"] = _fit(table["sequence"], width)
    if "split" in cols:
        sp = raw[cols["split"]].str.strip().str.lower().replace({"dev": "valid", "val": "valid", "validation": "valid"})
        bad = ~sp.isin(["train", "valid", "test"])
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(f"split must be train/valid/test, got {raw[cols['split']].iloc[i]!r}", path=path,
                             line=i + 2)
        table["split"] = sp.to_numpy()
        scheme = {"scheme": "given"}
    else:
        table["split"] = random_split(len(table), valid=valid, test=test, seed=seed)
        scheme = {"scheme": "random", "valid": valid, "test": test}
    _check_classes(table, list(labels), path=path, hint="a label column needs both 0 and 1 rows")
    meta = {"width": width, "seed": seed, "split": scheme, "sources": {"tsv": str(path)}}
    report = PrepareReport([f"{path}: {len(table)} sequences, tasks {', '.join(labels)}"])
    order = ["name", "chrom", "start", "end", "sequence", "kind", "split"] + [LABEL_PREFIX + k for k in labels]
    return Dataset(table[order], meta), report


def _fit(seqs: pd.Series, width: int) -> list[str]:
    out = []
    for s in seqs:
        n = len(s)
        if n >= width:
            a = (n - width) // 2
            out.append(s[a:a + width])
        else:
            left = (width - n) // 2
            out.append("N" * left + s + "N" * (width - n - left))
    return out


def _common_length(seqs: pd.Series, path=None) -> int:
    """The length shared by every sequence; unequal lengths are an error giving the distribution."""
    lengths = seqs.str.len()
    counts = lengths.value_counts().sort_index()
    if len(counts) == 1:
        return int(counts.index[0])
    common = ", ".join(f"{int(n)} bp x{int(k)}" for n, k in counts.sort_values(ascending=False).head(5).items())
    raise InputError(
        f"sequences have {len(counts)} different lengths (min {int(lengths.min())}, median "
        f"{int(lengths.median())}, max {int(lengths.max())} bp; most common: {common}); give --width to "
        "centre-crop / N-pad them all to one width", path=path)


def _check_classes(table: pd.DataFrame, tasks, *, path=None, hint: str = "") -> None:
    """Every task needs both classes in the dataset (else training learns nothing and reports success).

    Per-split checks (a train split with one class) are made by ``train``, which knows the split it uses.
    """
    if len(table) == 0:
        raise InputError("the dataset has no rows", path=path)
    for task in tasks:
        y = table[LABEL_PREFIX + task].to_numpy()
        if y.min() == y.max():
            missing = "negatives (label 0)" if y[0] == 1 else "positives (label 1)"
            raise InputError(f"task {task!r} has no {missing}: all {len(y)} rows are labelled {int(y[0])}, "
                             "so a model cannot learn it" + (f"; {hint}" if hint else ""), path=path)


def _check_unique_names(table: pd.DataFrame, path=None) -> None:
    dup = table["name"].duplicated()
    if dup.any():
        raise InputError(f"sequence id {table['name'][dup].iloc[0]!r} appears more than once", path=path)


def gc_summary(ds: Dataset, *,
               bins: Sequence[float] = (0, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 1.0001)) -> pd.DataFrame:
    """GC distribution of positives vs negatives: fraction of windows per GC bin, per kind."""
    t = ds.table
    gc = gc_content(t["sequence"].tolist())
    labels = [f"[{a:.2f},{min(b, 1):.2f}{']' if b > 1 else ')'}" for a, b in zip(bins[:-1], bins[1:])]
    cut = pd.cut(gc, bins=list(bins), labels=labels, right=False)
    tab = pd.crosstab(t["kind"].to_numpy(), cut, normalize="index").reindex(columns=labels, fill_value=0.0)
    tab.insert(0, "median_gc", pd.Series(gc).groupby(t["kind"].to_numpy()).median())
    tab.insert(0, "n", t["kind"].value_counts())
    tab.index.name = "kind"
    tab.columns.name = None
    return tab.round(3).reset_index()
