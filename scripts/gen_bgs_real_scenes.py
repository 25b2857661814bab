#!/usr/bin/env python3
"""Seeded generator of CDnet-layout scenes built from REAL video material (issue 19):
the background texture, the sensor noise, the compression artefacts and the dynamic
background of CDnet baseline/highway (../shared/data/video/highway), re-framed (crop,
scale, flip, colour balance) into other scenes, with articulated, textured people
composited in. The synthetic suite of `gen_bgs_scenes.py` (flat backgrounds, i.i.d.
Gaussian noise, flat sprites) ranked gaussmix first where real scenes rank it last; these
scenes keep what a per-pixel Gaussian does not fit: spatially correlated, JPEG-shaped,
non-stationary noise, real texture, waving leaves and partial camouflage.

usage: gen_bgs_real_scenes.py [--highway DIR] [--out target/bgs_real] [--seeds 1,2]
                              [--frames 300] [--only a,b]

Material: B = per-pixel temporal median of the highway frames (every 4th), a clean empty
road. The noise of frame t is its residual I_t - B where highway's ground truth (dilated
by 3 px) has no object; where it has one, the residual of the same pixel at another
frame (t +- 37k, the nearest free one) is used. So each carrier frame is B plus a real
residual: real noise, real leaf motion, real exposure drift, no cars.

A scene NAME_sSEED is written as a CDnet 2014 sequence (320x240, input/in%06d.jpg at
JPEG quality 70-85, groundtruth/gt%06d.png with 0/50 shadow/170 unknown/255 moving,
ROI.bmp all 255, temporalROI.txt "1 N": scored from the first frame, so no clean
training period). Seeds split the suite: seed 1 is the tuning half, seed 2 the held-out
half (same recipes, other draws: other crops, colours, source frames, people, paths).

Scenes:
  traffic      the real highway frames (real cars, real ground truth), re-framed and
               colour-balanced: "another road"
  indoor_slow  flat part of the scene, zoomed 1.5-2x (a floor); one large person walking
               slowly (0.25-0.5 px/frame) from the first frame, pausing twice for
               50-90 frames, swaying while paused; slow exposure drift
  hall         9-12 people of perspective sizes walking in several directions, some
               pausing, some present at frame 1, soft shadows
  corridor     3-4 people whose shirt takes the colour of the background behind them
               (smoothed, within 6-14 levels) with a texture of its own: partial
               camouflage (colour close, texture not)
  light        people walking; daylight ramps by up to 25 % unevenly, and the camera's
               exposure jumps once by 20-30 % and recovers over ~40 frames
  jitter       people walking; the camera shakes (sigma 1 px, sub-pixel)
  dynamic      the tree crowns zoomed 2-2.5x (waving leaves as background), people in front

The one-pixel band where a person's alpha is between 0.02 and 0.98 is 170 (unknown),
pixels darkened by a shadow by more than 15 % are 50. A paused person stays 255.
Dependencies: numpy, opencv-python-headless.
"""
import argparse
import glob
import os
import sys

import cv2
import numpy as np

W, H = 320, 240
SCENES = ["traffic", "indoor_slow", "hall", "corridor", "light", "jitter", "dynamic"]


class Material:
    """Highway frames, ground truth and the clean background median."""

    def __init__(self, hw):
        s, e = map(int, open(os.path.join(hw, "temporalROI.txt")).read().split()[:2])
        self.s, self.e = s, e
        files = sorted(glob.glob(os.path.join(hw, "input", "in*.jpg")))
        if len(files) < e:
            sys.exit(f"{hw}: expected {e} input frames")
        self.frames = np.stack([cv2.imread(files[i - 1]) for i in range(s, e + 1)])
        self.gt = np.stack(
            [cv2.imread(os.path.join(hw, "groundtruth", "gt%06d.png" % i), cv2.IMREAD_GRAYSCALE) for i in range(s, e + 1)]
        )
        allf = np.stack([cv2.imread(f) for f in files[::4]])
        self.med = np.median(allf, axis=0).astype(np.float32)
        k = np.ones((7, 7), np.uint8)
        self.busy = np.stack([cv2.dilate((g != 0).astype(np.uint8), k) > 0 for g in self.gt])

    def n(self):
        return len(self.frames)

    def residual(self, j):
        """Clean residual (float32 HxWx3) of material frame j: cars replaced by the residual
        of the same pixel at the nearest frame where it is free."""
        r = self.frames[j].astype(np.float32) - self.med
        miss = self.busy[j].copy()
        for k in range(1, 30):
            if not miss.any():
                break
            for o in (37 * k, -37 * k):
                jj = j + o
                if 0 <= jj < self.n():
                    take = miss & ~self.busy[jj]
                    if take.any():
                        r[take] = self.frames[jj][take].astype(np.float32) - self.med[take]
                        miss &= ~take
        r[miss] = 0.0
        return r


