#!/usr/bin/env python3
"""Seeded generator of CDnet-layout scenes with per-pixel ground truth, for choosing
background-subtraction defaults on more than one sequence (issue 19).

usage: gen_bgs_scenes.py [--out target/bgs_scenes] [--only a,b] [--frames N] [--seed S]

Each scene is written as a CDnet 2014 sequence:
  SCENE/input/in000001.jpg ...      (320x240 colour, JPEG quality 90)
  SCENE/groundtruth/gt000001.png    (0 static, 50 hard shadow, 170 unknown, 255 moving)
  SCENE/ROI.bmp                     (255 everywhere)
  SCENE/temporalROI.txt             ("1 N": scored from the first frame)
The one-pixel rim of every object is 170 (unknown), as CDnet marks its blurred edges.
An object that stops stays 255 (CDnet labels a paused person as foreground).

Scenes (all seeded; the same seed gives the same bytes):
  indoor_slow   one person walking slowly across a room, pausing twice (60 and 90 frames)
  camouflage    corridor, three people whose colours are within ~10 levels of the wall
  crowd         hall, 16 people walking in several directions, overlapping, with shadows
  light_sudden  road with cars; the lights jump up (spatially uneven) and later down
  light_gradual road with cars; daylight ramps over the whole video, unevenly (sun moving)
  jitter        camera shakes by up to 3 px (sigma 1.2) each frame, people walking
  bootstrap     objects present from the first frame (no clean training period), one
                standing still for 120 frames at the start, then walking away
  dynamic       waving trees (bimodal pixels) and rippling water, people walking past
Dependencies: numpy, opencv-python-headless.
"""
import argparse
import os
import sys

import cv2
import numpy as np

W, H = 320, 240


def smooth_field(rng, gw, gh, channels=3):
    """Random field on a gw x gh grid, upsampled (cubic) to the frame: values ~ N(0, 1)."""
    g = rng.normal(0, 1, size=(gh, gw, channels)).astype(np.float32)
    return cv2.resize(g, (W, H), interpolation=cv2.INTER_CUBIC).reshape(H, W, channels)


