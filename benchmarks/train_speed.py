"""Training speed: ``seqconv.train.fit`` against a bare PyTorch loop, and runs sharing the cores.

Parts (all in one run, figures printed and written to ``benchmarks/results/train_speed.md`` + ``.json``):

1. **A/B**: the same model (``build_model(get_config(arch, n_tasks=1, input_length=101), seed=0)``),
   batch size and epochs trained by ``fit`` (AdamW, class weights, RC + shift augmentation,
   validation each epoch, checkpoint and best-model writes into a scratch folder: what
   ``seqconv train`` does) and by a bare loop (uint8 one-hot in memory, random batches, ``.float()``
   per batch, AdamW, BCE-with-logits, nothing else), in interleaved rounds (the order alternates),
   on each thread count.  CPU seconds per epoch = process CPU time (all threads) / epochs.
2. **Profile**: one instrumented ``fit`` per architecture: where its CPU time goes (batch
   assembly + upcast, augmentation, forward + loss, backward, optimiser step, validation,
   metrics, checkpoint and model writes, the rest of the loop).
3. **Validation**: one validation pass through ``seqconv.predict.predict`` (the fused
   inference copy, both strands, as ``fit`` calls it) against a plain eval-mode forward.
4. **Sharing the cores**: CPU seconds of one ``fit`` run alone and of two run side by side
   (two subprocesses at once, same thread count), with seqconv's thread policy (idle OpenMP
   threads sleep: ``OMP_WAIT_POLICY=PASSIVE``) and with libgomp's default spinning
   (``GOMP_SPINCOUNT=300000``, what libgomp does when no policy is set).

Data: GUE tf_2 (19,000 train + 1,000 dev, 101 bp) from ``../shared/data/gue_tf`` when present, else
the bundled yeast Reb1 peaks (``data/yeast``, prepared at 101 bp).

Usage::

    python benchmarks/train_speed.py                       # full run (~20 min on 2 busy cores)
    python benchmarks/train_speed.py --archs deepbind --threads 1 --epochs 1 --rounds 1 --no-pairs  # quick
"""

# ruff: noqa: I001  (seqconv is imported first: its thread policy is set before torch loads libgomp)
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import seqconv  # noqa: E402,F401  (first: its thread policy is set before torch loads libgomp)
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from _machine import cpu_model  # noqa: E402

import seqconv.modelfile as modelfile  # noqa: E402
import seqconv.train as train_mod  # noqa: E402
from seqconv.encode import one_hot  # noqa: E402
from seqconv.models import build_model, get_config  # noqa: E402
from seqconv.predict import predict  # noqa: E402
from seqconv.threads import WAIT_VARS, available_cores  # noqa: E402
from seqconv.train import Source, TrainConfig, fit  # noqa: E402

RESULTS = HERE / "results"
GUE = REPO.parent / "shared" / "data" / "gue_tf" / "tf_2"
#: what libgomp spins when no wait policy is set (libgomp env.c), given explicitly for the "spin" arm
GOMP_DEFAULT_SPIN = "300000"


# --------------------------------------------------------------------------- data


def load_data() -> tuple[Source, Source, str]:
    """Train and valid sources ``X : (N, 4, 101)`` uint8, ``y : (N, 1)``, and the data's description."""
    if (GUE / "train.csv.gz").exists():
        parts = []
        for f in ("train", "dev"):
            df = pd.read_csv(GUE / f"{f}.csv.gz")
            parts.append(Source(one_hot(df["sequence"].tolist(), dtype="uint8", iupac="zero"),
                                df["label"].to_numpy(np.float32)[:, None], ["tf_2"], name=f"gue_tf_2_{f}"))
        return parts[0], parts[1], "GUE tf_2 (../shared/data/gue_tf/tf_2 train + dev)"
    from seqconv.prepare import from_peaks

    ds, _ = from_peaks([REPO / "data/yeast/Reb1_CX.bed.gz"], REPO / "data/yeast/sacCer3_chr1_3_6_7_8_9.fa.gz",
                       width=101, seed=0)
    tr, va = ds.subset("train"), ds.subset("valid")
    src = [Source(s.X(iupac="zero"), s.y(), list(ds.tasks), name=n) for s, n in ((tr, "train"), (va, "valid"))]
    return src[0], src[1], "bundled yeast Reb1 (data/yeast, from_peaks width 101)"


def _model(arch: str):
    return build_model(get_config(arch, n_tasks=1, input_length=101), seed=0)


