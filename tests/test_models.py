"""seqconv.models: shapes, receptive fields, configs, first-layer access, describe, CLI."""

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from torch import nn

from seqconv.cli import main
from seqconv.errors import InputError
from seqconv.models import ARCHITECTURES, build_model, config_from_dict, describe, get_config


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
@pytest.mark.parametrize("n_tasks,length", [(1, 101), (3, 200)])
def test_output_shape_and_trunk_head(arch, n_tasks, length):
    m = build_model(get_config(arch, n_tasks=n_tasks, input_length=length), seed=0).eval()
    x = torch.zeros(5, 4, length)
    x[:, 0] = 1
    out = m(x)
    assert out.shape == (5, n_tasks)
    assert torch.allclose(m.head(m.trunk(x)), out)
    assert isinstance(m.trunk, nn.Module) and isinstance(m.head, nn.Module)


def test_first_conv_is_plain_conv1d_and_feeds_trunk():
    for arch in ("deepbind", "basset"):
        m = build_model(get_config(arch), seed=0)
        assert type(m.first_conv) is nn.Conv1d and m.first_conv.in_channels == 4
        seen = []
        h = m.first_conv.register_forward_hook(lambda mod, i, o: seen.append(o.shape))
        m.eval()(torch.zeros(2, 4, 101))
        h.remove()
        assert seen == [torch.Size([2, m.first_conv.out_channels, 101])]
    r = build_model(get_config("resnet", first_widths=[5, 9], first_filters=8), seed=0)
    assert [c.kernel_size[0] for c in r.first_conv] == [5, 9]
    assert all(type(c) is nn.Conv1d for c in r.first_convs)


def test_seed_reproducible_init_and_global_rng_untouched():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = build_model(get_config("basset"), seed=7)
    after = torch.rand(1)
    b = build_model(get_config("basset"), seed=7)
    c = build_model(get_config("basset"), seed=8)
    assert before == after
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not torch.equal(sa["trunk.layers.0.conv.weight"], sc["trunk.layers.0.conv.weight"])


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_config_json_roundtrip(arch):
    cfg = get_config(arch, n_tasks=4, input_length=150)
    d = json.loads(json.dumps(cfg.to_dict()))
    assert d["arch"] == arch
    assert config_from_dict(d) == cfg
    m1, m2 = build_model(cfg, seed=1), build_model(d, seed=1)
    assert sum(p.numel() for p in m1.parameters()) == sum(p.numel() for p in m2.parameters())


def test_bad_names_and_options():
    with pytest.raises(InputError, match="unknown architecture 'vgg'"):
        get_config("vgg")
    with pytest.raises(InputError, match="no option"):
        get_config("basset", n_filters=3)
    with pytest.raises(ValueError, match="same length"):
        get_config("basset", filters=[8, 8], kernel_sizes=[5], pool_sizes=[2, 2])


def test_exponential_first_layer_activation():
    """resnet first_activation="exp": the first layer's output is exp(BN(conv)) (> 0, unbounded), not ReLU's."""
    from seqconv.models.blocks import Exp

    m = build_model(get_config("resnet", first_activation="exp", input_length=60), seed=0).eval()
    first = m.trunk.layers[0]
    assert isinstance(first.act, Exp)
    x = torch.randint(0, 2, (3, 4, 60)).float()
    with torch.no_grad():
        h = first(x)
        pre = first.pool(first.bn(torch.cat([c(x) for c in first.convs], dim=1)))
    assert (h > 0).all() and torch.allclose(h, torch.exp(pre))
    relu = build_model(get_config("resnet", input_length=60), seed=0).eval()
    with torch.no_grad():
        assert (relu.trunk.layers[0](x) == 0).any()
    with pytest.raises(ValueError, match="first_activation"):
        get_config("resnet", first_activation="gelu")


