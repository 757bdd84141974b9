"""seqconv.dataset: the Parquet dataset format, its metadata and its errors."""

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from seqconv.dataset import Dataset, read_dataset, write_dataset
from seqconv.errors import InputError


def small() -> Dataset:
    t = pd.DataFrame({
        "name": ["a", "b", "c"], "chrom": ["chr1", "chr7", "chr8"], "start": [0, 10, 20], "end": [4, 14, 24],
        "sequence": ["ACGT", "ttNa", "GGCC"], "kind": ["positive", "background", "positive"],
        "split": ["train", "valid", "test"], "label:TF1": np.array([1, 0, 1], np.int8),
        "label:TF2": np.array([0, 0, 1], np.int8),
    })
    return Dataset(t, {"width": 4})


def test_round_trip_arrays(tmp_path):
    p = write_dataset(small(), tmp_path / "d.parquet")
    ds = read_dataset(p)
    assert ds.tasks == ["TF1", "TF2"] and ds.meta["format_version"] == 1
    X = ds.X()
    assert X.shape == (3, 4, 4) and X.dtype == np.uint8
    assert X[1].T.tolist() == [[0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0], [1, 0, 0, 0]]  # soft-masked + N
    assert ds.y("test").tolist() == [[1.0, 1.0]]
    s = ds.summary()
    assert s["n"].sum() == 3 and list(s["split"]) == ["train", "valid", "test"]


def test_errors(tmp_path):
    with pytest.raises(InputError, match="no such dataset file"):
        read_dataset(tmp_path / "missing.parquet")
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(InputError, match="junk.parquet: not a seqconv dataset"):
        read_dataset(junk)
    plain = tmp_path / "plain.parquet"
    pq.write_table(pa.table({"x": [1]}), plain)
    with pytest.raises(InputError, match="no seqconv metadata"):
        read_dataset(plain)
    newer = tmp_path / "newer.parquet"
    t = pa.Table.from_pandas(small().table).replace_schema_metadata(
        {b"seqconv": json.dumps({"format_version": 99}).encode()})
    pq.write_table(t, newer)
    with pytest.raises(InputError, match="format version 99 is newer"):
        read_dataset(newer)


def test_failed_write_leaves_no_file(tmp_path):
    bad = Dataset(small().table.drop(columns=["split"]), {})
    with pytest.raises(ValueError, match="lacks columns"):
        write_dataset(bad, tmp_path / "x.parquet")
    assert list(tmp_path.iterdir()) == []
