"""``seqconv motifs`` end to end on real peaks (the bundled janggu Oct4/MafK excerpt in data/)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from _oct4_mafk import EXAMPLE_FA, write_oct4_mafk
from click.testing import CliRunner

from seqconv.cli import main
from seqconv.models import build_model, get_config
from seqconv.motifs import read_meme
from seqconv.motifs.compare import MATCH_COLUMNS


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small deepbind (4 filters) trained for a few seconds on 140 real Oct4 / MafK peaks."""
    from seqconv.train import TrainConfig, fit

    torch.set_num_threads(2)
    d = tmp_path_factory.mktemp("motifs_cli")
    data = write_oct4_mafk(d / "oct4_mafk.parquet")
    model = build_model(get_config("deepbind", n_tasks=1, input_length=200, filters=4, kernel_size=15,
                                   hidden=0), seed=0)
    fit(model, data, config=TrainConfig(epochs=3, batch_size=32, seed=0), out_dir=d / "model", verbose=False)
    return d / "model", data


def _run(args):
    return CliRunner().invoke(main, ["motifs", "--quiet", *args], catch_exceptions=False)


@pytest.mark.slow
def test_cli_on_dataset_writes_every_output(trained, tmp_path):
    model, data = trained
    out = tmp_path / "out"
    res = _run(["--model", str(model), "--data", str(data), "--out", str(out), "--min-sites", "3",
                "--threads", "2"])
    assert res.exit_code == 0, res.output
    motifs = read_meme(out / "motifs.meme")
    assert 1 <= len(motifs) <= 4 and all(m.id.startswith("filter") and m.n_sites >= 3 for m in motifs)
    matches = pd.read_csv(out / "matches.tsv", sep="\t")
    assert list(matches.columns) == list(MATCH_COLUMNS)
    assert set(matches["query_id"]) == {m.id for m in motifs}
    assert matches.groupby("query_id")["rank"].max().max() == 3
    assert matches["p_value"].between(0, 1).all() and (matches["q_value"] >= matches["p_value"] - 1e-12).all()
    infl = pd.read_csv(out / "influence.tsv", sep="\t")
    assert len(infl) == 4 and sorted(infl["rank"]) == list(range(1, 5))
    assert "auroc_drop" in infl and infl["influence"].is_monotonic_decreasing
    assert {p.stem for p in (out / "logos").glob("*.png")} == {m.id for m in motifs}
    assert (out / "summary.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_on_fasta_and_weight_view(trained, tmp_path):
    model, _ = trained
    out = tmp_path / "fa"
    res = _run(["--model", str(model), "--data", str(EXAMPLE_FA), "--out", str(out), "--method", "weights",
                "--no-logos", "--trim", "0", "--top", "1"])
    assert res.exit_code == 0, res.output
    motifs = read_meme(out / "motifs.meme")
    assert len(motifs) == 4 and all(m.width == 15 for m in motifs)
    infl = pd.read_csv(out / "influence.tsv", sep="\t")
    assert "auroc_drop" not in infl and np.isfinite(infl["output_drop"]).all()  # no labels in a FASTA
    assert not (out / "logos").exists()


def test_cli_bad_inputs_exit_2_without_outputs(trained, tmp_path):
    model, data = trained
    out = tmp_path / "bad"
    runner = CliRunner()
    res = runner.invoke(main, ["motifs", "--model", str(model), "--data", str(tmp_path / "missing.fa"),
                               "--out", str(out)])
    assert res.exit_code == 2 and "missing.fa" in res.output
    bad_db = tmp_path / "db.txt"
    bad_db.write_text("not a motif file\n")
    res = runner.invoke(main, ["motifs", "--model", str(model), "--data", str(data), "--db", str(bad_db),
                               "--out", str(out)])
    assert res.exit_code == 2 and "db.txt" in res.output and "unrecognised motif file" in res.output
    neg = tmp_path / "neg.meme"
    neg.write_text("MEME version 4\n\nALPHABET= ACGT\n\nMOTIF m1 bad\nletter-probability matrix: alength= 4 w= 2\n"
                   "0.5 0.5 0.5 -0.5\n0.25 0.25 0.25 0.25\n")
    res = runner.invoke(main, ["motifs", "--model", str(model), "--data", str(data), "--db", str(neg),
                               "--out", str(out)])
    assert res.exit_code == 2 and "neg.meme" in res.output and "m1" in res.output
    res = runner.invoke(main, ["motifs", "--model", str(model), "--data", str(data), "--threshold", "2",
                               "--out", str(out)])
    assert res.exit_code == 2
    assert not out.exists()
    # a dataset whose width does not fit the model
    from seqconv.dataset import read_dataset, write_dataset

    ds = read_dataset(data)
    ds.table["sequence"] = ds.table["sequence"].str[:100]
    ds.meta["width"] = 100
    write_dataset(ds, tmp_path / "short.parquet")
    res = runner.invoke(main, ["motifs", "--model", str(model), "--data", str(tmp_path / "short.parquet"),
                               "--out", str(out)])
    assert res.exit_code == 2 and "100 bp" in res.output and not out.exists()


def test_help_has_example():
    res = CliRunner().invoke(main, ["motifs", "--help"])
    assert res.exit_code == 0 and "Example:" in res.output and "seqconv motifs --model" in res.output


@pytest.mark.slow
def test_bundled_oct4_model_finds_its_motifs(shared_data):
    """The bundled Oct4/MafK model on 1000 + 1000 real janggu peaks: filters match Pou5f1::Sox2 / POU5F1
    and MAFK (JASPAR 2024) with q < 0.05 among their 3 best matches."""
    from seqconv.encode import one_hot
    from seqconv.genome import iter_fasta
    from seqconv.motifs.compare import MotifComparer
    from seqconv.motifs.extract import activation_motifs
    from seqconv.pretrained import list_models, load_pretrained

    if "oct4_mafk" not in list_models()["name"].tolist():
        pytest.skip("no bundled oct4_mafk model")
    model = load_pretrained("oct4_mafk")
    card = model.card
    rng = np.random.default_rng(0)
    seqs = []
    for name in ("sample.fa.gz", "sample2.fa.gz"):
        recs = [s for _, s in iter_fasta(shared_data / "janggu_oct4_mafk" / name)]
        seqs += [recs[i] for i in rng.choice(len(recs), 1000, replace=False)]
    motifs = [m.trim(0.3) for m in activation_motifs(model, one_hot(seqs, dtype="uint8", length=200),
                                                         strand=card.strand)
              if m.information_content().max() >= 0.3]
    table = MotifComparer("jaspar").compare(motifs, top=3)
    sig = table[table["q_value"] < 0.05]["target_name"].str.upper()
    assert sig.isin(["POU5F1", "POU5F1::SOX2"]).any()
    assert sig.isin(["MAFK"]).any()


def test_logo_heights_and_png(tmp_path):
    """Letter heights are p x information (bits, uniform background); logos are written as PNG files."""
    from seqconv.motifs import Motif
    from seqconv.motifs.logos import information_matrix, save_logos

    m = Motif("m", np.array([[1.0, 0, 0, 0], [0.25, 0.25, 0.25, 0.25], [0.5, 0.5, 0, 0]]))
    h = information_matrix(m)
    np.testing.assert_allclose(h.sum(axis=1), m.information_content(), atol=1e-12)
    np.testing.assert_allclose(h.iloc[0], [2, 0, 0, 0])
    np.testing.assert_allclose(h.iloc[2], [0.5, 0.5, 0, 0])
    (path,) = save_logos([m], tmp_path / "logos")
    assert path.name == "m.png" and path.read_bytes()[:4] == b"\x89PNG"


def test_logo_letters_are_stacked_to_their_heights():
    """Each letter spans its height in bits in its column, the smallest at the bottom, the tallest on top."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from seqconv.motifs import Motif
    from seqconv.motifs.logos import _COLORS, draw_logo, information_matrix

    m = Motif("m", np.array([[1.0, 0, 0, 0], [0.25, 0.25, 0.25, 0.25], [0.2, 0.8, 0, 0], [0.1, 0.2, 0.3, 0.4]]))
    ax = draw_logo(m, xoffset=3)
    heights = information_matrix(m).to_numpy()
    colour = {matplotlib.colors.to_hex(v): k for k, v in _COLORS.items()}
    spans = {}
    assert len(ax.patches) == 4  # one patch per letter colour
    for patch in ax.patches:
        letter = colour[matplotlib.colors.to_hex(patch.get_facecolor())]
        path = patch.get_path()
        v = path.vertices[path.codes != path.CLOSEPOLY]    # a CLOSEPOLY's vertex is not drawn
        for col in np.unique(np.round(v[:, 0]).astype(int)):
            sel = np.abs(v[:, 0] - col) <= 0.5
            spans[(col - 3, letter)] = (v[sel, 1].min(), v[sel, 1].max(), v[sel, 0].min(), v[sel, 0].max())
    assert (0, "A") in spans and not any(k[0] == 1 for k in spans)  # a column of 0 bits draws nothing
    for (col, letter), (lo, hi, left, right) in spans.items():
        h = heights[col, "ACGT".index(letter)]
        below = sum(x for x in heights[col] if x < h)
        assert lo == pytest.approx(below + 0.02 * h, abs=1e-9) and hi == pytest.approx(below + 0.98 * h, abs=1e-9)
        # the letter's ink fills its column but for 5% on either side (C and G too, whose ink starts right of 0)
        assert left == pytest.approx(col + 3 - 0.45, abs=1e-9) and right == pytest.approx(col + 3 + 0.45, abs=1e-9)
    assert spans[(2, "A")][1] < spans[(2, "C")][0]          # A (0.2) under C (0.8)
    assert spans[(3, "T")][0] > spans[(3, "G")][1] > spans[(3, "C")][1] > spans[(3, "A")][1]
    assert ax.get_xlim() == (2.5, 6.5) and ax.get_ylim() == (0, 2)
    plt.close(ax.figure)


def test_summary_sheet_columns(tmp_path):
    """Several filter/match pairs per row: the sheet gets wider and shorter, and a partial last row is allowed."""
    from PIL import Image

    from seqconv.motifs import jaspar_collection
    from seqconv.motifs.compare import MotifComparer
    from seqconv.motifs.logos import summary_sheet

    db = jaspar_collection()
    queries = [next(m for m in db if m.name == n) for n in ("CTCF", "MAFK", "SRF")]
    matches = MotifComparer(db).compare(queries, top=1)
    one = summary_sheet(queries, matches, tmp_path / "one.png", collection=db, dpi=40, columns=1)
    two = summary_sheet(queries, matches, tmp_path / "two.png", collection=db, dpi=40, columns=2)
    (w1, h1), (w2, h2) = Image.open(one).size, Image.open(two).size
    assert w2 == 2 * w1 and h2 < 0.8 * h1  # 3 rows -> 2 rows
    with pytest.raises(ValueError, match="columns"):
        summary_sheet(queries, matches, tmp_path / "bad.png", collection=db, columns=0)
    assert not (tmp_path / "bad.png").exists()
