"""``gaussmix.GaussianMixture``: a drop-in for ``sklearn.mixture.GaussianMixture``.

Same constructor parameters and defaults, same fitted attributes and methods; the EM runs in
Rust (the ``gaussmix`` crate) with the GIL released, on float32 or float64 input used in place.
Additions: ``sample_weight`` in ``fit``/``fit_predict``.

Differences from scikit-learn worth knowing:

* Fitted parameters have the dtype of the training data, as in scikit-learn (float32 for
  float32 input), and so do ``predict_proba`` and ``score_samples`` for float32 input; the
  statistics are accumulated in float64 either way, and the float32 attributes are the
  float64 fit rounded once.
* The tied/diag/spherical M-steps centre the data (scikit-learn uses raw moments, which lose
  digits for data far from the origin), so results agree with scikit-learn to ~1e-8 on
  ordinary data and are more accurate on data with a large offset.
* The k-means / k-means++ / random initialisations use gaussmix's own seeded generator, so a
  given ``random_state`` picks different starting points than scikit-learn's (give
  ``weights_init``, ``means_init`` and ``precisions_init`` to compare iterate by iterate).
* The fitted attributes are the state, as in scikit-learn: assigning ``weights_``,
  ``means_`` or ``precisions_cholesky_`` (or changing them in place) changes ``predict``,
  ``predict_proba``, ``score_samples``, ``score``, ``bic``/``aic`` and a warm start;
  ``sample`` reads ``weights_``, ``means_`` and ``covariances_``, as scikit-learn's does.
  An estimator built from known parameters (set those attributes on an unfitted one)
  predicts; with ``covariances_`` only, the precision factors are computed from them.
* ``covariance_type`` also takes mclust's fourteen family names (``"EII"`` … ``"VVV"``;
  ``"VII"``, ``"VVI"``, ``"EEE"``, ``"VVV"`` are ``spherical``, ``diag``, ``tied``, ``full``).
  Covariances are stored as the family's storage: ``EII`` as spherical (K,), ``EEI``,
  ``VEI``, ``EVI`` as diagonal (K, D), and the eight oriented families ``VEE`` … ``EVV`` as
  (K, D, D); ``precisions_init`` takes the same shape. ``prior="mclust"`` (or a dict of
  hyperparameters) fits the posterior mode under mclust's conjugate prior (MAP EM), and
  ``noise=True`` adds a uniform noise component (``noise_weight_``; ``predict_proba`` then
  has K + 1 columns, the noise last, and ``predict`` gives K for rows it explains best).
* An M-step *during* EM that cannot factor a covariance (a component on one row, or on
  coincident rows, with a small ``reg_covar``) ends that start with the parameters before
  it (``converged_`` False, a ``ConvergenceWarning``), where scikit-learn's raw-moment
  M-step usually rounds the variance to a tiny positive number and goes on (its #18216
  case). The initialisation's own M-step failing raises scikit-learn's ValueError.
* Threads: ``gaussmix.set_num_threads`` or ``threadpoolctl.threadpool_limits`` (see
  ``gaussmix._threads``); ``OMP_NUM_THREADS`` is respected as scikit-learn's OpenMP code
  does. Ctrl-C (``KeyboardInterrupt``) stops a fit within one EM iteration, in a script or
  a Jupyter kernel; an exception raised by the verbose callback stops it at once.
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any, Optional, Tuple

import numpy as np
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _core

__all__ = ["GaussianMixture"]

_COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
#: mclust's fourteen families, in mclust's order (four of them are scikit-learn's types).
MCLUST_FAMILIES = (
    "EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE",
    "VEE", "EVE", "VVE", "EEV", "VEV", "EVV", "VVV",
)  # fmt: skip
_SKLEARN_OF = {"VII": "spherical", "VVI": "diag", "EEE": "tied", "VVV": "full"}
_STORAGE = {"full": "full", "tied": "tied", "diag": "diag", "spherical": "spherical"}
_STORAGE.update({f: "spherical" for f in ("EII", "VII")})
_STORAGE.update({f: "diag" for f in ("EEI", "VEI", "EVI", "VVI")})
_STORAGE.update({"EEE": "tied"})
_STORAGE.update({f: "full" for f in ("VEE", "EVE", "VVE", "EEV", "VEV", "EVV", "VVV")})


def family_name(covariance_type: str) -> str:
    """The library's name of a covariance type: scikit-learn's four names for themselves
    and for their mclust names (``"VVV"`` -> ``"full"``), mclust's three letters (upper
    case) for the others. Raises ValueError for an unknown name."""
    if covariance_type in _COVARIANCE_TYPES:
        return covariance_type
    if isinstance(covariance_type, str) and covariance_type.upper() in MCLUST_FAMILIES:
        up = covariance_type.upper()
        return _SKLEARN_OF.get(up, up)
    raise ValueError(
        f"The 'covariance_type' parameter must be a str among {set(_COVARIANCE_TYPES)} or "
        f"one of mclust's families {', '.join(MCLUST_FAMILIES)}. Got {covariance_type!r} instead."
    )


def storage(covariance_type: str) -> str:
    """How a covariance type's covariances are shaped: ``full`` (K, D, D), ``tied`` (D, D),
    ``diag`` (K, D) or ``spherical`` (K,)."""
    return _STORAGE[family_name(covariance_type)]
_INIT_PARAMS = ("kmeans", "k-means++", "random", "random_from_data")
_CORE_INIT = {
    "kmeans": "kmeans",
    "k-means++": "k-means++",
    "random": "random",
    "random_from_data": "random-from-data",
}


def _em_options(est: Any) -> dict:
    """The keyword arguments every core fit takes from an estimator's EM parameters
    (the seed drawn once from its ``random_state``)."""
    return dict(
        n_components=int(est.n_components),
        covariance_type=est.covariance_type,
        tol=float(est.tol),
        reg_covar=float(est.reg_covar),
        max_iter=int(est.max_iter),
        n_init=int(est.n_init),
        init=_CORE_INIT[est.init_params],
        seed=_seed_from(est.random_state),
    )


def _seed_from(random_state: Any) -> int:
    """A u64 seed for the Rust generator: an int is used as it is (so it matches the CLI's
    ``--seed``); None or a RandomState draws one (None: from NumPy's global generator)."""
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"random_state must be non-negative, got {random_state}")
        return int(random_state)
    rs = check_random_state(random_state)
    return int(rs.randint(0, np.iinfo(np.int64).max, dtype=np.int64))


