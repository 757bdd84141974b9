"""seqconv.motifs.core: the Motif type, its conversions and its validation."""

import numpy as np
import pytest

from seqconv.errors import InputError
from seqconv.motifs import Motif


def _counts():
    # A strong 4-position site (ACGT) from 10 sites, one column mixed
    return np.array([[10, 0, 0, 0], [0, 9, 1, 0], [0, 0, 10, 0], [2, 2, 2, 4]], dtype=float)


def test_counts_to_probabilities_and_n_sites():
    m = Motif.from_counts("M1", _counts(), name="test")
    assert m.width == 4 and m.n_sites == 10 and m.has_counts
    np.testing.assert_allclose(m.probabilities.sum(axis=1), 1)
    np.testing.assert_allclose(m.probabilities[1], [0, 0.9, 0.1, 0])
    assert m.consensus() == "ACGT"
    np.testing.assert_allclose(m.counts, _counts())


def test_meme_pseudocount_formula():
    m = Motif.from_counts("M1", _counts())
    bg = np.array([0.3, 0.2, 0.2, 0.3])
    p = m.probabilities_with_pseudocount(0.1, bg)
    expected = (_counts() + 0.1 * bg) / (10 + 0.1)  # MEME apply_pseudocount_to_motif
    np.testing.assert_allclose(p, expected)
    np.testing.assert_allclose(p.sum(axis=1), 1)
    # probabilities without nsites use MEME's default of 20 sites
    q = Motif.from_probabilities("M2", m.probabilities)
    np.testing.assert_allclose(q.probabilities_with_pseudocount(1.0), (m.probabilities * 20 + 0.25) / 21)


def test_log_odds_bits():
    m = Motif.from_counts("M1", _counts())
    lo = m.log_odds(0.1)
    p = (_counts() + 0.025) / 10.1
    np.testing.assert_allclose(lo, np.log2(p / 0.25))
    assert lo.shape == (4, 4)
    with pytest.raises(InputError, match=r"motif M1: probability of C at row 1 is zero after pseudocount 0"):
        m.log_odds(0.0)


def test_information_content_uniform_is_two_minus_entropy():
    m = Motif.from_counts("M1", _counts())
    p = m.probabilities
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(p > 0, p * np.log2(p), 0).sum(axis=1)
    np.testing.assert_allclose(m.information_content(), 2 - h)
    assert m.information_content()[0] == pytest.approx(2.0)


def test_trim_drops_low_information_flanks_only():
    flat = [5, 5, 5, 5]
    counts = np.array([flat, [20, 0, 0, 0], flat, [0, 0, 20, 0], flat, flat], dtype=float)
    m = Motif.from_counts("M", counts)
    t = m.trim(0.5)
    assert t.width == 3  # core kept whole, flat middle column included
    assert t.consensus()[0] == "A" and t.consensus()[-1] == "G"
    with pytest.raises(InputError, match="nothing left"):
        Motif.from_counts("F", np.array([flat, flat], dtype=float)).trim(0.5)


def test_reverse_complement():
    m = Motif.from_counts("M1", _counts(), background=[0.1, 0.2, 0.3, 0.4])
    rc = m.reverse_complement()
    assert rc.consensus() == "ACGT"[::-1].translate(str.maketrans("ACGT", "TGCA"))
    np.testing.assert_allclose(rc.reverse_complement().probabilities, m.probabilities)
    np.testing.assert_allclose(rc.background, [0.4, 0.3, 0.2, 0.1])
    # a site scores the same as its reverse complement under the reverse-complement motif
    lo, lo_rc = m.log_odds(0.1), rc.log_odds(0.1)
    site = [0, 1, 2, 3]
    rc_site = [3 - b for b in site[::-1]]
    assert sum(lo[i, b] for i, b in enumerate(site)) == pytest.approx(
        sum(lo_rc[i, b] for i, b in enumerate(rc_site)))


@pytest.mark.parametrize("matrix, kind, message", [
    (np.zeros((0, 4)), "counts", "width 0"),
    (np.array([[1, -1, 0, 0]]), "counts", "negative count -1 at row 1, column C"),
    (np.array([[0.5, 0.5, 0.5, 0.0]]), "probabilities", "probability row 1 sums to 1.5"),
    (np.array([[0, 0, 0, 0], [1, 0, 0, 0]]), "counts", "row 1 has no counts"),
    (np.array([[np.nan, 0, 0, 1]]), "probabilities", "non-finite value in row 1"),
    (np.ones((4, 6)) / 4, "probabilities", "transpose"),
])
def test_validation_errors_name_source_and_motif(matrix, kind, message):
    with pytest.raises(InputError, match=message) as exc:
        Motif("MA9999.1", matrix, kind=kind, source="motifs.meme")
    assert str(exc.value).startswith("motifs.meme: motif MA9999.1")


def test_background_checked():
    with pytest.raises(InputError, match="sum to 1"):
        Motif.from_counts("M", _counts(), background=[0.5, 0.5, 0.5, 0.5])
    with pytest.raises(InputError, match="> 0"):
        Motif.from_counts("M", _counts(), background=[0, 0.5, 0.25, 0.25])
    for bad in ([float("nan"), 0.25, 0.25, 0.25], [float("inf"), 0.25, 0.25, 0.25], [-0.1, 0.4, 0.4, 0.3]):
        with pytest.raises(InputError, match="finite and > 0"):
            Motif.from_counts("M", _counts(), background=bad)
    with pytest.raises(InputError, match="expected 4 frequencies"):
        Motif.from_counts("M", _counts(), background=[0.5, 0.5])
    bg = Motif.from_counts("M", _counts(), background=[0.1, 0.2, 0.3, 0.41]).background   # within the tolerance
    np.testing.assert_allclose(bg, np.array([0.1, 0.2, 0.3, 0.41]) / 1.01)