def test_first_pool_size_configurable():
    small = build_model(get_config("basset", pool_sizes=[1, 4, 4]))
    big = build_model(get_config("basset", pool_sizes=[10, 4, 4], input_length=400))
    assert describe(small, 101)["output_length"].iloc[0] == 101
    assert describe(big, 400)["output_length"].iloc[0] == 40
    db = build_model(get_config("deepbind", pool_size=4))
    assert describe(db, 101)["output_length"].iloc[0] == 25


def test_describe_receptive_fields_match_hand_computation():
    cfg = get_config("basset", filters=[8, 8, 8], kernel_sizes=[5, 3, 3], pool_sizes=[2, 2, 2], input_length=64)
    t = describe(build_model(cfg), 64)
    # conv5: 5, pool2: 6 (jump 2); conv3: 6+2*2=10, pool2: 12 (jump 4); conv3: 12+2*4=20, pool2: 24
    assert t["receptive_field_bp"].tolist()[:3] == [6, 12, 24]
    assert t["output_length"].tolist()[:3] == [32, 16, 8]
    total = t[t["layer"] == "total"]["params"].item()
    assert total == sum(p.numel() for p in build_model(cfg).parameters())
    assert total == t[t["layer"] != "total"]["params"].sum()


def test_receptive_field_matches_gradient_support():
    """Empirical check: the input positions with non-zero gradient of one output position."""
    cfg = get_config("resnet", first_widths=[3, 5], first_filters=4, pool_size=1, dilations=[1, 2],
                     kernel_size=3, input_length=64)
    m = build_model(cfg, seed=0).eval()
    t = describe(m, 64)
    rf = t[t["layer"] == "trunk.layers.2"]["receptive_field_bp"].item()
    x = torch.randn(16, 4, 64, generator=torch.Generator().manual_seed(0), requires_grad=True)
    feat = nn.Sequential(*list(m.trunk.layers)[:3])(x)
    feat[:, :, 32].sum().backward()  # union over 16 inputs: a dead ReLU cannot hide a position
    support = np.flatnonzero(x.grad.abs().sum((0, 1)).numpy() > 0)
    assert support.max() - support.min() + 1 == rf


def test_describe_cli():
    r = CliRunner().invoke(main, ["describe", "deepbind", "--length", "101", "--tsv"])
    assert r.exit_code == 0, r.output
    lines = r.output.strip().split("\n")
    assert lines[0].split("\t") == ["layer", "type", "output_shape", "output_length", "receptive_field_bp",
                                    "params"]
    assert lines[1].split("\t")[4] == "23"  # one 23-bp conv
    r = CliRunner().invoke(main, ["describe", "transformer"])
    assert r.exit_code == 2 and "no model directory or bundled model" in r.output


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_inference_copy_folds_batchnorm_same_outputs(arch):
    from seqconv.models import inference_copy

    m = build_model(get_config(arch, n_tasks=2), seed=0)
    g = torch.Generator().manual_seed(0)
    for mod in m.modules():  # non-trivial running statistics and affine parameters
        if isinstance(mod, nn.BatchNorm1d):
            mod.running_mean.copy_(torch.rand(mod.num_features, generator=g) - 0.5)
            mod.running_var.copy_(torch.rand(mod.num_features, generator=g) + 0.5)
            mod.weight.data.copy_(torch.rand(mod.num_features, generator=g) + 0.5)
    m.eval()
    fused = inference_copy(m)
    x = torch.randint(0, 2, (6, 4, 101), generator=g).float()
    assert torch.allclose(m(x), fused(x), atol=1e-5)
    n_bn = sum(isinstance(q, nn.BatchNorm1d) for q in fused.modules())
    assert n_bn < sum(isinstance(q, nn.BatchNorm1d) for q in m.modules())
    assert any(isinstance(q, nn.BatchNorm1d) for q in m.modules())  # the original is untouched


