#!/usr/bin/env python3
"""Fit-time ratios against scikit-learn from Python, and the cost of the Spark and Dask fits
against the in-process one, on a reference problem (default P2: N=1M, D=16, K=16, full).

    python3 /work/shared/bench/gen_data.py --out target/bench-data --only P2
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE RAYON_NUM_THREADS=2 \
        target/pyvenv/bin/python bindings/python/bench/bench_p2.py --data target/bench-data

Every fit starts from the same given weights/means/precisions (no k-means, no random state)
with tol=0, so both libraries run exactly the iterations asked for. The time per EM
iteration is (t(max_iter=21) - t(max_iter=1)) / 20: set-up, validation and scikit-learn's
final E-step cancel. The Spark fits (local[--threads], 2x--threads partitions) run in
both modes, "barrier" (one job per fit, the default) and "jobs" (one job per iteration),
right after the in-process fit is timed again (gaussmix_s_per_iter_beside_spark, the
base of their ratios); the load average is recorded beside them. Threads: scikit-learn's BLAS limited to --threads by threadpoolctl,
gaussmix's rayon pool by RAYON_NUM_THREADS (set it to the same number).
"""

import argparse
import json
import os
import sys
import time
import warnings


def per_iter(fit, n=20):
    t = time.perf_counter()
    fit(1)
    t1 = time.perf_counter() - t
    t = time.perf_counter()
    fit(n + 1)
    tn = time.perf_counter() - t
    return (tn - t1) / n, t1, tn


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="target/bench-data")
    ap.add_argument("--problem", default="P2")
    ap.add_argument("--k", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip", default="", help="comma list of: sklearn,spark,spark-arrow,dask")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))

    import numpy as np
    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits

    import gaussmix

    warnings.simplefilter("ignore", ConvergenceWarning)
    threadpool_limits(args.threads)
    x = np.load(os.path.join(args.data, f"{args.problem}_X.npy"))
    n, d = x.shape
    k = args.k
    # initial parameters: k-means++-like rows and the global covariance (same for everybody)
    rng = np.random.default_rng(0)
    means = x[rng.choice(n, k, replace=False)]
    prec = np.linalg.inv(np.cov(x[:200_000].T))
    prec = 0.5 * (prec + prec.T)
    init = dict(weights_init=np.full(k, 1.0 / k), means_init=means,
                precisions_init=np.stack([prec] * k))
    res = {"problem": args.problem, "n": n, "d": d, "k": k, "threads": args.threads,
           "loadavg_start": os.getloadavg(),
           "RAYON_NUM_THREADS": os.environ.get("RAYON_NUM_THREADS")}

    def gm(max_iter):
        return gaussmix.GaussianMixture(k, covariance_type="full", tol=0, max_iter=max_iter, **init).fit(x)

    res["gaussmix_s_per_iter"], _, _ = per_iter(gm)
    x32 = x.astype(np.float32)
    res["gaussmix_f32_s_per_iter"], _, _ = per_iter(
        lambda m: gaussmix.GaussianMixture(k, tol=0, max_iter=m, **init).fit(x32))
    print(json.dumps(res), flush=True)
    if "sklearn" not in skip:
        from sklearn.mixture import GaussianMixture as Sk

        res["sklearn_s_per_iter"], _, _ = per_iter(
            lambda m: Sk(k, covariance_type="full", tol=0, max_iter=m, **init).fit(x))
        res["sklearn_over_gaussmix"] = res["sklearn_s_per_iter"] / res["gaussmix_s_per_iter"]
        print(json.dumps(res), flush=True)

    if "dask" not in skip:
        import dask.array as da
        from dask.distributed import Client, LocalCluster

        with LocalCluster(n_workers=args.threads, threads_per_worker=1, processes=True,
                          host="127.0.0.1", dashboard_address="127.0.0.1:0") as cl, Client(cl):
            xd = da.from_array(x, chunks=(n // (2 * args.threads), d)).persist()
            t = time.perf_counter()
            gaussmix.dask.fit(xd, k, tol=0, max_iter=1, **init)
            res["dask_first_fit_s"] = time.perf_counter() - t
            res["dask_s_per_iter"], _, _ = per_iter(
                lambda m: gaussmix.dask.fit(xd, k, tol=0, max_iter=m, **init))
            res["dask_over_inprocess"] = res["dask_s_per_iter"] / res["gaussmix_s_per_iter"]
        print(json.dumps(res), flush=True)

    if "spark" not in skip:
        import pyarrow as pa
        import pyarrow.parquet as pq
        from pyspark.sql import SparkSession

        os.environ["PYSPARK_PYTHON"] = sys.executable
        path = os.path.join(args.data, f"{args.problem}.parquet")
        if not os.path.exists(path):
            pq.write_table(pa.table({f"f{i}": x[:, i] for i in range(d)}), path)
        spark = (SparkSession.builder.master(f"local[{args.threads}]")
                 .config("spark.ui.enabled", "false")
                 .config("spark.driver.host", "127.0.0.1")
                 .config("spark.driver.bindAddress", "127.0.0.1")
                 .config("spark.driver.memory", "4g")
                 .getOrCreate())
        spark.sparkContext.setLogLevel("ERROR")
        df = spark.read.parquet(path).repartition(2 * args.threads).cache()
        df.count()
        cols = [f"f{i}" for i in range(d)]
        # the in-process fit again, right before the Spark fits (same load), for the ratios
        res["gaussmix_s_per_iter_beside_spark"], _, _ = per_iter(gm)
        base = res["gaussmix_s_per_iter_beside_spark"]
        res["loadavg_before_spark"] = os.getloadavg()
        for mode in ("barrier", "jobs"):
            t = time.perf_counter()
            gaussmix.spark.fit(df, cols, k, tol=0, max_iter=1, mode=mode, **init)
            res[f"spark_{mode}_first_fit_s"] = time.perf_counter() - t
            res[f"spark_{mode}_s_per_iter"], _, _ = per_iter(
                lambda m: gaussmix.spark.fit(df, cols, k, tol=0, max_iter=m, mode=mode, **init))
            res[f"spark_{mode}_over_inprocess"] = res[f"spark_{mode}_s_per_iter"] / base
            print(json.dumps(res), flush=True)
        # the default mode ("auto": barrier here)
        res["spark_s_per_iter"] = res["spark_barrier_s_per_iter"]
        res["spark_over_inprocess"] = res["spark_barrier_over_inprocess"]
        if "spark-arrow" not in skip:
            # jobs through the cached DataFrame (Arrow every pass), as before the worker cache
            res["spark_arrow_s_per_iter"], _, _ = per_iter(
                lambda m: gaussmix.spark.fit(df, cols, k, tol=0, max_iter=m, mode="jobs",
                                             worker_cache=False, **init))
            res["spark_arrow_over_inprocess"] = res["spark_arrow_s_per_iter"] / base
        res["loadavg_after_spark"] = os.getloadavg()
        # a job that does nothing: the floor of one Spark pass on this master
        sc = spark.sparkContext
        t = time.perf_counter()
        for _ in range(10):
            sc.parallelize(range(2 * args.threads), 2 * args.threads).mapPartitions(lambda it: [0]).collect()
        res["spark_empty_job_s"] = (time.perf_counter() - t) / 10
        spark.stop()
        print(json.dumps(res), flush=True)

    if args.out:
        with open(args.out, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
