"""Distributed fits through the sufficient statistics: the bytes API, Spark (local[2],
4 partitions, mapInArrow) and Dask (LocalCluster on 127.0.0.1, 2 worker processes) give the
in-process fit's parameters from the same initial parameters."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import gaussmix
from gaussmix import GaussianMixture, _core

from conftest import blobs, sklearn_style_inits

TYPES = ["full", "tied", "diag", "spherical"]
ATTRS = ["weights_", "means_", "covariances_", "precisions_cholesky_"]


def assert_same_fit(a, b, rtol=1e-9):
    assert a.n_iter_ == b.n_iter_ and a.converged_ == b.converged_
    for attr in ATTRS:
        np.testing.assert_allclose(getattr(a, attr), getattr(b, attr), rtol=rtol, atol=rtol, err_msg=attr)
    np.testing.assert_allclose(a.lower_bounds_, b.lower_bounds_, rtol=rtol)


def data_and_init(ct, n=4000, d=3, k=3, seed=21):
    x = blobs(n, d, k, seed=seed, offset=100.0)
    return x, dict(tol=1e-5, max_iter=200, **sklearn_style_inits(x, k, ct, seed=seed))


def test_stats_bytes_merge_equals_one_pass():
    x = blobs(5000, 4, 3, seed=1)
    g = GaussianMixture(3, random_state=0, max_iter=3, tol=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        g.fit(x)
    m = g.model_
    w = np.linspace(0.5, 2.0, len(x))
    parts = [_core.partial_stats(m, x[i:i + 700], w[i:i + 700]) for i in range(0, len(x), 700)]
    assert all(isinstance(p, bytes) for p in parts)
    merged = _core.merge_stats(parts)
    whole = _core.Stats.from_chunk(m, x, w)
    assert merged.n_samples == whole.n_samples == len(x)
    np.testing.assert_allclose(merged.weight_sum, w.sum(), rtol=1e-13)
    np.testing.assert_allclose(merged.mean_log_likelihood, whole.mean_log_likelihood, rtol=1e-12)
    a, b = merged.finalize(1e-6), whole.finalize(1e-6)
    np.testing.assert_allclose(a.means, b.means, rtol=1e-12)
    np.testing.assert_allclose(a.covariances, b.covariances, rtol=1e-11)
    rt = _core.Stats.from_bytes(merged.to_bytes())
    assert rt.to_bytes() == merged.to_bytes()
    with pytest.raises(ValueError, match="cannot decode"):
        _core.Stats.from_bytes(parts[0][:-3])
    with pytest.raises(ValueError, match="at least one"):
        _core.merge_stats([])
    other = GaussianMixture(3, random_state=5).fit(x).model_
    with pytest.raises(ValueError, match="shift"):
        _core.merge_stats([parts[0], _core.partial_stats(other, x[:10])])


def inprocess(x, ct, init, w=None):
    return GaussianMixture(3, covariance_type=ct, **init).fit(x, sample_weight=w)


@pytest.mark.parametrize("ct", TYPES)
def test_dask_matches_in_process(dask_client, ct):
    import dask.array as da

    x, init = data_and_init(ct)
    a = inprocess(x, ct, init)
    b = gaussmix.dask.fit(da.from_array(x, chunks=(900, 3)), 3, covariance_type=ct, **init)
    assert isinstance(b, GaussianMixture)
    assert_same_fit(a, b)
    np.testing.assert_array_equal(a.predict(x), b.predict(x))


def test_dask_dataframe_weights_and_kmeans_init(dask_client):
    import dask.array as da
    import dask.dataframe as dd
    import pandas as pd

    x, init = data_and_init("diag")
    w = (np.arange(len(x)) % 4).astype(float)
    a = inprocess(x, "diag", init, w)
    ddf = dd.from_pandas(pd.DataFrame(x, columns=["u", "v", "z"]), npartitions=3)
    b = gaussmix.dask.fit(ddf, 3, covariance_type="diag", sample_weight=da.from_array(w, chunks=1000), **init)
    assert_same_fit(a, b)
    assert list(b.feature_names_in_) == ["u", "v", "z"]
    # initialisation on a driver-side sample (k-means), float32 blocks
    c = gaussmix.dask.fit(da.from_array(x.astype(np.float32), chunks=1000), 3, random_state=0)
    assert c.converged_ and c.means_.shape == (3, 3)
    ref = GaussianMixture(3, random_state=0).fit(x)
    assert abs(c.lower_bound_ - ref.lower_bound_) < 1e-2


@pytest.mark.parametrize("ct", TYPES)
def test_spark_matches_in_process(spark, ct):
    import pandas as pd

    x, init = data_and_init(ct)
    a = inprocess(x, ct, init)
    df = spark.createDataFrame(pd.DataFrame(x, columns=["a", "b", "c"])).repartition(4)
    assert df.rdd.getNumPartitions() == 4
    s = gaussmix.spark.fit(df, ["a", "b", "c"], k=3, covariance_type=ct, **init)
    assert isinstance(s, GaussianMixture)
    assert_same_fit(a, s)
    assert list(s.feature_names_in_) == ["a", "b", "c"]


def test_spark_array_column_weights_and_errors(spark):
    import pandas as pd
    from pyspark.sql import functions as F

    x, init = data_and_init("full")
    w = (np.arange(len(x)) % 3).astype(float)
    a = inprocess(x, "full", init, w)
    pdf = pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "w": w})
    df = spark.createDataFrame(pdf).repartition(4).select(F.array("a", "b", "c").alias("vec"), "w")
    s = gaussmix.spark.fit(df, "vec", k=3, weight_col="w", **init)
    assert_same_fit(a, s)
    # k-means initialisation on a driver-side sample
    k = gaussmix.spark.fit(df, "vec", k=3, random_state=0)
    assert k.converged_ and k.n_features_in_ == 3
    # a null feature and a short vector are reported
    bad = spark.createDataFrame(pd.DataFrame({"a": [1.0, None, 3.0, 4.0], "b": [1.0, 2.0, 3.0, 5.0]}))
    with pytest.raises(Exception, match="null"):
        gaussmix.spark.fit(bad, ["a", "b"], k=1)
    ragged = spark.createDataFrame([([1.0, 2.0],), ([1.0],), ([3.0, 1.0],)], "v array<double>")
    with pytest.raises(Exception, match="expected 2"):
        gaussmix.spark.fit(ragged, "v", k=1)


def test_dask_too_few_rows_and_bad_values(dask_client):
    import dask.array as da

    x, init = data_and_init("full")
    with pytest.raises(ValueError, match="n_samples >= n_components"):
        gaussmix.dask.fit(da.from_array(x[:2]), 3, covariance_type="full", **init)
    bad = x.copy()
    bad[1234, 2] = np.inf
    with pytest.raises(ValueError, match=r"non-finite value inf in feature column 2 \(0-based\) \(block 1, row 234"):
        gaussmix.dask.fit(da.from_array(bad, chunks=1000), 3, covariance_type="full", **init)


@pytest.mark.parametrize("n_parts,regroup", [(2, "auto"), (3, "checkpoint"), (3, "shuffle")])
def test_spark_barrier_and_jobs_modes_agree_bit_for_bit(spark, capsys, monkeypatch, n_parts, regroup):
    """One barrier job for the whole fit (tasks keep their rows, exchange statistics every
    iteration) gives the one-job-per-iteration fit bit for bit: weights, two k-means starts,
    and the same verbose output; 2 partitions run one per slot of local[2, 4], 3 are
    regrouped into the 2 slots (each partition whole in one task, its rows in order) by a
    local checkpoint (the default on a local master) or by a shuffle (elsewhere)."""
    import pandas as pd

    monkeypatch.setattr(gaussmix.spark, "_REGROUP", regroup)

    x, _ = data_and_init("full")
    w = (np.arange(len(x)) % 5).astype(float)
    df = spark.createDataFrame(pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "w": w}))
    df = df.repartition(n_parts)
    opts = dict(k=3, weight_col="w", n_init=2, random_state=0, tol=1e-6, max_iter=60,
                verbose=2, verbose_interval=5)  # fmt: skip
    jobs = gaussmix.spark.fit(df, ["a", "b", "c"], mode="jobs", **opts)
    out_jobs = capsys.readouterr().out
    barrier = gaussmix.spark.fit(df, ["a", "b", "c"], mode="barrier", **opts)
    out_barrier = capsys.readouterr().out
    assert jobs.n_iter_ == barrier.n_iter_ and jobs.converged_ == barrier.converged_
    for attr in ATTRS + ["lower_bounds_"]:
        np.testing.assert_array_equal(getattr(jobs, attr), getattr(barrier, attr), err_msg=attr)
    assert jobs.lower_bound_ == barrier.lower_bound_
    assert "Initialization 1" in out_jobs and out_barrier == out_jobs


def test_spark_mode_choice_and_errors(spark, tmp_path):
    import pandas as pd

    df = spark.createDataFrame(pd.DataFrame(blobs(300, 2, 2, seed=4), columns=["a", "b"]))
    with pytest.raises(ValueError, match="mode must be one of 'auto', 'barrier', 'jobs'"):
        gaussmix.spark.fit(df, ["a", "b"], k=2, mode="mpi")
    with pytest.raises(ValueError, match="checkpoint/resume need mode='jobs'"):
        gaussmix.spark.fit(df, ["a", "b"], k=2, mode="barrier", checkpoint=str(tmp_path / "c"))
    assert gaussmix.spark._task_slots(spark.sparkContext) == 2
    assert gaussmix.spark._choose_mode("auto", spark.sparkContext, False) == ("barrier", 2)
    assert gaussmix.spark._choose_mode("auto", spark.sparkContext, True) == ("jobs", None)
    # auto with a checkpoint runs the jobs loop, and writes the checkpoint
    g = gaussmix.spark.fit(df, ["a", "b"], k=2, random_state=0, checkpoint=str(tmp_path / "c"),
                           checkpoint_every=1)  # fmt: skip
    assert g.n_iter_ >= 2 and (tmp_path / "c").exists()
    # the data's own errors come back from the barrier tasks as ValueErrors
    with pytest.raises(ValueError, match="n_samples >= n_components"):
        gaussmix.spark.fit(df.limit(2), ["a", "b"], k=3, mode="barrier",
                           **sklearn_style_inits(blobs(300, 2, 3), 3, "full"))  # fmt: skip
