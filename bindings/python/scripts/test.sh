#!/usr/bin/env bash
# Builds the Python package into target/pyvenv (see setup_env.sh) and runs its pytest suite,
# then scikit-learn's own GaussianMixture and BayesianGaussianMixture tests against gaussmix
# (run_sklearn_suite.py --suite gaussian|bayesian) with
# one seed, GAUSSMIX_SKLEARN_SEEDS (default 0; "0-9" is scikit-learn's full range, minutes
# on 2 cores). GAUSSMIX_SKIP_SKLEARN_SUITE=1 leaves that out. Extra arguments go to pytest
# (of the package's own tests). Spark and Dask tests need Java 17; set
# GAUSSMIX_REQUIRE_CLUSTER_TESTS=1 to make a missing engine a failure instead of a skip.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${GAUSSMIX_PYVENV:-$root/target/pyvenv}"
bash "$here/scripts/setup_env.sh"
cd "$here"
rc=0
"$venv/bin/python" -m pytest -p no:cacheprovider -q "$@" tests || rc=$?
if [ "$rc" -eq 5 ]; then
  echo "error: pytest collected no tests in bindings/python/tests" >&2
fi
if [ "${GAUSSMIX_SKIP_SKLEARN_SUITE:-0}" != "1" ]; then
  for suite in gaussian bayesian; do
    echo "== scikit-learn's $suite mixture tests on gaussmix (seeds ${GAUSSMIX_SKLEARN_SEEDS:-0})"
    src=0
    SKLEARN_TESTS_GLOBAL_RANDOM_SEED="${GAUSSMIX_SKLEARN_SEEDS:-0}" \
      "$venv/bin/python" "$here/scripts/run_sklearn_suite.py" --suite "$suite" || src=$?
    if [ "$rc" -eq 0 ]; then rc=$src; fi
  done
fi
exit "$rc"
