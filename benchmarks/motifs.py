"""Validation of seqconv.motifs: filters of real and synthetic models named against JASPAR, and memelite agreement.

Run (memelite lives in its own venv with the system torch; see benchmarks/README or below)::

    python -m venv --system-site-packages benchmarks/.venv-motifs
    benchmarks/.venv-motifs/bin/pip install memelite
    python benchmarks/koo2019_synthetic.py --n 30000 --seed 33 --out benchmarks/work/koo2019.parquet
    python benchmarks/motifs_train_koo.py --data benchmarks/work/koo2019.parquet --out benchmarks/work/koo_models --threads 1
    python benchmarks/motifs_train_koo.py --data benchmarks/work/koo2019.parquet --out benchmarks/work/koo_models_e50 \
        --threads 1 --epochs 50 --only basset_pool25 basset_pool25_f64
    ln -s ../koo_models_e50/basset_pool25 benchmarks/work/koo_models/basset_pool25_e50
    ln -s ../koo_models_e50/basset_pool25_f64 benchmarks/work/koo_models/basset_pool25_f64_e50
    benchmarks/.venv-motifs/bin/python benchmarks/motifs.py

Sections (all in one run):

1. bundled models (``seqconv.pretrained``): ``oct4_mafk`` (janggu Oct4 vs MafK peaks) — does a
   filter match POU5F1 / Pou5f1::Sox2 and MAFK with q < 0.05?  GUE tasks — the top JASPAR matches of
   the most influential filters.  Renders the Oct4 summary sheet into benchmarks/results/.
2. Koo & Eddy 2019 synthetic set: how many of the 12 embedded motifs are recovered by at least one
   filter (q < 0.05 against JASPAR 2016, the paper's database), per architecture / first-layer pool.
3. agreement of seqconv's comparison with memelite's tomtom on the same filter motifs and JASPAR 2024,
   with both timed (memelite warmed up first; numba compile excluded).

Writes benchmarks/results/motifs.md and benchmarks/results/motifs.json (``--markdown-only`` rewrites the
Markdown from the JSON), the Oct4 summary sheet benchmarks/results/motifs_oct4_mafk_summary.png and per-filter
logos under benchmarks/work/oct4_mafk_logos/ (not committed).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SHARED = REPO.parent / "shared" / "data"
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))

from _machine import machine_record, machine_text  # noqa: E402  (benchmarks/ is the script's folder)

OCT4_NAMES = {"POU5F1", "POU5F1::SOX2", "POU5F1B", "POU2F1::SOX2"}
MAFK_NAMES = {"MAFK", "BACH1::MAFK"}


def _fmt_q(q):
    return "-" if q is None or not np.isfinite(q) else f"{q:.2g}"


def filter_report(model, X, y, tasks, comparer, *, strand="both", trim=0.3, max_seqs=4000, seed=0,
                  influence=True, threshold=0.7, influence_seqs=2000, influence_data=None):
    """Motifs (trimmed), matches (top 3) and influence of one model on one set of sequences.

    ``influence_data=(X, y)``: measure the influence on these (held-out) sequences instead of a
    subset of ``X`` (on training sequences the auROC is saturated and no single filter moves it).
    """
    from seqconv.errors import InputError
    from seqconv.motifs.extract import activation_motifs, filter_influence

    if len(X) > max_seqs:
        idx = np.sort(np.random.default_rng(seed).choice(len(X), max_seqs, replace=False))
        X, y = X[idx], (None if y is None else y[idx])
    t0 = time.time()
    motifs = activation_motifs(model, X, strand=strand, threshold=threshold)
    kept = []
    for m in motifs:
        try:
            kept.append(m.trim(trim))
        except InputError:
            pass
    t_extract = time.time() - t0
    t0 = time.time()
    matches = comparer.compare(kept, top=3)
    t_compare = time.time() - t0
    infl = None
    t_infl = 0.0
    if influence:
        t0 = time.time()
        Xi, yi = (X, y) if influence_data is None else influence_data
        n_i = min(len(Xi), influence_seqs)  # influence runs the model once per filter: a subset
        idx = np.sort(np.random.default_rng(seed + 1).choice(len(Xi), n_i, replace=False))
        infl = filter_influence(model, Xi[idx], None if yi is None else yi[idx], tasks=tasks, strand=strand)
        t_infl = time.time() - t0
    return dict(motifs=kept, matches=matches, influence=infl, n_seqs=len(X), n_filters=len(motifs),
                n_influence_seqs=0 if infl is None else n_i,
                seconds={"extract": t_extract, "compare": t_compare, "influence": t_infl})


def best_hit(matches, names, influence=None):
    """Best (lowest q) match among rows whose target name is in ``names`` (upper-case), with that filter's
    influence and the sign of its effect (``output_drop`` > 0: zeroing it lowers the output, i.e. evidence
    *for* the positive class; < 0: evidence against it)."""
    sel = matches[matches["target_name"].str.upper().isin(names)]
    if sel.empty:
        return None
    r = sel.sort_values(["q_value", "rank"]).iloc[0]
    out = {"filter": r.query_id, "target": f"{r.target_name} {r.target_id}", "rank": int(r["rank"]),
           "p": float(r.p_value), "q": float(r.q_value),
           "n_filters_q05": int(sel[sel["q_value"] < 0.05]["query_id"].nunique()),
           "n_filters_top1_q05": int(sel[(sel["q_value"] < 0.05) & (sel["rank"] == 1)]["query_id"].nunique())}
    if influence is not None:
        inf = influence.set_index("id")
        out.update(influence=float(inf.loc[r.query_id, "influence"]), influence_rank=int(inf.loc[r.query_id, "rank"]),
                   output_drop=float(inf.loc[r.query_id, "output_drop"]))
    return out


def family_direction(matches, influence, families, enrichment):
    """Per motif family: the filters whose best match (q < 0.05) is in the family; how many fire more in the
    positive class (``enrichment``: filter id -> auROC of its per-sequence max activation for the label) and how
    many push the model's output up when present (zeroing them lowers the mean output)."""
    top1 = matches[(matches["rank"] == 1) & (matches["q_value"] < 0.05)]
    inf = influence.set_index("id")
    out = {}
    for fam, pat in families.items():
        ids = top1[top1["target_name"].str.upper().str.contains(pat, regex=True)]["query_id"].tolist()
        drops = inf.loc[ids, "output_drop"] if ids else pd.Series(dtype=float)
        enr = np.array([enrichment[i] for i in ids])
        out[fam] = {"n": len(ids), "n_up": int((drops > 0).sum()), "n_down": int((drops < 0).sum()),
                    "n_enriched_pos": int((enr > 0.5).sum()), "n_enriched_neg": int((enr < 0.5).sum()),
                    "median_enrichment_auroc": float(np.median(enr)) if len(enr) else None,
                    "sum_influence": float(inf.loc[ids, "influence"].sum()) if ids else 0.0}
    return out


# ---------------------------------------------------------------- 1. bundled models

