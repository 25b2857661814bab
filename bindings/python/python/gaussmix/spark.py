"""Fit a Gaussian mixture on a Spark DataFrame: ``gaussmix.spark.fit(df, features, k)``.

Each EM iteration is one Spark job. The features are assembled once, in the JVM, into a
single ``array<double>`` column (a list of numeric columns, an array column or an ML
``Vector`` column all work) and cached; ``mapInArrow`` then hands every Python task Arrow
record batches whose list values are one contiguous N×D buffer, which is viewed as a NumPy
array and passed to Rust without a copy. Each task returns the merged sufficient statistics
of its partition (a few KB of bytes); the driver sums them in partition order, runs the M-step
and ships the new model (its JSON) with the next job.

Requirements on the cluster: ``gaussmix`` (and ``pyarrow``) installed in the executors'
Python. Tasks run the E-step on one thread each (Spark already runs one task per core).
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, List, Optional, Sequence, Union

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

        def stats_pass(model: _core.Model) -> List[bytes]:
            js = model.to_json()
            passes[0] += 1
            pass_no = passes[0]

            def partition_stats(batches: Iterator[Any]) -> Iterator[Any]:
                from pyspark import TaskContext

                from gaussmix import _core as core
                from gaussmix._distributed import check_finite
                from gaussmix.spark import _list_column_to_numpy

                if hook is not None:
                    hook(pass_no)
                pid = TaskContext.get().partitionId()
                m = core.Model.from_json(js)
                acc = None
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
                    s = core.Stats.from_chunk(m, x, w, parallel=False)
                    if acc is None:
                        acc = s
                    else:
                        acc.merge(s)
                if acc is not None:
                    yield pa.RecordBatch.from_arrays(
                        [pa.array([pid], pa.int32()), pa.array([acc.to_bytes()], pa.binary())],
                        names=["part", "stats"],
                    )

            rows = prepared.mapInArrow(partition_stats, "part int, stats binary").collect()
            rows.sort(key=lambda r: r["part"])
            return [bytes(r["stats"]) for r in rows]

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
        if cache:
            prepared.unpersist()
