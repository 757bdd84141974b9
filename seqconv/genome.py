"""Real genomics files -> fixed-width labelled windows.

FASTA (multi-record, gzip) and BED3/BED6/narrowPeak reading with line-exact
errors, a :class:`Genome` backed by pyfaidx, summit-centred windows,
negatives (GC-matched genomic background and dinucleotide shuffles) and
splits that hold out whole chromosomes.

Coordinates are 0-based, half-open everywhere (as in BED).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from seqconv.encode import IUPAC, dinucleotide_shuffle, gc_content
from seqconv.errors import InputError
from seqconv.fileio import display_name, is_stream, note_input, open_text, scratch_file

_VALID_BASES = "".join(IUPAC) + "".join(IUPAC).lower() + "-*"
_DELETE_VALID = _VALID_BASES.encode("ascii")

#: DeepSEA's held-out chromosomes.
DEFAULT_TEST_CHROMS = ("chr8", "chr9")
DEFAULT_VALID_CHROMS = ("chr7",)


# ------------------------------------------------------------------ FASTA

def iter_fasta(path, *, unique: bool = True) -> Iterator[tuple[str, str]]:
    """Yield ``(id, sequence)`` for each record of a (gzipped) FASTA file.

    The id is the header up to the first whitespace.  ``path`` may be a file,
    ``-`` (standard input), a pipe or a process substitution.  Errors name the
    file and line: sequence data before the first header, a header without an
    id, characters that are not IUPAC nucleotide codes, a record without
    sequence, an id seen before (every command treats a repeated id as an
    error; ``unique=False`` allows it), an empty file, a truncated gzip, bytes
    that are not UTF-8 text.
    """
    n_records = 0
    name, chunks, header_line = None, [], 0
    seen: dict[str, int] = {}
    with open_text(path, what="FASTA file") as fh:
        src = fh.name
        for lineno, line in enumerate(fh, 1):
            line = line.rstrip("\r\n")
            if line.startswith(">"):
                if name is not None:
                    yield _finish_record(src, name, chunks, header_line)
                    n_records += 1
                name = line[1:].split(maxsplit=1)[0] if line[1:].strip() else ""
                if not name:
                    raise InputError("FASTA header without a sequence id", path=src, line=lineno)
                if unique:
                    if name in seen:
                        raise InputError(f"sequence id {name!r} is repeated (first at line {seen[name]}); "
                                         "ids must be unique", path=src, line=lineno)
                    seen[name] = lineno
                chunks, header_line = [], lineno
            elif line.strip() == "" or line.startswith(";"):
                continue
            else:
                if name is None:
                    raise InputError(
                        "sequence data before the first '>' header (is this a FASTA file?)",
                        path=src, line=lineno)
                s = line.strip()
                bad = s.encode("ascii", "replace").translate(None, _DELETE_VALID)
                if bad:
                    col = next(i for i, ch in enumerate(s) if ch not in _VALID_BASES)
                    raise InputError(
                        f"record {name!r}: invalid character {s[col]!r} at column {col + 1}",
                        path=src, line=lineno)
                chunks.append(s)
    if name is not None:
        yield _finish_record(src, name, chunks, header_line)
        n_records += 1
    if n_records == 0:
        raise InputError("empty FASTA file (no '>' records)", path=src)


def _finish_record(path, name, chunks, header_line):
    seq = "".join(chunks)
    if not seq:
        raise InputError(f"record {name!r} has no sequence", path=path, line=header_line)
    return name, seq


def write_fasta(records, path, *, line_width: int = 60) -> Path:
    """Write ``(id, sequence)`` records (or a dict) as FASTA, atomically; ``-`` is standard output."""
    from seqconv.fileio import atomic_open

    items = records.items() if isinstance(records, dict) else records
    with atomic_open(path) as fh:
        for name, seq in items:
            if not name or any(c.isspace() for c in str(name)) or str(name).startswith(">"):
                raise InputError(f"cannot write FASTA id {name!r} (empty, whitespace or '>')")
            fh.write(f">{name}\n")
            for i in range(0, len(seq), line_width):
                fh.write(seq[i:i + line_width] + "\n")
    return Path(path)


def read_fasta(path) -> dict[str, str]:
    """All records of a FASTA file as ``{id: sequence}``; a repeated id is an error."""
    return dict(iter_fasta(path))


#: A plain-gzip (not bgzip) genome larger than this (compressed bytes) is refused: it would be read whole into
#: the memory of every job; ``bgzip`` it once instead (about 200 MB of sequence, a few yeast or fly genomes).
GZIP_IN_MEMORY_MAX = 64 * 2 ** 20


class Genome:
    """Random access to a genome FASTA: plain, bgzip (BGZF) or, when small, plain gzip.

    A plain or bgzip FASTA is read lazily with pyfaidx (bgzip through its ``.gzi``
    block index), so a whole human genome costs no memory.

    * plain FASTA: the ``.fai`` index is written next to the file; when that folder
      is read-only, to ``$XDG_CACHE_HOME/seqconv/faidx`` (default ``~/.cache``); when
      that cannot be written either, to a temporary file deleted once read; when no
      folder is writable at all the genome is read into memory.
    * bgzip (``bgzip genome.fa``, as samtools and tabix write it): ``.fai`` and
      ``.gzi`` next to the file are used when both exist; otherwise they are built
      once into the same cache folder (keyed by path, size and modification time)
      and renamed into place atomically, so parallel jobs never read a half-written
      index (or, with no writable cache, into a temporary folder deleted once read).
    * plain gzip (``gzip genome.fa``): read into memory, the documented fallback
      for small genomes; above :data:`GZIP_IN_MEMORY_MAX` compressed bytes it is
      refused with the commands that convert it to bgzip.
    * ``-`` or a pipe: read into memory.

    Parameters
    ----------
    path : str or Path
    aliases : dict, optional
        ``{name used by the intervals: name in the genome}`` (see
        :func:`parse_chrom_alias`); :meth:`fetch`, ``in`` and :meth:`resolve`
        accept either name.

    Attributes
    ----------
    sizes : dict
        ``{chrom: length}`` in file order.
    compression : {"none", "bgzf", "gzip"}
    index_location : str
        Where the index was read from: a path, ``"temporary"`` or ``"memory"``.
    """

    def __init__(self, path, *, aliases: dict | None = None):
        self.path = Path(display_name(path))
        self.aliases = dict(aliases or {})
        self.index_location = None
        stream = is_stream(path)
        self._file = Path(path)
        if not stream and not Path(path).exists():
            raise InputError("no such genome FASTA file", path=self.path)
        if not stream and Path(path).is_dir():
            raise InputError("is a folder, not a genome FASTA file", path=self.path)
        self._mem: dict[str, str] | None = None
        self._fa = None
        note_input(path)
        self.compression = "none" if stream else _compression(self._file)
        if self.compression == "gzip" and self._file.stat().st_size > GZIP_IN_MEMORY_MAX:
            name = self.path.name
            stem = name[:-3] if name.endswith(".gz") else name
            raise InputError(
                f"genome FASTA is plain gzip ({self._file.stat().st_size / 2 ** 20:.0f} MB compressed), which "
                "cannot be read by position and would be loaded whole into the memory of every job; recompress "
                f"it once with bgzip: `gunzip {name} && bgzip {stem}` "
                "(bgzip comes with htslib/tabix: apt install tabix, conda install htslib)", path=self.path)
        if stream or self.compression == "gzip":
            self._mem = read_fasta(path)
            self.index_location = "memory"
        elif self.compression == "bgzf":
            self._fa = self._open_bgzf()
        else:
            self._fa = self._open_faidx()
        self.sizes = {k: len(self._fa[k]) for k in self._fa.keys()} if self._fa is not None else \
            {k: len(v) for k, v in self._mem.items()}
        if not self.sizes:
            raise InputError("genome FASTA has no records", path=self.path)
        bad = {a: g for a, g in self.aliases.items() if g not in self.sizes}
        if bad:
            a, g = next(iter(bad.items()))
            raise InputError(f"--chrom-alias maps {a!r} to {g!r}, which is not in the genome "
                             f"({_some(self.sizes)})", path=self.path)

    def _open_faidx(self):
        import pyfaidx

        kwargs = {"sequence_always_upper": False, "as_raw": True}
        fai = Path(str(self._file) + ".fai")
        if fai.exists() or os.access(self._file.parent, os.W_OK):
            self.index_location = str(fai)
            return self._faidx(pyfaidx, kwargs)
        key = hashlib.sha1(str(self._file.resolve()).encode()).hexdigest()[:16]
        cache = _index_cache()
        if cache is not None:
            self.index_location = str(cache / f"{key}.fai")
            return self._faidx(pyfaidx, {**kwargs, "indexname": self.index_location})
        with contextlib.ExitStack() as stack:
            try:
                tmp = stack.enter_context(scratch_file(None, f"seqconv-{key}-", ".fai"))
            except OSError:
                tmp = None  # no writable temporary folder: the FASTA is read into memory below
            if tmp is not None:
                os.unlink(tmp)  # pyfaidx builds the index at that name; it is read in and deleted at once
                fa = self._faidx(pyfaidx, {**kwargs, "indexname": tmp})
                self.index_location = "temporary"
                return fa
        self._mem = read_fasta(self._file)
        self.index_location = "memory"
        return None

    def _open_bgzf(self):
        import pyfaidx

        kwargs = {"sequence_always_upper": False, "as_raw": True, "rebuild": False}
        fai, gzi = Path(f"{self._file}.fai"), Path(f"{self._file}.gzi")
        if fai.exists() and gzi.exists():
            self.index_location = str(fai)
            return self._faidx(pyfaidx, {**kwargs, "indexname": str(fai), "gzi_indexname": str(gzi)})
        st = self._file.stat()
        key = hashlib.sha1(f"{self._file.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:16]
        cache = _index_cache()
        if cache is None:  # nowhere to keep it: build into a temporary folder, read, delete
            with tempfile.TemporaryDirectory(prefix="seqconv-bgzf-") as tmp:
                fa = self._faidx(pyfaidx, {**kwargs, "indexname": f"{tmp}/{key}.fai",
                                           "gzi_indexname": f"{tmp}/{key}.gzi"})
            self.index_location = "temporary"
            return fa
        fai, gzi = cache / f"{key}.fai", cache / f"{key}.gzi"
        if not (fai.exists() and gzi.exists()):
            tmp = cache / f".{key}.{os.getpid()}"
            try:
                self._faidx(pyfaidx, {"indexname": f"{tmp}.fai", "gzi_indexname": f"{tmp}.gzi"}).close()
            finally:
                if not Path(f"{tmp}.gzi").exists() or not Path(f"{tmp}.fai").exists():
                    for ext in (".fai", ".gzi"):
                        Path(f"{tmp}{ext}").unlink(missing_ok=True)
            os.replace(f"{tmp}.gzi", gzi)  # .fai last: once it exists, both are complete
            os.replace(f"{tmp}.fai", fai)
        self.index_location = str(fai)
        return self._faidx(pyfaidx, {**kwargs, "indexname": str(fai), "gzi_indexname": str(gzi)})

    def _faidx(self, pyfaidx, kwargs):
        what = "BGZF genome FASTA" if self.compression == "bgzf" else "genome FASTA"
        try:
            return pyfaidx.Fasta(str(self._file), **kwargs)
        except OSError as exc:
            from seqconv.fileio import env_error

            err = env_error(exc, exc.filename or self.path, action="write the genome index (.fai)")
            if err is not None:
                raise err from None
            raise InputError(f"cannot index {what}: {exc}", path=self.path) from None
        except Exception as exc:  # pyfaidx raises several types for malformed files
            raise InputError(f"cannot index {what}: {exc}", path=self.path) from None

    def resolve(self, chrom: str) -> str:
        """The genome's name of ``chrom`` (through the aliases)."""
        return chrom if chrom in self.sizes else self.aliases.get(chrom, chrom)

    def __contains__(self, chrom) -> bool:
        return self.resolve(chrom) in self.sizes

    def length(self, chrom: str) -> int:
        """Length of ``chrom`` (either name); InputError naming the mismatch when it is not in the genome."""
        c = self.resolve(chrom)
        if c not in self.sizes:
            check_chroms([chrom], self)
        return self.sizes[c]

    def fetch(self, chrom: str, start: int, end: int) -> str:
        """Sequence of ``chrom:start-end`` (0-based, half-open), case as in the file."""
        c = self.resolve(chrom)
        if c not in self.sizes:
            check_chroms([chrom], self)
        if start < 0 or end > self.sizes[c] or start >= end:
            raise InputError(
                f"interval {chrom}:{start}-{end} is outside {c} (length {self.sizes[c]}); "
                "do the intervals match this genome assembly?", path=self.path)
        if self._mem is not None:
            return self._mem[c][start:end]
        if self.compression == "bgzf":
            return self._fetch_bgzf(c, start, end)
        return str(self._fa[c][start:end])

    def _fetch_bgzf(self, c: str, start: int, end: int) -> str:
        try:
            return str(self._fa[c][start:end])
        except ValueError as exc:
            # pyfaidx 0.9 seeks into the block *before* when a read starts exactly where a block of 65,536
            # bytes begins (Biopython's BGZF writer fills blocks to 65,536; htslib's bgzip stops at 65,280):
            # read from one base earlier instead, which lies inside that previous block
            if "within_block_offset" not in str(exc) or start == 0:
                raise InputError(f"cannot read {c}:{start}-{end} from the BGZF genome ({exc}); recompress it "
                                 "with htslib's bgzip", path=self.path) from None
            return str(self._fa[c][start - 1:end])[1:]


