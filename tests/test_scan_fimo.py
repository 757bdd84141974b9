"""seqconv.scan against the MEME suite's own fimo (5.5.8) on real yeast DNA with an N run, IUPAC
letters and an empty record.  Skipped when fimo is not installed (SEQCONV_FIMO or PATH; see
benchmarks/build_meme.sh)."""

import gzip
import os
import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seqconv.motifs import jaspar_collection, write_meme
from seqconv.scan import scan

YEAST = Path(__file__).resolve().parents[1] / "data" / "yeast" / "sacCer3_chr1_3_6_7_8_9.fa.gz"
FIMO = os.environ.get("SEQCONV_FIMO") or shutil.which("fimo")
pytestmark = pytest.mark.skipif(not FIMO or not Path(FIMO).exists(), reason="MEME suite fimo not installed")


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fimo")
    with gzip.open(YEAST, "rt") as fh:
        lines = fh.read().split(">")[1:3]
    recs = []
    for block in lines:
        head, *seq = block.splitlines()
        recs.append((head.split()[0], "".join(seq)[:40_000]))
    name, s = recs[0]
    recs[0] = (name, s[:9000] + "N" * 250 + s[9250:20000] + "RYKMSWBDHV" + s[20010:])   # an N run, IUPAC codes
    fa = tmp / "y.fa"
    fa.write_text(f">{recs[0][0]}\n{recs[0][1]}\n>empty\n\n>{recs[1][0]}\n{recs[1][1].lower()}\n")
    motifs = jaspar_collection()[::12]                       # 74 real vertebrate motifs, widths 5 to 30
    meme = tmp / "m.meme"
    write_meme(motifs, meme)
    subprocess.run([FIMO, "--verbosity", "1", "--oc", str(tmp / "out"), str(meme), str(fa)], check=True)
    ref = pd.read_csv(tmp / "out" / "fimo.tsv", sep="\t", comment="#").dropna(subset=["start"])
    ref["start0"] = ref["start"].astype(int) - 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = scan(str(fa), str(meme))                        # FIMO's defaults, no option
    m = got.merge(ref, left_on=["motif_id", "sequence_id", "start", "strand"],
                  right_on=["motif_id", "sequence_name", "start0", "strand"])
    return got, ref, m


def test_hits_equal_real_fimo(case):
    got, ref, m = case
    assert len(ref) > 300
    a = set(zip(got.motif_id, got.sequence_id, got.start, got.strand))
    b = set(zip(ref.motif_id, ref.sequence_name, ref.start0, ref.strand))
    assert len(a & b) / len(a | b) >= 0.999
    assert (m.matched_sequence_x.str.upper() == m.matched_sequence_y.str.upper()).all()
    assert (m.end == m.stop).all()                   # FIMO: 1-based inclusive stop = 0-based exclusive end


def test_pvalues_equal_real_fimo(case):
    _, _, m = case
    printed = np.array([float(f"{p:.3g}") for p in m.p_value])          # FIMO prints %.3g
    rel = np.abs(printed - m["p-value"]) / m["p-value"]
    assert (rel <= 0.01).mean() >= 0.999
    # FIMO prints its grid's score; ours is the exact log-odds, within half a grid step per column
    width = m.stop - m.start0
    assert (np.abs(m.score_x - m.score_y) <= 0.01 * width).all()


def test_qvalues_follow_real_fimo(case):
    """Per-motif q-values with pi0; pi0 comes from a different random sample than FIMO's, so a few percent."""
    _, _, m = case
    printed = np.array([float(f"{q:.3g}") for q in m.q_value])
    rel = np.abs(printed - m["q-value"]) / m["q-value"]
    assert np.median(rel) <= 0.01
    assert (rel <= 0.05).mean() >= 0.99
