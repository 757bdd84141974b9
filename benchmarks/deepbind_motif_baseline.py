"""Bundled DeepBind-ENCODE models vs a JASPAR-motif-only baseline, on DeepBind's own test sets (B files).

    python benchmarks/deepbind_motif_baseline.py [--data ../shared/data]

For each of the 10 TFs: the test set is DeepBind's B file (500 bound sequences, 500 dinucleotide
shuffles, 101 bp).  Baseline: the best log-odds score (bits, uniform background, pseudocount 0.1,
both strands) of the TF's JASPAR 2024 CORE motif anywhere in the sequence.  Model: the bundled
``deepbind_<TF>`` model (strand-averaged logits).  auROC / auPRC with 95% bootstrap intervals
(1,000 resamples of the test sequences, seeded).  Writes benchmarks/results/deepbind_motif_baseline.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from seqconv.evaluate import auprc, auroc, bootstrap_ci
from seqconv.modelfile import resolve_model
from seqconv.motifs.io import read_meme
from seqconv.predict import predict
from seqconv.scan import score_matrix

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _machine import machine_record, machine_text  # noqa: E402

JASPAR = {"REST": "MA0138.3", "MYC": "MA0147.4", "SP1": "MA0079.5", "GABPA": "MA0062.4", "FOXA1": "MA0148.5",
          "USF1": "MA0093.4", "ELK1": "MA0028.3", "CTCFL": "MA1102.3", "ARID3A": "MA0151.1", "ZBTB7A": "MA0750.3"}


def run(data: Path) -> list[dict]:
    motifs = {m.id: m for m in read_meme(data / "jaspar2024" / "JASPAR2024_CORE_vertebrates_nonredundant.meme.gz")}
    rows = []
    for tf, mid in JASPAR.items():
        path = sorted((data / "deepbind_encode").glob(f"{tf}_*_B.seq.gz"))[0]
        b = pd.read_csv(path, sep="\t")
        seqs, y = b["seq"].str.upper().tolist(), b["Bound"].to_numpy()
        S = score_matrix(seqs, [motifs[mid]])[:, 0]
        s_motif = np.nan_to_num(np.nanmax(np.where(np.isnan(S), -np.inf, S), axis=1), neginf=-100.0)
        model = resolve_model(f"deepbind_{tf}")
        s_model = predict(model, seqs)[:, 0]
        row = {"TF": tf, "motif": f"{mid} {motifs[mid].name}", "n": len(y), "n_pos": int(y.sum()),
               "model": f"deepbind_{tf}", "arch": model.arch}
        for name, s in (("motif", s_motif), ("model", s_model)):
            ci = bootstrap_ci(y, s, n_boot=1000, seed=0)
            row[f"{name}_auroc"] = auroc(y, s)
            row[f"{name}_auroc_ci"] = (ci["auroc_lo"], ci["auroc_hi"])
            row[f"{name}_auprc"] = auprc(y, s)
            row[f"{name}_auprc_ci"] = (ci["auprc_lo"], ci["auprc_hi"])
        rows.append(row)
        print(f"{tf:7s} motif auROC {row['motif_auroc']:.3f}  model auROC {row['model_auroc']:.3f}", flush=True)
    return rows


def report(rows: list[dict], machine: dict) -> str:
    lines = ["# Bundled DeepBind-ENCODE models vs the JASPAR motif alone (DeepBind test sets)", "",
             "Command: `python benchmarks/deepbind_motif_baseline.py`", "", machine_text(machine), "",
             "Test set: DeepBind's B file per TF (500 bound ENCODE ChIP-seq sequences ranked below the training "
             "peaks, 500 dinucleotide shuffles; 101 bp), never used in training.  Motif baseline: best log-odds "
             "of the TF's JASPAR 2024 CORE motif anywhere in the sequence (both strands).  95% bootstrap "
             "intervals over test sequences.  One model per TF (the bundled file), so no seed spread.", "",
             "| TF | JASPAR motif | motif auROC | model auROC | motif auPRC | model auPRC | model ahead (auROC) |",
             "|---|---|---|---|---|---|---|"]

    def ci(r, k):
        lo, hi = r[f"{k}_ci"]
        return f"{r[k]:.3f} [{lo:.3f}, {hi:.3f}]"

    for r in rows:
        lines.append(f"| {r['TF']} | {r['motif']} | {ci(r, 'motif_auroc')} | {ci(r, 'model_auroc')} | "
                     f"{ci(r, 'motif_auprc')} | {ci(r, 'model_auprc')} | {r['model_auroc'] - r['motif_auroc']:+.3f} |")
    ahead = sum(r["model_auroc"] > r["motif_auroc"] for r in rows)
    sep = sum(r["model_auroc_ci"][0] > r["motif_auroc_ci"][1] for r in rows)
    lines += ["", f"Model above the motif baseline on {ahead}/{len(rows)} TFs (auROC); intervals separate on "
                  f"{sep}/{len(rows)}."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(HERE.parents[1] / "shared" / "data"))
    ap.add_argument("--out", default=str(HERE / "results" / "deepbind_motif_baseline.md"))
    args = ap.parse_args(argv)
    start = machine_record({"torch": torch.get_num_threads()})
    t0 = time.time()
    rows = run(Path(args.data))
    machine = {**machine_record({"torch": torch.get_num_threads()}, since=start), "seconds": round(time.time() - t0, 1)}
    text = report(rows, machine)
    Path(args.out).write_text(text)
    Path(args.out).with_suffix(".json").write_text(json.dumps({"machine": machine, "rows": rows}, indent=1))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
