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


def _repo_cli():
    """The workspace's release CLI, when it has been built (else the test skips)."""
    import os

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    exe = os.environ.get("GAUSSMIX_BIN", os.path.join(root, "target", "release", "gaussmix"))
    if not os.path.exists(exe):
        pytest.skip(f"{exe} not built")
    return exe


def _cli_online(tmp_path, x, batch, extra):
    """`gaussmix fit --online` over the same rows and batches; its model's arrays."""
    import json
    import subprocess

    exe = _repo_cli()
    data = tmp_path / "x.npy"
    np.save(data, x)
    out = tmp_path / "m.json"
    subprocess.run(
        [exe, "fit", str(data), "-k", "3", "--seed", "0", "--online", "--batch-size", str(batch),
         "-q", "-o", str(out)] + extra,
        check=True,
    )
    return json.loads(out.read_text())


@pytest.mark.filterwarnings("ignore:Best performing initialization did not converge")
@pytest.mark.parametrize("prior", ["mclust", "dict"])
def test_partial_fit_with_a_prior(tmp_path, prior):
    x = stream(12000, 4)
    batches = np.array_split(x, 6)
    if prior == "dict":
        prior = {"shrinkage": 0.05, "mean": x.mean(0).tolist(), "dof": 5.0, "scale": np.eye(2) * 0.5}
    gm = GaussianMixture(3, random_state=0, prior=prior)
    scores = []
    for b in batches:
        gm.partial_fit(b)
        scores.append(gm.score(x))
        assert np.isfinite(gm.means_).all() and abs(gm.weights_.sum() - 1) < 1e-12
        assert (np.linalg.eigvalsh(gm.covariances_) > 0).all()
    # later batches improve the fit of all rows (the first model saw 2,000 rows)
    assert scores[-1] >= scores[0] - 1e-3, scores
    # the prior is applied: the first step is one MAP-EM iteration from the fit of the
    # first batch (same prior, resolved on that batch), and differs from the plain step
    first = GaussianMixture(3, random_state=0, prior=prior)
    first.partial_fit(batches[0])
    start = GaussianMixture(3, random_state=0, prior=prior, n_init=5).fit(batches[0])
    one = GaussianMixture(
        3, prior=prior, max_iter=1, weights_init=start.weights_, means_init=start.means_,
        precisions_init=start.precisions_,
    ).fit(batches[0])
    np.testing.assert_allclose(first.means_, one.means_, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(first.covariances_, one.covariances_, rtol=1e-8, atol=1e-10)
    plain = GaussianMixture(3, random_state=0).partial_fit(batches[0])
    assert np.abs(plain.covariances_ - first.covariances_).max() > 1e-6
    # the schedule and its prior survive pickling
    again = pickle.loads(pickle.dumps(gm))
    more = stream(2000, 9)
    gm.partial_fit(more)
    again.partial_fit(more)
    np.testing.assert_array_equal(gm.covariances_, again.covariances_)


def test_partial_fit_with_a_prior_matches_the_cli(tmp_path):
    x = stream(9000, 5)
    gm = GaussianMixture(3, random_state=0, prior="mclust")
    for b in np.array_split(x, 3):
        gm.partial_fit(b)
    doc = _cli_online(tmp_path, x, 3000, ["--prior"])
    np.testing.assert_allclose(gm.means_, np.array(doc["means"]), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gm.weights_, np.array(doc["weights"]), rtol=1e-10, atol=1e-12)


def test_partial_fit_with_noise(tmp_path):
    rng = np.random.default_rng(3)
    clean = stream(12000, 6)
    outliers = rng.uniform(-15, 15, size=(600, 2))
    x = np.vstack([clean, outliers])[rng.permutation(12600)]
    gm = GaussianMixture(3, random_state=0, noise=True)
    weights = []
    for b in np.array_split(x, 6):
        gm.partial_fit(b)
        weights.append(gm.noise_weight_)
    # the noise component is kept through every step and re-estimated by each
    assert all(0 < w < 0.5 for w in weights) and len(set(weights)) > 1
    assert abs(gm.weights_.sum() + gm.noise_weight_ - 1) < 1e-9
    assert abs(gm.noise_weight_ - 600 / 12600) < 0.02, gm.noise_weight_
    assert gm.predict_proba(x[:5]).shape == (5, 4)
    far = np.array([[14.0, -14.0], [-14.5, 13.0]])
    np.testing.assert_array_equal(gm.predict(far), [3, 3])
    # the Gaussians are not dragged by the outliers
    order = [int(np.argmin(((MEANS - m) ** 2).sum(1))) for m in gm.means_]
    assert sorted(order) == [0, 1, 2]
    assert np.abs(gm.means_ - MEANS[order]).max() < 0.1
    doc = _cli_online(tmp_path, x, 2100, ["--noise"])
    np.testing.assert_allclose(gm.means_, np.array(doc["means"]), rtol=1e-10, atol=1e-12)
    assert abs(doc["noise_weight"] - gm.noise_weight_) < 1e-12
    # a pickled estimator keeps the noise component
    again = pickle.loads(pickle.dumps(gm))
    gm.partial_fit(x[:1000])
    again.partial_fit(x[:1000])
    assert again.noise_weight_ == gm.noise_weight_
