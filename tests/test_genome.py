"""seqconv.genome on the bundled real yeast excerpt and on small hand-made files."""

import gzip

import numpy as np
import pandas as pd
import pytest
from conftest import YEAST_CBF1, YEAST_EXCLUDE, YEAST_GENOME, YEAST_REB1

from seqconv.encode import dinucleotide_counts, gc_content
from seqconv.errors import InputError
from seqconv.genome import (
    Genome,
    chromosome_split,
    gc_matched_background,
    iter_fasta,
    random_split,
    read_bed,
    read_fasta,
    shuffled_negatives,
    windows,
)


@pytest.fixture(scope="module")
def genome():
    return Genome(YEAST_GENOME)


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


# ---------------------------------------------------------------- FASTA

def test_fasta_multi_record_and_gzip(tmp_path):
    text = ">a desc\nACGT\nacgn\n\n>b\nTTTT\n"
    plain = write(tmp_path, "x.fa", text)
    gz = tmp_path / "x.fa.gz"
    with gzip.open(gz, "wt") as fh:
        fh.write(text)
    assert read_fasta(plain) == {"a": "ACGTacgn", "b": "TTTT"}
    assert read_fasta(gz) == read_fasta(plain)


@pytest.mark.parametrize("text,line,what", [
    ("ACGT\n>a\nACGT\n", 1, "before the first"),
    (">a\nACGT\nACXT\n", 3, "invalid character 'X' at column 3"),
    (">\nACGT\n", 1, "without a sequence id"),
    (">a\n>b\nACGT\n", 1, "has no sequence"),
])
def test_fasta_errors_name_file_and_line(tmp_path, text, line, what):
    p = write(tmp_path, "bad.fa", text)
    with pytest.raises(InputError) as e:
        read_fasta(p)
    assert f"bad.fa:{line}:" in str(e.value) and what in str(e.value)


def test_fasta_empty_and_duplicate(tmp_path):
    with pytest.raises(InputError, match="empty FASTA"):
        list(iter_fasta(write(tmp_path, "e.fa", "")))
    with pytest.raises(InputError, match="'a' is repeated"):
        read_fasta(write(tmp_path, "d.fa", ">a\nAC\n>a\nGT\n"))


def test_genome_fetch_matches_plain_parse(genome, tmp_path):
    """The bgzip genome read in memory and a plain copy read by pyfaidx agree."""
    recs = read_fasta(YEAST_GENOME)
    assert genome.sizes == {k: len(v) for k, v in recs.items()}
    assert genome.sizes["chr1"] == 230218  # sacCer3 chrI length
    plain = tmp_path / "g.fa"
    plain.write_text("".join(f">{k}\n{v}\n" for k, v in recs.items()))
    lazy = Genome(plain)
    assert lazy._fa is not None  # pyfaidx path
    for chrom, s, e in [("chr1", 0, 50), ("chr7", 500_000, 500_200), ("chr9", 439_800, 439_888)]:
        assert lazy.fetch(chrom, s, e) == genome.fetch(chrom, s, e) == recs[chrom][s:e]


def _bgzip(records, path, *, line_width=60):
    """Write ``{id: seq}`` as a BGZF FASTA (what `bgzip` writes), with Biopython's BGZF writer."""
    from Bio import bgzf

    with bgzf.BgzfWriter(str(path), "wb") as fh:
        for name, seq in records.items():
            fh.write(f">{name}\n".encode())
            for i in range(0, len(seq), line_width):
                fh.write((seq[i:i + line_width] + "\n").encode())
    return path


