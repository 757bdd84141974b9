"""Model files: safetensors + JSON card round trip, never unpickling, clear errors on bad files."""

import json

import pytest
import torch
from safetensors.torch import load_file

from seqconv import __version__
from seqconv.errors import InputError
from seqconv.modelfile import CARD, FORMAT_VERSION, WEIGHTS, load_model, read_card, save_model
from seqconv.models import build_model, get_config


@pytest.fixture
def model():
    m = build_model(get_config("basset", n_tasks=2, filters=[8, 8, 8], hidden=16), seed=0)
    m.eval()(torch.zeros(2, 4, 101))
    # give BatchNorm non-default running stats so they are checked too
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm1d):
            mod.running_mean.uniform_(-1, 1, generator=torch.Generator().manual_seed(1))
    return m.eval()


def test_roundtrip_identical_predictions(tmp_path, model):
    x = torch.rand(6, 4, 101)
    save_model(model, tmp_path / "m", tasks=["CTCF", "REST"], strand="forward",
               training={"dataset": "ds.parquet", "split": {"scheme": "chromosome", "test": ["chr8", "chr9"]},
                         "train_chromosomes": ["chr1", "chr2"]}, metrics={"test": {"auroc": 0.9}})
    m2 = load_model(tmp_path / "m")
    card = m2.card
    assert torch.equal(model(x), m2(x))
    assert card.tasks == ("CTCF", "REST") and card.strand == "forward" and card.alphabet == "ACGT"
    assert card.training["split"]["test"] == ["chr8", "chr9"]
    raw = json.loads((tmp_path / "m" / CARD).read_text())
    assert raw["input_width"] == 101 == m2.input_length and raw["format_version"] == FORMAT_VERSION
    assert raw["seqconv_version"] == __version__ and raw["kind"] == "model"
    assert m2.tasks == ["CTCF", "REST"] and m2.strand == "forward" and m2.encoding == {"n": "zero", "iupac": "zero"}
    assert raw["architecture"]["arch"] == "basset" and raw["architecture"]["filters"] == [8, 8, 8]
    assert set(load_file(str(tmp_path / "m" / WEIGHTS))) == set(model.state_dict())


def test_float16_storage_is_smaller_and_close(tmp_path, model):
    save_model(model, tmp_path / "a")
    save_model(model, tmp_path / "b", dtype="float16")
    a, b = (tmp_path / "a" / WEIGHTS).stat().st_size, (tmp_path / "b" / WEIGHTS).stat().st_size
    assert b < 0.6 * a
    m16 = load_model(tmp_path / "b")
    assert next(m16.parameters()).dtype == torch.float32
    x = torch.rand(4, 4, 101)
    assert torch.allclose(model(x), m16(x), atol=2e-2)


def test_truncated_weights(tmp_path, model):
    save_model(model, tmp_path / "m")
    w = tmp_path / "m" / WEIGHTS
    w.write_bytes(w.read_bytes()[: w.stat().st_size // 2])
    with pytest.raises(InputError, match="damaged or truncated"):
        load_model(tmp_path / "m")


def test_pickle_file_is_refused_not_unpickled(tmp_path, model):
    save_model(model, tmp_path / "m")
    torch.save(model.state_dict(), tmp_path / "m" / WEIGHTS)  # a pickle in disguise
    with pytest.raises(InputError, match=str(WEIGHTS)):
        load_model(tmp_path / "m")


def test_newer_format_and_bad_json(tmp_path, model):
    save_model(model, tmp_path / "m")
    card = tmp_path / "m" / CARD
    d = json.loads(card.read_text())
    card.write_text(json.dumps({**d, "format_version": FORMAT_VERSION + 1}))
    with pytest.raises(InputError, match="newer than this seqconv"):
        load_model(tmp_path / "m")
    card.write_text(json.dumps(d)[:-20])
    with pytest.raises(InputError, match="not valid JSON"):
        read_card(tmp_path / "m")


def test_mismatched_architecture(tmp_path, model):
    save_model(model, tmp_path / "m")
    card = tmp_path / "m" / CARD
    d = json.loads(card.read_text())
    d["architecture"]["filters"] = [8, 8, 16]
    card.write_text(json.dumps(d))
    with pytest.raises(InputError, match="do not match"):
        load_model(tmp_path / "m")
    d["architecture"]["arch"] = "lstm"
    card.write_text(json.dumps(d))
    with pytest.raises(InputError, match="unknown architecture"):
        load_model(tmp_path / "m")


def test_missing_things(tmp_path, model):
    with pytest.raises(InputError, match="no such model directory"):
        load_model(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no model.json"):
        load_model(tmp_path / "empty")
    with pytest.raises(ValueError, match="the card names 1 task"):
        save_model(model, tmp_path / "x", tasks=["only_one"])


def test_backbone_save_load_and_kind_errors(tmp_path, model):
    from seqconv.modelfile import load_backbone, save_backbone

    save_model(model, tmp_path / "m", tasks=["CTCF", "REST"], training={"splits": {"train": {"chromosomes": ["chr1"]}}})
    save_backbone(load_model(tmp_path / "m"), tmp_path / "bb", description="test backbone")
    assert all(k.startswith("trunk.") for k in load_file(str(tmp_path / "bb" / WEIGHTS)))
    bb = load_backbone(tmp_path / "bb")
    assert bb.card.kind == "backbone" and bb.card.tasks == ("CTCF", "REST") and bb.input_length == 101
    assert bb.card.training["splits"]["train"]["chromosomes"] == ["chr1"]
    x = torch.rand(2, 4, 101)
    assert torch.equal(bb(x), model.trunk(x))
    with pytest.raises(InputError, match="this is a backbone, not a model"):
        load_model(tmp_path / "bb")
    with pytest.raises(InputError, match="this is a model, not a backbone"):
        load_backbone(tmp_path / "m")
    new = bb.attach_head(["YY1"])
    assert new.n_tasks == 1 and torch.equal(new.trunk(x), bb(x))


def test_same_model_same_bytes_and_nan_refused(tmp_path, model):
    save_model(model, tmp_path / "a")
    save_model(model, tmp_path / "b")
    assert (tmp_path / "a" / WEIGHTS).read_bytes() == (tmp_path / "b" / WEIGHTS).read_bytes()
    model.head.output.weight.data[0, 0] = float("nan")
    with pytest.raises(ValueError, match="non-finite"):
        save_model(model, tmp_path / "c")


def test_format_version_1_card_loads_with_recorded_defaults(tmp_path, model):
    save_model(model, tmp_path / "m")
    raw = json.loads((tmp_path / "m" / CARD).read_text())
    for k in ("kind", "encoding", "negatives", "transfer"):
        raw.pop(k)
    raw["format_version"] = 1
    (tmp_path / "m" / CARD).write_text(json.dumps(raw))
    m = load_model(tmp_path / "m")
    assert m.card.kind == "model" and m.encoding == {"n": "zero", "iupac": "zero"}
