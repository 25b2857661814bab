#!/usr/bin/env python3
"""Exploratory: does a k-NN local-density member added to the gaussmix ensemble carry over?
Reads gaussmix CLI scores saved in target/scores/<set>.csv, adds a z-scored k-NN term
(log distance to the 5th neighbour among <= 2000 seeded reference rows, z-scored features)
with weight w, and reports mean/worst ROC-AUC and mean AP on all sets and on the odd/even
halves (by set number). Candidates: w = 0 (current), 1/9 (one more member), 1/2."""
import sys
from pathlib import Path
import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.neighbors import NearestNeighbors

data = Path(sys.argv[1]); scores = Path(sys.argv[2])
res = {}
for p in sorted(data.glob("*.npz"), key=lambda q: int(q.stem.split("_")[0])):
    f = scores / (p.stem + ".csv")
    if not f.exists():
        continue
    d = np.load(p); x = np.asarray(d["X"], float); y = np.asarray(d["y"]).astype(int)
    g = np.loadtxt(f, delimiter=",", skiprows=1, usecols=0)
    sd = x.std(0); sd[sd == 0] = 1; z = (x - x.mean(0)) / sd
    rng = np.random.default_rng(0); n = len(z)
    ref = rng.choice(n, min(n, 2000), replace=False)
    nn = NearestNeighbors(n_neighbors=6).fit(z[ref])
    dist, idx = nn.kneighbors(z)
    self_ = np.isin(np.arange(n), ref)
    kd = np.where(self_, dist[:, 5], dist[:, 4])  # skip the row itself when it is a reference
    kn = z.shape[1] * np.log(kd + 1e-12)  # -log density of the k-NN estimator, up to a constant
    zs = lambda s: (s - s.mean()) / (s.std() or 1)
    gz, kz = zs(g), zs(kn)
    res[p.stem] = {w: (roc_auc_score(y, (1 - w) * gz + w * kz), average_precision_score(y, (1 - w) * gz + w * kz))
                   for w in (0.0, 1 / 9, 0.5)}
    print(p.stem, " ".join(f"{v[0]:.3f}" for v in res[p.stem].values()), flush=True)
for w in (0.0, 1 / 9, 0.5):
    for label, keep in [("all", lambda s: True), ("odd", lambda s: int(s.split("_")[0]) % 2 == 1),
                        ("even", lambda s: int(s.split("_")[0]) % 2 == 0)]:
        a = np.array([res[s][w] for s in res if keep(s)])
        print(f"w={w:.3f} {label}: mean AUC {a[:,0].mean():.4f} worst {a[:,0].min():.3f} mean AP {a[:,1].mean():.4f} (n={len(a)})")
