"""The engine-independent part of distributed fits (DESIGN.md §3).

Every EM iteration is one pass over the data: each partition turns (model, rows) into
sufficient statistics (``_core.partial_stats``: bytes, a few KB), the driver merges them in
partition order (a plain sum), ``finalize`` is the M-step, and the new model is broadcast to
the next pass. The loop is the library's own (``em_with`` in ``crates/gaussmix/src/em.rs``):
the lower bound is the mean log-likelihood of the parameters before each M-step, and the fit
stops when it changes by less than ``tol``. From the same initial parameters this gives the
in-process fit's parameters up to the rounding of the different summation order.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Callable, List, Optional, Sequence

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from . import _core
from .mixture import _CORE_INIT, GaussianMixture, _seed_from, check_params, checked_inits

#: A pass over the data: model -> serialised statistics of every partition, in a fixed order.
StatsPass = Callable[[_core.Model], Sequence[bytes]]


def check_finite(x: np.ndarray, names: Optional[Sequence[str]], where: str) -> None:
    """Raises a ValueError naming the first column (by name when known) and row of a
    non-finite value in ``x``, a batch of the part of the data ``where`` names."""
    bad = ~np.isfinite(x)
    if bad.any():
        row, col = (int(v) for v in np.argwhere(bad)[0])
        what = repr(names[col]) if names is not None else f"{col} (0-based)"
        raise ValueError(
            f"non-finite value {x[row, col]} in feature column {what} "
            f"({where}, row {row} of a batch); drop or fill it before fitting"
        )


def make_estimator(k: int, params: dict) -> GaussianMixture:
    est = GaussianMixture(n_components=k, **params)
    check_params(est)
    return est


def all_given(est: GaussianMixture) -> bool:
    return (
        est.weights_init is not None
        and est.means_init is not None
        and est.precisions_init is not None
    )


def initial_models(
    est: GaussianMixture,
    n_features: int,
    sample: Optional[np.ndarray],
    sample_weight: Optional[np.ndarray] = None,
) -> List[_core.Model]:
    """One starting model per initialisation. With weights, means and precisions all given
    no data is needed; otherwise the chosen method runs on ``sample`` (rows drawn on the
    driver), one seed per start."""
    w, m, p = checked_inits(
        est.covariance_type, est.n_components, n_features,
        est.weights_init, est.means_init, est.precisions_init,
    )
    base = _seed_from(est.random_state)
    if all_given(est):
        # the core needs K rows to accept a fit; with every parameter given they are unused
        sample, sample_weight = np.zeros((est.n_components, n_features)), None
        n_init = 1
    else:
        n_init = int(est.n_init)
        if sample is None or sample.shape[0] < est.n_components:
            got = 0 if sample is None else sample.shape[0]
            raise ValueError(
                f"Expected n_samples >= n_components but got n_components = "
                f"{est.n_components}, n_samples = {got} (in the initialisation sample)"
            )
    out = []
    for i in range(n_init):
        out.append(
            _core.fit(
                np.ascontiguousarray(sample),
                n_components=est.n_components,
                covariance_type=est.covariance_type,
                reg_covar=float(est.reg_covar),
                max_iter=0,
                init=_CORE_INIT[est.init_params],
                seed=(base + i) % (2**63),
                weights_init=w,
                means_init=m,
                precisions_init=p,
                sample_weight=sample_weight,
            )
        )
    return out


def em(
    stats_pass: StatsPass,
    model: _core.Model,
    *,
    tol: float,
    max_iter: int,
    reg_covar: float,
    verbose: int = 0,
    verbose_interval: int = 10,
    init: int = 0,
) -> _core.Model:
    """EM from ``model``: one ``stats_pass`` per iteration."""
    lower_bound = -math.inf
    lower_bounds: List[float] = []
    converged = False
    n_iter = 0
    if verbose:
        print("Initialization %d" % init)
    for it in range(1, max_iter + 1):
        prev = lower_bound
        parts = list(stats_pass(model))
        if not parts:
            raise ValueError("the data has no rows")
        stats = _core.merge_stats(parts)
        if stats.weight_sum <= 0.0:
            raise ValueError("invalid sample weights: all sample weights are zero")
        if it == 1 and stats.n_samples < model.n_components:
            raise ValueError(
                "Expected n_samples >= n_components but got n_components = "
                f"{model.n_components}, n_samples = {stats.n_samples}"
            )
        lower_bound = stats.mean_log_likelihood
        model = stats.finalize(reg_covar)
        lower_bounds.append(lower_bound)
        n_iter = it
        change = lower_bound - prev
        if verbose and it % verbose_interval == 0:
            print("  Iteration %d\t ll change %.5f" % (it, change))
        if abs(change) < tol:
            converged = True
            break
    if verbose:
        msg = "converged" if converged else "did not converge"
        print(f"Initialization {msg}. lower bound {lower_bound:.5f}.")
    return model.with_info(converged, n_iter, lower_bound, lower_bounds)


def fit(
    stats_pass: StatsPass,
    est: GaussianMixture,
    n_features: int,
    starts: List[_core.Model],
    feature_names: Optional[List[str]] = None,
) -> GaussianMixture:
    """Runs EM from each start, keeps the best lower bound, and returns ``est`` fitted."""
    best: Optional[_core.Model] = None
    for i, start in enumerate(starts):
        model = em(
            stats_pass,
            start,
            tol=float(est.tol),
            max_iter=int(est.max_iter),
            reg_covar=float(est.reg_covar),
            verbose=int(est.verbose),
            verbose_interval=int(est.verbose_interval),
            init=i,
        )
        if best is None or model.lower_bound > best.lower_bound:
            best = model
    assert best is not None
    if not best.converged and est.max_iter > 0:
        warnings.warn(
            "Best performing initialization did not converge. "
            "Try different init parameters, or increase max_iter, "
            "tol, or check for degenerate data.",
            ConvergenceWarning,
        )
    if feature_names is not None:
        est.feature_names_in_ = np.asarray(feature_names, dtype=object)
    return est.set_model(best, n_features)


def params_of(**kw: Any) -> dict:
    """Estimator parameters from a distributed ``fit``'s keyword arguments."""
    return dict(kw)
