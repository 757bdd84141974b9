"""seqconv.motifs.io: MEME and JASPAR files, the bundled JASPAR collection."""

import gzip
from pathlib import Path

import numpy as np
import pytest

from seqconv.errors import InputError
from seqconv.motifs import Motif, jaspar_collection, read_jaspar, read_meme, read_motifs, write_jaspar, write_meme

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "jaspar2024"


def test_bundled_collection_is_jaspar2024_core_vertebrates():
    motifs = jaspar_collection()
    assert len(motifs) == 879
    by_id = {m.id: m for m in motifs}
    ctcf = by_id["MA0139.2"]
    assert ctcf.name == "CTCF" and ctcf.width == 15 and ctcf.n_sites == 913
    assert ctcf.url == "https://jaspar.elixir.no/matrix/MA0139.2"
    assert all(np.allclose(m.probabilities.sum(axis=1), 1) for m in motifs)
    assert read_motifs("jaspar")[0].id == motifs[0].id


def test_meme_round_trip(tmp_path):
    motifs = jaspar_collection()[:5]
    path = tmp_path / "out.meme"
    write_meme(motifs, path)
    back = read_meme(path)
    assert [m.id for m in back] == [m.id for m in motifs]
    assert [m.name for m in back] == [m.name for m in motifs]
    for a, b in zip(motifs, back):
        np.testing.assert_allclose(a.probabilities, b.probabilities, atol=1e-6)
        assert a.n_sites == b.n_sites


def test_jaspar_round_trip_keeps_counts(tmp_path):
    m = Motif.from_counts("MA0001.1", [[1, 2, 3, 4], [10, 0, 0, 0], [0, 0, 5, 5]], name="TEST")
    path = tmp_path / "m.jaspar"
    write_jaspar([m], path)
    assert path.read_text().startswith(">MA0001.1\tTEST\nA  [ 1 10 0 ]\n")
    back = read_jaspar(path)[0]
    np.testing.assert_array_equal(back.counts, m.counts)
    assert back.name == "TEST"
    assert read_motifs(path)[0].id == "MA0001.1"  # detected from the content


def test_bare_pfm_rows(tmp_path):
    p = tmp_path / "m.pfm"
    p.write_text(">X1 foo\n1 2\n3 4\n5 6\n7 8\n")
    m = read_jaspar(p)[0]
    np.testing.assert_array_equal(m.counts, [[1, 3, 5, 7], [2, 4, 6, 8]])


@pytest.mark.skipif(not SHARED.exists(), reason="../shared/data/jaspar2024 absent")
def test_shared_jaspar_counts_match_bundled_meme():
    counts = read_jaspar(SHARED / "JASPAR2024_CORE_vertebrates_nonredundant.jaspar.gz")
    meme = jaspar_collection()
    assert [m.id for m in counts] == [m.id for m in meme]
    worst = max(np.abs(a.probabilities - b.probabilities).max() for a, b in zip(counts, meme))
    assert worst < 5e-6  # the MEME file rounds to 6 decimals
    assert all(abs(a.counts[0].sum() - b.n_sites) < 0.01 for a, b in zip(counts, meme))  # nsites: column 1


def test_gzip_meme(tmp_path):
    text = (Path(__file__).resolve().parents[1] / "seqconv" / "data" / "jaspar2024_core_vertebrates.meme").read_text()
    gz = tmp_path / "m.meme.gz"
    with gzip.open(gz, "wt") as fh:
        fh.write(text)
    assert len(read_meme(gz)) == 879


_HEAD = "MEME version 4\n\nALPHABET= ACGT\n\nBackground letter frequencies\nA 0.3 C 0.2 G 0.2 T 0.3\n\n"


def _meme(tmp_path, body, head=_HEAD):
    p = tmp_path / "bad.meme"
    p.write_text(head + body)
    return p


def test_meme_background_is_attached(tmp_path):
    p = _meme(tmp_path, "MOTIF M1 one\nletter-probability matrix: alength= 4 w= 1 nsites= 7\n1 0 0 0\n")
    m = read_meme(p)[0]
    np.testing.assert_allclose(m.background, [0.3, 0.2, 0.2, 0.3])
    assert m.n_sites == 7 and m.name == "one"


@pytest.mark.parametrize("body, message, line", [
    ("MOTIF M1\nletter-probability matrix: alength= 4 w= 2 nsites= 5\n0.25 0.25 0.25 0.25\n\nMOTIF M2\n",
     "motif M1: row 2: expected 4 probabilities", 12),
    ("MOTIF M1\nletter-probability matrix: alength= 4 w= 1\n0.2 0.2 0.2 0.2\n",
     "motif M1: probability row 1 sums to 0.8", 8),
    ("MOTIF M1\nletter-probability matrix: alength= 4 w= 1\n0.5 0.5 x 0\n", "expected 4 probabilities|bad number", 10),
    ("MOTIF M1\nletter-probability matrix: alength= 4 w= 1\n1 0 0 0\n"
     "MOTIF M1\nletter-probability matrix: alength= 4 w= 1\n1 0 0 0\n", "repeated", 11),
    ("MOTIF M1\nletter-probability matrix: alength= 4 w= 1\n1 0 -0.5 0.5\n", "negative probability", 8),
    ("MOTIF M1\nletter-probability matrix: alength= 4 w= 0\n", "width 0", 8),
])
def test_meme_errors_name_file_line_and_motif(tmp_path, body, message, line):
    p = _meme(tmp_path, body)
    with pytest.raises(InputError, match=message) as exc:
        read_meme(p)
    assert str(exc.value).startswith(f"{p}:{line}: ")


def test_unreadable_motif_files(tmp_path):
    with pytest.raises(InputError, match="motif file not found"):
        read_motifs(tmp_path / "missing.meme")
    junk = tmp_path / "junk.txt"
    junk.write_text("hello\n")
    with pytest.raises(InputError, match="unrecognised motif file"):
        read_motifs(junk)
    with pytest.raises(InputError, match="not DNA"):
        read_meme(_meme(tmp_path, "", head="MEME version 4\nALPHABET= ACDEFGHIKLMNPQRSTVWY\n"))
    with pytest.raises(InputError, match="no motif"):
        read_meme(_meme(tmp_path, ""))
    bad = tmp_path / "bad.jaspar"
    bad.write_text(">M1 x\nA [ 1 2 ]\nC [ 1 2 ]\nG [ 1 2 3 ]\nT [ 1 2 ]\n")
    with pytest.raises(InputError, match="different lengths") as exc:
        read_jaspar(bad)
    assert str(exc.value).startswith(f"{bad}:1: motif M1")
