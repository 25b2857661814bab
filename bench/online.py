#!/usr/bin/env python3
"""Online EM on P2 (1M x 16, K = 16 full): the three targets of issue 15.

    python3 bench/online.py [--seeds 0,1,2,3] [--threads 2] [--batch-size 10000] [--passes 3]
                            [--init-starts 1,5]

For every seed, back to back with the same thread count:

1. accuracy: `gaussmix fit -k 16 --seed S` (batch EM, the CLI's defaults) against
   `gaussmix fit -k 16 --seed S --online --batch-size 10000 --passes 3`, both scored by
   `gaussmix score --mean` on all rows (target: online within 1e-2 of batch, or above);
   once per value of --init-starts (the first batch's fewest starts; the library's
   default is 5, 1 was the behaviour before);
2. cost: one pass = (time of 3 passes - time of 1 pass) / 2, so reading the file's
   header and initialising on the first batch cancel out, against one batch EM iteration
   (`gaussmix bench-em --iters 5`, the per-iteration time); the first pass with its
   initialisation is printed beside it (target: one pass <= 1.5x one iteration);
3. memory: peak RSS of the online fit on all of P2 and on its first 100,000 rows (the same
   when memory is bounded by the batch, not the data), against the data's size and the
   batch fit's peak.

Data: target/bench-data/P2_X.npy (made by ../shared/bench/gen_data.py when missing).
Prints a Markdown report; mean and worst over the seeds.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "bench")
DATA = os.path.join(ROOT, "target", "bench-data")


def timed(cmd):
    """Runs cmd; returns (wall seconds, stdout)."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = p.communicate()
    wall = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({p.returncode}): {err[-2000:]}")
    return wall, out


def peak_rss(cmd):
    """Peak RSS (MiB) of one run of cmd, from wait4's rusage of that child alone."""
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    if status != 0:
        sys.exit(f"{' '.join(cmd)} failed ({status})")
    return ru.ru_maxrss / 1024.0


def score(exe, model, x, threads):
    out = subprocess.run([exe, "score", model, x, "--mean", "--threads", str(threads)],
                         check=True, capture_output=True, text=True).stdout
    return float(out.strip())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="0,1,2,3")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=10_000)
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--init-starts", default="1,5")
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "gaussmix"))
    a = ap.parse_args()
    seeds = [int(s) for s in a.seeds.split(",")]
    starts = [int(s) for s in a.init_starts.split(",")]
    exe, th = a.bin, str(a.threads)
    x = os.path.join(DATA, "P2_X.npy")
    if not os.path.exists(x):
        os.makedirs(DATA, exist_ok=True)
        subprocess.run([sys.executable, os.path.join(SHARED, "gen_data.py"), "--out", DATA, "--only", "P2"],
                       check=True)
    load = os.getloadavg()
    lines = [f"P2 (1M x 16, K = 16 full), batches of {a.batch_size}, {a.passes} passes, {a.threads} threads; "
             f"load average at start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {time.strftime('%Y-%m-%d %H:%M')}", ""]

    with tempfile.TemporaryDirectory() as tmp:
        # 1. accuracy
        online = lambda s, st, passes, out: [exe, "fit", x, "-k", "16", "--seed", str(s), "--online",
                                            "--batch-size", str(a.batch_size), "--passes", str(passes),
                                            "--init-starts", str(st), "--threads", th, "-q", "-o", out]
        head = "| seed | batch EM | " + " | ".join(f"online, {st} start{'s' if st > 1 else ''} (diff)" for st in starts) + " |"
        lines += [head, "|---" * (2 + len(starts)) + "|"]
        diffs = {st: [] for st in starts}
        lls = {st: [] for st in starts}
        batch_lls = []
        pass_times, first_times = [], []
        for s in seeds:
            bm = os.path.join(tmp, f"b{s}.json")
            subprocess.run([exe, "fit", x, "-k", "16", "--seed", str(s), "--threads", th, "-q", "-o", bm], check=True)
            lb = score(exe, bm, x, a.threads)
            batch_lls.append(lb)
            row = f"| {s} | {lb:.5f} |"
            for st in starts:
                om = os.path.join(tmp, f"o{s}_{st}.json")
                t3, _ = timed(online(s, st, a.passes, om))
                lo = score(exe, om, x, a.threads)
                diffs[st].append(lo - lb)
                lls[st].append(lo)
                row += f" {lo:.5f} ({lo - lb:+.4f}) |"
                if st == starts[-1]:
                    t1, _ = timed(online(s, st, 1, os.path.join(tmp, "one.json")))
                    pass_times.append((t3 - t1) / (a.passes - 1) if a.passes > 1 else float("nan"))
                    first_times.append(t1)
            lines.append(row)
        mean = lambda v: sum(v) / len(v)
        lines.append(f"| mean | {mean(batch_lls):.5f} |" + "".join(
            f" {mean(lls[st]):.5f} ({mean(diffs[st]):+.4f}) |" for st in starts))
        lines.append(f"| worst | {min(batch_lls):.5f} |" + "".join(
            f" {min(lls[st]):.5f} ({min(diffs[st]):+.4f}) |" for st in starts))
        for st in starts:
            ok = sum(d >= -1e-2 for d in diffs[st])
            lines.append(f"\nonline with {st} start(s): within 1e-2 of (or above) the batch fit on {ok} of {len(seeds)} seeds")

        # 2. cost
        out = subprocess.run([exe, "bench-em", x, "-k", "16", "--iters", "5", "--threads", th],
                             check=True, capture_output=True, text=True).stdout
        it = json.loads(out.strip().splitlines()[-1])["iter_time_s"]
        lines += ["", f"one batch EM iteration (bench-em --iters 5): {it:.3f} s",
                  f"one online pass (3 passes - 1 pass)/2, {starts[-1]} starts: mean {mean(pass_times):.3f} s "
                  f"({mean(pass_times) / it:.2f}x an iteration), worst {max(pass_times):.3f} s "
                  f"({max(pass_times) / it:.2f}x)",
                  f"first pass with reading and initialisation: mean {mean(first_times):.3f} s "
                  f"({mean(first_times) / it:.2f}x), worst {max(first_times):.3f} s ({max(first_times) / it:.2f}x)"]

        # 3. memory
        import numpy as np
        small = os.path.join(tmp, "p2_100k.npy")
        np.save(small, np.load(x, mmap_mode="r")[:100_000])
        r_all = peak_rss(online(0, starts[-1], a.passes, os.path.join(tmp, "m.json")))
        r_small = peak_rss([c if c != x else small for c in online(0, starts[-1], a.passes, os.path.join(tmp, "m.json"))])
        r_batch = peak_rss([exe, "fit", x, "-k", "16", "--threads", th, "-q", "-o", os.path.join(tmp, "m.json")])
        mib = os.path.getsize(x) / 2**20
        lines += ["", f"peak RSS: online on all 1M rows {r_all:.0f} MiB, on the first 100k rows {r_small:.0f} MiB "
                  f"(data {mib:.0f} MiB, one batch {a.batch_size * 16 * 8 / 2**20:.1f} MiB); batch fit {r_batch:.0f} MiB"]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
