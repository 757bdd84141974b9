"""Build a labelled, split :class:`~seqconv.dataset.Dataset` from real files.

Three kinds of input:

* peaks (BED/narrowPeak, one file per TF) + a genome FASTA
  (:func:`from_peaks`): summit-centred windows, negatives, chromosome split;
* labelled FASTA files (:func:`from_fasta`): one label per file;
* one labelled file, a TSV/CSV with a ``sequence`` column and label column(s) or a FASTA whose
  headers carry labels, with an optional split column (:func:`from_tsv`);
* a benchmark's own train/valid/test files, each such a labelled file (:func:`from_split_files`).
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
from seqconv.fileio import is_stream, open_text
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
            "split": {"scheme": "random", "fractions": [round(1 - valid - test, 10), valid, test], "valid": valid,
                      "test": test, "seed": seed,
                      "counts": {s: int((table["split"] == s).sum()) for s in ("train", "valid", "test")}},
            "sources": {"fasta": [str(p) for p in fasta_files], "labels": list(labels)}}
    cols = ["name", "chrom", "start", "end", "sequence", "kind", "split", LABEL_PREFIX + task]
    return Dataset(table[cols].reset_index(drop=True), meta), report


#: split names accepted in a ``split`` column or a FASTA header's ``split=`` (case-insensitive)
SPLIT_VALUES = {"train": "train", "training": "train", "valid": "valid", "validation": "valid", "val": "valid",
                "dev": "valid", "test": "test"}
_SEQUENCE_COLUMNS = ("sequence", "seq")
_NAME_COLUMNS = ("name", "id", "eventid")
_LABEL_NAMES = ("label", "bound")
#: the header syntax of a labelled FASTA file (messages and ``--help``)
FASTA_LABEL_SYNTAX = "'>id label=1 split=test' (label:<TF>=0/1 for several tasks; split= is optional)"


@dataclass
class LabelledRows:
    """The rows of one labelled file (TSV/CSV or labelled FASTA), before a width or a split is applied.

    Attributes
    ----------
    path : str
        The file's name as the user gave it (for messages and provenance).
    names : list of str, or None when the file has no id column
    seqs : list of str
    labels : dict
        Task -> ``(N,)`` int8 labels (0/1).
    split : ``(N,)`` object array of ``train``/``valid``/``test``, or None (no split column / ``split=``)
    lines : ``(N,)`` int64, the line of each row (header line for FASTA), for messages
    fmt : str
        ``"TSV"``, ``"CSV"`` or ``"FASTA"``.
    notes : list of str
        What the reader decided (columns ignored ...), for the log.
    """

    path: str
    names: list | None
    seqs: list
    labels: dict
    split: np.ndarray | None
    lines: np.ndarray
    fmt: str = "TSV"
    notes: list = field(default_factory=list)


def read_labelled(path) -> LabelledRows:
    """Read one labelled file: a TSV/CSV table or a labelled FASTA (told apart by a leading ``>``).

    Table: a header with a ``sequence`` (or ``seq``) column and 0/1 label column(s): ``label``,
    ``bound``, ``label:<TF>`` or any other column of integers; optional ``name``/``id``/``EventID``
    and ``split`` columns.  Tab- or comma-separated (told by the header line), plain or gzip.
    Other text columns (DeepBind's ``FoldID``) are ignored and said so in ``notes``.

    Labelled FASTA: every header carries its labels, ``>id label=1`` (task ``bound``) or
    ``>id label:CTCF=1 label:REST=0``, and optionally its split, ``split=test``; other words of the
    header are ignored.  Split values: train, valid, test (``dev``, ``val``, ``validation`` mean valid).

    Raises
    ------
    InputError
        Naming the file and line: no sequence column, a label that is not 0 or 1, an unknown or
        empty split value, a header without labels, an empty sequence.
    """
    with open_text(path, what="TSV file") as fh:
        text = fh.read()
        src = fh.name
    if text.lstrip().startswith(">"):
        return _read_labelled_fasta(path, text, src)
    return _read_table(text, src)


def _split_value(value: str, *, path, line: int) -> str:
    out = SPLIT_VALUES.get(value.strip().lower())
    if out is None:
        got = "an empty split value" if not value.strip() else f"split {value!r}"
        raise InputError(f"{got}: split must be train, valid or test (dev, val and validation mean valid)",
                         path=path, line=line)
    return out


def _read_table(text: str, src: str) -> LabelledRows:
    first = text.split("\n", 1)[0]
    sep = "\t" if "\t" in first else ("," if "," in first else "\t")
    kind = "CSV" if sep == "," else "TSV"
    try:
        raw = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise InputError(f"empty {kind} file", path=src) from None
    except pd.errors.ParserError as exc:
        raise InputError(f"cannot parse as {kind}: {exc}", path=src) from None
    if raw.empty:
        raise InputError(f"{kind} file has a header but no rows", path=src)
    cols = {c.lower(): c for c in raw.columns}
    seq_col = next((cols[k] for k in _SEQUENCE_COLUMNS if k in cols), None)
    if seq_col is None:
        raise InputError(f"no 'sequence' column (columns: {list(raw.columns)})", path=src)
    name_col = next((cols[k] for k in _NAME_COLUMNS if k in cols), None)
    split_col = cols.get("split")
    labels, ignored, notes = {}, [], []
    for c in raw.columns:
        if c in (seq_col, name_col, split_col):
            continue
        values = raw[c].str.strip()
        low = c.lower()
        named = low in _LABEL_NAMES or low.startswith(LABEL_PREFIX)
        if not named and not values.str.fullmatch(r"[+-]?\d+").all():
            ignored.append(c)
            continue
        bad = ~values.isin(["0", "1"])
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(f"column {c!r}: label must be 0 or 1, got {raw[c].iloc[i]!r}", path=src, line=i + 2)
        task = c[len(LABEL_PREFIX):] if low.startswith(LABEL_PREFIX) else ("bound" if named else c)
        if task in labels:
            raise InputError(f"two label columns give task {task!r}; rename one", path=src)
        labels[task] = values.astype(np.int8).to_numpy()
    if ignored:
        notes.append(f"{src}: ignored column(s) {', '.join(map(repr, ignored))} (text, not 0/1 labels)")
    if not labels:
        raise InputError("no label column next to 'sequence'" + (
            f" (columns {ignored} are not 0/1 labels)" if ignored else ""), path=src)
    seqs = raw[seq_col].str.strip().tolist()
    for i, s in enumerate(seqs):
        if not s:
            raise InputError("empty sequence", path=src, line=i + 2)
    split = None
    if split_col is not None:
        split = np.array([_split_value(v, path=src, line=i + 2) for i, v in enumerate(raw[split_col])], dtype=object)
    return LabelledRows(src, raw[name_col].str.strip().tolist() if name_col else None, seqs, labels, split,
                        np.arange(2, len(raw) + 2, dtype=np.int64), kind, notes)


def _read_labelled_fasta(path, text: str, src: str) -> LabelledRows:
    if is_stream(path):
        raise InputError("a labelled FASTA given as a stream must be a regular file here "
                         "(the command line spools streams itself)", path=src)
    headers = [(i, line[1:]) for i, line in enumerate(text.splitlines(), 1) if line.startswith(">")]
    recs = list(iter_fasta(path))  # validates ids, characters and records; same order as the headers
    labels: dict = {}
    split = []
    for k, ((line, header), (rid, _)) in enumerate(zip(headers, recs)):
        lab, sp = {}, None
        for word in header.split()[1:]:
            key, eq, value = word.partition("=")
            if not eq:
                continue
            low = key.lower()
            if low == "split":
                sp = _split_value(value, path=src, line=line)
            elif low in _LABEL_NAMES or low.startswith(LABEL_PREFIX):
                if value not in ("0", "1"):
                    raise InputError(f"record {rid!r}: {key} must be 0 or 1, got {value!r}", path=src, line=line)
                lab["bound" if low in _LABEL_NAMES else key[len(LABEL_PREFIX):]] = int(value)
        if not lab:
            raise InputError(f"record {rid!r} has no label in its header; a labelled FASTA header reads "
                             f"{FASTA_LABEL_SYNTAX}", path=src, line=line)
        if k == 0:
            labels = {t: [] for t in lab}
        elif set(lab) != set(labels):
            raise InputError(f"record {rid!r} has labels for {sorted(lab)}, the first record for "
                             f"{sorted(labels)}; every record needs the same tasks", path=src, line=line)
        if (sp is None) != (not split) and k > 0:
            raise InputError(f"record {rid!r}: {'no split=' if sp is None else 'a split='} in its header, unlike "
                             "the first record; give split= on every header or on none", path=src, line=line)
        if sp is not None:
            split.append(sp)
        for t in labels:
            labels[t].append(lab[t])
    return LabelledRows(src, [r[0] for r in recs], [r[1] for r in recs],
                        {t: np.asarray(v, dtype=np.int8) for t, v in labels.items()},
                        np.array(split, dtype=object) if split else None,
                        np.array([h[0] for h in headers], dtype=np.int64), "FASTA")


def _rows_table(rows: LabelledRows, *, name_prefix: str) -> pd.DataFrame:
    names = rows.names if rows.names is not None else [f"{name_prefix}{i}" for i in range(len(rows.seqs))]
    pos_any = np.any(np.stack(list(rows.labels.values())), axis=0)
    table = _sequence_table(names, rows.seqs, rows.labels, np.where(pos_any, "positive", "input"))
    table["_src"] = rows.path
    table["_line"] = rows.lines
    return table


def parse_split_fractions(text) -> tuple[float, float, float]:
    """``"0.8,0.1,0.1"`` -> ``(train, valid, test)`` fractions; they must sum to 1.

    Train and valid must be > 0 (training early-stops on valid); test may be 0.
    """
    if isinstance(text, str):
        parts = [p.strip() for p in text.split(",")]
    else:
        parts = list(text)
    try:
        fr = [float(p) for p in parts]
    except (TypeError, ValueError):
        raise InputError(f"--split-fractions takes three numbers TRAIN,VALID,TEST (e.g. 0.8,0.1,0.1), "
                         f"got {text!r}") from None
    if len(fr) != 3 or not all(math.isfinite(f) and 0 <= f <= 1 for f in fr):
        raise InputError(f"--split-fractions takes three numbers in [0, 1], TRAIN,VALID,TEST (e.g. 0.8,0.1,0.1), "
                         f"got {text!r}")
    if abs(sum(fr) - 1) > 1e-6:
        raise InputError(f"--split-fractions must sum to 1, got {text!r} (sum {sum(fr):g})")
    if fr[0] <= 0 or fr[1] <= 0:
        raise InputError(f"--split-fractions: the train and valid fractions must be > 0, got {text!r}")
    return fr[0], fr[1], fr[2]


def _carve_valid(table: pd.DataFrame, fraction: float, seed: int, source) -> dict:
    """Move a seeded random ``fraction`` of the train rows to the valid split (in place)."""
    if not (isinstance(fraction, (int, float)) and 0 < fraction < 1):
        raise InputError(f"valid fraction must be in (0, 1), got {fraction!r}")
    train = np.flatnonzero(table["split"].to_numpy() == "train")
    n = int(round(fraction * len(train)))
    if n < 1 or n >= len(train):
        raise InputError(f"no valid split given, and {fraction:g} of its {len(train)} train rows is {n} rows: "
                         "give a valid file (--valid) or another --valid-fraction", path=source)
    pick = np.random.default_rng(seed).choice(train, size=n, replace=False)
    table.iloc[np.sort(pick), table.columns.get_loc("split")] = "valid"
    return {"from": "train", "fraction": fraction, "seed": seed, "rows": n}


def _add_shuffles(table: pd.DataFrame, tasks, k, seed: int) -> pd.DataFrame:
    """``k`` dinucleotide shuffles of every train/valid positive as negatives, each in its source's split."""
    if int(k) != k or k < 0:
        raise InputError(f"shuffles must be an integer >= 0, got {k!r}")
    if not k:
        return table
    lab = table[[LABEL_PREFIX + t for t in tasks]].to_numpy()
    pos = table[(lab == 1).any(axis=1) & table["split"].isin(["train", "valid"]).to_numpy()]
    if pos.empty:
        return table
    sh = shuffled_negatives(pos, ratio=int(k), seed=seed + 1)
    sh["kind"] = "shuffle"
    for t in tasks:
        sh[LABEL_PREFIX + t] = np.int8(0)
    return pd.concat([table, sh], ignore_index=True)


def _check_given_splits(table: pd.DataFrame, tasks, source, *, what: str) -> None:
    """A given split needs train and test rows, and a train split with both classes of every task."""
    for part in ("train", "test"):
        if not (table["split"] == part).any():
            raise InputError(f"no {part} rows: {what} gives none (an empty split)", path=source)
    tr = table[table["split"] == "train"]
    for t in tasks:
        y = tr[LABEL_PREFIX + t].to_numpy()
        if y.min() == y.max():
            raise InputError(f"the train split has only label {int(y[0])} for task {t!r} ({len(y)} rows); "
                             "add negatives (--shuffles N makes dinucleotide shuffles of the train positives)",
                             path=source)


def _finish_width(table: pd.DataFrame, width, parts) -> int:
    """Fit every sequence to ``width``; without it, every file must share one length."""
    if width is None:
        lengths = {}
        for rows in parts:
            lengths[rows.path] = _common_length(pd.Series(rows.seqs), rows.path)
        first = parts[0].path
        for rows in parts[1:]:
            if lengths[rows.path] != lengths[first]:
                raise InputError(
                    f"sequences are {lengths[rows.path]} bp, those of {first} {lengths[first]} bp: every split "
                    "needs one width (give --width to centre-crop / N-pad them all)",
                    path=rows.path, line=int(rows.lines[0]))
        width = lengths[first]
    width = _check_width(width)
    table["sequence"] = _fit(table["sequence"], width)
    return width


def _check_names_across(table: pd.DataFrame) -> None:
    dup = table["name"].duplicated(keep=False)
    if dup.any():
        name = table.loc[dup, "name"].iloc[0]
        rows = table[table["name"] == name]
        first, second = rows.iloc[0], rows.iloc[1]
        where = (f"first at line {first['_line']}" if first["_src"] == second["_src"]
                 else f"first in {first['_src']} line {first['_line']}")
        raise InputError(f"sequence id {name!r} is repeated ({where}); ids must be unique",
                         path=second["_src"], line=int(second["_line"]))


def from_tsv(
    path,
    *,
    width: int | None = None,
    valid: float = 0.1,
    test: float = 0.1,
    seed: int = 0,
    valid_fraction: float | None = None,
    shuffles: int = 0,
    split_fractions=None,
) -> tuple[Dataset, PrepareReport]:
    """One labelled file (TSV/CSV or labelled FASTA, see :func:`read_labelled`) -> dataset.

    A ``split`` column (or ``split=`` in the FASTA headers) is kept as given; it needs train and
    test rows, and without valid rows a seeded ``valid_fraction`` (default 0.1) of the train rows
    becomes the valid split (``valid_fraction`` is an error where the file gives valid rows or has
    no split of its own).  Without a split column a seeded random split is made: ``split_fractions``
    (``"0.8,0.1,0.1"`` or three numbers, see :func:`parse_split_fractions`), else the ``valid``
    and ``test`` fractions; ``split_fractions`` with a file that has its own split is an error.
    ``shuffles=k`` adds k dinucleotide shuffles of every train/valid positive as negatives (each
    in the split of its source; test rows are kept as given).
    """
    rows = read_labelled(path)
    src = rows.path
    if split_fractions is not None:
        if rows.split is not None:
            raise InputError("the file has its own split (a split column or split= headers); "
                             "--split-fractions applies to data without one", path=src)
        _, valid, test = parse_split_fractions(split_fractions)
    table = _rows_table(rows, name_prefix="seq")
    _check_names_across(table)
    width = _finish_width(table, width, [rows])
    tasks = list(rows.labels)
    given = "the split= of its FASTA headers" if rows.fmt == "FASTA" else "its split column"
    if rows.split is not None:
        table["split"] = rows.split
        scheme = {"scheme": "given", "from": "split= in the FASTA headers" if rows.fmt == "FASTA" else "split column",
                  "file": src}
        if not (table["split"] == "valid").any():
            scheme["valid"] = _carve_valid(table, 0.1 if valid_fraction is None else valid_fraction, seed, src)
        elif valid_fraction is not None:
            raise InputError("--valid-fraction applies when no valid split is given, and the file has valid "
                             "rows", path=src)
    else:
        if valid_fraction is not None:
            raise InputError("--valid-fraction applies to a file with its own split; for a random split give "
                             "--split-fractions TRAIN,VALID,TEST", path=src)
        fr = (round(1 - valid - test, 10), valid, test)
        table["split"] = random_split(len(table), valid=valid, test=test, seed=seed)
        scheme = {"scheme": "random", "fractions": list(fr), "valid": valid, "test": test, "seed": seed}
    table = _add_shuffles(table, tasks, shuffles, seed)
    _check_classes(table, tasks, path=src, hint="a label column needs both 0 and 1 rows")
    if rows.split is not None:
        _check_given_splits(table, tasks, src, what=given)
    scheme["counts"] = {s: int((table["split"] == s).sum()) for s in ("train", "valid", "test")}
    meta = {"width": width, "seed": seed, "split": scheme, "sources": {"tsv": src}, "shuffles": int(shuffles)}
    report = PrepareReport([f"{src}: {len(rows.seqs)} sequences, tasks {', '.join(tasks)}", *rows.notes])
    order = ["name", "chrom", "start", "end", "sequence", "kind", "split"] + [LABEL_PREFIX + k for k in tasks]
    return Dataset(table[order].reset_index(drop=True), meta), report


def from_split_files(
    train,
    test,
    valid=None,
    *,
    width: int | None = None,
    valid_fraction: float = 0.1,
    shuffles: int = 0,
    seed: int = 0,
) -> tuple[Dataset, PrepareReport]:
    """A benchmark's own split files -> one dataset whose split is the files'.

    Each file is a labelled TSV/CSV or labelled FASTA (:func:`read_labelled`); all must have the
    same tasks and (without ``width``) the same sequence length.  A file's rows go to the split it
    was given as; a ``split`` column in it must agree.  Without a ``valid`` file a seeded
    ``valid_fraction`` of the train file's rows becomes the valid split.  ``shuffles=k`` adds k
    dinucleotide shuffles of every train/valid positive as negatives (the test file is kept as
    given).  The dataset's metadata records which file gave which split.

    Raises
    ------
    InputError
        Besides a bad file: tasks that differ between files, another width, a split column that
        disagrees with the file's role, an id in two files, a train split with one class.
    """
    files = {"train": train, "valid": valid, "test": test}
    parts = {role: read_labelled(p) for role, p in files.items() if p is not None}
    tasks = list(parts["train"].labels)
    frames = []
    for role, rows in parts.items():
        if list(rows.labels) != tasks:
            raise InputError(f"its tasks {list(rows.labels)} differ from those of the train file "
                             f"{parts['train'].path} ({tasks})", path=rows.path)
        if rows.split is not None:
            bad = np.flatnonzero(rows.split != role)
            if len(bad):
                raise InputError(f"split {rows.split[bad[0]]!r} in a file given as the {role} file",
                                 path=rows.path, line=int(rows.lines[bad[0]]))
        t = _rows_table(rows, name_prefix=role)
        t["split"] = role
        frames.append(t)
    table = pd.concat(frames, ignore_index=True)
    _check_names_across(table)
    width = _finish_width(table, width, list(parts.values()))
    split = {"scheme": "files", "files": {role: parts[role].path if role in parts else None
                                          for role in ("train", "valid", "test")}}
    if valid is None:
        split["valid"] = _carve_valid(table, valid_fraction, seed, parts["train"].path)
    table = _add_shuffles(table, tasks, shuffles, seed)
    _check_classes(table, tasks, path=parts["train"].path, hint="the files need both 0 and 1 labels")
    _check_given_splits(table, tasks, parts["train"].path, what="the train file")
    split["counts"] = {s: int((table["split"] == s).sum()) for s in ("train", "valid", "test")}
    meta = {"width": width, "seed": seed, "split": split, "sources": dict(split["files"]), "shuffles": int(shuffles)}
    report = PrepareReport()
    for role, rows in parts.items():
        report.add(f"{role}: {rows.path}: {len(rows.seqs)} sequences, tasks {', '.join(tasks)}", *rows.notes)
    if valid is None:
        report.add(f"valid: {split['valid']['rows']} rows ({valid_fraction:g}) drawn from the train file "
                   f"(seed {seed})")
    order = ["name", "chrom", "start", "end", "sequence", "kind", "split"] + [LABEL_PREFIX + k for k in tasks]
    return Dataset(table[order].reset_index(drop=True), meta), report


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
