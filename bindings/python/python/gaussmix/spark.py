"""Fit a Gaussian mixture on a Spark DataFrame: ``gaussmix.spark.fit(df, features, k)``.

Each EM iteration is one Spark job. The features are assembled once, in the JVM, into a
single ``array<double>`` column (a list of numeric columns, an array column or an ML
``Vector`` column all work) and cached; ``mapInArrow`` then hands every Python task Arrow
record batches whose list values are one contiguous N×D buffer, which is viewed as a NumPy
array and passed to Rust without a copy. Each task returns the merged sufficient statistics
of its partition (a few KB of bytes); the driver sums them in partition order, runs the M-step
and ships the new model (its JSON) with the next job.

On a local master the first pass also leaves each partition's rows, as the NumPy buffers it
fitted, in a file on the worker machine (``worker_cache``); later passes are jobs of one
small task per partition that map those files and never touch the DataFrame, because a pass
over a cached DataFrame costs far more than the E-step (Spark decodes the cached rows and
re-encodes them as Arrow every time). A partition whose file is gone is read from the
DataFrame again, so the result is the same either way, bit for bit.

Requirements on the cluster: ``gaussmix`` (and ``pyarrow``) installed in the executors'
Python. Tasks run the E-step on one thread each (Spark already runs one task per core).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _core, _distributed
from .mixture import GaussianMixture

__all__ = ["fit"]


def _null_feature(values: Any, d: int, names: Optional[Sequence[str]]) -> ValueError:
    """The error for the first null among ``values`` (the batch's features, flattened row
    by row), naming its column and row."""
    import pyarrow.compute as pc

    row, col = divmod(int(pc.index(pc.is_null(values), True).as_py()), d)
    what = repr(names[col]) if names is not None else f"{col} (0-based)"
    return ValueError(
        f"null value in feature column {what} (row {row} of a batch); "
        "drop or fill nulls before fitting"
    )


def _list_column_to_numpy(col: Any, d: int, names: Optional[Sequence[str]] = None) -> np.ndarray:
    """An Arrow list<double> column whose lists all have ``d`` values, as an N×D NumPy view
    of its value buffer (no copy). ``names`` (of the D features) name a null's column."""
    import pyarrow as pa

    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if col.null_count:
        raise ValueError("a row has a null feature vector (drop or fill nulls before fitting)")
    n = len(col)
    if pa.types.is_fixed_size_list(col.type):
        values = col.flatten()
    else:
        offsets = col.offsets.to_numpy()
        lengths = np.diff(offsets)
        bad = np.flatnonzero(lengths != d)
        if bad.size:
            raise ValueError(
                f"a feature vector has {int(lengths[bad[0]])} values, expected {d} "
                f"(row {int(bad[0])} of a batch)"
            )
        values = col.values.slice(int(offsets[0]), int(offsets[-1] - offsets[0]))
    if values.null_count:
        raise _null_feature(values, d, names)
    if not pa.types.is_floating(values.type):
        values = values.cast(pa.float64())
    x = values.to_numpy(zero_copy_only=True)
    return x.reshape(n, d)


def _features_column(df: Any, features: Union[str, Sequence[str]]) -> Any:
    """A Spark Column ``array<double>`` of the features, and their names (or None)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import ArrayType

    if isinstance(features, str):
        dtype = df.schema[features].dataType
        if isinstance(dtype, ArrayType):
            return F.col(features).cast("array<double>"), None
        if dtype.typeName() == "vector" or type(dtype).__name__ == "VectorUDT":
            from pyspark.ml.functions import vector_to_array

            return vector_to_array(F.col(features), "float64"), None
        features = [features]
    names = list(features)
    if not names:
        raise ValueError("features must name at least one column")
    return F.array(*[F.col(c).cast("double") for c in names]), names


def _worker_dir(root: Optional[str], fit_id: str) -> str:
    """The folder of one fit's partition files on a worker."""
    return os.path.join(root or tempfile.gettempdir(), f"gaussmix-spark-{fit_id}")


