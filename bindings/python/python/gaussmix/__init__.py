"""gaussmix: Gaussian mixture models fitted by EM, in Rust.

``gaussmix.GaussianMixture`` is a drop-in for ``sklearn.mixture.GaussianMixture``, and
``gaussmix.BayesianGaussianMixture`` for ``sklearn.mixture.BayesianGaussianMixture``::

    from gaussmix import GaussianMixture          # instead of: from sklearn.mixture import ...
    gm = GaussianMixture(n_components=3, random_state=0).fit(X)

``GaussianMixture`` also fits mclust's fourteen covariance families
(``covariance_type="VEV"``, ...), MAP EM under mclust's conjugate prior
(``prior="mclust"``) and a uniform noise component (``noise=True``).
``gaussmix.select(X, n_components=range(1, 10), covariance_types=..., criterion="bic")``
chooses K and the family (a table of every cell and the best fitted estimator), and
``gaussmix.AnomalyDetector`` scores outliers.

Distributed fits over the same sufficient statistics: ``gaussmix.spark.fit`` (PySpark,
``mapInArrow``) and ``gaussmix.dask.fit`` (Dask arrays and DataFrames); the building blocks
are ``gaussmix._core.partial_stats``, ``merge_stats`` and ``Stats.finalize``.

Threads: ``gaussmix.set_num_threads(n)``, or ``threadpoolctl.threadpool_limits(n)`` (gaussmix
registers a threadpoolctl controller, so joblib's nested-parallelism limits apply); see
``gaussmix._threads``. Ctrl-C (``KeyboardInterrupt``) stops a fit within one EM iteration.
"""

from ._core import GaussmixError, Model, Stats, merge_stats, partial_stats
from ._core import __version__
from ._threads import get_num_threads, set_num_threads
from .mixture import MCLUST_FAMILIES, GaussianMixture
from .bayesian import BayesianGaussianMixture
from .anomaly import AnomalyDetector
from ._select import SelectionResult, select

__all__ = [
    "AnomalyDetector",
    "BayesianGaussianMixture",
    "MCLUST_FAMILIES",
    "SelectionResult",
    "select",
    "GaussianMixture",
    "GaussmixError",
    "Model",
    "Stats",
    "merge_stats",
    "partial_stats",
    "get_num_threads",
    "set_num_threads",
    "__version__",
]


def __getattr__(name: str):  # gaussmix.spark / gaussmix.dask, imported on first use
    if name in ("spark", "dask"):
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'gaussmix' has no attribute {name!r}")