def _check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"The '{name}' parameter must be an int in the range [{low}, inf). Got {value!r} instead.")
    if value < low:
        raise ValueError(f"The '{name}' parameter must be an int in the range [{low}, inf). Got {value!r} instead.")
    return int(value)


def _check_real(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"The '{name}' parameter must be a float in the range [0.0, inf). Got {value!r} instead.")
    if not (value >= 0.0):
        raise ValueError(f"The '{name}' parameter must be a float in the range [0.0, inf). Got {value!r} instead.")
    return float(value)


def check_base_params(est: Any) -> None:
    """scikit-learn's constraints on the parameters every mixture shares (its
    ``BaseMixture``: GaussianMixture and BayesianGaussianMixture), with its error types."""
    _check_int("n_components", est.n_components, 1)
    _check_real("tol", est.tol)
    _check_real("reg_covar", est.reg_covar)
    _check_int("max_iter", est.max_iter, 0)
    _check_int("n_init", est.n_init, 1)
    _check_int("verbose_interval", est.verbose_interval, 1)
    if est.init_params not in _INIT_PARAMS:
        raise ValueError(
            f"The 'init_params' parameter must be a str among {set(_INIT_PARAMS)}. "
            f"Got {est.init_params!r} instead."
        )
    if not isinstance(est.warm_start, (bool, np.bool_)):
        raise TypeError(f"The 'warm_start' parameter must be an instance of 'bool'. Got {est.warm_start!r} instead.")
    if not isinstance(est.verbose, (numbers.Integral, np.bool_)) or est.verbose < 0:
        raise TypeError(f"The 'verbose' parameter must be a non-negative int or a bool. Got {est.verbose!r} instead.")
    if est.random_state is not None and not isinstance(
        est.random_state, (numbers.Integral, np.random.RandomState)
    ):
        raise TypeError(
            "The 'random_state' parameter must be an int, a numpy.random.RandomState instance "
            f"or None. Got {est.random_state!r} instead."
        )


