#!/usr/bin/env python3
"""Runs the installed scikit-learn's own mixture tests against gaussmix.

Copies ``sklearn/mixture/tests/test_gaussian_mixture.py`` (``--suite gaussian``, the
default) or ``test_bayesian_mixture.py`` (``--suite bayesian``) from the scikit-learn that
this interpreter imports into a temporary folder, swaps the one import of the estimator
for ``from gaussmix import ...``, and runs it with pytest, with
``SKLEARN_RUN_FLOAT32_TESTS=1`` and ``SKLEARN_TESTS_GLOBAL_RANDOM_SEED`` (default ``0-9``;
one seed, e.g. ``0``, runs in seconds), with scikit-learn's own fixtures
(``-p sklearn.conftest``: ``global_random_seed``, ``global_dtype``). Tests of scikit-learn's
private internals are deselected by node-id prefix (see ``DESELECTED``, each with its
reason), so a ``-k`` given here narrows the rest. Extra arguments go to pytest. Exit
status: pytest's.

    target/pyvenv/bin/python bindings/python/scripts/run_sklearn_suite.py [--suite bayesian] [-x] [-k expr]
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import tempfile

# suite -> (test file, the import line swapped, its replacement, {test name: why not run})
SUITES = {
    "gaussian": (
        "test_gaussian_mixture.py",
        "from sklearn.mixture import GaussianMixture\n",
        "from gaussmix import GaussianMixture\n",
        {
            "test_gaussian_mixture_precisions_init_diag": "calls the private _set_parameters",
            "test_gaussian_mixture_precisions_init[": (
                "calls the private _set_parameters and _initialize(X, resp)"
            ),
            "test_gaussian_mixture_all_init_does_not_estimate_gaussian_parameters": (
                "mocks the private sklearn.mixture._gaussian_mixture._estimate_gaussian_parameters"
            ),
            "test_gaussian_mixture_array_api_compliance": "array API dispatch (gaussmix takes NumPy only)",
            "test_gaussian_mixture_raises_where_array_api_not_implemented": "array API dispatch",
        },
    ),
    "bayesian": (
        "test_bayesian_mixture.py",
        "from sklearn.mixture import BayesianGaussianMixture\n",
        "from gaussmix import BayesianGaussianMixture\n",
        {
            "test_log_dirichlet_norm": "tests scikit-learn's private _log_dirichlet_norm, no estimator",
            "test_log_wishart_norm": "tests scikit-learn's private _log_wishart_norm, no estimator",
            "test_compare_covar_type": (
                "calls the private _check_parameters and _initialize_parameters"
            ),
        },
    ),
}

# kept for callers of the old module-level name (the GaussianMixture suite's)
DESELECTED = SUITES["gaussian"][3]


def main(argv: list[str]) -> int:
    import sklearn

    suite = "gaussian"
    if argv[:1] == ["--suite"] and len(argv) > 1:
        suite, argv = argv[1], argv[2:]
    if suite not in SUITES:
        print(f"error: --suite must be one of {', '.join(SUITES)}, got {suite!r}", file=sys.stderr)
        return 2
    name, old, new, deselected = SUITES[suite]
    src = pathlib.Path(sklearn.__file__).parent / "mixture" / "tests" / name
    text = src.read_text()
    if text.count(old) != 1:
        print(f"error: {src} does not contain exactly one line {old!r}", file=sys.stderr)
        return 2
    text = text.replace(old, new)
    env = dict(os.environ)
    env["SKLEARN_RUN_FLOAT32_TESTS"] = "1"
    env.setdefault("SKLEARN_TESTS_GLOBAL_RANDOM_SEED", "0-9")
    with tempfile.TemporaryDirectory(prefix="gaussmix-sklearn-suite-") as tmp:
        dst = pathlib.Path(tmp) / name.replace(".py", "_gaussmix.py")
        dst.write_text(text)
        deselect = [f"--deselect={dst.name}::{t}" for t in deselected]
        print(f"== scikit-learn {sklearn.__version__}: {src}")
        for t, why in deselected.items():
            print(f"   deselected {t}: {why}")
        cmd = [
            sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "sklearn.conftest",
            "-q", "-rfE", "--rootdir", tmp,
            # the array-API tests (deselected) parametrize over generators
            "-W", "ignore::pytest.PytestRemovedIn10Warning",
            *deselect, dst.name, *argv,
        ]  # fmt: skip
        return subprocess.call(cmd, env=env, cwd=tmp)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
