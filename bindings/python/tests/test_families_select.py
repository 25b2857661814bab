"""mclust's covariance families, priors and the noise component in GaussianMixture, and
gaussmix.select (model selection over K and families)."""

import numpy as np
import pytest

import gaussmix
from gaussmix import GaussianMixture, GaussmixError
from gaussmix.mixture import storage

from conftest import blobs

SHAPES = {"full": 3, "tied": 2, "diag": 2, "spherical": 1}


def _covs_full(gm, d):
    """Every component's covariance as a D×D matrix."""
    c, k = gm.covariances_, gm.n_components
    kind = storage(gm.covariance_type)
    if kind == "full":
        return c
    if kind == "tied":
        return np.repeat(c[None], k, 0)
    if kind == "diag":
        return np.stack([np.diag(v) for v in c])
    return np.stack([np.eye(d) * v for v in c])


@pytest.mark.parametrize("family", gaussmix.MCLUST_FAMILIES)
def test_each_family_fits_with_its_constraint(family):
    x = blobs(n=600, d=3, k=3, seed=1)
    gm = GaussianMixture(3, covariance_type=family, random_state=0, max_iter=300).fit(x)
    kind = storage(family)
    assert gm.covariances_.ndim == SHAPES[kind]
    assert gm.precisions_cholesky_.shape == gm.covariances_.shape
    covs = _covs_full(gm, 3)
    vol, shape, orient = family  # mclust: volume, shape, orientation
    dets = np.linalg.det(covs) ** (1 / 3)
    if vol == "E":
        np.testing.assert_allclose(dets, np.full_like(dets, dets[0]), rtol=1e-6)
    eig = np.stack([np.linalg.eigvalsh(c) for c in covs])
    if shape == "E":
        np.testing.assert_allclose(eig / dets[:, None], np.broadcast_to(eig[0] / dets[0], eig.shape), rtol=1e-5)
    if orient == "I":
        assert np.all(np.abs(covs - np.stack([np.diag(np.diag(c)) for c in covs])) == 0)
    if orient == "E" and shape != "I":
        # one orientation: the covariances commute
        for c in covs[1:]:
            np.testing.assert_allclose(c @ covs[0], covs[0] @ c, atol=1e-6 * np.abs(c).max() ** 2)
    p = gm.predict_proba(x)
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-12)
    # the criterion counts the family's free parameters
    n = len(x)
    assert gm.bic(x) == pytest.approx(-2 * gm.score(x) * n + gm._n_parameters() * np.log(n))


def test_mclust_names_of_sklearn_types_are_the_same_fit():
    x = blobs(n=600, d=3, k=3, seed=2)
    for mc, sk in [("VVV", "full"), ("EEE", "tied"), ("VVI", "diag"), ("VII", "spherical"), ("vev", "VEV")]:
        a = GaussianMixture(3, covariance_type=mc, random_state=0).fit(x)
        b = GaussianMixture(3, covariance_type=sk, random_state=0).fit(x)
        np.testing.assert_array_equal(a.means_, b.means_)
        np.testing.assert_array_equal(a.covariances_, b.covariances_)


def test_family_precisions_init_and_bad_names():
    x = blobs(n=300, d=2, k=2, seed=3)
    gm = GaussianMixture(2, covariance_type="VEV", random_state=0).fit(x)
    again = GaussianMixture(
        2, covariance_type="VEV", weights_init=gm.weights_, means_init=gm.means_,
        precisions_init=gm.precisions_, max_iter=0,
    ).fit(x)  # fmt: skip
    np.testing.assert_allclose(again.means_, gm.means_)
    with pytest.raises(ValueError, match="shape"):
        GaussianMixture(2, covariance_type="EEI", precisions_init=np.ones((2, 2, 2))).fit(x)
    with pytest.raises(ValueError, match="covariance_type"):
        GaussianMixture(2, covariance_type="XYZ").fit(x)


def test_explicit_prior_equals_mclust_default():
    x = blobs(n=400, d=3, k=2, seed=4)
    k, d = 2, 3
    prior = {
        "shrinkage": 0.01,
        "mean": x.mean(0),
        "dof": d + 2.0,
        "scale": np.cov(x.T) / k ** (2 / d),
    }
    a = GaussianMixture(k, prior="mclust", random_state=0).fit(x)
    b = GaussianMixture(k, prior=prior, random_state=0).fit(x)
    np.testing.assert_allclose(a.means_, b.means_, rtol=1e-9)
    np.testing.assert_allclose(a.covariances_, b.covariances_, rtol=1e-9)
    ml = GaussianMixture(k, random_state=0).fit(x)
    # MAP shrinks: not the ML fit
    assert np.abs(a.covariances_ - ml.covariances_).max() > 1e-8
    # a scalar scale for a diagonal family
    diag = dict(prior, scale=float(np.trace(np.cov(x.T)) / d / k ** (2 / d)))
    c = GaussianMixture(k, covariance_type="VVI", prior=diag, random_state=0).fit(x)
    e = GaussianMixture(k, covariance_type="VVI", prior="mclust", random_state=0).fit(x)
    np.testing.assert_allclose(c.covariances_, e.covariances_, rtol=1e-9)


@pytest.mark.parametrize(
    "prior, match",
    [("map", "prior"), ({"shrinkage": 0.01}, "missing"), ({"shrinkage": "a", "mean": [0, 0], "dof": 4, "scale": 1.0}, "wrong type")],
)
def test_bad_prior_is_refused(prior, match):
    x = blobs(n=100, d=2, k=2, seed=5)
    with pytest.raises(ValueError, match=match):
        GaussianMixture(2, prior=prior).fit(x)


