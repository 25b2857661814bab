#!/usr/bin/env python3
"""Background subtraction over a suite of scenes, back to back: gaussmix `video subtract`,
OpenCV MOG2 and (when `pybgs` is installed) BGSLibrary's SuBSENSE and PAWCS.

Every method is scored the same way, with CDnet 2014's rules (as `gaussmix video eval`
does): TP/FP/FN/TN summed over the frames of temporalROI.txt, pixels where ROI.bmp != 0
and ground truth not in {85, 170}; 255 positive, 0 and 50 negative; a prediction is
positive only at 255. Printed: F per scene and method, the mean and the worst scene, and
frames/s, and for a suite of NAME_s1 / NAME_s2 scenes the mean and worst of the tuning half
(seed 1) and the held-out half (seed 2) apart (gaussmix: the whole `subtract` run, decode + model + clean-up + PNG writing;
the peers: `apply` alone on decoded frames, one thread).

usage (from the workspace root):
  python3 scripts/gen_bgs_real_scenes.py --highway ../shared/data/video/highway  # -> target/bgs_real
  cargo build --release -p gaussmix-cli
  python3 bench/video/scenes.py [--scenes target/bgs_real] [--highway ../shared/data/video/highway]
        [--config NAME='--video-subtract-args' ...] [--peers mog2,subsense,pawcs] [--only a,b]
        [--json FILE] [--peer-cache FILE]
--peer-cache FILE keeps the peers' F and frames/s per scene, keyed by the peer, the OpenCV
and pybgs versions and a SHA-1 of the scene's input frames and ground truth, so a rerun
after a gaussmix change scores only gaussmix (a changed scene is rerun). frames/s read
from the cache are from the run that filled it.
--config may be repeated to compare gaussmix settings in one run (default: one config,
"gaussmix", with the CLI's defaults). Masks go to a temporary folder, deleted afterwards.
Run with `env -u OPENBLAS_CORETYPE` and `nice` on a shared machine; figures are one run.
"""
import argparse
import glob
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

import cv2
import numpy as np


def load_truth(seq):
    """(first, last, [(frame index, valid mask, positive mask)]) of a CDnet sequence."""
    s, e = map(int, open(os.path.join(seq, "temporalROI.txt")).read().split()[:2])
    roi = cv2.imread(os.path.join(seq, "ROI.bmp"), cv2.IMREAD_GRAYSCALE) > 0
    gts = []
    for i in range(s, e + 1):
        gt = cv2.imread(os.path.join(seq, "groundtruth", "gt%06d.png" % i), cv2.IMREAD_GRAYSCALE)
        if gt is None:
            raise SystemExit(f"{seq}: missing groundtruth/gt{i:06d}.png")
        valid = roi & (gt != 170) & (gt != 85)
        gts.append((i, valid, gt == 255))
    return s, e, gts


class Scorer:
    def __init__(self, truth):
        self.s, self.e, gts = truth
        self.by = {i: (v, p) for i, v, p in gts}
        self.tp = self.fp = self.fn = 0

    def add(self, i, mask):
        if i not in self.by:
            return
        v, p = self.by[i]
        pred = mask == 255
        self.tp += int(np.count_nonzero(pred & p & v))
        self.fp += int(np.count_nonzero(pred & ~p & v))
        self.fn += int(np.count_nonzero(~pred & p & v))

    def f(self):
        re = self.tp / max(self.tp + self.fn, 1)
        pr = self.tp / max(self.tp + self.fp, 1)
        return 0.0 if re + pr == 0 else 2 * pr * re / (pr + re)


def frames_of(seq):
    files = sorted(glob.glob(os.path.join(seq, "input", "in*.jpg")) + glob.glob(os.path.join(seq, "input", "in*.png")))
    if not files:
        raise SystemExit(f"{seq}: no input/in*.jpg frames")
    return files