def colour_transform(rng):
    """A random colour balance: per-channel gains, a small channel mix, an offset."""
    g = rng.uniform(0.88, 1.12, 3)
    mix = np.eye(3) * g + rng.normal(0, 0.03, (3, 3))
    off = rng.uniform(-12, 12, 3)
    return mix.astype(np.float32), off.astype(np.float32)


def apply_colour(img, ct):
    mix, off = ct
    return img @ mix.T + off


class Camera:
    """Re-framing of the material: crop (x0, y0, size) scaled to 320x240, flipped or not."""

    def __init__(self, rng, scale, region):
        self.s = scale
        cw, ch = W / scale, H / scale
        x_lo, x_hi, y_lo, y_hi = region
        self.x0 = rng.uniform(x_lo, max(x_lo, min(x_hi, W - cw)))
        self.y0 = rng.uniform(y_lo, max(y_lo, min(y_hi, H - ch)))
        self.flip = rng.random() < 0.5

    def matrix(self, jx=0.0, jy=0.0):
        s = self.s
        if self.flip:
            return np.float32([[-s, 0, s * (self.x0 + W / s) + jx], [0, s, -s * self.y0 + jy]])
        return np.float32([[s, 0, -s * self.x0 + jx], [0, s, -s * self.y0 + jy]])

    def warp(self, img, m, nearest=False):
        fl = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
        return cv2.warpAffine(img, m, (W, H), flags=fl, borderMode=cv2.BORDER_REFLECT)


def texture_patch(rng, mat, h, w):
    """A real texture patch (h x w x 3, zero mean) cut from the background median, rescaled."""
    sc = rng.uniform(0.5, 1.5)
    ph, pw = max(4, int(h * sc)), max(4, int(w * sc))
    ph, pw = min(ph, H - 1), min(pw, W - 1)
    y, x = rng.integers(0, H - ph), rng.integers(0, W - pw)
    p = cv2.resize(mat.med[y : y + ph, x : x + pw], (w, h), interpolation=cv2.INTER_LINEAR)
    return p - p.mean(axis=(0, 1))


def clothing(rng):
    if rng.random() < 0.5:
        v = rng.uniform(30, 160)
        return np.clip(v + rng.normal(0, 10, 3), 0, 255).astype(np.float32)
    return rng.uniform(25, 235, 3).astype(np.float32)


