#!/usr/bin/env python3
"""Generate scikit-learn parity fixtures for gaussmix's variational mixture (gaussmix::vb).

Usage (from the repository root, with scripts/requirements-fixtures.txt installed):

    python3 scripts/gen_vb_fixtures.py   # writes crates/gaussmix/tests/fixtures/vb/*.json

Each case runs ``sklearn.mixture.BayesianGaussianMixture`` with ``init_params="kmeans"``
on seeded data and records the k-means labels its initialisation used (the same
``KMeans(n_init=1, random_state=RandomState(seed))`` call scikit-learn makes), the priors,
every fitted hyperparameter, the lower bounds and ``score_samples`` / ``predict_proba`` on
probe rows. gaussmix starts from those labels, so both run the same iterations. Floats are
written with ``repr`` (round-tripping), BLAS pinned to one thread.
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import json  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from sklearn.cluster import KMeans  # noqa: E402
from sklearn.mixture import BayesianGaussianMixture  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "crates" / "gaussmix" / "tests" / "fixtures" / "vb"


def data(seed):
    """Three overlapping anisotropic clusters in 3-D, shifted off the origin."""
    rng = np.random.default_rng(seed)
    parts = []
    for c, n in enumerate((120, 90, 60)):
        a = rng.normal(size=(3, 3)) * 0.5 + np.eye(3)
        parts.append(rng.normal(size=(n, 3)) @ a + rng.normal(0, 3, size=3) + 10.0)
    x = np.concatenate(parts)
    return x[rng.permutation(len(x))]


def tolist(a):
    return np.asarray(a, dtype=np.float64).tolist()


def case(ct, wtype, k=5, seed=3, **extra):
    x = data(seed)
    labels = KMeans(n_clusters=k, n_init=1, random_state=np.random.RandomState(seed)).fit(x).labels_
    g = BayesianGaussianMixture(
        n_components=k, covariance_type=ct, weight_concentration_prior_type=wtype,
        init_params="kmeans", random_state=seed, tol=1e-6, max_iter=60, **extra,
    )
    g.fit(x)
    probes = x[::37]
    wc = g.weight_concentration_
    doc = {
        "sklearn": sklearn.__version__,
        "covariance_type": ct,
        "weight_concentration_prior_type": wtype,
        "n_components": k,
        "params": {key: (tolist(v) if isinstance(v, np.ndarray) else v) for key, v in extra.items()},
        "tol": 1e-6,
        "max_iter": 60,
        "x": tolist(x),
        "init_labels": [int(v) for v in labels],
        "weight_concentration_prior": g.weight_concentration_prior_,
        "mean_precision_prior": g.mean_precision_prior_,
        "mean_prior": tolist(g.mean_prior_),
        "degrees_of_freedom_prior": g.degrees_of_freedom_prior_,
        "covariance_prior": tolist(g.covariance_prior_),
        "weight_concentration": tolist(wc[0] if isinstance(wc, tuple) else wc),
        "weight_concentration_b": tolist(wc[1]) if isinstance(wc, tuple) else None,
        "mean_precision": tolist(g.mean_precision_),
        "means": tolist(g.means_),
        "degrees_of_freedom": tolist(np.broadcast_to(g.degrees_of_freedom_, (k,))),
        "covariances": tolist(g.covariances_),
        "precisions_cholesky": tolist(g.precisions_cholesky_),
        "weights": tolist(g.weights_),
        "converged": bool(g.converged_),
        "n_iter": int(g.n_iter_),
        "lower_bound": float(np.ravel(g.lower_bound_)[-1]),
        "lower_bounds": [float(np.ravel(v)[-1]) for v in getattr(g, "lower_bounds_", [])],
        "probes": tolist(probes),
        "score_samples": tolist(g.score_samples(probes)),
        "predict_proba": tolist(g.predict_proba(probes)),
    }
    return doc


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    cases = []
    for ct in ("full", "tied", "diag", "spherical"):
        for wtype in ("dirichlet_process", "dirichlet_distribution"):
            cases.append((f"{ct}_{'dp' if wtype == 'dirichlet_process' else 'dd'}", case(ct, wtype)))
    # explicit priors
    cases.append(("full_dp_priors", case(
        "full", "dirichlet_process", weight_concentration_prior=0.01, mean_precision_prior=0.5,
        mean_prior=np.array([10.0, 9.0, 11.0]), degrees_of_freedom_prior=5.0,
        covariance_prior=np.eye(3) * 2.0)))
    for name, doc in cases:
        (OUT / f"{name}.json").write_text(json.dumps(doc) + "\n")
        print(f"{name}: n_iter {doc['n_iter']} converged {doc['converged']} "
              f"lower bound {doc['lower_bound']:.6f} weights {np.round(doc['weights'], 3)}")


if __name__ == "__main__":
    main()