def background(rng, kind):
    """A textured static background image (float32, H x W x 3, BGR)."""
    if kind == "indoor":
        img = np.empty((H, W, 3), np.float32)
        wall = np.array([175, 185, 195], np.float32)
        floor = np.array([90, 110, 130], np.float32)
        horizon = 150
        img[:horizon] = wall
        img[horizon:] = floor
        img[:horizon, ::6] -= 18  # wallpaper stripes
        img[horizon::5] -= 15  # floor boards
        # doors, posters, a table
        for _ in range(5):
            x0 = rng.integers(0, W - 40)
            y0 = rng.integers(10, horizon - 50)
            w, h = rng.integers(20, 60), rng.integers(30, 80)
            img[y0 : min(y0 + h, horizon), x0 : x0 + w] = rng.uniform(40, 220, 3)
    elif kind == "corridor":
        img = np.empty((H, W, 3), np.float32)
        img[:] = np.array([120, 128, 132], np.float32)
        img[170:] = np.array([100, 106, 110], np.float32)
        for x0 in range(20, W, 70):
            img[40:170, x0 : x0 + 30] = np.array([112, 120, 126], np.float32)
    elif kind == "hall":
        img = np.empty((H, W, 3), np.float32)
        img[:] = np.array([150, 150, 145], np.float32)
        # floor tiles
        yy, xx = np.mgrid[0:H, 0:W]
        tiles = ((yy // 24 + xx // 24) % 2).astype(np.float32)[..., None]
        img[60:] = (img[60:] - 25 * tiles[60:])
        img[:60] = np.array([90, 80, 70], np.float32)
        for x0 in range(0, W, 55):  # shop fronts
            img[5:58, x0 + 5 : x0 + 45] = rng.uniform(60, 230, 3)
    elif kind == "road":
        img = np.empty((H, W, 3), np.float32)
        img[:] = np.array([70, 140, 90], np.float32)  # grass
        img[70:190] = np.array([105, 105, 108], np.float32)  # asphalt
        img[128:131, ::20] = 230  # dashes
        img[128:131, 1::20] = 230
        img[128:131, 2::20] = 230
        img[128:131, 3::20] = 230
        img[128:131, 4::20] = 230
    elif kind == "park":
        img = np.empty((H, W, 3), np.float32)
        img[:] = np.array([200, 170, 140], np.float32)  # sky (BGR)
        img[100:] = np.array([80, 150, 110], np.float32)  # grass
        img[150:] = np.array([130, 140, 150], np.float32)  # path
    else:
        raise ValueError(kind)
    img += 6.0 * smooth_field(rng, 40, 30) + 4.0 * smooth_field(rng, 160, 120)
    img += 10.0 * smooth_field(rng, 6, 4, 1)
    return np.clip(img, 0, 255)


def clothing(rng):
    """A clothing colour: half the time a dull grey/dark one (as most clothes are)."""
    if rng.random() < 0.5:
        v = rng.uniform(30, 150)
        return np.clip(v + rng.normal(0, 8, 3), 0, 255)
    return rng.uniform(20, 240, 3)


def person_sprite(rng, h, w, colours=None):
    """A standing person: head, shirt, trousers, with fixed texture. Returns (rgb, alpha)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx = (w - 1) / 2
    head_r = w * 0.28
    head = (xx - cx) ** 2 + (yy - head_r) ** 2 <= head_r**2
    body = ((xx - cx) / (w / 2)) ** 2 + ((yy - h * 0.45) / (h * 0.3)) ** 2 <= 1
    legs = (yy >= h * 0.55) & (np.abs(xx - cx) <= w * 0.38) & ~(
        (np.abs(xx - cx) <= w * 0.06) & (yy >= h * 0.7)
    )
    alpha = head | body | legs
    if colours is None:
        colours = [clothing(rng), clothing(rng), rng.uniform(60, 200, 3)]
    shirt, trousers, skin = colours
    rgb = np.zeros((h, w, 3), np.float32)
    rgb[body] = shirt
    rgb[legs] = trousers
    rgb[head] = skin
    rgb += rng.normal(0, 5, size=(h, w, 3)).astype(np.float32)
    return rgb, alpha


def car_sprite(rng, h, w):
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    alpha = np.ones((h, w), bool)
    alpha[: int(h * 0.35), : int(w * 0.2)] = False
    alpha[: int(h * 0.35), int(w * 0.8) :] = False
    col = rng.uniform(10, 240, 3)
    rgb = np.zeros((h, w, 3), np.float32) + col
    win = (yy < h * 0.35) & (xx >= w * 0.25) & (xx < w * 0.75)
    rgb[win] = np.array([60, 50, 40]) + rng.uniform(0, 40)
    rgb += rng.normal(0, 4, size=(h, w, 3)).astype(np.float32)
    return rgb, alpha


class Obj:
    """A sprite moving through keyframes [(t, x, y), ...] (top-left corner), linearly
    between them; present from the first to the last keyframe's t."""

    def __init__(self, sprite, keys, shadow=None):
        self.rgb, self.alpha = sprite
        self.keys = keys
        self.shadow = shadow  # (dx, dy, rx, ry, factor) ellipse at the feet, or None

    def pos(self, t):
        ks = self.keys
        if t < ks[0][0] or t > ks[-1][0]:
            return None
        for (t0, x0, y0), (t1, x1, y1) in zip(ks, ks[1:]):
            if t0 <= t <= t1:
                u = 0.0 if t1 == t0 else (t - t0) / (t1 - t0)
                return x0 + u * (x1 - x0), y0 + u * (y1 - y0)
        return ks[-1][1], ks[-1][2]


def paste(canvas, fg, rgb, alpha, x, y):
    """Draws the sprite at integer (x, y), clipped; marks fg."""
    h, w = alpha.shape
    x, y = int(round(x)), int(round(y))
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
    if x0 >= x1 or y0 >= y1:
        return
    a = alpha[y0 - y : y1 - y, x0 - x : x1 - x]
    c = canvas[y0:y1, x0:x1]
    c[a] = rgb[y0 - y : y1 - y, x0 - x : x1 - x][a]
    fg[y0:y1, x0:x1] |= a


def shadow_mask(o, x, y):
    dx, dy, rx, ry, _ = o.shadow
    h, w = o.alpha.shape
    cx, cy = x + w / 2 + dx, y + h + dy
    yy, xx = np.ogrid[0:H, 0:W]
    return ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1


def walk(t0, x0, y0, x1, y1, speed, pauses=()):
    """Keyframes of a walk from (x0,y0) to (x1,y1) at `speed` px/frame, with pauses
    [(fraction of the way, frames)]."""
    dist = float(np.hypot(x1 - x0, y1 - y0))
    keys = [(t0, x0, y0)]
    t, done = float(t0), 0.0
    for frac, frames in sorted(pauses) + [(1.0, 0)]:
        seg = (frac - done) * dist
        t += seg / speed
        px, py = x0 + frac * (x1 - x0), y0 + frac * (y1 - y0)
        keys.append((t, px, py))
        if frames:
            t += frames
            keys.append((t, px, py))
        done = frac
    return keys


def scene_objects(name, rng, n):
    objs = []
    if name == "indoor_slow":
        spr = person_sprite(rng, 90, 32)
        objs.append(Obj(spr, walk(30, -20, 95, W - 10, 95, 0.45, [(0.3, 60), (0.65, 90)]),
                        shadow=(4, -2, 18, 5, 0.65)))
    elif name == "camouflage":
        wall = np.array([120, 128, 132], np.float32)
        for i, (t0, y, sp, d) in enumerate([(20, 80, 1.0, 1), (90, 90, 0.7, -1), (160, 75, 1.3, 1)]):
            off = rng.uniform(-12, 12, 3)
            cols = [wall + off, wall + rng.uniform(-14, 14, 3) - 8, wall + rng.uniform(-10, 10, 3) + 5]
            spr = person_sprite(rng, 95, 34, [np.clip(c, 0, 255) for c in cols])
            xa, xb = (-40, W + 5) if d > 0 else (W + 5, -40)
            objs.append(Obj(spr, walk(t0, xa, y, xb, y, sp)))
    elif name == "crowd":
        for i in range(16):
            t0 = int(rng.integers(5, n - 150))
            h = int(rng.integers(45, 75))
            spr = person_sprite(rng, h, int(h * 0.38))
            y = float(rng.uniform(60, H - h))
            sp = float(rng.uniform(0.6, 2.0))
            if rng.random() < 0.5:
                keys = walk(t0, -30, y, W + 5, y + rng.uniform(-30, 30), sp)
            else:
                keys = walk(t0, W + 5, y, -30, y + rng.uniform(-30, 30), sp)
            objs.append(Obj(spr, keys, shadow=(6, -3, h * 0.3, 5, 0.6)))
    elif name in ("light_sudden", "light_gradual"):
        t = 10
        while t < n - 40:
            lane = int(rng.integers(0, 2))
            ch, cw = int(rng.integers(28, 40)), int(rng.integers(55, 85))
            spr = car_sprite(rng, ch, cw)
            sp = float(rng.uniform(2.0, 4.0))
            y = 85 + lane * 55 + int(rng.integers(-5, 5))
            keys = walk(t, -cw - 5, y, W + 5, y, sp) if lane == 0 else walk(t, W + 5, y, -cw - 5, y, sp)
            objs.append(Obj(spr, keys, shadow=(10, -6, cw * 0.55, 7, 0.55)))
            t += int(rng.integers(15, 45))
    elif name == "jitter":
        for i, (t0, y, sp) in enumerate([(20, 100, 1.2), (80, 120, -0.9), (150, 90, 1.6), (220, 130, -1.1)]):
            spr = person_sprite(rng, 80, 30)
            keys = walk(t0, -35, y, W + 5, y, sp) if sp > 0 else walk(t0, W + 5, y, -35, y, -sp)
            objs.append(Obj(spr, keys))
    elif name == "bootstrap":
        spr = person_sprite(rng, 85, 30)
        objs.append(Obj(spr, [(1, 150, 100), (120, 150, 100), (300, W + 5, 110)]))
        for i, (x0, y, sp) in enumerate([(40, 70, 1.0), (250, 130, -1.3), (-20, 150, 0.8)]):
            spr = person_sprite(rng, 70, 26)
            xe = W + 5 if sp > 0 else -35
            objs.append(Obj(spr, walk(1, x0, y, xe, y, abs(sp))))
        for t0 in (180, 260):
            spr = person_sprite(rng, 75, 28)
            objs.append(Obj(spr, walk(t0, -35, 120, W + 5, 120, 1.1)))
    elif name == "dynamic":
        for i, (t0, y, sp) in enumerate([(30, 140, 1.0), (110, 145, -1.4), (200, 135, 0.8), (260, 150, -1.0)]):
            spr = person_sprite(rng, 80, 30)
            keys = walk(t0, -35, y, W + 5, y, sp) if sp > 0 else walk(t0, W + 5, y, -35, y, -sp)
            objs.append(Obj(spr, keys))
    else:
        raise ValueError(name)
    return objs


SCENES = {
    "indoor_slow": "indoor",
    "camouflage": "corridor",
    "crowd": "hall",
    "light_sudden": "road",
    "light_gradual": "road",
    "jitter": "indoor",
    "bootstrap": "hall",
    "dynamic": "park",
}


def illumination(name, t, n, gx):
    """Per-pixel multiplicative light at frame t (H x W x 1) or None."""
    if name == "light_sudden":
        # lamps on the left switched on at 1/3, off at 2/3: +35 % left, +10 % right
        if n // 3 <= t < 2 * n // 3:
            return 1.10 + 0.25 * (1 - gx)
        return None
    if name == "light_gradual":
        u = t / max(n - 1, 1)
        return 0.65 + 0.55 * u + 0.15 * np.sin(np.pi * u) * (gx - 0.5)
    return None


def generate(name, out, n, seed):
    rng = np.random.default_rng([seed, list(SCENES).index(name)])
    kind = SCENES[name]
    bg = background(rng, kind)
    big = None
    if name == "jitter":  # a larger canvas to shake the camera over
        big = cv2.resize(bg, (W + 16, H + 16), interpolation=cv2.INTER_LINEAR)
    objs = scene_objects(name, rng, n)
    gx = np.broadcast_to(np.linspace(0, 1, W, dtype=np.float32)[None, :, None], (H, W, 1))
    # dynamic background: a tree crown (leaf / sky pattern displaced by wind) and water
    if name == "dynamic":
        leaf = smooth_field(rng, 40, 30, 1)[..., 0] > 0.2
        tree = np.zeros((H, W), bool)
        yy, xx = np.ogrid[0:H, 0:W]
        tree |= ((xx - 230) / 70.0) ** 2 + ((yy - 60) / 50.0) ** 2 <= 1
        tree |= ((xx - 60) / 45.0) ** 2 + ((yy - 50) / 40.0) ** 2 <= 1
        water = (yy >= 100) & (yy < 135) & (xx < 200)
        water = np.broadcast_to(water, (H, W))
        mapy, mapx = np.mgrid[0:H, 0:W].astype(np.float32)
    for d in ("input", "groundtruth"):
        os.makedirs(os.path.join(out, d), exist_ok=True)
    cv2.imwrite(os.path.join(out, "ROI.bmp"), np.full((H, W), 255, np.uint8))
    with open(os.path.join(out, "temporalROI.txt"), "w") as f:
        f.write(f"1 {n}\n")
    kernel = np.ones((3, 3), np.uint8)
    for t in range(1, n + 1):
        if big is not None:
            dx, dy = rng.normal(0, 1.2, 2).clip(-3, 3)
            m = np.float32([[1, 0, 8 + dx], [0, 1, 8 + dy]])
            frame = cv2.warpAffine(big, m, (W, H), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
        else:
            frame = bg.copy()
        if name == "dynamic":
            wind = 4.0 * np.sin(2 * np.pi * t / 23.0 + mapy / 12.0) + rng.normal(0, 0.7)
            shifted = cv2.remap(leaf.astype(np.float32), mapx + wind, mapy, cv2.INTER_LINEAR) > 0.5
            crown = np.where(shifted[..., None], np.float32([40, 110, 50]), np.float32([200, 170, 140]))
            frame[tree] = crown[tree]
            ripple = 18 * np.sin(2 * np.pi * t / 17.0 + mapx / 5.0 + np.sin(mapy / 3.0) * 2)
            wcol = np.float32([150, 110, 60])[None, None, :] + ripple[..., None]
            frame[water] = wcol[water]
        fg = np.zeros((H, W), bool)
        sh = np.zeros((H, W), bool)
        placed = []
        for o in objs:
            p = o.pos(t)
            if p is None:
                continue
            placed.append((o, p))
            if o.shadow is not None:
                s = shadow_mask(o, *p)
                frame[s] *= o.shadow[4]
                sh |= s
        for o, (x, y) in placed:
            paste(frame, fg, o.rgb, o.alpha, x, y)
        light = illumination(name, t, n, gx)
        if light is not None:
            frame = frame * light
        frame = frame + rng.normal(0, 3.0, size=frame.shape).astype(np.float32)
        img = np.clip(frame + 0.5, 0, 255).astype(np.uint8)
        cv2.imwrite(os.path.join(out, "input", "in%06d.jpg" % t), img, [cv2.IMWRITE_JPEG_QUALITY, 90])
        gt = np.zeros((H, W), np.uint8)
        gt[sh] = 50
        f8 = fg.astype(np.uint8)
        rim = (cv2.dilate(f8, kernel) - cv2.erode(f8, kernel)) > 0
        gt[fg] = 255
        gt[rim] = 170
        cv2.imwrite(os.path.join(out, "groundtruth", "gt%06d.png" % t), gt)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="target/bgs_scenes")
    ap.add_argument("--only", default="")
    ap.add_argument("--frames", type=int, default=400)
    ap.add_argument("--seed", type=int, default=19)
    a = ap.parse_args()
    names = [s for s in a.only.split(",") if s] or list(SCENES)
    for s in names:
        if s not in SCENES:
            sys.exit(f"unknown scene '{s}' (one of {', '.join(SCENES)})")
    if a.frames < 30:
        sys.exit("--frames must be >= 30")
    for s in names:
        generate(s, os.path.join(a.out, s), a.frames, a.seed)
        print(f"{s}: {a.frames} frames -> {os.path.join(a.out, s)}")


if __name__ == "__main__":
    main()
