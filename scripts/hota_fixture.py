#!/usr/bin/env python3
"""Writes data/mot/hota.json: TrackEval's HOTA (Luiten et al. 2020) of data/mot/hyp.txt
against data/mot/gt.txt (the files scripts/motmetrics_fixture.py writes), per localisation
threshold and averaged. crates/gaussmix-video/tests/mot_metrics.rs checks gaussmix's HOTA
against it.

    .venv/bin/pip install trackeval==1.3.0
    .venv/bin/python scripts/hota_fixture.py

TrackEval's own HOTA code (trackeval.metrics.HOTA.eval_sequence) is run on the sequence as
its MOTChallenge loader would hand it over: every row counts (no distractor classes, no
zero-marked rows in these files), ids renumbered from 0 per side, similarity the IoU of the
(x, y, w, h) boxes from TrackEval's own _calculate_box_ious.
"""
import json
import os
import sys

import numpy as np
import trackeval
from trackeval.datasets._base_dataset import _BaseDataset
from trackeval.metrics import HOTA

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "mot")


def load(path):
    rows = np.loadtxt(path, delimiter=",", ndmin=2)
    return rows[:, :6]


def sequence(gt, hyp):
    frames = sorted(set(gt[:, 0].astype(int)) | set(hyp[:, 0].astype(int)))
    gid = {v: k for k, v in enumerate(sorted(set(gt[:, 1].astype(int))))}
    hid = {v: k for k, v in enumerate(sorted(set(hyp[:, 1].astype(int))))}
    data = {"gt_ids": [], "tracker_ids": [], "similarity_scores": [],
            "num_gt_ids": len(gid), "num_tracker_ids": len(hid),
            "num_gt_dets": len(gt), "num_tracker_dets": len(hyp), "num_timesteps": len(frames)}
    for f in frames:
        g = gt[gt[:, 0] == f]
        h = hyp[hyp[:, 0] == f]
        data["gt_ids"].append(np.array([gid[int(i)] for i in g[:, 1]], dtype=int))
        data["tracker_ids"].append(np.array([hid[int(i)] for i in h[:, 1]], dtype=int))
        data["similarity_scores"].append(
            _BaseDataset._calculate_box_ious(g[:, 2:6], h[:, 2:6], box_format="xywh"))
    return data


def main():
    gt = load(os.path.join(HERE, "gt.txt"))
    hyp = load(os.path.join(HERE, "hyp.txt"))
    res = HOTA().eval_sequence(sequence(gt, hyp))
    out = {"trackeval_version": getattr(trackeval, "__version__", "1.3.0")}
    for k in ("HOTA", "DetA", "AssA", "LocA", "DetRe", "DetPr", "AssRe", "AssPr"):
        out[k] = float(np.mean(res[k]))
        out[k + "_alpha"] = [float(v) for v in res[k]]
    out["HOTA_TP_alpha"] = [int(v) for v in res["HOTA_TP"]]
    with open(os.path.join(HERE, "hota.json"), "w") as fh:
        json.dump(out, fh, indent=1, sort_keys=True)
        fh.write("\n")
    print("HOTA %.4f DetA %.4f AssA %.4f LocA %.4f"
          % (out["HOTA"], out["DetA"], out["AssA"], out["LocA"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
