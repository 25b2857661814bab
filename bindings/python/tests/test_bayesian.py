"""gaussmix.BayesianGaussianMixture against scikit-learn's: the same start gives the same
posterior; scikit-learn's conventions, warm starts, dtypes, attributes as state."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import BayesianGaussianMixture as SkBGMM
from sklearn.utils.estimator_checks import check_estimator

from gaussmix import BayesianGaussianMixture, _core

from conftest import blobs

TYPES = ["full", "tied", "diag", "spherical"]
PRIORS = ["dirichlet_process", "dirichlet_distribution"]
ATTRS = ["weights_", "means_", "covariances_", "precisions_cholesky_", "precisions_", "mean_precision_"]


def _sklearn_labels(x, k, seed):
    """The hard start scikit-learn's init_params='kmeans' draws for random_state=seed."""
    return KMeans(n_clusters=k, n_init=1, random_state=np.random.RandomState(seed)).fit(x).labels_


@pytest.mark.parametrize("ct", TYPES)
@pytest.mark.parametrize("wp", PRIORS)
def test_same_start_same_posterior_as_sklearn(ct, wp):
    x = blobs(n=400, d=3, k=3, seed=11)
    k, seed = 5, 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk = SkBGMM(
            n_components=k, covariance_type=ct, weight_concentration_prior_type=wp,
            random_state=seed, max_iter=60, tol=1e-8,
        ).fit(x)  # fmt: skip
    ours = BayesianGaussianMixture(
        n_components=k, covariance_type=ct, weight_concentration_prior_type=wp, max_iter=60, tol=1e-8
    )
    ours._check_params()
    priors = ours._resolve_priors(x)
    fit = _core.fit_vb(
        x, n_components=k, covariance_type=ct, weight_prior=wp, max_iter=60, tol=1e-8,
        init_labels=[int(v) for v in _sklearn_labels(x, k, seed)], **priors,
    )  # fmt: skip
    ours._set_fit(fit, np.float64)
    ours.n_features_in_ = x.shape[1]
    for a in ATTRS:
        np.testing.assert_allclose(getattr(ours, a), getattr(sk, a), rtol=1e-7, atol=1e-9, err_msg=a)
    np.testing.assert_allclose(ours.degrees_of_freedom_, sk.degrees_of_freedom_, rtol=1e-9)
    if wp == "dirichlet_process":
        for i in range(2):
            np.testing.assert_allclose(ours.weight_concentration_[i], sk.weight_concentration_[i], rtol=1e-7)
    else:
        np.testing.assert_allclose(ours.weight_concentration_, sk.weight_concentration_, rtol=1e-7)
    assert ours.n_iter_ == sk.n_iter_
    assert ours.lower_bound_ == pytest.approx(float(np.ravel(sk.lower_bound_)[0]), rel=1e-9)
    np.testing.assert_allclose(ours.predict_proba(x), sk.predict_proba(x), atol=1e-8)
    np.testing.assert_allclose(ours.score_samples(x), sk.score_samples(x), rtol=1e-9)
    np.testing.assert_array_equal(ours.predict(x), sk.predict(x))
    for a in ("weight_concentration_prior_", "mean_precision_prior_", "degrees_of_freedom_prior_"):
        assert getattr(ours, a) == pytest.approx(getattr(sk, a))
    np.testing.assert_allclose(ours.mean_prior_, sk.mean_prior_)
    np.testing.assert_allclose(ours.covariance_prior_, sk.covariance_prior_)


def test_constructor_is_sklearns():
    assert BayesianGaussianMixture().get_params() == SkBGMM().get_params()


def test_check_estimator():
    check_estimator(BayesianGaussianMixture(max_iter=200))


def test_well_separated_fit_finds_the_clusters_and_prunes():
    rng = np.random.default_rng(12)
    x = np.concatenate([rng.normal(size=(300, 2)) * 0.3 + c for c in ([0, 0], [6, 0], [0, 6])])
    b = BayesianGaussianMixture(n_components=8, random_state=0, max_iter=500).fit(x)
    assert b.converged_
    assert np.sum(b.weights_ > 0.05) == 3
    s = SkBGMM(n_components=8, random_state=0, max_iter=500).fit(x)
    big = np.sort(b.means_[b.weights_ > 0.05], axis=0)
    np.testing.assert_allclose(big, np.sort(s.means_[s.weights_ > 0.05], axis=0), atol=1e-3)


