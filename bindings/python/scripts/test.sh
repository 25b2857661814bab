#!/usr/bin/env bash
# Builds the Python package into target/pyvenv (see setup_env.sh) and runs its pytest suite.
# Extra arguments go to pytest. Spark and Dask tests need Java 17; set
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
exit "$rc"
