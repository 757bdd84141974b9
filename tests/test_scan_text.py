"""seqconv.scan.text: TSV, BED and GFF lines written by the numba row writer equal a per-row Python reference.

The reference formats each row of ``scan()``'s DataFrame with Python's own formatting (``%.6g``,
``{:.3g}``, ``repr`` of numpy's ``round(score, 3)``), as the pandas writer this replaced did.
"""

import io
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seqconv.fileio import StreamWriter, release_range
from seqconv.genome import iter_fasta
from seqconv.motifs import jaspar_collection
from seqconv.scan import ScanOptions, scan, scan_to_file
from seqconv.scan.frame import _frame
from seqconv.scan.output import _PieceWriter, fimo_q_table, lookup_q
from seqconv.scan.run import _Run
from seqconv.scan.text import TextRows, format_g

DATA = Path(__file__).resolve().parents[1] / "data"
EXAMPLE_FA = DATA / "example_oct4_mafk_test.fa"          # 200 real 200-bp peaks (Oct4 / MafK)


def reference_lines(df, fmt):
    out = []
    for r in df.itertuples(index=False):
        if fmt == "tsv":
            f = [r.motif_id, r.motif_name, r.sequence_id, str(r.start), str(r.end), r.strand,
                 "%.6g" % r.score, "%.6g" % r.p_value, "%.6g" % r.q_value, r.matched_sequence]  # noqa: UP031
        elif fmt == "bed":
            bed = int(min(1000, np.round(-10 * np.log10(max(r.p_value, 1e-300)))))
            f = [r.sequence_id, str(r.start), str(r.end), f"{r.motif_id}_{r.motif_name}", str(bed), r.strand]
        else:
            f = [r.sequence_id, "seqconv", "nucleotide_motif", str(r.start + 1), str(r.end),
                 repr(float(np.round(r.score, 3))), r.strand, ".",
                 f"Name={r.motif_id}_{r.sequence_id}{r.strand};Alias={r.motif_name};pvalue={r.p_value:.3g};"
                 f"qvalue={r.q_value:.3g};sequence={r.matched_sequence}"]
        out.append("\t".join(f))
    return out


@pytest.fixture(scope="module")
def hits_and_fasta(tmp_path_factory):
    allm = jaspar_collection()
    motifs = allm[::29] + [m for m in allm if m.id == "MA0139.2"]
    peaks = list(iter_fasta(EXAMPLE_FA))[:60]
    fa = tmp_path_factory.mktemp("text") / "p.fa"
    fa.write_text("".join(f">{n}\n{s}\n" for n, s in peaks))
    # p <= 0.05: thousands of hits, negative scores among them
    return motifs, fa, scan(str(fa), motifs, threshold=0.05)


@pytest.mark.parametrize("fmt", ["tsv", "bed", "gff"])
def test_files_equal_the_per_row_reference(tmp_path, monkeypatch, hits_and_fasta, fmt):
    motifs, fa, df = hits_and_fasta
    assert len(df) > 2000 and (df.score < 0).any()
    monkeypatch.setattr(TextRows, "CHUNK_ROWS", 97)  # many parallel chunks, uneven
    out = tmp_path / f"h.{fmt}"
    assert scan_to_file(str(fa), motifs, out, format=fmt, threshold=0.05) == len(df)
    lines = out.read_text().splitlines()
    header = {"tsv": 1, "bed": 0, "gff": 1}[fmt]
    assert lines[:header] == {"tsv": ["\t".join(df.columns)], "bed": [], "gff": ["##gff-version 3"]}[fmt]
    assert lines[header:] == reference_lines(df, fmt)


