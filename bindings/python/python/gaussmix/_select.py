"""``gaussmix.select``: choose the number of components and the covariance family by an
information criterion, over the library's model selection (``gaussmix::select``).

    res = gaussmix.select(X, n_components=range(1, 10), covariance_types=["VVV", "EEE", "VII"])
    res.table            # one row per (K, family): BIC, AIC, ICL, degenerate flags, ...
    res.best_            # a fitted gaussmix.GaussianMixture of the chosen cell
    res.best_params_     # {"n_components": 3, "covariance_type": "full"}

Every cell is started from mclust's hierarchical agglomeration and from k-means runs on
the standardised data; the best start is refined until the total log-likelihood changes
by less than ``total_tol``. Degenerate cells (a component on too few rows, a collapsed
covariance) are reported and never chosen; cells that cannot be estimated (more
parameters than rows) are skipped with the reason. Lower criterion values are better
(BIC = -2 ln L + p ln N, mclust's BIC with the opposite sign).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence

import numpy as np
from sklearn.utils.validation import check_array

from . import _core
from .mixture import MCLUST_FAMILIES, GaussianMixture, family_name, _seed_from

__all__ = ["select", "SelectionResult"]

#: the columns of ``SelectionResult.table``, in order
COLUMNS = (
    "n_components", "covariance_type", "mclust_name", "status", "degenerate", "reason",
    "log_likelihood", "n_parameters", "bic", "aic", "icl", "icl_soft", "converged",
    "n_iter", "start",
)  # fmt: skip

_CRITERIA = ("bic", "aic", "icl", "icl_soft")


@dataclass
class SelectionResult:
    """What ``gaussmix.select`` returns.

    Attributes
    ----------
    table : pandas.DataFrame, or a list of dicts when pandas is not installed
        One row per (n_components, covariance_type) cell, families outer, with the columns
        of ``COLUMNS``: ``status`` is ``fitted``, ``degenerate``, ``skipped`` or ``failed``;
        ``degenerate`` flags cells that were fitted but never chosen; ``reason`` says why
        (degenerate, skipped, failed); scores are None (NaN in a DataFrame) where a cell
        has none.
    rows : list of dict
        The same rows as plain dicts.
    criterion : str
        The criterion the choice minimised (``"bic"``, ``"aic"``, ``"icl"``, ``"icl_soft"``).
    best_index_ : int or None
        Index of the chosen row (None when every cell is degenerate, skipped or failed).
    best_params_ : dict or None
        ``{"n_components": K, "covariance_type": name}`` of the chosen cell.
    best_ : GaussianMixture or None
        The chosen model as a fitted ``gaussmix.GaussianMixture`` (attributes in the data's
        dtype).
    """

    rows: List[Dict[str, Any]] = field(repr=False)
    criterion: str
    best_index_: Optional[int]
    best_params_: Optional[Dict[str, Any]]
    best_: Optional[GaussianMixture]
    table: Any = field(repr=False, default=None)

    def to_records(self) -> np.ndarray:
        """The table as a NumPy structured array (strings as objects, missing scores NaN)."""
        dtypes = [
            ("n_components", "i8"), ("covariance_type", "O"), ("mclust_name", "O"),
            ("status", "O"), ("degenerate", "?"), ("reason", "O"), ("log_likelihood", "f8"),
            ("n_parameters", "f8"), ("bic", "f8"), ("aic", "f8"), ("icl", "f8"),
            ("icl_soft", "f8"), ("converged", "O"), ("n_iter", "f8"), ("start", "O"),
        ]  # fmt: skip
        out = np.zeros(len(self.rows), dtype=dtypes)
        for i, r in enumerate(self.rows):
            for name, dt in dtypes:
                v = r[name]
                out[name][i] = np.nan if (v is None and dt == "f8") else v
        return out


def _table(rows: List[Dict[str, Any]]) -> Any:
    try:
        import pandas as pd
    except ImportError:
        return rows
    return pd.DataFrame(rows, columns=list(COLUMNS))


def select(
    X: Any,
    n_components: Iterable[int] = range(1, 10),
    covariance_types: Optional[Sequence[str]] = None,
    criterion: str = "bic",
    *,
    sample_weight: Any = None,
    reg_covar: float = 1e-6,
    prior: Any = None,
    noise: bool = False,
    equal_weights: bool = False,
    hc_start: bool = True,
    kmeans_starts: int = 3,
    max_iter: int = 2000,
    total_tol: float = 1e-5,
    random_state: Any = 0,
) -> SelectionResult:
    """Fit every (n_components, covariance_type) cell and keep the best by ``criterion``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features), float32 or float64
    n_components : iterable of int, default range(1, 10)
    covariance_types : sequence of str, default all fourteen mclust families
        scikit-learn's names (``full``, ``tied``, ``diag``, ``spherical``) or mclust's
        (``EII`` … ``VVV``).
    criterion : {"bic", "aic", "icl", "icl_soft"}, default "bic"
        Lower is better. ICL is mclust's (BIC plus twice the hard-classification entropy).
    sample_weight : array-like of shape (n_samples,), optional
        Non-negative row weights (a row of weight 2 counts twice; N is their sum).
    reg_covar : float, default 1e-6
    prior : None, "mclust" or dict
        A conjugate prior for every fit (see ``GaussianMixture(prior=...)``).
    noise : bool, default False
        A uniform noise component in every model.
    equal_weights : bool, default False
        Equal mixing proportions in every model.
    hc_start : bool, default True
        Start each cell from mclust's hierarchical agglomeration.
    kmeans_starts : int, default 3
        k-means starts (on the standardised data) per cell.
    max_iter : int, default 2000
        Iteration cap of each cell's refinement (reported as not converged when reached).
    total_tol : float, default 1e-5
        The refinement stops when the total log-likelihood changes by less than this.
    random_state : int, RandomState or None, default 0
        Seed of every random choice (the table does not depend on the thread count).

    Returns
    -------
    SelectionResult
    """
    if criterion not in _CRITERIA:
        raise ValueError(f"criterion must be one of {', '.join(_CRITERIA)}, got {criterion!r}")
    ks = sorted({int(k) for k in n_components})
    if not ks or ks[0] < 1:
        raise ValueError(f"n_components must be a non-empty collection of positive ints, got {ks}")
    families = list(MCLUST_FAMILIES) if covariance_types is None else [family_name(c) for c in covariance_types]
    if not families:
        raise ValueError("covariance_types must name at least one family")
    feature_names = None
    if hasattr(X, "columns"):
        cols = [str(c) for c in X.columns]
        feature_names = cols
    X = check_array(X, dtype=[np.float64, np.float32], ensure_min_samples=2)
    w = None
    if sample_weight is not None:
        w = np.ascontiguousarray(np.asarray(sample_weight, dtype=np.float64))
        if w.shape != (X.shape[0],):
            raise ValueError(f"sample_weight.shape == {w.shape}, expected ({X.shape[0]},)!")
    rows, best, model, _ = _core.select(
        X,
        n_components=ks,
        covariance_types=families,
        criterion=criterion,
        sample_weight=w,
        reg_covar=float(reg_covar),
        prior=prior,
        noise=bool(noise),
        equal_weights=bool(equal_weights),
        hc_start=bool(hc_start),
        kmeans_starts=int(kmeans_starts),
        max_iter=int(max_iter),
        total_tol=float(total_tol),
        seed=_seed_from(random_state),
    )
    est = params = None
    if best is not None and model is not None:
        row = rows[best]
        params = {"n_components": int(row["n_components"]), "covariance_type": row["covariance_type"]}
        est = GaussianMixture(
            n_components=params["n_components"],
            covariance_type=params["covariance_type"],
            reg_covar=reg_covar,
            max_iter=max_iter,
            prior=prior,
            noise=noise,
            random_state=random_state,
        )
        if feature_names is not None:
            est.feature_names_in_ = np.asarray(feature_names, dtype=object)
        est.set_model(model, X.shape[1])
        if X.dtype == np.float32:
            est._set_model(est._model, np.float32)  # attributes in the data's dtype, as fit
    return SelectionResult(
        rows=rows,
        criterion=criterion,
        best_index_=best,
        best_params_=params,
        best_=est,
        table=_table(rows),
    )
