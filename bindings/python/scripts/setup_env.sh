#!/usr/bin/env bash
# Creates (or refreshes) the virtual environment of the Python tests and builds the package
# into it. Idempotent: the pip step reruns only when requirements-test.txt changed, and the
# Rust build is incremental (its target directory is the workspace's target/pybind).
#   bash bindings/python/scripts/setup_env.sh         # from anywhere
# Environment: GAUSSMIX_PYVENV (default <repo>/target/pyvenv), PYTHON (default python3).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${GAUSSMIX_PYVENV:-$root/target/pyvenv}"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
  echo "== creating $venv"
  "$python" -m venv "$venv"
fi
stamp="$venv/.gaussmix-requirements"
if ! cmp -s "$here/requirements-test.txt" "$stamp" 2>/dev/null; then
  echo "== pip install -r bindings/python/requirements-test.txt"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$here/requirements-test.txt"
  cp "$here/requirements-test.txt" "$stamp"
fi

echo "== building gaussmix (maturin develop --release)"
cd "$here"
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target/pybind}" VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH" \
  "$venv/bin/maturin" develop --release -q
