#!/usr/bin/env python3
"""Seeded synthetic sequences with tracking ground truth, in CDnet layout.

    python3 scripts/gen_tracking_sequences.py OUT_DIR [--seeds 3] [--frames 300]

writes, for each family and seed, OUT_DIR/<family>-<seed>/ with

- input/in000001.jpg …  320×240 colour frames (JPEG quality 95, like CDnet's);
- groundtruth/gt000001.png …  0 static, 50 shadow, 255 moving (CDnet's grey levels);
- ROI.bmp (the whole frame) and temporalROI.txt (`50 N`);
- gt.txt: MOTChallenge tracking ground truth `frame,id,x,y,w,h,1,1,vis` (x, y 1-based, the
  object's whole box clipped to the frame, vis its visible fraction), one row per object
  and frame in which at least a quarter of it is visible.

Families (what tracking has to survive):

- `separated`: objects on lanes of their own, entering at the edges, varied sizes and
  speeds, one passing behind a pillar (a full occlusion);
- `crossings`: pairs of objects whose paths cross head-on or at an angle (they merge into
  one blob for several frames), plus the pillar;
- `crowd`: many objects, crossings, and one that stops for 60 frames mid-frame.

Every sequence has a textured background, a bimodal "waving" patch, slow illumination
drift, camera noise, and cast shadows (darker copies of the background beside each
object). Objects are two-tone (a body colour and a stripe), so colour tells them apart.
Needs numpy and opencv-python (cv2) for the image files. The output is the same for the
same arguments on any machine.
"""
import argparse
import math
import os
import sys

import numpy as np

W, H = 320, 240
FAMILIES = ("separated", "crossings", "crowd")


def background(rng):
    """A smooth texture: a few low-frequency cosines per channel plus fine grain."""
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    bg = np.zeros((H, W, 3))
    base = rng.uniform(70, 150, 3)
    for c in range(3):
        img = np.full((H, W), base[c])
        for _ in range(4):
            fx, fy = rng.uniform(0.005, 0.04, 2)
            ph = rng.uniform(0, 2 * math.pi)
            img += rng.uniform(5, 18) * np.cos(2 * math.pi * (fx * xx + fy * yy) + ph)
        bg[..., c] = img
    bg += rng.normal(0, 4, (H, W, 1))
    # A pillar (static, part of the background) that hides whatever passes behind it.
    px = int(rng.uniform(0.55, 0.7) * W)
    pillar = (px, px + 22)
    bg[:, pillar[0]:pillar[1]] = rng.uniform(30, 60, 3)
    return np.clip(bg, 0, 255), pillar


