#!/usr/bin/env python3
"""Generate scikit-learn parity fixtures for the gaussmix crate.

Usage (from the repository root):

    pip install -r scripts/requirements-fixtures.txt
    python3 scripts/gen_fixtures.py            # writes crates/gaussmix/tests/fixtures/*.json
    python3 scripts/gen_fixtures.py --check    # also re-checks shapes and the reference EM

Every case runs ``sklearn.mixture.GaussianMixture`` with explicit ``weights_init``,
``means_init`` and ``precisions_init`` (so no k-means or responsibility initialisation
runs) on data drawn from ``numpy.random.default_rng`` with fixed seeds, and records the
inputs and everything the fitted model exposes. Floats are written with Python's
``repr`` (shortest round-tripping form), so the JSON holds the doubles exactly.

The offset cases (data shifted by +1e6) also carry ``reference_result``: the same EM
iterations (same initial parameters, same stopping rule, same ``10*eps`` added to N_k)
computed by ``mpmath`` at 40 significant digits with *centred* second moments and a
centred E-step, rounded to double only at the end. scikit-learn's diag/spherical M-step
(E[x^2] - mu^2) and diag/spherical E-step (expanded quadratic) lose digits there.

Running the script twice on the same machine gives byte-identical files. BLAS is pinned
to one thread for that; a different CPU or BLAS build may still change the last bits of
scikit-learn's numbers (not of ``reference_result``, which is pure mpmath).
"""

import os

# Deterministic BLAS: one thread, set before numpy is imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import mpmath  # noqa: E402
import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.mixture import GaussianMixture  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "crates" / "gaussmix" / "tests" / "fixtures"

OFFSET = 1.0e6
REF_DPS = 40  # decimal digits for the mpmath reference EM
EPS64 = float(np.finfo(np.float64).eps)

COV_TYPES = ("full", "tied", "diag", "spherical")


# ---------------------------------------------------------------------------
# Data and initial parameters


def make_base_data(seed=20240611):
    """N = 400, D = 3, K = 3 overlapping clusters with different covariances."""
    rng = np.random.default_rng(seed)
    true_means = np.array([[0.0, 0.0, 0.0],
                           [3.5, 1.0, -1.0],
                           [1.0, 4.0, 2.0]])
    # Different shapes: correlated, elongated, small and round.
    true_covs = np.array([
        [[1.0, 0.5, 0.2], [0.5, 1.5, -0.3], [0.2, -0.3, 0.8]],
        [[2.0, -0.6, 0.0], [-0.6, 0.7, 0.1], [0.0, 0.1, 1.2]],
        [[0.5, 0.1, 0.05], [0.1, 0.6, 0.0], [0.05, 0.0, 0.4]],
    ])
    counts = (160, 140, 100)
    parts = [rng.multivariate_normal(true_means[k], true_covs[k], size=counts[k])
             for k in range(3)]
    X = np.concatenate(parts, axis=0)
    X = X[rng.permutation(X.shape[0])]
    # Perturbed (not equal) initial means.
    means_init = true_means + rng.normal(0.0, 0.5, size=true_means.shape)
    weights_init = np.array([0.25, 0.375, 0.375])
    glob = np.cov(X.T)
    cov_guess = np.array([0.5 * glob + 0.2 * k * np.eye(3) for k in range(3)])
    return X, weights_init, means_init, cov_guess


def precisions_init_for(cov_type, cov_guess):
    """A reasonable initial precision guess in scikit-learn's shape."""
    if cov_type == "full":
        return symmetrize(np.array([np.linalg.inv(c) for c in cov_guess]))  # K x D x D
    if cov_type == "tied":
        return symmetrize(np.linalg.inv(cov_guess.mean(axis=0)))            # D x D
    if cov_type == "diag":
        return 1.0 / np.array([np.diag(c) for c in cov_guess])          # K x D
    if cov_type == "spherical":
        return 1.0 / np.array([np.diag(c).mean() for c in cov_guess])   # K
    raise ValueError(cov_type)