def run_gaussmix(binary, seq, args, truth, tmp):
    out = os.path.join(tmp, "masks")
    cmd = [binary, "video", "subtract", seq, "-o", out, "--overwrite", "-q"] + shlex.split(args)
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    dt = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{r.stderr}")
    sc = Scorer(truth)
    masks = sorted(glob.glob(os.path.join(out, "bin*.png")))
    for m in masks:
        i = int(os.path.basename(m)[3:9])
        sc.add(i, cv2.imread(m, cv2.IMREAD_GRAYSCALE))
    shutil.rmtree(out)
    return sc.f(), len(masks) / dt


def make_peer(name):
    if name == "mog2":
        return cv2.createBackgroundSubtractorMOG2()
    import pybgs  # noqa: PLC0415

    return {"subsense": pybgs.SuBSENSE, "pawcs": pybgs.PAWCS}[name]()


def run_peer(name, imgs, truth, tmp):
    cwd = os.getcwd()
    os.chdir(tmp)  # pybgs reads and writes config/NAME.xml in the working directory
    os.makedirs("config", exist_ok=True)
    try:
        bs = make_peer(name)
        sc = Scorer(truth)
        t_apply = 0.0
        for i, img in enumerate(imgs, 1):
            t = time.perf_counter()
            m = bs.apply(img)
            t_apply += time.perf_counter() - t
            if m.ndim == 3:
                m = m[..., 0]
            sc.add(i, m)
    finally:
        os.chdir(cwd)
    return sc.f(), len(imgs) / t_apply


def scene_key(seq):
    """SHA-1 over the scene's input frames, ground truth, ROI and temporal ROI."""
    h = hashlib.sha1()
    files = frames_of(seq) + sorted(glob.glob(os.path.join(seq, "groundtruth", "*.png")))
    files += [os.path.join(seq, "ROI.bmp"), os.path.join(seq, "temporalROI.txt")]
    for f in files:
        h.update(os.path.basename(f).encode())
        with open(f, "rb") as fh:
            h.update(fh.read())
    return h.hexdigest()


def peer_version(name):
    if name == "mog2":
        return "opencv " + cv2.__version__
    import pybgs  # noqa: PLC0415

    return "opencv %s pybgs %s" % (cv2.__version__, getattr(pybgs, "__version__", "?"))


def peers_available(wanted):
    out = []
    for p in wanted:
        if p == "mog2":
            out.append(p)
            continue
        try:
            import pybgs  # noqa: F401, PLC0415

            out.append(p)
        except ImportError:
            print(f"note: pybgs not installed, skipping {p}", file=sys.stderr)
    return out