def test_bgzip_genome_read_by_position_not_loaded(tmp_path, monkeypatch):
    """A bgzip genome (the bundled excerpt, and a fresh bgzip of part of it) is read through its .gzi block
    index: the same bases as a full parse, far less memory than the sequence, and the index built once into
    the cache (the data folder stays clean)."""
    import tracemalloc

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    recs = read_fasta(YEAST_GENOME)
    excerpt = {"chr7": recs["chr7"], "chr9": recs["chr9"]}
    fresh = _bgzip(excerpt, tmp_path / "data" / "g.fa.gz") if (tmp_path / "data").mkdir() is None else None
    # a read starting exactly at a 65,536-byte block start (chr1:64456 of the bundled excerpt; pyfaidx seeks
    # into the previous block there, see Genome._fetch_bgzf)
    assert Genome(YEAST_GENOME).fetch("chr1", 64_456, 64_466) == recs["chr1"][64_456:64_466]
    gz = tmp_path / "plain.fa.gz"                       # the same excerpt, plain gzip: read into memory
    gz.write_bytes(gzip.compress("".join(f">{k}\n{v}\n" for k, v in excerpt.items()).encode()))
    regions = [("chr7", 543_210, 545_000), ("chr9", 0, 500), ("chr9", 439_000, 439_888)]
    peaks = {}
    for name, path, want in (("bundled", YEAST_GENOME, recs), ("fresh", fresh, excerpt), ("gzip", gz, excerpt)):
        Genome(path)  # the first open builds the index (one pass over the file)
        tracemalloc.start()
        g = Genome(path)
        got = {(c, a, b): g.fetch(c, a, b) for c, a, b in regions}
        peaks[name] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert g.sizes == {k: len(v) for k, v in want.items()}
        assert got == {(c, a, b): want[c][a:b] for c, a, b in regions}
        if name != "gzip":
            assert g.compression == "bgzf" and g._mem is None and g._fa is not None
            assert g.index_location.startswith(str(tmp_path / "cache"))
    # never the whole sequence: measured 0.41 MB (buffers of a few 64 kB blocks) vs 5.5 MB read into memory
    assert peaks["fresh"] < sum(len(v) for v in excerpt.values()) / 2 and peaks["fresh"] < peaks["gzip"] / 4, peaks
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["g.fa.gz"]
    cached = sorted(p.suffix for p in (tmp_path / "cache" / "seqconv" / "faidx").iterdir())
    assert cached == [".fai", ".fai", ".gzi", ".gzi"]
    assert len(list((tmp_path / "cache" / "seqconv" / "faidx").iterdir())) == 4   # reopening reused the index
    # a .fai + .gzi next to the file (samtools faidx writes both) are used as they are
    import shutil

    for ext in (".fai", ".gzi"):
        src = next(p for p in (tmp_path / "cache" / "seqconv" / "faidx").iterdir()
                   if p.suffix == ext and p.stat().st_mtime >= fresh.stat().st_mtime and
                   (ext == ".gzi" or p.read_text().startswith("chr7\t")))
        shutil.copy(src, f"{fresh}{ext}")
    assert Genome(fresh).index_location == f"{fresh}.fai"


def test_bgzip_fetch_at_every_block_boundary_and_at_random(genome):
    """Reads starting at, just before and just after every BGZF block start of the bundled excerpt, and 3,000
    random reads, equal the full parse (pyfaidx alone fails at a 65,536-byte block start)."""
    recs = read_fasta(YEAST_GENOME)
    fa = genome._fa.faidx
    n = 0
    for chrom, rec in fa.index.items():
        for block in fa.gzi_index[1:]:
            for d in (-1, 0, 1):
                o = block.ustart - rec.offset + d
                s = o // rec.lenb * rec.lenc + o % rec.lenb   # base at byte o of the record (lines of lenc)
                if o >= 0 and o % rec.lenb < rec.lenc and s + 5 <= len(recs[chrom]):
                    assert genome.fetch(chrom, s, s + 5) == recs[chrom][s:s + 5], (chrom, s)
                    n += 1
    assert n > 100
    rng = np.random.default_rng(0)
    for _ in range(3000):
        chrom = str(rng.choice(list(recs)))
        a = int(rng.integers(0, len(recs[chrom]) - 1))
        b = int(min(len(recs[chrom]), a + rng.integers(1, 3000)))
        assert genome.fetch(chrom, a, b) == recs[chrom][a:b], (chrom, a, b)


def test_plain_gzip_genome_in_memory_when_small_else_told_to_bgzip(tmp_path, monkeypatch):
    import seqconv.genome as G

    seq = read_fasta(YEAST_GENOME)["chr1"][:50_000]
    gz = tmp_path / "small.fa.gz"
    gz.write_bytes(gzip.compress(f">chr1\n{seq}\n".encode()))
    g = Genome(gz)
    assert g.compression == "gzip" and g.index_location == "memory" and g.fetch("chr1", 100, 160) == seq[100:160]
    monkeypatch.setattr(G, "GZIP_IN_MEMORY_MAX", 1000)
    with pytest.raises(InputError, match=r"small.fa.gz.*plain gzip.*`gunzip small.fa.gz && bgzip small.fa`"):
        Genome(gz)


