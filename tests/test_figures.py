"""seqconv.figures: PNGs written whole or not at all, the figure closed either way."""

import pytest

from seqconv.figures import pyplot, save_png


def test_save_png_writes_and_closes(tmp_path):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(2, 1))
    ax.plot([0, 1], [0, 1])
    path = save_png(fig, tmp_path / "sub" / "a.png", dpi=40)
    assert path == tmp_path / "sub" / "a.png" and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not plt.fignum_exists(fig.number)
    assert [p.name for p in path.parent.iterdir()] == ["a.png"]        # no temporary file left


def test_save_png_failing_leaves_nothing_and_closes(tmp_path, monkeypatch):
    plt = pyplot()
    fig, _ = plt.subplots(figsize=(2, 1))

    def broken(*a, **k):
        raise RuntimeError("renderer failed")

    monkeypatch.setattr(fig, "savefig", broken)
    with pytest.raises(RuntimeError, match="renderer failed"):
        save_png(fig, tmp_path / "b.png", dpi=40)
    assert list(tmp_path.iterdir()) == [] and not plt.fignum_exists(fig.number)