def colour(rng):
    """A saturated colour with a random hue, far from mid grey."""
    h = rng.uniform(0, 6)
    i, f = int(h), h - int(h)
    v, s = rng.uniform(150, 250), rng.uniform(0.55, 0.95)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    return np.array([(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i % 6])


class Obj:
    """A box moving along waypoints [(frame, cx, cy), …] (linear in between)."""

    def __init__(self, oid, w, h, path, rng, z):
        self.oid, self.w, self.h, self.path, self.z = oid, w, h, path, z
        self.body, self.stripe = colour(rng), colour(rng)
        self.ellipse = rng.random() < 0.5

    def centre(self, f):
        p = self.path
        if f < p[0][0] or f > p[-1][0]:
            return None
        for (f0, x0, y0), (f1, x1, y1) in zip(p, p[1:]):
            if f0 <= f <= f1:
                a = 0.0 if f1 == f0 else (f - f0) / (f1 - f0)
                return x0 + a * (x1 - x0), y0 + a * (y1 - y0)
        return p[-1][1], p[-1][2]


def straight(f0, start, end, speed):
    """Waypoints from `start` to `end` at `speed` px/frame, starting in frame f0."""
    d = math.hypot(end[0] - start[0], end[1] - start[1])
    return [(f0, start[0], start[1]), (f0 + max(1, round(d / speed)), end[0], end[1])]


def edge_path(rng, f0, y, leftward, speed, w):
    xs, xe = -w, W + w
    if leftward:
        xs, xe = xe, xs
    return straight(f0, (xs, y), (xe, y + rng.uniform(-15, 15)), speed)


def scene(family, rng, frames):
    objs = []
    oid = 1

    def add(w, h, path):
        nonlocal oid
        objs.append(Obj(oid, w, h, path, rng, z=oid))
        oid += 1

    if family == "separated":
        lanes = np.linspace(30, H - 30, 5)
        for k, y in enumerate(lanes):
            w, h = rng.uniform(18, 50), rng.uniform(14, 34)
            f0 = int(rng.uniform(60, frames * 0.45))
            add(w, h, edge_path(rng, f0, y, k % 2 == 1, rng.uniform(1.2, 4.0), w))
    elif family == "crossings":
        t = 60
        while t < frames - 90:
            w1, h1 = rng.uniform(18, 44), rng.uniform(14, 30)
            w2, h2 = rng.uniform(18, 44), rng.uniform(14, 30)
            s1, s2 = rng.uniform(1.2, 3.5), rng.uniform(1.2, 3.5)
            # Meet near (mx, my) at frame tm.
            mx, my = rng.uniform(0.3, 0.7) * W, rng.uniform(0.25, 0.75) * H
            tm = t + int(rng.uniform(40, 60))
            if rng.random() < 0.6:
                # Head-on (nearly the same row).
                dy = rng.uniform(-8, 8)
                add(w1, h1, [(tm - int((mx + w1) / s1), -w1, my), (tm, mx, my),
                             (tm + int((W + w1 - mx) / s1), W + w1, my)])
                add(w2, h2, [(tm - int((W + w2 - mx) / s2), W + w2, my + dy), (tm, mx, my + dy),
                             (tm + int((mx + w2) / s2), -w2, my + dy)])
            else:
                # At an angle: one along x, one diagonal through the same point.
                add(w1, h1, [(tm - int((mx + w1) / s1), -w1, my), (tm, mx, my),
                             (tm + int((W + w1 - mx) / s1), W + w1, my)])
                ang = rng.uniform(0.6, 1.2) * (1 if rng.random() < 0.5 else -1)
                vx, vy = -s2 * math.cos(ang), s2 * math.sin(ang)
                n = 200
                add(w2, h2, [(tm - n, mx - vx * n, my - vy * n), (tm, mx, my),
                             (tm + n, mx + vx * n, my + vy * n)])
            t += int(rng.uniform(45, 70))
    else:  # crowd
        for k in range(10):
            w, h = rng.uniform(16, 44), rng.uniform(12, 30)
            f0 = int(rng.uniform(40, frames * 0.6))
            y = rng.uniform(25, H - 25)
            add(w, h, edge_path(rng, f0, y, k % 2 == 1, rng.uniform(1.0, 3.5), w))
        # One that enters, stops for 60 frames mid-frame, and goes on.
        w, h = rng.uniform(22, 40), rng.uniform(16, 28)
        f0 = 70
        y = rng.uniform(0.35, 0.65) * H
        stop_x = 0.35 * W
        s = rng.uniform(1.5, 2.5)
        f1 = f0 + int((stop_x + w) / s)
        add(w, h, [(f0, -w, y), (f1, stop_x, y), (f1 + 60, stop_x, y),
                   (f1 + 60 + int((W + w - stop_x) / s), W + w, y)])
    return objs


def render(family, seed, frames, out):
    rng = np.random.default_rng([FAMILIES.index(family), seed, 13])
    bg, pillar = background(rng)
    objs = scene(family, rng, frames)
    # The waving patch: its pixels flip between two colours.
    wx, wy = int(rng.uniform(10, 60)), int(rng.uniform(10, 40))
    wave = (slice(wy, wy + 36), slice(wx, wx + 36))
    wave_alt = np.clip(bg[wave] + rng.uniform(25, 40) * rng.choice([-1, 1], 3), 0, 255)
    import cv2

    for d in ("input", "groundtruth"):
        os.makedirs(os.path.join(out, d), exist_ok=True)
    cv2.imwrite(os.path.join(out, "ROI.bmp"), np.full((H, W), 255, np.uint8))
    with open(os.path.join(out, "temporalROI.txt"), "w") as fh:
        fh.write("50 %d\n" % frames)
    yy, xx = np.mgrid[0:H, 0:W]
    rows = []
    for f in range(1, frames + 1):
        img = bg.copy()
        flip = rng.random(img[wave].shape[:2]) < 0.35
        img[wave][flip] = wave_alt[flip]
        gt = np.zeros((H, W), np.uint8)
        owner = np.zeros((H, W), np.int32)
        boxes = {}
        # Shadows first (under every object), then objects in z order.
        live = [(o, o.centre(f)) for o in objs]
        live = [(o, c) for o, c in live if c is not None]
        for o, (cx, cy) in live:
            sx, sy = cx + 0.25 * o.w, cy + 0.45 * o.h
            sh = ((xx - sx) / (0.55 * o.w)) ** 2 + ((yy - sy) / (0.35 * o.h)) ** 2 <= 1.0
            img[sh] *= 0.55
            gt[sh] = 50
        for o, (cx, cy) in sorted(live, key=lambda p: p[0].z):
            x0, y0 = cx - o.w / 2, cy - o.h / 2
            if o.ellipse:
                m = ((xx + 0.5 - cx) / (o.w / 2)) ** 2 + ((yy + 0.5 - cy) / (o.h / 2)) ** 2 <= 1
            else:
                m = (xx + 0.5 >= x0) & (xx + 0.5 < x0 + o.w) & (yy + 0.5 >= y0) & (yy + 0.5 < y0 + o.h)
            stripe = m & (np.abs(yy + 0.5 - cy) < o.h * 0.18)
            img[m] = o.body
            img[stripe] = o.stripe
            gt[m] = 255
            owner[m] = o.oid
            boxes[o.oid] = (x0, y0, o.w, o.h, int(m.sum()))
        # The pillar hides what is behind it.
        img[:, pillar[0]:pillar[1]] = bg[:, pillar[0]:pillar[1]]
        gt[:, pillar[0]:pillar[1]] = 0
        owner[:, pillar[0]:pillar[1]] = 0
        for oid, (x0, y0, w, h, full) in boxes.items():
            bx0, by0 = max(0.0, x0), max(0.0, y0)
            bx1, by1 = min(float(W), x0 + w), min(float(H), y0 + h)
            if bx1 <= bx0 or by1 <= by0 or full == 0:
                continue
            # Visible: drawn, not behind the pillar or a nearer object, inside the frame;
            # relative to the whole (unclipped) object.
            vis = int((owner == oid).sum()) / (math.pi / 4 * w * h if objs[oid - 1].ellipse else w * h)
            if vis >= 0.25:
                rows.append((f, oid, bx0 + 1, by0 + 1, bx1 - bx0, by1 - by0, min(vis, 1.0)))
        gain = 1.0 + 0.12 * math.sin(2 * math.pi * f / 450.0)
        img = img * gain + rng.normal(0, 3.0, img.shape)
        img = np.clip(img, 0, 255).astype(np.uint8)
        cv2.imwrite(os.path.join(out, "input", "in%06d.jpg" % f), img[..., ::-1].copy(),
                    [cv2.IMWRITE_JPEG_QUALITY, 95])
        cv2.imwrite(os.path.join(out, "groundtruth", "gt%06d.png" % f), gt)
    with open(os.path.join(out, "gt.txt"), "w") as fh:
        for r in rows:
            fh.write("%d,%d,%.2f,%.2f,%.2f,%.2f,1,1,%.3f\n" % r)
    return len(rows), len(objs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--families", default=",".join(FAMILIES))
    a = ap.parse_args()
    fams = a.families.split(",")
    for fam in fams:
        if fam not in FAMILIES:
            sys.exit("unknown family %r (choose from %s)" % (fam, ", ".join(FAMILIES)))
    if a.seeds < 1 or a.frames < 60:
        sys.exit("--seeds must be >= 1 and --frames >= 60")
    for fam in fams:
        for s in range(a.seeds):
            out = os.path.join(a.out, "%s-%d" % (fam, s))
            n, k = render(fam, s, a.frames, out)
            print("%s: %d objects, %d ground-truth boxes" % (out, k, n))


if __name__ == "__main__":
    main()