class Person:
    """An articulated person: head, torso, two arms and two legs that swing with the walking
    phase, each part with a real texture and cylinder shading. Keyframes [(t, x, y)] give
    the feet position; size is the height in pixels."""

    def __init__(self, rng, mat, keys, height, camo=None, shadow=True):
        self.keys = keys
        self.h = int(height)
        self.w = max(8, int(height * rng.uniform(0.32, 0.42)))
        self.phase0 = rng.uniform(0, 2 * np.pi)
        self.stride = rng.uniform(0.05, 0.09) * height  # px travelled per half step
        hh, ww = self.h + 4, self.w * 2 + 4
        self.size = (hh, ww)
        kt = rng.uniform(0.4, 1.2)
        self.tex = {
            "shirt": (clothing(rng), texture_patch(rng, mat, hh, ww) * kt),
            "trousers": (clothing(rng), texture_patch(rng, mat, hh, ww) * kt * 0.6),
            "skin": (rng.uniform(70, 210, 3).astype(np.float32) * np.float32([0.8, 0.9, 1.0]), np.zeros((hh, ww, 3), np.float32)),
        }
        self.camo = camo  # None, or the level offset of a shirt that copies the background
        self.shadow = shadow and rng.random() < 0.8
        self.sh_dir = rng.uniform(-0.8, 0.8)
        self.sh_f = rng.uniform(0.55, 0.8)

    def state(self, t):
        """(x, y, moving) at time t, or None outside the keyframes."""
        ks = self.keys
        if t < ks[0][0] or t > ks[-1][0]:
            return None
        for (t0, x0, y0), (t1, x1, y1) in zip(ks, ks[1:]):
            if t0 <= t <= t1:
                u = 0.0 if t1 == t0 else (t - t0) / (t1 - t0)
                moving = (x1, y1) != (x0, y0)
                return x0 + u * (x1 - x0), y0 + u * (y1 - y0), moving
        return ks[-1][1], ks[-1][2], False

    def dist(self, t):
        """Path length walked by time t (for the gait phase)."""
        d = 0.0
        for (t0, x0, y0), (t1, x1, y1) in zip(self.keys, self.keys[1:]):
            if t <= t0:
                break
            u = min(1.0, (t - t0) / max(t1 - t0, 1e-9))
            d += u * np.hypot(x1 - x0, y1 - y0)
        return d

    def render(self, t):
        """(alpha, part-index image) in a local box; alpha float in [0, 1]."""
        hh, ww = self.size
        st = self.state(t)
        if st is None:
            return None
        x, y, moving = st
        ph = self.phase0 + np.pi * self.dist(t) / self.stride
        swing = np.sin(ph) * (0.45 if moving else 0.0)
        sway = 0.0 if moving else 0.8 * np.sin(t / 9.0 + self.phase0)
        arm_idle = 0.0 if moving else 0.12 * np.sin(t / 13.0 + 2 * self.phase0)
        h, w = self.h, self.w
        S = 4  # supersampling
        parts = np.zeros((hh * S, ww * S), np.uint8)
        cx = ww / 2 + sway
        hip = (cx, 2 + 0.52 * h)
        leg = 0.48 * h

        def P(px, py):
            return (int(round(px * S)), int(round(py * S)))

        lw = max(1, int(0.16 * w * S))
        for sgn in (-1, 1):
            a = sgn * swing
            foot = (hip[0] + sgn * 0.12 * w + leg * np.sin(a), hip[1] + leg * np.cos(a))
            cv2.line(parts, P(hip[0] + sgn * 0.15 * w, hip[1]), P(*foot), 2, max(1, int(0.34 * w * S)))
        sh_y = 2 + 0.22 * h
        cv2.ellipse(parts, P(cx, 2 + 0.38 * h), (int(0.5 * w * S), int(0.2 * h * S)), 0, 0, 360, 1, -1)
        for sgn in (-1, 1):
            a = -sgn * swing * 0.8 + sgn * 0.08 + arm_idle
            hand = (cx + sgn * 0.5 * w + 0.34 * h * np.sin(a), sh_y + 0.34 * h * np.cos(a))
            cv2.line(parts, P(cx + sgn * 0.42 * w, sh_y), P(*hand), 1, lw)
        cv2.circle(parts, P(cx, 2 + 0.1 * h), int(0.1 * h * S), 3, -1)
        alpha = cv2.resize((parts > 0).astype(np.float32), (ww, hh), interpolation=cv2.INTER_AREA)
        idx = cv2.resize(parts, (ww, hh), interpolation=cv2.INTER_NEAREST)
        return alpha, idx, x - ww / 2, y - (2 + h)

    def paint(self, frame, fgs, sh, t, bgref):
        r = self.render(t)
        if r is None:
            return
        alpha, idx, ox, oy = r
        hh, ww = alpha.shape
        ix, iy = int(round(ox)), int(round(oy))
        x0, y0, x1, y1 = max(ix, 0), max(iy, 0), min(ix + ww, W), min(iy + hh, H)
        if x0 >= x1 or y0 >= y1:
            return
        a = alpha[y0 - iy : y1 - iy, x0 - ix : x1 - ix]
        pi = idx[y0 - iy : y1 - iy, x0 - ix : x1 - ix]
        col = np.zeros((y1 - y0, x1 - x0, 3), np.float32)
        for k, name in ((1, "shirt"), (2, "trousers"), (3, "skin"), (0, "shirt")):
            base, tex = self.tex[name]
            if name == "shirt" and self.camo is not None:
                # the colour of the background behind (smoothed), shifted by a few levels,
                # with the shirt's own texture: partial camouflage
                part = bgref[y0:y1, x0:x1] + self.camo + 0.6 * tex[y0 - iy : y1 - iy, x0 - ix : x1 - ix]
            else:
                part = base + tex[y0 - iy : y1 - iy, x0 - ix : x1 - ix]
            sel = pi == k
            col[sel] = part[sel]
        # cylinder shading across the body
        u = (np.arange(x0, x1, dtype=np.float32) - (ox + ww / 2)) / max(self.w, 1)
        shade = 1.05 - 0.25 * np.clip(u, -1, 1) ** 2
        col *= shade[None, :, None]
        c = frame[y0:y1, x0:x1]
        c[:] = c * (1 - a[..., None]) + col * a[..., None]
        fgs[y0:y1, x0:x1] = np.maximum(fgs[y0:y1, x0:x1], a)

    def shadow_field(self, t):
        """Multiplicative darkening (HxW, 1 = none) of a soft shadow at the feet."""
        st = self.state(t)
        if st is None or not self.shadow:
            return None
        x, y, _ = st
        yy, xx = np.ogrid[0:H, 0:W]
        rx, ry = 0.45 * self.h, 0.08 * self.h
        cx, cy = x + self.sh_dir * rx, y + 0.3 * ry
        d = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2
        k = np.clip(1.3 - d, 0, 1)
        return 1 - (1 - self.sh_f) * k