def test_warm_start_is_a_longer_fit_and_monotone():
    x = blobs(n=300, d=2, k=3, seed=13)
    step = BayesianGaussianMixture(n_components=4, max_iter=1, warm_start=True, random_state=0, tol=0.0)
    bounds = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(8):
            bounds.append(step.fit(x).lower_bound_)
        full = BayesianGaussianMixture(n_components=4, max_iter=8, random_state=0, tol=0.0).fit(x)
    assert all(b2 >= b1 - 1e-9 for b1, b2 in zip(bounds, bounds[1:]))
    np.testing.assert_allclose(bounds, full.lower_bounds_, rtol=1e-12)
    np.testing.assert_allclose(step.means_, full.means_, rtol=1e-12)


def test_float32_attributes_and_fit_predict():
    x = blobs(n=300, d=2, k=2, seed=14).astype(np.float32)
    b = BayesianGaussianMixture(n_components=3, random_state=0).fit(x)
    for a in ATTRS:
        assert getattr(b, a).dtype == np.float32, a
    assert b.predict_proba(x).dtype == np.float32
    labels = BayesianGaussianMixture(n_components=3, random_state=0).fit_predict(x)
    np.testing.assert_array_equal(labels, b.predict(x))


def test_attributes_are_the_state_and_pickle():
    x = blobs(n=300, d=2, k=2, seed=15)
    b = BayesianGaussianMixture(n_components=2, random_state=0).fit(x)
    before = b.predict_proba(x)
    b2 = pickle.loads(pickle.dumps(b))
    np.testing.assert_array_equal(b2.predict_proba(x), before)
    b.means_ = b.means_[::-1].copy()
    b.covariances_ = b.covariances_[::-1].copy()
    b.precisions_cholesky_ = b.precisions_cholesky_[::-1].copy()
    b.mean_precision_ = b.mean_precision_[::-1].copy()
    b.degrees_of_freedom_ = b.degrees_of_freedom_[::-1].copy()
    a, c = b.weight_concentration_
    b.weight_concentration_ = (a[::-1].copy(), c[::-1].copy())
    # the stick-breaking weights depend on the order: not a plain permutation of the
    # columns, but the means moved, so the labels flip for the clear rows
    after = b.predict_proba(x)
    assert not np.allclose(after, before)
    sure = before.max(1) > 0.999
    assert np.mean(after[sure].argmax(1) != before[sure].argmax(1)) > 0.9
    assert clone(b).get_params() == b.get_params()
    s, labels = b.sample(50)
    assert s.shape == (50, 2) and labels.shape == (50,)


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(degrees_of_freedom_prior=0.5), "should be greater than 1"),
        (dict(covariance_type="VEV"), "covariance_type"),
        (dict(weight_concentration_prior_type="pitman_yor"), "weight_concentration_prior_type"),
        (dict(mean_prior=[0.0, 0.0, 0.0]), "shape"),
        (dict(covariance_prior=np.eye(3)), "shape"),
        (dict(covariance_type="diag", covariance_prior=[1.0, -1.0]), "positive"),
        (dict(n_components=500), "n_samples >= n_components"),
    ],
)
def test_bad_input(params, match):
    x = blobs(n=100, d=2, k=2, seed=16)
    with pytest.raises(ValueError, match=match):
        BayesianGaussianMixture(**params).fit(x)
    with pytest.raises(ValueError):
        BayesianGaussianMixture().fit(np.array([[0.0, np.inf], [1.0, 1.0], [2.0, 0.0]]))


@pytest.mark.parametrize("ct", TYPES)
def test_same_start_is_translation_equivariant(ct):
    # (scikit-learn's test_invariant_translation runs the seeded k-means start too, in
    # scripts/run_sklearn_suite.py; this one checks the VB iterations alone, from one start)
    x = blobs(n=300, d=2, k=3, seed=17) * 10
    labels = [int(v) for v in _sklearn_labels(x, 4, 0)]
    fits = [
        _core.fit_vb(np.ascontiguousarray(x + off), n_components=4, covariance_type=ct,
                     reg_covar=0.0, init_labels=labels)
        for off in (0.0, 100.0)
    ]  # fmt: skip
    np.testing.assert_allclose(fits[0].means, fits[1].means - 100, atol=1e-7)
    np.testing.assert_allclose(fits[0].weights, fits[1].weights, atol=1e-9)
    np.testing.assert_allclose(fits[0].covariances, fits[1].covariances, rtol=1e-6, atol=1e-9)
