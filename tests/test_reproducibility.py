"""Same inputs + same seed -> byte-identical outputs on CPU, across separate processes (different hash seeds).

prepare (the Parquet file), predict (TSV), scan (TSV) and a saved model's safetensors file (whose header
order the safetensors library varies between processes; seqconv writes it canonically).  ``train`` itself is
checked by the training tests.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GENOME = ROOT / "data" / "yeast" / "sacCer3_chr1_3_6_7_8_9.fa.gz"
REB1 = ROOT / "data" / "yeast" / "Reb1_CX.bed.gz"
FASTA = ROOT / "data" / "example_oct4_mafk_test.fa"

SCRIPT = r"""
import sys
from pathlib import Path
from click.testing import CliRunner
from seqconv.cli import main
from seqconv.models import build_model, get_config
from seqconv.modelfile import save_model

out = Path(sys.argv[1]); genome, reb1, fasta = sys.argv[2:5]
def run(*args):
    r = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return r
run("prepare", "--peaks", reb1, "--genome", genome, "--negatives", "both", "--seed", "3", "--width", "150",
    "--out", out / "ds.parquet", "-q")
run("predict", "--model", "oct4_mafk", fasta, "--out", out / "pred.tsv", "-q")
run("predict", "--model", "yeast_chexmix", "--genome", genome, "--region", "chr1:1-30000", "--stride", "40",
    "--out", out / "tiles.tsv", "-q")
run("scan", "--motifs", "jaspar", "--fasta", fasta, "--thresh", "1e-4", "--out", out / "hits.tsv", "-q")
save_model(build_model(get_config("basset", n_tasks=2, input_length=150), seed=5), out / "model", tasks=["a", "b"])
"""


def _digests(folder: Path) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_outputs_are_byte_identical_across_processes(tmp_path):
    runs = []
    for i, hash_seed in enumerate(("1", "12345")):
        out = tmp_path / f"run{i}"
        out.mkdir()
        env = dict(os.environ, PYTHONHASHSEED=hash_seed,
                   PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        p = subprocess.run([sys.executable, "-c", SCRIPT, str(out), str(GENOME), str(REB1), str(FASTA)],
                           capture_output=True, text=True, env=env, timeout=900)
        assert p.returncode == 0, p.stderr[-3000:]
        runs.append(_digests(out))
    assert set(runs[0]) == {"ds.parquet", "pred.tsv", "tiles.tsv", "hits.tsv", "model/model.safetensors",
                            "model/model.json"}
    assert runs[0] == runs[1]


def test_safetensors_header_is_sorted_and_canonical(tmp_path):
    import json

    from seqconv.modelfile import load_model, save_model
    from seqconv.models import build_model, get_config

    net = build_model(get_config("deepbind", input_length=50), seed=1)
    save_model(net, tmp_path / "m")
    raw = (tmp_path / "m" / "model.safetensors").read_bytes()
    n = int.from_bytes(raw[:8], "little")
    text = raw[8:8 + n].decode().rstrip(" ")
    header = json.loads(text)
    assert text == json.dumps(header, sort_keys=True, separators=(",", ":"))
    assert list(header) == sorted(header) and list(header["__metadata__"]) == ["format", "format_version"]
    back = load_model(tmp_path / "m")
    assert all((a == b).all() for a, b in zip(net.state_dict().values(), back.state_dict().values()))
