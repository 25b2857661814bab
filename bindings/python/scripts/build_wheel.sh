#!/usr/bin/env bash
# Builds the Python package as an abi3 wheel and an sdist with maturin, installs the wheel
# into a fresh virtual environment with no Rust toolchain on PATH, and runs the package's
# pytest suite (and scikit-learn's GaussianMixture tests, one seed) against the installed
# wheel.
#   bash bindings/python/scripts/build_wheel.sh          # from anywhere
# Output: target/wheels/gaussmix-<v>-cp39-abi3-<platform>.whl and gaussmix-<v>.tar.gz.
# manylinux: a plain build on this Debian 12 machine links glibc 2.36's symbol versions
# (GLIBC_2.28 ... 2.34 from Rust's std), which maturin's audit refuses for manylinux2014;
# so the extension is linked with zig (`maturin build --zig`, zig from PyPI's `ziglang`,
# installed into the venv here) against glibc 2.17, and maturin's audit then checks the
# manylinux_2_17 policy. `maturin build --sdist` builds the wheel from the sdist it just
# wrote, so the sdist is proven to build.
# Environment: GAUSSMIX_PYVENV (the venv with maturin; default <repo>/target/pyvenv, made by
# setup_env.sh), GAUSSMIX_WHEEL_COMPAT (maturin's --compatibility; default manylinux2014,
# i.e. manylinux_2_17), GAUSSMIX_WHEEL_ZIG=0 (no zig: then pass GAUSSMIX_WHEEL_COMPAT=linux,
# a wheel for this machine's glibc only), GAUSSMIX_WHEEL_SKIP_TESTS=1 (build only).
# The Spark and Dask tests skip in the wheel's venv (pyspark and dask are not installed
# there); they run in target/pyvenv from scripts/test.sh.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${GAUSSMIX_PYVENV:-$root/target/pyvenv}"
out="$root/target/wheels"
compat="${GAUSSMIX_WHEEL_COMPAT:-manylinux2014}"
if [ ! -x "$venv/bin/maturin" ]; then
  bash "$here/scripts/setup_env.sh"
fi
zig=()
if [ "${GAUSSMIX_WHEEL_ZIG:-1}" = "1" ]; then
  if ! "$venv/bin/python" -m ziglang version >/dev/null 2>&1; then
    echo "== pip install ziglang (links the extension against glibc 2.17)"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check "ziglang==0.17.1"
  fi
  zig=(--zig)
fi

echo "== maturin build --release --sdist --compatibility $compat ${zig[*]}"
rm -rf "$out"
mkdir -p "$out"
(
  cd "$here"
  PATH="$venv/bin:$PATH" CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target/pywheel}" \
    "$venv/bin/maturin" build --release --sdist --compatibility "$compat" "${zig[@]}" --out "$out" -q
)
wheel="$(ls "$out"/gaussmix-*.whl)"
sdist="$(ls "$out"/gaussmix-*.tar.gz)"
echo "   wheel: $(basename "$wheel")"
echo "   sdist: $(basename "$sdist")"
case "$compat:$(basename "$wheel")" in
  linux:*-cp39-abi3-linux_*) ;;
  *:*-cp39-abi3-manylinux*) ;;
  *) echo "error: $(basename "$wheel") is not an abi3 $compat wheel" >&2; exit 1 ;;
esac
# the sdist must carry the library crate it builds against (a path dependency)
listing="$(tar -tzf "$sdist")"
if ! grep -q "crates/gaussmix/src/lib.rs" <<<"$listing"; then
  echo "error: the sdist lacks crates/gaussmix (the library the extension links)" >&2
  exit 1
fi
[ "${GAUSSMIX_WHEEL_SKIP_TESTS:-0}" = "1" ] && exit 0

echo "== fresh venv, wheel installed, no Rust on PATH"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python="$(command -v "${PYTHON:-python3}")"
"$python" -m venv "$tmp/venv"
# a PATH with the venv and the system's tools only: no ~/.cargo/bin
bare_path="$tmp/venv/bin:/usr/local/bin:/usr/bin:/bin"
run() { env -u CARGO_HOME -u RUSTUP_HOME -u CARGO_TARGET_DIR -u VIRTUAL_ENV PATH="$bare_path" "$@"; }
run sh -c '! command -v cargo && ! command -v rustc' >/dev/null || {
  echo "error: cargo or rustc is still on the test PATH" >&2
  exit 1
}
# the test requirements the package's suite uses, pinned as in requirements-test.txt
reqs="$(grep -E '^(pytest|numpy|scipy|scikit-learn|pandas)==' "$here/requirements-test.txt")"
# shellcheck disable=SC2086
run "$tmp/venv/bin/python" -m pip install -q --disable-pip-version-check $reqs
run "$tmp/venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps "$wheel"
# the tests run in place (they read the library's committed fixtures), from another folder;
# conftest.py checks that gaussmix comes from the venv (GAUSSMIX_EXPECT_PREFIX), not from
# the source tree
cd "$tmp"
rc=0
GAUSSMIX_EXPECT_PREFIX="$tmp/venv" GAUSSMIX_REQUIRE_CLUSTER_TESTS=0 \
  run "$tmp/venv/bin/python" -m pytest -p no:cacheprovider -q "$here/tests" || rc=$?
echo "== scikit-learn's GaussianMixture and BayesianGaussianMixture tests on the wheel (seed 0)"
for suite in gaussian bayesian; do
  SKLEARN_TESTS_GLOBAL_RANDOM_SEED=0 run "$tmp/venv/bin/python" \
    "$here/scripts/run_sklearn_suite.py" --suite "$suite" -q || rc=$?
done
exit "$rc"
