"""Filters -> motifs: a first-layer filter set by hand to a JASPAR PWM must come back as that motif."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from seqconv.errors import InputError
from seqconv.models import build_model, get_config
from seqconv.motifs import jaspar_collection
from seqconv.motifs.compare import MotifComparer
from seqconv.motifs.extract import (
    activation_motifs,
    filter_influence,
    first_layer,
    max_activations,
    weight_motifs,
)

L = 101


@pytest.fixture(scope="module")
def db():
    return jaspar_collection()


@pytest.fixture(scope="module")
def ctcf(db):
    return next(m for m in db if m.name == "CTCF")


def _same_strong_letters(motif, ref, p_min=0.7):
    """The two motifs agree on the best letter wherever ``ref`` has one letter above ``p_min``."""
    strong = ref.probabilities.max(1) > p_min
    return (motif.probabilities.argmax(1) == ref.probabilities.argmax(1))[strong].all()


def _planted(motif, n=300, *, strands="both", seed=0):
    """Random sequences; every even one carries a site sampled from ``motif`` (returns X, y, n_planted)."""
    rng = np.random.default_rng(seed)
    P = motif.probabilities
    k = len(P)
    seqs = rng.integers(0, 4, size=(n, L))
    y = np.zeros(n, dtype=np.float32)
    for i in range(0, n, 2):
        site = (rng.random((k, 1)) > np.cumsum(P, axis=1)).sum(1).clip(0, 3)
        if strands == "reverse" or (strands == "both" and rng.random() < 0.5):
            site = (3 - site)[::-1]
        pos = rng.integers(0, L - k + 1)
        seqs[i, pos:pos + k] = site
        y[i] = 1
    X = np.eye(4, dtype=np.uint8)[seqs].transpose(0, 2, 1).copy()
    return X, y, int(y.sum())


def _pwm_model(motif):
    """deepbind with filter 0 = the motif's log-odds, filter 1 random, filter 2 dead; head reads filter 0."""
    k = motif.width
    model = build_model(get_config("deepbind", n_tasks=1, input_length=L, filters=3, kernel_size=k, hidden=0,
                                   dropout=0.0), seed=0).eval()
    conv = model.first_conv
    with torch.no_grad():
        conv.weight[0] = torch.tensor(motif.log_odds(pseudocount=0.5).T.copy(), dtype=torch.float32)
        conv.bias[0] = -8.0
        conv.weight[2] = -1.0
        conv.bias[2] = -100.0
        lin = model.head.output
        lin.weight.zero_()
        lin.weight[0, 0] = 1.0
        lin.bias.fill_(-1.0)
    return model


def test_activation_alignment_recovers_planted_pwm(ctcf, db):
    X, _, n_planted = _planted(ctcf)
    model = _pwm_model(ctcf)
    motifs = activation_motifs(model, X, threshold=0.5)
    ids = [m.id for m in motifs]
    assert "filter0" in ids and "filter2" not in ids  # the dead filter gives no motif
    m0 = motifs[ids.index("filter0")]
    assert m0.width == ctcf.width and m0.has_counts
    assert 0.5 * n_planted <= m0.n_sites <= 1.2 * n_planted  # weak sampled sites fall below 0.5 x max
    sharper = {m.id: m for m in activation_motifs(model, X, threshold=0.8)}["filter0"]
    assert sharper.n_sites < m0.n_sites and sharper.information_content().sum() > m0.information_content().sum()
    assert np.abs(m0.probabilities - ctcf.probabilities).max() < 0.2
    assert _same_strong_letters(m0, ctcf)
    best = MotifComparer(db).compare([m0], top=1).iloc[0]
    assert best.target_id == ctcf.id and best.orientation == "+" and best.q_value < 1e-10


