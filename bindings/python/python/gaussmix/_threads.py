"""Threads of gaussmix's parallel passes, visible to ``threadpoolctl`` and joblib.

Every fit and every pass over the data (``predict``, ``score_samples``, the statistics of a
distributed fit) runs on rayon threads. The limit:

* ``gaussmix.set_num_threads(n)`` / ``gaussmix.get_num_threads()`` (``0``: no limit);
* ``threadpoolctl.threadpool_limits(n)`` (gaussmix registers a controller with
  ``user_api="gaussmix"``, so ``threadpool_info()`` lists it and
  ``threadpool_limits(1)`` or ``threadpool_limits({"gaussmix": 2})`` limit it), which is
  what joblib and scikit-learn's ``GridSearchCV(n_jobs=...)`` use for nested parallelism;
* at import, ``GAUSSMIX_NUM_THREADS``, else ``OMP_NUM_THREADS`` when ``RAYON_NUM_THREADS``
  is not set (joblib's loky workers get ``OMP_NUM_THREADS = cores // n_jobs``, so a
  ``GridSearchCV(n_jobs=-1)`` does not oversubscribe); else ``RAYON_NUM_THREADS`` or all
  cores (rayon's global pool).

A limit other than the global pool's size runs the passes on a local pool of that size.
Results do not depend on the thread count (fixed blocks, reduced in a fixed order).
"""

from __future__ import annotations

import os
from typing import Optional

from . import _core

__all__ = ["get_num_threads", "set_num_threads"]


def set_num_threads(n: int) -> None:
    """Limit gaussmix to ``n`` threads (``0``: no limit)."""
    if isinstance(n, bool) or int(n) != n or n < 0:
        raise ValueError(f"n must be a non-negative int, got {n!r}")
    _core.set_num_threads(int(n))


def get_num_threads() -> int:
    """The number of threads gaussmix's fits and passes use now."""
    return int(_core.get_num_threads())


def _limit_from_env(env: "os._Environ[str]" = os.environ) -> Optional[int]:
    for name in ("GAUSSMIX_NUM_THREADS",) + (() if "RAYON_NUM_THREADS" in env else ("OMP_NUM_THREADS",)):
        v = env.get(name, "").strip()
        if v:
            try:
                n = int(v.split(",")[0])  # OMP_NUM_THREADS may be a list: its first level
            except ValueError:
                continue
            if n > 0:
                return n
    return None


def _register_threadpoolctl() -> None:
    try:
        from threadpoolctl import LibController, register
    except ImportError:  # threadpoolctl is a scikit-learn dependency; without it, no controller
        return

    class GaussmixController(LibController):
        """threadpoolctl's view of gaussmix's rayon threads (through ``_core``'s C symbols)."""

        user_api = "gaussmix"
        internal_api = "gaussmix"
        filename_prefixes = ("_core",)
        check_symbols = ("gaussmix_get_num_threads", "gaussmix_set_num_threads")

        def get_num_threads(self) -> int:
            return int(self.dynlib.gaussmix_get_num_threads())

        def set_num_threads(self, num_threads: int) -> None:
            self.dynlib.gaussmix_set_num_threads(int(num_threads))

        def get_version(self) -> str:
            return str(_core.__version__)

    register(GaussmixController)


_n = _limit_from_env()
if _n is not None:
    _core.set_num_threads(_n)
_register_threadpoolctl()
