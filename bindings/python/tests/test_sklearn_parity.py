"""Number-for-number parity with scikit-learn given the same initial parameters."""

import json
import pathlib
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture as SkGMM

from gaussmix import GaussianMixture

from conftest import blobs, sklearn_style_inits

FIXTURES = pathlib.Path(__file__).resolve().parents[3] / "crates" / "gaussmix" / "tests" / "fixtures"
TYPES = ["full", "tied", "diag", "spherical"]
ATTRS = ["weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"]


def close(got, want, rtol, what, floor=1e-6):
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    assert got.shape == want.shape, what
    scale = np.abs(want).max() if want.size else 0.0
    err = np.abs(got - want)
    lim = rtol * np.maximum(np.abs(want), floor * scale)
    assert np.all(err <= lim), f"{what}: max rel err {np.max(err / np.maximum(np.abs(want), 1e-300)):.3e}"


def both(x, ct, k, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = GaussianMixture(k, covariance_type=ct, **kw).fit(x)
        b = SkGMM(k, covariance_type=ct, **kw).fit(x)
    return a, b


def compare(a, b, x, rtol=1e-8):
    assert a.n_iter_ == b.n_iter_
    assert a.converged_ == b.converged_
    for attr in ATTRS:
        close(getattr(a, attr), getattr(b, attr), rtol, attr)
    close(a.lower_bounds_, b.lower_bounds_, rtol, "lower_bounds_")
    close(a.lower_bound_, b.lower_bound_, rtol, "lower_bound_")
    close(a.score_samples(x), b.score_samples(x), rtol, "score_samples")
    close(a.predict_proba(x), b.predict_proba(x), 1e-6, "predict_proba", floor=1e-3)
    np.testing.assert_array_equal(a.predict(x), b.predict(x))
    close(a.bic(x), b.bic(x), rtol, "bic")
    close(a.aic(x), b.aic(x), rtol, "aic")
    close(a.score(x), b.score(x), rtol, "score")


@pytest.mark.parametrize("ct", TYPES)
def test_matches_sklearn_live(ct):
    x = blobs(1500, 3, 3, seed=1)
    a, b = both(x, ct, 3, tol=1e-6, max_iter=200, **sklearn_style_inits(x, 3, ct))
    compare(a, b, x)


@pytest.mark.parametrize("ct", TYPES)
def test_matches_sklearn_fixed_iterations(ct):
    x = blobs(900, 4, 2, seed=2)
    a, b = both(x, ct, 2, tol=0.0, max_iter=7, **sklearn_style_inits(x, 2, ct, seed=3))
    assert a.n_iter_ == 7 and not a.converged_
    compare(a, b, x)


def test_k1_is_the_ml_gaussian():
    x = blobs(500, 2, 1, seed=4)
    a = GaussianMixture(1).fit(x)
    np.testing.assert_allclose(a.means_[0], x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(
        a.covariances_[0], np.cov(x.T, bias=True) + 1e-6 * np.eye(2), rtol=1e-10
    )


def load(case):
    return json.loads((FIXTURES / f"{case}.json").read_text())


def fit_fixture(f):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return GaussianMixture(
            f["n_components"],
            covariance_type=f["covariance_type"],
            tol=f["tol"],
            max_iter=f["max_iter"],
            reg_covar=f["reg_covar"],
            weights_init=np.array(f["weights_init"]),
            means_init=np.array(f["means_init"]),
            precisions_init=np.array(f["precisions_init"]),
        ).fit(np.array(f["X"]))


def check_fixture(case, key, rtol=1e-8, floor=1e-6):
    f = load(case)
    r = f[key]
    g = fit_fixture(f)
    x = np.array(f["X"])
    assert g.n_iter_ == r["n_iter"] and g.converged_ == r["converged"]
    for attr in ["weights", "means", "covariances", "precisions", "precisions_cholesky"]:
        close(getattr(g, attr + "_"), r[attr], rtol, f"{case} {attr}", floor)
    close(g.lower_bounds_, r["lower_bounds"], rtol, f"{case} lower_bounds")
    if key == "result":
        close(g.score_samples(x), r["score_samples"], rtol, f"{case} score_samples")
        assert g.predict(x).tolist() == r["predict"]


@pytest.mark.parametrize(
    "case", TYPES + [t + "_iter5" for t in TYPES] + ["full_1d_k1"]
)
def test_matches_committed_fixtures(case):
    check_fixture(case, "result")


def test_offset_1e6_full_matches_sklearn():
    # scikit-learn's E-step at 1e6 keeps ~8 digits: small precision entries are compared
    # to 1e-8 of the array's largest entry
    check_fixture("full_offset", "result", floor=1.0)
    check_fixture("full_offset", "reference_result")


def test_offset_1e6_diag_matches_exact_reference():
    # scikit-learn's raw-moment diag M-step keeps 2-3 digits at 1e6; gaussmix centres and
    # matches the 40-digit reference EM
    check_fixture("diag_offset", "reference_result")


@pytest.mark.parametrize("ct", TYPES)
def test_offset_1e6_live(ct):
    """Data offset by 1e6: the same fit as on the unshifted data, shifted (gaussmix), and
    scikit-learn's full covariance result to 1e-8 of each array's scale."""
    x = blobs(1200, 3, 3, seed=5)
    init = sklearn_style_inits(x, 3, ct)
    kw = dict(tol=0.0, max_iter=10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        base = GaussianMixture(3, covariance_type=ct, **kw, **init).fit(x)
        init_off = dict(init, means_init=init["means_init"] + 1e6)
        off = GaussianMixture(3, covariance_type=ct, **kw, **init_off).fit(x + 1e6)
        sk = SkGMM(3, covariance_type=ct, **kw, **init_off).fit(x + 1e6)
    close(off.means_ - 1e6, base.means_, 1e-8, "means", floor=1.0)
    for attr in ["weights_", "covariances_", "precisions_cholesky_"]:
        close(getattr(off, attr), getattr(base, attr), 1e-7, attr, floor=1e-3)
    if ct == "full":
        for attr in ["weights_", "means_", "covariances_"]:
            close(getattr(off, attr), getattr(sk, attr), 1e-8, attr, floor=1.0)