def janggu_data(n_each=2000, seed=0, split="train"):
    """janggu Oct4 (label 1) and MafK (label 0) peaks: ``n_each`` random training peaks of each, or the
    held-out test files (100 + 100) with ``split="test"``."""
    from seqconv.encode import one_hot
    from seqconv.genome import iter_fasta

    d = SHARED / "janggu_oct4_mafk"
    rng = np.random.default_rng(seed)
    seqs, labels = [], []
    files = (("sample.fa.gz", 1), ("sample2.fa.gz", 0)) if split == "train" else \
        (("sample_test.fa.gz", 1), ("sample2_test.fa.gz", 0))
    for fname, lab in files:
        recs = [s.upper() for _, s in iter_fasta(d / fname)]
        pick = rng.choice(len(recs), size=min(n_each, len(recs)), replace=False)
        seqs += [recs[i] for i in pick]
        labels += [lab] * len(pick)
    return one_hot(seqs, dtype="uint8", length=200), np.array(labels, dtype=np.float32)[:, None]


def gue_data(task, width, splits=("test", "dev")):
    from seqconv.encode import one_hot

    frames = [pd.read_csv(SHARED / "gue_tf" / task / f"{s}.csv.gz") for s in splits]
    df = pd.concat(frames, ignore_index=True)
    return one_hot(df["sequence"].tolist(), dtype="uint8", length=width), df["label"].to_numpy(np.float32)[:, None]


def section_bundled(comparer, args, out):
    from seqconv.motifs.logos import save_logos, summary_sheet
    from seqconv.pretrained import list_models, load_pretrained

    names = list_models()["name"].tolist()
    res = {"models": names, "oct4_mafk": None, "gue": {}}
    if "oct4_mafk" in names:
        model = load_pretrained("oct4_mafk")
        card = model.card
        X, y = janggu_data(seed=args.seed)
        Xt, yt = janggu_data(split="test")
        r = filter_report(model, X, y, list(card.tasks), comparer, strand=card.strand, max_seqs=args.max_seqs,
                          influence_data=(Xt, yt))
        out["_oct4_motifs"] = r["motifs"]
        inf = r["influence"].set_index("id")
        from seqconv.evaluate import auroc
        from seqconv.motifs.extract import max_activations

        A = max_activations(model, X, strand=card.strand)  # motif presence per training peak
        enrich = {f"filter{f}": float(auroc(y[:, 0], A[:, f])) if A[:, f].max() > 0 else 0.5
                  for f in range(A.shape[1])}
        res["oct4_mafk"] = {
            "arch": model.arch, "n_params": sum(p.numel() for p in model.parameters()),
            "n_seqs": r["n_seqs"], "n_influence_seqs": r["n_influence_seqs"], "n_filters": r["n_filters"],
            "n_motifs": len(r["motifs"]),
            "oct4": best_hit(r["matches"], OCT4_NAMES, r["influence"]),
            "mafk": best_hit(r["matches"], MAFK_NAMES, r["influence"]),
            "families": family_direction(r["matches"], r["influence"],
                                         {"POU/SOX (Oct4 family)": r"POU|SOX", "MAF/NFE2/BACH (MafK family)":
                                          r"^MAF|::MAF|NFE2|BACH", "AP-1 (FOS/JUN/ATF)": r"FOS|JUN|ATF|BATF"},
                                         enrich),
            "n_filters_q05": int((r["matches"].query("rank == 1")["q_value"] < 0.05).sum()),
            "top": _top_influential(r, 8), "seconds": r["seconds"],
        }
        for key in ("oct4", "mafk"):
            if res["oct4_mafk"][key]:
                res["oct4_mafk"][key]["enrichment_auroc"] = enrich[res["oct4_mafk"][key]["filter"]]
        for t in res["oct4_mafk"]["top"]:
            t["enrichment_auroc"] = enrich[t["filter"]]
        order = sorted(r["motifs"], key=lambda m: inf.loc[m.id, "rank"])
        sheet = RESULTS / "motifs_oct4_mafk_summary.png"
        t0 = time.time()
        summary_sheet(order, r["matches"], sheet, influence=r["influence"], collection=comparer.targets, dpi=72,
                      columns=2,
                      title="bundled oct4_mafk model (Oct4 = 1 vs MafK = 0): first-layer filters (activation "
                            "alignment on 2000 Oct4 + 2000 MafK training peaks) beside their best JASPAR 2024 match; "
                            "influence = drop in test auROC when zeroed, most influential first")
        logo_dir = HERE / "work" / "oct4_mafk_logos"
        save_logos(r["motifs"], logo_dir)
        res["oct4_mafk"]["seconds"]["drawing"] = time.time() - t0
        res["oct4_mafk"]["sheet"] = str(sheet.relative_to(REPO))
        res["oct4_mafk"]["logos"] = str(logo_dir.relative_to(REPO))
        r["matches"].to_csv(RESULTS / "motifs_oct4_mafk_matches.tsv", sep="\t", index=False, float_format="%.4g")
        print(f"oct4_mafk: Oct4 hit {res['oct4_mafk']['oct4']}, MafK hit {res['oct4_mafk']['mafk']}", flush=True)
    for name in names:
        if not name.startswith("gue_"):
            continue
        task = name[len("gue_"):]
        if not (SHARED / "gue_tf" / task).is_dir():
            continue
        model = load_pretrained(name)
        card = model.card
        X, y = gue_data(task, model.input_length)  # motifs from test + dev (2002 sequences)
        Xt, yt = gue_data(task, model.input_length, splits=("test",))  # influence on the test set
        r = filter_report(model, X, y, list(card.tasks), comparer, strand=card.strand, max_seqs=args.max_seqs,
                          influence_seqs=len(Xt), influence_data=(Xt, yt))
        top1 = r["matches"].query("rank == 1")
        sig = top1[top1["q_value"] < 0.05]
        res["gue"][name] = {"arch": model.arch, "n_seqs": r["n_seqs"], "n_influence_seqs": r["n_influence_seqs"],
                            "n_motifs": len(r["motifs"]), "n_filters_q05": len(sig),
                            "frequent_top1_q05": sig["target_name"].value_counts().head(5).to_dict(),
                            "top": _top_influential(r, 3), "seconds": r["seconds"]}
        print(f"{name}: " + "; ".join(f"{t['filter']}->{t['match']} (q {_fmt_q(t['q'])})"
                                      for t in res["gue"][name]["top"]), flush=True)
    return res