# ------------------------------------------------------------------ chromosome names

_MITO = ("chrM", "chrMT", "M", "MT")


def _variants(name: str) -> list[str]:
    if name in _MITO:
        return [m for m in _MITO if m != name]
    if name.lower().startswith("chr"):
        return [name[3:]]
    return ["chr" + name]


def auto_aliases(names, genome_names) -> dict:
    """``{name: genome name}`` for names absent from the genome whose ``chr``-prefixed/stripped
    (or chrM/MT) variant is present."""
    have = set(genome_names)
    out = {}
    for n in dict.fromkeys(names):
        if n in have:
            continue
        for v in _variants(str(n)):
            if v in have:
                out[n] = v
                break
    return out


def chrom_mismatch_hint(names, genome_names) -> str:
    """A sentence naming a naming-convention mismatch (``chr1`` vs ``1``, ``chrM`` vs ``MT``), or ``""``."""
    al = auto_aliases(names, genome_names)
    if not al:
        return ""
    a, g = next(iter(al.items()))
    return (f"the intervals use {a!r}, the genome has {g!r}; rename the chromosomes to match "
            "(seqconv prepare also takes --chrom-alias auto or a mapping file)")


def check_chroms(names, genome: Genome, *, source=None, lines=None) -> None:
    """Raise InputError when a chromosome of ``names`` is not in ``genome`` (naming the first one,
    its line in ``source``, how many are affected and any naming-convention mismatch)."""
    names = list(names)
    missing = [i for i, c in enumerate(names) if c not in genome]
    if not missing:
        return
    first = names[missing[0]]
    hint = chrom_mismatch_hint([names[i] for i in missing], genome.sizes)
    distinct = sorted(set(names[i] for i in missing))
    msg = (f"chromosome {first!r} is not in the genome {genome.path} ({_some(genome.sizes)}); "
           f"{len(missing)} interval(s) on {len(distinct)} unknown chromosome(s)")
    raise InputError(msg + (f": {hint}" if hint else ""), path=source,
                     line=None if lines is None else int(lines[missing[0]]))


