"""Speed of seqconv models on this machine's CPU, next to its fp32 peak measured in the same run.

    python benchmarks/speed.py [--threads 2] [--train-task tf_0] [--no-train]

Prints and writes benchmarks/results/speed.md:

* inference: sequences/s of ``deepbind`` and ``basset`` (default configs, 101 bp, batch 256,
  forward strand only and both strands), their FLOPs per sequence (torch FlopCounterMode),
  the achieved GFLOP/s and its fraction of the fp32 peak, which is measured here by a large
  torch matmul (4096 x 4096, same thread count) -- so the ratio is independent of clock speed;
* training: sequences/s of a training step (batch 128, augmentation on), and the time to the
  best validation auROC on the full GUE tf_0 training set (32,378 sequences).

The CPU is shared with other jobs: numbers are the median of repeated timings and still noisy.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "pipelines"))


def _median_time(fn, repeat: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def matmul_peak(n: int = 4096, repeat: int = 5) -> float:
    """Achieved fp32 GFLOP/s of an n x n matmul (the practical peak of this CPU at this thread count)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    t = _median_time(lambda: torch.mm(a, b), repeat, warmup=1)
    return 2 * n ** 3 / t / 1e9


def flops_per_seq(model, length: int) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.zeros(8, 4, length)
    with torch.inference_mode(), FlopCounterMode(display=False) as fc:
        model(x)
    return fc.get_total_flops() / 8


def inference_speed(arch: str, *, batch: int = 256, length: int = 101, repeat: int = 15) -> dict:
    from seqconv.models import build_model, get_config, inference_copy
    from seqconv.predict import _logits

    model = build_model(get_config(arch, input_length=length), seed=0).eval()
    fused = inference_copy(model)  # what seqconv.predict scores with: BatchNorm folded into the convs
    x = torch.randint(0, 2, (batch, 4, length)).float()
    out = {"arch": arch, "params": sum(p.numel() for p in model.parameters())}
    out["mflop_per_seq"] = flops_per_seq(model, length) / 1e6
    with torch.inference_mode():
        out["seq_s_plain"] = batch / _median_time(lambda: model(x), repeat)
        for strand in ("forward", "both"):
            t = _median_time(lambda: _logits(fused, x, strand), repeat)
            out[f"seq_s_{strand}"] = batch / t
    out["gflop_s"] = out["mflop_per_seq"] * out["seq_s_forward"] / 1e3
    return out


def train_speed(arch: str, *, batch: int = 128, length: int = 101, repeat: int = 10) -> float:
    from seqconv.models import build_model, get_config
    from seqconv.train import augment

    model = build_model(get_config(arch, input_length=length), seed=0).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randint(0, 2, (batch, 4, length)).to(torch.uint8)
    y = torch.randint(0, 2, (batch, 1)).float()
    g = torch.Generator().manual_seed(0)
    loss_fn = torch.nn.BCEWithLogitsLoss()

    def step():
        opt.zero_grad()
        loss_fn(model(augment(x.float(), rc=True, max_shift=3, gen=g)), y).backward()
        opt.step()

    return batch / _median_time(step, repeat)


def time_to_best(arch: str, task: str, data: Path, seed: int = 0) -> dict:
    from train_pretrained import load_gue

    from seqconv.models import build_model, get_config
    from seqconv.train import TrainConfig, fit

    ds = load_gue(data, task)
    model = build_model(get_config(arch), seed=seed)
    t0 = time.perf_counter()
    res = fit(model, ds, config=TrainConfig(epochs=15, patience=4, seed=seed), verbose=False)
    total = time.perf_counter() - t0
    best_auroc = max(h["valid_auroc"] for h in res.history)
    best_ep = next(h["epoch"] for h in res.history if h["valid_auroc"] == best_auroc)
    to_best = sum(h["seconds"] for h in res.history[:best_ep])
    n = int((ds.table["split"] == "train").sum())
    return {"arch": arch, "task": task, "n_train": n, "epochs_run": len(res.history), "best_epoch": best_ep,
            "best_valid_auroc": best_auroc, "seconds_to_best": to_best, "seconds_total": total,
            "train_seq_s_epoch": n * len(res.history) / sum(h["seconds"] for h in res.history)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--train-task", default="tf_0")
    ap.add_argument("--data", default=str(HERE.parents[1] / "shared" / "data"))
    ap.add_argument("--no-train", action="store_true", help="skip the full training run (time to best auROC)")
    ap.add_argument("--out", default=str(HERE / "results" / "speed.md"))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    peak_before = matmul_peak()
    rows = [inference_speed(a) for a in ("deepbind", "basset", "resnet")]
    peak_after = matmul_peak()
    peak = max(peak_before, peak_after)
    for r in rows:
        r["frac_peak"] = r["gflop_s"] / peak
        r["train_seq_s"] = train_speed(r["arch"])
    full = [] if args.no_train else [time_to_best(a, args.train_task, Path(args.data)) for a in ("deepbind", "basset")]
    lines = ["# seqconv speed (CPU)", "",
             f"Command: `python benchmarks/speed.py --threads {args.threads}`  ",
             f"Machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
             f"{args.threads} torch threads; CPU shared with other jobs (numbers are medians, still noisy).  ",
             f"fp32 peak (4096x4096 torch.mm, same threads, same run): {peak:.1f} GFLOP/s "
             f"(before {peak_before:.1f}, after {peak_after:.1f}).", "",
             "## Inference, 101 bp, batch 256", "",
             "seq/s forward = `seqconv.predict` path (eval copy with BatchNorm folded into the convs), one strand; "
             "both strands = forward + reverse complement (the default); unfused = plain `model.eval()(x)`. "
             "GFLOP/s and the fraction of peak are for the forward-strand predict path.", "",
             "| arch | params | MFLOP/seq | seq/s unfused | seq/s forward | seq/s both strands | GFLOP/s |"
             " fraction of fp32 peak | train step seq/s (batch 128) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['arch']} | {r['params']:,} | {r['mflop_per_seq']:.2f} | {r['seq_s_plain']:,.0f} | "
                     f"{r['seq_s_forward']:,.0f} | "
                     f"{r['seq_s_both']:,.0f} | {r['gflop_s']:.1f} | {r['frac_peak']:.0%} | {r['train_seq_s']:,.0f} |")
    if full:
        lines += ["", f"## Training on the full GUE {args.train_task} set (seed 0, max 15 epochs, patience 4)", "",
                  "| arch | train seqs | epochs run | best epoch | best valid auROC | s to best auROC | s total |"
                  " train seq/s (incl. validation) |", "|---|---|---|---|---|---|---|---|"]
        for f in full:
            lines.append(f"| {f['arch']} | {f['n_train']:,} | {f['epochs_run']} | {f['best_epoch']} | "
                         f"{f['best_valid_auroc']:.4f} | {f['seconds_to_best']:.0f} | {f['seconds_total']:.0f} | "
                         f"{f['train_seq_s_epoch']:,.0f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