def section_deepbind(comparer, args):
    """Bundled deepbind_<TF> models (DeepBind ENCODE, named TFs): does a filter match the TF's own JASPAR motif?"""
    import re

    from seqconv.encode import one_hot
    from seqconv.pretrained import list_models, load_pretrained

    out = {}
    for name in list_models()["name"]:
        if not name.startswith("deepbind_"):
            continue
        tf = name[len("deepbind_"):]
        files = sorted((SHARED / "deepbind_encode").glob(f"{tf}_*_B.seq.gz"))
        ac = sorted((SHARED / "deepbind_encode").glob(f"{tf}_*_AC.seq.gz"))
        if not files:
            continue
        model = load_pretrained(name)
        card = model.card
        b = pd.read_csv(files[0], sep="\t")
        pos = pd.concat([b[b["Bound"] == 1]["seq"], pd.read_csv(ac[0], sep="\t")["seq"].head(1500)]) if ac \
            else b[b["Bound"] == 1]["seq"]
        X = one_hot(pos.tolist() + b[b["Bound"] == 0]["seq"].tolist(), dtype="uint8", length=model.input_length)
        r = filter_report(model, X, None, None, comparer, strand=card.strand, max_seqs=args.max_seqs,
                          influence=False)
        pat = re.compile(rf"(^|::){re.escape(tf)}(::|$)", re.I)
        m = r["matches"]
        own = m[m["target_name"].map(lambda n: bool(pat.search(n)))]
        best = own.sort_values("q_value").iloc[0] if len(own) else None
        top1 = m[m["rank"] == 1]
        sig_top1 = top1[top1["q_value"] < 0.05]["target_name"].value_counts().head(4).to_dict()
        out[name] = {"tf": tf, "arch": model.arch, "n_seqs": r["n_seqs"], "n_motifs": len(r["motifs"]),
                     "own_best": None if best is None else {
                         "filter": best.query_id, "target": f"{best.target_name} {best.target_id}",
                         "rank": int(best["rank"]), "q": float(best.q_value)},
                     "n_filters_top1_own_q05": int(top1[top1["q_value"] < 0.05]["target_name"]
                                                  .map(lambda n: bool(pat.search(n))).sum()),
                     "frequent_top1_q05": sig_top1}
        print(f"{name}: own motif {out[name]['own_best']}; frequent top hits {sig_top1}", flush=True)
    return out


def _top_influential(r, k):
    best = r["matches"].query("rank == 1").set_index("query_id")
    rows = []
    for row in r["influence"].sort_values("rank").itertuples():
        if row.id not in best.index:
            continue
        b = best.loc[row.id]
        alt = r["matches"][(r["matches"]["query_id"] == row.id) & (r["matches"]["rank"] > 1)]
        rows.append({"filter": row.id, "influence": float(row.influence), "output_drop": float(row.output_drop),
                     "match": f"{b.target_name}", "match_id": b.target_id, "q": float(b.q_value),
                     "next": ", ".join(f"{a.target_name} ({_fmt_q(a.q_value)})" for a in alt.itertuples())})
        if len(rows) == k:
            break
    return rows


# ---------------------------------------------------------------- 2. Koo & Eddy 2019 synthetic

def koo_recovery(motifs, comparer, truth_ids):
    """Per embedded motif: the best q of any filter against it, and whether it is some filter's best match."""
    idx = {t.id: i for i, t in enumerate(comparer.targets)}
    res = [comparer.search(m) for m in motifs]
    Q = np.stack([r.q_value for r in res])  # (filters, targets)
    P = np.stack([r.p_value for r in res])
    best = np.array([np.lexsort((-r.similarity, r.p_value))[0] for r in res])
    out = {}
    for tid, name in truth_ids.items():
        j = idx[tid]
        f = int(Q[:, j].argmin())
        top1 = [i for i in range(len(motifs)) if best[i] == j and Q[i, j] < 0.05]
        out[name] = {"q": float(Q[f, j]), "p": float(P[f, j]), "rank": int((P[f] < P[f, j]).sum()) + 1,
                     "width": motifs[f].width, "n_targets": len(comparer.targets),
                     "filter": motifs[f].id, "filter_best_match": comparer.targets[best[f]].name,
                     "is_best_match_of": [motifs[i].id for i in top1]}
    n_match = sum(1 for i in range(len(motifs)) if comparer.targets[best[i]].id in truth_ids and Q[i, best[i]] < 0.05)
    return out, n_match / max(1, len(motifs))


def _first_pool(cfg):
    return cfg["pool_sizes"][0] if "pool_sizes" in cfg else cfg.get("pool_size", 0)


def section_koo(args):
    from koo2019_synthetic import MEME_FILE, core_motifs

    from seqconv.dataset import read_dataset
    from seqconv.errors import InputError
    from seqconv.evaluate import auroc
    from seqconv.modelfile import load_model
    from seqconv.motifs.compare import MotifComparer
    from seqconv.motifs.extract import activation_motifs
    from seqconv.predict import predict

    root = Path(args.koo_models)
    if not root.is_dir() or not Path(args.koo_data).exists():
        print(f"skipping the Koo 2019 section: {root} or {args.koo_data} missing", flush=True)
        return None
    ds = read_dataset(args.koo_data)
    db2016 = MotifComparer(MEME_FILE)
    truth = {m.id: m.name for m in core_motifs()}
    X, y = ds.X("test"), ds.y("test")
    Xall = ds.X(None)
    n_scan = min(len(Xall), args.koo_scan)
    Xs = Xall[np.sort(np.random.default_rng(args.seed).choice(len(Xall), n_scan, replace=False))]
    out = {"n_sequences": len(ds.table), "n_scan": n_scan, "models": {}, "thresholds": [0.7, 0.5]}
    out["train_seconds_total"] = 0.0
    mdirs = [p for p in root.iterdir() if (p / "model.json").exists()]
    for mdir in sorted(mdirs, key=lambda p: (json.loads((p / "model.json").read_text())["architecture"]["arch"] != "deepbind",
                                             _first_pool(json.loads((p / "model.json").read_text())["architecture"]),
                                             p.name)):
        model = load_model(mdir)
        card = model.card
        if (mdir / "DONE").exists():
            out["train_seconds_total"] += float((mdir / "DONE").read_text().split()[0])
        logits = predict(model, X, strand=card.strand)
        per_task = {card.tasks[t]: float(auroc(y[:, t], logits[:, t])) for t in range(y.shape[1])}
        cfg = {"arch": model.arch, **dataclasses.asdict(model.config)}
        entry = {"arch": cfg["arch"], "first_pool": _first_pool(cfg), "pools": cfg.get("pool_sizes", cfg.get("pool_size")),
                 "test_auroc": float(np.mean(list(per_task.values()))), "test_auroc_per_task": per_task,
                 "epochs": len(pd.read_csv(mdir / "train_log.csv")), "done": (mdir / "DONE").exists(),
                 "max_epochs": (card.training or {}).get("config", {}).get("epochs"),
                 "first_filters": (cfg.get("filters") if isinstance(cfg.get("filters"), int)
                                   else (cfg.get("filters") or [None])[0])}
        for thr in out["thresholds"]:
            t0 = time.time()
            motifs = []
            for m in activation_motifs(model, Xs, strand=card.strand, threshold=thr):
                try:
                    motifs.append(m.trim(0.3))
                except InputError:
                    pass
            rec, frac = koo_recovery(motifs, db2016, truth)
            entry[f"thr{thr}"] = {
                "n_motifs": len(motifs), "per_motif": rec,
                "recovered": sorted(n for n, r in rec.items() if r["q"] < 0.05),
                "recovered_as_best_match": sorted(n for n, r in rec.items() if r["is_best_match_of"]),
                "missed": sorted(n for n, r in rec.items() if r["q"] >= 0.05),
                "filters_matching_an_embedded_motif": frac, "seconds": time.time() - t0}
            if thr == out["thresholds"][0]:
                entry["_motifs"] = motifs
            print(f"koo {mdir.name} thr {thr}: auROC {entry['test_auroc']:.3f}, recovered "
                  f"{len(entry[f'thr{thr}']['recovered'])}/12 (as best match "
                  f"{len(entry[f'thr{thr}']['recovered_as_best_match'])}/12), missed {entry[f'thr{thr}']['missed']}",
                  flush=True)
        out["models"][mdir.name] = entry
    return out


