"""Type stubs of the Rust extension ``gaussmix._core``."""

from typing import Callable, List, Optional, Tuple, Union

import numpy as np
import numpy.typing as npt

_Rows = Union[npt.NDArray[np.float64], npt.NDArray[np.float32]]

__version__: str
STATS_FORMAT_VERSION: int
MODEL_FORMAT_VERSION: int

class GaussmixError(ValueError):
    """Bad input or parameters, or a fit that cannot proceed; the library's message."""

class Model:
    """A fitted Gaussian mixture (immutable; pickles through its JSON)."""

    @staticmethod
    def from_json(s: str) -> Model: ...
    def to_json(self) -> str: ...
    @staticmethod
    def from_arrays(
        covariance_type: str,
        weights: npt.NDArray[np.float64],
        means: npt.NDArray[np.float64],
        covariances: npt.NDArray[np.float64],
        precisions_cholesky: Optional[npt.NDArray[np.float64]] = None,
        feature_names: Optional[List[str]] = None,
        converged: bool = False,
        n_iter: int = 0,
        lower_bound: Optional[float] = None,
        lower_bounds: Optional[List[float]] = None,
    ) -> Model: ...
    def with_info(
        self, converged: bool, n_iter: int, lower_bound: float, lower_bounds: List[float]
    ) -> Model: ...
    def with_feature_names(self, names: List[str]) -> Model: ...
    @property
    def covariance_type(self) -> str: ...
    @property
    def n_components(self) -> int: ...
    @property
    def n_features(self) -> int: ...
    @property
    def n_parameters(self) -> int: ...
    @property
    def feature_names(self) -> List[str]: ...
    @property
    def weights(self) -> npt.NDArray[np.float64]: ...
    @property
    def means(self) -> npt.NDArray[np.float64]: ...
    @property
    def covariances(self) -> npt.NDArray[np.float64]: ...
    @property
    def precisions(self) -> npt.NDArray[np.float64]: ...
    @property
    def precisions_cholesky(self) -> npt.NDArray[np.float64]: ...
    @property
    def converged(self) -> bool: ...
    @property
    def n_iter(self) -> int: ...
    @property
    def lower_bound(self) -> float: ...
    @property
    def lower_bounds(self) -> List[float]: ...
    def predict_proba(self, x: _Rows, parallel: bool = True) -> npt.NDArray[np.float64]: ...
    def predict(self, x: _Rows, parallel: bool = True) -> npt.NDArray[np.int64]: ...
    def score_samples(self, x: _Rows, parallel: bool = True) -> npt.NDArray[np.float64]: ...
    def sample(self, n: int, seed: int) -> Tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]: ...

class Stats:
    """Additive sufficient statistics of a model over some rows."""

    @staticmethod
    def from_bytes(b: bytes) -> Stats: ...
    @staticmethod
    def from_chunk(
        model: Model,
        x: _Rows,
        sample_weight: Optional[npt.NDArray[np.float64]] = None,
        parallel: bool = True,
    ) -> Stats: ...
    def to_bytes(self) -> bytes: ...
    def merge(self, other: Stats) -> None: ...
    def finalize(self, reg_covar: float) -> Model: ...
    @property
    def mean_log_likelihood(self) -> float: ...
    @property
    def log_likelihood(self) -> float: ...
    @property
    def weight_sum(self) -> float: ...
    @property
    def n_samples(self) -> int: ...
    @property
    def nk(self) -> npt.NDArray[np.float64]: ...
    @property
    def covariance_type(self) -> str: ...

def partial_stats(
    model: Model,
    x: _Rows,
    sample_weight: Optional[npt.NDArray[np.float64]] = None,
    parallel: bool = True,
) -> bytes: ...
def merge_stats(parts: List[bytes]) -> Stats: ...
def fit(
    x: _Rows,
    *,
    n_components: int,
    covariance_type: str = "full",
    tol: float = 1e-3,
    reg_covar: float = 1e-6,
    max_iter: int = 100,
    n_init: int = 1,
    init: str = "kmeans",
    seed: int = 0,
    weights_init: Optional[npt.NDArray[np.float64]] = None,
    means_init: Optional[npt.NDArray[np.float64]] = None,
    precisions_init: Optional[npt.NDArray[np.float64]] = None,
    sample_weight: Optional[npt.NDArray[np.float64]] = None,
    warm: Optional[Model] = None,
    callback: Optional[Callable[[int, int, float, float], None]] = None,
    parallel: bool = True,
) -> Model: ...
