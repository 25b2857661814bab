"""GaussianMixture.partial_fit: online EM (issue 15, Cappé & Moulines 2009)."""

import pickle

import numpy as np
import pytest

from gaussmix import GaussianMixture

MEANS = np.array([[0.0, 0.0], [6.0, 1.0], [-3.0, 7.0]])


def stream(n=30000, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.choice(3, size=n, p=[0.5, 0.3, 0.2])
    return MEANS[z] + rng.standard_normal((n, 2)) * np.array([1.0, 0.6])


def test_partial_fit_reaches_the_batch_fit():
    x = stream()
    gm = GaussianMixture(3, random_state=0)
    for _ in range(2):
        for b in np.array_split(x, 15):
            assert gm.partial_fit(b) is gm
    assert gm.n_batches_ == 30 and gm.n_features_in_ == 2
    batch = GaussianMixture(3, random_state=0).fit(x)
    # Monte Carlo error of the blend (~25,000 rows remembered): O(1e-3) in the mean
    # log-likelihood, O(1e-2) in the means
    assert batch.score(x) - gm.score(x) < 1e-2
    order = [int(np.argmin(((batch.means_ - m) ** 2).sum(1))) for m in gm.means_]
    assert np.abs(gm.means_ - batch.means_[order]).max() < 0.05


def test_partial_fit_conventions_and_state():
    x = stream(6000, 1)
    a = GaussianMixture(3, covariance_type="diag", random_state=3)
    b = GaussianMixture(3, covariance_type="diag", random_state=3)
    w = np.linspace(0.5, 2.0, 2000)
    for part in np.array_split(x, 3):
        a.partial_fit(part, sample_weight=w)
    for i, part in enumerate(np.array_split(x, 3)):
        b.partial_fit(part, sample_weight=w)
        if i == 1:
            b = pickle.loads(pickle.dumps(b))  # the schedule survives pickling
    np.testing.assert_array_equal(a.means_, b.means_)
    np.testing.assert_array_equal(a.covariances_, b.covariances_)
    with pytest.raises(ValueError, match="features"):
        a.partial_fit(np.zeros((5, 3)))
    with pytest.raises(ValueError):
        a.partial_fit(np.array([[np.nan, 1.0]]))
    # a fitted estimator continues from its model
    c = GaussianMixture(3, random_state=0).fit(x)
    before = c.means_.copy()
    c.partial_fit(x[:500])
    assert c.n_batches_ == 1
    assert np.abs(c.means_ - before).max() < 0.5
    # fit() starts over
    c.fit(x)
    assert getattr(c, "_online", None) is None