# ---------------------------------------------------------------- 3. memelite agreement

def _version(pkg):
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(pkg)
    except PackageNotFoundError:
        return "?"


def section_memelite(queries, comparer, args, planted=None):
    """``planted``: per query, the set of upper-case TF names that are right answers (Koo-set filters: the 12
    planted TFs) or None (no ground truth)."""
    try:
        from memelite import tomtom
    except ImportError:
        print("memelite not importable: run this script with benchmarks/.venv-motifs/bin/python", flush=True)
        return None
    from seqconv.motifs.compare import bh_qvalues

    Qs = [np.ascontiguousarray(q.probabilities.T) for q in queries]
    Ts = [np.ascontiguousarray(t.probabilities.T) for t in comparer.targets]
    tomtom(Qs[:2], Ts, n_jobs=args.threads)  # numba compile, not timed
    comparer.compare(queries[:2], top=3)
    # speed: memelite's tomtom (every p-value and score) vs seqconv's compare (every p-value, the top 3
    # reported), interleaved, 3 rounds, the fastest round of each (wall and CPU s)
    rounds = {"memelite": [], "seqconv_compare": []}
    for _ in range(3):
        for tool, fn in (("memelite", lambda: tomtom(Qs, Ts, n_jobs=args.threads)),
                         ("seqconv_compare", lambda: comparer.compare(queries, top=3))):
            t0, c0 = time.time(), time.process_time()
            got = fn()
            rounds[tool].append((time.time() - t0, time.process_time() - c0))
            if tool == "memelite":
                out_mm = got
    t_mm = min(w for w, _ in rounds["memelite"])
    p_mm, s_mm = np.asarray(out_mm[0], dtype=np.float64), np.asarray(out_mm[1], dtype=np.float64)
    t0 = time.time()
    res_sc = [comparer.search(q) for q in queries]  # full per-target tables, for the agreement measures
    t_sc = time.time() - t0
    p_sc = np.stack([r.p_value for r in res_sc])
    # ranking as each tool reports it: p-value, ties broken by the alignment score
    ord_sc = np.stack([np.lexsort((-r.similarity, r.p_value)) for r in res_sc])
    ord_mm = np.stack([np.lexsort((-s_mm[i], p_mm[i])) for i in range(len(queries))])
    from seqconv.motifs.compare import MotifComparer

    # the other method of seqconv's comparer, on the same queries: "gapped" (flat target columns as gaps,
    # Sidak-corrected best offset) when the comparer is Tomtom's scoring, and the other way round
    other = "gapped" if comparer.method == "tomtom" else "tomtom"
    alt = MotifComparer(comparer.targets, method=other)
    p_ng = np.stack([alt.search(q).p_value for q in queries])
    top_mm = ord_mm[:, 0]
    top_sc = ord_sc[:, 0]
    top3_overlap = np.array([len(set(ord_sc[i, :3]) & set(ord_mm[i, :3])) / 3 for i in range(len(queries))])
    rank_sc = np.argsort(np.argsort(p_sc, axis=1, kind="stable"), axis=1)
    rank_mm = np.argsort(np.argsort(p_mm, axis=1, kind="stable"), axis=1)
    q_mm = np.stack([bh_qvalues(np.clip(r, 0, 1)) for r in p_mm])
    q_sc = np.stack([bh_qvalues(r) for r in p_sc])
    sig_sc, sig_mm = q_sc < 0.05, q_mm < 0.05
    any_sc, any_mm = sig_sc.any(1), sig_mm.any(1)
    from scipy.stats import spearmanr  # scikit-learn's dependency

    rhos = [spearmanr(-np.log10(np.maximum(a, 1e-300)), -np.log10(np.maximum(b, 1e-300)))[0]
            for a, b in zip(p_sc, p_mm)]
    both = sig_sc & sig_mm
    res = {
        "n_queries": len(queries), "n_targets": len(Ts),
        "top1_same": float((top_mm == top_sc).mean()),
        "top3_overlap": float(top3_overlap.mean()),
        "top3_overlap_dist": {k: int((np.round(top3_overlap * 3) == k).sum()) for k in range(4)},
        "top1_same_name": float(np.mean([comparer.targets[a].name.upper() == comparer.targets[b].name.upper()
                                         for a, b in zip(top_mm, top_sc)])),
        "memelite_top1_in_seqconv_top5": float(np.mean([rank_sc[i, top_mm[i]] < 5 for i in range(len(queries))])),
        "seqconv_top1_in_memelite_top5": float(np.mean([rank_mm[i, top_sc[i]] < 5 for i in range(len(queries))])),
        "top1_same_when_both_significant": float((top_mm == top_sc)[any_sc & any_mm].mean())
        if (any_sc & any_mm).any() else None,
        "queries_with_a_match_q05": {"seqconv": int(any_sc.sum()), "memelite": int(any_mm.sum()),
                                     "both": int((any_sc & any_mm).sum())},
        "pairs_q05_jaccard": float(both.sum() / max(1, (sig_sc | sig_mm).sum())),
        "median_spearman_log_p": float(np.nanmedian(rhos)),
        "seconds": {"seqconv": t_sc, "memelite": t_mm}, "threads_memelite": args.threads,
        "speed_rounds": {k: [{"wall_s": w, "cpu_s": c} for w, c in v] for k, v in rounds.items()},
        "memelite_version": _version("memelite"),
    }
    # where they disagree: is memelite's best target one with many flat (spacer / flank) columns, which a
    # diffuse query column matches closely in Euclidean distance?  (seqconv scores such columns as gaps.)
    def flat_fraction(t):
        p = t.probabilities
        with np.errstate(divide="ignore", invalid="ignore"):
            ic = 2.0 + np.where(p > 0, p * np.log2(p), 0.0).sum(axis=1)
        return float((ic < 0.25).mean())

    flat = np.array([flat_fraction(t) for t in comparer.targets])
    disc = np.flatnonzero(top_mm != top_sc)
    names = lambda idx: pd.Series([comparer.targets[j].name for j in idx]).value_counts().head(4).to_dict()  # noqa
    res["discordant"] = {
        "n": int(len(disc)),
        "memelite_best_has_1_3_flat_columns": int((flat[top_mm[disc]] >= 1 / 3).sum()),
        "seqconv_best_has_1_3_flat_columns": int((flat[top_sc[disc]] >= 1 / 3).sum()),
        "memelite_best_frequent": names(top_mm[disc]), "seqconv_best_frequent": names(top_sc[disc]),
        "median_query_information_bits": float(np.median([queries[i].information_content().sum() for i in disc]))
        if len(disc) else None,
        "median_query_information_bits_concordant": float(np.median(
            [queries[i].information_content().sum() for i in np.flatnonzero(top_mm == top_sc)]))
        if (top_mm == top_sc).any() else None,
    }
    if planted is not None and any(t is not None for t in planted):
        # ground truth (Koo set: only 12 TFs were planted, no CTCF): how often is each tool's significant best
        # match one of the planted TFs, and how often is it a TF that was not planted at all?
        gt = [i for i, t in enumerate(planted) if t is not None]
        gt_res = {}
        for tool, top, sig in (("seqconv", top_sc, sig_sc), ("memelite", top_mm, sig_mm)):
            ok = [i for i in gt if sig[i, top[i]]]
            nm = [comparer.targets[top[i]].name.upper() for i in ok]
            gt_res[tool] = {"n_queries": len(gt), "best_q05": len(ok),
                            "best_q05_is_planted": int(sum(n in planted[i] for n, i in zip(nm, ok))),
                            "best_q05_is_ctcf": int(sum(n == "CTCF" for n in nm))}
        res["koo_ground_truth"] = gt_res
    q_ng = np.stack([bh_qvalues(r) for r in p_ng])
    res["other_method"] = {"method": other,
        "top1_same": float((p_ng.argmin(1) == top_mm).mean()),
        "queries_with_a_match_q05": int((q_ng < 0.05).any(1).sum()),
        "pairs_q05_jaccard": float(((q_ng < 0.05) & sig_mm).sum() / max(1, ((q_ng < 0.05) | sig_mm).sum())),
        "median_spearman_log_p": float(np.nanmedian([
            spearmanr(-np.log10(np.maximum(a, 1e-300)), -np.log10(np.maximum(b, 1e-300)))[0]
            for a, b in zip(p_ng, p_mm)])),
    }
    print(f"memelite agreement: {json.dumps(res)}", flush=True)
    return res


