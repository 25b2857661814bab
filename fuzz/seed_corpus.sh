#!/usr/bin/env bash
# Regenerates the seed corpus of every fuzz target under fuzz/corpus/<target>/ from the
# real data in $DATA (default /work/shared/data, else the repository's data/) and from
# files written by numpy and by the gaussmix CLI. Needs python3 with numpy, and builds
# the CLI (release) when target/release/gaussmix is missing. Seeds are named seed-*;
# inputs the fuzzer found (crash-*, regression inputs) are left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DATA=${DATA:-/work/shared/data}
[ -d "$DATA/tabular" ] || DATA=$ROOT/data
C=$ROOT/fuzz/corpus
G=$ROOT/target/release/gaussmix
[ -x "$G" ] || cargo build --release -p gaussmix-cli --locked
for t in csv npy npz parquet model_json stats_bytes image; do
    mkdir -p "$C/$t"
    rm -f "$C/$t"/seed-*
done
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# Models (fit on the real faithful data, every covariance type) and Parquet tables.
FAITHFUL=$DATA/tabular/faithful.csv
[ -f "$FAITHFUL" ] || FAITHFUL=$ROOT/data/faithful.csv
for ct in full tied diag spherical; do
    "$G" fit "$FAITHFUL" -k 2 --covariance "$ct" -o "$C/model_json/seed-faithful-$ct.json" >/dev/null 2>&1
done
"$G" sample -n 20 -o "$C/parquet/seed-sample.parquet" "$C/model_json/seed-faithful-full.json" >/dev/null 2>&1
"$G" predict --proba -o "$C/parquet/seed-proba.parquet" "$C/model_json/seed-faithful-diag.json" "$FAITHFUL" >/dev/null 2>&1

python3 - "$DATA" "$C" "$FAITHFUL" <<'PY'
import io, struct, sys, zlib, zipfile
from pathlib import Path
import numpy as np

data, C, faithful = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])

# ---- CSV: the first byte of a csv input picks the read options (see fuzz_targets/csv.rs).
def csv_seed(name, body, opt=0x10):
    (C / "csv" / f"seed-{name}").write_bytes(bytes([opt]) + body)

def head(p, lines):
    return b"".join(p.read_bytes().splitlines(keepends=True)[:lines])

csv_seed("faithful.csv", head(faithful, 60))
iris = data / "tabular" / "iris.csv"
if iris.exists():
    csv_seed("iris.csv", head(iris, 60))
    csv_seed("iris-cols.csv", head(iris, 20), opt=0x12)
bw = np.load(data / "anomaly" / "4_breastw.npz")
X, y = bw["X"][:40], bw["y"][:40]
rows = [",".join(f"c{j}" for j in range(X.shape[1])) + ",w"]
rows += [",".join(str(v) for v in r) + f",{int(l) + 1}" for r, l in zip(X, y)]
csv_seed("breastw-weights.csv", ("\n".join(rows) + "\n").encode(), opt=0x1c)
csv_seed("semicolon-decimal-comma.csv", b"a;b\n1,5;2,25\n-3,0;4e2\n0,125;NaN\n")
csv_seed("bom-quoted-crlf.csv", b'\xef\xbb\xbf"x","y"\r\n"1.0","2"\r\n3,"4.5"\r\n')
csv_seed("tabs-missing.tsv", b"x\ty\tlabel\n1\t2\ta\n\t3\tb\n4\t5\tc\n")

# ---- NPY: dtypes, byte orders, layouts and shapes the reader supports.
def npy(arr, fortran=False):
    b = io.BytesIO()
    np.save(b, np.asfortranarray(arr) if fortran else arr)
    return b.getvalue()

F = np.array([[float(v.strip('"')) for v in l.split(",")[-2:]]
              for l in faithful.read_text().splitlines()[1:31]])
