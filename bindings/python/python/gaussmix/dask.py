"""Fit a Gaussian mixture on a Dask array or DataFrame: ``gaussmix.dask.fit(X, k)``.

The data are persisted once (on the workers, with a ``distributed`` client; in memory with
the local schedulers); each EM iteration then computes one small task per row block — the
block's sufficient statistics as bytes, with the GIL released — and the driver sums them in
block order, runs the M-step and sends the new model (its JSON) with the next round of tasks.
The scheduler is Dask's current one: the active ``distributed.Client`` if there is one.

Requirements on the cluster: ``gaussmix`` installed in the workers' Python.
"""

from __future__ import annotations

from typing import Any, Callable, List, Optional, Sequence

import numpy as np

from . import _core, _distributed
from .mixture import GaussianMixture

__all__ = ["fit"]


def _block_stats(
    model_json: str,
    x: np.ndarray,
    w: Optional[np.ndarray],
    pass_no: int = 0,
    hook: Optional[Callable[[int], None]] = None,
    names: Optional[List[str]] = None,
    block: int = 0,
) -> bytes:
    from gaussmix import _core as core
    from gaussmix._distributed import check_finite

    if hook is not None:
        hook(pass_no)
    m = core.Model.from_json(model_json)
    if w is not None:
        w = np.ascontiguousarray(w, dtype=np.float64)
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float64)
    if pass_no == 1:
        check_finite(x, names, f"block {block}")
    return core.partial_stats(m, x, w, parallel=False)


def fit(
    X: Any,
    k: int = 1,
    *,
    sample_weight: Any = None,
    columns: Optional[Sequence[str]] = None,
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
    persist: bool = True,
    checkpoint: Optional[str] = None,
    checkpoint_every: int = 10,
    resume: Optional[str] = None,
    _task_hook: Optional[Callable[[int], None]] = None,
) -> GaussianMixture:
    """Fit a ``k``-component mixture to the rows of a Dask array (N×D) or DataFrame.

    Parameters
    ----------
    X : dask.array.Array or dask.dataframe.DataFrame
        float32/float64 arrays are used as they are; other numeric types become float64.
    k : number of components.
    sample_weight : optional Dask array / Series (or NumPy array) of N non-negative weights.
    columns : for a DataFrame, the feature columns (default: all).
    covariance_type, tol, reg_covar, max_iter, n_init, init_params, weights_init,
    means_init, precisions_init, random_state, verbose, verbose_interval :
        as in :class:`gaussmix.GaussianMixture`.
    init_sample_rows : unless weights, means and precisions are all given, the
        initialisation runs on the client on a seeded random sample of at most this many rows.
    persist : persist the data for the passes (recommended).
    checkpoint : a file the state of EM is written to (atomically) every
        ``checkpoint_every`` iterations, so that a fit whose client died can go on.
    resume : a checkpoint file to continue from (same data and options; refused naming
        what differs); the fit ends with the model it would have given uninterrupted, bit
        for bit. Checkpointing goes on to ``checkpoint``, or to ``resume`` if none.
    _task_hook : for fault-injection tests only: called at the start of every block task
        with the pass number (1 for the first pass over the data), on the worker.

    Returns
    -------
    gaussmix.GaussianMixture, fitted.
    """
    import dask
    import dask.array as da

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
    names: Optional[List[str]] = None
    if hasattr(X, "to_dask_array") and hasattr(X, "columns"):  # dask DataFrame
        if columns is not None:
            X = X[list(columns)]
        cols = list(X.columns)
        if all(isinstance(c, str) for c in cols):
            names = cols
        X = X.to_dask_array(lengths=True)
    elif not isinstance(X, da.Array):
        X = da.from_array(np.asarray(X))
    if X.ndim != 2:
        raise ValueError(f"Expected a 2D array, got an array of {X.ndim} dimensions")
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    if any(np.isnan(c) for c in X.chunks[0]):
        X = X.compute_chunk_sizes()
    X = X.rechunk({1: -1})
    n, d = int(X.shape[0]), int(X.shape[1])
    if n == 0 or d == 0:
        raise ValueError(f"Found array with {n} sample(s) and {d} feature(s) while a minimum of 1 is required.")
    W = None
    if sample_weight is not None:
        if hasattr(sample_weight, "to_dask_array"):
            sample_weight = sample_weight.to_dask_array(lengths=True)
        W = da.asarray(sample_weight).astype(np.float64)
        if W.shape != (n,):
            raise ValueError(f"sample_weight.shape == {W.shape}, expected ({n},)!")
        W = W.rechunk((X.chunks[0],))
    if persist:
        X = X.persist()
        if W is not None:
            W = W.persist()
    x_blocks = list(X.to_delayed().ravel())
    w_blocks: List[Any] = list(W.to_delayed().ravel()) if W is not None else [None] * len(x_blocks)

    passes = [0]

    def stats_pass(model: _core.Model) -> List[bytes]:
        js = dask.delayed(model.to_json(), pure=True)
        passes[0] += 1
        tasks = [
            dask.delayed(_block_stats, pure=True)(js, xb, wb, passes[0], _task_hook, names, i)
            for i, (xb, wb) in enumerate(zip(x_blocks, w_blocks))
        ]
        return list(dask.compute(*tasks))

    sample = sample_w = None
    if not _distributed.all_given(est):
        rs = np.random.RandomState(_distributed._seed_from(random_state) % (2**32))
        m = min(n, int(init_sample_rows))
        idx = np.sort(rs.choice(n, size=m, replace=False)) if m < n else np.arange(n)
        sample = np.asarray(X[idx].compute())
        if W is not None:
            sample_w = np.asarray(W[idx].compute(), dtype=np.float64)
    if sample is not None:
        _distributed.check_finite(sample, names, "the initialisation sample")
    starts = _distributed.initial_models(est, d, sample, sample_w)
    ckpt = _distributed.checkpointer(
        "dask", est, checkpoint, checkpoint_every, resume, init_sample_rows=init_sample_rows
    )
    return _distributed.fit(stats_pass, est, d, starts, feature_names=names, checkpointer=ckpt)