# ---------------------------------------------------------------- report

def _acceptance(res):
    """The issue-5 acceptance bars, as measured in this run."""
    out = ["## Summary: acceptance bars of issue 5", "", "| bar | measured | met |", "|---|---|---|"]
    o = (res.get("bundled") or {}).get("oct4_mafk")
    if o:
        for tf, key in (("Oct4 (POU5F1 / Pou5f1::Sox2)", "oct4"), ("MafK (MAFK)", "mafk")):
            h = o.get(key)
            out.append(f"| bundled oct4_mafk model: a filter matches {tf} with q < 0.05 | "
                       + (f"{h['filter']} -> {h['target']} (rank {h['rank']}), q = {h['q']:.2g}" if h else "no filter")
                       + f" | {'yes' if h and h['q'] < 0.05 else 'NO'} |")
    g = (res.get("bundled") or {}).get("gue")
    if g:
        tops = [t for v in g.values() for t in v["top"]]
        n_sig = sum(t["q"] < 0.05 for t in tops)
        out.append(f"| GUE tasks: the most influential filters' top JASPAR matches name a TF | {n_sig} of {len(tops)} "
                   "top-3-influence filters have a best match with q < 0.05 (reported below) | reported (no bar) |")
    k = res.get("koo")
    if k and k.get("models"):
        per = {n: len(m["thr0.7"]["recovered"]) for n, m in k["models"].items()}
        best = max(per, key=per.get)
        union = {n for m in k["models"].values() for n in m["thr0.7"]["recovered"]}
        out.append("| Koo & Eddy 2019 set: every embedded motif recovered (q < 0.05) | "
                   + ", ".join(f"{n} {c}/12" for n, c in per.items()) + f"; union {len(union)}/12 | "
                   + ("yes for " + best if per[best] == 12 else "NO (best " + f"{per[best]}/12)") + " |")
    mm = res.get("memelite")
    if mm:
        out.append(f"| agreement with memelite's tomtom (same run) | same best target {mm['top1_same']:.0%}, top-3 "
                   f"overlap {mm['top3_overlap']:.0%} ({mm['top1_same_when_both_significant']:.0%} same best target "
                   "where both are significant) | reported (no bar) |")
    return out


def _speed_rows(rounds):
    """Table rows: seqconv's compare vs memelite's tomtom, fastest of the interleaved rounds (wall and CPU s)."""
    best = {k: (min(r["wall_s"] for r in v), min(r["cpu_s"] for r in v)) for k, v in rounds.items()}
    (sw, sc), (mw, mc) = best["seqconv_compare"], best["memelite"]
    return [f"| time: seqconv `compare(top=3)` / memelite `tomtom`, fastest of {len(rounds['memelite'])} "
            f"interleaved rounds: wall s; CPU s | {sw:.2f} / {mw:.2f} ({mw / max(sw, 1e-9):.2f}x memelite's speed); "
            f"{sc:.2f} / {mc:.2f} ({mc / max(sc, 1e-9):.2f}x) |"]


def _comparer_text(c):
    """The comparison method a run used, in words (``c``: the ``comparer`` entry of the results)."""
    if not c:  # runs before the entry was recorded used the gapped variant
        return ("seqconv's Tomtom-like `compare` (Euclidean column score, 100 bins, min overlap 5, flat target "
                "columns < 0.25 bits as gaps, Sidak-corrected minimum over offsets x strands, BH q over the "
                "collection).")
    if c["method"] == "tomtom":
        return (f"seqconv's `compare` with Tomtom 5.5.8's scoring (method `tomtom`: {c['metric']} column scores "
                "median-shifted and scaled to 0..100, complete scores, min overlap "
                f"{c['min_overlap']}, p of the best alignment over all offsets and both orientations, Tomtom's "
                "q-values: BH over every target and orientation times pi0).")
    return (f"seqconv's `compare`, method `{c['method']}` ({c['metric']} column score, {c['n_bins']} bins, min "
            f"overlap {c['min_overlap']}, flat target columns as gaps, Sidak-corrected minimum over offsets x "
            "strands, BH q over the collection).")


def _reused_note(res, section):
    """A line saying the section was kept from an earlier run (and when), or nothing."""
    if section not in res.get("reused", []):
        return []
    return [f"_Section `{section}` kept from an earlier run (measured {_measured(res, section)}, "
            f"`{res.get('previous_command')}`), not rerun with the rest of this file._", ""]


