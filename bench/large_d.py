#!/usr/bin/env python3
"""Large-D full-covariance EM benchmark (issue 16, item 3), called by bench/run_em.py.

Problems L128, L256, L512: N = 100,000 rows, K = 8 components, D = 128 / 256 / 512, full
covariance, generated here with a fixed seed (numpy's PCG64, seed 16 + D) into
target/bench-data/L<D>_X.npy: component means ~ N(0, 4² I), each component's rows
x = μ_k + z A_kᵀ with z ~ N(0, I) and A_k = (I + G/√D)·s_k (G standard normal, s_k in
[0.5, 2]), mixture weights from a Dirichlet(5) draw; float64, C order.

scikit-learn's EM is slow at these sizes, so it runs only a few iterations: a
GaussianMixture(init_params='k-means++', tol=0, random_state=0) fitted with max_iter =
--sk-iters, each _e_step/_m_step timed (the instrumented per-iteration time of
shared/bench/sklearn_bench.py). gaussmix runs `gaussmix bench-em --iters --gm-iters`
(the same init). The flop count is run_em.py's for P2/P3: 2·N·K·D(D+1) per iteration
(triangular E-step, symmetric M-step), against the dgemm peak measured in the same run.

Usage (normally through run_em.py --problems L128,L256,L512):
  python3 bench/large_d.py --exe target/release/gaussmix --peak 208 [--dims 128,256,512]
      [--threads 2] [--sk-iters 3] [--gm-iters 5] [--skip-sklearn]
Prints one Markdown table and writes target/bench/em-L<D>-*.json.
"""
import argparse
import json
import os
import subprocess
import sys
import time
import warnings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "target", "bench")
DATA = os.path.join(ROOT, "target", "bench-data")
N, K = 100_000, 8


def data_path(d):
    return os.path.join(DATA, f"L{d}_X.npy")


def generate(d):
    import numpy as np

    path = data_path(d)
    if os.path.exists(path):
        return path
    rng = np.random.default_rng(16 + d)
    weights = rng.dirichlet(np.full(K, 5.0))
    counts = rng.multinomial(N, weights)
    means = rng.normal(0.0, 4.0, size=(K, d))
    x = np.empty((N, d))
    r = 0
    for k in range(K):
        a = (np.eye(d) + rng.standard_normal((d, d)) / np.sqrt(d)) * rng.uniform(0.5, 2.0)
        z = rng.standard_normal((counts[k], d))
        x[r:r + counts[k]] = means[k] + z @ a.T
        r += counts[k]
    x = x[rng.permutation(N)]
    os.makedirs(DATA, exist_ok=True)
    np.save(path + ".tmp.npy", np.ascontiguousarray(x))
    os.replace(path + ".tmp.npy", path)
    return path


def flops(d):
    return 2.0 * N * K * d * (d + 1)