def parse_chrom_alias(spec, names=(), genome_names=()) -> dict:
    """``--chrom-alias`` -> ``{name in the intervals: name in the genome}``.

    ``spec`` is ``None``; ``"auto"`` (:func:`auto_aliases` of ``names`` against
    ``genome_names``); ``"A=B,C=D"``; or a file of two whitespace-separated
    columns (``#`` comments allowed).
    """
    if spec is None or spec == "":
        return {}
    spec = str(spec)
    if spec == "auto":
        return auto_aliases(names, genome_names)
    if "=" in spec and not Path(spec).exists():
        out = {}
        for pair in spec.split(","):
            a, sep, b = pair.partition("=")
            if not sep or not a.strip() or not b.strip():
                raise InputError(f"--chrom-alias takes auto, a file or A=B pairs, got {pair!r}")
            out[a.strip()] = b.strip()
        return out
    out = {}
    with open_text(spec, what="chromosome alias file") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip() or line.startswith("#"):
                continue
            f = line.split()
            if len(f) < 2:
                raise InputError("expected two columns: name in the intervals, name in the genome",
                                 path=spec, line=lineno)
            out[f[0]] = f[1]
    return out


def _some(names, k: int = 5) -> str:
    names = list(names)
    head = ", ".join(names[:k])
    return f"has {head}{', ...' if len(names) > k else ''}"


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _compression(path: Path) -> str:
    """``"bgzf"`` (bgzip: gzip members with the BC extra field), ``"gzip"`` or ``"none"``."""
    with open(path, "rb") as fh:
        head = fh.read(16)
    if head[:2] != b"\x1f\x8b":
        return "none"
    return "bgzf" if len(head) >= 16 and head[3] & 4 and head[12:14] == b"BC" else "gzip"