def write_markdown(res, args, path):
    lines = ["# seqconv.motifs validation", "",
             f"Generated by `{res['command']}` in {res['seconds_total']:.0f} s on {res['machine']}"
             + (f" (sections {', '.join(res['reused'])} kept from an earlier run, measured "
                f"{', '.join(sorted({_measured(res, s) for s in res['reused']}))}: `{res.get('previous_command')}`; not rerun)"
                if res.get("reused") else "")
             + ". Comparison: " + _comparer_text(res.get("comparer")), ""]
    lines += [machine_text(res.get("machine_record"), own_threads=res.get("threads"))
              + ("  Timings are from this single run: read them against that load." if res.get("machine_record")
                 else "  Timings are from this single run."), ""]
    if res.get("reused"):
        took = res.get("previous_seconds_total")
        lines += [f"The kept sections ({', '.join(res['reused'])}) were measured in a run of "
                  + (f"{took:.0f} s" if took else "unrecorded length") + ": "
                  + machine_text(res.get("previous_machine_record"), own_threads=res.get("threads")), ""]
    lines += _acceptance(res) + [""]
    b = res.get("bundled") or {}
    o = b.get("oct4_mafk")
    lines += ["## 1. Bundled models (real ChIP-seq peaks)", "", *_reused_note(res, "bundled"),
              *_reused_note(res, "deepbind")]
    if o:
        def where(e):
            return "-" if e is None else f"{'Oct4' if e > 0.5 else 'MafK'} ({e:.2f})"

        def effect(d):
            return "-" if d is None else ("for Oct4" if d > 0 else "against Oct4")

        arch = f"{o['arch']}, {o['n_params']:,} parameters" if o.get("arch") else "architecture not recorded"
        lines += [f"`oct4_mafk` (bundled model: {arch}; one output: Oct4 peak = 1 vs MafK peak = 0). Motifs from "
                  f"{o['n_seqs']} sequences (2000 Oct4 + 2000 MafK janggu training peaks; {o['n_filters']} filters "
                  f"with >= 10 sites, {o['n_motifs']} informative after trimming; {o['n_filters_q05']} have a best "
                  "JASPAR 2024 match with q < 0.05). *Influence* = drop in auROC when the filter is zeroed, on the "
                  f"{o.get('n_influence_seqs', '?')} held-out janggu test peaks (100 Oct4 + 100 MafK). *Occurs in* = "
                  "the class whose peaks the filter fires in (auROC of the filter's per-peak max activation, Oct4 "
                  "vs MafK, on the 4000 training peaks: > 0.5 Oct4, < 0.5 MafK). *Effect* = sign of the change of "
                  "the mean predicted Oct4 probability when the filter is zeroed (for Oct4: the output drops).", "",
                  "| TF | best filter | JASPAR match | match rank | p | q | q < 0.05 | filters with this TF in "
                  "their top 3 (q < 0.05) / as best match | influence (rank) | occurs in (auROC) | effect |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for tf, h in (("Oct4 (POU5F1 / Pou5f1::Sox2)", o["oct4"]), ("MafK (MAFK)", o["mafk"])):
            if h:
                lines.append(
                    f"| {tf} | {h['filter']} | {h['target']} | {h['rank']} | {h['p']:.2g} | {h['q']:.2g} "
                    f"| {'**yes**' if h['q'] < 0.05 else 'NO'} | {h.get('n_filters_q05', '-')} / "
                    f"{h.get('n_filters_top1_q05', '-')} | "
                    + (f"{h['influence']:.2g} ({h['influence_rank']}/{o['n_filters']})" if 'influence' in h else "-")
                    + f" | {where(h.get('enrichment_auroc'))} | {effect(h.get('output_drop'))} |")
            else:
                lines.append(f"| {tf} | - | not in any filter's top 3 | - | - | - | NO | 0 | - | - | - |")
        if o.get("families"):
            lines += ["", "Filters whose best match (q < 0.05) is in a motif family: where they fire and which way "
                      "zeroing them moves the Oct4 output:", "",
                      "| family | filters | occur in Oct4 / MafK peaks | median activation auROC (Oct4 vs MafK) | "
                      "effect for / against Oct4 | summed influence |", "|---|---|---|---|---|---|"]
            lines += [f"| {fam} | {v['n']} | {v.get('n_enriched_pos', '-')} / {v.get('n_enriched_neg', '-')} | "
                      f"{'-' if v.get('median_enrichment_auroc') is None else format(v['median_enrichment_auroc'], '.2f')}"
                      f" | {v['n_up']} / {v['n_down']} | {v['sum_influence']:.2g} |"
                      for fam, v in o["families"].items()]
        lines += ["", "Most influential filters (drop in held-out auROC when zeroed):", "",
                  "| filter | influence | occurs in (auROC) | effect | best match | q | next matches (q) |",
                  "|---|---|---|---|---|---|---|"]
        lines += [f"| {t['filter']} | {t['influence']:.2g} | {where(t.get('enrichment_auroc'))} | "
                  f"{effect(t.get('output_drop'))} | {t['match']} ({t['match_id']}) | {_fmt_q(t['q'])} | {t['next']} |"
                  for t in o["top"]]
        sec = o["seconds"]
        lines += ["", f"Summary sheet: `{o['sheet']}` (all informative filters, most influential first, read left to "
                  f"right); per-filter logos in `{o.get('logos', '-')}` (not committed). Time: extraction "
                  f"{sec['extract']:.1f} s, comparison {sec['compare']:.1f} s, influence {sec['influence']:.1f} s, "
                  f"drawing {sec.get('drawing', 0):.1f} s.", ""]
    else:
        lines += [f"No bundled `oct4_mafk` model found (bundled: {b.get('models')}).", ""]
    if b.get("gue"):
        g0 = next(iter(b["gue"].values()))
        archs = ", ".join(sorted({g.get("arch", "architecture not recorded") for g in b["gue"].values()}))
        lines += [f"GUE TF tasks (bundled `gue_tf_*` models: {archs}; the TF is not named in the data): the 3 most "
                  f"influential filters (drop in test-set auROC when zeroed, on the {g0['n_influence_seqs']} GUE test "
                  f"sequences; motifs from the {g0['n_seqs']} test + dev sequences) and their top-3 JASPAR 2024 "
                  "matches (q).", "",
                  "| model | filter (influence) | best match (q) | next matches (q) |", "|---|---|---|---|"]
        for name, g in b["gue"].items():
            for t in g["top"]:
                lines.append(f"| {name} | {t['filter']} ({t['influence']:.3g}) | {t['match']} {t['match_id']} "
                             f"({_fmt_q(t['q'])}) | {t['next']} |")
        lines += ["", "All filters of each GUE model: how many have a best match with q < 0.05, and the most "
                  "frequent such matches (a biologist's guess at the TF comes from these, not from the 3 most "
                  "influential filters alone):", "", "| model | informative filters | best match q < 0.05 | most "
                  "frequent significant best matches |", "|---|---|---|---|"]
        for name, g in b["gue"].items():
            lines.append(f"| {name} | {g['n_motifs']} | {g.get('n_filters_q05', '-')} | "
                         + (", ".join(f"{k2} x{c}" for k2, c in g.get("frequent_top1_q05", {}).items()) or "-")
                         + " |")
        lines.append("")
    d = res.get("deepbind")
    if d:
        n_ok = sum(1 for v in d.values() if v["own_best"] and v["own_best"]["q"] < 0.05)
        archs = ", ".join(sorted({v.get("arch", "architecture not recorded") for v in d.values()}))
        lines += [f"Bundled `deepbind_<TF>` models ({archs}; DeepBind ENCODE data, TF named): **{n_ok}/{len(d)}** have a filter "
                  "whose top-3 JASPAR 2024 matches include the TF's own motif with q < 0.05 (sequences: the B test "
                  "set's 500 peaks + 500 shuffles and the first 1500 AC peaks; no influence computed).", "",
                  "| model | own motif: best filter, match (rank) | q | filters whose best match is the TF (q < 0.05) "
                  "| most frequent significant top hits |", "|---|---|---|---|---|"]
        for name, v in d.items():
            ob = v["own_best"]
            lines.append(f"| {name} | " + (f"{ob['filter']}: {ob['target']} ({ob['rank']})" if ob else "not in any top 3")
                         + f" | {_fmt_q(ob['q']) if ob else '-'} | {v['n_filters_top1_own_q05']} | "
                         + ", ".join(f"{k2} x{c}" for k2, c in v["frequent_top1_q05"].items()) + " |")
        lines.append("")
    k = res.get("koo")
    lines += ["## 2. Koo & Eddy 2019 synthetic set (12 embedded JASPAR motifs)", "", *_reused_note(res, "koo")]
    if k:
        lines += [f"{k['n_sequences']} sequences x 200 bp (paper: 30,000), 1-5 of the 12 motifs sampled from their "
                  "JASPAR 2016 matrices and planted per sequence on a random strand, one task per motif; generated "
                  f"by `python3 benchmarks/koo2019_synthetic.py --n {k['n_sequences']} --seed 33 --out "
                  "benchmarks/work/koo2019.parquet`; models trained by `python3 benchmarks/motifs_train_koo.py "
                  "--data benchmarks/work/koo2019.parquet --out benchmarks/work/koo_models --threads 1 --epochs 25` (the "
                  "`*_e50` models: `--epochs 50 --out benchmarks/work/koo_models_e50 --only basset_pool25 "
                  "basset_pool25_f64`, linked into koo_models) "
                  "(seqconv.train.fit, AdamW + cosine schedule over the max epochs, early stopping on valid auPRC "
                  "with patience 4, "
                  "1 torch thread; first-layer filters 19 bp wide (Koo: 30 x 19); basset without dropout; total down-sampling 100 = product of "
                  "the three max-pools, as Koo & Eddy kept it fixed; models cached in benchmarks/work/koo_models, "
                  f"training time {k.get('train_seconds_total', 0):.0f} s in all). "
                  f"Filter motifs from {k['n_scan']} random sequences of the set (activation alignment, both "
                  "strands, flanks < 0.3 bits trimmed), compared with JASPAR 2016 vertebrates (the paper's Tomtom "
                  "database). **Recovered** = at least one filter matches the embedded motif's JASPAR 2016 matrix "
                  "with q < 0.05; *as best match* = it is also that filter's top hit.", "",
                  "| model | arch | first-layer filters | first-layer pool (all pools) | epochs run / max | test auROC (mean of 12) | threshold | recovered | "
                  "as best match | missed | filters whose best match is an embedded motif |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for name, mm_ in k["models"].items():
            for thr in k["thresholds"]:
                e = mm_[f"thr{thr}"]
                lines.append(f"| {name} | {mm_['arch']} | {mm_.get('first_filters', '-')} | {mm_['first_pool']} "
                             f"({mm_.get('pools')}) | {mm_['epochs']} / {mm_.get('max_epochs', '-')}"
                             f"{'' if mm_['done'] else ' (unfinished)'} | {mm_['test_auroc']:.3f} | {thr} | "
                             f"**{len(e['recovered'])}/12** | {len(e['recovered_as_best_match'])}/12 | "
                             f"{', '.join(e['missed']) or '-'} | {e['filters_matching_an_embedded_motif']:.0%} |")
        union = sorted({n for mm_ in k["models"].values() for n in mm_["thr0.7"]["recovered"]})
        never = [n for n in next(iter(k["models"].values()))["thr0.7"]["per_motif"] if n not in union]
        lines += ["", f"Union over the {len(k['models'])} models (threshold 0.7): **{len(union)}/12** recovered; "
                  f"never recovered: {', '.join(never) or '-'}."]
        for mname, mm_ in k["models"].items():
            if not mm_["thr0.7"]["recovered"]:
                lines.append(f"- {mname}: no filter matches any embedded motif with q < 0.05 (smallest q "
                             f"{min(v['q'] for v in mm_['thr0.7']['per_motif'].values()):.2g}).")
                continue
            for n in mm_["thr0.7"]["missed"]:
                v = mm_["thr0.7"]["per_motif"][n]
                if "p" in v:
                    lines.append(f"- {mname} misses {n}: closest filter {v['filter']} ({v['width']} bp after "
                                 f"trimming; its best hit {v['filter_best_match']}) matches {n} with p = {v['p']:.2g}, "
                                 f"rank {v['rank']} of {v['n_targets']}, q = {v['q']:.2g}.")
        lines += ["", "Best q per embedded motif (threshold 0.7; filter; that filter's top JASPAR 2016 hit):", "",
                  "| model | " + " | ".join(next(iter(k["models"].values()))["thr0.7"]["per_motif"]) + " |",
                  "|---|" + "---|" * 12]
        for name, mm_ in k["models"].items():
            pm = mm_["thr0.7"]["per_motif"]
            lines.append(f"| {name} | " + " | ".join(f"{v['q']:.1g} ({v['filter_best_match']})" for v in pm.values())
                         + " |")
        lines.append("")
    else:
        lines += ["(skipped: models or data missing)", ""]
    mm = res.get("memelite")
    lines += ["## 3. Agreement with memelite's tomtom (same queries, JASPAR 2024 CORE vertebrates)", "",
              *_reused_note(res, "memelite")]
    if mm:
        s = mm["seconds"]
        lines += [f"{mm['n_queries']} filter motifs (the oct4_mafk filters of section 1 and the Koo-set filters of "
                  f"section 2) x {mm['n_targets']} targets; memelite {mm.get('memelite_version', '?')} `tomtom` "
                  f"(Euclidean, complete scores) with n_jobs={mm['threads_memelite']}. Both rank targets by p-value, "
                  "ties broken by the alignment score.", "",
                  "| measure | value |", "|---|---|",
                  f"| same best target | {mm['top1_same']:.0%} |",
                  f"| top-3 overlap (mean fraction of memelite's 3 best targets in seqconv's 3 best) | "
                  f"{mm['top3_overlap']:.0%} (queries sharing 0/1/2/3 of 3: "
                  f"{'/'.join(str(v) for v in mm['top3_overlap_dist'].values())}) |",
                  f"| same best target, queries significant (q < 0.05) in both | "
                  f"{'-' if mm['top1_same_when_both_significant'] is None else format(mm['top1_same_when_both_significant'], '.0%')} |",
                  f"| memelite's best target within seqconv's top 5 | {mm['memelite_top1_in_seqconv_top5']:.0%} |",
                  f"| seqconv's best target within memelite's top 5 | {mm['seqconv_top1_in_memelite_top5']:.0%} |",
                  f"| queries with a q < 0.05 match: seqconv / memelite / both | "
                  f"{mm['queries_with_a_match_q05']['seqconv']} / {mm['queries_with_a_match_q05']['memelite']} / "
                  f"{mm['queries_with_a_match_q05']['both']} |",
                  f"| Jaccard of significant (query, target) pairs | {mm['pairs_q05_jaccard']:.2f} |",
                  f"| median Spearman of -log10 p over targets | {mm['median_spearman_log_p']:.2f} |",
                  *([f"| seqconv's `{o['method']}` method instead: same best target as memelite / queries with a "
                     f"q < 0.05 match / pair Jaccard / Spearman | {o['top1_same']:.0%} / "
                     f"{o['queries_with_a_match_q05']} / {o['pairs_q05_jaccard']:.2f} / "
                     f"{o['median_spearman_log_p']:.2f} |"] if (o := mm.get("other_method")) else []),
                  f"| queries whose best targets differ | {mm['discordant']['n']} (median query information "
                  f"{mm['discordant']['median_query_information_bits']:.1f} bits vs "
                  f"{mm['discordant']['median_query_information_bits_concordant']:.1f} where they agree) |",
                  f"| ... of which the best target has >= 1/3 flat columns (< 0.25 bits): memelite / seqconv | "
                  f"{mm['discordant']['memelite_best_has_1_3_flat_columns']} / "
                  f"{mm['discordant']['seqconv_best_has_1_3_flat_columns']} |",
                  f"| ... most frequent best targets there: memelite / seqconv | "
                  f"{', '.join(f'{k2} x{c}' for k2, c in mm['discordant']['memelite_best_frequent'].items())} / "
                  f"{', '.join(f'{k2} x{c}' for k2, c in mm['discordant']['seqconv_best_frequent'].items())} |",
                  *([f"| Koo-set filters (ground truth: only the 12 TFs were planted): significant best match / "
                     f"of which a planted TF / of which CTCF (never planted) — seqconv vs memelite | "
                     f"{g['seqconv']['best_q05']} / {g['seqconv']['best_q05_is_planted']} / "
                     f"{g['seqconv']['best_q05_is_ctcf']} vs {g['memelite']['best_q05']} / "
                     f"{g['memelite']['best_q05_is_planted']} / {g['memelite']['best_q05_is_ctcf']} "
                     f"(of {g['seqconv']['n_queries']} filters) |"] if (g := mm.get("koo_ground_truth")) else []),
                  *(_speed_rows(mm["speed_rounds"]) if mm.get("speed_rounds") else []),
                  f"| time: seqconv `search` per query (full per-target tables, used for the measures above) / "
                  f"memelite (s) | {s['seqconv']:.2f} / {s['memelite']:.2f} "
                  f"(ratio {s['seqconv'] / max(s['memelite'], 1e-9):.1f}x) |", ""]
    else:
        lines += ["(skipped: memelite not importable; run with benchmarks/.venv-motifs/bin/python)", ""]
    path.write_text("\n".join(lines) + "\n")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--koo-models", default=str(HERE / "work" / "koo_models"))
    ap.add_argument("--koo-data", default=str(HERE / "work" / "koo2019.parquet"))
    ap.add_argument("--max-seqs", type=int, default=4000)
    ap.add_argument("--koo-scan", type=int, default=8000, help="Koo set: sequences scanned for filter motifs")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip", nargs="*", default=[], choices=["bundled", "deepbind", "koo", "memelite"])
    ap.add_argument("--reuse", action="store_true",
                    help="keep skipped sections from the previous benchmarks/results/motifs.json")
    ap.add_argument("--markdown-only", action="store_true",
                    help="rewrite benchmarks/results/motifs.md from motifs.json without running anything")
    args = ap.parse_args(argv)
    if args.markdown_only:
        res = json.loads((RESULTS / "motifs.json").read_text())
        write_markdown(res, args, RESULTS / "motifs.md")
        print(f"wrote {RESULTS / 'motifs.md'} from {RESULTS / 'motifs.json'}")
        return
    torch.set_num_threads(args.threads)
    import platform

    from seqconv.motifs.compare import MotifComparer

    RESULTS.mkdir(parents=True, exist_ok=True)
    t_start = time.time()
    start = machine_record({"torch": args.threads, "memelite tomtom n_jobs": args.threads})
    comparer = MotifComparer("jaspar")
    res = {"command": "benchmarks/.venv-motifs/bin/python benchmarks/motifs.py" + (f" {' '.join(argv)}" if argv else
                                                                                  " " + " ".join(sys.argv[1:])),
           "machine": f"{start['cpu']} ({platform.machine()}), {torch.get_num_threads()} torch thread(s)",
           "measured": {}, "comparer": {"method": comparer.method, "metric": comparer.metric,
                                         "min_overlap": comparer.min_overlap, "n_bins": comparer.n_bins}}
    previous = {}
    if args.reuse and (RESULTS / "motifs.json").exists():
        previous = json.loads((RESULTS / "motifs.json").read_text())
        res["previous_command"] = previous.get("command")
        # the run the kept sections come from: its machine, load and duration stay with them
        res["previous_machine_record"] = previous.get("previous_machine_record") or previous.get("machine_record")
        res["previous_seconds_total"] = previous.get("previous_seconds_total") or previous.get("seconds_total")
    queries = []
    for section, fn in (("bundled", lambda: section_bundled(comparer, args, res)),
                        ("deepbind", lambda: section_deepbind(comparer, args)),
                        ("koo", lambda: section_koo(args))):
        if section in args.skip:
            if section in previous:  # kept from the previous run (--reuse)
                res[section] = previous[section]
                res.setdefault("reused", []).append(section)
                res["measured"][section] = _measured(previous, section)
            continue
        res[section] = fn()
        res["measured"][section] = start["started"][:10]
    planted = []
    if res.get("koo") and "koo" not in args.skip:
        from koo2019_synthetic import MOTIF_NAMES

        for mm in res["koo"]["models"].values():
            ms = mm.pop("_motifs", [])
            queries += ms
            planted += [{n.upper() for n in MOTIF_NAMES}] * len(ms)
    oct4_q = res.pop("_oct4_motifs", None)
    if "memelite" not in args.skip:
        qs = queries + (oct4_q if oct4_q is not None else _oct4_queries(comparer, args))
        planted += [None] * (len(qs) - len(planted))
        res["memelite"] = section_memelite(qs, comparer, args, planted) if qs else None
        res["measured"]["memelite"] = start["started"][:10]
    elif "memelite" in previous:
        res["memelite"] = previous["memelite"]
        res.setdefault("reused", []).append("memelite")
        res["measured"]["memelite"] = _measured(previous, "memelite")
    res["seconds_total"] = time.time() - t_start
    res["machine_record"] = machine_record(start["threads"], since=start)
    res["threads"] = args.threads
    write_markdown(res, args, RESULTS / "motifs.md")
    (RESULTS / "motifs.json").write_text(json.dumps(res, indent=2, default=str) + "\n")
    print(f"wrote {RESULTS / 'motifs.md'}")


def _measured(res, section):
    """The UTC date a section of a results dict was measured (``date not recorded`` for runs before this field)."""
    return (res.get("measured") or {}).get(section) or "date not recorded"


def _oct4_queries(comparer, args):
    """The Oct4 model's filter motifs (recomputed cheaply: extraction only)."""
    from seqconv.errors import InputError
    from seqconv.motifs.extract import activation_motifs
    from seqconv.pretrained import list_models, load_pretrained

    if "oct4_mafk" not in list_models()["name"].tolist():
        return []
    model = load_pretrained("oct4_mafk")
    card = model.card
    X, _ = janggu_data(seed=args.seed)
    out = []
    for m in activation_motifs(model, X, strand=card.strand):
        try:
            out.append(m.trim(0.3))
        except InputError:
            pass
    return out


if __name__ == "__main__":
    main()
