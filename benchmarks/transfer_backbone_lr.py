"""Ablation: finetune's backbone learning rate (0.1x vs 1.0x the head's), REST and FOXA1, 500 positives, human_lo4.

Usage::

    python benchmarks/transfer_backbone_lr.py ../backbones     # the folder pipelines/train_backbones.py wrote
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import transfer as bench  # noqa: E402
from _machine import machine_record, machine_text  # noqa: E402

from seqconv.evaluate import auroc  # noqa: E402
from seqconv.modelfile import load_backbone  # noqa: E402
from seqconv.predict import predict  # noqa: E402
from seqconv.train import TrainConfig  # noqa: E402
from seqconv.transfer import TransferConfig, finetune  # noqa: E402


def main(bbdir: str = "../backbones", data: str = "../shared/data") -> None:
    torch.set_num_threads(1)
    start = machine_record({"torch": 1})
    bb = load_backbone(Path(bbdir) / "human_lo4")
    lines = []
    for tf in ("REST", "FOXA1"):
        for lrf in (0.1, 1.0):
            res = []
            for seed in range(3):
                ds = bench.deepbind_cohort(data, tf, 500, seed)
                r = finetune(bb, ds, config=TrainConfig(epochs=20, batch_size=64, patience=4, seed=seed),
                             transfer=TransferConfig(mode="finetune", backbone_lr=lrf), verbose=False)
                te = ds.subset("test")
                res.append(auroc(te.y()[:, 0], predict(r.model, te.X())[:, 0]))
            lines.append(f"{tf} backbone_lr {lrf} {[round(x, 3) for x in res]}")
            print(lines[-1], flush=True)
    lines.append(machine_text(machine_record({"torch": 1}, since=start), own_threads=1))
    (bench.RESULTS / "transfer_backbone_lr.txt").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