def _index_cache() -> Path | None:
    """``$XDG_CACHE_HOME/seqconv/faidx`` (default ``~/.cache``) when it can be written, else None."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "seqconv" / "faidx"
    with contextlib.suppress(OSError):
        cache.mkdir(parents=True, exist_ok=True)
    return cache if cache.is_dir() and os.access(cache, os.W_OK) else None


# ------------------------------------------------------------------ BED

_MAX_COORD = 2 ** 62
BED_COLUMNS = ["chrom", "start", "end", "name", "score", "strand", "summit"]


def read_bed(path) -> pd.DataFrame:
    """Read BED3, BED6 or narrowPeak (BED6+4) intervals.

    ``track``, ``browser`` and ``#`` lines are skipped.  Columns returned:
    chrom, start, end, name, score, strand, summit (absolute 0-based position
    of the narrowPeak summit, -1 if absent), line (1-based line in the file).

    Raises
    ------
    InputError
        Empty file, fewer than 3 columns, non-integer / negative coordinates,
        ``start >= end``, a summit outside its peak: naming file and line.
    """
    rows = []
    with open_text(path, what="BED file") as fh:
        src = fh.name
        for lineno, line in enumerate(fh, 1):
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            f = line.rstrip("\r\n").split("\t")
            if len(f) < 3:
                f = line.split()
            if len(f) < 3:
                raise InputError(f"expected at least 3 tab-separated columns, found {len(f)}", path=src, line=lineno)
            chrom = f[0]
            try:
                start, end = int(f[1]), int(f[2])
            except ValueError:
                raise InputError(f"start/end must be integers, got {f[1]!r} and {f[2]!r}", path=src,
                                 line=lineno) from None
            if "_" in f[1] + f[2] or max(abs(start), abs(end)) >= _MAX_COORD:
                raise InputError(f"start/end must be plain integers below 2^62, got {f[1]!r} and {f[2]!r}",
                                 path=src, line=lineno)
            if start < 0 or end < 0:
                raise InputError(f"negative coordinate {chrom}:{start}-{end}", path=src, line=lineno)
            if start >= end:
                raise InputError(f"start >= end ({chrom}:{start}-{end})", path=src, line=lineno)
            name = f[3] if len(f) > 3 and f[3] not in ("", ".") else f"{chrom}:{start}-{end}"
            score = _float_or_nan(f[4]) if len(f) > 4 else np.nan
            strand = f[5] if len(f) > 5 else "."
            summit = -1
            if len(f) >= 10 and f[9] not in ("", "."):
                try:
                    off = int(f[9])
                    if "_" in f[9] or abs(off) >= _MAX_COORD:
                        raise ValueError
                except ValueError:
                    raise InputError(f"narrowPeak summit (column 10) must be an integer, got {f[9]!r}", path=src,
                                     line=lineno) from None
                if off >= 0:
                    if start + off >= end:
                        raise InputError(f"summit offset {off} lies outside the peak {chrom}:{start}-{end}", path=src,
                                         line=lineno)
                    summit = start + off
            rows.append((chrom, start, end, name, score, strand, summit, lineno))
    if not rows:
        raise InputError("empty BED file (no intervals)", path=src)
    df = pd.DataFrame(rows, columns=BED_COLUMNS + ["line"])
    return df.astype({"start": np.int64, "end": np.int64, "summit": np.int64})


def write_bed(intervals: pd.DataFrame, path) -> Path:
    """Write chrom/start/end (+ name, score, strand when present) as BED, atomically (read back by :func:`read_bed`)."""
    from seqconv.fileio import atomic_open

    cols = [c for c in ("chrom", "start", "end", "name", "score", "strand") if c in intervals.columns]
    if cols[:3] != ["chrom", "start", "end"]:
        raise InputError(f"BED needs chrom, start and end columns, got {list(intervals.columns)}")
    with atomic_open(path) as fh:
        out = intervals[cols].copy()
        if "score" in out:
            out["score"] = ["." if np.isnan(v) else repr(float(v)) for v in out["score"]]
        out.to_csv(fh, sep="\t", header=False, index=False)
    return Path(path)


def _float_or_nan(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return np.nan


def peak_centres(peaks: pd.DataFrame) -> np.ndarray:
    """Summit where given (narrowPeak), else the midpoint ``(start + end) // 2``."""
    mid = (peaks["start"].to_numpy() + peaks["end"].to_numpy()) // 2
    summit = peaks["summit"].to_numpy() if "summit" in peaks else np.full(len(peaks), -1)
    return np.where(summit >= 0, summit, mid)