seeds = {
    "f8.npy": npy(F),
    "f4.npy": npy(F.astype("<f4")),
    "i4.npy": npy((F * 10).astype("<i4")),
    "be-f8.npy": npy(F.astype(">f8")),
    "fortran.npy": npy(F, fortran=True),
    "1d.npy": npy(F[:, 0].copy()),
    "u1.npy": npy(bw["X"][:20]),
    "f2.npy": npy(F.astype("<f2")),
    "bool.npy": npy(F > 3),
    "i8-empty.npy": npy(np.zeros((0, 3), dtype="<i8")),
}
hdr = npy(F)[:128]  # a version 2 header
v2 = bytearray(b"\x93NUMPY\x02\x00") + struct.pack("<I", 118) + hdr[10:128]
seeds["v2-f8.npy"] = bytes(v2) + F.tobytes()
for n, b in seeds.items():
    (C / "npy" / f"seed-{n}").write_bytes(b)

# ---- NPZ: the real breastw file, a cut of cardio, stored and deflated archives.
(C / "npz" / "seed-breastw.npz").write_bytes((data / "anomaly" / "4_breastw.npz").read_bytes())
card = np.load(data / "anomaly" / "6_cardio.npz")
b = io.BytesIO(); np.savez_compressed(b, X=card["X"][:25], y=card["y"][:25])
(C / "npz" / "seed-cardio-cut.npz").write_bytes(b.getvalue())
b = io.BytesIO(); np.savez(b, X=F.astype("<f4"), other=np.arange(5))
(C / "npz" / "seed-stored.npz").write_bytes(b.getvalue())
b = io.BytesIO(); np.savez(b, F[:, 1].copy())
(C / "npz" / "seed-arr0.npz").write_bytes(b.getvalue())

# ---- Sufficient statistics: the to_bytes layout (magic GMSS, version 1, covariance code,
# K, D, rows, Σw, Σ w ln p, then shift, N_k, first and second moments), from a hard split
# of the faithful data into two clusters.
def stats(code, X, k):
    lab = (X[:, 0] > np.median(X[:, 0])).astype(int) if k == 2 else np.zeros(len(X), int)
    n, d = X.shape
    shift = np.stack([X[lab == c].mean(0) for c in range(k)])
    nk = np.array([float((lab == c).sum()) for c in range(k)])
    s1 = np.stack([(X[lab == c] - shift[c]).sum(0) + 0.01 for c in range(k)])
    dev = [X[lab == c] - shift[c] for c in range(k)]
    if code == 0:
        s2 = np.stack([e.T @ e for e in dev])
    elif code == 1:
        s2 = sum(e.T @ e for e in dev)
    else:
        s2 = np.stack([(e * e).sum(0) for e in dev])
    out = b"GMSS" + struct.pack("<IBIIQdd", 1, code, k, d, n, float(n), -4.2 * n)
    for a in (shift, nk, s1, s2):
        out += np.ascontiguousarray(a, dtype="<f8").tobytes()
    return out

for code, name in enumerate(["full", "tied", "diag", "spherical"]):
    (C / "stats_bytes" / f"seed-{name}.gmss").write_bytes(stats(code, F, 2))
(C / "stats_bytes" / "seed-k1-full.gmss").write_bytes(stats(0, F[:, :1].copy(), 1))

# ---- Images: a real frame, and small PNG / BMP frames written here.
frame = data / "video" / "highway" / "input" / "in000001.jpg"
if frame.exists():
    (C / "image" / "seed-highway.jpg").write_bytes(frame.read_bytes())

def png(w, h, colour, bitdepth=8):
    ch = 3 if colour else 1
    raw = b"".join(b"\x00" + bytes(((x * 7 + y * 13 + c * 50) % 256) for x in range(w) for c in range(ch)) for y in range(h))
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", w, h, bitdepth, 2 if colour else 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")

def bmp(w, h):
    row = (w * 3 + 3) // 4 * 4
    pix = b"".join(bytes(((x + y * 3 + c * 40) % 256) for x in range(w) for c in range(3)).ljust(row, b"\0") for y in range(h))
    return (b"BM" + struct.pack("<IHHI", 54 + len(pix), 0, 0, 54)
            + struct.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, len(pix), 2835, 2835, 0, 0) + pix)

(C / "image" / "seed-rgb-16x12.png").write_bytes(png(16, 12, True))
(C / "image" / "seed-grey-9x7.png").write_bytes(png(9, 7, False))
(C / "image" / "seed-rgb-10x6.bmp").write_bytes(bmp(10, 6))
PY
du -sh "$C"
find "$C" -type f | wc -l
