"""Class 6 through the Python API: arrays that are not one-hot, damaged weights, and the exit-code mapping."""

from __future__ import annotations

import errno

import numpy as np
import pytest
import torch
from _resources import nan_weights

from seqconv.cli._common import classify
from seqconv.encode import one_hot
from seqconv.errors import EnvError, InputError, InternalError
from seqconv.modelfile import load_model, save_model
from seqconv.models import build_model, get_config
from seqconv.predict import predict


@pytest.fixture(scope="module")
def net():
    return build_model(get_config("deepbind", input_length=30), seed=0)


def _x(n=5, length=30):
    rng = np.random.default_rng(0)
    return one_hot(["".join(rng.choice(list("ACGTN"), length)) for _ in range(n)])


@pytest.mark.parametrize("spoil,words", [
    (lambda x: x.__setitem__((2, 1, 7), np.nan), ["sequence 2", "NaN or infinite", "position 7"]),
    (lambda x: x.__setitem__((0, 0, 3), np.inf), ["sequence 0", "NaN or infinite", "position 3"]),
    (lambda x: x.__setitem__((4, 2, 0), 2.0), ["sequence 4", "not one-hot", "position 0"]),
    (lambda x: x.__setitem__((1, slice(None), 5), 1.0), ["sequence 1", "not one-hot", "position 5"]),
    (lambda x: x.__setitem__((3, 3, 9), -0.5), ["sequence 3", "not one-hot"]),
])
def test_predict_refuses_arrays_that_are_not_one_hot(net, spoil, words):
    x = _x()
    spoil(x)
    for arr in (x, torch.from_numpy(x)):
        with pytest.raises(InputError) as e:
            predict(net, arr, batch_size=2)
        for w in words:
            assert w in str(e.value)


def test_predict_shape_and_soft_inputs(net):
    with pytest.raises(InputError, match=r"\(N, 4, L\)"):
        predict(net, np.zeros((2, 30, 4), np.float32))
    x = _x()
    ok = predict(net, x)
    assert ok.shape == (5, 1) and np.isfinite(ok).all()
    soft = np.full_like(x, 0.25)
    assert np.isfinite(predict(net, soft)).all()  # N everywhere is one-hot-valid (0.25 each)
    assert predict(net, x * 3, check=False).shape == (5, 1)  # opting out scores any real input


def test_load_refuses_nan_weights(net, tmp_path):
    save_model(net, tmp_path / "m")
    assert load_model(tmp_path / "m").n_tasks == 1
    nan_weights(tmp_path / "m" / "model.safetensors")
    with pytest.raises(InputError, match="model.safetensors: weights contain NaN or inf"):
        load_model(tmp_path / "m")


@pytest.mark.parametrize("exc,code,words", [
    (InputError("bad record", path="x.fa", line=3), 2, ["x.fa:3: bad record"]),
    (EnvError("cannot write: no space left on device", path="o.tsv"), 2, ["o.tsv: cannot write"]),
    (OSError(errno.ENOSPC, "No space left on device", "out.tsv"), 2, ["out.tsv", "no space left on device"]),
    (PermissionError(errno.EACCES, "Permission denied", "/x"), 2, ["/x", "permission denied"]),
    (OSError(errno.EROFS, "Read-only file system", "/ro/f"), 2, ["/ro/f", "read-only file system"]),
    (FileNotFoundError(errno.ENOENT, "No such file", "gone.bed"), 2, ["gone.bed", "no such file"]),
    (MemoryError(), 2, ["out of memory", "--batch-size"]),
    (ValueError("an assumption broke"), 1, ["internal error", "ValueError", "please report"]),
    (KeyError("k"), 1, ["internal error", "KeyError"]),
    (InternalError("invariant"), 1, ["internal error: invariant", "please report"]),
    (OSError(errno.EINVAL, "Invalid argument"), 1, ["internal error"]),
])
def test_one_mapping_from_exceptions_to_exit_codes(exc, code, words):
    got, message = classify(exc)
    assert got == code
    for w in words:
        assert w in message


def test_input_error_is_a_value_error_for_library_callers():
    assert issubclass(InputError, ValueError) and issubclass(EnvError, InputError)
    assert not issubclass(InternalError, ValueError)
