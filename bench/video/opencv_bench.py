#!/usr/bin/env python3
"""OpenCV side of the gaussmix-video speed comparison (one thread).

Prints frames/s for
  1. MOG2 apply() alone on a CDnet sequence (frames decoded beforehand),
  2. the whole subtract loop: imread + apply + imwrite(PNG) per frame,
  3. MOG2 apply() on the synthetic 640x480 colour video of ../../../shared/bench/mog2_bench.py
     (same generator, re-implemented here so the Rust side can reproduce it).
Run: env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 bench/video/opencv_bench.py SEQ_DIR [--repeat 3] [--quick]
(--quick: 1. with defaults only, for alternating with video_bench's --quick)
"""
import argparse, glob, os, shutil, tempfile, time
import cv2, numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("seq")
ap.add_argument("--repeat", type=int, default=3)
ap.add_argument("--synthetic-frames", type=int, default=300)
ap.add_argument("--quick", action="store_true", help="only apply() with defaults on SEQ")
a = ap.parse_args()
cv2.setNumThreads(1)
files = sorted(glob.glob(os.path.join(a.seq, "input", "*.jpg")) + glob.glob(os.path.join(a.seq, "input", "*.png")))
imgs = [cv2.imread(f) for f in files]
h, w = imgs[0].shape[:2]

def best(fn):
    return max(fn() for _ in range(a.repeat))

def apply_only(frames, cpu=False, **kw):
    """Best frames/s of MOG2 apply(); with cpu=True by this thread's CPU time (which does
    not count waiting for a core on a loaded machine)."""
    clock = time.thread_time if cpu else time.perf_counter
    def run():
        bs = cv2.createBackgroundSubtractorMOG2(**kw)
        t = clock()
        for f in frames:
            bs.apply(f)
        return len(frames) / (clock() - t)
    return best(run)

def full_loop():
    out = tempfile.mkdtemp(prefix="ocv_bench_")
    try:
        bs = cv2.createBackgroundSubtractorMOG2()
        t = time.perf_counter()
        for i, f in enumerate(files, 1):
            m = bs.apply(cv2.imread(f))
            cv2.imwrite(os.path.join(out, "bin%06d.png" % i), m)
        return len(files) / (time.perf_counter() - t)
    finally:
        shutil.rmtree(out)

print(f"opencv {cv2.__version__} threads={cv2.getNumThreads()} sequence={a.seq} {w}x{h} frames={len(files)}")
print(f"opencv apply-only (defaults)            {apply_only(imgs):8.1f} frames/s")
if a.quick:
    print(f"opencv apply-only (per thread CPU second) {apply_only(imgs, cpu=True):8.1f} frames/s")
    raise SystemExit(0)
print(f"opencv apply-only (no shadows)          {apply_only(imgs, detectShadows=False):8.1f} frames/s")
print(f"opencv imread+apply+imwrite(png)        {best(full_loop):8.1f} frames/s")

# Synthetic 640x480 colour video, as in shared/bench/mog2_bench.py.
W, H, T, SQ = 640, 480, a.synthetic_frames, 60
rng = np.random.default_rng(0)
bg = rng.integers(40, 200, size=(H, W, 3)).astype(np.int16)
bg = cv2.GaussianBlur(bg.astype(np.float32), (0, 0), 3).astype(np.int16)
frames = np.empty((T, H, W, 3), dtype=np.uint8)
for t in range(T):
    f = bg + rng.normal(0, 6, size=(H, W, 3)).astype(np.int16)
    x = int((W - SQ) * t / (T - 1)); y = int((H - SQ) / 2 + (H / 4) * np.sin(2 * np.pi * t / 150))
    f[y:y + SQ, x:x + SQ] = (250, 30, 30)
    frames[t] = np.clip(f, 0, 255).astype(np.uint8)
os.makedirs(os.environ.get("SYNTH_DIR", "/tmp/gaussmix_synth"), exist_ok=True)
np.save(os.path.join(os.environ.get("SYNTH_DIR", "/tmp/gaussmix_synth"), "color640.npy"), frames)
print(f"opencv apply-only synthetic 640x480 colour {apply_only(list(frames)):8.1f} frames/s")
