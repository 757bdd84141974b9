"""Read and write motif files: MEME (minimal motif format v4) and JASPAR count files.

* :func:`read_meme` / :func:`write_meme`  — ``MOTIF id name`` + ``letter-probability matrix`` blocks;
* :func:`read_jaspar` / :func:`write_jaspar` — ``>id name`` + ``A [ counts ]`` rows (or four bare rows);
* :func:`read_motifs` picks the reader from the content;
* :func:`jaspar_collection` loads JASPAR 2024 CORE vertebrates (non-redundant, 879 motifs) offline.

Every matrix comes back ``(L, 4)`` (A, C, G, T).  Malformed files raise
:class:`~seqconv.errors.InputError` naming the file, line and motif.  Files may be gzipped.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from seqconv.errors import InputError
from seqconv.fileio import atomic_open, open_text
from seqconv.motifs.core import Motif, as_motif_list

_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_ROW4 = re.compile(rf"^\s*({_NUM})\s+({_NUM})\s+({_NUM})\s+({_NUM})\s*$")

#: Names accepted by :func:`jaspar_collection` (case-insensitive) and by ``seqconv scan --motifs``.
COLLECTION_NAMES = ("jaspar", "jaspar2024", "jaspar2024_core_vertebrates")

_COLLECTION_FILE = "jaspar2024_core_vertebrates.meme"


def _read_lines(path) -> list[str]:
    """Every line of a (gzipped) motif file; a missing, unreadable, binary or non-UTF-8 file is an InputError."""
    if str(path) != "-" and not Path(path).exists():
        raise InputError("motif file not found", path=path)
    with open_text(path, what="motif file") as fh:
        return fh.read().splitlines()


# ---------------------------------------------------------------- MEME

def read_meme(path) -> list[Motif]:
    """Read every motif of a MEME minimal-format file (DNA, ACGT).

    Parameters
    ----------
    path : str or Path
        MEME text file (``.gz`` allowed), e.g. a JASPAR or MEME/STREME export.

    Returns
    -------
    list of Motif
        In file order; the file's background (``Background letter frequencies``)
        is attached to each motif, ``nsites`` becomes ``n_sites``.

    Raises
    ------
    InputError
        No ``MEME version`` line or no motif, a non-DNA alphabet, a matrix with
        the wrong number of rows or columns, bad numbers, rows not summing to one,
        duplicate motif ids.
    """
    return _parse_meme(_read_lines(path), str(path))


def _parse_meme(lines: list[str], src: str) -> list[Motif]:
    if not any(line.startswith("MEME version") for line in lines[:50]):
        raise InputError("not a MEME motif file (no 'MEME version' line)", path=src)
    background = None
    motifs: list[Motif] = []
    seen: dict[str, int] = {}
    i, n = 0, len(lines)
    cur = None  # (id, name, line_no)
    url = None
    while i < n:
        line = lines[i].strip()
        if line.startswith("ALPHABET"):
            if "=" in line:
                alph = line.split("=", 1)[1].strip()
                if alph.upper() != "ACGT":
                    raise InputError(f"alphabet {alph!r} is not DNA (ACGT)", path=src, line=i + 1)
            elif "DNA" not in line.upper():
                raise InputError(f"custom alphabet {line!r} is not DNA", path=src, line=i + 1)
        elif line.startswith("Background letter frequencies"):
            vals = {}
            j = i + 1
            while j < n and len(vals) < 4 and lines[j].strip() and not lines[j].startswith("MOTIF"):
                toks = lines[j].split()
                for k in range(0, len(toks) - 1, 2):
                    try:
                        vals[toks[k].upper()] = float(toks[k + 1])
                    except ValueError:
                        raise InputError(f"bad background frequency {toks[k + 1]!r}",
                                         path=src, line=j + 1) from None
                j += 1
            try:
                background = [vals[c] for c in "ACGT"]
            except KeyError:
                raise InputError("background must give A, C, G and T", path=src, line=i + 1) from None
            i = j
            continue
        elif line.startswith("MOTIF"):
            toks = line.split()
            if len(toks) < 2:
                raise InputError("MOTIF line without an id", path=src, line=i + 1)
            cur = (toks[1], " ".join(toks[2:]) or toks[1], i + 1)
            url = None
        elif line.startswith("URL") and motifs and cur is None:
            motifs[-1].url = line.split(None, 1)[1] if len(line.split(None, 1)) > 1 else None
        elif line.startswith("letter-probability matrix"):
            if cur is None:
                raise InputError("letter-probability matrix outside a MOTIF block", path=src, line=i + 1)
            head = line.split(":", 1)[1] if ":" in line else ""
            fields = dict(re.findall(r"(\w+)\s*=\s*(\S+)", head))
            motif_id, name, motif_line = cur
            try:
                width = int(fields["w"]) if "w" in fields else None
                alength = int(fields.get("alength", 4))
                nsites = float(fields["nsites"]) if "nsites" in fields else None
            except ValueError:
                raise InputError(f"motif {motif_id}: bad header {head.strip()!r}", path=src, line=i + 1) from None
            if alength != 4:
                raise InputError(f"motif {motif_id}: alength={alength}, expected 4 (DNA)", path=src, line=i + 1)
            rows = []
            j = i + 1
            while j < n and (width is None or len(rows) < width):
                text = lines[j].strip()
                if not text:
                    if width is None and rows:
                        break
                    j += 1
                    continue
                m = _ROW4.match(text)
                if not m:
                    if width is None and rows:
                        break
                    what = "expected 4 probabilities" if len(text.split()) != 4 else "bad number"
                    raise InputError(f"motif {motif_id}: row {len(rows) + 1}: {what} in {text!r}",
                                     path=src, line=j + 1)
                rows.append([float(v) for v in m.groups()])
                j += 1
            if width is not None and len(rows) != width:
                raise InputError(f"motif {motif_id}: header says w= {width} but {len(rows)} rows follow",
                                 path=src, line=i + 1)
            if motif_id in seen:
                raise InputError(f"motif id {motif_id!r} repeated (first at line {seen[motif_id]})",
                                 path=src, line=motif_line)
            seen[motif_id] = motif_line
            if nsites is not None and nsites <= 0:
                nsites = None
            try:
                motif = Motif(motif_id, np.array(rows).reshape(-1, 4), kind="probabilities", name=name,
                              background=background, n_sites=nsites, source=src, url=url)
            except InputError as exc:
                raise InputError(f"{exc}".replace(f"{src}: ", "", 1), path=src, line=motif_line) from None
            motifs.append(motif)
            cur = None
            i = j
            continue
        i += 1
    if not motifs:
        raise InputError("no motif (no 'letter-probability matrix' block) found", path=src)
    return motifs


def _fmt(x: float) -> str:
    return f"{x:.6f}"


def _rows_summing_to_one(P: np.ndarray) -> np.ndarray:
    """Rows rounded to 6 decimals that still sum to 1 (the rounding residue goes to each row's largest entry),
    so that a written file read back and written again is byte-identical."""
    R = np.round(np.asarray(P, dtype=np.float64), 6)
    idx = np.argmax(R, axis=1)
    R[np.arange(len(R)), idx] += 1.0 - R.sum(axis=1)
    return np.round(R, 6)


def write_meme(motifs, path, *, background=None) -> None:
    """Write motifs as a MEME v4 minimal-format file (atomically).

    Parameters
    ----------
    motifs : Motif or list of Motif
    path : str or Path
    background : array-like (4,), optional
        Written in the header; default: the first motif's background.
    """
    motifs = as_motif_list(motifs)
    if not motifs:
        raise ValueError("no motifs to write")
    bg = np.asarray(background if background is not None else motifs[0].background, dtype=float)
    with atomic_open(path) as fh:
        fh.write("MEME version 4\n\nALPHABET= ACGT\n\nstrands: + -\n\n")
        fh.write("Background letter frequencies\n")
        fh.write(" ".join(f"{c} {v:.6g}" for c, v in zip("ACGT", bg)) + "\n\n")
        for m in motifs:
            name = f" {m.name}" if m.name and m.name != m.id else ""
            nsites = m.n_sites if m.n_sites is not None else 20
            fh.write(f"MOTIF {m.id}{name}\n")
            fh.write(f"letter-probability matrix: alength= 4 w= {m.width} nsites= {nsites:g} E= 0\n")
            for row in _rows_summing_to_one(m.probabilities):
                fh.write(" ".join(_fmt(v) for v in row) + "\n")
            if m.url:
                fh.write(f"URL {m.url}\n")
            fh.write("\n")


# ---------------------------------------------------------------- JASPAR

_JASPAR_ROW = re.compile(r"^\s*([ACGTacgt])?\s*\[?\s*([^\]]*?)\s*\]?\s*$")


def read_jaspar(path) -> list[Motif]:
    """Read a JASPAR count file (``>ID name`` then rows ``A [ c1 c2 ... ]`` for A, C, G, T).

    Bare numeric rows (the ``.pfm`` variant) are read in A, C, G, T order.

    Returns
    -------
    list of Motif
        Built from counts (``n_sites`` = the largest column total).
    """
    return _parse_jaspar(_read_lines(path), str(path))


def _parse_jaspar(lines: list[str], src: str) -> list[Motif]:
    motifs: list[Motif] = []
    seen: dict[str, int] = {}
    i, n = 0, len(lines)
    while i < n:
        line = lines[i].strip()
        if not line or line.startswith("#"):
            i += 1
            continue
        if not line.startswith(">"):
            raise InputError(f"expected a '>ID name' header, got {line[:40]!r}", path=src, line=i + 1)
        toks = line[1:].split(None, 1)
        if not toks:
            raise InputError("header without an id", path=src, line=i + 1)
        motif_id = toks[0]
        name = toks[1].strip() if len(toks) > 1 else motif_id
        head_line = i + 1
        rows: dict[str, list[float]] = {}
        order = "ACGT"
        j = i + 1
        while j < n and len(rows) < 4:
            text = lines[j].strip()
            if not text:
                j += 1
                continue
            if text.startswith(">"):
                break
            m = _JASPAR_ROW.match(text)
            letter = (m.group(1) or order[len(rows)]).upper() if m else None
            body = m.group(2) if m else ""
            try:
                vals = [float(v) for v in body.split()]
            except ValueError:
                raise InputError(f"motif {motif_id}: bad count in {text[:60]!r}", path=src, line=j + 1) from None
            if m is None or not vals:
                raise InputError(f"motif {motif_id}: expected a count row, got {text[:60]!r}",
                                 path=src, line=j + 1)
            if letter in rows:
                raise InputError(f"motif {motif_id}: row {letter} given twice", path=src, line=j + 1)
            rows[letter] = vals
            j += 1
        if len(rows) != 4:
            raise InputError(f"motif {motif_id}: expected 4 rows (A, C, G, T), found {len(rows)}",
                             path=src, line=head_line)
        widths = {len(v) for v in rows.values()}
        if len(widths) != 1:
            raise InputError(f"motif {motif_id}: rows A, C, G, T have different lengths "
                             f"{[len(rows[c]) for c in 'ACGT']}", path=src, line=head_line)
        if motif_id in seen:
            raise InputError(f"motif id {motif_id!r} repeated (first at line {seen[motif_id]})",
                             path=src, line=head_line)
        seen[motif_id] = head_line
        counts = np.array([rows[c] for c in "ACGT"], dtype=np.float64).T.reshape(-1, 4)
        try:
            motifs.append(Motif(motif_id, counts, kind="counts", name=name, source=src))
        except InputError as exc:
            raise InputError(str(exc).replace(f"{src}: ", "", 1), path=src, line=head_line) from None
        i = j
    if not motifs:
        raise InputError("no motif found", path=src)
    return motifs


def write_jaspar(motifs, path) -> None:
    """Write motifs in JASPAR count format (counts = probabilities x n_sites for probability motifs)."""
    motifs = as_motif_list(motifs)
    if not motifs:
        raise ValueError("no motifs to write")
    with atomic_open(path) as fh:
        for m in motifs:
            fh.write(f">{m.id}\t{m.name}\n")
            counts = m.counts
            for k, c in enumerate("ACGT"):
                vals = " ".join(f"{v:g}" if m.has_counts else f"{v:.4f}" for v in counts[:, k])
                fh.write(f"{c}  [ {vals} ]\n")


# ---------------------------------------------------------------- dispatch

def _collection_path() -> Path | None:
    here = Path(__file__).resolve().parent
    candidates = [
        here.parent / "data" / _COLLECTION_FILE,                  # seqconv/data/ (package data)
        here.parent.parent / "data" / _COLLECTION_FILE,           # repo data/ (source checkout)
        here.parent.parent.parent / "shared" / "data" / "jaspar2024"
        / "JASPAR2024_CORE_vertebrates_nonredundant.meme.gz",     # ../shared next to the checkout
    ]
    for p in candidates:
        if p.exists():
            return p
    return None


def jaspar_collection() -> list[Motif]:
    """JASPAR 2024 CORE vertebrates, non-redundant (879 motifs), read offline.

    The file is bundled as ``seqconv/data/jaspar2024_core_vertebrates.meme`` (CC BY 4.0,
    Rauluseviciute et al. 2024); see the repository's ``data/PROVENANCE.md``.
    """
    path = _collection_path()
    if path is None:
        raise InputError(f"JASPAR collection file {_COLLECTION_FILE} not found next to the package")
    return read_meme(path)


def read_motifs(source) -> list[Motif]:
    """Motifs from a MEME or JASPAR file (detected from the content), or a collection name.

    Parameters
    ----------
    source : str or Path or Motif or list of Motif
        A file path; ``"jaspar"`` (see :data:`COLLECTION_NAMES`) for the bundled
        JASPAR 2024 CORE vertebrates collection; Motif objects pass through.
    """
    if isinstance(source, (str, Path)):
        p = Path(source)
        if not p.exists() and str(source).lower() in COLLECTION_NAMES:
            return jaspar_collection()
        lines = _read_lines(p)
        first = next((ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")), "")
        src = "<stdin>" if str(source) == "-" else str(p)
        if any(ln.startswith("MEME version") for ln in lines[:50]):
            return _parse_meme(lines, src)
        if first.startswith(">"):
            return _parse_jaspar(lines, src)
        raise InputError("unrecognised motif file: neither MEME ('MEME version' line) nor JASPAR "
                         "('>ID name' header)", path=p)
    return as_motif_list(source)
