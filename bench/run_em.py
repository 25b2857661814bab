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

A second table (target/bench/init-report.md, init-*.json) times the fit's default
initialisation and whole default fits, on P1-P4 and on unclustered data (U: 1M uniform
rows in [0, 1)^16, K = 16, full; written once by this script with a seeded generator):
scikit-learn's KMeans(n_init=1) as GaussianMixture runs it (seconds, Lloyd iterations, per
iteration) against `gaussmix bench-em --init kmeans` (k-means++ and Lloyd, and one EM
iteration for scale); then the whole default fit (k-means init, max_iter=100, tol=1e-3,
seed 0) from scikit-learn, from the CLI (`gaussmix fit`: the fit's own seconds as it
reports them, and the process's wall time, reading the file included) and from Python
(gaussmix.GaussianMixture, when --python names an interpreter that imports gaussmix).

Problems L128, L256, L512 (large D: N = 100k, K = 8, full) are generated and run by
bench/large_d.py, which gets the dgemm peak of this run; they are not in the default set
(scikit-learn needs minutes there): --problems P1,P2,P3,P4,L128,L256,L512.

Usage: python3 bench/run_em.py [--problems P1,P2,P3,P4] [--init-problems P1,P2,P3,P4,U]
       [--threads 2] [--skip-sklearn] [--skip-f32] [--python PY]
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
PROBLEMS = {"P1": (3, "full"), "P2": (16, "full"), "P3": (32, "full"), "P4": (8, "diag"), "U": (16, "full")}


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
    ap.add_argument("--init-problems", default="P1,P2,P3,P4,U",
                    help="problems of the init / whole-fit table ('' for none)")
    ap.add_argument("--python", default=sys.executable,
                    help="interpreter that imports gaussmix, for the Python whole fits")
    ap.add_argument("--skip-f32", action="store_true", help="no float32 run")
    args = ap.parse_args()
    problems = [p for p in args.problems.split(",") if not p.startswith("L")]
    large_d = [p[1:] for p in args.problems.split(",") if p.startswith("L")]
    os.makedirs(OUT, exist_ok=True)
    os.makedirs(DATA, exist_ok=True)
    env = clean_env()

    init_problems = [p for p in args.init_problems.split(",") if p]
    if "U" in problems + init_problems and not os.path.exists(os.path.join(DATA, "U_X.npy")):
        write_unclustered(os.path.join(DATA, "U_X.npy"))
    missing = [p for p in problems + init_problems
               if p != "U" and not os.path.exists(os.path.join(DATA, f"{p}_X.npy"))]
    missing = sorted(set(missing))
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
        if not args.skip_sklearn and p != "U":
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
    if large_d:
        out = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "large_d.py"), "--exe", exe,
                              "--peak", str(peak), "--dims", ",".join(large_d), "--threads", str(args.threads)]
                             + (["--skip-sklearn"] if args.skip_sklearn else []),
                             check=True, capture_output=True, text=True, env=env)
        report += "\n\n" + out.stdout.strip()
    print()
    print(report)
    open(os.path.join(OUT, "em-report.md"), "w").write(report + "\n")
    if init_problems:
        init_report(init_problems, args, exe, env)


def write_unclustered(path):
    """U: 1M rows uniform in [0, 1)^16 (numpy's PCG64, seed 1005): no clusters at all, so
    Lloyd runs long (scikit-learn: 177 iterations)."""
    import numpy as np
    np.save(path, np.random.Generator(np.random.PCG64(1005)).uniform(size=(1_000_000, 16)))


def child_json(cmd, env):
    print("+", " ".join(cmd), flush=True)
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    line = [l for l in out.stdout.splitlines() if l.startswith("RESULT ")]
    if out.returncode != 0 or not line:
        print(f"failed (rc={out.returncode}): {out.stderr[-1500:]}", flush=True)
        return None
    return json.loads(line[0][len("RESULT "):])


