#!/usr/bin/env python3
"""End-to-end EM benchmark: gaussmix against scikit-learn on the reference problems.

Generates the problems of ../shared/bench/gen_data.py (once, into target/bench-data),
measures the machine's dgemm peak (../shared/bench/machine_bench.py), then for each
problem runs scikit-learn (../shared/bench/sklearn_bench.py) and `gaussmix bench-em`
back to back with the same thread count, and prints per-iteration seconds, the ratio,
achieved GFLOP/s against the dgemm peak measured in the same run, init and
predict/score times, and peak RSS; then, right after each f64 run, the same problem
converted once to float32 (`bench-em --dtype f32`: float32 lanes for the full / tied
E-step and Gram products), whose per-iteration time goes in the f32 column with its
speed-up over the f64 run. Results go to target/bench/em-*.json and a Markdown table to
target/bench/em-report.md.

Usage: python3 bench/run_em.py [--problems P1,P2,P3,P4] [--threads 2] [--skip-sklearn] [--skip-f32]
Needs: pip install -r bench/requirements.txt
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "bench")
OUT = os.path.join(ROOT, "target", "bench")
DATA = os.path.join(ROOT, "target", "bench-data")
PROBLEMS = {"P1": (3, "full"), "P2": (16, "full"), "P3": (32, "full"), "P4": (8, "diag")}


def clean_env():
    # numpy's BLAS runs slower with the OpenBLAS core-type override; unset it for the
    # peers' timings only (never in tests)
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("OPENBLAS_L2_SIZE", None)
    env["GAUSSMIX_BENCH_DATA"] = DATA
    return env


def run(cmd, **kw):
    print("+", " ".join(cmd), flush=True)
    return subprocess.run(cmd, check=True, **kw)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--problems", default="P1,P2,P3,P4")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-sklearn", action="store_true")
    ap.add_argument("--skip-f32", action="store_true", help="no float32 run")
    args = ap.parse_args()
    problems = args.problems.split(",")
    os.makedirs(OUT, exist_ok=True)
    os.makedirs(DATA, exist_ok=True)
    env = clean_env()

    missing = [p for p in problems if not os.path.exists(os.path.join(DATA, f"{p}_X.npy"))]
    if missing:
        run([sys.executable, os.path.join(SHARED, "gen_data.py"), "--out", DATA, "--only", ",".join(missing)], env=env)
    machine_json = os.path.join(OUT, "machine.json")
    run([sys.executable, os.path.join(SHARED, "machine_bench.py"), "--out", machine_json], env=env)
    machine = json.load(open(machine_json))
    run(["cargo", "build", "--release", "-q", "-p", "gaussmix-cli"], cwd=ROOT)
    exe = os.path.join(ROOT, "target", "release", "gaussmix")

    load_start = os.getloadavg()[0]
    rows = []
    for p in problems:
        k, cov = PROBLEMS[p]
        sk = None
        if not args.skip_sklearn:
            sk_json = os.path.join(OUT, f"em-{p}-sklearn.json")
            run([sys.executable, os.path.join(SHARED, "sklearn_bench.py"), "--cases", f"{p}:{cov}",
                 "--threads", str(args.threads), "--out", sk_json], env=env)
            sk = json.load(open(sk_json))["cases"][0]
            if "error" in sk:
                print(f"scikit-learn failed on {p}: {sk['error'][-500:]}")
                sk = None
        def bench(dtype):
            out = subprocess.run([exe, "bench-em", os.path.join(DATA, f"{p}_X.npy"), "-k", str(k), "--covariance", cov,
                                  "--threads", str(args.threads), "--dtype", dtype],
                                 check=True, capture_output=True, text=True, env=env)
            return json.loads(out.stdout.strip().splitlines()[-1])
        gm = bench("f64")
        json.dump(gm, open(os.path.join(OUT, f"em-{p}-gaussmix.json"), "w"), indent=1)
        g32 = None
        if not args.skip_f32:
            g32 = bench("f32")
            json.dump(g32, open(os.path.join(OUT, f"em-{p}-gaussmix-f32.json"), "w"), indent=1)
        rows.append((p, cov, sk, gm, g32))

    peak = find_peak(machine, args.threads)
    lines = [f"Machine: {machine_desc(machine)}; dgemm peak {peak:.0f} GFLOP/s on {args.threads} threads "
             f"(measured in this run); load average {load_start:.2f} at the start, {os.getloadavg()[0]:.2f} at the end; "
             f"{time.strftime('%Y-%m-%d')}", "",
             "| problem | sklearn s/iter | gaussmix s/iter | ratio | GFLOP/s (2NKD(D+1)) | % of dgemm peak | init s (sk / gm) "
             "| predict_proba s (sk / gm) | score_samples s (sk / gm) | peak RSS MiB (sk / gm) | X MiB "
             "| gaussmix f32 s/iter (× f64) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for p, cov, sk, gm, g32 in rows:
        g_it = gm["iter_time_s"]
        s_it = sk["iter_time_s_instrumented"] if sk else float("nan")
        gf = gm["gflops_2NKD(D+1)"]
        lines.append(
            f"| {p} ({cov}, N={gm['N']}, D={gm['D']}, K={gm['K']}) | {s_it:.4f} | {g_it:.4f} | {s_it / g_it:.1f}× | "
            f"{gf:.1f} | {100 * gf / peak:.0f} % | {fmt(sk, 'init_time_s')} / {gm['init_time_s']:.3f} | "
            f"{fmt(sk, 'predict_proba_s')} / {gm['predict_proba_s']:.3f} | {fmt(sk, 'score_samples_s')} / {gm['score_samples_s']:.3f} | "
            f"{fmt(sk, 'peak_rss_MiB', 0)} / {gm['peak_rss_MiB']:.0f} | {gm['X_MiB']:.0f} | "
            + (f"{g32['iter_time_s']:.4f} ({g_it / g32['iter_time_s']:.2f}×) |" if g32 else "– |"))
    report = "\n".join(lines)
    print()
    print(report)
    open(os.path.join(OUT, "em-report.md"), "w").write(report + "\n")


def fmt(d, key, digits=3):
    return f"{d[key]:.{digits}f}" if d and key in d else "–"


def find_peak(machine, threads):
    """dgemm GFLOP/s for the thread count: machine_bench.py measures 1 thread and the
    default (all cores)."""
    key = "matmul_4096_1_thread" if threads == 1 else "matmul_4096_default_threads"
    return machine[key]["best_gflops"]


def machine_desc(m):
    blas = m.get("blas") or [{}]
    return f"{os.cpu_count()} cores, numpy {m.get('numpy')} with {blas[0].get('internal_api')} {blas[0].get('version')} ({blas[0].get('architecture')})"


if __name__ == "__main__":
    main()