def test_noise_component_takes_the_outliers():
    rng = np.random.default_rng(6)
    x = np.concatenate([blobs(n=600, d=2, k=2, seed=6), rng.uniform(-60, 60, size=(60, 2))])
    gm = GaussianMixture(2, noise=True, random_state=0).fit(x)
    assert 0.02 < gm.noise_weight_ < 0.3
    assert gm.weights_.sum() == pytest.approx(1 - gm.noise_weight_)
    p = gm.predict_proba(x)
    assert p.shape == (len(x), 3)
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-12)
    far = np.array([[500.0, 500.0]])
    assert gm.predict(far)[0] == 2  # K: the noise component
    plain = GaussianMixture(2, random_state=0).fit(x)
    assert not hasattr(plain, "noise_weight_")


def test_select_table_and_best():
    x = blobs(n=500, d=2, k=3, seed=7)
    families = ["VVV", "EII", "tied", "VEV"]
    res = gaussmix.select(x, n_components=range(1, 5), covariance_types=families)
    rows = res.rows
    assert len(rows) == 4 * len(families)
    assert [r["n_components"] for r in rows[:4]] == [1, 2, 3, 4]
    assert {r["covariance_type"] for r in rows} == {"full", "EII", "tied", "VEV"}
    fitted = [r for r in rows if r["status"] == "fitted"]
    assert fitted
    best = min(fitted, key=lambda r: r["bic"])
    assert rows[res.best_index_] is best or rows[res.best_index_] == best
    assert res.best_params_ == {"n_components": best["n_components"], "covariance_type": best["covariance_type"]}
    assert not any(r["degenerate"] and r is rows[res.best_index_] for r in rows)
    for r in rows:
        assert r["degenerate"] == (r["status"] == "degenerate")
        if r["status"] in ("fitted", "degenerate"):
            assert r["bic"] == pytest.approx(-2 * r["log_likelihood"] + r["n_parameters"] * np.log(len(x)))
            assert r["aic"] == pytest.approx(-2 * r["log_likelihood"] + 2 * r["n_parameters"])
    gm = res.best_
    assert isinstance(gm, GaussianMixture)
    assert gm.n_components == best["n_components"]
    assert gm.score(x) * len(x) == pytest.approx(best["log_likelihood"], rel=1e-9)
    assert gm.predict(x).shape == (len(x),)
    # the table
    try:
        import pandas as pd
    except ImportError:
        assert res.table == rows
    else:
        assert isinstance(res.table, pd.DataFrame)
        assert list(res.table.columns) == list(gaussmix._select.COLUMNS)
        assert res.table["bic"].idxmin() == res.best_index_
    rec = res.to_records()
    assert rec.shape == (len(rows),)
    assert rec["bic"][res.best_index_] == best["bic"]


def test_select_aic_and_degenerate_cells_never_chosen():
    rng = np.random.default_rng(8)
    # a tight pair of duplicate rows invites a degenerate component at larger K
    x = np.concatenate([rng.normal(size=(60, 2)), np.repeat([[8.0, 8.0]], 3, 0)])
    res = gaussmix.select(x, n_components=[1, 2, 3, 4], covariance_types=["VVV", "VII"], criterion="aic")
    ok = [r for r in res.rows if r["status"] == "fitted"]
    assert res.rows[res.best_index_]["aic"] == min(r["aic"] for r in ok)
    assert res.rows[res.best_index_]["status"] == "fitted"
    for r in res.rows:
        if r["status"] != "fitted":
            assert r["reason"]


def test_select_dataframe_float32_and_weights():
    pd = pytest.importorskip("pandas")
    x = blobs(n=300, d=2, k=2, seed=10).astype(np.float32)
    df = pd.DataFrame(x, columns=["a", "b"])
    res = gaussmix.select(df, n_components=[1, 2, 3], covariance_types=["VVV", "EII"])
    assert list(res.best_.feature_names_in_) == ["a", "b"]
    assert res.best_.means_.dtype == np.float32
    assert res.best_.predict(df).shape == (300,)
    # integer weights = repeated rows (at this size every row takes part in every start)
    w = np.where(np.arange(300) % 3 == 0, 2.0, 1.0)
    rep = np.repeat(x.astype(np.float64), w.astype(int), axis=0)
    a = gaussmix.select(x.astype(np.float64), n_components=[1, 2], covariance_types=["VVV"], sample_weight=w)
    b = gaussmix.select(rep, n_components=[1, 2], covariance_types=["VVV"])
    for ra, rb in zip(a.rows, b.rows):
        assert ra["log_likelihood"] == pytest.approx(rb["log_likelihood"], rel=1e-6)
    assert "rows" not in repr(a).split("criterion")[0]


def test_select_without_pandas(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "pandas", None)
    rows = [{"n_components": 1}]
    assert gaussmix._select._table(rows) is rows


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(criterion="bogus"), "criterion"),
        (dict(covariance_types=["XYZ"]), "covariance_type"),
        (dict(n_components=[]), "n_components"),
        (dict(n_components=[0, 2]), "n_components"),
        (dict(covariance_types=[]), "at least one"),
    ],
)
def test_select_bad_input(kwargs, match):
    x = blobs(n=100, d=2, k=2, seed=9)
    with pytest.raises(ValueError, match=match):
        gaussmix.select(x, **kwargs)
    with pytest.raises(ValueError):
        gaussmix.select(np.array([[0.0, np.nan], [1.0, 2.0], [3.0, 1.0]]), n_components=[1])