# --------------------------------------------------------------------------- the two trainers


def bare_loop(arch: str, tr: Source, *, epochs: int, batch_size: int, seed: int = 0) -> None:
    """The reference: uint8 one-hot in memory, random batches, ``.float()`` per batch, AdamW, BCE-with-logits."""
    model = _model(arch)
    cfg = TrainConfig()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    X, y = torch.from_numpy(tr.X), torch.from_numpy(tr.y)
    gen = torch.Generator().manual_seed(seed)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(X), generator=gen)
        for i in range(0, len(X), batch_size):
            idx = perm[i:i + batch_size]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(X[idx].float()), y[idx])
            loss.backward()
            opt.step()


def fit_run(arch: str, tr: Source, va: Source, *, epochs: int, batch_size: int) -> dict:
    """``fit`` as ``seqconv train`` runs it (out_dir: checkpoints and best-model writes), no early stop."""
    cfg = TrainConfig(epochs=epochs, batch_size=batch_size, patience=epochs + 1)
    with tempfile.TemporaryDirectory() as tmp:
        res = fit(_model(arch), tr, va, config=cfg, out_dir=Path(tmp) / "model", verbose=False)
    return {"valid_auroc_last": res.history[-1]["valid_auroc"]}


def _cpu(fn, *a, **k) -> tuple[float, float]:
    c0, t0 = time.process_time(), time.perf_counter()
    fn(*a, **k)
    return time.process_time() - c0, time.perf_counter() - t0


def ab_rounds(arch: str, threads: int, tr: Source, va: Source, *, epochs: int, rounds: int,
              batch_size: int) -> dict:
    torch.set_num_threads(threads)
    small = Source(tr.X[:2000], tr.y[:2000], tr.tasks)
    fit_run(arch, small, va, epochs=1, batch_size=batch_size)  # warm-up: oneDNN kernels, allocator
    bare_loop(arch, small, epochs=1, batch_size=batch_size)
    out = {"arch": arch, "threads": threads, "epochs": epochs, "rounds": []}
    for r in range(rounds):
        order = ("fit", "bare") if r % 2 == 0 else ("bare", "fit")
        row = {"order": list(order), "load_before": os.getloadavg()}
        for which in order:
            if which == "fit":
                c, w = _cpu(fit_run, arch, tr, va, epochs=epochs, batch_size=batch_size)
            else:
                c, w = _cpu(bare_loop, arch, tr, epochs=epochs, batch_size=batch_size)
            row[f"{which}_cpu_per_epoch"], row[f"{which}_wall_per_epoch"] = c / epochs, w / epochs
        row["ratio"] = row["fit_cpu_per_epoch"] / row["bare_cpu_per_epoch"]
        row["load_after"] = os.getloadavg()
        out["rounds"].append(row)
        print(f"  {arch:8s} {threads} thr  round {r + 1}: fit {row['fit_cpu_per_epoch']:6.2f}  bare "
              f"{row['bare_cpu_per_epoch']:6.2f} CPU-s/epoch  ratio {row['ratio']:.3f}  load "
              f"{row['load_before'][0]:.1f}->{row['load_after'][0]:.1f}", flush=True)
    fits = [r["fit_cpu_per_epoch"] for r in out["rounds"]]
    bares = [r["bare_cpu_per_epoch"] for r in out["rounds"]]
    out["fit_cpu_per_epoch"], out["bare_cpu_per_epoch"] = statistics.median(fits), statistics.median(bares)
    out["ratio_sum"] = sum(fits) / sum(bares)
    out["ratio_median"] = statistics.median(r["ratio"] for r in out["rounds"])
    return out


# --------------------------------------------------------------------------- profile of fit


class Phases:
    """Exclusive process-CPU time per named phase (a phase nested in another is taken out of it)."""

    def __init__(self):
        self.cpu = defaultdict(float)
        self._stack = []

    def start(self):
        self._stack.append([time.process_time(), 0.0])

    def stop(self, name: str):
        c0, child = self._stack.pop()
        dt = time.process_time() - c0
        self.cpu[name] += dt - child
        if self._stack:
            self._stack[-1][1] += dt

    def wrap(self, name: str, fn):
        def timed(*a, **k):
            self.start()
            try:
                return fn(*a, **k)
            finally:
                self.stop(name)
        return timed


