"""scikit-learn conventions, input handling, pickling, warnings and errors."""

import pickle
import threading
import time
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.utils.estimator_checks import check_estimator

import gaussmix
from gaussmix import GaussianMixture, GaussmixError

from conftest import blobs, sklearn_style_inits

WEIGHT_CHECK = "check_sample_weight_equivalence_on_dense_data"


@pytest.mark.parametrize(
    "params",
    [
        {},
        dict(n_components=3),
        dict(n_components=2, covariance_type="tied", n_init=2, max_iter=5),
        dict(n_components=2, covariance_type="diag", init_params="random_from_data"),
        dict(n_components=3, covariance_type="spherical", init_params="k-means++"),
        dict(n_components=2, init_params="random", warm_start=True, random_state=0),
    ],
    ids=["default", "kmeans-3", "tied", "diag", "spherical", "random-warm"],
)
def test_check_estimator(params):
    # k-means and k-means++ draw rows by cumulative weight over a canonical (value) order,
    # so weighted rows and repeated rows start alike: no expected failure. "random" draws a
    # responsibility per row and "random_from_data" draws distinct rows, which a row and
    # its copies cannot match.
    random = params.get("init_params") in ("random", "random_from_data")
    expected = {WEIGHT_CHECK: "random initialisation differs"} if random else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(
            GaussianMixture(**params), expected_failed_checks=expected, on_fail=None
        )
    failed = [r for r in results if r["status"] == "failed"]
    assert not failed, [(r["check_name"], str(r["exception"])[:300]) for r in failed]
    assert sum(r["status"] == "passed" for r in results) >= 40


def test_defaults_match_sklearn():
    from sklearn.mixture import GaussianMixture as Sk

    ours, theirs = GaussianMixture().get_params(), Sk().get_params()
    # gaussmix's additions (mclust's prior, the noise component, masked EM for missing
    # values) come on top, off by default
    extra = {"prior": None, "noise": False, "noise_init": 0.1, "missing_values": "error"}
    assert ours == {**theirs, **extra}


def test_not_fitted():
    g = GaussianMixture()
    for m in ["predict", "predict_proba", "score_samples", "score", "bic", "aic"]:
        with pytest.raises(NotFittedError):
            getattr(g, m)(np.zeros((3, 2)))
    with pytest.raises(NotFittedError):
        g.sample(2)


@pytest.mark.parametrize("ct", ["full", "tied", "diag", "spherical"])
def test_pickle_round_trip(ct):
    x = blobs(600, 3, 3)
    g = GaussianMixture(3, covariance_type=ct, random_state=0).fit(x)
    h = pickle.loads(pickle.dumps(g))
    for attr in ["weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"]:
        np.testing.assert_array_equal(getattr(h, attr), getattr(g, attr))
    assert (h.converged_, h.n_iter_, h.lower_bound_, h.lower_bounds_) == (
        g.converged_, g.n_iter_, g.lower_bound_, g.lower_bounds_,
    )
    np.testing.assert_array_equal(h.predict_proba(x), g.predict_proba(x))
    np.testing.assert_array_equal(h.score_samples(x), g.score_samples(x))
    m = pickle.loads(pickle.dumps(g.model_))
    assert m.to_json() == g.model_.to_json()
    # an unfitted estimator pickles too, and clones keep parameters only
    assert pickle.loads(pickle.dumps(GaussianMixture(4))).n_components == 4
    assert not hasattr(clone(g), "means_")


def test_model_json_and_arrays():
    x = blobs(600, 2, 2)
    g = GaussianMixture(2, random_state=1).fit(x)
    m = gaussmix.Model.from_json(g.model_.to_json())
    np.testing.assert_array_equal(m.means, g.means_)
    m2 = gaussmix.Model.from_arrays("full", g.weights_, g.means_, g.covariances_, g.precisions_cholesky_)
    np.testing.assert_array_equal(m2.predict_proba(x), g.predict_proba(x))
    h = GaussianMixture(2).set_model(m2)
    np.testing.assert_array_equal(h.predict(x), g.predict(x))
    with pytest.raises(ValueError):
        GaussianMixture(3).set_model(m2)