def walk(t0, x0, y0, x1, y1, speed, pauses=()):
    dist = float(np.hypot(x1 - x0, y1 - y0))
    keys = [(t0, x0, y0)]
    t, done = float(t0), 0.0
    for frac, frames in sorted(pauses) + [(1.0, 0)]:
        t += (frac - done) * dist / speed
        px, py = x0 + frac * (x1 - x0), y0 + frac * (y1 - y0)
        keys.append((t, px, py))
        if frames:
            t += frames
            keys.append((t, px, py))
        done = frac
    return keys


def people(rng, mat, n, count, hmin, hmax, smin, smax, p_pause=0.3, camo=False, at_start=0.3):
    """`count` people crossing the frame; height grows with the row (perspective)."""
    out = []
    for i in range(count):
        yb = rng.uniform(0.55, 1.0) * H
        hgt = hmin + (hmax - hmin) * (yb / H - 0.55) / 0.45
        sp = rng.uniform(smin, smax)
        if rng.random() < 0.5:
            xa, xb = -30.0, W + 30.0
        else:
            xa, xb = W + 30.0, -30.0
        yb2 = np.clip(yb + rng.uniform(-30, 30), 0.5 * H, H + 5)
        pauses = [(rng.uniform(0.3, 0.7), int(rng.uniform(20, 70)))] if rng.random() < p_pause else []
        t0 = rng.uniform(1, max(2, n - (W + 60) / sp * 0.5))
        if rng.random() < at_start:  # already inside the frame at frame 1
            xa = xa + (xb - xa) * rng.uniform(0.2, 0.6)
            t0 = 1
        c = rng.uniform(6, 14) * rng.choice([-1, 1], 3) if camo else None
        out.append(Person(rng, mat, walk(t0, xa, yb, xb, yb2, sp, pauses), hgt, camo=c))
    return out


