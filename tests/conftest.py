"""Shared fixtures: paths to the bundled real excerpts and to ../shared/data."""

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