def sklearn_child(d, threads, iters):
    import numpy as np
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture
    from threadpoolctl import threadpool_limits

    warnings.simplefilter("ignore", ConvergenceWarning)
    threadpool_limits(threads)

    class TimedGM(GaussianMixture):
        def _e_step(self, X, xp=None):
            t = time.perf_counter()
            r = super()._e_step(X, xp=xp)
            self._t_e.append(time.perf_counter() - t)
            return r

        def _m_step(self, X, log_resp, xp=None):
            t = time.perf_counter()
            r = super()._m_step(X, log_resp, xp=xp)
            self._t_m.append(time.perf_counter() - t)
            return r

    x = np.load(data_path(d))
    gm = TimedGM(n_components=K, covariance_type="full", init_params="k-means++", max_iter=iters,
                 tol=0.0, n_init=1, random_state=0)
    gm._t_e, gm._t_m = [], []
    gm.fit(x)
    per = [e + m for e, m in zip(gm._t_e[:iters], gm._t_m[:iters])]
    import resource
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux
    print("RESULT " + json.dumps({"D": d, "iters": iters, "iter_time_s_instrumented": sum(per) / len(per),
                                  "iter_time_s_worst": max(per), "lower_bound": float(gm.lower_bound_),
                                  "peak_rss_MiB": rss}),
          flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--exe", default=os.path.join(ROOT, "target", "release", "gaussmix"))
    ap.add_argument("--peak", type=float, required=False, help="dgemm GFLOP/s measured in this run")
    ap.add_argument("--dims", default="128,256,512")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sk-iters", type=int, default=3)
    ap.add_argument("--gm-iters", type=int, default=5)
    ap.add_argument("--skip-sklearn", action="store_true")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        sklearn_child(args.child, args.threads, args.sk_iters)
        return
    os.makedirs(OUT, exist_ok=True)
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("OPENBLAS_L2_SIZE", None)
    peak = args.peak if args.peak else float("nan")
    load0 = os.getloadavg()
    lines = [f"Large D (full, N={N}, K={K}); dgemm peak {peak:.0f} GFLOP/s on {args.threads} threads; "
             f"flops 2NKD(D+1); sklearn {args.sk_iters} iterations, gaussmix {args.gm_iters}", "",
             "| problem | sklearn s/iter (worst iteration) | gaussmix s/iter (by subtraction) | ratio | GFLOP/s | % of dgemm peak "
             "| peak RSS MiB (sk / gm) | X MiB | gm RSS / (1.5 X + 100) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for d in [int(v) for v in args.dims.split(",")]:
        generate(d)
        sk = None
        if not args.skip_sklearn:
            out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", str(d), "--threads",
                                  str(args.threads), "--sk-iters", str(args.sk_iters)],
                                 check=True, capture_output=True, text=True, env=env)
            sk = json.loads([l for l in out.stdout.splitlines() if l.startswith("RESULT ")][-1][7:])
            json.dump(sk, open(os.path.join(OUT, f"em-L{d}-sklearn.json"), "w"), indent=1)
        out = subprocess.run([args.exe, "bench-em", data_path(d), "-k", str(K), "--covariance", "full",
                              "--iters", str(args.gm_iters), "--threads", str(args.threads)],
                             check=True, capture_output=True, text=True, env=env)
        gm = json.loads(out.stdout.strip().splitlines()[-1])
        json.dump(gm, open(os.path.join(OUT, f"em-L{d}-gaussmix.json"), "w"), indent=1)
        g_it = gm["iter_time_s"]
        # bench-em reports a mean (iteration timestamps) and a second estimate by
        # subtraction (fit of max_iter = n minus fit of max_iter = 1, init included)
        g_alt = gm["iter_time_s_subtraction"]
        s_it = sk["iter_time_s_instrumented"] if sk else float("nan")
        s_w = sk["iter_time_s_worst"] if sk else float("nan")
        gf = flops(d) / g_it / 1e9
        s_rss = f"{sk['peak_rss_MiB']:.0f}" if sk else "–"
        x_mib = gm["X_MiB"]
        lines.append(f"| L{d} (full, N={N}, D={d}, K={K}) | {s_it:.3f} ({s_w:.3f}) | {g_it:.4f} ({g_alt:.4f}) "
                     f"| {s_it / g_it:.1f}× | {gf:.1f} | {100 * gf / peak:.0f} % | {s_rss} / {gm['peak_rss_MiB']:.0f} "
                     f"| {x_mib:.0f} | {gm['peak_rss_MiB'] / (1.5 * x_mib + 100):.2f} |")
    load1 = os.getloadavg()
    lines.append("")
    lines.append(f"Load average (1/5/15 min) at start {load0[0]:.2f} / {load0[1]:.2f} / {load0[2]:.2f}, "
                 f"at end {load1[0]:.2f} / {load1[1]:.2f} / {load1[2]:.2f}")
    report = "\n".join(lines)
    print(report)
    open(os.path.join(OUT, "em-large-d.md"), "w").write(report + "\n")


if __name__ == "__main__":
    main()