def test_cli_bgzip_genome_for_prepare_and_scan(tmp_path, monkeypatch):
    """prepare and scan take a freshly bgzipped genome and give what they give on the plain FASTA."""
    from click.testing import CliRunner

    from seqconv.cli import main

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    recs = read_fasta(YEAST_GENOME)
    plain = tmp_path / "g.fa"
    plain.write_text("".join(f">{k}\n{v}\n" for k, v in recs.items()))
    bgz = _bgzip(recs, tmp_path / "g.fa.gz")
    outs = {}
    for name, genome in (("plain", plain), ("bgzf", bgz)):
        r = CliRunner().invoke(main, ["prepare", "--peaks", str(YEAST_CBF1), "--names", "Cbf1", "--genome",
                                      str(genome), "--width", "101", "--out", str(tmp_path / f"{name}.parquet"),
                                      "-q"])
        assert r.exit_code == 0, r.output
        r = CliRunner().invoke(main, ["scan", "--motifs", "jaspar", "--bed", str(YEAST_CBF1), "--width", "101",
                                      "--genome", str(genome), "--threshold", "1e-5", "-q",
                                      "--out", str(tmp_path / f"{name}.tsv")])
        assert r.exit_code == 0, r.output
        outs[name] = (pd.read_parquet(tmp_path / f"{name}.parquet"), (tmp_path / f"{name}.tsv").read_text())
    assert outs["plain"][0][["chrom", "start", "end", "sequence"]].equals(
        outs["bgzf"][0][["chrom", "start", "end", "sequence"]])
    assert outs["plain"][1] == outs["bgzf"][1] and len(outs["plain"][1].splitlines()) > 10


def test_genome_fetch_errors(genome):
    with pytest.raises(InputError, match="'chrX' is not in the genome"):
        genome.fetch("chrX", 0, 10)
    with pytest.raises(InputError, match="outside chr1 .length 230218"):
        genome.fetch("chr1", 230_100, 230_300)


# ---------------------------------------------------------------- BED

def test_read_bed_real_and_narrowpeak(tmp_path):
    bed = read_bed(YEAST_REB1)
    assert len(bed) == 249 and set(bed["chrom"]) <= {"chr1", "chr3", "chr6", "chr7", "chr8", "chr9"}
    assert (bed["end"] - bed["start"] == 1).all() and (bed["summit"] == -1).all()
    p = write(tmp_path, "p.narrowPeak",
              "track name=x\n# comment\nbrowser position chr1\n"
              "chr1\t100\t300\tpk1\t50\t.\t5.0\t-1\t-1\t20\n"
              "chr1\t400\t500\tpk2\t50\t+\t5.0\t-1\t-1\t-1\n")
    df = read_bed(p)
    assert list(df["summit"]) == [120, -1]
    assert list(df["line"]) == [4, 5]


@pytest.mark.parametrize("line,what", [
    ("chr1\t10\n", "at least 3"),
    ("chr1\tx\t20\n", "must be integers"),
    ("chr1\t-5\t20\n", "negative coordinate"),
    ("chr1\t20\t20\n", "start >= end"),
    ("chr1\t20\t10\n", "start >= end"),
    ("chr1\t1.5\t10\n", "must be integers"),
])
def test_read_bed_errors(tmp_path, line, what):
    p = write(tmp_path, "bad.bed", "chr1\t0\t10\n" + line)
    with pytest.raises(InputError) as e:
        read_bed(p)
    assert "bad.bed:2:" in str(e.value) and what in str(e.value)


def test_read_bed_empty(tmp_path):
    with pytest.raises(InputError, match="empty BED"):
        read_bed(write(tmp_path, "e.bed", "track name=x\n"))


# ---------------------------------------------------------------- windows

def test_windows_centred_on_summit_or_midpoint(genome, tmp_path):
    p = write(tmp_path, "p.narrowPeak",
              "chr1\t1000\t1400\ta\t0\t.\t0\t0\t0\t50\n"   # summit 1050
              "chr1\t2000\t2101\tb\t0\t.\t0\t0\t0\t-1\n")  # midpoint 2050
    w, rep = windows(read_bed(p), genome, 100)
    assert list(w["start"]) == [1000, 2000] and list(w["end"]) == [1100, 2100]
    assert w["sequence"][0] == genome.fetch("chr1", 1000, 1100)
    assert rep.n_kept == 2 and rep.n_dropped_off_end == 0


def test_windows_off_chromosome_end_dropped_or_clamped(genome, tmp_path):
    size = genome.sizes["chr1"]
    p = write(tmp_path, "p.bed", f"chr1\t10\t11\tleft\nchr1\t{size - 5}\t{size - 4}\tright\nchr1\t5000\t5001\tmid\n")
    peaks = read_bed(p)
    w, rep = windows(peaks, genome, 200, off_end="drop")
    assert list(w["name"]) == ["mid"] and rep.n_dropped_off_end == 2
    w, rep = windows(peaks, genome, 200)  # clamping is the default policy, as in predict
    assert rep.n_clamped == 2 and rep.n_dropped_off_end == 0
    assert list(w["start"][:2]) == [0, size - 200] and (w["sequence"].str.len() == 200).all()
    assert all(s <= c < s + 200 for s, c in zip(w["start"], [10, size - 5, 5000]))  # still holds the summit