@pytest.mark.parametrize("ct", ["full", "tied", "diag", "spherical"])
def test_float32_input(ct):
    x64 = blobs(2000, 4, 3, seed=7)
    x32 = x64.astype(np.float32)
    init = sklearn_style_inits(x64, 3, ct)
    a = GaussianMixture(3, covariance_type=ct, tol=0, max_iter=10, **init)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        g32 = clone(a).fit(x32)
        g64 = clone(a).fit(x32.astype(np.float64))
    # float32 rows keep the float32 path: full and tied models run their quadratic forms
    # and Gram products in float32 lanes (statistics and parameters in float64), so they
    # agree with the fit of the float64 copy to float32 rounding; diag and spherical
    # widen the rows exactly: the same fit, whose parameters the float32 attributes are,
    # rounded once (scikit-learn's dtypes)
    lanes32 = ct in ("full", "tied")
    for name in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"):
        a32, a64 = getattr(g32, name), getattr(g64, name)
        assert a32.dtype == np.float32 and a64.dtype == np.float64, name
        if lanes32:
            np.testing.assert_allclose(a32, a64, rtol=1e-4, atol=1e-4 * np.abs(a64).max(), err_msg=name)
        else:
            np.testing.assert_array_equal(a32, a64.astype(np.float32), err_msg=name)
    tol = 1e-4 if lanes32 else 1e-12
    np.testing.assert_allclose(g32.model_.means, g64.means_, rtol=tol, atol=tol)
    np.testing.assert_allclose(g32.model_.covariances, g64.covariances_, rtol=tol, atol=tol)
    s32 = g32.score_samples(x32)
    assert s32.dtype == np.float32 and g32.predict_proba(x32).dtype == np.float32
    np.testing.assert_allclose(s32, g64.score_samples(x32.astype(np.float64)), rtol=1e-4 if lanes32 else 1e-6)
    assert g32.score_samples(x32.astype(np.float64)).dtype == np.float64
    assert g32.predict(x32).dtype == np.int64


def test_float32_weights_init_within_float32_rounding():
    # scikit-learn accepts float32 weights whose float32 sum is 1 within 1e-6
    x = blobs(300, 2, 3, seed=3).astype(np.float32)
    w = np.array([0.1, 0.2, 0.7], dtype=np.float32)
    w[2] += np.float32(3e-7)  # still "normalised" in float32, not to 1e-8 in float64
    g = GaussianMixture(3, weights_init=w, random_state=0).fit(x)
    assert g.weights_.dtype == np.float32
    with pytest.raises(ValueError, match="should be normalized"):
        GaussianMixture(3, weights_init=w.astype(np.float64), random_state=0).fit(x)
    with pytest.raises(ValueError, match="should be normalized"):
        GaussianMixture(3, weights_init=np.array([0.1, 0.2, 0.6], np.float32)).fit(x)


def test_non_contiguous_and_readonly_input():
    x = blobs(1000, 4, 2, seed=8)
    g = GaussianMixture(2, random_state=0).fit(x)
    f = np.asfortranarray(x)
    strided = np.repeat(x, 2, axis=1)[:, ::2]
    ro = x.copy()
    ro.flags.writeable = False
    for v in [f, strided, ro, x[::-1][::-1]]:
        np.testing.assert_allclose(g.score_samples(v), g.score_samples(x), rtol=1e-13)
    g2 = GaussianMixture(2, random_state=0).fit(f)
    np.testing.assert_allclose(g2.means_, g.means_, rtol=1e-12)


def test_sample_weight_equals_repetition():
    x = blobs(500, 3, 3, seed=9)
    rep = np.arange(len(x)) % 3  # 0, 1 or 2 copies
    init = sklearn_style_inits(x, 3, "full")
    a = GaussianMixture(3, tol=1e-8, max_iter=300, **init).fit(x, sample_weight=rep.astype(float))
    b = GaussianMixture(3, tol=1e-8, max_iter=300, **init).fit(np.repeat(x, rep, axis=0))
    for attr in ["weights_", "means_", "covariances_"]:
        np.testing.assert_allclose(getattr(a, attr), getattr(b, attr), rtol=1e-9, atol=1e-12)
    assert a.n_iter_ == b.n_iter_
    labels = GaussianMixture(3, **init).fit_predict(x, sample_weight=np.ones(len(x)))
    assert labels.shape == (len(x),)


@pytest.mark.parametrize("init_params", ["kmeans", "k-means++"])
@pytest.mark.parametrize("ct", ["full", "diag"])
def test_sample_weight_equals_shuffled_repetition_from_the_default_inits(init_params, ct):
    # scikit-learn's check: weighted rows shuffled, repeated rows in order, zeros included
    x = blobs(400, 3, 3, seed=11)
    rng = np.random.RandomState(0)
    sw = rng.randint(0, 4, size=len(x))
    rep = np.repeat(x, sw, axis=0)
    perm = rng.permutation(len(x))
    params = dict(n_components=3, covariance_type=ct, init_params=init_params, tol=1e-10,
                  max_iter=500, n_init=2, random_state=5)
    a = GaussianMixture(**params).fit(x[perm], sample_weight=sw[perm].astype(float))
    b = GaussianMixture(**params).fit(rep)
    for attr in ["weights_", "means_", "covariances_"]:
        np.testing.assert_allclose(getattr(a, attr), getattr(b, attr), rtol=1e-9, atol=1e-12)
    assert a.n_iter_ == b.n_iter_
    np.testing.assert_allclose(a.predict_proba(x), b.predict_proba(x), rtol=1e-9, atol=1e-12)