def check_params(est: "GaussianMixture") -> None:
    """scikit-learn's parameter constraints for GaussianMixture, with its error types."""
    check_base_params(est)
    family_name(est.covariance_type)
    if not isinstance(getattr(est, "noise", False), (bool, np.bool_)):
        raise TypeError(f"The 'noise' parameter must be an instance of 'bool'. Got {est.noise!r} instead.")
    noise_init = getattr(est, "noise_init", 0.1)
    if isinstance(noise_init, bool) or not isinstance(noise_init, numbers.Real) or not 0.0 < noise_init < 1.0:
        raise ValueError(f"The 'noise_init' parameter must be a float in (0, 1). Got {noise_init!r} instead.")
    prior = getattr(est, "prior", None)
    if not (prior is None or prior == "mclust" or isinstance(prior, dict)):
        raise ValueError(
            "The 'prior' parameter must be None, 'mclust' or a dict with keys shrinkage, mean, "
            f"dof and scale. Got {prior!r} instead."
        )
    if getattr(est, "missing_values", "error") not in ("error", "em"):
        raise ValueError(
            "The 'missing_values' parameter must be a str among {'error', 'em'}. "
            f"Got {est.missing_values!r} instead."
        )


def checked_inits(
    covariance_type: str,
    n_components: int,
    n_features: int,
    weights_init: Any,
    means_init: Any,
    precisions_init: Any,
) -> Tuple[Optional[np.ndarray], Optional[np.ndarray], Optional[np.ndarray]]:
    """The user's initial parameters as float64 arrays, checked as scikit-learn checks them."""
    w = m = p = None
    if weights_init is not None:
        w = np.asarray(weights_init)
        if w.dtype != np.float32:
            w = w.astype(np.float64)
        if w.shape != (n_components,):
            raise ValueError(
                f"The parameter 'weights' should have the shape of ({n_components},), but got {w.shape}"
            )
        if np.any(w < 0.0) or np.any(w > 1.0):
            # scikit-learn's message, whose "max" is the minimum (its tests match it)
            raise ValueError(
                "The parameter 'weights' should be in the range [0, 1], but got max value "
                f"{w.min():.5f}, min value {w.max():.5f}"
            )
        # scikit-learn's tolerance: float32 weights sum to 1 only within float32 rounding
        atol = 1e-6 if w.dtype == np.float32 else 1e-8
        if not np.allclose(float(abs(1.0 - w.sum())), 0.0, atol=atol):
            raise ValueError(
                f"The parameter 'weights' should be normalized, but got sum(weights) = {w.sum():.5f}"
            )
        w = w.astype(np.float64)
        if w.dtype != np.asarray(weights_init).dtype:
            w /= w.sum()  # float32 rounding: exact in float64 after this
        w = np.ascontiguousarray(w)
    if means_init is not None:
        m = np.ascontiguousarray(np.asarray(means_init, dtype=np.float64))
        if m.shape != (n_components, n_features):
            raise ValueError(
                f"The parameter 'means' should have the shape of ({n_components}, {n_features}), "
                f"but got {m.shape}"
            )
        if not np.all(np.isfinite(m)):
            raise ValueError("The parameter 'means' should be finite")
    if precisions_init is not None:
        p = np.ascontiguousarray(np.asarray(precisions_init, dtype=np.float64))
        kind = storage(covariance_type)
        shape = {
            "full": (n_components, n_features, n_features),
            "tied": (n_features, n_features),
            "diag": (n_components, n_features),
            "spherical": (n_components,),
        }[kind]
        if p.shape != shape:
            raise ValueError(
                f"The parameter '{covariance_type} precision' should have the shape of {shape}, "
                f"but got {p.shape}"
            )
        if not np.all(np.isfinite(p)):
            raise ValueError(f"'{covariance_type} precision' should be finite")
        if kind in ("full", "tied"):
            mats = p if kind == "full" else p[None]
            for a in mats:
                if not (np.allclose(a, a.T) and np.all(np.linalg.eigvalsh(a) > 0.0)):
                    raise ValueError(
                        f"'{covariance_type} precision' should be symmetric, positive-definite"
                    )
        elif np.any(p <= 0.0):
            raise ValueError(f"'{covariance_type} precision' should be positive")
    return w, m, p