# ------------------------------------------------------------------ windows

#: The one policy for windows at chromosome ends, used by ``prepare`` and ``predict`` (stated in their output).
WINDOW_POLICY = ("an interval running past its chromosome end is an error (wrong genome assembly?); "
                 "a window centred inside its chromosome that runs off an end is shifted inside it "
                 "(clamped, it still holds the centre)")


@dataclass
class WindowReport:
    """What :func:`windows` did: counts of windows kept, dropped and clamped."""

    n_peaks: int = 0
    n_kept: int = 0
    n_dropped_off_end: int = 0
    n_clamped: int = 0
    n_too_many_n: int = 0
    n_short_chrom: int = 0

    def lines(self) -> list[str]:
        out = [f"peaks: {self.n_peaks}, windows kept: {self.n_kept}"]
        if self.n_dropped_off_end:
            out.append(f"dropped {self.n_dropped_off_end} window(s) running off a chromosome end (--off-end drop)")
        if self.n_clamped:
            out.append(f"clamped {self.n_clamped} window(s) to stay inside their chromosome")
        if self.n_short_chrom:
            out.append(f"dropped {self.n_short_chrom} window(s) on chromosomes shorter than the window")
        if self.n_too_many_n:
            out.append(f"dropped {self.n_too_many_n} window(s) with too many N")
        return out


