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


#: Version of the distributed-fit checkpoint layout.
CHECKPOINT_FORMAT_VERSION = 1


class Checkpointer:
    """Checkpoints of a distributed fit (``checkpoint=`` / ``resume=`` of
    :func:`gaussmix.spark.fit` and :func:`gaussmix.dask.fit`).

    The state of the driver's EM loop — the initialisation being run, its iteration count
    and lower bounds, the current parameters and the best finished initialisation (model
    JSON, which round-trips every float exactly) — is written atomically to ``path``
    every ``every`` iterations (temporary file, fsync, rename). A fit resumed from it
    runs the same passes from the same parameters and ends with the same model, bit for
    bit, as one never interrupted. The options of the fit are stored with it, and the row
    count and total weight of the data are checked at the first pass after resuming: a
    checkpoint of another fit is refused naming what differs.
    """

    def __init__(
        self,
        path: str,
        every: int,
        options: dict,
        resume: Optional[str] = None,
    ) -> None:
        import json

        if int(every) < 1:
            raise ValueError(f"checkpoint_every must be at least 1, got {every}")
        self.path = str(path)
        self.every = int(every)
        self.options = {k: _option_text(v) for k, v in sorted(options.items())}
        self.data: Optional[dict] = None
        self.state: Optional[dict] = None
        self.since = 0
        self.written = 0
        if resume is not None:
            with open(resume, encoding="utf-8") as f:
                try:
                    state = json.load(f)
                except ValueError as e:
                    raise ValueError(f"resume={resume!r}: not a checkpoint ({e})") from None
            version = state.get("gaussmix_distributed_checkpoint") if isinstance(state, dict) else None
            if version is None:
                raise ValueError(f"resume={resume!r}: not a gaussmix distributed-fit checkpoint")
            if version > CHECKPOINT_FORMAT_VERSION:
                raise ValueError(
                    f"resume={resume!r}: checkpoint version {version} was written by a newer "
                    f"gaussmix; this one reads version {CHECKPOINT_FORMAT_VERSION}"
                )
            diffs = [
                f"{k} was {state['options'].get(k, 'unset')} and is now {self.options.get(k, 'unset')}"
                for k in sorted(set(state["options"]) | set(self.options))
                if state["options"].get(k) != self.options.get(k)
            ]
            if diffs:
                raise ValueError(
                    f"resume={resume!r} was written by another fit: " + "; ".join(diffs)
                    + " (resume with the data and options it was written with)"
                )
            self.state = state
            self.data = state["data"]

    def check_data(self, n_samples: int, weight_sum: float) -> None:
        """Records the data's size at the first pass, or checks it against the resumed one."""
        seen = {"n_samples": int(n_samples), "weight_sum": float(weight_sum)}
        if self.data is None:
            self.data = seen
        elif self.data != seen:
            raise ValueError(
                "the checkpoint was written by a fit of other data: it had "
                f"{self.data['n_samples']} rows of total weight {self.data['weight_sum']!r}, "
                f"these have {seen['n_samples']} of {seen['weight_sum']!r}"
            )

    def take_resume(self) -> Optional[dict]:
        state, self.state = self.state, None
        return state

    def tick(self, init: int, n_iter: int, lower_bound: float, lower_bounds: List[float],
             model: _core.Model, best: Optional[_core.Model]) -> None:
        """Called between iterations; writes a checkpoint when one is due."""
        self.since += 1
        if self.since < self.every:
            return
        import json
        import os
        import tempfile

        state = {
            "gaussmix_distributed_checkpoint": CHECKPOINT_FORMAT_VERSION,
            "options": self.options,
            "data": self.data,
            "init": init,
            "n_iter": n_iter,
            "lower_bound": lower_bound if math.isfinite(lower_bound) else None,
            "lower_bounds": lower_bounds,
            "model": model.to_json(),
            "best": None if best is None else best.to_json(),
        }
        folder = os.path.dirname(os.path.abspath(self.path))
        fd, tmp = tempfile.mkstemp(prefix=".gaussmix-ckpt-", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(state, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        try:
            dfd = os.open(folder, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        except OSError:
            pass
        self.since = 0
        self.written += 1


def _option_text(v: Any) -> str:
    """An option as text for a checkpoint: arrays by a fingerprint of their bytes."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return repr(v)
    if isinstance(v, (list, tuple)) and all(isinstance(e, str) for e in v):
        return repr(list(v))
    import hashlib

    try:
        a = np.ascontiguousarray(np.asarray(v, dtype=np.float64))
    except (TypeError, ValueError):
        # e.g. a RandomState: its draws cannot be checked, only its kind
        return type(v).__name__
    return f"array{a.shape} sha256:{hashlib.sha256(a.tobytes()).hexdigest()[:16]}"


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
    resume: Optional[dict] = None,
    checkpointer: Optional[Checkpointer] = None,
    best: Optional[_core.Model] = None,
) -> _core.Model:
    """EM from ``model`` (or the ``resume`` state): one ``stats_pass`` per iteration."""
    lower_bound = -math.inf
    lower_bounds: List[float] = []
    converged = False
    n_iter = 0
    if resume is not None:
        model = _core.Model.from_json(resume["model"])
        n_iter = int(resume["n_iter"])
        lower_bound = -math.inf if resume["lower_bound"] is None else float(resume["lower_bound"])
        lower_bounds = [float(v) for v in resume["lower_bounds"]]
    if verbose:
        print("Initialization %d" % init)
    first = n_iter + 1
    for it in range(first, max_iter + 1):
        if checkpointer is not None and it > first:
            checkpointer.tick(init, n_iter, lower_bound, lower_bounds, model, best)
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
        if checkpointer is not None and it == first:
            checkpointer.check_data(stats.n_samples, stats.weight_sum)
        size = (int(stats.n_samples), float(stats.weight_sum))
        if it == first:
            first_size = size
        elif size != first_size:
            # a source re-read every pass (no cache/persist) changed under the fit
            raise ValueError(
                f"the data changed between passes: the first pass saw {first_size[0]} rows "
                f"of total weight {first_size[1]!r}, pass {it - first + 1} sees {size[0]} of "
                f"{size[1]!r} (were the files behind the DataFrame or array rewritten? "
                "cache=True / persist=True holds the rows the fit started with)"
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


def run_starts(
    stats_pass: StatsPass,
    est: GaussianMixture,
    starts: List[_core.Model],
    checkpointer: Optional[Checkpointer] = None,
) -> _core.Model:
    """Runs EM from each start and returns the model of the best lower bound (the first of
    equal ones); with a ``checkpointer``, checkpoints as it goes and resumes from its state.
    This loop runs on the driver (one pass per iteration) or, for a barrier-mode Spark fit,
    in every task at once with the same merged statistics."""
    best: Optional[_core.Model] = None
    resume = checkpointer.take_resume() if checkpointer is not None else None
    if resume is not None and resume["best"] is not None:
        best = _core.Model.from_json(resume["best"])
    for i, start in enumerate(starts):
        if resume is not None and i < int(resume["init"]):
            continue
        here = resume if resume is not None and i == int(resume["init"]) else None
        resume = None if here is not None else resume
        model = em(
            stats_pass,
            start,
            tol=float(est.tol),
            max_iter=int(est.max_iter),
            reg_covar=float(est.reg_covar),
            verbose=int(est.verbose),
            verbose_interval=int(est.verbose_interval),
            init=i,
            resume=here,
            checkpointer=checkpointer,
            best=best,
        )
        if best is None or model.lower_bound > best.lower_bound:
            best = model
    assert best is not None
    return best


def finish(
    est: GaussianMixture,
    best: _core.Model,
    n_features: int,
    feature_names: Optional[List[str]] = None,
) -> GaussianMixture:
    """``est`` fitted with the best model (scikit-learn's warning when it did not converge)."""
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


def fit(
    stats_pass: StatsPass,
    est: GaussianMixture,
    n_features: int,
    starts: List[_core.Model],
    feature_names: Optional[List[str]] = None,
    checkpointer: Optional[Checkpointer] = None,
) -> GaussianMixture:
    """Runs EM from each start, keeps the best lower bound, and returns ``est`` fitted;
    with a ``checkpointer``, checkpoints as it goes and resumes from its state."""
    best = run_starts(stats_pass, est, starts, checkpointer)
    return finish(est, best, n_features, feature_names)


def checkpointer(
    engine: str,
    est: GaussianMixture,
    checkpoint: Optional[str],
    every: int,
    resume: Optional[str],
    **extra: Any,
) -> Optional[Checkpointer]:
    """The checkpointer of a distributed fit, or None without ``checkpoint``/``resume``."""
    path = checkpoint if checkpoint is not None else resume
    if path is None:
        return None
    keys = (
        "n_components", "covariance_type", "tol", "reg_covar", "max_iter", "n_init",
        "init_params", "random_state", "weights_init", "means_init", "precisions_init",
    )
    options = {k: getattr(est, k) for k in keys}
    options.update(engine=engine, **extra)
    return Checkpointer(path, every, options, resume)


def params_of(**kw: Any) -> dict:
    """Estimator parameters from a distributed ``fit``'s keyword arguments."""
    return dict(kw)