def split_groups(res):
    """Scenes named NAME_s1 form the tuning half, NAME_s2 the held-out half (by seed, see
    scripts/gen_bgs_real_scenes.py); other scenes (highway) are reported alone."""
    groups = {}
    for s in res:
        base, _, seed = s.rpartition("_s")
        key = {"1": "tune", "2": "held-out"}.get(seed) if base else None
        if key:
            groups.setdefault(key, []).append(s)
    return groups if len(groups) > 0 else {}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenes", default="target/bgs_real")
    ap.add_argument("--highway", default="../shared/data/video/highway")
    ap.add_argument("--gaussmix", default="target/release/gaussmix")
    ap.add_argument("--config", action="append", default=[], help="NAME=ARGS for `video subtract`")
    ap.add_argument("--peers", default="mog2,subsense,pawcs")
    ap.add_argument("--only", default="")
    ap.add_argument("--json")
    ap.add_argument("--no-gaussmix", action="store_true", help="run the peers only")
    ap.add_argument("--peer-cache", help="JSON file of the peers' results, read and updated")
    a = ap.parse_args()
    cv2.setNumThreads(1)
    configs = []
    for c in [] if a.no_gaussmix else (a.config or ["gaussmix="]):
        if "=" not in c:
            raise SystemExit(f"--config takes NAME=ARGS, got '{c}'")
        n, v = c.split("=", 1)
        configs.append((n, v))
    seqs = []
    if os.path.isdir(a.scenes):
        seqs += [d for d in sorted(glob.glob(os.path.join(a.scenes, "*"))) if os.path.isfile(os.path.join(d, "temporalROI.txt"))]
    if a.highway and os.path.isfile(os.path.join(a.highway, "temporalROI.txt")):
        seqs.append(a.highway)
    only = [s for s in a.only.split(",") if s]
    if only:
        seqs = [s for s in seqs if os.path.basename(os.path.normpath(s)) in only]
    if not seqs:
        raise SystemExit("no scenes found (run scripts/gen_bgs_scenes.py first)")
    if configs and not os.access(a.gaussmix, os.X_OK):
        raise SystemExit(f"{a.gaussmix} not found (cargo build --release -p gaussmix-cli)")
    peers = peers_available([p for p in a.peers.split(",") if p])
    methods = [n for n, _ in configs] + peers
    res = {}  # scene -> method -> (F, fps)
    cache = {}
    if a.peer_cache and os.path.isfile(a.peer_cache):
        with open(a.peer_cache) as f:
            cache = json.load(f)
    tmp = tempfile.mkdtemp(prefix="bgs_scenes_")
    try:
        for seq in seqs:
            name = os.path.basename(os.path.normpath(seq))
            truth = load_truth(seq)
            res[name] = {}
            for n, args in configs:
                res[name][n] = run_gaussmix(a.gaussmix, seq, args, truth, tmp)
            key = scene_key(seq) if a.peer_cache else None
            imgs = None
            for p in peers:
                ck = f"{p}|{peer_version(p)}|{name}|{key}"
                if key and ck in cache:
                    res[name][p] = tuple(cache[ck])
                    continue
                if imgs is None:
                    imgs = [cv2.imread(f) for f in frames_of(seq)]
                res[name][p] = run_peer(p, imgs, truth, tmp)
                if key:
                    cache[ck] = list(res[name][p])
                    with open(a.peer_cache + ".tmp", "w") as f:
                        json.dump(cache, f, indent=1)
                    os.replace(a.peer_cache + ".tmp", a.peer_cache)
            print(name + "  " + "  ".join(f"{m} F={res[name][m][0]:.4f} ({res[name][m][1]:.0f} f/s)" for m in methods), file=sys.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    width = max(12, max(len(m) for m in methods) + 1, max(len(s) for s in res) + 1)
    print("configs: " + "; ".join(f"{n}=[{v}]" for n, v in configs))
    print(f"{'scene':<14}" + "".join(f"{m:>{width}}" for m in methods))
    for s in res:
        print(f"{s:<14}" + "".join(f"{res[s][m][0]:>{width}.4f}" for m in methods))
    print(f"{'mean':<14}" + "".join(f"{np.mean([res[s][m][0] for s in res]):>{width}.4f}" for m in methods))
    print(f"{'worst':<14}" + "".join(f"{min(res[s][m][0] for s in res):>{width}.4f}" for m in methods))
    print(f"{'worst scene':<14}" + "".join(f"{min(res, key=lambda s: res[s][m][0]):>{width}}" for m in methods))
    print(f"{'frames/s':<14}" + "".join(f"{np.mean([res[s][m][1] for s in res]):>{width}.0f}" for m in methods))
    groups = split_groups(res)
    for g, names in groups.items():
        print(f"{g + ' mean':<14}" + "".join(f"{np.mean([res[s][m][0] for s in names]):>{width}.4f}" for m in methods))
        print(f"{g + ' worst':<14}" + "".join(f"{min(res[s][m][0] for s in names):>{width}.4f}" for m in methods))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"configs": dict(configs), "results": {s: {m: {"F": v[0], "fps": v[1]} for m, v in d.items()} for s, d in res.items()}}, f, indent=1)


if __name__ == "__main__":
    main()