def profile_fit(arch: str, threads: int, tr: Source, va: Source, *, epochs: int, batch_size: int) -> dict:
    """One instrumented ``fit``: exclusive CPU seconds per phase, per epoch."""
    torch.set_num_threads(threads)
    ph = Phases()
    patches = [(train_mod, "_local_batch", "batch assembly + upcast"), (train_mod, "augment", "RC/shift augmentation"),
               (train_mod, "_sharded_predict", "validation forward (predict)"),
               (train_mod, "binary_metrics", "validation metrics"), (train_mod, "_masked_loss", "loss"),
               (train_mod, "_save_checkpoint", "checkpoint writes"), (train_mod, "_write_log", "train_log.csv"),
               (train_mod, "_fingerprint", "setup (data fingerprint)"),
               (modelfile, "save_model", "best-model writes"), (modelfile, "load_model", "best-model read back"),
               (torch.Tensor, "backward", "backward"), (torch.optim.AdamW, "step", "optimiser step"),
               (torch.optim.lr_scheduler.LambdaLR, "step", "lr schedule")]
    saved = [(obj, name, getattr(obj, name)) for obj, name, _ in patches]
    model = _model(arch)
    model.register_forward_pre_hook(lambda m, a: ph.start() if m.training else None)
    model.register_forward_hook(lambda m, a, o: ph.stop("forward") if m.training else None)
    cfg = TrainConfig(epochs=epochs, batch_size=batch_size, patience=epochs + 1)
    try:
        for obj, name, label in patches:
            setattr(obj, name, ph.wrap(label, getattr(obj, name)))
        with tempfile.TemporaryDirectory() as tmp:
            c0 = time.process_time()
            fit(model, tr, va, config=cfg, out_dir=Path(tmp) / "model", verbose=False)
            total = time.process_time() - c0
    finally:
        for obj, name, fn in saved:
            setattr(obj, name, fn)
    phases = {k: v / epochs for k, v in sorted(ph.cpu.items(), key=lambda kv: -kv[1])}
    phases["rest (loop, zero_grad, tqdm, float(loss), data setup)"] = (total - sum(ph.cpu.values())) / epochs
    return {"arch": arch, "threads": threads, "epochs": epochs, "total_cpu_per_epoch": total / epochs,
            "phases_cpu_per_epoch": phases}


# --------------------------------------------------------------------------- validation cost


def validation_cost(arch: str, threads: int, va: Source, *, reps: int = 3) -> dict:
    """CPU seconds of one validation pass: fit's ``predict`` call vs a plain eval-mode forward (both strands)."""
    from seqconv.models import inference_copy

    torch.set_num_threads(threads)
    model = _model(arch)
    X = torch.from_numpy(va.X)

    def plain():
        model.eval()
        with torch.inference_mode():
            for i in range(0, len(X), 512):
                xb = X[i:i + 512].float()
                (model(xb) + model(xb.flip(1).flip(2))) / 2
        model.train()

    arms = {"predict (fit's call: fused copy, checks, both strands)":
            lambda: predict(model, va.X, batch_size=512, strand="both"),
            "predict, check=False": lambda: predict(model, va.X, batch_size=512, strand="both", check=False),
            "inference_copy alone": lambda: inference_copy(model),
            "plain eval forward, both strands": plain}
    for fn in arms.values():
        fn()  # warm-up
    out = {name: [] for name in arms}
    for _ in range(reps):
        for name, fn in arms.items():
            out[name].append(_cpu(fn)[0])
    return {"arch": arch, "threads": threads, "n_valid": len(va.X),
            "cpu_s": {k: statistics.median(v) for k, v in out.items()}}


# --------------------------------------------------------------------------- sharing the cores


def _child_env(arm: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in WAIT_VARS}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [p for p in [os.environ.get("PYTHONPATH")] if p])
    if arm == "spin":
        env["GOMP_SPINCOUNT"] = GOMP_DEFAULT_SPIN
    return env


def _spawn(arm: str, arch: str, threads: int, epochs: int, batch_size: int) -> subprocess.Popen:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", arch, str(threads), str(epochs), str(batch_size)]
    return subprocess.Popen(cmd, env=_child_env(arm), stdout=subprocess.PIPE, text=True)


def _collect(procs) -> list[dict]:
    out = []
    for p in procs:
        stdout, _ = p.communicate()
        if p.returncode != 0:
            raise RuntimeError(f"child run failed (exit {p.returncode})")
        out.append(json.loads(stdout.strip().splitlines()[-1]))
    return out


