#!/usr/bin/env python3
"""Variational mixture speed: `gaussmix bayes` against scikit-learn's
BayesianGaussianMixture, back to back on the same file.

    python3 bench/bayes.py [--n 200000] [--d 8] [--k 8] [--iters 40] [--threads 2]
                           [--data FILE.npy] [--covariances full,diag]

With --data (e.g. target/bench-data/P2_X.npy from ../shared/bench/gen_data.py) the rows
of that file are used instead of the seeded blobs (--n and --d are then ignored).

Per-iteration time is (time with ITERS+1 iterations - time with 1) / ITERS for each tool,
so initialisation and file reading cancel out. Prints a markdown table.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--d", type=int, default=8)
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--iters", type=int, default=40)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--bin", default="target/release/gaussmix")
    ap.add_argument("--data", default=None)
    ap.add_argument("--covariances", default="full,diag")
    a = ap.parse_args()
    os.environ["OMP_NUM_THREADS"] = str(a.threads)
    os.environ["OPENBLAS_NUM_THREADS"] = str(a.threads)
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import BayesianGaussianMixture

    if a.data:
        x = np.load(a.data)
        a.n, a.d = x.shape
    else:
        rng = np.random.default_rng(0)
        centres = rng.normal(0, 5, size=(a.k, a.d))
        x = centres[rng.integers(0, a.k, a.n)] + rng.normal(size=(a.n, a.d))
    rows = []
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "x.npy")
        np.save(path, x)
        for ct in a.covariances.split(","):
            times = {}
            for it in (1, a.iters + 1):
                cmd = [a.bin, "bayes", path, "-k", str(a.k), "--covariance", ct, "--tol", "0",
                       "--max-iter", str(it), "--threads", str(a.threads), "-q", "-o", os.path.join(tmp, "m.json")]
                t = time.perf_counter()
                subprocess.run(cmd, check=True)
                g_t = time.perf_counter() - t
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    t = time.perf_counter()
                    BayesianGaussianMixture(n_components=a.k, covariance_type=ct, tol=0, max_iter=it,
                                            random_state=0).fit(x)
                    s_t = time.perf_counter() - t
                times[it] = (g_t, s_t)
            g = (times[a.iters + 1][0] - times[1][0]) / a.iters
            s = (times[a.iters + 1][1] - times[1][1]) / a.iters
            rows.append((ct, g, s))
    end = os.getloadavg()
    print(f"load average {load[0]:.2f} at start, {end[0]:.2f} at end")
    print(f"| {a.data or 'blobs'} {a.n} × {a.d}, K = {a.k}, {a.threads} threads | gaussmix ms/iter | scikit-learn ms/iter | ratio |")
    print("|---|---|---|---|")
    for ct, g, s in rows:
        print(f"| {ct} | {g * 1e3:.1f} | {s * 1e3:.1f} | {s / g:.1f}× |")


if __name__ == "__main__":
    sys.exit(main())