class _PartitionWriter:
    """Writes one partition's rows (and weights) as raw buffers, batch by batch, with the
    batch sizes and dtype in a ``.json`` written last: a partition is cached only once its
    ``.json`` exists, and each file lands by an atomic rename (a retried task rewrites it)."""

    def __init__(self, folder: str, pid: int, tag: str):
        os.makedirs(folder, exist_ok=True)
        self.folder, self.pid, self.tag = folder, pid, tag
        self.x = open(self._path("x") + tag, "wb")
        self.w: Optional[Any] = None
        self.batches: List[int] = []
        self.dtype: Optional[str] = None

    def _path(self, what: str) -> str:
        return os.path.join(self.folder, f"{self.pid}.{what}")

    def add(self, x: np.ndarray, w: Optional[np.ndarray]) -> None:
        self.dtype = x.dtype.str
        self.x.write(np.ascontiguousarray(x).data)
        if w is not None:
            if self.w is None:
                self.w = open(self._path("w") + self.tag, "wb")
            self.w.write(np.ascontiguousarray(w, dtype=np.float64).data)
        self.batches.append(int(x.shape[0]))

    def close(self) -> None:
        self.x.close()
        os.replace(self._path("x") + self.tag, self._path("x"))
        if self.w is not None:
            self.w.close()
            os.replace(self._path("w") + self.tag, self._path("w"))
        meta = {"batches": self.batches, "dtype": self.dtype, "weights": self.w is not None}
        with open(self._path("json") + self.tag, "w") as f:
            json.dump(meta, f)
        os.replace(self._path("json") + self.tag, self._path("json"))

    def abandon(self) -> None:
        for f in (self.x, self.w):
            if f is not None:
                f.close()
        for what in ("x", "w"):
            try:
                os.remove(self._path(what) + self.tag)
            except OSError:
                pass


def _cached_partition_stats(
    folder: str, pid: int, d: int, js: str
) -> Tuple[str, Optional[bytes]]:
    """("miss", None) when partition ``pid`` has no complete file here; otherwise ("ok",
    its merged statistics, or None for an empty partition), chunked as the first pass was."""
    from gaussmix import _core as core

    try:
        with open(os.path.join(folder, f"{pid}.json")) as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return "miss", None
    rows = sum(meta["batches"])
    if rows == 0:
        return "ok", None
    dtype = np.dtype(meta["dtype"])
    x = np.memmap(os.path.join(folder, f"{pid}.x"), dtype=dtype, mode="r")
    if x.size != rows * d:
        return "miss", None
    x = x.reshape(rows, d)
    w = None
    if meta["weights"]:
        w = np.memmap(os.path.join(folder, f"{pid}.w"), dtype=np.float64, mode="r")
        if w.size != rows:
            return "miss", None
    m = core.Model.from_json(js)
    acc = None
    off = 0
    for nb in meta["batches"]:
        if nb == 0:
            continue
        s = core.Stats.from_chunk(
            m, x[off : off + nb], None if w is None else w[off : off + nb], parallel=False
        )
        off += nb
        if acc is None:
            acc = s
        else:
            acc.merge(s)
    return "ok", None if acc is None else acc.to_bytes()


