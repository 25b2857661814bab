"""Shared fixtures. The Spark and Dask tests need pyspark + Java 17 and dask.distributed;
without them they skip, unless GAUSSMIX_REQUIRE_CLUSTER_TESTS=1 (set by CI), where a
missing engine is a failure."""

import os
import shutil
import sys

import numpy as np
import pytest

REQUIRE = os.environ.get("GAUSSMIX_REQUIRE_CLUSTER_TESTS") == "1"

# scripts/build_wheel.sh: the suite must test the installed wheel, not the source tree
_PREFIX = os.environ.get("GAUSSMIX_EXPECT_PREFIX")
if _PREFIX:
    import gaussmix

    _where = os.path.realpath(gaussmix.__file__)
    if not _where.startswith(os.path.realpath(_PREFIX) + os.sep):
        raise RuntimeError(f"gaussmix was imported from {_where}, not from {_PREFIX}")
    print(f"gaussmix {gaussmix.__version__} under test from {_where}")


def _missing(what):
    if REQUIRE:
        pytest.fail(f"{what} is required (GAUSSMIX_REQUIRE_CLUSTER_TESTS=1) but missing")
    pytest.skip(f"{what} not available")


@pytest.fixture(scope="session")
def spark():
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        _missing("pyspark")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        _missing("java")
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    # local[2, 4]: two cores, and a failed task is retried up to 4 times as on a cluster
    # (plain local[2] fails the job on the first task failure)
    session = (
        SparkSession.builder.master("local[2,4]")
        .appName("gaussmix-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "1000")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def dask_client():
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        _missing("dask.distributed")
    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
    )
    client = Client(cluster)
    yield client
    client.close()
    cluster.close()


def blobs(n=3000, d=3, k=3, seed=0, offset=0.0):
    """Overlapping clusters with different shapes."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 4, size=(k, d))
    parts = []
    for c in range(k):
        a = rng.normal(size=(d, d)) * 0.6 + np.eye(d)
        parts.append(rng.normal(size=(n // k, d)) @ a + centers[c])
    x = np.concatenate(parts)
    return x[rng.permutation(len(x))] + offset


def sklearn_style_inits(x, k, covariance_type, seed=0):
    """weights/means/precisions in scikit-learn's shapes, from a k-means-free guess."""
    rng = np.random.default_rng(seed)
    d = x.shape[1]
    means = x[rng.choice(len(x), k, replace=False)]
    cov = np.cov(x.T) * 0.5 + np.eye(d) * 0.1
    prec = np.linalg.inv(cov)
    prec = 0.5 * (prec + prec.T)
    precisions = {
        "full": np.stack([prec * (1 + 0.1 * i) for i in range(k)]),
        "tied": prec,
        "diag": np.stack([np.diag(prec) * (1 + 0.1 * i) for i in range(k)]),
        "spherical": np.array([np.diag(prec).mean() * (1 + 0.1 * i) for i in range(k)]),
    }[covariance_type]
    weights = np.full(k, 1.0 / k)
    return dict(weights_init=weights, means_init=means, precisions_init=precisions)