@pytest.mark.parametrize("arch,overrides", [
    ("deepbind", {}), ("deepbind", {"pool_size": 3, "kernel_size": 8, "global_pool": "maxavg"}),
    ("basset", {}), ("basset", {"kernel_sizes": (8, 6, 4), "pool_sizes": (2, 3, 1), "n_tasks": 3}),
    ("resnet", {}), ("resnet", {"first_widths": (4, 9), "dilations": (1, 3), "pool_size": 0}),
    ("resnet", {"first_activation": "exp", "pool_size": 4}), ("resnet", {"rc_share": True})])
@pytest.mark.slow
def test_channels_last_inference_path_equals_plain_model(arch, overrides):
    """The fast predict path (BatchNorm folded, (1 x K) conv2d on channels-last activations) == model.eval()."""
    from seqconv.models import inference_copy
    from seqconv.predict import predict

    m = build_model(get_config(arch, input_length=117, **overrides), seed=1)
    g = torch.Generator().manual_seed(1)
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm1d):
            mod.running_mean.copy_(torch.randn(mod.num_features, generator=g))
            mod.running_var.copy_(torch.rand(mod.num_features, generator=g) + 0.3)
            mod.weight.data.copy_(torch.randn(mod.num_features, generator=g))
            mod.bias.data.copy_(torch.randn(mod.num_features, generator=g))
    m.eval()
    before = {k: v.clone() for k, v in m.state_dict().items()}
    x = torch.randint(0, 2, (9, 4, 117), generator=g).float()
    x[3, :, 40:60] = 0.25  # N bases
    with torch.inference_mode():
        ref = m(x)
        fast = inference_copy(m)
        assert any(getattr(q, "channels_last", False) for q in fast.modules())
        out = fast(x)
        out_ncl = inference_copy(m, channels_last=False)(x)
    assert ref.abs().max() > 0.1  # not a degenerate all-zero output
    assert torch.allclose(out, ref, atol=1e-4) and torch.allclose(out_ncl, ref, atol=1e-4)
    # the original model and its parameters are untouched; predict() uses the fast path with the same result
    assert all(torch.equal(before[k], v) for k, v in m.state_dict().items())
    assert not any(getattr(q, "channels_last", False) for q in m.modules())
    rc = x.flip(1).flip(2)
    expect = ((ref + m(rc)) / 2).detach().numpy()
    assert np.allclose(predict(m, x.numpy(), batch_size=4, check=False), expect, atol=1e-4)
    assert np.allclose(predict(m, x.numpy(), strand="forward", check=False), ref.detach().numpy(), atol=1e-4)


def test_inference_copy_in_train_mode_uses_the_plain_path():
    from seqconv.models import inference_copy

    m = build_model(get_config("basset"), seed=0).eval()
    fast = inference_copy(m)
    x = torch.randint(0, 2, (4, 4, 101)).float()
    with torch.no_grad():
        a = fast(x)
        fast.train()
        torch.manual_seed(0)
        b = fast(x)  # dropout active: the NCL path with nn.Dropout, so outputs differ
        fast.eval()
        c = fast(x)
    assert not torch.allclose(a, b) and torch.allclose(a, c)


def test_model_card_travels_with_the_model_and_with_head_swaps_safely(tmp_path):
    from seqconv.modelfile import load_model, save_model
    from seqconv.models import ModelCard

    card = ModelCard(tasks=["CTCF", "REST"], strand="forward", encoding={"iupac": "uniform"},
                     negatives="genomic background (GC-matched)")
    m = build_model(get_config("basset", n_tasks=2, filters=[8, 8, 8], hidden=16), seed=0, card=card)
    assert m.tasks == ["CTCF", "REST"] and m.strand == "forward" and m.encoding["iupac"] == "uniform"
    with pytest.raises(ValueError, match="the card names 1 task"):
        m.card = card.replace(tasks=["CTCF"])
    new = m.with_head(["YY1", "SP1", "MAX"], hidden=0, seed=1)
    assert new.n_tasks == 3 and new.tasks == ["YY1", "SP1", "MAX"] and new.config.hidden == 0
    assert new.strand == "forward" and new.encoding["iupac"] == "uniform"
    assert new.card.transfer["backbone"]["tasks"] == ["CTCF", "REST"]
    for k, v in m.trunk.state_dict().items():  # the trunk is copied, not shared
        assert torch.equal(new.trunk.state_dict()[k], v)
    new.trunk.layers[0].conv.weight.data.add_(1.0)
    assert not torch.equal(new.trunk.layers[0].conv.weight, m.trunk.layers[0].conv.weight)
    save_model(new, tmp_path / "n")
    back = load_model(tmp_path / "n")
    x = torch.rand(3, 4, 101)
    assert torch.equal(back(x), new.eval()(x)) and back.tasks == new.tasks and back.card == new.card


