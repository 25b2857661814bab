"""Public fitted attributes are the state, as in scikit-learn: setting weights_, means_,
precisions_cholesky_ (covariances_ for sample) changes the predictions the way it changes
scikit-learn's, and an estimator built from known parameters predicts."""

import pickle

import numpy as np
import pytest
from sklearn.mixture import GaussianMixture as SkGM

from gaussmix import GaussianMixture

from conftest import blobs

TYPES = ["full", "tied", "diag", "spherical"]
STATE = ("weights_", "means_", "covariances_", "precisions_cholesky_")


def _sk_from(gm):
    """A scikit-learn estimator with gm's current attributes."""
    sk = SkGM(n_components=gm.n_components, covariance_type=gm.covariance_type)
    for a in STATE:
        setattr(sk, a, np.array(getattr(gm, a), copy=True))
    return sk


def _same_predictions(gm, sk, x):
    np.testing.assert_allclose(gm.predict_proba(x), sk.predict_proba(x), atol=1e-10)
    np.testing.assert_allclose(gm.score_samples(x), sk.score_samples(x), rtol=1e-10, atol=1e-10)
    np.testing.assert_array_equal(gm.predict(x), sk.predict(x))
    assert gm.score(x) == pytest.approx(sk.score(x), rel=1e-10)


@pytest.mark.parametrize("ct", TYPES)
def test_assigned_attributes_change_predictions_as_in_sklearn(ct):
    x = blobs(n=600, d=3, k=3, seed=21)
    gm = GaussianMixture(3, covariance_type=ct, random_state=0).fit(x)
    before = gm.predict(x)
    perm = [2, 0, 1]
    gm.weights_ = gm.weights_[perm]
    gm.means_ = gm.means_[perm]
    if ct != "tied":
        gm.precisions_cholesky_ = gm.precisions_cholesky_[perm]
        gm.covariances_ = gm.covariances_[perm]
    np.testing.assert_array_equal(np.argsort(perm)[before], gm.predict(x))
    _same_predictions(gm, _sk_from(gm), x)
    # in place, and unnormalised weights (scikit-learn uses weights_ as given)
    gm.means_[0] += 1.5
    gm.weights_[1] *= 3.0
    _same_predictions(gm, _sk_from(gm), x)
    assert gm.bic(x) == pytest.approx(_sk_from(gm).bic(x), rel=1e-10)
    # the state survives pickling
    again = pickle.loads(pickle.dumps(gm))
    _same_predictions(again, _sk_from(gm), x)


@pytest.mark.parametrize("ct", TYPES)
def test_estimator_built_from_known_parameters(ct):
    x = blobs(n=600, d=3, k=3, seed=22)
    fitted = SkGM(3, covariance_type=ct, random_state=0).fit(x)
    gm = GaussianMixture(3, covariance_type=ct)
    gm.weights_ = fitted.weights_
    gm.means_ = fitted.means_
    gm.precisions_cholesky_ = fitted.precisions_cholesky_
    _same_predictions(gm, fitted, x)
    # covariances_ only: the factors come from them
    cov_only = GaussianMixture(3, covariance_type=ct)
    cov_only.weights_, cov_only.means_, cov_only.covariances_ = (
        fitted.weights_, fitted.means_, fitted.covariances_,
    )  # fmt: skip
    _same_predictions(cov_only, fitted, x)


def test_factor_that_is_not_triangular_is_the_same_precision():
    x = blobs(n=400, d=3, k=2, seed=23)
    gm = GaussianMixture(2, random_state=0).fit(x)
    sk = _sk_from(gm)
    q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(3, 3)))
    # P Q (P Q)ᵀ = P Pᵀ: the same precision (scikit-learn, which reads the log-determinant
    # off the diagonal, would give NaN or a wrong density for such a factor)
    gm.precisions_cholesky_ = gm.precisions_cholesky_ @ q
    assert np.any(np.tril(gm.precisions_cholesky_, -1) != 0)
    _same_predictions(gm, sk, x)


def test_sample_reads_covariances_and_warm_start_reads_the_attributes():
    x = blobs(n=400, d=2, k=2, seed=24)
    gm = GaussianMixture(2, random_state=0).fit(x)
    gm.covariances_ = gm.covariances_ * 1e-8
    s, labels = gm.sample(200)
    np.testing.assert_allclose(s, gm.means_[labels], atol=1e-2)
    # a warm start continues from the assigned parameters: one EM step from them is the
    # step from the same parameters given as the initialisation
    gm = GaussianMixture(2, random_state=0, warm_start=True, max_iter=1, tol=0.0).fit(x)
    gm.means_ = gm.means_ + 0.5
    w, m, p = gm.weights_.copy(), gm.means_.copy(), gm.precisions_.copy()
    with pytest.warns(Warning):
        gm.fit(x)
    ref = GaussianMixture(2, weights_init=w, means_init=m, precisions_init=p, max_iter=1, tol=0.0)
    with pytest.warns(Warning):
        ref.fit(x)
    np.testing.assert_allclose(gm.means_, ref.means_, rtol=1e-9)
    np.testing.assert_allclose(gm.covariances_, ref.covariances_, rtol=1e-9)


def test_bad_assigned_state_is_refused():
    x = blobs(n=200, d=2, k=2, seed=25)
    gm = GaussianMixture(2, random_state=0).fit(x)
    gm.weights_ = np.array([-0.5, 1.5])
    with pytest.raises(ValueError, match="weights_"):
        gm.predict(x)
    empty = GaussianMixture(2)
    empty.means_ = np.zeros((2, 2))
    with pytest.raises(AttributeError):
        empty.predict(x)
