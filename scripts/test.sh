#!/usr/bin/env bash
# Runs every test of the workspace. This is the README's test command and what CI calls.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --locked "$@"

# Python package (bindings/python, its own cargo workspace): builds it into target/pyvenv
# (created on first use; needs PyPI) and runs its pytest suite, Spark and Dask included.
# GAUSSMIX_SKIP_PYTHON=1 leaves it out.
if [ "${GAUSSMIX_SKIP_PYTHON:-0}" != "1" ]; then
  bash bindings/python/scripts/test.sh
fi