def _rc_pairs_hold(model) -> bool:
    """Every first-layer conv: filter F/2 + i is filter i reversed and complemented, same bias, bit for bit."""
    ok = True
    for c in model.first_convs:
        h = c.out_channels // 2
        ok &= torch.equal(c.weight[h:], c.weight[:h].flip(1, 2)) and torch.equal(c.bias[h:], c.bias[:h])
    return bool(ok)


def test_rc_share_first_layer_pairs_hold_after_training_and_are_rc_equivariant():
    """resnet rc_share=True: half the first-layer parameters, (W, RC(W)) pairs, an RC-equivariant first conv;
    the pairing still holds exactly after training steps on real peaks (the optimiser moves the shared half)."""
    from _oct4_mafk import oct4_mafk_dataset

    from seqconv.train import TrainConfig, fit

    plain = build_model(get_config("resnet", input_length=200, first_filters=8, dilations=[1, 2]), seed=0)
    m = build_model(get_config("resnet", input_length=200, first_filters=8, dilations=[1, 2], rc_share=True), seed=0)
    n_first = sum(p.numel() for c in plain.first_convs for p in c.parameters())
    n_all = sum(p.numel() for p in m.parameters())
    assert n_all == sum(p.numel() for p in plain.parameters()) - n_first // 2
    before = [c.weight.detach().clone() for c in m.first_convs]
    res = fit(m, oct4_mafk_dataset(), config=TrainConfig(epochs=2, batch_size=32, lr=1e-2, seed=0), verbose=False)
    m = res.model
    assert not any(torch.equal(b, c.weight) for b, c in zip(before, m.first_convs))  # it did train
    assert _rc_pairs_hold(m)
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (5, 200), generator=torch.Generator().manual_seed(0)),
                                    4).permute(0, 2, 1).float()
    with torch.no_grad():
        for c in m.first_convs:
            h = c.out_channels // 2
            fwd, rev = c(x), c(x.flip(1).flip(2))
            assert torch.allclose(fwd[:, h:], rev[:, :h].flip(-1), atol=1e-5)
            assert not torch.allclose(fwd[:, :h], rev[:, :h].flip(-1), atol=1e-3)  # a plain filter is not
    with pytest.raises(ValueError, match="rc_share needs an even first_filters"):
        get_config("resnet", first_filters=7, rc_share=True)
    with pytest.raises(ValueError, match="odd first_widths"):
        get_config("resnet", first_widths=[8, 15], rc_share=True)
    assert "rc_share" not in get_config("resnet").to_dict()  # cards of plain models read as before the option


def _rc_model(seed=0):
    m = build_model(get_config("resnet", n_tasks=2, input_length=101, first_filters=8, dilations=[1, 2],
                               rc_share=True), seed=seed)
    g = torch.Generator().manual_seed(seed)
    for mod in m.modules():  # non-trivial running statistics and affine parameters
        if isinstance(mod, nn.BatchNorm1d):
            mod.running_mean.copy_(torch.randn(mod.num_features, generator=g) * 0.3)
            mod.running_var.copy_(torch.rand(mod.num_features, generator=g) + 0.5)
            mod.weight.data.copy_(torch.rand(mod.num_features, generator=g) + 0.5)
            mod.bias.data.copy_(torch.randn(mod.num_features, generator=g) * 0.3)
    return m.eval()


