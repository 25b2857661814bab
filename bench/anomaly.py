#!/usr/bin/env python3
"""Anomaly benchmark: gaussmix defaults beside IsolationForest (5 seeds), k-NN distance
(k=5, z-scored), ECOD (PyOD) and scikit-learn GaussianMixture k=1 (reg 1e-6), back to
back on the same rows of every set in ../shared/data/anomaly (.npz with X, y).

gaussmix runs as the release CLI (`cargo build --release -p gaussmix-cli`), timed as a
user would see it (process start to exit, data read included).

Peers are deterministic (fixed seeds), so their results can be kept in a cache file
(`--peer-cache`, JSON keyed by set and method) and reused when only gaussmix changed.

Usage: python bench/anomaly.py [--data DIR] [--bin PATH] [--threads 2] [--out bench/out/anomaly.md]
       [--peer-cache FILE] [--sets NAME,...] [--no-gaussmix]
"""
import json
import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import NearestNeighbors


def gaussmix(path, binary, threads, extra=()):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "s.csv")
        t = time.perf_counter()
        subprocess.run([binary, "anomaly", str(path), "-o", out, "-q", "--threads", str(threads), *extra],
                       check=True)
        wall = time.perf_counter() - t
        s = np.loadtxt(out, delimiter=",", skiprows=1, usecols=0)
    return s, wall


def iforest(x):
    return np.mean([-IsolationForest(random_state=s).fit(x).score_samples(x) for s in range(5)], axis=0)


def knn(x):
    sd = x.std(0)
    sd[sd == 0] = 1
    z = (x - x.mean(0)) / sd
    d, _ = NearestNeighbors(n_neighbors=6).fit(z).kneighbors(z)
    return d[:, -1]


def ecod(x):
    from pyod.models.ecod import ECOD
    return ECOD().fit(x).decision_scores_


def gmm1(x):
    return -GaussianMixture(1, reg_covar=1e-6, random_state=0).fit(x).score_samples(x)