def fit(
    df: Any,
    features: Union[str, Sequence[str]],
    k: int = 1,
    *,
    weight_col: Optional[str] = None,
    covariance_type: str = "full",
    tol: float = 1e-3,
    reg_covar: float = 1e-6,
    max_iter: int = 100,
    n_init: int = 1,
    init_params: str = "kmeans",
    weights_init: Any = None,
    means_init: Any = None,
    precisions_init: Any = None,
    random_state: Any = None,
    verbose: int = 0,
    verbose_interval: int = 10,
    init_sample_rows: int = 100_000,
    cache: bool = True,
    worker_cache: Optional[bool] = None,
    worker_cache_dir: Optional[str] = None,
    checkpoint: Optional[str] = None,
    checkpoint_every: int = 10,
    resume: Optional[str] = None,
    _task_hook: Optional[Callable[[int], None]] = None,
) -> GaussianMixture:
    """Fit a ``k``-component mixture to the rows of a Spark DataFrame.

    Parameters
    ----------
    df : pyspark.sql.DataFrame
    features : column name or list of column names
        Numeric columns (one feature each), or one ``array<numeric>`` or ML ``Vector``
        column holding the whole feature vector.
    k : number of components.
    weight_col : optional column of non-negative sample weights.
    covariance_type, tol, reg_covar, max_iter, n_init, init_params, weights_init,
    means_init, precisions_init, random_state, verbose, verbose_interval :
        as in :class:`gaussmix.GaussianMixture`.
    init_sample_rows : unless weights, means and precisions are all given, the
        initialisation (k-means etc.) runs on the driver on a seeded random sample of about
        this many rows; each of the ``n_init`` starts uses its own seed.
    cache : persist the assembled feature column for the passes (recommended).
    worker_cache : keep each partition's rows in a file on its worker after the first pass
        and run the later passes from those files (a pass then costs about one E-step; see
        the module's notes). None (default): on for a local master (``local[...]``), where
        every task sees every file; on a cluster a task may run on another executor than the
        one holding its file, which then re-reads its rows from the DataFrame (correct,
        but no faster, and the file is written again there), so it is off unless True.
        The files take as much disk as the rows and are removed when the fit ends (on a
        cluster, from the executors that run the clean-up tasks).
    worker_cache_dir : the folder for those files on each worker (default: the worker's
        temporary folder, ``tempfile.gettempdir()``).
    checkpoint : a file on the driver the state of EM is written to (atomically) every
        ``checkpoint_every`` iterations, so that a fit whose driver died can go on.
    resume : a checkpoint file to continue from (same data and options; refused naming
        what differs); the fit ends with the model it would have given uninterrupted, bit
        for bit. Checkpointing goes on to ``checkpoint``, or to ``resume`` if none.
    _task_hook : for fault-injection tests only: called at the start of every statistics
        task with the pass number (1 for the first pass over the data), in the executor.

    Returns
    -------
    gaussmix.GaussianMixture, fitted (``predict``, ``score_samples``... work in-process;
    ``model_.to_json()`` is the model to broadcast for scoring on the cluster).
    """
    import pyarrow as pa
    from pyspark.sql import functions as F

    est = _distributed.make_estimator(
        k,
        dict(
            covariance_type=covariance_type, tol=tol, reg_covar=reg_covar,
            max_iter=max_iter, n_init=n_init, init_params=init_params,
            weights_init=weights_init, means_init=means_init,
            precisions_init=precisions_init, random_state=random_state,
            verbose=verbose, verbose_interval=verbose_interval,
        ),
    )
    col, names = _features_column(df, features)
    cols = [col.alias("x")]
    if weight_col is not None:
        cols.append(F.col(weight_col).cast("double").alias("w"))
    prepared = df.select(*cols)
    if cache:
        prepared = prepared.persist()
    sc = prepared.sparkSession.sparkContext
    keep = sc.master.startswith("local") if worker_cache is None else bool(worker_cache)
    folder = _worker_dir(worker_cache_dir, uuid.uuid4().hex)
    n_parts = prepared.rdd.getNumPartitions() if keep else 0
    try:
        if names is not None:
            d = len(names)
        else:
            first = prepared.select(F.size("x").alias("d")).first()
            if first is None:
                raise ValueError("the DataFrame has no rows")
            d = int(first["d"])
        has_w = weight_col is not None
        passes = [0]
        hook = _task_hook

        parts_done: Dict[int, bool] = {}

        def arrow_pass(js: str, pass_no: int, only: Optional[List[int]]) -> Dict[int, bytes]:
            """Statistics of the partitions (``only`` those) read from the DataFrame; with
            ``keep``, each task also leaves its partition's file."""

            def partition_stats(batches: Iterator[Any]) -> Iterator[Any]:
                from pyspark import TaskContext

                from gaussmix import _core as core
                from gaussmix._distributed import check_finite
                from gaussmix.spark import _list_column_to_numpy, _PartitionWriter

                if hook is not None:
                    hook(pass_no)
                ctx = TaskContext.get()
                pid = ctx.partitionId()
                m = core.Model.from_json(js)
                writer = None
                if keep:
                    tag = f".{ctx.attemptNumber()}.{os.getpid()}.tmp"
                    writer = _PartitionWriter(folder, pid, tag)
                acc = None
                try:
                    for b in batches:
                        if b.num_rows == 0:
                            continue
                        x = _list_column_to_numpy(b.column(0), d, names)
                        if pass_no == 1:
                            check_finite(x, names, f"partition {pid}")
                        w = None
                        if has_w:
                            wc = b.column(1)
                            if wc.null_count:
                                raise ValueError("null sample weight")
                            w = np.ascontiguousarray(wc.to_numpy(zero_copy_only=False), dtype=np.float64)
                        if writer is not None:
                            writer.add(x, w)
                        s = core.Stats.from_chunk(m, x, w, parallel=False)
                        if acc is None:
                            acc = s
                        else:
                            acc.merge(s)
                except BaseException:
                    if writer is not None:
                        writer.abandon()
                    raise
                if writer is not None:
                    writer.close()
                yield pa.RecordBatch.from_arrays(
                    [pa.array([pid], pa.int32()),
                     pa.array([None if acc is None else acc.to_bytes()], pa.binary())],
                    names=["part", "stats"],
                )  # fmt: skip

            src = prepared
            if only is not None:
                src = prepared.where(F.spark_partition_id().isin(only))
            rows = src.mapInArrow(partition_stats, "part int, stats binary").collect()
            return {int(r["part"]): r["stats"] for r in rows}

        def stats_pass(model: _core.Model) -> List[bytes]:
            js = model.to_json()
            passes[0] += 1
            pass_no = passes[0]
            if not keep or not parts_done:
                got = arrow_pass(js, pass_no, None)
                parts_done.update({p: True for p in got})
            else:

                def cached(pid: int, _rows: Iterator[Any]) -> Iterator[Tuple[int, str, Optional[bytes]]]:
                    from gaussmix.spark import _cached_partition_stats

                    if hook is not None:
                        hook(pass_no)
                    status, b = _cached_partition_stats(folder, pid, d, js)
                    yield pid, status, b

                res = sc.parallelize(range(n_parts), n_parts).mapPartitionsWithIndex(cached).collect()
                got = {pid: b for pid, status, b in res if status == "ok"}
                missed = sorted(pid for pid, status, _ in res if status == "miss")
                if missed:
                    got.update(arrow_pass(js, pass_no, missed))
            return [bytes(got[p]) for p in sorted(got) if got[p] is not None]

        sample = sample_w = None
        if not _distributed.all_given(est):
            n = prepared.count()
            frac = min(1.0, 1.5 * init_sample_rows / max(n, 1))
            seed = _distributed._seed_from(random_state) % (2**31)
            sampled = prepared if frac >= 1.0 else prepared.sample(False, frac, seed)
            table = sampled.limit(init_sample_rows).toArrow() if hasattr(sampled, "toArrow") else None
            if table is not None:
                sample = _list_column_to_numpy(table.column("x"), d, names).copy() if table.num_rows else np.zeros((0, d))
                if has_w:
                    sample_w = np.asarray(table.column("w").to_numpy(), dtype=np.float64)
            else:  # Spark < 4: through pandas
                pdf = sampled.limit(init_sample_rows).toPandas()
                sample = np.array([np.asarray(v, dtype=np.float64) for v in pdf["x"]]).reshape(-1, d)
                if has_w:
                    sample_w = pdf["w"].to_numpy(dtype=np.float64)
        if sample is not None:
            _distributed.check_finite(sample, names, "the initialisation sample")
        starts = _distributed.initial_models(est, d, sample, sample_w)
        ckpt = _distributed.checkpointer(
            "spark", est, checkpoint, checkpoint_every, resume,
            init_sample_rows=init_sample_rows, features=features, weight_col=weight_col,
        )
        return _distributed.fit(
            stats_pass, est, d, starts, feature_names=names, checkpointer=ckpt
        )
    finally:
        if keep:
            _remove_worker_files(prepared, folder, n_parts)
        if cache:
            prepared.unpersist()


def _remove_worker_files(prepared: Any, folder: str, n_parts: int) -> None:
    """Removes a fit's partition files: on the driver's machine, and on the workers that
    run one clean-up task per partition (best effort: a failure here does not fail the fit)."""

    def remove(_rows: Iterator[Any]) -> Iterator[int]:
        shutil.rmtree(folder, ignore_errors=True)
        yield 0

    try:
        if n_parts:
            sc = prepared.sparkSession.sparkContext
            sc.parallelize(range(n_parts), n_parts).mapPartitions(remove).collect()
    except Exception:  # noqa: BLE001 - the fit's own result or error matters more
        pass
    shutil.rmtree(folder, ignore_errors=True)