def test_both_strands_as_the_model_sees_them(ctcf):
    X, _, n_planted = _planted(ctcf, strands="reverse", seed=1)
    model = _pwm_model(ctcf)
    both = {m.id: m for m in activation_motifs(model, X, strand="both", threshold=0.5, min_sites=1)}
    fwd = {m.id: m for m in activation_motifs(model, X, strand="forward", threshold=0.5, min_sites=1)}
    assert both["filter0"].n_sites >= 0.5 * n_planted
    assert _same_strong_letters(both["filter0"], ctcf)  # reverse-strand sites counted in filter orientation
    assert fwd.get("filter0") is None or fwd["filter0"].n_sites < 0.2 * n_planted
    with pytest.raises(ValueError, match="threshold"):
        activation_motifs(model, X, threshold=1.5)
    with pytest.raises(InputError, match="one-hot"):
        activation_motifs(model, X[:, :3])


def test_max_activations_separate_planted_sequences(ctcf):
    from seqconv.evaluate import auroc

    X, y, _ = _planted(ctcf, n=200, strands="reverse", seed=3)
    model = _pwm_model(ctcf)
    both = max_activations(model, X, batch_size=64)
    fwd = max_activations(model, X, strand="forward", batch_size=64)
    assert both.shape == (200, 3) and both.dtype == np.float32
    assert (both >= fwd - 1e-6).all()  # the reverse strand can only add
    assert auroc(y, both[:, 0]) > 0.95 > auroc(y, fwd[:, 0])  # sites are on the reverse strand only
    assert (both[:, 2] == 0).all()  # the dead filter never fires
    # the per-sequence maxima are what activation_motifs thresholds: sites of 0.7 x max come from these rows
    thr = 0.7 * both[:, 0].max()
    n_sites = {m.id: m for m in activation_motifs(model, X, threshold=0.7, min_sites=1)}["filter0"].n_sites
    assert (both[:, 0] > thr).sum() <= n_sites


def test_weight_view_matches_the_pwm(ctcf, db):
    motifs = weight_motifs(_pwm_model(ctcf))
    assert [m.id for m in motifs] == ["filter0", "filter1", "filter2"]
    assert _same_strong_letters(motifs[0], ctcf)
    best = MotifComparer(db).compare([motifs[0]], top=1).iloc[0]
    assert best.target_name == "CTCF" and best.q_value < 1e-6


def test_influence_ranks_the_used_filter_first(ctcf):
    X, y, _ = _planted(ctcf, n=200, seed=2)
    model = _pwm_model(ctcf)
    table = filter_influence(model, X, y[:, None], tasks=["CTCF"], batch_size=64)
    assert list(table["filter"]) == [0, 1, 2]
    row0 = table.iloc[0]
    assert row0["rank"] == 1 and row0["auroc_drop"] > 0.3 and row0["top_task"] == "CTCF"
    assert table.loc[1:, "influence"].abs().max() < 1e-9  # filters the head ignores
    unlabeled = filter_influence(model, X, strand="forward")
    assert unlabeled.iloc[0]["influence"] > 0 and unlabeled.iloc[0]["rank"] == 1
    assert "auroc_drop" not in unlabeled


@pytest.mark.slow
def test_basset_and_resnet_first_layers():
    for arch, n in (("basset", 8), ("resnet", 3 * 4)):
        over = {"filters": (8, 8, 8), "hidden": 8} if arch == "basset" else \
            {"first_filters": 4, "dilations": (1,), "hidden": 8}
        model = build_model(get_config(arch, n_tasks=2, input_length=L, **over), seed=0).eval()
        layer = first_layer(model)
        assert layer.n_filters == n
        X, _, _ = _planted(jaspar_collection()[0], n=20)
        motifs = activation_motifs(model, X, min_sites=1)
        assert motifs and all(m.width == w for m in motifs
                              for w in [layer.widths[int(m.id[6:])]])
        table = filter_influence(model, X)
        assert len(table) == n and sorted(table["rank"]) == list(range(1, n + 1))


def test_model_without_convolutional_first_layer():
    model = nn.Sequential(nn.Flatten(), nn.Linear(4 * L, 1))
    with pytest.raises(InputError, match="no convolutional first layer"):
        first_layer(model)
    plain = nn.Sequential(nn.Conv1d(4, 5, 9), nn.ReLU(), nn.AdaptiveMaxPool1d(1), nn.Flatten(), nn.Linear(5, 1))
    assert first_layer(plain).n_filters == 5
    X, y, _ = _planted(jaspar_collection()[0], n=40)
    assert len(filter_influence(plain, X, y[:, None])) == 5
