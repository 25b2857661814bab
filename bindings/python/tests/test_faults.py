"""Faults in distributed fits (issue 18 items 1 and 4): a statistics task that fails on its
first attempt is retried by Spark, a Dask worker killed mid-fit is replaced, and either way
the fit equals the unfaulted one bit for bit; empty partitions, non-finite values and
concurrent use of one fitted model from many threads."""

import importlib
import os
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import gaussmix
from gaussmix import GaussianMixture

from conftest import _missing, blobs, sklearn_style_inits

ATTRS = ["weights_", "means_", "covariances_", "precisions_cholesky_", "lower_bounds_"]

def _pickle_by_value():
    """The fault hooks below run in Spark's and Dask's worker processes, which cannot import
    this test module: ship its definitions by value."""
    for name in ("cloudpickle", "pyspark.cloudpickle"):
        try:
            importlib.import_module(name).register_pickle_by_value(sys.modules[__name__])
        except ImportError:
            pass


_pickle_by_value()

#: the pass (EM iteration, from given initial parameters) in which the fault is injected
FAULT_PASS = 3


def assert_identical(a, b):
    assert a.n_iter_ == b.n_iter_ and a.converged_ == b.converged_
    for attr in ATTRS:
        np.testing.assert_array_equal(getattr(a, attr), getattr(b, attr), err_msg=attr)


def data_and_init(n=4000, seed=3):
    x = blobs(n, 3, 3, seed=seed, offset=10.0)
    return x, dict(tol=1e-6, max_iter=30, **sklearn_style_inits(x, 3, "full", seed=seed))


class SparkFirstAttemptFails:
    """Raises in every task of pass ``FAULT_PASS`` on its first attempt; Spark retries them.
    Counts the injected faults in a folder (one empty file per fault)."""

    def __init__(self, folder):
        self.folder = str(folder)

    def __call__(self, pass_no):
        from pyspark import TaskContext

        ctx = TaskContext.get()
        if pass_no == FAULT_PASS and ctx.attemptNumber() == 0:
            open(os.path.join(self.folder, f"fault-{ctx.partitionId()}"), "w").close()
            raise RuntimeError(f"injected fault in pass {pass_no}, partition {ctx.partitionId()}")


class DaskKillWorkerOnce:
    """Kills the worker process running the first task of pass ``FAULT_PASS`` (once: a marker
    file, created atomically, says it has happened); the nanny starts a new worker and the
    scheduler reruns the lost tasks."""

    def __init__(self, folder):
        self.marker = os.path.join(str(folder), "killed")

    def __call__(self, pass_no):
        if pass_no != FAULT_PASS:
            return
        try:
            fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return
        os.close(fd)
        os._exit(1)


@pytest.mark.parametrize("worker_cache", [False, True])
def test_spark_task_failure_is_retried_and_changes_nothing(spark, tmp_path, worker_cache):
    import pandas as pd

    x, init = data_and_init()
    df = spark.createDataFrame(pd.DataFrame(x, columns=["a", "b", "c"])).repartition(4)
    clean = gaussmix.spark.fit(df, ["a", "b", "c"], k=3, mode="jobs", worker_cache=False, **init)
    assert clean.n_iter_ > FAULT_PASS
    faulted = gaussmix.spark.fit(
        df, ["a", "b", "c"], k=3, _task_hook=SparkFirstAttemptFails(tmp_path),
        mode="jobs", worker_cache=worker_cache, **init,
    )  # fmt: skip
    faults = sorted(p.name for p in tmp_path.iterdir())
    assert len(faults) == 4, faults  # every partition's first attempt failed, and was retried
    assert_identical(clean, faulted)


