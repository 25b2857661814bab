#!/usr/bin/env bash
# Runs every test of the workspace. This is the README's test command and what CI calls.
# The Rust tests build on the release profile, so they share the build of the README's
# quick start (`cargo run --release -p gaussmix-cli`): a first run compiles once.
# Data: data/ is always there; tests that need the larger shared folder (GAUSSMIX_SHARED,
# default ../shared) skip with a note without it, or fail with GAUSSMIX_REQUIRE_SHARED=1.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --release --locked "$@"

# Python package (bindings/python, its own cargo workspace): builds it into target/pyvenv
# (created on first use; needs PyPI) and runs its pytest suite, Spark and Dask included.
# GAUSSMIX_SKIP_PYTHON=1 leaves it out.
if [ "${GAUSSMIX_SKIP_PYTHON:-0}" != "1" ]; then
  bash bindings/python/scripts/test.sh
fi