@pytest.mark.parametrize("fmt, dense_from", [("tsv", None), ("bed", None), ("gff", None), ("tsv", 0), ("gff", 2)])
def test_pieces_stream_as_the_frame_of_each_piece(tmp_path, monkeypatch, fmt, dense_from):
    """The streaming writer (raw pieces, per-entry p/q texts, word copies) equals the per-row reference of
    each piece's DataFrame with the run's q-values, over several pieces of real hits: both strands, motifs
    wider than 16 (sites copied in several words), ties (many hits share a p-value entry), sequence ids
    with spaces, non-ASCII letters and more than 32 bytes.  Hits counted per piece (a short run), per
    table entry from the start (``dense_from`` 0), or from the third piece on (2)."""
    allm = jaspar_collection()
    motifs = allm[::37] + [m for m in allm if m.width > 20][:3]
    peaks = list(iter_fasta(EXAMPLE_FA))[:40]
    ids = [f"peak {i} ñ" + "x" * (i % 3 * 20) for i in range(len(peaks))]
    seqs = dict(zip(ids, (s for _, s in peaks)))
    run = _Run(seqs, motifs, ScanOptions(threshold=0.02, block=1000))
    parts = list(run.hits())
    assert len(parts) >= 6
    assert all((p["p_value"] == run.bank.sf_flat[p["pidx"]]).all() for p in parts)  # p-values: their entries'
    pidx = np.concatenate([p["pidx"] for p in parts])
    table = fimo_q_table(pidx, run.bank, run.n_tests(), run.pi0())
    cuts = [0, 1, 3, len(parts) // 2, len(parts)]
    # windows of 4 kB: the pieces' file and the output are written and read back through many
    # drop-behind windows (seqconv.fileio.StreamWriter)
    monkeypatch.setattr(StreamWriter, "WINDOW", 4096)
    writer = _PieceWriter(run.bank, run.stream, tmp_path)
    # the entries a hit can reach: each motif-strand's from its threshold up
    reach = sum(int((run.bank.sf_flat[a:b] <= 0.02).sum()) for a, b in zip(run.bank.sf_off[:-1], run.bank.sf_off[1:]))
    assert 0 < writer.n_reachable < len(run.bank.sf_flat) and abs(writer.n_reachable - reach) <= len(run.bank.thr)
    if dense_from is not None:       # dense once the hits of the pieces so far exceed this share of the entries
        below = sum(len(p["pidx"]) for p in parts[:cuts[dense_from]])
        monkeypatch.setattr(_PieceWriter, "DENSE_SHARE", below / writer.n_reachable)
    expected = []
    for a, b in zip(cuts[:-1], cuts[1:]):
        writer.add(parts[a:b])
        assert bool(writer.counts.size) == (dense_from is not None and a >= cuts[dense_from])
        piece_pidx = np.concatenate([p["pidx"] for p in parts[a:b]])
        expected += reference_lines(_frame(run.bank, run.stream, parts[a:b], lookup_q(piece_pidx, table)), fmt)
    with open(tmp_path / f"h.{fmt}", "wb") as dst:
        out = StreamWriter(dst)
        assert writer.write(out, fmt, run.n_tests(), run.pi0()) == len(pidx)
    writer.close()
    lines = (tmp_path / f"h.{fmt}").read_text().splitlines()
    assert lines[{"tsv": 1, "bed": 0, "gff": 1}[fmt]:] == expected
    spill = (tmp_path / "hits.pieces").stat()
    assert spill.st_size == sum(size for _, size, _ in writer.pieces)
    probe = os.open(tmp_path / "probe", os.O_RDWR | os.O_CREAT)
    holes = release_range(probe, 0, 4096)                     # the file system can punch holes
    os.close(probe)
    if holes:
        assert spill.st_blocks * 512 < spill.st_size // 4      # each piece's space given back once read
    if sys.platform.startswith("linux"):         # the windows were advanced on both files
        assert writer.spill.done >= 4096 * 2 and out.done >= 4096 * 2
    df = _frame(run.bank, run.stream, parts)
    assert len(df) > 3000 and df.strand.nunique() == 2 and df.matched_sequence.str.len().max() > 20
    assert df.p_value.duplicated().sum() > len(df) // 4                # ties
    assert df.sequence_id.str.len().max() > 32


def test_edge_numbers_and_names():
    """Rounding edges of the GFF score, %.6g / %.3g extremes, integers of 1 to 13 digits, non-ASCII names,
    one-row and empty pieces."""
    scores = np.array([-0.0001, 0.0005, 0.0015, 1.0015, -12.3456, 999.9996, 7.0, -3.25, 123456.789, 2.5e-7])
    n = len(scores)
    p = np.array([1e-300, 0.0, 1.0, 0.5, 1e-4, 9.99999e-5, 3.3e-12, 1e-5, 0.123456789, 7e-8])
    q = np.array([np.nan, 1.0, 0.25, 1e-10, 0.0499, 1.0, 0.5, 0.1, 0.9, 1e-3])
    ids, names = ["MA1.1", "MÄ2" + "9" * 30], ["Foxa1", "ñame"]
    seqs = ["chr1", "seq ü-2 with spaces, longer than 32 bytes"]
    motif, seq = np.arange(n) % 2, (np.arange(n) // 2) % 2
    start = np.array([0, 7, 96, 99, 100, 1007, 54321, 999_996, 10 ** 9 - 2, 2 ** 40])   # 1-13 digits, 9 -> 10 edges
    end = start + 3
    minus = (np.arange(n) % 3 == 0).astype(np.int8)
    m_data = np.frombuffer(b"ACGTTGCATG"[:n] * 3, dtype=np.uint8)
    m_off = np.arange(n + 1) * 3
    for fmt in ("tsv", "bed", "gff"):
        buf = io.BytesIO()
        rows = TextRows(ids, names, seqs, fmt)
        rows.CHUNK_ROWS = 3
        rows.write(buf, motif, seq, start, end, minus, scores, p, q, m_data, m_off[:-1])
        rows.write(buf, motif[:0], seq[:0], start[:0], end[:0], minus[:0], scores[:0], p[:0], q[:0], m_data, m_off[:0])
        got = buf.getvalue().decode().splitlines()
        df = pd.DataFrame({"motif_id": [ids[i] for i in motif], "motif_name": [names[i] for i in motif],
                           "sequence_id": [seqs[i] for i in seq], "start": start, "end": end,
                           "strand": np.where(minus == 1, "-", "+"), "score": scores, "p_value": p, "q_value": q,
                           "matched_sequence": [bytes(m_data[3 * i:3 * i + 3]).decode() for i in range(n)]})
        assert got == reference_lines(df, fmt), fmt


def test_text_numbers_are_printf_g():
    """The float formatting equals C's %.6g and %.3g (save exact binary ties, rounded half up)."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.random(5000) * 10.0 ** rng.integers(-12, 8, 5000),
                        [0.0, -1.5, 1e-300, 999999.7, 1e6, 1e-4, 1e-5, 1e100, np.nan, -np.inf, 14.4356]])
    for digits in (6, 3):
        d, o = format_g(x, digits)
        got = [bytes(d[o[i]:o[i + 1]]).decode() for i in range(len(x))]
        assert got == [f"%.{digits}g" % v for v in x]  # noqa: UP031  (printf's %g is the reference)


def test_collect_adds_pieces_in_a_helper_thread_and_raises_its_errors(tmp_path, monkeypatch):
    """`_PieceWriter.collect` groups the engine's blocks into pieces of >= `rows` rows, adds them in a
    helper thread (omp / tbb threading layers), and raises in the caller an error of either side."""
    import threading

    motifs = jaspar_collection()[::50]
    run = _Run(str(EXAMPLE_FA), motifs, ScanOptions(threshold=0.02, block=1000))
    blocks = list(run.hits())
    sizes = [len(b["col"]) for b in blocks]
    assert len(blocks) >= 6
    added, threads = [], set()
    real_add = _PieceWriter.add

    def add(self, parts):
        added.append(sum(len(p["col"]) for p in parts))
        threads.add(threading.current_thread().name)
        return real_add(self, parts)

    monkeypatch.setattr(_PieceWriter, "add", add)
    writer = _PieceWriter(run.bank, run.stream, tmp_path)
    rows = sum(sizes) // 3
    writer.collect(iter(blocks), rows=rows)
    writer.close()
    assert sum(added) == sum(sizes) == writer.n_hits and all(a >= rows for a in added[:-1]) and len(added) >= 3
    from seqconv.scan.output import _threads_may_launch_kernels
    assert threads == ({"seqconv-pieces"} if _threads_may_launch_kernels() else {threading.current_thread().name})

    def failing_add(self, parts):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_PieceWriter, "add", failing_add)
    consumed = []

    def feed():
        for b in blocks:
            consumed.append(1)
            yield b

    with pytest.raises(OSError, match="No space"):
        _PieceWriter(run.bank, run.stream, tmp_path).collect(feed(), rows=1)
    assert len(consumed) < len(blocks)          # the scan stopped soon after the failure

    def broken():
        yield blocks[0]
        raise ValueError("record 2: bad letter")

    monkeypatch.setattr(_PieceWriter, "add", real_add)
    with pytest.raises(ValueError, match="bad letter"):
        _PieceWriter(run.bank, run.stream, tmp_path).collect(broken(), rows=1)
    assert not [t for t in threading.enumerate() if t.name == "seqconv-pieces"]    # the helper was joined


def test_a_failed_text_write_is_raised_by_write(tmp_path):
    """The text of each piece is written by a helper thread while the next is formatted: a write that
    fails there (a full disk) is raised by `_PieceWriter.write`, which then stops."""
    run = _Run(str(EXAMPLE_FA), jaspar_collection()[::50], ScanOptions(threshold=0.02, block=1000))
    writer = _PieceWriter(run.bank, run.stream, tmp_path)
    writer.collect(run.hits(), rows=500)
    assert len(writer.pieces) >= 4

    class Full:
        def __init__(self):
            self.calls = 0

        def write(self, data):
            self.calls += 1
            if self.calls > 2:
                raise OSError(28, "No space left on device")
            return len(data)

    dst = Full()
    with pytest.raises(OSError, match="No space"):
        writer.write(dst, "tsv", run.n_tests(), run.pi0())
    writer.close()
    # the header, one piece's text, the failure, at most the one piece's write already queued behind it
    assert 3 <= dst.calls <= 4 < 1 + len(writer.pieces)