def pairs(arch: str, threads: int, *, epochs: int, batch_size: int, rounds: int) -> dict:
    """Per arm: CPU seconds of a run alone and of each of two runs at once; interleaved arms."""
    res = {arm: {"alone": [], "pair": []} for arm in ("passive", "spin")}
    for r in range(rounds):
        arms = ("passive", "spin") if r % 2 == 0 else ("spin", "passive")
        for arm in arms:
            lb = os.getloadavg()
            alone = _collect([_spawn(arm, arch, threads, epochs, batch_size)])[0]
            both = _collect([_spawn(arm, arch, threads, epochs, batch_size) for _ in range(2)])
            res[arm]["alone"].append({**alone, "load_before": lb})
            res[arm]["pair"].append({"runs": both, "load_after": os.getloadavg()})
            print(f"  {arm:7s} round {r + 1}: alone {alone['cpu_s']:6.1f} CPU-s ({alone['wall_s']:5.1f} s wall); side "
                  f"by side {both[0]['cpu_s']:6.1f} + {both[1]['cpu_s']:6.1f} CPU-s "
                  f"({max(b['wall_s'] for b in both):5.1f} s wall)  load {lb[0]:.1f}", flush=True)
    for _arm, d in res.items():
        alone = statistics.mean(a["cpu_s"] for a in d["alone"])
        pair = statistics.mean(run["cpu_s"] for p in d["pair"] for run in p["runs"])
        d["alone_cpu_s"], d["pair_cpu_s_each"], d["growth"] = alone, pair, pair / alone
        d["alone_wall_s"] = statistics.mean(a["wall_s"] for a in d["alone"])
        d["pair_wall_s"] = statistics.mean(max(run["wall_s"] for run in p["runs"]) for p in d["pair"])
    return {"arch": arch, "threads": threads, "epochs": epochs, "arms": res}


def child(arch: str, threads: int, epochs: int, batch_size: int) -> None:
    tr, va, _ = load_data()
    torch.set_num_threads(threads)
    c, w = _cpu(fit_run, arch, tr, va, epochs=epochs, batch_size=batch_size)
    print(json.dumps({"cpu_s": c, "wall_s": w, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY"),
                      "GOMP_SPINCOUNT": os.environ.get("GOMP_SPINCOUNT")}))


# --------------------------------------------------------------------------- report