def test_interval_past_chromosome_end_is_an_error_in_every_mode(genome, tmp_path):
    size = genome.sizes["chr1"]
    p = write(tmp_path, "p.bed", f"chr1\t5000\t5100\nchr1\t{size + 10}\t{size + 20}\tbeyond\n")
    for mode in ("clamp", "drop"):
        with pytest.raises(InputError, match="p.bed:2: .*runs past the end of chr1.*assembly"):
            windows(read_bed(p), genome, 200, off_end=mode, source=p)


def test_windows_unknown_chromosome_and_bad_width(genome, tmp_path):
    p = write(tmp_path, "p.bed", "chr1\t10\t300\nchrQ\t5\t400\n")
    with pytest.raises(InputError) as e:
        windows(read_bed(p), genome, 100, source=p)
    assert "p.bed:2:" in str(e.value) and "'chrQ' is not in the genome" in str(e.value)
    for bad in (0, -10, 2.5):
        with pytest.raises(InputError, match="width must be a positive integer"):
            windows(read_bed(p), genome, bad)


# ---------------------------------------------------------------- negatives

def test_gc_matched_background_avoids_peaks_and_matches_gc(genome):
    peaks = read_bed(YEAST_REB1)
    excl = read_bed(YEAST_EXCLUDE)
    pos, _ = windows(peaks, genome, 200)
    pos_gc = gc_content(pos["sequence"].tolist())
    bg, rep = gc_matched_background(genome, pos_gc, 200, avoid=[peaks, excl], margin=500, seed=3)
    assert rep.n_drawn == len(bg) >= 0.97 * len(pos)
    # no background window within 500 bp of a peak or inside an excluded region
    for chrom, g in bg.groupby("chrom"):
        for region, pad in ((peaks, 500), (excl, 500)):
            r = region[region["chrom"] == chrom]
            s, e = g["start"].to_numpy()[:, None], g["end"].to_numpy()[:, None]
            assert not ((s < r["end"].to_numpy() + pad) & (e > r["start"].to_numpy() - pad)).any()
    for seq, c, s, e in zip(bg["sequence"], bg["chrom"], bg["start"], bg["end"]):
        assert seq == genome.fetch(c, s, e)
    # GC distributions agree: same 20-bin histogram up to the reported shortfall
    edges = np.linspace(0, 1, 21)
    hp = np.histogram(pos_gc, edges)[0]
    hb = np.histogram(gc_content(bg["sequence"].tolist()), edges)[0]
    assert np.abs(hp - hb).sum() == len(pos) - len(bg)
    # byte-reproducible with a seed, different with another
    again, _ = gc_matched_background(genome, pos_gc, 200, avoid=[peaks, excl], margin=500, seed=3)
    other, _ = gc_matched_background(genome, pos_gc, 200, avoid=[peaks, excl], margin=500, seed=4)
    pd.testing.assert_frame_equal(bg, again)
    assert not bg["start"].equals(other["start"])


def test_shuffled_negatives_keep_dinucleotides(genome):
    pos, _ = windows(read_bed(YEAST_CBF1), genome, 100)
    sh = shuffled_negatives(pos, ratio=2, seed=0)
    assert len(sh) == 2 * len(pos)
    for i, seq in enumerate(sh["sequence"]):
        src = pos["sequence"].iloc[i // 2]
        assert dinucleotide_counts(seq) == dinucleotide_counts(src)
    assert (sh["sequence"].to_numpy() != np.repeat(pos["sequence"].to_numpy(), 2)).mean() > 0.95


# ---------------------------------------------------------------- splits

def test_chromosome_split_defaults_and_errors():
    s = chromosome_split(["chr1", "chr7", "chr8", "chr9", "chr10"])
    assert list(s) == ["train", "valid", "test", "test", "train"]
    s = chromosome_split(["a", "b", "c"], test=["c"], valid=["b"])
    assert list(s) == ["train", "valid", "test"]
    with pytest.raises(InputError, match="both the test and the validation"):
        chromosome_split(["a"], test=["a"], valid=["a"])
    with pytest.raises(InputError, match=r"\['chr99'\] are not in the genome"):
        chromosome_split(["chr1"], test=["chr99"], valid=[], known=["chr1", "chr2"])


def test_random_split_seeded():
    a = random_split(1000, valid=0.1, test=0.2, seed=1)
    assert (a == "test").sum() == 200 and (a == "valid").sum() == 100
    assert (a == random_split(1000, valid=0.1, test=0.2, seed=1)).all()
    assert (a != random_split(1000, valid=0.1, test=0.2, seed=2)).any()
