"""Committed files: no absolute machine path in the package, pipelines, bundled data notes, benchmarks and docs."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# a path rooted at a machine folder (/work/, /home/, /root/, /tmp/, /Users/, /mnt/, /scratch/, /data/, /opt/)
ABSOLUTE = re.compile(r"(?<![\w.:/~-])/(?:work|home|root|tmp|Users|mnt|scratch|data|opt|srv|var)/[\w.-]+")
TEXT = {".py", ".json", ".md", ".yaml", ".yml", ".txt", ".meme", ".toml", ".cfg", ".sh", ""}


def _shipped():
    for base in ("seqconv", "pipelines", "data", "benchmarks", "docs"):
        for p in (REPO / base).rglob("*"):
            rel = p.relative_to(REPO).parts
            scratch = rel[:2] == ("benchmarks", "work") or any(x.startswith(".") for x in rel)  # git-ignored scratch
            if p.is_file() and p.suffix in TEXT and "__pycache__" not in p.parts and not scratch:
                yield p
    yield REPO / "README.md"
    yield REPO / "pyproject.toml"


def test_no_absolute_machine_paths_in_shipped_files():
    bad = []
    for p in _shipped():
        text = p.read_text(errors="replace")
        for m in ABSOLUTE.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            bad.append(f"{p.relative_to(REPO)}:{line}: {m.group(0)}")
    assert not bad, "absolute paths in shipped files:\n" + "\n".join(bad[:20])


def test_the_pattern_catches_a_machine_path():
    assert ABSOLUTE.search('"sources": ["/work/shared/data/x.bed.gz"]')
    assert not ABSOLUTE.search("see https://example.org/data/x and ../shared/data/x")
