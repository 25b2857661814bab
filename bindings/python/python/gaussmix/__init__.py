"""gaussmix: Gaussian mixture models fitted by EM, in Rust.

``gaussmix.GaussianMixture`` is a drop-in for ``sklearn.mixture.GaussianMixture``::

    from gaussmix import GaussianMixture          # instead of: from sklearn.mixture import ...
    gm = GaussianMixture(n_components=3, random_state=0).fit(X)

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
from .mixture import GaussianMixture
from .anomaly import AnomalyDetector

__all__ = [
    "AnomalyDetector",
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
