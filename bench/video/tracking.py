#!/usr/bin/env python3
"""Tracking benchmark: `gaussmix video track` against the pipeline a user would otherwise
assemble (OpenCV MOG2 -> median / open / close -> connected components -> SORT), both
scored by `gaussmix video eval --tracks` (checked against py-motmetrics by
crates/gaussmix-video/tests/mot_metrics.rs) at IoU >= 0.5.

    python3 scripts/gen_tracking_sequences.py target/trackseq --seeds 3
    cargo build --release -p gaussmix-cli
    python3 bench/video/tracking.py target/trackseq [--gaussmix target/release/gaussmix]

Every sequence folder under the argument that holds gt.txt and input/ is scored (or those
of --seeds / --families: tune on some seeds, report the others). Prints
MOTA / IDF1 / IDSW per sequence, then per family (the name before the last `-`) the mean
and the worst, for both trackers, and writes the table as JSON with --json FILE.

SORT is Bewley et al. 2016 (github.com/abewley/sort, sort.py): a constant-velocity Kalman
filter on (centre, area, aspect ratio) with that file's noise settings, Hungarian on IoU
(pairs under 0.3 rejected), max_age 8 (as the issue asks; sort.py's default is 1),
min_hits 3; a track is reported in the frames in which it was matched. Blobs smaller than
64 pixels are dropped on both sides. Needs numpy, scipy and opencv-python.
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

MIN_AREA = 64


# ---- SORT (Bewley et al. 2016) --------------------------------------------------------

def to_z(b):
    """(x0, y0, x1, y1) -> (cx, cy, area, ratio)."""
    w, h = b[2] - b[0], b[3] - b[1]
    return np.array([b[0] + w / 2.0, b[1] + h / 2.0, w * h, w / float(h)])


def to_box(x):
    w = np.sqrt(max(x[2] * x[3], 0.0))
    h = x[2] / w if w > 0 else 0.0
    return np.array([x[0] - w / 2.0, x[1] - h / 2.0, x[0] + w / 2.0, x[1] + h / 2.0])


class KalmanBoxTracker:
    count = 0

    def __init__(self, b):
        self.F = np.eye(7)
        for i in range(3):
            self.F[i, i + 4] = 1.0
        self.H = np.zeros((4, 7))
        self.H[:4, :4] = np.eye(4)
        self.R = np.eye(4)
        self.R[2:, 2:] *= 10.0
        self.P = np.eye(7)
        self.P[4:, 4:] *= 1000.0
        self.P *= 10.0
        self.Q = np.eye(7)
        self.Q[-1, -1] *= 0.01
        self.Q[4:, 4:] *= 0.01
        self.x = np.zeros(7)
        self.x[:4] = to_z(b)
        self.time_since_update = 0
        KalmanBoxTracker.count += 1
        self.id = KalmanBoxTracker.count
        self.hits = 0
        self.hit_streak = 0
        self.age = 0

    def update(self, b):
        self.time_since_update = 0
        self.hits += 1
        self.hit_streak += 1
        z = to_z(b)
        y = z - self.H @ self.x
        S = self.H @ self.P @ self.H.T + self.R
        K = self.P @ self.H.T @ np.linalg.inv(S)
        self.x = self.x + K @ y
        self.P = (np.eye(7) - K @ self.H) @ self.P

    def predict(self):
        if self.x[6] + self.x[2] <= 0:
            self.x[6] = 0.0
        self.x = self.F @ self.x
        self.P = self.F @ self.P @ self.F.T + self.Q
        self.age += 1
        if self.time_since_update > 0:
            self.hit_streak = 0
        self.time_since_update += 1
        return to_box(self.x)


def iou_batch(a, b):
    a = a[:, None]
    b = b[None]
    w = np.maximum(0.0, np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]))
    h = np.maximum(0.0, np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]))
    inter = w * h
    return inter / ((a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
                    + (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1]) - inter)


class Sort:
    def __init__(self, max_age=8, min_hits=3, iou_threshold=0.3):
        self.max_age, self.min_hits, self.iou_threshold = max_age, min_hits, iou_threshold
        self.trackers = []
        self.frame_count = 0

    def update(self, dets):
        self.frame_count += 1
        trks = []
        keep = []
        for t in self.trackers:
            p = t.predict()
            if np.all(np.isfinite(p)):
                trks.append(p)
                keep.append(t)
        self.trackers = keep
        trks = np.array(trks).reshape(-1, 4)
        matched, unmatched = [], list(range(len(dets)))
        if len(dets) and len(trks):
            iou = iou_batch(dets, trks)
            r, c = linear_sum_assignment(-iou)
            unmatched = [d for d in range(len(dets)) if d not in r]
            for d, t in zip(r, c):
                if iou[d, t] < self.iou_threshold:
                    unmatched.append(d)
                else:
                    matched.append((d, t))
        for d, t in matched:
            self.trackers[t].update(dets[d])
        for d in unmatched:
            self.trackers.append(KalmanBoxTracker(dets[d]))
        out = []
        alive = []
        for t in self.trackers:
            if t.time_since_update < 1 and (t.hit_streak >= self.min_hits
                                            or self.frame_count <= self.min_hits):
                out.append((t.id, to_box(t.x)))
            if t.time_since_update <= self.max_age:
                alive.append(t)
        self.trackers = alive
        return out


def mog2_sort(seq, out_path):
    """OpenCV MOG2 (defaults, shadows detected and dropped) -> median 5 -> open 3x3 ->
    close 5x5 -> 8-connected components >= 64 px -> SORT; MOTChallenge rows to out_path."""
    KalmanBoxTracker.count = 0
    mog = cv2.createBackgroundSubtractorMOG2()
    sort = Sort()
    k3 = cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))
    k5 = cv2.getStructuringElement(cv2.MORPH_RECT, (5, 5))
    frames = sorted(glob.glob(os.path.join(seq, "input", "*.jpg")))
    with open(out_path, "w") as fh:
        for i, p in enumerate(frames, 1):
            img = cv2.imread(p)
            m = mog.apply(img)
            m = np.where(m == 255, 255, 0).astype(np.uint8)
            m = cv2.medianBlur(m, 5)
            m = cv2.morphologyEx(m, cv2.MORPH_OPEN, k3)
            m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, k5)
            n, _, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
            dets = []
            for s in stats[1:n]:
                if s[4] >= MIN_AREA:
                    dets.append([s[0], s[1], s[0] + s[2], s[1] + s[3]])
            for tid, b in sort.update(np.array(dets, float).reshape(-1, 4)):
                fh.write("%d,%d,%.2f,%.2f,%.2f,%.2f,1,-1,-1,-1\n"
                         % (i, tid, b[0] + 1, b[1] + 1, b[2] - b[0], b[3] - b[1]))


def gaussmix_track(exe, seq, out_path, extra):
    subprocess.run([exe, "video", "track", seq, "-o", out_path, "--format", "mot",
                    "--overwrite", "-q"] + extra, check=True)


def score(exe, gt, tracks):
    r = subprocess.run([exe, "video", "eval", "--tracks", gt, tracks, "--json"],
                       check=True, capture_output=True, text=True)
    return json.loads(r.stdout)


def brief(m):
    """MOTA / IDF1 / HOTA and the error counts of one scored run."""
    return "MOTA %.3f IDF1 %.3f HOTA %.3f IDSW %3d Frag %3d FP %4d FN %4d" % (
        m["mota"], m["idf1"], m.get("hota", float("nan")), m["num_switches"],
        m["num_fragmentations"], m["num_false_positives"], m["num_misses"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("root")
    ap.add_argument("--gaussmix", default="target/release/gaussmix")
    ap.add_argument("--json", help="write the table to this file")
    ap.add_argument("--gaussmix-args", default="",
                    help="extra `video track` arguments; one that starts with -- needs the "
                    "= form, e.g. --gaussmix-args=--colour-model")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--seeds", help="only these seeds, e.g. 10-29 or 0,3,5-7")
    ap.add_argument("--families", help="only these families, comma-separated")
    ap.add_argument("--baseline-cache", help="folder keeping MOG2+SORT's track files: "
                    "a sequence already there is re-scored, not re-run")
    ap.add_argument("--keep", help="folder to keep gaussmix's track files in")
    a = ap.parse_args()
    seeds = None
    if a.seeds:
        seeds = set()
        for part in a.seeds.split(","):
            lo, _, hi = part.partition("-")
            seeds.update(range(int(lo), int(hi or lo) + 1))
    fams_only = set(a.families.split(",")) if a.families else None

    def wanted(d):
        fam, _, seed = os.path.basename(d).rpartition("-")
        return ((seeds is None or (seed.isdigit() and int(seed) in seeds))
                and (fams_only is None or fam in fams_only))

    seqs = sorted((d for d in glob.glob(os.path.join(a.root, "*"))
                   if os.path.isfile(os.path.join(d, "gt.txt")) and wanted(d)),
                  key=lambda d: (os.path.basename(d).rpartition("-")[0],
                                 int(os.path.basename(d).rpartition("-")[2] or 0)))
    for d in (a.baseline_cache, a.keep):
        if d:
            os.makedirs(d, exist_ok=True)
    if not seqs:
        sys.exit("no sequences with gt.txt under %s" % a.root)
    table = []
    with tempfile.TemporaryDirectory() as tmp:
        for seq in seqs:
            name = os.path.basename(seq)
            gt = os.path.join(seq, "gt.txt")
            row = {"sequence": name}
            g = os.path.join(a.keep or tmp, name + "-gaussmix.txt")
            gaussmix_track(a.gaussmix, seq, g, a.gaussmix_args.split())
            row["gaussmix"] = score(a.gaussmix, gt, g)
            if not a.no_baseline:
                m = os.path.join(a.baseline_cache or tmp, name + "-mog2sort.txt")
                if not (a.baseline_cache and os.path.isfile(m)):
                    mog2_sort(seq, m + ".part")
                    os.replace(m + ".part", m)
                row["mog2_sort"] = score(a.gaussmix, gt, m)
            table.append(row)
            line = "%-14s gaussmix %s" % (name, brief(row["gaussmix"]))
            if "mog2_sort" in row:
                line += "   MOG2+SORT %s" % brief(row["mog2_sort"])
            print(line, flush=True)
    fams = sorted({r["sequence"].rsplit("-", 1)[0] for r in table})
    print("\n| family | n | gaussmix MOTA mean / worst | IDF1 mean / worst | HOTA mean / worst "
          "| MOG2+SORT MOTA mean / worst | IDF1 mean / worst | HOTA mean / worst |")
    print("|---|---|---|---|---|---|---|---|")
    summary = {}
    for fam in fams + ["all"]:
        rows = [r for r in table if fam == "all" or r["sequence"].rsplit("-", 1)[0] == fam]
        cells = {}
        for who in ("gaussmix", "mog2_sort"):
            if who not in rows[0]:
                continue
            cells[who] = {}
            for k in ("mota", "idf1", "hota"):
                v = [r[who].get(k, float("nan")) for r in rows]
                cells[who][k + "_mean"] = float(np.mean(v))
                cells[who][k + "_worst"] = float(min(v))
        summary[fam] = cells
        fmt = lambda c: " | ".join("%.3f / %.3f" % (c[k + "_mean"], c[k + "_worst"])
                                   for k in ("mota", "idf1", "hota"))
        print("| %s | %d | %s | %s |" % (fam, len(rows), fmt(cells["gaussmix"]),
                                         fmt(cells["mog2_sort"]) if "mog2_sort" in cells
                                         else "- | - | -"))
    if a.json:
        with open(a.json, "w") as fh:
            json.dump({"sequences": table, "summary": summary}, fh, indent=1)


if __name__ == "__main__":
    main()
