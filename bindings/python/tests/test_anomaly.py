"""gaussmix.AnomalyDetector: PyOD conventions, scikit-learn's params / clone / pickle,
bad input."""

import pickle

import numpy as np
import pytest

import gaussmix
from gaussmix import AnomalyDetector


def data(seed=0):
    rng = np.random.default_rng(seed)
    t = rng.normal(size=(300, 1))
    x = np.hstack([t, 2 * t + 0.3 * rng.normal(size=(300, 1)), rng.normal(size=(300, 1))])
    x[7] = [0.0, 12.0, 0.0]  # far out in the second feature, against the correlation
    return x


def test_pyod_conventions():
    x = data()
    det = AnomalyDetector(contamination=0.05).fit(x)
    s = det.decision_function(x)
    assert s.shape == (300,)
    np.testing.assert_allclose(det.decision_scores_, s, rtol=1e-9)
    assert int(np.argmax(s)) == 7
    assert det.labels_[7] == 1
    assert set(np.unique(det.predict(x))) <= {0, 1}
    assert det.labels_.sum() == pytest.approx(15, abs=1)
    np.testing.assert_array_equal(det.labels_, (s > det.threshold_).astype(int))
    np.testing.assert_allclose(det.score_samples(x), -s)


def test_params_clone_and_pickle():
    from sklearn.base import clone

    det = AnomalyDetector(contamination=0.02, max_k=2, reg_covar=0.1, random_state=3)
    p = det.get_params()
    assert p["contamination"] == 0.02 and p["max_k"] == 2 and p["random_state"] == 3
    c = clone(det)
    assert c.get_params() == p
    c.set_params(max_k=1)
    assert c.max_k == 1 and det.max_k == 2
    x = data()
    det.fit(x)
    back = pickle.loads(pickle.dumps(det))
    np.testing.assert_allclose(back.decision_function(x), det.decision_function(x), rtol=1e-9)
    assert back.threshold_ == det.threshold_


def test_single_model_by_bic():
    x = data()
    det = AnomalyDetector(ensemble=False, covariance="full").fit(x)
    assert '"anomaly_threshold"' in det.to_json()


def test_bad_input():
    x = data()
    for c in (0.0, 0.6, -1.0):
        with pytest.raises(gaussmix.GaussmixError, match="contamination"):
            AnomalyDetector(contamination=c).fit(x)
    y = x.copy()
    y[4, 2] = np.nan
    with pytest.raises(gaussmix.GaussmixError, match="row 4, column 2"):
        AnomalyDetector().fit(y)
    with pytest.raises(gaussmix.GaussmixError, match="single value"):
        AnomalyDetector().fit(np.ones((20, 3)))
    det = AnomalyDetector().fit(x)
    with pytest.raises(gaussmix.GaussmixError, match="3 columns"):
        det.decision_function(x[:, :2])
    with pytest.raises(ValueError, match="not fitted"):
        AnomalyDetector().decision_function(x)


def test_noise_component():
    # the library's opt-in noise component (fitted with every candidate, left out of the
    # scores): the scores differ from the default's, and the far row still ranks first
    x = data()
    rng = np.random.default_rng(5)
    x[-15:] = rng.uniform(-8, 8, size=(15, 3))
    plain = AnomalyDetector(contamination=0.05, random_state=0).fit(x)
    noisy = AnomalyDetector(contamination=0.05, random_state=0, noise=True).fit(x)
    assert noisy.get_params()["noise"] is True
    s = noisy.decision_function(x)
    assert not np.allclose(s, plain.decision_function(x))
    assert int(np.argmax(s[:-15])) == 7