def symmetrize(a):
    """Exactly symmetric precision matrix (or stack of them)."""
    if a.ndim == 3:
        return 0.5 * (a + np.transpose(a, (0, 2, 1)))
    return 0.5 * (a + a.T)


def make_1d_data(seed=7):
    rng = np.random.default_rng(seed)
    X = rng.normal(2.5, 1.7, size=(50, 1))
    return X, np.array([1.0]), np.array([[2.0]]), np.array([[[0.5]]])


# ---------------------------------------------------------------------------
# scikit-learn run


def run_sklearn(X, cov_type, weights_init, means_init, precisions_init,
                tol, max_iter, reg_covar):
    K = means_init.shape[0]
    gm = GaussianMixture(
        n_components=K, covariance_type=cov_type, tol=tol, max_iter=max_iter,
        reg_covar=reg_covar, weights_init=weights_init.copy(),
        means_init=means_init.copy(), precisions_init=precisions_init.copy(),
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm.fit(X)
    return {
        "weights": gm.weights_.tolist(),
        "means": gm.means_.tolist(),
        "covariances": gm.covariances_.tolist(),
        "precisions": gm.precisions_.tolist(),
        "precisions_cholesky": gm.precisions_cholesky_.tolist(),
        "converged": bool(gm.converged_),
        "n_iter": int(gm.n_iter_),
        "lower_bound": float(gm.lower_bound_),
        "lower_bounds": [float(v) for v in gm.lower_bounds_],
        "score_samples": gm.score_samples(X).tolist(),
        "predict_proba": gm.predict_proba(X).tolist(),
        "predict": [int(v) for v in gm.predict(X)],
        "bic": float(gm.bic(X)),
        "aic": float(gm.aic(X)),
        "score": float(gm.score(X)),
    }


# ---------------------------------------------------------------------------
# Careful reference EM in mpmath (centred moments, centred E-step)

mpf = mpmath.mpf


def _chol_lower(A):
    """Lower Cholesky factor L (L L^T = A) of a symmetric PD list-of-lists matrix."""
    n = len(A)
    L = [[mpf(0)] * n for _ in range(n)]
    for j in range(n):
        s = A[j][j] - mpmath.fsum(L[j][p] ** 2 for p in range(j))
        if s <= 0:
            raise ValueError("reference EM: matrix not positive definite")
        L[j][j] = mpmath.sqrt(s)
        for i in range(j + 1, n):
            L[i][j] = (A[i][j] - mpmath.fsum(L[i][p] * L[j][p] for p in range(j))) / L[j][j]
    return L


def _inv_lower(L):
    n = len(L)
    M = [[mpf(0)] * n for _ in range(n)]
    for j in range(n):
        M[j][j] = 1 / L[j][j]
        for i in range(j + 1, n):
            M[i][j] = -mpmath.fsum(L[i][p] * M[p][j] for p in range(j, i)) / L[i][i]
    return M


def _transpose(A):
    return [list(r) for r in zip(*A)]


def _matmul(A, B):
    return [[mpmath.fsum(A[i][p] * B[p][j] for p in range(len(B)))
             for j in range(len(B[0]))] for i in range(len(A))]


def _flip(A):
    return [list(reversed(r)) for r in reversed(A)]


def _prec_chol_from_cov(C):
    """Upper triangular P with P P^T = C^{-1}: P = (L^{-1})^T, C = L L^T (as sklearn)."""
    return _transpose(_inv_lower(_chol_lower(C)))


def _prec_chol_from_prec(Pm):
    """Upper triangular U with U U^T = Pm (sklearn's flip-Cholesky-flip)."""
    return _flip(_chol_lower(_flip(Pm)))


class ReferenceEM:
    """scikit-learn's EM loop, computed in mpmath with centred statistics."""

    def __init__(self, X, cov_type, weights, means, precisions, tol, max_iter, reg_covar):
        self.X = [[mpf(float(v)) for v in row] for row in X]
        self.N = len(self.X)
        self.D = len(self.X[0])
        self.K = len(means)
        self.cov_type = cov_type
        self.tol = mpf(tol)
        self.max_iter = max_iter
        self.reg = mpf(reg_covar)
        self.w = [mpf(float(v)) for v in weights]
        self.mu = [[mpf(float(v)) for v in row] for row in means]
        P = np.asarray(precisions)
        if cov_type == "full":
            self.pc = [_prec_chol_from_prec([[mpf(float(v)) for v in r] for r in Pk]) for Pk in P]
        elif cov_type == "tied":
            self.pc = _prec_chol_from_prec([[mpf(float(v)) for v in r] for r in P])
        else:
            self.pc = [mpmath.sqrt(mpf(float(v))) for v in P.ravel()]
            if cov_type == "diag":
                self.pc = [self.pc[k * self.D:(k + 1) * self.D] for k in range(self.K)]
        self.cov = None

    # log N(x | mu_k, Sigma_k) for every n, k -- centred: ||(x - mu_k) P_k||^2
    def log_prob(self):
        D, K = self.D, self.K
        c = D * mpmath.log(2 * mpmath.pi)
        out = [[None] * K for _ in range(self.N)]
        for k in range(K):
            mu = self.mu[k]
            if self.cov_type in ("full", "tied"):
                P = self.pc[k] if self.cov_type == "full" else self.pc
                logdet = mpmath.fsum(mpmath.log(P[i][i]) for i in range(D))
                for n, x in enumerate(self.X):
                    d = [x[i] - mu[i] for i in range(D)]
                    q = mpmath.fsum(mpmath.fsum(d[i] * P[i][j] for i in range(j + 1)) ** 2
                                    for j in range(D))
                    out[n][k] = -(c + q) / 2 + logdet
            elif self.cov_type == "diag":
                p = self.pc[k]
                logdet = mpmath.fsum(mpmath.log(v) for v in p)
                for n, x in enumerate(self.X):
                    q = mpmath.fsum(((x[i] - mu[i]) * p[i]) ** 2 for i in range(D))
                    out[n][k] = -(c + q) / 2 + logdet
            else:
                p = self.pc[k]
                logdet = D * mpmath.log(p)
                p2 = p * p
                for n, x in enumerate(self.X):
                    q = mpmath.fsum((x[i] - mu[i]) ** 2 for i in range(D)) * p2
                    out[n][k] = -(c + q) / 2 + logdet
        return out

    def weighted_log_prob(self):
        lw = [mpmath.log(w) for w in self.w]
        return [[row[k] + lw[k] for k in range(self.K)] for row in self.log_prob()]

    @staticmethod
    def _lse(row):
        m = max(row)
        return m + mpmath.log(mpmath.fsum(mpmath.exp(v - m) for v in row))

    def e_step(self):
        wlp = self.weighted_log_prob()
        norm = [self._lse(r) for r in wlp]
        resp = [[mpmath.exp(r[k] - s) for k in range(self.K)] for r, s in zip(wlp, norm)]
        return mpmath.fsum(norm) / self.N, resp

    def m_step(self, resp):
        N, D, K = self.N, self.D, self.K
        X = self.X
        nk = [mpmath.fsum(resp[n][k] for n in range(N)) + 10 * mpf(EPS64) for k in range(K)]
        mu = [[mpmath.fsum(resp[n][k] * X[n][i] for n in range(N)) / nk[k] for i in range(D)]
              for k in range(K)]
        # Centred second moments S_k = sum_n r_nk (x_n - mu_k)(x_n - mu_k)^T (or diagonal).
        if self.cov_type in ("full", "tied"):
            S = []
            for k in range(K):
                diffs = [[X[n][i] - mu[k][i] for i in range(D)] for n in range(N)]
                Sk = [[mpf(0)] * D for _ in range(D)]
                for i in range(D):
                    for j in range(i + 1):
                        v = mpmath.fsum(resp[n][k] * diffs[n][i] * diffs[n][j] for n in range(N))
                        Sk[i][j] = Sk[j][i] = v
                S.append(Sk)
            if self.cov_type == "full":
                cov = [[[S[k][i][j] / nk[k] + (self.reg if i == j else 0) for j in range(D)]
                        for i in range(D)] for k in range(K)]
                self.pc = [_prec_chol_from_cov(ck) for ck in cov]
            else:
                tot = mpmath.fsum(nk)
                cov = [[mpmath.fsum(S[k][i][j] for k in range(K)) / tot
                        + (self.reg if i == j else 0) for j in range(D)] for i in range(D)]
                self.pc = _prec_chol_from_cov(cov)
        else:
            var = [[mpmath.fsum(resp[n][k] * (X[n][i] - mu[k][i]) ** 2 for n in range(N)) / nk[k]
                    + self.reg for i in range(D)] for k in range(K)]
            if self.cov_type == "diag":
                cov = var
                self.pc = [[1 / mpmath.sqrt(v) for v in row] for row in cov]
            else:
                cov = [mpmath.fsum(row) / D for row in var]
                self.pc = [1 / mpmath.sqrt(v) for v in cov]
        tot = mpmath.fsum(nk)
        self.w = [v / tot for v in nk]
        self.mu = mu
        self.cov = cov

    def fit(self):
        lb = mpf("-inf")
        lbs = []
        converged = False
        n_iter = 0
        for n_iter in range(1, self.max_iter + 1):
            prev = lb
            lb, resp = self.e_step()
            self.m_step(resp)
            lbs.append(lb)
            if abs(lb - prev) < self.tol:
                converged = True
                break
        self.converged, self.n_iter, self.lower_bound, self.lower_bounds = (
            converged, n_iter, lb, lbs)
        return self

    def n_parameters(self):
        D, K = self.D, self.K
        cov = {"full": K * D * (D + 1) / 2, "diag": K * D,
               "tied": D * (D + 1) / 2, "spherical": K}[self.cov_type]
        return int(cov + D * K + K - 1)

    def result(self):
        f = lambda v: float(v)  # noqa: E731  (mpf -> nearest double)
        fl = lambda a: [fl(v) for v in a] if isinstance(a, list) else f(a)  # noqa: E731
        D = self.D
        if self.cov_type == "full":
            prec = [_matmul(P, _transpose(P)) for P in self.pc]
        elif self.cov_type == "tied":
            prec = _matmul(self.pc, _transpose(self.pc))
        elif self.cov_type == "diag":
            prec = [[v * v for v in row] for row in self.pc]
        else:
            prec = [v * v for v in self.pc]
        wlp = self.weighted_log_prob()
        ss = [self._lse(r) for r in wlp]
        proba = [[mpmath.exp(r[k] - s) for k in range(self.K)] for r, s in zip(wlp, ss)]
        pred = [max(range(self.K), key=lambda k: r[k]) for r in wlp]
        score = mpmath.fsum(ss) / self.N
        N = self.N
        bic = -2 * score * N + self.n_parameters() * mpmath.log(N)
        aic = -2 * score * N + 2 * self.n_parameters()
        del D
        return {
            "weights": fl(self.w),
            "means": fl(self.mu),
            "covariances": fl(self.cov),
            "precisions": fl(prec),
            "precisions_cholesky": fl(self.pc),
            "converged": bool(self.converged),
            "n_iter": int(self.n_iter),
            "lower_bound": f(self.lower_bound),
            "lower_bounds": fl(self.lower_bounds),
            "score_samples": fl(ss),
            "predict_proba": fl(proba),
            "predict": [int(v) for v in pred],
            "bic": f(bic),
            "aic": f(aic),
            "score": f(score),
        }


def run_reference(X, cov_type, weights_init, means_init, precisions_init,
                  tol, max_iter, reg_covar):
    with mpmath.workdps(REF_DPS):
        em = ReferenceEM(X, cov_type, weights_init, means_init, precisions_init,
                         tol, max_iter, reg_covar)
        return em.fit().result()


# ---------------------------------------------------------------------------
# Cases


LOSS_NOTE = {
    "full": "scikit-learn's full M-step is centred, but its E-step forms X@P - mu@P, "
            "a difference of numbers of size 1e6 (absolute error ~1e-10 per row), so "
            "result and reference_result agree only to a few 1e-9 relative here.",
    "diag": "scikit-learn's diag M-step uses raw moments E[x^2]-mu^2 and its diag "
            "E-step expands the quadratic (sum mu^2 p - 2 x mu p + x^2 p), both of which "
            "cancel catastrophically at 1e6 from the origin: result is kept as "
            "scikit-learn's actual output, but compare an implementation that centres "
            "against reference_result.",
}


def max_rel_diff(a, b):
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def build_cases():
    X, w0, m0, cov_guess = make_base_data()
    cases = []
    for ct in COV_TYPES:
        cases.append(dict(case=ct, covariance_type=ct, X=X, weights_init=w0, means_init=m0,
                          precisions_init=precisions_init_for(ct, cov_guess),
                          tol=1e-3, max_iter=100, reg_covar=1e-6, reference=False,
                          description=f"N=400, D=3, K=3 synthetic clusters, {ct} covariance, "
                                      "fit to convergence"))
    Xo = X + OFFSET
    for ct in ("full", "diag"):
        cases.append(dict(case=f"{ct}_offset", covariance_type=ct, X=Xo, weights_init=w0,
                          means_init=m0 + OFFSET,
                          precisions_init=precisions_init_for(ct, cov_guess),
                          tol=1e-3, max_iter=100, reg_covar=1e-6, reference=True,
                          description=f"the base data shifted by +1e6 in every coordinate, "
                                      f"{ct} covariance"))
    for ct in COV_TYPES:
        cases.append(dict(case=f"{ct}_iter5", covariance_type=ct, X=X, weights_init=w0,
                          means_init=m0,
                          precisions_init=precisions_init_for(ct, cov_guess),
                          tol=0.0, max_iter=5, reg_covar=1e-6, reference=False,
                          description=f"the base data, {ct} covariance, exactly 5 EM "
                                      "iterations (tol=0, unconverged)"))
    X1, w1, m1, p1 = make_1d_data()
    cases.append(dict(case="full_1d_k1", covariance_type="full", X=X1, weights_init=w1,
                      means_init=m1, precisions_init=p1, tol=1e-3, max_iter=100,
                      reg_covar=1e-6, reference=False,
                      description="D=1, K=1, N=50: the closed-form ML Gaussian "
                                  "(mean, biased variance + reg_covar)"))
    return cases


def case_document(c):
    args = (c["X"], c["covariance_type"], c["weights_init"], c["means_init"],
            c["precisions_init"], c["tol"], c["max_iter"], c["reg_covar"])
    doc = {
        "sklearn_version": sklearn.__version__,
        "numpy_version": np.__version__,
        "case": c["case"],
        "description": c["description"],
        "covariance_type": c["covariance_type"],
        "n_components": int(c["means_init"].shape[0]),
        "n_samples": int(c["X"].shape[0]),
        "n_features": int(c["X"].shape[1]),
        "tol": float(c["tol"]),
        "max_iter": int(c["max_iter"]),
        "reg_covar": float(c["reg_covar"]),
        "X": c["X"].tolist(),
        "weights_init": c["weights_init"].tolist(),
        "means_init": c["means_init"].tolist(),
        "precisions_init": np.asarray(c["precisions_init"]).tolist(),
        "result": run_sklearn(*args),
    }
    if c["reference"]:
        ref = run_reference(*args)
        doc["reference_result"] = ref
        res = doc["result"]
        doc["note"] = (
            "reference_result: the same EM iterations (same init, stopping rule and "
            "10*eps added to N_k) computed with mpmath at %d digits using centred "
            "second moments and a centred E-step, rounded to double at the end. %s "
            "Measured max relative difference "
            "result vs reference_result: covariances %.1e, means %.1e, "
            "score_samples %.1e, lower_bound %.1e (n_iter %d vs %d)."
            % (REF_DPS, LOSS_NOTE[c["covariance_type"]],
               max_rel_diff(res["covariances"], ref["covariances"]),
               max_rel_diff(res["means"], ref["means"]),
               max_rel_diff(res["score_samples"], ref["score_samples"]),
               max_rel_diff(res["lower_bound"], ref["lower_bound"]),
               res["n_iter"], ref["n_iter"]))
    return doc


# ---------------------------------------------------------------------------
# JSON output: floats via repr (exact round trip), numeric lists kept on one line.


def _dump(v, indent=0):
    pad = " " * indent
    if isinstance(v, dict):
        items = [f'{pad}  {json.dumps(k)}: {_dump(val, indent + 2).lstrip()}'
                 for k, val in v.items()]
        return pad + "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(v, list):
        if all(not isinstance(e, (list, dict)) for e in v):
            return pad + "[" + ", ".join(_scalar(e) for e in v) + "]"
        inner = ",\n".join(_dump(e, indent + 1) for e in v)
        return pad + "[\n" + inner + "\n" + pad + "]"
    return pad + _scalar(v)


def _scalar(e):
    if isinstance(e, bool) or e is None or isinstance(e, str):
        return json.dumps(e)
    if isinstance(e, int):
        return str(e)
    if isinstance(e, float):
        if not math.isfinite(e):
            raise ValueError("non-finite float in fixture")
        return repr(e)
    raise TypeError(type(e))


def write_fixture(doc, path):
    text = _dump(doc) + "\n"
    assert json.loads(text) == doc
    path.write_text(text, encoding="utf-8")


# ---------------------------------------------------------------------------
# Checks


EXPECTED_SHAPES = {
    "full": lambda K, D: {"precisions_init": (K, D, D), "covariances": (K, D, D),
                          "precisions": (K, D, D), "precisions_cholesky": (K, D, D)},
    "tied": lambda K, D: {"precisions_init": (D, D), "covariances": (D, D),
                          "precisions": (D, D), "precisions_cholesky": (D, D)},
    "diag": lambda K, D: {"precisions_init": (K, D), "covariances": (K, D),
                          "precisions": (K, D), "precisions_cholesky": (K, D)},
    "spherical": lambda K, D: {"precisions_init": (K,), "covariances": (K,),
                               "precisions": (K,), "precisions_cholesky": (K,)},
}


def check_fixture(path):
    doc = json.loads(path.read_text(encoding="utf-8"))
    ct, K = doc["covariance_type"], doc["n_components"]
    X = np.array(doc["X"])
    N, D = X.shape
    assert (N, D) == (doc["n_samples"], doc["n_features"])
    shp = EXPECTED_SHAPES[ct](K, D)
    assert np.shape(doc["weights_init"]) == (K,)
    assert np.shape(doc["means_init"]) == (K, D)
    assert np.shape(doc["precisions_init"]) == shp["precisions_init"]
    for key in ["result"] + (["reference_result"] if "reference_result" in doc else []):
        r = doc[key]
        assert np.shape(r["weights"]) == (K,)
        assert np.shape(r["means"]) == (K, D)
        for f in ("covariances", "precisions", "precisions_cholesky"):
            assert np.shape(r[f]) == shp[f], (path.name, key, f, np.shape(r[f]))
        assert np.shape(r["score_samples"]) == (N,)
        assert np.shape(r["predict_proba"]) == (N, K)
        assert np.shape(r["predict"]) == (N,)
        assert len(r["lower_bounds"]) == r["n_iter"]
        assert r["lower_bound"] == r["lower_bounds"][-1]
        assert isinstance(r["converged"], bool)
        assert abs(sum(r["weights"]) - 1) < 1e-12
        pp = np.array(r["predict_proba"])
        assert np.allclose(pp.sum(axis=1), 1.0, rtol=0, atol=1e-12)
        assert list(np.argmax(pp, axis=1)) == r["predict"]
        assert abs(np.mean(r["score_samples"]) - r["score"]) <= 1e-12 * abs(r["score"])
        # P P^T = Sigma^{-1}, P upper triangular.
        Pc = np.array(r["precisions_cholesky"])
        C = np.array(r["covariances"])
        if ct in ("full", "tied"):
            Ps = Pc if ct == "full" else Pc[None]
            Cs = C if ct == "full" else C[None]
            for P, Ck in zip(Ps, Cs):
                assert np.allclose(P, np.triu(P), rtol=0, atol=0)
                assert np.allclose(P @ P.T @ Ck, np.eye(D), atol=1e-9)
        else:
            assert np.allclose(Pc ** 2 * C, 1.0, rtol=1e-12)
    if doc["max_iter"] == 5 and doc["tol"] == 0.0:
        assert doc["result"]["n_iter"] == 5 and not doc["result"]["converged"]
    if doc["case"] == "full_1d_k1":
        r = doc["result"]
        x = X[:, 0]
        assert abs(r["means"][0][0] - x.mean()) < 1e-12 * abs(x.mean())
        assert abs(r["covariances"][0][0][0] - (x.var() + doc["reg_covar"])) < 1e-12
    size = path.stat().st_size
    assert size < 200_000, (path.name, size)
    return doc, size


def check_reference_against_sklearn(cases):
    """The mpmath EM must agree with sklearn where sklearn is not losing digits."""
    print("reference EM vs sklearn on the unshifted data (max rel. diff):", file=sys.stderr)
    for c in cases:
        if c["case"] not in COV_TYPES and not c["case"].endswith("_iter5"):
            continue
        args = (c["X"], c["covariance_type"], c["weights_init"], c["means_init"],
                c["precisions_init"], c["tol"], c["max_iter"], c["reg_covar"])
        s, r = run_sklearn(*args), run_reference(*args)
        assert s["n_iter"] == r["n_iter"] and s["converged"] == r["converged"]
        diffs = {f: max_rel_diff(s[f], r[f]) for f in
                 ("weights", "means", "covariances", "precisions_cholesky", "score_samples",
                  "lower_bounds", "predict_proba")}
        print(f"  {c['case']:16s} " + " ".join(f"{k}={v:.1e}" for k, v in diffs.items()),
              file=sys.stderr)
        assert max(v for k, v in diffs.items() if k != "predict_proba") < 1e-9, diffs


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true",
                    help="after writing, cross-check the mpmath reference EM against "
                         "sklearn on the unshifted cases (slow)")
    ap.add_argument("--out", type=Path, default=OUT_DIR)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    cases = build_cases()
    for c in cases:
        path = args.out / f"{c['case']}.json"
        doc = case_document(c)
        write_fixture(doc, path)
        _, size = check_fixture(path)
        r = doc["result"]
        print(f"{path.name:24s} {size:7d} B  n_iter={r['n_iter']:3d} "
              f"converged={r['converged']!s:5s} lower_bound={r['lower_bound']!r}",
              file=sys.stderr)
        if "note" in doc:
            print("    " + doc["note"].split("Measured ")[-1], file=sys.stderr)
    if args.check:
        check_reference_against_sklearn(cases)


if __name__ == "__main__":
    main()