class GaussianMixture(DensityMixin, BaseEstimator):
    """Gaussian mixture model fitted by EM (in Rust).

    Parameters, attributes and methods are those of
    :class:`sklearn.mixture.GaussianMixture`; see its documentation. ``fit`` and
    ``fit_predict`` also take ``sample_weight`` (non-negative, one per row: a row of weight
    2 counts as two copies of it).

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
    means_ : ndarray of shape (n_components, n_features)
    covariances_ : ndarray, shaped by covariance_type (full: (K, D, D), tied: (D, D),
        diag: (K, D), spherical: (K,))
    precisions_ : ndarray, same shape (inverse covariances)
    precisions_cholesky_ : ndarray, same shape; for full/tied the upper triangular P with
        P Pᵀ = Σ⁻¹, for diag/spherical 1/σ.
    converged_ : bool
    n_iter_ : int
    lower_bound_ : float
        Mean log-likelihood per sample of the best initialisation (before its last M-step).
    lower_bounds_ : list of float
    n_features_in_ : int
    feature_names_in_ : ndarray of str, when fitted on a DataFrame with string column names
    noise_weight_ : float, with ``noise=True``: the weight of the uniform noise component
        (``weights_`` then sums to ``1 - noise_weight_``)
    noise_log_density_ : float, with ``noise=True``: its log density ``ln(1/V)``

    Parameters beyond scikit-learn's
    --------------------------------
    prior : None, "mclust" or dict, default None
        A conjugate prior for MAP EM: ``"mclust"`` is mclust's ``priorControl()`` default
        (shrinkage 0.01 towards the data mean, D + 2 degrees of freedom, the data
        covariance over ``K^(2/D)`` as the scale); a dict gives the hyperparameters
        ``{"shrinkage": float, "mean": (D,), "dof": float, "scale": float or (D, D)}``
        (a float scale for the diagonal and spherical families).
    noise : bool, default False
        Add a uniform noise component over the data's region (Banfield & Raftery).
    noise_init : float, default 0.1
        Its initial weight.
    """

    def __init__(
        self,
        n_components: int = 1,
        *,
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
        warm_start: bool = False,
        verbose: int = 0,
        verbose_interval: int = 10,
        prior: Any = None,
        noise: bool = False,
        noise_init: float = 0.1,
        missing_values: str = "error",
    ) -> None:
        self.prior = prior
        self.noise = noise
        self.noise_init = noise_init
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.missing_values = missing_values

    # ------------------------------------------------------------------ fitting

    def fit(
        self,
        X: Any,
        y: Any = None,
        sample_weight: Any = None,
        *,
        checkpoint: Optional[str] = None,
        checkpoint_every: int = 10,
        resume: Optional[str] = None,
    ) -> "GaussianMixture":
        """Estimate the parameters with EM (``n_init`` starts, the best kept).

        ``checkpoint``: a file the state of EM is written to (atomically) every
        ``checkpoint_every`` iterations and when Ctrl-C stops the fit; ``resume``: a
        checkpoint to continue from, with the same data and parameters (refused naming
        what differs), which ends with the model of the fit never interrupted, bit for
        bit. Checkpointing goes on to ``checkpoint``, or to ``resume`` if none is given.

        Raises ``ConvergenceWarning`` when the best start did not converge within
        ``max_iter`` (and ``max_iter > 0``), ``ValueError`` on bad input.
        """
        if int(checkpoint_every) < 1:
            raise ValueError(f"checkpoint_every must be at least 1, got {checkpoint_every}")
        self._fit(
            X,
            sample_weight,
            checkpoint=None if checkpoint is None else str(checkpoint),
            checkpoint_every=int(checkpoint_every),
            resume=None if resume is None else str(resume),
        )
        return self

    def fit_predict(self, X: Any, y: Any = None, sample_weight: Any = None) -> np.ndarray:
        """Fit, then return the most probable component of each row of ``X``."""
        X = self._fit(X, sample_weight)
        return self._predict(X)

    #: Online EM's step size ``gamma_t = (t + step_offset) ** -step_decay`` (Cappé &
    #: Moulines 2009): ``step_decay`` in (0.5, 1], ``step_offset`` >= 0. Set them on the
    #: estimator before the first ``partial_fit`` to change them.
    step_decay: float = 0.6
    step_offset: float = 2.0
    #: The fewest starts of the first ``partial_fit`` batch; ``None`` is the library's
    #: ``online::DEFAULT_INIT_STARTS`` (5).
    partial_fit_init_starts: Optional[int] = None

    def partial_fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> "GaussianMixture":
        """One step of online EM (Cappé & Moulines 2009) on a batch of rows.

        The statistics of the batch under the current parameters are blended into running
        per-row statistics with step ``gamma_t = (t + step_offset) ** -step_decay``, then
        the M-step runs on them (``reg_covar`` as in ``fit``). The first call initialises:
        from the batch with ``init_params``, ``n_init``, ``max_iter`` and ``random_state``
        (EM on that batch), or, on an estimator already fitted by ``fit``, from its model.
        Later calls check ``n_features_in_``. Deterministic for a ``random_state``. The
        first batch gets at least ``partial_fit_init_starts`` starts (the larger of it and
        ``n_init``): online EM stays in the basin of its start, and restarts on one batch
        are cheap. ``prior`` is resolved on the first batch and applied to every M-step
        (scaled to the rows the blend remembers); with ``noise=True`` the first batch's fit
        has a uniform noise component (its volume from that batch) whose weight every step
        re-estimates. Returns ``self``.
        """
        first = getattr(self, "_online", None) is None
        if first:
            check_params(self)
        X = validate_data(
            self,
            X,
            reset=first and not hasattr(self, "n_features_in_"),
            dtype=[np.float64, np.float32],
            ensure_min_samples=1,
            ensure_all_finite="allow-nan" if self._em() else True,
        )
        w = None
        if sample_weight is not None:
            w = np.asarray(sample_weight, dtype=np.float64)
            if w.ndim == 0:
                w = np.full(X.shape[0], float(w))
            if w.shape != (X.shape[0],):
                raise ValueError(f"sample_weight.shape == {w.shape}, expected ({X.shape[0]},)!")
            w = np.ascontiguousarray(w)
        if first:
            start = self._predict_model()[0] if hasattr(self, "converged_") else None
            self._online = _core.Online(
                **_em_options(self),
                missing_values=self.missing_values,
                step_decay=float(self.step_decay),
                step_offset=float(self.step_offset),
                start=start,
                prior=self.prior,
                noise=bool(self.noise),
                noise_init=float(self.noise_init),
                **({} if self.partial_fit_init_starts is None
                   else {"init_starts": int(self.partial_fit_init_starts)}),
            )
        t, gamma, _ = self._online.partial_fit(X, w)
        self._set_model(self._online.model(), X.dtype)
        self.n_batches_ = int(t)
        self.step_ = float(gamma)
        return self

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        online = state.pop("_online", None)
        if online is not None:
            state["_online_json"] = online.to_json()
        return state

    def __setstate__(self, state: dict) -> None:
        text = state.pop("_online_json", None)
        self.__dict__.update(state)
        if text is not None:
            self._online = _core.Online.from_json(text, missing_values=self.missing_values)

    def _fit(self, X: Any, sample_weight: Any, **checkpoints: Any) -> np.ndarray:
        check_params(self)
        self._online = None
        X = validate_data(
            self,
            X,
            dtype=[np.float64, np.float32],
            ensure_min_samples=2,
            ensure_all_finite="allow-nan" if self._em() else True,
        )
        n_samples, n_features = X.shape
        if n_samples < self.n_components:
            raise ValueError(
                "Expected n_samples >= n_components "
                f"but got n_components = {self.n_components}, n_samples = {n_samples}"
            )
        w = None
        if sample_weight is not None:
            w = np.asarray(sample_weight, dtype=np.float64)
            if w.ndim == 0:
                w = np.full(n_samples, float(w))
            if w.shape != (n_samples,):
                raise ValueError(
                    f"sample_weight.shape == {w.shape}, expected ({n_samples},)!"
                )
            w = np.ascontiguousarray(w)
        weights_init, means_init, precisions_init = checked_inits(
            self.covariance_type,
            self.n_components,
            n_features,
            self.weights_init,
            self.means_init,
            self.precisions_init,
        )
        warm = None
        if self.warm_start and hasattr(self, "converged_"):
            warm = self._predict_model()[0]
            if (
                warm.n_components != self.n_components
                or warm.n_features != n_features
                or warm.covariance_type != family_name(self.covariance_type)
            ):
                warm = None
        callback = self._verbose_callback() if self.verbose else None
        model = _core.fit(
            X,
            **_em_options(self),
            weights_init=weights_init,
            means_init=means_init,
            precisions_init=precisions_init,
            sample_weight=w,
            warm=warm,
            callback=callback,
            ill_defined="keep-previous",
            prior=self.prior,
            noise=bool(self.noise),
            noise_init=float(self.noise_init),
            missing_values=self.missing_values,
            **checkpoints,
        )
        if callback is not None:
            callback.close(model)
        if not model.converged and 0 < model.n_iter < self.max_iter:
            warnings.warn(
                f"EM stopped at iteration {model.n_iter}: its M-step gave some component an "
                "ill-defined covariance (for instance a singleton or collapsed samples); the "
                "parameters before it are kept. Try to decrease the number of components, "
                "increase reg_covar, or scale the input data.",
                ConvergenceWarning,
            )
        if not model.converged and self.max_iter > 0:
            warnings.warn(
                "Best performing initialization did not converge. "
                "Try different init parameters, or increase max_iter, "
                "tol, or check for degenerate data.",
                ConvergenceWarning,
            )
        self._set_model(model, X.dtype)
        return X

    def _verbose_callback(self) -> "_Verbose":
        return _Verbose(int(self.verbose), int(self.verbose_interval), float(self.tol))

    def _set_model(self, model: "_core.Model", dtype: Any = np.float64) -> None:
        names = getattr(self, "feature_names_in_", None)
        if names is not None and len(names) == model.n_features:
            model = model.with_feature_names([str(n) for n in names])
        dtype = np.dtype(dtype)
        self._model = model
        self.weights_ = model.weights.astype(dtype, copy=False)
        self.means_ = model.means.astype(dtype, copy=False)
        self.covariances_ = model.covariances.astype(dtype, copy=False)
        self.precisions_ = model.precisions.astype(dtype, copy=False)
        self.precisions_cholesky_ = model.precisions_cholesky.astype(dtype, copy=False)
        self.converged_ = bool(model.converged)
        self.n_iter_ = int(model.n_iter)
        self.lower_bound_ = float(model.lower_bound)
        self.lower_bounds_ = list(model.lower_bounds)
        if model.n_components + 1 == _n_columns(model):
            import json

            doc = json.loads(model.to_json())
            self.noise_weight_ = float(doc["noise_weight"])
            self.noise_log_density_ = float(doc["noise_log_density"])
        else:
            for name in ("noise_weight_", "noise_log_density_"):
                self.__dict__.pop(name, None)
        # what the attributes were when ``model`` was set: predictions rebuild the model
        # from the attributes once they differ (scikit-learn's attributes are its state)
        self._snapshot = self._attrs()
        self._attr_models: dict = {}

    def _attrs(self) -> Tuple[Any, ...]:
        return tuple(
            None if getattr(self, n, None) is None else np.array(getattr(self, n), copy=True)
            for n in ("weights_", "means_", "precisions_cholesky_", "covariances_")
        )

    def set_model(self, model: "_core.Model", n_features_in: Optional[int] = None) -> "GaussianMixture":
        """Make this estimator use a given ``gaussmix._core.Model`` (from a distributed fit,
        ``Model.from_json`` or ``Model.from_arrays``), setting every fitted attribute."""
        if model.n_components != self.n_components or model.covariance_type != family_name(
            self.covariance_type
        ):
            raise ValueError(
                f"model has {model.n_components} {model.covariance_type} components; this "
                f"estimator has n_components={self.n_components}, "
                f"covariance_type={self.covariance_type!r}"
            )
        self.n_features_in_ = int(n_features_in if n_features_in is not None else model.n_features)
        self._set_model(model)
        return self

    # -------------------------------------------------------------- predictions

    def _check_X(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        return validate_data(
            self,
            X,
            reset=False,
            dtype=[np.float64, np.float32],
            ensure_all_finite="allow-nan" if self._em() else True,
        )

    # With missing_values="em", rows with NaN are marginalised over their gaps.
    def _em(self) -> bool:
        return getattr(self, "missing_values", "error") == "em"

    # The model the fitted attributes now describe (they are the state, as in
    # scikit-learn), with the log-density offset of a noise component.
    def _ln(self, X: np.ndarray) -> np.ndarray:
        model, offset = self._predict_model()
        if self._em():
            out = _core.score_samples_missing(model, X)
        else:
            out = model.score_samples(X)
        return out + offset if offset else out

    def _proba(self, X: np.ndarray) -> np.ndarray:
        model = self._predict_model()[0]
        if self._em():
            return _core.predict_proba_missing(model, X)
        return model.predict_proba(X)

    def _predict(self, X: np.ndarray) -> np.ndarray:
        if self._em():
            return np.argmax(self._proba(X), axis=1).astype(np.int64)
        return self._predict_model()[0].predict(X)

    def impute(self, X: Any, draw: bool = False, random_state: Any = None) -> np.ndarray:
        """``X`` with each NaN filled by its conditional expectation under the fitted
        mixture, ``E[x_m | x_o] = Σ_k γ_k(x_o) E_k[x_m | x_o]``; observed entries are
        copied. With ``draw=True``, each gap is a draw from the conditional mixture
        instead, seeded by ``random_state`` (an int gives the same draws on every call).
        Works whatever ``missing_values`` (the fit's policy)."""
        check_is_fitted(self)
        X = validate_data(
            self, X, reset=False, dtype=[np.float64, np.float32], ensure_all_finite="allow-nan"
        )
        seed = _seed_from(random_state) if draw else None
        return _core.impute(self._predict_model()[0], X, seed).astype(X.dtype, copy=False)

    @property
    def model_(self) -> "_core.Model":
        """The ``gaussmix._core.Model`` that predictions use: the fitted one, or the one
        the fitted attributes now describe (JSON via ``model_.to_json()``)."""
        check_is_fitted(self)
        return self._predict_model()[0]

    def _model_from(self, which: str) -> Tuple["_core.Model", float]:
        """The model the attributes describe, and ``ln Σ weights_`` (scikit-learn uses
        ``weights_`` as given; the model holds them normalised, and ``score_samples``
        adds the offset back). ``which``: ``"factor"`` (``precisions_cholesky_`` decides,
        as in scikit-learn's predictions) or ``"covariances"`` (``covariances_``, as in
        its ``sample``)."""
        snap = getattr(self, "_snapshot", None)
        now = self._attrs()
        used = (0, 1, 2) if which == "factor" else (0, 1, 3)
        model = getattr(self, "_model", None)
        if (
            model is not None
            and snap is not None
            and all(_same(now[i], snap[i]) for i in used)
        ):
            return model, 0.0
        cache = self.__dict__.setdefault("_attr_models", {})
        hit = cache.get(which)
        if hit is not None and all(_same(now[i], hit[0][i]) for i in used):
            return hit[1], hit[2]
        built = _model_from_attrs(self, now, which, model)
        cache[which] = (now, *built)
        return built

    def _predict_model(self) -> Tuple["_core.Model", float]:
        return self._model_from("factor")

    def score_samples(self, X: Any) -> np.ndarray:
        """Log-likelihood ``ln p(x)`` of each row."""
        X = self._check_X(X)
        return self._ln(X).astype(X.dtype, copy=False)

    def score(self, X: Any, y: Any = None) -> float:
        """Mean log-likelihood per row of ``X``: the mean of :meth:`score_samples`, in its
        dtype (float32 rows give the float32 mean, as scikit-learn's ``score``)."""
        X = self._check_X(X)
        return float(self._ln(X).astype(X.dtype, copy=False).mean())

    def predict(self, X: Any) -> np.ndarray:
        """Most probable component of each row."""
        X = self._check_X(X)
        return self._predict(X)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Responsibilities: the posterior probability of each component for each row."""
        X = self._check_X(X)
        return self._proba(X).astype(X.dtype, copy=False)

    def sample(self, n_samples: int = 1) -> Tuple[np.ndarray, np.ndarray]:
        """``n_samples`` random rows and their component labels (grouped by component).
        Seeded by ``random_state`` (an int gives the same samples on every call)."""
        check_is_fitted(self)
        if n_samples < 1:
            raise ValueError(
                "Invalid value for 'n_samples': %d . The sampling requires at "
                "least one sample." % (self.n_components)
            )
        return self._model_from("covariances")[0].sample(int(n_samples), _seed_from(self.random_state))

    def _n_parameters(self) -> int:
        """Number of free parameters of the model."""
        return int(self._predict_model()[0].n_parameters)

    def bic(self, X: Any) -> float:
        """Bayesian information criterion on ``X``: ``-2 ln L + p ln N`` (lower is better)."""
        X = self._check_X(X)
        ll = self._ln(X)
        n = ll.shape[0]
        return float(-2 * ll.mean() * n + self._n_parameters() * np.log(n))

    def aic(self, X: Any) -> float:
        """Akaike information criterion on ``X``: ``-2 ln L + 2p`` (lower is better)."""
        X = self._check_X(X)
        ll = self._ln(X)
        return float(-2 * ll.mean() * ll.shape[0] + 2 * self._n_parameters())

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = self._em()
        return tags


def _n_columns(model: "_core.Model") -> int:
    """Columns of ``model.predict_proba``: K, or K + 1 with a noise component."""
    return int(model.predict_proba(np.asarray(model.means[:1], dtype=np.float64)).shape[1])


def _same(a: Optional[np.ndarray], b: Optional[np.ndarray]) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a.shape == b.shape and a.dtype == b.dtype and bool(np.array_equal(a, b))


def _covariances_of_factor(kind: str, p: np.ndarray) -> np.ndarray:
    """Covariances whose precision factors are ``p`` (P Pᵀ = Σ⁻¹; 1/σ for diag/spherical)."""
    if kind in ("diag", "spherical"):
        return 1.0 / (p * p)
    mats = p if kind == "full" else p[None]
    cov = np.linalg.inv(mats @ np.swapaxes(mats, -1, -2))
    cov = 0.5 * (cov + np.swapaxes(cov, -1, -2))
    return cov if kind == "full" else cov[0]


def _upper(kind: str, p: np.ndarray) -> bool:
    if kind not in ("full", "tied"):
        return True
    mats = p if kind == "full" else p[None]
    return bool(np.all(np.tril(mats, -1) == 0.0))


def _model_from_attrs(
    est: "GaussianMixture", attrs: Tuple[Any, ...], which: str, fitted: Optional["_core.Model"]
) -> Tuple["_core.Model", float]:
    """A model from the estimator's public attributes (see ``GaussianMixture._model_from``)."""
    weights, means, factor, cov = attrs
    if weights is None or means is None:
        raise AttributeError(
            "a GaussianMixture predicts from weights_, means_ and precisions_cholesky_ "
            "(or covariances_); set them or call fit"
        )
    ct = family_name(est.covariance_type)
    kind = storage(ct)
    w = np.ascontiguousarray(weights, dtype=np.float64)
    if w.ndim != 1 or np.any(w < 0) or not np.all(np.isfinite(w)) or w.sum() <= 0:
        raise ValueError(f"weights_ must be finite, non-negative and not all zero, got {weights!r}")
    noise = 0.0
    if fitted is not None and getattr(est, "noise_weight_", None) is not None:
        noise = float(est.noise_weight_)  # the Gaussians share 1 - noise
    total = float(w.sum())
    offset = float(np.log(total / (1.0 - noise)))
    w = w / total * (1.0 - noise)
    m = np.ascontiguousarray(means, dtype=np.float64)
    p = None
    if which == "factor" and factor is not None:
        p = np.ascontiguousarray(factor, dtype=np.float64)
        c = _covariances_of_factor(kind, p)
        if not _upper(kind, p):
            p = None  # another factor of the same precision: use the triangular one
    elif cov is not None:
        c = np.ascontiguousarray(cov, dtype=np.float64)
    elif factor is not None:
        p = np.ascontiguousarray(factor, dtype=np.float64)
        c = _covariances_of_factor(kind, p)
    else:
        raise AttributeError("set precisions_cholesky_ or covariances_ (or call fit)")
    model = _core.Model.from_arrays(ct, w, m, np.ascontiguousarray(c), precisions_cholesky=p)
    if noise and fitted is not None:
        import json

        doc = json.loads(model.to_json())
        doc["noise_weight"] = noise
        doc["noise_log_density"] = float(est.noise_log_density_)
        model = _core.Model.from_json(json.dumps(doc))
    names = getattr(est, "feature_names_in_", None)
    if names is not None and len(names) == model.n_features:
        model = model.with_feature_names([str(n) for n in names])
    return model, offset


class _Verbose:
    """scikit-learn's verbose messages, from the Rust fit's per-iteration callback."""

    def __init__(self, verbose: int, interval: int, tol: float) -> None:
        import time

        self._time = time.time
        self.verbose = verbose
        self.interval = interval
        self.tol = tol
        self.init = -1
        self.last: Optional[Tuple[float, float]] = None
        self.t_init = self.t_iter = self._time()

    def _end(self) -> None:
        if self.init >= 0 and self.last is not None:
            lb, change = self.last
            msg = "converged" if abs(change) < self.tol else "did not converge"
            if self.verbose == 1:
                print(f"Initialization {msg}.")
            else:
                t = self._time() - self.t_init
                print(f"Initialization {msg}. time lapse {t:.5f}s\t lower bound {lb:.5f}.")

    def __call__(self, init: int, it: int, lower_bound: float, change: float) -> None:
        if init != self.init:
            self._end()
            self.init = init
            print("Initialization %d" % init)
            self.t_init = self.t_iter = self._time()
        self.last = (lower_bound, change)
        if it % self.interval == 0:
            if self.verbose == 1:
                print("  Iteration %d" % it)
            else:
                now = self._time()
                print("  Iteration %d\t time lapse %.5fs\t ll change %.5f" % (it, now - self.t_iter, change))
                self.t_iter = now

    def close(self, model: "_core.Model") -> None:
        self._end()