def main():
    here = Path(__file__).resolve().parent.parent
    ap = argparse.ArgumentParser()
    # ../shared beside the checkout (/work/main → /work/shared); else /work/shared
    data = here.parent / "shared" / "data" / "anomaly"
    if not data.is_dir():
        data = Path("/work/shared/data/anomaly")
    ap.add_argument("--data", default=str(data))
    ap.add_argument("--bin", default=str(here / "target" / "release" / "gaussmix"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(here / "bench" / "out" / "anomaly.md"))
    ap.add_argument("--peer-cache", help="JSON file of peer results to reuse and extend")
    ap.add_argument("--sets", help="comma-separated set names (default: every .npz)")
    ap.add_argument("--gaussmix-args", default="", help="extra flags for `gaussmix anomaly` (a candidate)")
    ap.add_argument("--no-gaussmix", action="store_true", help="peers only (to fill the cache)")
    ap.add_argument("--cached-peers-only", action="store_true",
                    help="report a peer missing from the cache as not measured (NaN) instead of running it")
    a = ap.parse_args()
    cache = {}
    if a.peer_cache and os.path.exists(a.peer_cache):
        cache = json.loads(Path(a.peer_cache).read_text())
    methods = {"gaussmix": None, "iforest": iforest, "knn": knn, "ecod": ecod, "gmm_k1": gmm1}
    rows = []
    if a.no_gaussmix:
        del methods["gaussmix"]
    wanted = set(a.sets.split(",")) if a.sets else None
    for p in sorted(Path(a.data).glob("*.npz"), key=lambda q: int(q.stem.split("_")[0])):
        if wanted and p.stem not in wanted:
            continue
        f = np.load(p)
        x, y = np.asarray(f["X"], float), np.asarray(f["y"]).astype(int)
        r = {"set": p.stem, "n": x.shape[0], "d": x.shape[1]}
        for name, fn in methods.items():
            key = f"{p.stem}|{name}"
            if fn is not None and key in cache:
                r[name] = tuple(cache[key])
                continue
            if fn is not None and a.cached_peers_only:
                print(f"{p.stem} {name}: not in the cache, not measured", file=sys.stderr)
                r[name] = (float("nan"),) * 3
                continue
            try:
                if fn is None:
                    s, w = gaussmix(p, a.bin, a.threads, a.gaussmix_args.split())
                else:
                    t = time.perf_counter()
                    s = fn(x)
                    w = time.perf_counter() - t
                s = np.nan_to_num(s, nan=0.0, posinf=1e300, neginf=-1e300)
                r[name] = (roc_auc_score(y, s), average_precision_score(y, s), w)
                if fn is not None and a.peer_cache:
                    cache[key] = list(r[name])
                    Path(a.peer_cache).write_text(json.dumps(cache, indent=0))
            except Exception as e:  # a failure is a row of NaN, reported
                print(f"{p.stem} {name}: {e}", file=sys.stderr)
                r[name] = (float("nan"),) * 3
        rows.append(r)
        print(r["set"], " ".join(f"{m} {r[m][0]:.3f}" for m in methods), flush=True)
    names = list(methods)
    auc = np.array([[r[m][0] for m in names] for r in rows])
    apr = np.array([[r[m][1] for m in names] for r in rows])
    wall = np.array([[r[m][2] for m in names] for r in rows])
    ranks = np.array([(-row).argsort().argsort() + 1 for row in np.nan_to_num(auc, nan=-1)])
    # the last columns: every method's wall seconds on the set (ROC-AUC in the first ones)
    lines = ["| set | n | d | " + " | ".join(names) + " | " + " | ".join(f"{m} s" for m in names) + " |",
             "|---|---|---|" + "---|" * (2 * len(names))]
    for r in rows:
        lines.append(f"| {r['set']} | {r['n']} | {r['d']} | " + " | ".join(f"{r[m][0]:.3f}" for m in names)
                     + " | " + " | ".join(f"{r[m][2]:.2f}" for m in names) + " |")
    for label, v in [("mean ROC-AUC", np.nanmean(auc, 0)), ("worst ROC-AUC", np.nanmin(auc, 0)),
                     ("mean AP", np.nanmean(apr, 0)), ("mean rank", ranks.mean(0)),
                     ("total wall s", np.nansum(wall, 0)), ("max wall s", np.nanmax(wall, 0))]:
        lines.append(f"| **{label}** | | | " + " | ".join(f"{t:.3f}" for t in v) + " |" + " |" * len(names))
    worst = [rows[i]["set"] for i in np.nanargmin(np.nan_to_num(auc, nan=2.0), 0)]
    lines.append("| **worst set** | | | " + " | ".join(worst) + " |" + " |" * len(names))
    if "gaussmix" in names and "gmm_k1" in names:
        gi, ki = names.index("gaussmix"), names.index("gmm_k1")
        below = [f"{rows[i]['set']} ({auc[i, gi] - auc[i, ki]:+.3f})" for i in range(len(rows))
                 if auc[i, gi] < auc[i, ki] - 0.05]
        lines.append("")
        lines.append("Sets where gaussmix is more than 0.05 below GMM k=1: " + (", ".join(below) or "none"))
    if "gaussmix" in names and "iforest" in names:
        gi, ii = names.index("gaussmix"), names.index("iforest")
        over = [f"{rows[i]['set']} ({wall[i, gi]:.1f} s)" for i in range(len(rows)) if wall[i, gi] > 10]
        lines.append("")
        lines.append(f"gaussmix total wall {np.nansum(wall[:, gi]):.1f} s = "
                     f"{np.nansum(wall[:, gi]) / (np.nansum(wall[:, ii]) / 5):.2f} x IsolationForest's total for one "
                     "seed (its 5-seed total / 5); sets above 10 s: " + (", ".join(over) or "none"))
    # the split that guards against fitting defaults to the sets in view: odd- vs
    # even-numbered sets (choose on one half, confirm on the other)
    lines.append("")
    lines.append("| half | sets | " + " | ".join(f"{m} AUC / AP" for m in names) + " |")
    lines.append("|---|---|" + "---|" * len(names))
    for label, par in [("odd", 1), ("even", 0)]:
        sel = [i for i, r in enumerate(rows) if int(r["set"].split("_")[0]) % 2 == par]
        if sel:
            lines.append(f"| {label} | {len(sel)} | " + " | ".join(
                f"{np.nanmean(auc[sel, j]):.3f} / {np.nanmean(apr[sel, j]):.3f}" for j in range(len(names))) + " |")
    md = "# Anomaly benchmark\n\n" + "\n".join(lines) + "\n"
    print(md)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(md)


if __name__ == "__main__":
    main()
