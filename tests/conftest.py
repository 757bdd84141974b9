"""Shared fixtures: paths to the bundled real excerpts and to ../shared/data; the scan's disk cache in a
folder of the test session."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
SHARED = ROOT.parent / "shared" / "data"

YEAST_GENOME = DATA / "yeast" / "sacCer3_chr1_3_6_7_8_9.fa.gz"
YEAST_REB1 = DATA / "yeast" / "Reb1_CX.bed.gz"
YEAST_CBF1 = DATA / "yeast" / "Cbf1_CX.bed.gz"
YEAST_EXCLUDE = DATA / "yeast" / "rossi2021_exclude_regions.bed.gz"


@pytest.fixture
def shared_data() -> Path:
    """../shared/data, or skip the test when it is absent."""
    if not SHARED.is_dir():
        pytest.skip("../shared/data not present")
    return SHARED


@pytest.fixture(scope="module")
def motifs():
    """30 real JASPAR motifs spanning widths 5 to 30 (every 29th of the collection + CTCF): the scan tests' set."""
    from seqconv.motifs import jaspar_collection

    allm = jaspar_collection()
    return allm[::29] + [m for m in allm if m.id == "MA0139.2"]


@pytest.fixture(scope="session", autouse=True)
def _scan_cache_of_the_session(tmp_path_factory):
    """seqconv.scan.diskcache writes to a folder of the test session (inherited by subprocesses), never to the
    user's ~/.cache."""
    old = os.environ.get("SEQCONV_SCAN_CACHE")
    os.environ["SEQCONV_SCAN_CACHE"] = str(tmp_path_factory.mktemp("scan-cache"))
    yield
    if old is None:
        os.environ.pop("SEQCONV_SCAN_CACHE", None)
    else:
        os.environ["SEQCONV_SCAN_CACHE"] = old