def test_rc_share_save_load_round_trip_and_inference_copy(tmp_path):
    """The config field is in model.json, the shared half in the safetensors file (no pickles); loading gives
    the same predictions; the folded / channels-last inference copy equals the model (1e-5) and leaves it intact."""
    from safetensors.torch import load_file

    from seqconv.modelfile import load_model, save_model
    from seqconv.models import inference_copy
    from seqconv.predict import predict

    m = _rc_model()
    save_model(m, tmp_path / "rc")
    card = json.loads((tmp_path / "rc" / "model.json").read_text())
    assert card["architecture"]["rc_share"] is True
    tensors = load_file(str(tmp_path / "rc" / "model.safetensors"))
    key = "trunk.layers.0.convs.0.parametrizations.weight.original"
    assert tuple(tensors[key].shape) == (4, 4, 7)  # half of 8 filters of width 7
    back = load_model(tmp_path / "rc")
    assert _rc_pairs_hold(back)
    x = torch.randint(0, 2, (7, 4, 101), generator=torch.Generator().manual_seed(1)).float()
    with torch.no_grad():
        ref = m(x)
        assert torch.equal(back(x), ref)
        for cl in (True, False):
            fast = inference_copy(m, channels_last=cl)
            assert torch.allclose(fast(x), ref, atol=1e-5)
    assert ref.abs().max() > 0.03 and ref.std(0).min() > 1e-3  # outputs vary: a check that can fail
    assert _rc_pairs_hold(m) and torch.equal(m(x), ref)  # the original (and its shared parametrised class) intact
    expect = ((ref + m(x.flip(1).flip(2))) / 2).detach().numpy()
    assert np.allclose(predict(back, x.numpy(), check=False), expect, atol=1e-5)


def test_rc_share_describe_motifs_and_new_head(tmp_path):
    """describe counts the shared parameters once; weight motifs come in reverse-complement pairs; a new head
    on the trunk keeps the pairs; `seqconv motifs` runs on a saved rc_share model."""
    from _oct4_mafk import write_oct4_mafk

    from seqconv.modelfile import load_model, save_model
    from seqconv.motifs.extract import weight_motifs

    m = _rc_model()
    for mod in m.modules():  # positive first-layer BatchNorm scales: no sign flips in the weight view
        if isinstance(mod, nn.BatchNorm1d):
            mod.weight.data.abs_()
    table = describe(m)
    assert table["params"].iloc[-1] == sum(p.numel() for p in m.parameters())
    assert table["params"].iloc[0] == sum(p.numel() for p in m.trunk.layers[0].parameters())
    motifs = weight_motifs(m)
    assert len(motifs) == 8 * 3
    for i in range(4):  # width 7 block: filters 0-3 and their pairs 4-7
        assert np.allclose(motifs[4 + i].probabilities, motifs[i].probabilities[::-1, ::-1])
    new = m.with_head(["A", "B", "C"], seed=1)
    assert _rc_pairs_hold(new) and new.n_tasks == 3
    save_model(new, tmp_path / "new")
    assert _rc_pairs_hold(load_model(tmp_path / "new"))
    model = build_model(get_config("resnet", input_length=200, first_filters=8, dilations=[1], rc_share=True),
                        seed=0)
    save_model(model, tmp_path / "m")
    data = write_oct4_mafk(tmp_path / "d.parquet")
    r = CliRunner().invoke(main, ["motifs", "--model", str(tmp_path / "m"), "--data", str(data), "--out",
                                  str(tmp_path / "mo"), "--min-sites", "1", "--max-seqs", "100"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "mo" / "motifs.meme").read_text().count("MOTIF") > 0