def windows(
    peaks: pd.DataFrame,
    genome: Genome,
    width: int,
    *,
    off_end: str = "clamp",
    source=None,
    fetch: bool = True,
) -> tuple[pd.DataFrame, WindowReport]:
    """Fixed-width windows centred on each peak's summit (or midpoint).

    Policy at chromosome ends (:data:`WINDOW_POLICY`, the same as ``predict``):
    a peak running past its chromosome's end is an error naming its line (the
    peaks do not match the genome); a window around a peak that runs off an end
    is shifted inside (``off_end="clamp"``, the default; it still contains the
    peak centre) or dropped (``"drop"``); on a chromosome shorter than
    ``width`` it is dropped and counted.

    Parameters
    ----------
    peaks : DataFrame from :func:`read_bed`
    genome : Genome
    width : int
        Window width in bp (> 0).
    off_end : {"clamp", "drop"}
    source : path, optional
        The BED file, named in errors.
    fetch : bool
        Read each window's sequence (the ``sequence`` column); False gives the coordinates only.

    Returns
    -------
    windows : DataFrame with chrom, start, end, name, sequence (chrom as the genome names it)
    report : WindowReport
    """
    width = _check_width(width)
    if off_end not in ("drop", "clamp"):
        raise InputError(f"off_end must be 'drop' or 'clamp', got {off_end!r}")
    lines = peaks["line"].to_numpy() if "line" in peaks else None
    check_chroms(peaks["chrom"].tolist(), genome, source=source, lines=lines)
    chrom = np.array([genome.resolve(c) for c in peaks["chrom"]], dtype=object)
    size = np.array([genome.sizes[c] for c in chrom], dtype=np.int64)
    past = peaks["end"].to_numpy() > size
    if past.any():
        i = int(np.flatnonzero(past)[0])
        raise InputError(
            f"interval {peaks['chrom'].iloc[i]}:{peaks['start'].iloc[i]}-{peaks['end'].iloc[i]} runs past the "
            f"end of {chrom[i]} (length {size[i]}); {int(past.sum())} interval(s) do: do the peaks match this "
            "genome assembly?", path=source, line=None if lines is None else int(lines[i]))
    report = WindowReport(n_peaks=len(peaks))
    centre = peak_centres(peaks)
    start = centre - width // 2
    end = start + width
    off = (start < 0) | (end > size)
    fits = size >= width
    report.n_short_chrom = int((~fits).sum())
    keep = ~off
    if off_end == "clamp":
        start = np.where(off & fits, np.clip(start, 0, np.maximum(size - width, 0)), start)
        end = start + width
        report.n_clamped = int((off & fits).sum())
        keep = fits
    else:
        report.n_dropped_off_end = int((off & fits).sum())
    keep = keep & fits
    out = pd.DataFrame({
        "chrom": chrom[keep],
        "start": start[keep].astype(np.int64),
        "end": end[keep].astype(np.int64),
        "name": peaks["name"].to_numpy()[keep],
    })
    if fetch:
        out["sequence"] = [genome.fetch(c, s, e) for c, s, e in zip(out["chrom"], out["start"], out["end"])]
    report.n_kept = len(out)
    return out, report


