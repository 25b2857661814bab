#!/usr/bin/env python3
"""Compares rules that pick or weight candidate mixtures, from the per-set files that
bench/anomaly_explore.py writes (scores of every candidate, held-out log-likelihoods).
Prints mean / worst ROC-AUC and mean AP over all sets and over the odd- and even-numbered
halves (choose on one, confirm on the other), beside the peers of a bench/anomaly.py cache.

Usage: python bench/anomaly_rules.py CANDDIR [--peer-cache FILE] [--per-set RULE]
"""
import argparse
import json
from pathlib import Path

import numpy as np
from scipy.special import logsumexp
from sklearn.metrics import average_precision_score, roc_auc_score


JAC = False


def zmean(s):
    s = np.asarray(s, float)
    sd = s.std(1, keepdims=True)
    sd[~(sd > 0)] = 1
    return ((s - s.mean(1, keepdims=True)) / sd).mean(0)


def stack_weights(cv, iters=200):
    """EM for the weights of a mixture of candidate densities on cross-validated
    log-densities cv (m × n): stacked density estimation (Smyth & Wolpert 1999)."""
    m = cv.shape[0]
    w = np.full(m, 1.0 / m)
    for _ in range(iters):
        lr = cv + np.log(np.maximum(w, 1e-300))[:, None]
        r = np.exp(lr - logsumexp(lr, 0))
        w = r.mean(1)
    return w


def rules(c):
    names = [str(t) for t in c["names"]]
    fam = np.array([t.split("|")[0] for t in names])
    k = np.array([int(t.split("|")[1]) for t in names])
    reg = np.array([float(t.split("|")[2]) for t in names])
    s = c["scores"].astype(float)
    if JAC and "jac" in c.files:
        s = s - c["jac"][None, :]
    h = (c["hll"] + c["hll2"]) / 2
    ok = np.isfinite(h)
    out = {}
    sel = reg == 0.3
    out["ens_reg0.3"] = zmean(s[sel])
    out["ens_reg1"] = zmean(s[reg == 1.0])
    out["ens_reg0.1"] = zmean(s[reg == 0.1])
    out["ens_full_reg0.3"] = zmean(s[(reg == 0.3) & (fam == "full")])
    out["ens_diag_reg0.3"] = zmean(s[(reg == 0.3) & (fam == "diag")])
    out["k1full_reg0.3"] = s[(reg == 0.3) & (fam == "full") & (k == 1)][0]
    out["k1full_reg0.01"] = s[(reg == 0.01) & (fam == "full") & (k == 1)][0]
    if not ok.any():
        return out, names, s
    hh = np.where(ok, h, -np.inf)
    out["sel_hll"] = s[np.argmax(hh)]
    for fm in ["diag", "full"]:
        hf = np.where(ok & (fam == fm), h, -np.inf)
        if np.isfinite(hf).any():
            out[f"sel_hll_{fm}"] = s[np.argmax(hf)]
    # per (family, k): reg chosen by held-out likelihood, then the z-mean over (family, k)
    picks = []
    for fm in ["diag", "full"]:
        for kk in range(1, 5):
            i = np.where(ok & (fam == fm) & (k == kk))[0]
            if len(i):
                picks.append(i[np.argmax(h[i])])
    out["ens_regsel"] = zmean(s[picks])
    picks_full = [i for i in picks if fam[i] == "full"]
    if picks_full:
        out["ens_regsel_full"] = zmean(s[picks_full])
    # one reg for the whole set: the one with the best held-out k=1 full model
    i1 = np.where(ok & (fam == "full") & (k == 1))[0]
    r1 = reg[i1[np.argmax(h[i1])]]
    out["ens_reg_by_k1"] = zmean(s[reg == r1])
    # best family by held-out (its best member), ensemble over k within it at the best reg per k
    for M in [2, 3, 5]:
        order = np.argsort(-hh)[:M]
        order = [i for i in order if ok[i]]
        out[f"top{M}"] = zmean(s[order])
    # stacked density over all candidates with cv densities
    cv = c["cv"]
    i = np.where(ok & np.isfinite(cv).all(1))[0]
    w = stack_weights(cv[i])
    out["stack"] = -logsumexp(-s[i] + np.log(np.maximum(w, 1e-300))[:, None], 0)
    out["stack_z"] = (w[:, None] * ((s[i] - s[i].mean(1, keepdims=True)) / s[i].std(1, keepdims=True))).sum(0)
    # mixture of the members' densities with weights ∝ exp(n_eff · h) tempered: per-row (h as the log weight)
    lw = h[i] - logsumexp(h[i])
    out["bma_row"] = -logsumexp(-s[i] + lw[:, None], 0)
    return out, names, s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cands")
    ap.add_argument("--peer-cache")
    ap.add_argument("--per-set", action="append", default=[])
    ap.add_argument("--jac", action="store_true", help="subtract the saved log-Jacobian from every score")
    ap.add_argument("--common", help="only the sets also present in this directory")
    ap.add_argument("--only", help="comma-separated rules to print")
    a = ap.parse_args()
    global JAC
    JAC = a.jac
    peers = json.loads(Path(a.peer_cache).read_text()) if a.peer_cache else {}
    res = {}
    sets = sorted(Path(a.cands).glob("*.npz"), key=lambda q: int(q.stem.split("_")[0]))
    if a.common:
        sets = [p for p in sets if (Path(a.common) / p.name).exists()]
    for p in sets:
        c = np.load(p)
        y = c["y"]
        out, names, s = rules(c)
        r = {}
        for name, sc in out.items():
            sc = np.nan_to_num(sc, nan=0.0, posinf=1e300, neginf=-1e300)
            r[name] = (roc_auc_score(y, sc), average_precision_score(y, sc))
        for m in ["iforest", "knn", "ecod", "gmm_k1"]:
            v = peers.get(f"{p.stem}|{m}")
            r["peer_" + m] = (v[0], v[1]) if v else (np.nan, np.nan)
        best = max(roc_auc_score(y, t) for t in s)
        r["oracle_member"] = (best, np.nan)
        res[p.stem] = r
    rule_names = []
    for r in res.values():
        rule_names += [t for t in r if t not in rule_names]
    if a.only:
        rule_names = a.only.split(",") + [t for t in rule_names if t.startswith("peer_")]
    nan2 = (np.nan, np.nan)
    print(f"{len(res)} sets")
    print(f"{'rule':18s} {'all AUC':>8s} {'worst':>6s} {'AP':>6s} | {'odd AUC':>7s} {'worst':>6s} {'AP':>6s} |"
          f" {'even AUC':>8s} {'worst':>6s} {'AP':>6s} | below k1-0.05")
    for rn in rule_names:
        line = f"{rn:18s}"
        for par in [None, 1, 0]:
            ss = [t for t in res if par is None or int(t.split("_")[0]) % 2 == par]
            au = np.array([res[t].get(rn, nan2)[0] for t in ss])
            apv = np.array([res[t].get(rn, nan2)[1] for t in ss])
            line += f" {np.nanmean(au):8.4f} {np.nanmin(au):6.3f} {np.nanmean(apv):6.4f} |"
        below = [t for t in res if res[t].get(rn, nan2)[0] < res[t]["peer_gmm_k1"][0] - 0.05]
        line += " " + ",".join(below)
        print(line)
    for rn in a.per_set:
        print(rn, " ".join(f"{t}:{res[t].get(rn, nan2)[0]:.3f}" for t in res))


if __name__ == "__main__":
    main()
