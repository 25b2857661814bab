#!/usr/bin/env python3
"""Writes data/mot/{gt.txt,hyp.txt,motmetrics.json}: a small MOTChallenge ground truth, a
tracking result with the usual faults, and py-motmetrics' scores of the one against the
other (IoU >= 0.5). crates/gaussmix-video/tests/mot_metrics.rs checks gaussmix's scores
against the JSON.

    python3 -m venv .venv && .venv/bin/pip install motmetrics
    .venv/bin/python scripts/motmetrics_fixture.py

Seeded: the files are the same on every run. py-motmetrics 1.4.0 calls np.asfarray, gone
from NumPy 2; it is defined back here when missing (same meaning: asarray as float).
"""
import json
import os
import random
import sys

import numpy as np

if not hasattr(np, "asfarray"):
    np.asfarray = lambda a, dtype=float: np.asarray(a, dtype=dtype)

import motmetrics as mm  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "mot")
FRAMES = 80


def objects(rng):
    """Ground truth: (id, first, last, x0, y0, vx, vy, w, h)."""
    objs = []
    for oid in range(1, 10):
        first = rng.randint(1, 30)
        last = min(FRAMES, first + rng.randint(15, 60))
        w, h = rng.uniform(12, 40), rng.uniform(12, 40)
        objs.append((oid, first, last, rng.uniform(0, 250), rng.uniform(0, 180),
                     rng.uniform(-3, 3), rng.uniform(-2, 2), w, h))
    return objs


def box(o, f):
    oid, first, last, x0, y0, vx, vy, w, h = o
    t = f - first
    return (x0 + vx * t, y0 + vy * t, w, h)


def main():
    rng = random.Random(20261202)
    objs = objects(rng)
    gt, hyp = [], []
    for o in objs:
        oid, first, last = o[0], o[1], o[2]
        for f in range(first, last + 1):
            gt.append((f, oid) + box(o, f))
    # The result: each object followed by one or more hypothesis ids, boxes jittered (some
    # pairs fall under IoU 0.5), gaps (fragmentations), an id handed from one object to
    # another (a switch), an id split in two, a track that starts late (mostly lost or
    # partially tracked), and false positives.
    next_id = 101
    for o in objs:
        oid, first, last = o[0], o[1], o[2]
        hid = next_id
        next_id += 1
        start = first + (rng.randint(20, 60) if oid % 4 == 0 else rng.randint(0, 4))
        split = rng.randint(first, last) if oid % 3 == 0 else None
        gap = rng.randint(first, last) if oid % 2 == 0 else None
        for f in range(start, last + 1):
            if gap is not None and gap <= f < gap + rng.randint(2, 6):
                continue
            if split is not None and f == split:
                hid = next_id
                next_id += 1
            x, y, w, h = box(o, f)
            s = rng.gauss(0, 0.08)
            jw, jh = w * (1 + s), h * (1 + rng.gauss(0, 0.08))
            jx = x + rng.gauss(0, 0.08) * w
            jy = y + rng.gauss(0, 0.08) * h
            hyp.append([f, hid, jx, jy, max(jw, 1.0), max(jh, 1.0)])
    # Object 1's hypothesis id moves to object 2 for the second half of object 2's life.
    h1 = {r[0]: r for r in hyp if r[1] == 101}
    o2 = objs[1]
    mid = (o2[1] + o2[2]) // 2
    for r in hyp:
        if r[1] == 102 and r[0] >= mid:
            r[1] = 101 if r[0] not in h1 else 150
    for f in range(1, FRAMES + 1):
        if rng.random() < 0.3:
            hyp.append([f, 200 + rng.randint(0, 3), rng.uniform(0, 280), rng.uniform(0, 200),
                        rng.uniform(8, 30), rng.uniform(8, 30)])
    # One id per frame only (a random false positive may repeat an id in a frame).
    seen, uniq = set(), []
    for r in hyp:
        if (r[0], r[1]) not in seen:
            seen.add((r[0], r[1]))
            uniq.append(r)
    hyp = sorted(uniq)
    gt.sort()
    os.makedirs(OUT, exist_ok=True)
    gpath, hpath = os.path.join(OUT, "gt.txt"), os.path.join(OUT, "hyp.txt")
    with open(gpath, "w") as fh:
        for r in gt:
            fh.write("%d,%d,%.3f,%.3f,%.3f,%.3f,1,1,1\n" % r)
    with open(hpath, "w") as fh:
        for r in hyp:
            fh.write("%d,%d,%.3f,%.3f,%.3f,%.3f,1,-1,-1,-1\n" % tuple(r))
    g = mm.io.loadtxt(gpath, fmt="mot15-2D", min_confidence=-1)
    t = mm.io.loadtxt(hpath, fmt="mot15-2D", min_confidence=-1)
    acc = mm.utils.compare_to_groundtruth(g, t, "iou", distth=0.5)
    names = mm.metrics.motchallenge_metrics + [
        "num_objects", "num_predictions", "num_detections", "idtp", "idfp", "idfn",
        "num_frames", "num_unique_objects", "num_matches", "partially_tracked",
    ]
    mh = mm.metrics.create()
    summary = mh.compute(acc, metrics=sorted(set(names)), name="fixture")
    res = {k: float(summary[k].iloc[0]) for k in summary.columns}
    res["motmetrics_version"] = mm.__version__
    with open(os.path.join(OUT, "motmetrics.json"), "w") as fh:
        json.dump(res, fh, indent=1, sort_keys=True)
        fh.write("\n")
    print(mm.io.render_summary(summary, namemap=mm.io.motchallenge_metric_names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
