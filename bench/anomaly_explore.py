#!/usr/bin/env python3
"""Exploration for the anomaly defaults (issue 12): per set, fit every candidate mixture
(diag/full, k = 1..4, a grid of reg_covar on the standardised scale) with scikit-learn,
once on half of the fitting rows (to measure the held-out mean log-likelihood on the other
half) and once on all of them (to score every row). Saves per set the scores, the held-out
log-likelihoods and the labels, so that selection / weighting rules can be compared
offline without refitting (bench/anomaly_rules.py).

This approximates the Rust library (scikit-learn's EM and k-means initialisation differ
from gaussmix's); a rule chosen here is confirmed with the release CLI.

Usage: python bench/anomaly_explore.py OUTDIR [--data DIR] [--sets a,b]
"""
import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.mixture import GaussianMixture

warnings.filterwarnings("ignore")
REGS = [1e-3, 1e-2, 0.1, 0.3, 1.0]
KS = [1, 2, 3, 4]
FAMS = ["diag", "full"]


def standardise(x):
    m = x.mean(0)
    s = x.std(0)
    const = ~(np.isfinite(s) & (s > 0) & (s > 1e-12 * np.maximum(np.abs(m), 1e-300)))
    s = np.where(const, 1e-6 * np.maximum(np.abs(m), 1.0), s)
    return (x - m) / s


def n_params(fam, d, k):
    cov = d if fam == "diag" else d * (d + 1) / 2
    return 1 + d + cov


def fit(z, fam, k, reg):
    if k == 1 and fam == "full":
        mu = z.mean(0)
        c = np.cov(z, rowvar=False, bias=True).reshape(z.shape[1], z.shape[1]) + reg * np.eye(z.shape[1])
        g = GaussianMixture(1, covariance_type="full")
        g.weights_ = np.ones(1)
        g.means_ = mu[None]
        g.covariances_ = c[None]
        g.precisions_cholesky_ = np.linalg.cholesky(np.linalg.inv(c))[None]
        return g
    return GaussianMixture(k, covariance_type=fam, reg_covar=reg, max_iter=200, random_state=0).fit(z)


def main():
    here = Path(__file__).resolve().parent.parent
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--data", default=str(here.parent / "shared" / "data" / "anomaly"))
    ap.add_argument("--sets")
    ap.add_argument("--max-fit-rows", type=int, default=10000)
    ap.add_argument("--transform", choices=["none", "yj", "yjc"], default="none",
                    help="yj: a Yeo-Johnson power transform of each feature (lambda by maximum likelihood) "
                         "before standardising; the per-row log-Jacobian is saved as `jac`")
    ap.add_argument("--regs", default=",".join(map(str, REGS)))
    ap.add_argument("--no-heldout", action="store_true")
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    wanted = set(a.sets.split(",")) if a.sets else None
    for p in sorted(Path(a.data).glob("*.npz"), key=lambda q: q.stat().st_size):
        if wanted and p.stem not in wanted:
            continue
        if (out / f"{p.stem}.npz").exists():
            continue
        t0 = time.time()
        f = np.load(p)
        x, y = np.asarray(f["X"], float), np.asarray(f["y"]).astype(int)
        n, d = x.shape
        jac = np.zeros(n)
        if a.transform in ("yj", "yjc"):
            from sklearn.preprocessing import PowerTransformer
            pt = PowerTransformer(method="yeo-johnson", standardize=False)
            pt.fit(x[np.sort(np.random.default_rng(0).choice(n, min(n, a.max_fit_rows), replace=False))])
            lam = pt.lambdas_
            xt = pt.transform(x)
            ok = np.isfinite(xt).all(0) & (np.abs(xt).max(0) < 1e100)
            if a.transform == "yjc":
                # continuous columns only: a column whose most frequent value holds 10 % of the
                # rows or more (binary, discrete, zero-inflated) keeps lambda = 1
                modal = np.array([np.unique(c, return_counts=True)[1].max() for c in x.T]) / n
                ok &= modal < 0.1
            lam = np.where(ok, lam, 1.0)
            xt[:, ~ok] = x[:, ~ok]
            # log T'(x) = (lambda - 1) * sign(x) * log1p(|x|)
            jac = ((lam - 1) * np.sign(x) * np.log1p(np.abs(x))).sum(1)
            x = xt
        z = standardise(x)
        regs = [float(t) for t in a.regs.split(",")]
        rng = np.random.default_rng(0)
        rows = np.sort(rng.choice(n, a.max_fit_rows, replace=False)) if n > a.max_fit_rows else np.arange(n)
        zf = z[rows]
        perm = np.random.default_rng(1).permutation(len(rows))
        half = len(rows) // 2
        za, zb = zf[perm[:half]], zf[perm[half:]]
        names, scores, hll, hll2, cv = [], [], [], [], []
        for fam in FAMS:
            for k in KS:
                need = n_params(fam, d, k) * k
                if k > 1 and need > len(rows):
                    continue
                for reg in regs:
                    try:
                        g = fit(zf, fam, k, reg)
                        s = -g.score_samples(z)
                        c = np.full(len(rows), np.nan)
                        if a.no_heldout or (k > 1 and need > half):
                            h = h2 = np.nan
                        else:
                            ga = fit(za, fam, k, reg)
                            c[perm[half:]] = ga.score_samples(zb)
                            h = c[perm[half:]].mean()
                            gb = fit(zb, fam, k, reg)
                            c[perm[:half]] = gb.score_samples(za)
                            h2 = c[perm[:half]].mean()
                    except Exception as e:  # noqa: BLE001
                        print(p.stem, fam, k, reg, e, file=sys.stderr)
                        continue
                    names.append(f"{fam}|{k}|{reg}")
                    scores.append(s.astype(np.float32))
                    hll.append(h)
                    hll2.append(h2)
                    cv.append(c)
        np.savez(out / f"{p.stem}.npz", names=np.array(names), scores=np.array(scores), hll=np.array(hll),
                 hll2=np.array(hll2), cv=np.array(cv), rows=rows, jac=jac, y=y, n=n, d=d)
        print(p.stem, n, d, len(names), f"{time.time() - t0:.1f}s", flush=True)


if __name__ == "__main__":
    main()