def report(res: dict) -> str:
    m = res["machine"]
    lines = ["# Training speed: `fit` vs a bare PyTorch loop, and runs sharing the cores", "",
             f"Command: `{res['command']}`  ", f"Data: {res['data']} ({res['n_train']} train, {res['n_valid']} valid "
             f"rows, 101 bp), batch size {res['batch_size']}.  ",
             f"Machine: {m['cpu']}, {m['cores']} cores available; load average (1, 5, 15 min) before "
             f"{_load(m['load_before'])}, after {_load(m['load_after'])} (other jobs shared the cores).  ",
             f"torch {m['torch']}; wait policy in this process: OMP_WAIT_POLICY={m['OMP_WAIT_POLICY']}, "
             f"GOMP_SPINCOUNT={m['GOMP_SPINCOUNT']}.", "",
             "CPU seconds are process CPU time (all threads); ratios compare runs of the same round, interleaved.", ""]
    if res.get("ab"):
        lines += ["## fit vs bare loop (CPU-s per epoch, median of rounds)", "",
                  "| arch | threads | fit | bare | fit / bare (sum of rounds) | per-round ratios | target <= 1.15 |",
                  "|---|---|---|---|---|---|---|"]
        for a in res["ab"]:
            per = ", ".join(f"{r['ratio']:.3f}" for r in a["rounds"])
            lines.append(f"| {a['arch']} | {a['threads']} | {a['fit_cpu_per_epoch']:.2f} | {a['bare_cpu_per_epoch']:.2f} "
                         f"| {a['ratio_sum']:.3f} | {per} | {'met' if a['ratio_sum'] <= 1.15 else 'NOT met'} |")
        lines.append("")
    if res.get("profile"):
        lines += ["## Where fit's time goes (exclusive CPU-s per epoch, one instrumented run)", ""]
        for p in res["profile"]:
            lines += [f"**{p['arch']}**, {p['threads']} thread(s), {p['total_cpu_per_epoch']:.2f} CPU-s per epoch:", "",
                      "| phase | CPU-s / epoch | share |", "|---|---|---|"]
            for k, v in p["phases_cpu_per_epoch"].items():
                lines.append(f"| {k} | {v:.3f} | {100 * v / p['total_cpu_per_epoch']:.1f}% |")
            lines.append("")
    if res.get("validation"):
        lines += ["## One validation pass (CPU-s, median of 3)", ""]
        names = list(res["validation"][0]["cpu_s"])
        lines += ["| arch | threads | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
        for v in res["validation"]:
            lines.append(f"| {v['arch']} | {v['threads']} | " + " | ".join(f"{v['cpu_s'][n]:.3f}" for n in names) + " |")
        lines.append("")
    if res.get("pairs"):
        p = res["pairs"]
        lines += [f"## One run alone vs two side by side ({p['arch']}, {p['threads']} threads each, {p['epochs']} "
                  "epoch(s) per run, subprocesses)", "",
                  "| wait policy | alone CPU-s | side by side CPU-s (each) | growth | target <= 1.3 | alone wall s "
                  "| pair wall s |", "|---|---|---|---|---|---|---|"]
        names = {"passive": "seqconv default (OMP_WAIT_POLICY=PASSIVE)",
                 "spin": f"libgomp default spin (GOMP_SPINCOUNT={GOMP_DEFAULT_SPIN})"}
        for arm, d in p["arms"].items():
            lines.append(f"| {names[arm]} | {d['alone_cpu_s']:.1f} | {d['pair_cpu_s_each']:.1f} | {d['growth']:.2f} | "
                         f"{'met' if d['growth'] <= 1.3 else 'NOT met'} | {d['alone_wall_s']:.1f} | "
                         f"{d['pair_wall_s']:.1f} |")
        lines.append("")
    return "\n".join(lines)


def _load(t) -> str:
    return ", ".join(f"{x:.2f}" for x in t)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--archs", nargs="+", default=["deepbind", "basset", "resnet"])
    ap.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--pair-arch", default="basset")
    ap.add_argument("--pair-threads", type=int, default=2)
    ap.add_argument("--pair-epochs", type=int, default=1)
    ap.add_argument("--pair-rounds", type=int, default=1)
    ap.add_argument("--no-pairs", action="store_true")
    ap.add_argument("--out", type=Path, default=RESULTS / "train_speed")
    ap.add_argument("--child", nargs=4, metavar=("ARCH", "THREADS", "EPOCHS", "BATCH"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(args.child[0], int(args.child[1]), int(args.child[2]), int(args.child[3]))
        return 0
    tr, va, what = load_data()
    res = {"command": "python benchmarks/train_speed.py " + " ".join(sys.argv[1:] if argv is None else argv),
           "data": what, "n_train": len(tr.X), "n_valid": len(va.X), "batch_size": args.batch_size,
           "machine": {"cpu": cpu_model(), "cores": available_cores(), "torch": torch.__version__,
                       "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY"),
                       "GOMP_SPINCOUNT": os.environ.get("GOMP_SPINCOUNT"), "load_before": os.getloadavg()},
           "ab": [], "profile": [], "validation": []}
    print(f"{what}: {len(tr.X)} train, {len(va.X)} valid; load {_load(os.getloadavg())}", flush=True)
    print("A/B fit vs bare:", flush=True)
    for arch in args.archs:
        for t in args.threads:
            res["ab"].append(ab_rounds(arch, t, tr, va, epochs=args.epochs, rounds=args.rounds,
                                       batch_size=args.batch_size))
    print("profile / validation:", flush=True)
    for arch in args.archs:
        p = profile_fit(arch, args.threads[0], tr, va, epochs=args.epochs, batch_size=args.batch_size)
        res["profile"].append(p)
        print(f"  {arch}: " + ", ".join(f"{k} {v:.2f}" for k, v in p["phases_cpu_per_epoch"].items()), flush=True)
        for t in args.threads:
            v = validation_cost(arch, t, va)
            res["validation"].append(v)
            print(f"  {arch} {t} thr validation: " + ", ".join(f"{k} {s:.3f}" for k, s in v["cpu_s"].items()),
                  flush=True)
    if not args.no_pairs:
        print("alone vs side by side:", flush=True)
        res["pairs"] = pairs(args.pair_arch, args.pair_threads, epochs=args.pair_epochs, batch_size=args.batch_size,
                             rounds=args.pair_rounds)
    res["machine"]["load_after"] = os.getloadavg()
    text = report(res)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(res, indent=1, default=float) + "\n")
    args.out.with_suffix(".md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
