"""seqconv.tracks: merging shard bedGraphs (sorted, byte-exact, overlap checks) and bigWig output."""

import numpy as np
import pytest
from click.testing import CliRunner

from seqconv.cli import main
from seqconv.errors import InputError
from seqconv.tracks import bedgraph_to_bigwig, merge_bedgraphs, read_chrom_sizes, shard_bedgraphs

SIZES = {"chr1": 1000, "chr2": 600, "chr10": 800}


def _write(path, rows):
    path.write_text("".join(f"{c}\t{s}\t{e}\t{v}\n" for c, s, e, v in rows))
    return path


def _rows(chrom, lo, hi, step=50, seed=0):
    rng = np.random.default_rng(seed)
    return [(chrom, s, s + step, f"{rng.random():.5g}") for s in range(lo, hi, step)]


def test_merge_sorts_shards_in_byte_order_and_copies_lines_exactly(tmp_path):
    # a one-run track in genome (file) order: chr2, chr10, chr1, cut into three shards mid-chromosome
    full = _rows("chr2", 25, 575, seed=1) + _rows("chr10", 25, 775, seed=2) + _rows("chr1", 25, 975, seed=3)
    cuts = [0, 7, 30, len(full)]
    shards = [_write(tmp_path / f"s{i}.bedGraph", full[a:b]) for i, (a, b) in enumerate(zip(cuts, cuts[1:]))]
    one = _write(tmp_path / "one.bedGraph", full)
    covered = merge_bedgraphs(reversed(shards), tmp_path / "m.bedGraph", sizes=SIZES)
    merge_bedgraphs([one], tmp_path / "m1.bedGraph", sizes=SIZES)
    merged = (tmp_path / "m.bedGraph").read_text()
    assert merged == (tmp_path / "m1.bedGraph").read_text()
    expect = sorted(full, key=lambda r: (r[0], r[1]))  # byte order: chr1 < chr10 < chr2 (as sort -k1,1 -k2,2n)
    assert merged == "".join(f"{c}\t{s}\t{e}\t{v}\n" for c, s, e, v in expect)
    assert covered == [("chr1", 950), ("chr10", 750), ("chr2", 550)]


def test_merge_refuses_overlaps_unsorted_and_unknown(tmp_path):
    a = _write(tmp_path / "a.bedGraph", _rows("chr1", 0, 500))
    b = _write(tmp_path / "b.bedGraph", _rows("chr1", 450, 1000))
    with pytest.raises(InputError, match=r"shards overlap on chr1: .*a.bedGraph .* covers up to 500, .*b.bedGraph"):
        merge_bedgraphs([a, b], tmp_path / "m.bedGraph")
    bad = _write(tmp_path / "u.bedGraph", [("chr1", 100, 150, 0.1), ("chr1", 50, 100, 0.2)])
    with pytest.raises(InputError, match=r"u.bedGraph:2: chr1:50-100 starts before"):
        merge_bedgraphs([bad], tmp_path / "m.bedGraph")
    (tmp_path / "x.bedGraph").write_text("chr1\t0\t50\n")
    with pytest.raises(InputError, match=r"x.bedGraph:1: expected 4 tab-separated columns"):
        merge_bedgraphs([tmp_path / "x.bedGraph"], tmp_path / "m.bedGraph")
    with pytest.raises(InputError, match="'chrX' is not in the genome"):
        merge_bedgraphs([_write(tmp_path / "y.bedGraph", [("chrX", 0, 5, 1)])], tmp_path / "m.bedGraph", sizes=SIZES)
    with pytest.raises(InputError, match="past the chromosome end"):
        merge_bedgraphs([_write(tmp_path / "z.bedGraph", [("chr2", 550, 650, 1)])], tmp_path / "m.bedGraph",
                        sizes=SIZES)
    assert not (tmp_path / "m.bedGraph").exists() and not list(tmp_path.glob(".m.bedGraph*"))


def test_bigwig_header_holds_every_chromosome_and_values_match(tmp_path):
    pyBigWig = pytest.importorskip("pyBigWig")
    rows = _rows("chr1", 25, 975, seed=4) + _rows("chr10", 25, 100, seed=5)
    bg = _write(tmp_path / "t.bedGraph", rows)
    assert bedgraph_to_bigwig(bg, tmp_path / "t.bw", SIZES, batch=7) == len(rows)
    bw = pyBigWig.open(str(tmp_path / "t.bw"))
    assert bw.chroms() == SIZES  # chr2 has no data but is in the header
    got = bw.intervals("chr1")
    assert [(s, e) for s, e, _ in got] == [(r[1], r[2]) for r in rows if r[0] == "chr1"]
    assert np.allclose([v for _, _, v in got], [float(r[3]) for r in rows if r[0] == "chr1"], rtol=1e-6)
    bw.close()
    with pytest.raises(InputError, match="'chrQ' is not in the chromosome sizes"):
        bedgraph_to_bigwig(_write(tmp_path / "q.bedGraph", [("chrQ", 0, 5, 1)]), tmp_path / "q.bw", SIZES)
    assert not (tmp_path / "q.bw").exists()


def test_merge_tracks_cli(tmp_path):
    sizes = tmp_path / "g.chrom.sizes"
    sizes.write_text("".join(f"{c}\t{n}\n" for c, n in SIZES.items()))
    assert read_chrom_sizes(sizes) == SIZES
    for tf in ("Reb1", "Cbf1"):
        _write(tmp_path / f"p1.{tf}.bedGraph", _rows("chr2", 0, 300))
        _write(tmp_path / f"p2.{tf}.bedGraph", _rows("chr2", 300, 600) + _rows("chr1", 0, 200))
    assert sorted(shard_bedgraphs([tmp_path / "p1", tmp_path / "p2"])) == ["Cbf1", "Reb1"]
    args = ["merge-tracks", str(tmp_path / "p1"), str(tmp_path / "p2"), "--sizes", str(sizes),
            "--out", str(tmp_path / "out/all"), "-q"]
    try:
        import pyBigWig  # noqa: F401
    except ImportError:
        args.append("--no-bigwig")
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    text = (tmp_path / "out" / "all.Reb1.bedGraph").read_text().splitlines()
    assert text[0].startswith("chr1\t0\t50") and text[-1].startswith("chr2\t550\t600") and len(text) == 16
    if "--no-bigwig" not in args:
        assert (tmp_path / "out" / "all.Cbf1.bw").stat().st_size > 0
    (tmp_path / "p2.Cbf1.bedGraph").unlink()
    r = CliRunner().invoke(main, args[:-1] + ["--out", str(tmp_path / "o2/all")])
    assert r.exit_code == 2 and "shard" in r.output and "no track for TF 'Cbf1'" in r.output, r.output
    r = CliRunner().invoke(main, ["merge-tracks", str(tmp_path / "p1"), "--out", str(tmp_path / "o3")])
    assert r.exit_code == 2 and "exactly one of --genome or --sizes" in r.output
