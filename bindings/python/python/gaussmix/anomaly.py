"""``gaussmix.AnomalyDetector``: the library's anomaly detector with PyOD's conventions
(``fit``, ``decision_function`` higher = more anomalous, ``predict`` 0/1,
``decision_scores_``, ``threshold_``, ``labels_``, ``contamination``) and scikit-learn's
(``get_params`` / ``set_params``, ``clone``, pickling).

The defaults are the library's (an ensemble of diagonal and full mixtures, k = 1..4,
``reg_covar`` 0.3 on standardised features; see ``gaussmix::anomaly``): a parameter left
at ``None`` takes the library's value.
"""

import numpy as np

from . import _core

try:  # scikit-learn is optional: without it the class still works, minus clone()
    from sklearn.base import BaseEstimator, OutlierMixin
except ImportError:  # pragma: no cover
    BaseEstimator, OutlierMixin = object, object


class AnomalyDetector(OutlierMixin, BaseEstimator):
    """Gaussian-mixture anomaly detector.

    Parameters
    ----------
    contamination : float in (0, 0.5], default 0.1 (PyOD's default)
        Fraction of the training rows above ``threshold_``.
    max_k, covariance, reg_covar, n_init, random_state, min_points, max_fit_rows :
        The library's settings (``None``: its default). ``covariance`` is a family name
        or a list of them (e.g. ``["diag", "full"]``); ``random_state`` an int seed.
    ensemble : bool, default True
        Average the standardised scores of every usable candidate (``True``) or keep the
        one of lowest BIC (``False``).
    noise : bool, default False
        Fit every candidate with a uniform noise component that absorbs the training
        rows no Gaussian explains, then score with the Gaussians alone (the library's
        opt-in ``AnomalyDetector::noise``; slower, and not the default because it did not
        win on both halves of the benchmark sets).
    """

    def __init__(self, contamination=0.1, max_k=None, covariance=None, reg_covar=None,
                 n_init=None, random_state=None, min_points=None, max_fit_rows=None,
                 ensemble=True, noise=False):
        self.contamination = contamination
        self.max_k = max_k
        self.covariance = covariance
        self.reg_covar = reg_covar
        self.n_init = n_init
        self.random_state = random_state
        self.min_points = min_points
        self.max_fit_rows = max_fit_rows
        self.ensemble = ensemble
        self.noise = noise

    @staticmethod
    def _rows(X):
        X = np.ascontiguousarray(np.asarray(X, dtype=np.float64))
        if X.ndim != 2:
            raise ValueError(f"expected a 2-D array of rows, got {X.ndim} dimension(s)")
        return X

    def fit(self, X, y=None):
        """Fits to ``X`` (``y`` is ignored); sets ``decision_scores_``, ``threshold_``,
        ``labels_``."""
        X = self._rows(X)
        cov = self.covariance
        if isinstance(cov, str):
            cov = [c.strip() for c in cov.split(",")]
        seed = self.random_state
        if seed is not None and not isinstance(seed, (int, np.integer)):
            raise ValueError("random_state must be None or an int seed")
        self._core = _core.AnomalyCore.fit(
            X, float(self.contamination), self.max_k, cov, self.reg_covar, self.n_init,
            None if seed is None else int(seed), self.min_points, self.max_fit_rows,
            bool(self.ensemble), bool(self.noise))
        self.decision_scores_ = self._core.training_scores()
        self.threshold_ = self._core.threshold
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(int)
        self.n_features_in_ = X.shape[1]
        return self

    def _check_fitted(self):
        if not hasattr(self, "_core"):
            raise ValueError("this AnomalyDetector is not fitted yet: call fit first")

    def decision_function(self, X):
        """Anomaly scores of ``X``: higher is more anomalous."""
        self._check_fitted()
        return self._core.score(self._rows(X))

    def score_samples(self, X):
        """scikit-learn's convention: higher is more normal (``-decision_function``)."""
        return -self.decision_function(X)

    def predict(self, X):
        """1 for rows above ``threshold_`` (anomalies), 0 otherwise (PyOD's labels)."""
        return (self.decision_function(X) > self.threshold_).astype(int)

    def fit_predict(self, X, y=None):
        """Fits, then the training rows' labels (0/1)."""
        return self.fit(X).labels_

    def to_json(self):
        """The fitted detector as JSON (the library's format, threshold included)."""
        self._check_fitted()
        return self._core.to_json()

    def __getstate__(self):
        state = self.__dict__.copy()
        core = state.pop("_core", None)
        if core is not None:
            state["_core_json"] = core.to_json()
        return state

    def __setstate__(self, state):
        text = state.pop("_core_json", None)
        self.__dict__.update(state)
        if text is not None:
            self._core = _core.AnomalyCore.from_json(text)
