#!/usr/bin/env python3
"""Makes docs/highway.png: a CDnet highway frame, its gaussmix mask, and the tracked
boxes, side by side. Needs `pip install pillow` and a release build of gaussmix.

    python3 docs/make_highway_figure.py [FRAME]   (default 805)
"""
import os
import subprocess
import sys
import tempfile

from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEQ = os.path.join(os.path.dirname(ROOT), "shared", "data", "video", "highway")
EXE = os.path.join(ROOT, "target", "release", "gaussmix")

frame = int(sys.argv[1]) if len(sys.argv) > 1 else 805
with tempfile.TemporaryDirectory() as tmp:
    masks, ann = os.path.join(tmp, "masks"), os.path.join(tmp, "ann")
    subprocess.run([EXE, "video", "subtract", SEQ, "-o", masks, "-q"], check=True)
    subprocess.run([EXE, "video", "track", SEQ, "-o", os.path.join(tmp, "t.csv"), "--annotate", ann,
                    "--annotate-range", f"{frame},{frame}", "-q"], check=True)
    src = Image.open(os.path.join(SEQ, "input", f"in{frame:06d}.jpg")).convert("RGB")
    mask = Image.open(os.path.join(masks, f"bin{frame:06d}.png")).convert("RGB")
    boxes = Image.open(os.path.join(ann, f"frame{frame:06d}.png")).convert("RGB")
    w, h = src.size
    out = Image.new("RGB", (3 * w + 20, h), "white")
    for i, im in enumerate((src, mask, boxes)):
        out.paste(im, (i * (w + 10), 0))
    out.save(os.path.join(ROOT, "docs", "highway.png"), optimize=True)
print("wrote docs/highway.png")