def test_convergence_warning_and_attributes():
    x = blobs(800, 2, 3)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        g = GaussianMixture(3, max_iter=2, tol=0, random_state=0).fit(x)
    assert not g.converged_ and g.n_iter_ == 2 and len(g.lower_bounds_) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        g = GaussianMixture(3, random_state=0).fit(x)
        GaussianMixture(3, max_iter=0, random_state=0).fit(x)  # no warning at max_iter=0
    assert g.converged_ and g.n_features_in_ == 2
    assert g.lower_bound_ == g.lower_bounds_[-1]
    labels, proba = g.fit_predict(x), g.predict_proba(x)
    np.testing.assert_array_equal(labels, proba.argmax(axis=1))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_warm_start_continues():
    x = blobs(1500, 3, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        g = GaussianMixture(3, max_iter=3, tol=0, warm_start=True, random_state=0).fit(x)
        first = g.lower_bounds_[-1]
        g.fit(x)
    assert g.lower_bounds_[0] >= first - 1e-12  # continued, not restarted
    cold = GaussianMixture(3, max_iter=6, tol=0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        cold.fit(x)
    np.testing.assert_allclose(g.means_, cold.means_, rtol=1e-10)


def test_seeds_and_sample():
    x = blobs(900, 2, 3)
    a = GaussianMixture(3, random_state=3, init_params="random").fit(x)
    b = GaussianMixture(3, random_state=3, init_params="random").fit(x)
    np.testing.assert_array_equal(a.means_, b.means_)
    s1, y1 = a.sample(50)
    s2, _ = a.sample(50)
    np.testing.assert_array_equal(s1, s2)  # an int random_state gives the same samples
    assert s1.shape == (50, 2) and y1.dtype == np.int64 and np.all(np.diff(y1) >= 0)
    with pytest.raises(ValueError):
        a.sample(0)


def test_dataframe_feature_names():
    pd = pytest.importorskip("pandas")
    x = blobs(300, 2, 2)
    df = pd.DataFrame(x, columns=["a", "b"])
    g = GaussianMixture(2, random_state=0).fit(df)
    assert list(g.feature_names_in_) == ["a", "b"]
    assert g.model_.feature_names == ["a", "b"]
    with pytest.warns(UserWarning, match="feature names"):
        np.testing.assert_array_equal(g.predict(df), g.predict(x))


def test_bad_input_messages():
    x = blobs(300, 2, 2)
    bad = x.copy()
    bad[5, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        GaussianMixture(2).fit(bad)
    with pytest.raises(ValueError, match="n_samples >= n_components"):
        GaussianMixture(5).fit(x[:3])
    with pytest.raises(ValueError, match="covariance_type"):
        GaussianMixture(2, covariance_type="banana").fit(x)
    with pytest.raises(ValueError, match="n_components"):
        GaussianMixture(0).fit(x)
    with pytest.raises(ValueError, match="means"):
        GaussianMixture(2, means_init=np.zeros((3, 2))).fit(x)
    g = GaussianMixture(2, random_state=0).fit(x)
    with pytest.raises(ValueError, match="features"):
        g.predict(np.zeros((3, 5)))
    # the core's own messages come through as GaussmixError (a ValueError)
    with pytest.raises(GaussmixError, match="invalid sample weights"):
        GaussianMixture(2).fit(x, sample_weight=-np.ones(len(x)))
    with pytest.raises(GaussmixError, match="ill-defined covariance for component"):
        GaussianMixture(1, reg_covar=0.0).fit(np.ones((10, 2)))
    with pytest.raises(GaussmixError, match="cannot decode"):
        gaussmix.Model.from_json("{}")
    assert issubclass(GaussmixError, ValueError)


def test_verbose_output(capsys):
    x = blobs(600, 2, 2)
    GaussianMixture(2, verbose=2, verbose_interval=1, random_state=0, n_init=2).fit(x)
    out = capsys.readouterr().out
    assert "Initialization 0" in out and "Initialization 1" in out
    assert "Iteration 1" in out and "converged" in out


def test_gil_released_during_fit():
    """Another Python thread keeps running while a fit is in Rust."""
    x = blobs(300_000, 8, 4, seed=11)
    ticks = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    g = GaussianMixture(4, tol=0, max_iter=15, random_state=0, init_params="random_from_data")
    t = threading.Thread(target=ticker)
    t.start()
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        g.fit(x)
    t1 = time.perf_counter()
    stop.set()
    t.join()
    during = [v for v in ticks if t0 < v < t1]
    # the ticker gets to run throughout (a held GIL would leave it a handful of ticks)
    assert t1 - t0 > 0.05
    assert len(during) > 0.2 * (t1 - t0) / 0.0011, (len(during), t1 - t0)