def generate(mat, name, seed, out, n):
    rng = np.random.default_rng([seed, SCENES.index(name), 19])
    q = int(rng.integers(70, 86))
    region = (0, 320, 0, 240)
    scale = rng.uniform(1.0, 1.35)
    if name == "indoor_slow":
        region, scale = (60, 200, 40, 200), rng.uniform(1.5, 2.0)
    elif name == "dynamic":
        region, scale = (0, 20, 0, 30), rng.uniform(2.0, 2.5)
    cam = Camera(rng, scale, region)
    ct = colour_transform(rng)
    j0 = int(rng.integers(0, mat.n() - n))
    objs = []
    if name == "indoor_slow":
        hgt = rng.uniform(150, 200)
        sp = rng.uniform(0.25, 0.5)
        ya = rng.uniform(0.85, 0.95) * H
        xa, xb = (rng.uniform(40, 120), W + 40.0) if rng.random() < 0.5 else (rng.uniform(200, 280), -40.0)
        objs.append(Person(rng, mat, walk(1, xa, ya, xb, ya, sp, [(0.2, int(rng.uniform(50, 90))), (0.55, int(rng.uniform(50, 90)))]), hgt))
    elif name == "hall":
        objs = people(rng, mat, n, int(rng.integers(9, 13)), 35, 80, 0.5, 1.5, p_pause=0.35)
    elif name == "corridor":
        objs = people(rng, mat, n, int(rng.integers(3, 5)), 70, 110, 0.6, 1.2, p_pause=0.3, camo=True)
    elif name in ("light", "jitter", "dynamic"):
        objs = people(rng, mat, n, int(rng.integers(4, 7)), 40, 95, 0.5, 1.4, p_pause=0.2)
    light_t = int(rng.integers(n // 3, 2 * n // 3))
    light_g = rng.choice([0.75, 0.8, 1.2, 1.3])
    ramp = rng.uniform(-0.25, 0.25)
    gx = np.linspace(0, 1, W, dtype=np.float32)[None, :, None]
    drift = rng.uniform(-0.06, 0.06)
    for d in ("input", "groundtruth"):
        os.makedirs(os.path.join(out, d), exist_ok=True)
    cv2.imwrite(os.path.join(out, "ROI.bmp"), np.full((H, W), 255, np.uint8))
    with open(os.path.join(out, "temporalROI.txt"), "w") as f:
        f.write(f"1 {n}\n")
    bgref = cv2.GaussianBlur(apply_colour(cam.warp(mat.med, cam.matrix()), ct), (0, 0), 4)
    for t in range(1, n + 1):
        j = j0 + t - 1
        jx, jy = (rng.normal(0, 1.0, 2).clip(-3, 3) if name == "jitter" else (0.0, 0.0))
        m = cam.matrix(jx, jy)
        if name == "traffic":
            src = mat.frames[j].astype(np.float32)
            gt = cam.warp(mat.gt[j], m, nearest=True)
        else:
            src = mat.med + mat.residual(j)
            gt = np.zeros((H, W), np.uint8)
        frame = apply_colour(cam.warp(src, m), ct)
        fgs = np.zeros((H, W), np.float32)
        shade = np.ones((H, W), np.float32)
        for o in objs:
            s = o.shadow_field(t)
            if s is not None:
                shade *= s
        frame *= shade[..., None]
        for o in sorted(objs, key=lambda o: (o.state(t) or (0, -1, 0))[1]):
            o.paint(frame, fgs, shade, t, bgref)
        if name == "light":
            g = 1.0 + ramp * (t / n) * (0.5 + gx)
            if t >= light_t:
                g = g * (1 + (light_g - 1) * np.exp(-(t - light_t) / 40.0))
            frame = frame * g
        elif name == "indoor_slow":
            frame = frame * (1 + drift * t / n)
        img = np.clip(frame + 0.5, 0, 255).astype(np.uint8)
        cv2.imwrite(os.path.join(out, "input", "in%06d.jpg" % t), img, [cv2.IMWRITE_JPEG_QUALITY, q])
        gt[(shade < 0.85) & (gt == 0)] = 50
        hard = fgs >= 0.5
        gt[hard] = 255
        gt[(fgs > 0.02) & (fgs < 0.98)] = 170
        cv2.imwrite(os.path.join(out, "groundtruth", "gt%06d.png" % t), gt)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--highway", default="../shared/data/video/highway")
    ap.add_argument("--out", default="target/bgs_real")
    ap.add_argument("--seeds", default="1,2")
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--only", default="")
    a = ap.parse_args()
    names = [s for s in a.only.split(",") if s] or SCENES
    for s in names:
        if s not in SCENES:
            sys.exit(f"unknown scene '{s}' (one of {', '.join(SCENES)})")
    mat = Material(a.highway)
    if not 30 <= a.frames <= mat.n() - 1:
        sys.exit(f"--frames must be in 30..{mat.n() - 1}")
    for seed in [int(x) for x in a.seeds.split(",") if x]:
        for s in names:
            d = os.path.join(a.out, f"{s}_s{seed}")
            generate(mat, s, seed, d, a.frames)
            print(f"{s} seed {seed}: {a.frames} frames -> {d}", flush=True)


if __name__ == "__main__":
    main()