class SparkBarrierFailsOnce:
    """Raises once, in barrier task 1 in iteration ``FAULT_PASS`` (a marker file, created
    atomically, says it has happened): a failed barrier task makes Spark rerun the whole
    stage. Leaves one empty file per fault."""

    def __init__(self, folder):
        self.folder = str(folder)

    def __call__(self, pass_no):
        from pyspark import TaskContext

        ctx = TaskContext.get()
        if pass_no != FAULT_PASS or ctx.partitionId() != 1:
            return
        try:
            fd = os.open(os.path.join(self.folder, "fault-1"), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return
        os.close(fd)
        raise RuntimeError(f"injected fault in iteration {pass_no}, barrier task 1")


@pytest.mark.parametrize("n_parts", [2, 4])
def test_spark_barrier_task_failure_reruns_the_stage_and_changes_nothing(spark, tmp_path, n_parts):
    """Issue 18's fault behaviour in barrier mode: a task failing mid-fit makes Spark rerun
    the stage (every task, from the first iteration); the model is the unfaulted one, and
    the one-job-per-iteration fit's, bit for bit (2 partitions: one per slot; 4: shuffled
    to the 2 slots of local[2, 4])."""
    import pandas as pd

    x, init = data_and_init()
    df = spark.createDataFrame(pd.DataFrame(x, columns=["a", "b", "c"])).repartition(n_parts)
    jobs = gaussmix.spark.fit(df, ["a", "b", "c"], k=3, mode="jobs", worker_cache=False, **init)
    clean = gaussmix.spark.fit(df, ["a", "b", "c"], k=3, mode="barrier", **init)
    assert clean.n_iter_ > FAULT_PASS
    assert_identical(jobs, clean)
    faulted = gaussmix.spark.fit(
        df, ["a", "b", "c"], k=3, mode="barrier", _task_hook=SparkBarrierFailsOnce(tmp_path),
        **init,
    )  # fmt: skip
    assert [p.name for p in tmp_path.iterdir()] == ["fault-1"], "the fault was not injected"
    assert_identical(clean, faulted)


def test_dask_worker_killed_mid_fit_is_replaced_and_changes_nothing(dask_client, tmp_path):
    import dask.array as da

    x, init = data_and_init()
    X = da.from_array(x, chunks=(700, 3))
    clean = gaussmix.dask.fit(X, 3, **init)
    assert clean.n_iter_ > FAULT_PASS
    workers_before = set(dask_client.scheduler_info()["workers"])
    faulted = gaussmix.dask.fit(X, 3, _task_hook=DaskKillWorkerOnce(tmp_path), **init)
    assert (tmp_path / "killed").exists(), "the fault was not injected"
    dask_client.wait_for_workers(2, timeout=60)
    workers_after = set(dask_client.scheduler_info()["workers"])
    assert workers_after != workers_before, "no worker was replaced"
    assert_identical(clean, faulted)


@pytest.mark.parametrize("mode", ["barrier", "jobs"])
def test_spark_empty_partitions_and_non_finite_values(spark, mode):
    import pandas as pd

    x, init = data_and_init(n=600)
    a = GaussianMixture(3, **init).fit(x)
    # 16 partitions of 600 rows hashed by a column with 3 values: most are empty
    pdf = pd.DataFrame(x, columns=["a", "b", "c"]).assign(g=np.arange(len(x)) % 3)
    df = spark.createDataFrame(pdf).repartition(16, "g")
    sizes = df.rdd.glom().map(len).collect()
    assert sizes.count(0) >= 10, sizes
    s = gaussmix.spark.fit(df, ["a", "b", "c"], k=3, mode=mode, **init)
    np.testing.assert_allclose(s.means_, a.means_, rtol=1e-9)
    assert s.n_iter_ == a.n_iter_
    from pyspark.sql import functions as F

    rows = spark.createDataFrame(pdf.assign(row=np.arange(len(x))))
    # a NaN (Spark keeps it as a value) in column b, and a null (from pandas' NaN) in column c
    nan = rows.withColumn("b", F.when(F.col("row") == 417, F.lit(float("nan"))).otherwise(F.col("b")))
    nan = nan.repartition(4)
    with pytest.raises(Exception, match="non-finite value nan in feature column 'b'"):
        gaussmix.spark.fit(nan, ["a", "b", "c"], k=3, mode=mode, **init)
    with pytest.raises(ValueError, match="feature column 'b' \\(the initialisation sample"):
        gaussmix.spark.fit(nan, ["a", "b", "c"], k=3, mode=mode, random_state=0)
    null = spark.createDataFrame(pdf.assign(c=np.where(np.arange(len(x)) == 33, np.nan, x[:, 2])))
    with pytest.raises(Exception, match="null value in feature column 'c'"):
        gaussmix.spark.fit(null.repartition(4), ["a", "b", "c"], k=3, mode=mode, **init)


def test_dask_dataframe_non_finite_value_names_the_column(dask_client):
    import dask.dataframe as dd
    import pandas as pd

    x, init = data_and_init(n=900)
    pdf = pd.DataFrame(x, columns=["u", "v", "w"])
    pdf.loc[500, "w"] = -np.inf
    ddf = dd.from_pandas(pdf, npartitions=3)
    with pytest.raises(ValueError, match="non-finite value -inf in feature column 'w' \\(block 1, row 200"):
        gaussmix.dask.fit(ddf, 3, **init)


@pytest.mark.parametrize("method", ["predict", "predict_proba", "score_samples", "score"])
def test_one_model_from_eight_threads_equals_serial(method):
    x = blobs(20_000, 4, 4, seed=9)
    g = GaussianMixture(4, random_state=0).fit(x)
    chunks = np.array_split(x, 64)
    serial = [getattr(g, method)(c) for c in chunks]
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(3):
            threaded = list(pool.map(getattr(g, method), chunks))
            for s, t in zip(serial, threaded):
                np.testing.assert_array_equal(s, t)


# --- checkpoint and resume of distributed fits (issue 18 item 2) ---------------------------

_CHILD = r"""
import sys, time
import numpy as np
import dask, dask.array as da
import gaussmix

def slow(pass_no):
    time.sleep(0.01)

x = np.load(sys.argv[1])
dask.config.set(scheduler="synchronous")
gaussmix.dask.fit(da.from_array(x, chunks=(500, 3)), 3, tol=0.0, max_iter=40, n_init=2,
                  random_state=0, checkpoint=sys.argv[2], checkpoint_every=2, _task_hook=slow)
print("finished")
"""


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_dask_fit_killed_with_sigkill_resumes_bit_for_bit(tmp_path):
    """A driver process killed with SIGKILL in its second start is resumed from its
    checkpoint in another process and gives the uninterrupted fit, bit for bit."""
    import json
    import signal
    import subprocess
    import time

    try:
        import dask
        import dask.array as da
    except ImportError:
        _missing("dask")

    x = blobs(3000, 3, 3, seed=8, offset=2.0)
    np.save(tmp_path / "x.npy", x)
    ck = tmp_path / "fit.ckpt"
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(tmp_path / "x.npy"), str(ck)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    deadline = time.time() + 300
    state = None
    while time.time() < deadline and child.poll() is None:
        if ck.exists():
            state = json.loads(ck.read_text())
            if state["init"] == 1 and state["n_iter"] >= 4:
                break
        time.sleep(0.05)
    assert child.poll() is None, f"the fit ended before the kill: {child.communicate()}"
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL
    state = json.loads(ck.read_text())
    assert state["init"] == 1 and state["best"] is not None
    opts = dict(tol=0.0, max_iter=40, n_init=2, random_state=0)
    with dask.config.set(scheduler="synchronous"):
        X = da.from_array(x, chunks=(500, 3))
        resumed = gaussmix.dask.fit(X, 3, resume=str(ck), **opts)
        clean = gaussmix.dask.fit(X, 3, **opts)
        assert_identical(clean, resumed)
        # the same checkpoint with another k, or on other rows, is refused by name
        with pytest.raises(ValueError, match="n_components was 3 and is now 2"):
            gaussmix.dask.fit(X, 2, resume=str(ck), **opts)
        with pytest.raises(ValueError, match="other data: it had 3000 rows"):
            gaussmix.dask.fit(da.from_array(x[:2900], chunks=(500, 3)), 3, resume=str(ck), **opts)


class SparkDriverDiesAt:
    """Fails every attempt of the tasks of one pass: the job, and with it the fit, fails
    as when the driver dies there."""

    def __init__(self, pass_no):
        self.pass_no = pass_no

    def __call__(self, pass_no):
        if pass_no == self.pass_no:
            raise RuntimeError(f"injected: the fit dies in pass {pass_no}")


def test_spark_fit_that_died_resumes_bit_for_bit(spark, tmp_path):
    import pandas as pd

    x, init = data_and_init(seed=5)
    df = spark.createDataFrame(pd.DataFrame(x, columns=["a", "b", "c"])).repartition(3)
    clean = gaussmix.spark.fit(df, ["a", "b", "c"], k=3, **init)
    assert clean.n_iter_ > 8
    ck = tmp_path / "spark.ckpt"
    with pytest.raises(Exception, match="injected"):
        gaussmix.spark.fit(
            df, ["a", "b", "c"], k=3, checkpoint=str(ck), checkpoint_every=3,
            _task_hook=SparkDriverDiesAt(8), **init,
        )
    import json

    assert json.loads(ck.read_text())["n_iter"] == 6
    resumed = gaussmix.spark.fit(df, ["a", "b", "c"], k=3, resume=str(ck), **init)
    assert_identical(clean, resumed)


class RewriteBetweenPasses:
    """Rewrites the file a Dask array reads, with other rows, before pass 3."""

    def __init__(self, path, rows):
        self.path, self.rows = str(path), rows

    def __call__(self, pass_no):
        marker = self.path + ".rewritten"
        if pass_no == 3 and not os.path.exists(marker):
            open(marker, "w").close()
            np.save(self.path, self.rows)


def test_data_that_change_between_passes_are_an_error(tmp_path):
    """A source read again on every pass (persist=False) whose rows change mid-fit stops
    the fit with an error saying so, instead of mixing two data sets."""
    try:
        import dask
        import dask.array as da
    except ImportError:
        _missing("dask")

    x, init = data_and_init(n=1200, seed=2)
    path = tmp_path / "x.npy"
    np.save(path, x)
    block = da.from_delayed(dask.delayed(np.load)(str(path)), shape=x.shape, dtype=x.dtype)
    with dask.config.set(scheduler="synchronous"):
        hook = RewriteBetweenPasses(path, x[:900])
        with pytest.raises(ValueError, match="the data changed between passes: the first pass saw 1200 rows"):
            gaussmix.dask.fit(block, 3, persist=False, _task_hook=hook, **init)
        # persisted (the default), the rows the fit started with are the ones it uses
        np.save(path, x)
        os.unlink(str(path) + ".rewritten")
        clean = gaussmix.dask.fit(block, 3, **init)
        held = gaussmix.dask.fit(block, 3, _task_hook=RewriteBetweenPasses(path, x[:900]), **init)
        assert_identical(clean, held)


def test_spark_source_files_rewritten_mid_fit_change_nothing_when_cached(spark, tmp_path):
    """A Parquet folder rewritten (other rows) while a fit with cache=True (the default)
    runs: the fit uses the rows it started with, bit for bit. (Uncached, what Spark does
    with files deleted under a running job depends on when its scan opened them; the
    driver's check of the rows per pass is tested with Dask above.)"""
    import pandas as pd

    x, init = data_and_init(seed=4)
    folder = tmp_path / "pq"
    spark.createDataFrame(pd.DataFrame(x, columns=list("abc"))).repartition(3).write.parquet(str(folder))

    class Rewrite:
        def __init__(self, folder):
            self.folder = str(folder)

        def __call__(self, pass_no):
            import glob

            marker = self.folder + ".rewritten"
            if pass_no == 3 and not os.path.exists(marker):
                open(marker, "w").close()
                for f in glob.glob(self.folder + "/*.parquet"):
                    os.unlink(f)
                name = f"/new-{len(os.listdir(self.folder))}-{os.getpid()}.parquet"
                pd.DataFrame(x[:100], columns=list("abc")).to_parquet(self.folder + name)

    df = spark.read.parquet(str(folder))
    clean = gaussmix.spark.fit(df, list("abc"), k=3, **init)
    held = gaussmix.spark.fit(df, list("abc"), k=3, _task_hook=Rewrite(folder), **init)
    assert os.path.exists(str(folder) + ".rewritten"), "the files were not rewritten"
    assert_identical(clean, held)


class CountWorkerFiles:
    """At pass ``at``, writes how many partitions have a complete file in the worker cache."""

    def __init__(self, root, at):
        self.root, self.at = str(root), at

    def __call__(self, pass_no):
        import glob

        if pass_no == self.at:
            n = len(glob.glob(os.path.join(self.root, "gaussmix-spark-*", "*.json")))
            with open(self.root + f".count-{os.getpid()}", "w") as f:
                f.write(str(n))


class LoseWorkerFiles:
    """Deletes every partition file of the worker cache once, at pass ``at`` (as when a
    worker's temporary folder is cleared mid-fit)."""

    def __init__(self, root, at):
        self.root, self.at = str(root), at

    def __call__(self, pass_no):
        import glob
        import shutil

        marker = self.root + ".lost"
        if pass_no == self.at and not os.path.exists(marker):
            open(marker, "w").close()
            for folder in glob.glob(os.path.join(self.root, "gaussmix-spark-*")):
                shutil.rmtree(folder)


def test_spark_worker_cache_gives_the_arrow_passes_fit_and_cleans_up(spark, tmp_path):
    """Issue 14 item 7: passes after the first read each partition from its worker's file,
    not from the DataFrame; the fit is the one of Arrow passes bit for bit (weights too),
    the files exist while it runs and are gone after it."""
    import pandas as pd

    x, init = data_and_init(seed=6)
    w = np.random.default_rng(6).integers(0, 3, len(x)).astype(float)
    pdf = pd.DataFrame(x, columns=list("abc")).assign(w=w)
    df = spark.createDataFrame(pdf).repartition(4)
    root = tmp_path / "cache"
    plain = gaussmix.spark.fit(df, list("abc"), k=3, weight_col="w", mode="jobs", worker_cache=False, **init)
    kept = gaussmix.spark.fit(
        df, list("abc"), k=3, weight_col="w", mode="jobs", worker_cache=True, worker_cache_dir=str(root),
        _task_hook=CountWorkerFiles(root, 3), **init,
    )  # fmt: skip
    assert plain.n_iter_ > 3
    assert_identical(plain, kept)
    counts = {p.read_text() for p in tmp_path.glob("cache.count-*")}
    assert counts == {"4"}, counts  # every partition was cached while the fit ran
    assert not list(root.glob("gaussmix-spark-*")), "the worker files were not removed"


def test_spark_worker_files_lost_mid_fit_are_read_again(spark, tmp_path):
    import pandas as pd

    x, init = data_and_init(seed=7)
    df = spark.createDataFrame(pd.DataFrame(x, columns=list("abc"))).repartition(4)
    root = tmp_path / "cache"
    plain = gaussmix.spark.fit(df, list("abc"), k=3, mode="jobs", worker_cache=False, **init)
    kept = gaussmix.spark.fit(
        df, list("abc"), k=3, mode="jobs", worker_cache=True, worker_cache_dir=str(root),
        _task_hook=LoseWorkerFiles(root, 4), **init,
    )  # fmt: skip
    assert os.path.exists(str(root) + ".lost"), "the files were not deleted"
    assert plain.n_iter_ > 4
    assert_identical(plain, kept)
