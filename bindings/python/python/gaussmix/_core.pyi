"""Type stubs of the Rust extension ``gaussmix._core``."""

from typing import Any, Callable, Dict, List, Optional, Tuple, Union

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

class Online:
    """Online-EM state (Cappé & Moulines 2009) behind ``GaussianMixture.partial_fit``.

    ``Online(*, n_components, covariance_type="full", tol=1e-3, reg_covar=1e-6,
    max_iter=100, n_init=1, init="kmeans", seed=0, parallel=True,
    missing_values="error", step_decay=0.6, step_offset=2.0, start=None, prior=None,
    noise=False, noise_init=0.1, init_starts=5)``."""

    def partial_fit(
        self, x: _Rows, sample_weight: Optional[npt.NDArray[np.float64]] = None
    ) -> Tuple[int, float, float]: ...
    def model(self) -> Optional[Model]: ...
    @property
    def n_batches(self) -> int: ...
    def to_json(self) -> str: ...
    @staticmethod
    def from_json(s: str, parallel: bool = True, missing_values: str = "error") -> Online: ...

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
    ill_defined: str = "error",
    prior: Union[None, str, Dict[str, Any]] = None,
    noise: bool = False,
    noise_init: float = 0.1,
    missing_values: str = "error",
    checkpoint: Optional[str] = None,
    checkpoint_every: int = 10,
    resume: Optional[str] = None,
) -> Model: ...
def predict_proba_missing(model: Model, x: _Rows) -> npt.NDArray[np.float64]: ...
def score_samples_missing(model: Model, x: _Rows) -> npt.NDArray[np.float64]: ...
def impute(model: Model, x: _Rows, seed: Optional[int] = None) -> npt.NDArray[np.float64]: ...
def select(
    x: _Rows,
    *,
    n_components: List[int],
    covariance_types: Optional[List[str]] = None,
    criterion: str = "bic",
    sample_weight: Optional[npt.NDArray[np.float64]] = None,
    reg_covar: float = 1e-6,
    prior: Union[None, str, Dict[str, Any]] = None,
    noise: bool = False,
    equal_weights: bool = False,
    hc_start: bool = True,
    kmeans_starts: int = 3,
    max_iter: int = 2000,
    total_tol: float = 1e-5,
    seed: int = 0,
    parallel: bool = True,
) -> Tuple[List[Dict[str, Any]], Optional[int], Optional[Model], str]:
    """Every (K, family) cell as a dict, the chosen cell's index, its model, the criterion."""

class VbFit:
    """A fitted variational Bayesian mixture: the posterior hyperparameters (immutable)."""

    @staticmethod
    def from_parts(
        covariance_type: str,
        weight_prior: str,
        weight_concentration: npt.NDArray[np.float64],
        weight_concentration_b: Optional[npt.NDArray[np.float64]],
        mean_precision: npt.NDArray[np.float64],
        means: npt.NDArray[np.float64],
        degrees_of_freedom: npt.NDArray[np.float64],
        covariances: npt.NDArray[np.float64],
        precisions_cholesky: npt.NDArray[np.float64],
        weights: npt.NDArray[np.float64],
        converged: bool = False,
        n_iter: int = 0,
        lower_bound: Optional[float] = None,
        lower_bounds: Optional[List[float]] = None,
    ) -> VbFit: ...
    @property
    def covariance_type(self) -> str: ...
    @property
    def weight_prior(self) -> str: ...
    @property
    def weight_concentration(self) -> npt.NDArray[np.float64]: ...
    @property
    def weight_concentration_b(self) -> Optional[npt.NDArray[np.float64]]: ...
    @property
    def mean_precision(self) -> npt.NDArray[np.float64]: ...
    @property
    def means(self) -> npt.NDArray[np.float64]: ...
    @property
    def degrees_of_freedom(self) -> npt.NDArray[np.float64]: ...
    @property
    def covariances(self) -> npt.NDArray[np.float64]: ...
    @property
    def precisions_cholesky(self) -> npt.NDArray[np.float64]: ...
    @property
    def weights(self) -> npt.NDArray[np.float64]: ...
    @property
    def converged(self) -> bool: ...
    @property
    def n_iter(self) -> int: ...
    @property
    def lower_bound(self) -> float: ...
    @property
    def lower_bounds(self) -> List[float]: ...
    @property
    def covariance_prior(self) -> npt.NDArray[np.float64]: ...
    @property
    def mean_prior(self) -> npt.NDArray[np.float64]: ...
    def predict_proba(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]: ...
    def score_samples(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]: ...
    def model(self) -> Model: ...

def fit_vb(
    x: npt.NDArray[np.float64],
    *,
    n_components: int,
    covariance_type: str = "full",
    weight_prior: str = "dirichlet_process",
    weight_concentration_prior: Optional[float] = None,
    mean_precision_prior: Optional[float] = None,
    mean_prior: Optional[npt.NDArray[np.float64]] = None,
    degrees_of_freedom_prior: Optional[float] = None,
    covariance_prior: Optional[npt.NDArray[np.float64]] = None,
    tol: float = 1e-3,
    reg_covar: float = 1e-6,
    max_iter: int = 100,
    n_init: int = 1,
    init: str = "kmeans",
    seed: int = 0,
    warm: Optional[VbFit] = None,
    init_labels: Optional[List[int]] = None,
    parallel: bool = True,
) -> VbFit: ...
def set_num_threads(n: int) -> None: ...
def get_num_threads() -> int: ...

class AnomalyCore:
    """A fitted anomaly detector of the library (the ensemble or single mixture and its threshold)."""

    @staticmethod
    def fit(
        x: npt.NDArray[np.float64],
        contamination: float,
        max_k: Optional[int] = None,
        covariance: Optional[List[str]] = None,
        reg_covar: Optional[float] = None,
        n_init: Optional[int] = None,
        seed: Optional[int] = None,
        min_points: Optional[float] = None,
        max_fit_rows: Optional[int] = None,
        ensemble: bool = True,
        noise: bool = False,
    ) -> AnomalyCore: ...
    def score(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]: ...
    def training_scores(self) -> Optional[npt.NDArray[np.float64]]: ...
    @property
    def threshold(self) -> float: ...
    @property
    def n_features(self) -> int: ...
    @property
    def n_members(self) -> int: ...
    def to_json(self) -> str: ...
    @staticmethod
    def from_json(s: str) -> AnomalyCore: ...