def _check_width(width) -> int:
    try:
        w = int(width)
    except (TypeError, ValueError):
        raise InputError(f"window width must be a positive integer, got {width!r}") from None
    if w <= 0 or w != width:
        raise InputError(f"window width must be a positive integer, got {width!r}")
    return w


# ------------------------------------------------------------------ negatives

def _intervals_by_chrom(regions: Sequence[pd.DataFrame], margin: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Merge intervals (padded by ``margin``) per chromosome into sorted arrays."""
    frames = [r[["chrom", "start", "end"]] for r in regions if r is not None and len(r)]
    if not frames:
        return {}
    df = pd.concat(frames, ignore_index=True)
    out = {}
    for chrom, g in df.groupby("chrom", sort=False):
        s = np.sort((g["start"].to_numpy() - margin).clip(0))
        e = (g["end"].to_numpy() + margin)[np.argsort(g["start"].to_numpy() - margin, kind="stable")]
        e = np.maximum.accumulate(e)
        # merge: a new block starts where start > running max end of previous
        new = np.concatenate(([True], s[1:] > e[:-1]))
        idx = np.flatnonzero(new)
        ends = np.append(e[idx[1:] - 1], e[-1])
        out[chrom] = (s[idx], ends)
    return out


def _overlaps(blocks, chrom: str, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    if chrom not in blocks:
        return np.zeros(len(start), dtype=bool)
    bs, be = blocks[chrom]
    i = np.searchsorted(bs, end, side="left") - 1  # last block starting before end
    ok = i >= 0
    hit = np.zeros(len(start), dtype=bool)
    hit[ok] = be[i[ok]] > start[ok]
    return hit


@dataclass
class BackgroundReport:
    """How well the GC-matched background matched the positives."""

    n_wanted: int = 0
    n_drawn: int = 0
    n_candidates: int = 0
    short_bins: list = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"GC-matched background: {self.n_drawn} of {self.n_wanted} wanted "
               f"(from {self.n_candidates} candidate windows)"]
        for lo, hi, want, got in self.short_bins:
            out.append(f"  GC bin [{lo:.2f}, {hi:.2f}): wanted {want}, found only {got}")
        return out


def gc_matched_background(
    genome: Genome,
    positives_gc: np.ndarray,
    width: int,
    *,
    avoid: Sequence[pd.DataFrame] = (),
    margin: int = 500,
    ratio: float = 1.0,
    max_n_frac: float = 0.05,
    n_bins: int = 20,
    chroms: Sequence[str] | None = None,
    seed=None,
    max_rounds: int = 20,
) -> tuple[pd.DataFrame, BackgroundReport]:
    """Genomic windows that overlap no peak, matched to the positives' GC.

    Candidate windows are drawn uniformly over the genome (chromosomes weighted
    by length), those within ``margin`` bp of any interval in ``avoid`` or with
    more than ``max_n_frac`` N are rejected, and the rest are binned by GC
    content into ``n_bins`` equal bins; each bin receives ``ratio`` times the
    positives' count of that bin.

    Parameters
    ----------
    positives_gc : (P,) GC fraction of each positive window
    avoid : DataFrames with chrom/start/end (peaks of every TF, exclusion lists)
    chroms : restrict sampling to these chromosomes (default: all)
    seed : int, reproducible to the byte for the same inputs and seed

    Returns
    -------
    background : DataFrame with chrom, start, end, name, sequence
    report : BackgroundReport
    """
    width = _check_width(width)
    rng = np.random.default_rng(seed)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    pos_bins = np.clip(np.digitize(positives_gc, edges) - 1, 0, n_bins - 1)
    want = np.round(np.bincount(pos_bins, minlength=n_bins) * ratio).astype(int)
    blocks = _intervals_by_chrom(avoid, margin)
    names = [c for c in (chroms if chroms is not None else genome.sizes) if genome.sizes[c] > width]
    if not names:
        raise InputError(f"no chromosome longer than the window width {width}", path=genome.path)
    lengths = np.array([genome.sizes[c] - width for c in names], dtype=np.float64)
    p = lengths / lengths.sum()
    got: list[list[tuple]] = [[] for _ in range(n_bins)]
    need = want.copy()
    report = BackgroundReport(n_wanted=int(want.sum()))
    seen = set()
    for _ in range(max_rounds):
        if need.sum() <= 0:
            break
        n_draw = int(max(4 * need.sum(), 1000))
        which = rng.choice(len(names), size=n_draw, p=p)
        for ci in np.unique(which):
            chrom = names[ci]
            k = int((which == ci).sum())
            starts = np.sort(rng.integers(0, genome.sizes[chrom] - width + 1, size=k))
            ends = starts + width
            ok = ~_overlaps(blocks, chrom, starts, ends)
            for s in starts[ok]:
                key = (chrom, int(s))
                if key in seen:
                    continue
                seen.add(key)
                seq = genome.fetch(chrom, int(s), int(s) + width)
                report.n_candidates += 1
                upper = seq.upper()
                if upper.count("N") > max_n_frac * width:
                    continue
                gc = gc_content(seq)[0]
                if np.isnan(gc):
                    continue
                b = min(int(np.digitize(gc, edges)) - 1, n_bins - 1)
                if need[b] > 0:
                    got[b].append((chrom, int(s), int(s) + width, seq))
                    need[b] -= 1
    for b in range(n_bins):
        if need[b] > 0:
            report.short_bins.append((edges[b], edges[b + 1], int(want[b]), int(want[b] - need[b])))
    rows = [r for bucket in got for r in bucket]
    rows.sort(key=lambda r: (r[0], r[1]))
    df = pd.DataFrame(rows, columns=["chrom", "start", "end", "sequence"])
    df.insert(3, "name", [f"bg:{c}:{s}-{e}" for c, s, e in zip(df["chrom"], df["start"], df["end"])])
    report.n_drawn = len(df)
    return df, report


def shuffled_negatives(positives: pd.DataFrame, *, ratio: int = 1, seed=None) -> pd.DataFrame:
    """Dinucleotide-shuffled copies of positive windows (``ratio`` per positive).

    The shuffles keep each window's coordinates (so a chromosome split puts a
    shuffle in the same split as its source) and are named ``<name>:shuf<i>``.
    """
    if ratio < 1 or int(ratio) != ratio:
        raise ValueError(f"shuffle ratio must be a positive integer, got {ratio}")
    seqs = dinucleotide_shuffle(positives["sequence"].tolist(), n_shuffles=int(ratio), seed=seed)
    rep = positives.loc[positives.index.repeat(int(ratio))].reset_index(drop=True)
    rep["name"] = [f"{n}:shuf{i % int(ratio)}" for i, n in enumerate(rep["name"])]
    rep["sequence"] = seqs
    return rep


# ------------------------------------------------------------------ splits

def chromosome_split(
    chroms,
    *,
    test: Sequence[str] = DEFAULT_TEST_CHROMS,
    valid: Sequence[str] = DEFAULT_VALID_CHROMS,
    known: Sequence[str] | None = None,
) -> np.ndarray:
    """Split labels that hold out whole chromosomes.

    Parameters
    ----------
    chroms : (N,) chromosome of each example
    test, valid : chromosomes held out for testing / validation (default as
        DeepSEA: chr8 and chr9 test, chr7 validation)
    known : all chromosome names of the genome; a held-out name not among them
        is an error (a typo would otherwise silently give an empty test set)

    Returns
    -------
    split : (N,) array of "train", "valid", "test"
    """
    test, valid = list(test), list(valid)
    both = set(test) & set(valid)
    if both:
        raise InputError(f"chromosome(s) {sorted(both)} are in both the test and the validation set")
    if known is not None:
        missing = [c for c in test + valid if c not in set(known)]
        if missing:
            hint = chrom_mismatch_hint(missing, known).replace("the intervals use", "the held-out names use")
            raise InputError(f"held-out chromosome(s) {missing} are not in the genome ({_some(known)})"
                             + (f": {hint} (or give --test-chroms / --valid-chroms)" if hint else
                                "; give --test-chroms / --valid-chroms"))
    chroms = np.asarray(chroms, dtype=object)
    split = np.full(len(chroms), "train", dtype=object)
    split[np.isin(chroms, valid)] = "valid"
    split[np.isin(chroms, test)] = "test"
    return split


def random_split(n: int, *, valid: float = 0.1, test: float = 0.1, seed=None) -> np.ndarray:
    """Seeded random split labels for inputs without coordinates."""
    if not (0 <= valid < 1 and 0 <= test < 1 and valid + test < 1):
        raise ValueError(f"valid and test fractions must be in [0, 1) and sum below 1, got {valid}, {test}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    n_test, n_valid = int(round(test * n)), int(round(valid * n))
    split = np.full(n, "train", dtype=object)
    split[order[:n_test]] = "test"
    split[order[n_test:n_test + n_valid]] = "valid"
    return split