def cli_fit(exe, data, k, cov, threads, env, repeat=2):
    """The whole default fit from the CLI: the seconds `gaussmix fit` reports (the fit,
    init included, without reading the file) and the process's wall time (best of
    `repeat`)."""
    import re
    best_fit, best_wall, line = float("inf"), float("inf"), ""
    for _ in range(repeat):
        cmd = [exe, "fit", data, "-k", str(k), "--covariance", cov, "--threads", str(threads),
               "-o", os.path.join(OUT, "init-fit-model.json")]
        t = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
        wall = time.perf_counter() - t
        line = [l for l in out.stderr.splitlines() if l.startswith("fitted")][-1]
        m = re.search(r" in ([0-9.]+)s: .* after (\d+) iterations, lower bound (-?[0-9.]+)", line)
        best_fit, best_wall = min(best_fit, float(m.group(1))), min(best_wall, wall)
    return {"fit_s": best_fit, "wall_s": best_wall, "fit_n_iter": int(m.group(2)),
            "fit_lower_bound": float(m.group(3)), "line": line}


def init_report(problems, args, exe, env):
    here = os.path.join(ROOT, "bench", "init_fits.py")
    load = os.getloadavg()
    rows = []
    for p in problems:
        k, cov = PROBLEMS[p]
        data = os.path.join(DATA, f"{p}_X.npy")
        common = ["--data", data, "-k", str(k), "--covariance", cov, "--threads", str(args.threads)]
        sk = None if args.skip_sklearn else child_json([sys.executable, here, "--side", "sklearn"] + common, env)
        out = subprocess.run([exe, "bench-em", data, "-k", str(k), "--covariance", cov, "--init", "kmeans",
                              "--iters", "3", "--threads", str(args.threads)],
                             check=True, capture_output=True, text=True, env=env)
        gm = json.loads(out.stdout.strip().splitlines()[-1])
        cli = cli_fit(exe, data, k, cov, args.threads, env)
        py = child_json([args.python, here, "--side", "gaussmix"] + common, env)
        r = {"problem": p, "sklearn": sk, "gaussmix_bench_em": gm, "gaussmix_cli_fit": cli, "gaussmix_python_fit": py}
        json.dump(r, open(os.path.join(OUT, f"init-{p}.json"), "w"), indent=1)
        rows.append(r)
    lines = [f"k-means init and whole default fits, {args.threads} threads; load average before "
             f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}, after "
             + " / ".join(f"{v:.2f}" for v in os.getloadavg()) + f"; {time.strftime('%Y-%m-%d %H:%M')}", "",
             "| problem | sklearn KMeans s (Lloyd iters, s/iter) | gaussmix k-means init s | ratio "
             "| gaussmix EM iter s | init / EM iter | sklearn fit s (iters) | CLI fit s (wall s, iters) | ratio "
             "| Python fit s (iters) | ratio |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        sk, gm, cli, py = r["sklearn"], r["gaussmix_bench_em"], r["gaussmix_cli_fit"], r["gaussmix_python_fit"]
        init, it = gm["init_time_s"], gm["iter_time_s"]
        km = f"{sk['kmeans_s']:.3f} ({sk['lloyd_iterations']}, {sk['lloyd_s_per_iter']:.4f})" if sk else "–"
        ratio = lambda a, b: f"{a / b:.1f}×" if a and b else "–"
        lines.append(
            f"| {r['problem']} ({gm['cov']}, N={gm['N']}, D={gm['D']}, K={gm['K']}) | {km} | {init:.3f} | "
            f"{ratio(sk and sk['kmeans_s'], init)} | {it:.4f} | {init / it:.1f} | "
            + (f"{sk['fit_s']:.3f} ({sk['fit_n_iter']})" if sk else "–")
            + f" | {cli['fit_s']:.2f} ({cli['wall_s']:.2f}, {cli['fit_n_iter']}) | {ratio(sk and sk['fit_s'], cli['fit_s'])} | "
            + (f"{py['fit_s']:.3f} ({py['fit_n_iter']}) | {ratio(sk and sk['fit_s'], py['fit_s'])} |" if py else "– | – |"))
    report = "\n".join(lines)
    print()
    print(report)
    open(os.path.join(OUT, "init-report.md"), "w").write(report + "\n")


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
