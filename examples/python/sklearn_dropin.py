"""gaussmix as a drop-in for scikit-learn's GaussianMixture, on iris (data/iris.csv).

Run from the repository root once the Python package is installed (scripts/test.sh and
.ci/run build it into target/pyvenv):

    target/pyvenv/bin/python examples/python/sklearn_dropin.py
"""

import csv
import pathlib

import numpy as np
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from gaussmix import GaussianMixture

root = pathlib.Path(__file__).resolve().parents[2]
with open(root / "data" / "iris.csv", newline="") as f:
    rows = list(csv.reader(f))
X = np.array([[float(v) for v in r[1:5]] for r in rows[1:]])
print(f"iris: {X.shape[0]} rows x {X.shape[1]} columns")

ours = GaussianMixture(n_components=3, covariance_type="full", n_init=5, random_state=0).fit(X)
theirs = SkGaussianMixture(n_components=3, covariance_type="full", n_init=5, random_state=0).fit(X)

print(f"gaussmix     mean log-likelihood {ours.score(X):.6f}  BIC {ours.bic(X):.2f}")
print(f"scikit-learn mean log-likelihood {theirs.score(X):.6f}  BIC {theirs.bic(X):.2f}")
# both reach the same optimum on iris with five restarts
assert abs(ours.score(X) - theirs.score(X)) < 1e-3

labels = ours.predict(X)
print("rows per component:", np.bincount(labels).tolist())
samples, components = ours.sample(5)
print("five samples drawn from the model, components", components.tolist())
