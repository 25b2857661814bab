#!/usr/bin/env python3
"""k-means initialisation and whole default fits, timed in one child process per problem
(called by bench/run_em.py; prints one `RESULT {json}` line).

  --side sklearn: KMeans(n_clusters=K, n_init=1, random_state=0) as GaussianMixture's
      default init runs it (Lloyd, tol=1e-4, max_iter=300): seconds, Lloyd iterations and
      seconds per iteration ((t(KMeans) - t(KMeans, max_iter=1)) / (n_iter - 1)); the
      k-means++ seeding alone (sklearn.cluster.kmeans_plusplus); and the whole default
      GaussianMixture(n_components=K, covariance_type=cov, random_state=0).fit(X)
      (init_params='kmeans', max_iter=100, tol=1e-3), init included.
  --side gaussmix: the whole default gaussmix.GaussianMixture(...).fit(X) from Python
      (the package must be importable by this interpreter), same parameters.
Threads: --threads (threadpoolctl for scikit-learn's BLAS/OpenMP, gaussmix's
set_num_threads for gaussmix). Each time is the best of --repeat runs.
"""
import argparse
import json
import time


def best(f, repeat):
    ts, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = f()
        ts.append(time.perf_counter() - t)
    return min(ts), out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("-k", type=int, required=True)
    ap.add_argument("--covariance", default="full")
    ap.add_argument("--side", choices=("sklearn", "gaussmix"), required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=2)
    a = ap.parse_args()
    import warnings

    import numpy as np

    X = np.load(a.data)
    res = {"N": X.shape[0], "D": X.shape[1], "K": a.k, "cov": a.covariance, "threads": a.threads}
    if a.side == "sklearn":
        from sklearn.cluster import KMeans, kmeans_plusplus
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.mixture import GaussianMixture
        from threadpoolctl import threadpool_limits

        warnings.simplefilter("ignore", ConvergenceWarning)
        with threadpool_limits(a.threads):
            t_pp, _ = best(lambda: kmeans_plusplus(X, a.k, random_state=0), a.repeat)
            t_km, km = best(lambda: KMeans(n_clusters=a.k, n_init=1, random_state=0).fit(X), a.repeat)
            t_km1, _ = best(lambda: KMeans(n_clusters=a.k, n_init=1, random_state=0, max_iter=1).fit(X), a.repeat)
            t_fit, gm = best(lambda: GaussianMixture(n_components=a.k, covariance_type=a.covariance,
                                                    random_state=0).fit(X), a.repeat)
        n = int(km.n_iter_)
        res.update({"kmeans_s": t_km, "lloyd_iterations": n, "kmeans_plusplus_s": t_pp,
                    "lloyd_s_per_iter": (t_km - t_km1) / (n - 1) if n > 1 else float("nan"),
                    "fit_s": t_fit, "fit_n_iter": int(gm.n_iter_), "fit_converged": bool(gm.converged_),
                    "fit_lower_bound": float(gm.lower_bound_)})
    else:
        import gaussmix

        gaussmix.set_num_threads(a.threads)
        t_fit, gm = best(lambda: gaussmix.GaussianMixture(n_components=a.k, covariance_type=a.covariance,
                                                         random_state=0).fit(X), a.repeat)
        res.update({"fit_s": t_fit, "fit_n_iter": int(gm.n_iter_), "fit_converged": bool(gm.converged_),
                    "fit_lower_bound": float(gm.lower_bound_)})
    print("RESULT " + json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
