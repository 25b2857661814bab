"""``gaussmix.BayesianGaussianMixture``: a drop-in for ``sklearn.mixture.BayesianGaussianMixture``.

Variational Bayesian Gaussian mixture (the library's ``gaussmix::vb``): a Dirichlet-process
(stick-breaking) or Dirichlet prior on the weights and a Gaussian-Wishart prior on each
component, fitted by variational EM in Rust with the GIL released. Same constructor
parameters and defaults as scikit-learn 1.9.1, the same fitted attributes
(``weight_concentration_`` — a pair of arrays for the stick-breaking prior, as in
scikit-learn — ``mean_precision_``, ``means_``, ``degrees_of_freedom_``, ``covariances_``,
``precisions_``, ``precisions_cholesky_``, ``weights_``, the resolved priors
``weight_concentration_prior_``, ``mean_precision_prior_``, ``mean_prior_``,
``degrees_of_freedom_prior_``, ``covariance_prior_``, and ``converged_``, ``n_iter_``,
``lower_bound_``, ``lower_bounds_``), and the same methods.

From the same initial responsibilities the library's fit agrees with scikit-learn's to
rounding (its fixture tests); a given ``random_state`` draws other k-means starting points
than scikit-learn's. Differences: float32 input is fitted in float64 (the attributes are
then rounded to float32); ``verbose`` prints only scikit-learn's per-initialisation lines
(no per-iteration timings). The fitted attributes are the state, as for
``gaussmix.GaussianMixture``: predictions and warm starts use them as they are now.
Ctrl-C stops a fit within one iteration.
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any, Optional, Tuple

import numpy as np
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _core
from .mixture import _em_options, _seed_from, check_base_params

__all__ = ["BayesianGaussianMixture"]

_COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
_PRIOR_TYPES = ("dirichlet_process", "dirichlet_distribution")


def _check_positive_or_none(name: str, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"The '{name}' parameter must be a float in the range (0.0, inf) or None. Got {value!r} instead.")
    if not value > 0.0:
        raise ValueError(f"The '{name}' parameter must be a float in the range (0.0, inf) or None. Got {value!r} instead.")


class BayesianGaussianMixture(DensityMixin, BaseEstimator):
    """Variational Bayesian estimation of a Gaussian mixture (in Rust).

    Parameters, attributes and methods are those of
    :class:`sklearn.mixture.BayesianGaussianMixture` (scikit-learn 1.9.1); see its
    documentation.

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
        Expected mixing proportions.
    weight_concentration_ : tuple of two ndarrays (dirichlet_process) or ndarray
        (dirichlet_distribution) of shape (n_components,)
    mean_precision_ : ndarray of shape (n_components,)
    means_ : ndarray of shape (n_components, n_features)
    degrees_of_freedom_ : ndarray of shape (n_components,) (a float for tied)
    covariances_, precisions_, precisions_cholesky_ : ndarray shaped by covariance_type
        (full: (K, D, D), tied: (D, D), diag: (K, D), spherical: (K,))
    weight_concentration_prior_, mean_precision_prior_, degrees_of_freedom_prior_ : float
    mean_prior_ : ndarray of shape (n_features,)
    covariance_prior_ : float or ndarray
    converged_ : bool
    n_iter_ : int
    lower_bound_ : float
        Evidence lower bound (up to scikit-learn's dropped constants) of the best start.
    lower_bounds_ : list of float
    n_features_in_ : int
    """

    def __init__(
        self,
        *,
        n_components: int = 1,
        covariance_type: str = "full",
        tol: float = 1e-3,
        reg_covar: float = 1e-6,
        max_iter: int = 100,
        n_init: int = 1,
        init_params: str = "kmeans",
        weight_concentration_prior_type: str = "dirichlet_process",
        weight_concentration_prior: Optional[float] = None,
        mean_precision_prior: Optional[float] = None,
        mean_prior: Any = None,
        degrees_of_freedom_prior: Optional[float] = None,
        covariance_prior: Any = None,
        random_state: Any = None,
        warm_start: bool = False,
        verbose: int = 0,
        verbose_interval: int = 10,
    ) -> None:
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weight_concentration_prior_type = weight_concentration_prior_type
        self.weight_concentration_prior = weight_concentration_prior
        self.mean_precision_prior = mean_precision_prior
        self.mean_prior = mean_prior
        self.degrees_of_freedom_prior = degrees_of_freedom_prior
        self.covariance_prior = covariance_prior
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval

    # ------------------------------------------------------------------ checks

    def _check_params(self) -> None:
        check_base_params(self)
        if self.covariance_type not in _COVARIANCE_TYPES:
            raise ValueError(
                f"The 'covariance_type' parameter must be a str among {set(_COVARIANCE_TYPES)}. "
                f"Got {self.covariance_type!r} instead."
            )
        if self.weight_concentration_prior_type not in _PRIOR_TYPES:
            raise ValueError(
                "The 'weight_concentration_prior_type' parameter must be a str among "
                f"{set(_PRIOR_TYPES)}. Got {self.weight_concentration_prior_type!r} instead."
            )
        _check_positive_or_none("weight_concentration_prior", self.weight_concentration_prior)
        _check_positive_or_none("mean_precision_prior", self.mean_precision_prior)
        if self.degrees_of_freedom_prior is not None and (
            isinstance(self.degrees_of_freedom_prior, bool)
            or not isinstance(self.degrees_of_freedom_prior, numbers.Real)
        ):
            raise TypeError(
                "The 'degrees_of_freedom_prior' parameter must be a float or None. "
                f"Got {self.degrees_of_freedom_prior!r} instead."
            )

    def _resolve_priors(self, X: np.ndarray) -> dict:
        """scikit-learn's ``_check_parameters``: the priors' ``*_prior_`` attributes, and the
        values the Rust fit gets (``None``: its own default, computed the same way)."""
        n_features = X.shape[1]
        ct = self.covariance_type
        self.weight_concentration_prior_ = (
            1.0 / self.n_components
            if self.weight_concentration_prior is None
            else self.weight_concentration_prior
        )
        self.mean_precision_prior_ = (
            1.0 if self.mean_precision_prior is None else self.mean_precision_prior
        )
        mean_prior = None
        if self.mean_prior is None:
            self.mean_prior_ = X.mean(axis=0)
        else:
            mp = np.asarray(self.mean_prior)
            if mp.dtype not in (np.float32, np.float64):
                mp = mp.astype(np.float64)
            if mp.shape != (n_features,):
                raise ValueError(
                    f"The parameter 'means' should have the shape of ({n_features},), but got {mp.shape}"
                )
            self.mean_prior_ = mp
            mean_prior = np.ascontiguousarray(mp, dtype=np.float64)
        if self.degrees_of_freedom_prior is None:
            self.degrees_of_freedom_prior_ = n_features
        elif self.degrees_of_freedom_prior > n_features - 1.0:
            self.degrees_of_freedom_prior_ = self.degrees_of_freedom_prior
        else:
            raise ValueError(
                "The parameter 'degrees_of_freedom_prior' "
                "should be greater than %d, but got %.3f."
                % (n_features - 1, self.degrees_of_freedom_prior)
            )
        cov_prior = None
        if self.covariance_prior is None:
            self.covariance_prior_ = {
                "full": np.atleast_2d(np.cov(X.T)),
                "tied": np.atleast_2d(np.cov(X.T)),
                "diag": np.var(X, axis=0, ddof=1),
                "spherical": np.var(X, axis=0, ddof=1).mean(),
            }[ct]
        elif ct in ("full", "tied"):
            c = np.asarray(self.covariance_prior)
            if c.dtype not in (np.float32, np.float64):
                c = c.astype(np.float64)
            if c.shape != (n_features, n_features):
                raise ValueError(
                    f"The parameter '{ct} covariance_prior' should have the shape of "
                    f"({n_features}, {n_features}), but got {c.shape}"
                )
            if not (np.allclose(c, c.T) and np.all(np.linalg.eigvalsh(c) > 0.0)):
                raise ValueError(f"'{ct} precision' should be symmetric, positive-definite")
            self.covariance_prior_ = c
            c64 = np.asarray(c, dtype=np.float64)
            cov_prior = np.ascontiguousarray(0.5 * (c64 + c64.T))
        elif ct == "diag":
            c = np.asarray(self.covariance_prior)
            if c.dtype not in (np.float32, np.float64):
                c = c.astype(np.float64)
            if c.shape != (n_features,):
                raise ValueError(
                    f"The parameter '{ct} covariance_prior' should have the shape of "
                    f"({n_features},), but got {c.shape}"
                )
            if np.any(np.less_equal(c, 0.0)):
                raise ValueError(f"'{ct} precision' should be positive")
            self.covariance_prior_ = c
            cov_prior = np.ascontiguousarray(c, dtype=np.float64)
        else:
            self.covariance_prior_ = self.covariance_prior
            cov_prior = np.asarray(float(self.covariance_prior), dtype=np.float64)
        return {
            "weight_concentration_prior": self.weight_concentration_prior,
            "mean_precision_prior": self.mean_precision_prior,
            "mean_prior": mean_prior,
            "degrees_of_freedom_prior": self.degrees_of_freedom_prior,
            "covariance_prior": cov_prior,
        }

    # ------------------------------------------------------------------ fitting

    def fit(self, X: Any, y: Any = None) -> "BayesianGaussianMixture":
        """Estimate the posterior by variational EM (``n_init`` starts, the best lower
        bound kept; with ``warm_start`` one run continuing from the current attributes).

        Raises ``ConvergenceWarning`` when the best start did not converge within
        ``max_iter`` (and ``max_iter > 0``), ``ValueError`` on bad input.
        """
        self._fit(X)
        return self

    def fit_predict(self, X: Any, y: Any = None) -> np.ndarray:
        """Fit, then return the most probable component of each row of ``X``."""
        X = self._fit(X)
        return self._state().predict_proba(np.asarray(X, dtype=np.float64)).argmax(axis=1)

    def _fit(self, X: Any) -> np.ndarray:
        self._check_params()
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=2)
        if X.shape[0] < self.n_components:
            raise ValueError(
                "Expected n_samples >= n_components "
                f"but got n_components = {self.n_components}, n_samples = {X.shape[0]}"
            )
        priors = self._resolve_priors(X)
        warm = None
        if self.warm_start and hasattr(self, "converged_"):
            warm = self._state()
        X64 = np.ascontiguousarray(X, dtype=np.float64)
        fit = _core.fit_vb(
            X64,
            **_em_options(self),
            weight_prior=self.weight_concentration_prior_type,
            warm=warm,
            **priors,
        )
        if self.verbose:
            print("Initialization %s." % ("converged" if fit.converged else "did not converge"))
        if not fit.converged and self.max_iter > 0:
            warnings.warn(
                "Best performing initialization did not converge. "
                "Try different init parameters, or increase max_iter, "
                "tol, or check for degenerate data.",
                ConvergenceWarning,
            )
        self._set_fit(fit, X.dtype)
        return X

    def _set_fit(self, fit: "_core.VbFit", dtype: Any) -> None:
        dtype = np.dtype(dtype)
        cast = lambda a: np.asarray(a).astype(dtype, copy=False)  # noqa: E731
        a = cast(fit.weight_concentration)
        b = fit.weight_concentration_b
        self.weight_concentration_ = a if b is None else (a, cast(b))
        self.mean_precision_ = cast(fit.mean_precision)
        self.means_ = cast(fit.means)
        dof = cast(fit.degrees_of_freedom)
        self.degrees_of_freedom_ = dof[0] if self.covariance_type == "tied" else dof
        self.covariances_ = cast(fit.covariances)
        self.precisions_cholesky_ = cast(fit.precisions_cholesky)
        self.precisions_ = _precisions(self.covariance_type, self.precisions_cholesky_)
        self.weights_ = cast(fit.weights)
        self.converged_ = bool(fit.converged)
        self.n_iter_ = int(fit.n_iter)
        self.lower_bound_ = float(fit.lower_bound)
        self.lower_bounds_ = list(fit.lower_bounds)

    def _state(self) -> "_core.VbFit":
        """The posterior the fitted attributes describe now."""
        check_is_fitted(self)
        wc = self.weight_concentration_
        if self.weight_concentration_prior_type == "dirichlet_process":
            if not (isinstance(wc, tuple) and len(wc) == 2):
                raise ValueError(
                    "weight_concentration_ of a dirichlet_process mixture is a pair of arrays"
                )
            a, b = (np.ascontiguousarray(v, dtype=np.float64) for v in wc)
        else:
            a, b = np.ascontiguousarray(wc, dtype=np.float64), None
        k = a.shape[0]
        dof = np.asarray(self.degrees_of_freedom_, dtype=np.float64)
        if dof.ndim == 0:
            dof = np.full(k, float(dof))
        f64 = lambda v: np.ascontiguousarray(v, dtype=np.float64)  # noqa: E731
        return _core.VbFit.from_parts(
            self.covariance_type,
            self.weight_concentration_prior_type,
            a,
            b,
            f64(self.mean_precision_),
            f64(self.means_),
            np.ascontiguousarray(dof),
            f64(self.covariances_),
            f64(self.precisions_cholesky_),
            _expected_weights(a, b),
            converged=bool(getattr(self, "converged_", False)),
            n_iter=int(getattr(self, "n_iter_", 0)),
            lower_bound=float(getattr(self, "lower_bound_", -np.inf)),
            lower_bounds=[float(v) for v in getattr(self, "lower_bounds_", [])],
        )

    # -------------------------------------------------------------- predictions

    def _check_X(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        return validate_data(self, X, reset=False, dtype=[np.float64, np.float32])

    def score_samples(self, X: Any) -> np.ndarray:
        """scikit-learn's ``score_samples``: the log-sum-exp over components of each row's
        variational weighted log-density."""
        X = self._check_X(X)
        out = self._state().score_samples(np.ascontiguousarray(X, dtype=np.float64))
        return out.astype(X.dtype, copy=False)

    def score(self, X: Any, y: Any = None) -> float:
        """Mean of ``score_samples`` over the rows of ``X``."""
        return float(np.mean(self.score_samples(X)))

    def predict(self, X: Any) -> np.ndarray:
        """Most probable component of each row."""
        X = self._check_X(X)
        return self._state().predict_proba(np.ascontiguousarray(X, dtype=np.float64)).argmax(axis=1)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Responsibilities under the variational posterior."""
        X = self._check_X(X)
        out = self._state().predict_proba(np.ascontiguousarray(X, dtype=np.float64))
        return out.astype(X.dtype, copy=False)

    def sample(self, n_samples: int = 1) -> Tuple[np.ndarray, np.ndarray]:
        """``n_samples`` rows from the expected-parameter mixture (``weights_``, ``means_``,
        ``covariances_``) and their labels, grouped by component; seeded by ``random_state``."""
        check_is_fitted(self)
        if n_samples < 1:
            raise ValueError(
                "Invalid value for 'n_samples': %d . The sampling requires at "
                "least one sample." % (self.n_components)
            )
        w = np.asarray(self.weights_, dtype=np.float64)
        model = _core.Model.from_arrays(
            self.covariance_type,
            np.ascontiguousarray(w / w.sum()),
            np.ascontiguousarray(self.means_, dtype=np.float64),
            np.ascontiguousarray(self.covariances_, dtype=np.float64),
        )
        return model.sample(int(n_samples), _seed_from(self.random_state))

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


def _expected_weights(a: np.ndarray, b: Optional[np.ndarray]) -> np.ndarray:
    """scikit-learn's ``weights_`` of a posterior (normalised)."""
    if b is None:
        w = a.copy()
    else:
        s = a + b
        w = a / s * np.hstack((1.0, np.cumprod(b / s)[:-1]))
    return np.ascontiguousarray(w / w.sum())


def _precisions(covariance_type: str, pc: np.ndarray) -> np.ndarray:
    """``precisions_`` from ``precisions_cholesky_`` (P Pᵀ; squares for diag/spherical)."""
    if covariance_type == "full":
        return np.einsum("kij,klj->kil", pc, pc)
    if covariance_type == "tied":
        return pc @ pc.T
    return pc * pc


