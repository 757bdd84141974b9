"""The API reference (docs/) builds with Sphinx, warnings as errors, and documents every module."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULES = ["encode", "genome", "prepare", "dataset", "models", "modelfile", "train", "transfer", "evaluate",
           "predict", "tracks", "report", "motifs", "scan", "provenance", "errors", "fileio", "progress", "workflow"]


@pytest.mark.slow
def test_api_reference_builds_without_warnings(tmp_path):
    pytest.importorskip("sphinx", reason="sphinx not installed (pip install 'seqconv[docs]')")
    out = tmp_path / "html"
    proc = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-E", "-q", "-b", "html",
                           str(ROOT / "docs"), str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-4000:]
    index = (out / "index.html").read_text()
    for name in MODULES:
        page = out / "api" / f"{name}.html"
        assert page.is_file(), f"no page for seqconv.{name}"
        assert f'href="api/{name}.html"' in index, f"index does not list seqconv.{name}"
        assert 'class="sig' in page.read_text(), f"seqconv.{name}: no documented object"
    # a docstring's numpydoc sections reach the page (parameters of seqconv.encode.one_hot)
    encode = (out / "api" / "encode.html").read_text()
    assert "one_hot" in encode and "Parameters" in encode
