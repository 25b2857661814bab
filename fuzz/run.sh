#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 60) each, with the committed corpus, and
# prints the executions per target. Exits non-zero if any target crashed, hung (>10 s on
# one input) or ran out of memory (2 GiB); the input is then in fuzz/artifacts/<target>/.
#
#   fuzz/run.sh [seconds-per-target] [target...]
#
# cargo-fuzz is installed when missing. It needs a nightly compiler: `cargo +nightly` when
# rustup has a nightly toolchain, otherwise stable with RUSTC_BOOTSTRAP=1.
set -uo pipefail
cd "$(dirname "$0")"
SECS=${1:-60}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(csv npy npz parquet model_json stats_bytes image)

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz"
    cargo install cargo-fuzz --locked || exit 2
fi
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    FUZZ=(cargo +nightly fuzz)
    echo "toolchain: nightly ($(rustc +nightly --version))"
else
    export RUSTC_BOOTSTRAP=1
    FUZZ=(cargo fuzz)
    echo "toolchain: stable with RUSTC_BOOTSTRAP=1 ($(rustc --version))"
fi

# Release build with debug assertions (so arithmetic overflow panics) and AddressSanitizer.
BUILD=(-O -a)
"${FUZZ[@]}" build "${BUILD[@]}" || exit 2

LOGS=target/fuzz-logs
mkdir -p "$LOGS"
failed=()
printf '%-12s %12s %10s  %s\n' target executions exec/s result
for t in "${TARGETS[@]}"; do
    # New inputs go to a scratch corpus under target/ (git-ignored); the committed
    # corpus/<t> is read as seeds only.
    work=target/corpus-work/$t
    mkdir -p "$work" "artifacts/$t"
    "${FUZZ[@]}" run "${BUILD[@]}" "$t" "$work" "corpus/$t" -- \
        -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
        -print_final_stats=1 >"$LOGS/$t.log" 2>&1
    rc=$?
    execs=$(grep -ao 'stat::number_of_executed_units: *[0-9]*' "$LOGS/$t.log" | grep -o '[0-9]*$' | tail -1)
    rate=$(grep -ao 'stat::average_exec_per_sec: *[0-9]*' "$LOGS/$t.log" | grep -o '[0-9]*$' | tail -1)
    if [ $rc -eq 0 ]; then
        result=ok
    else
        result="FAILED (rc $rc; see fuzz/$LOGS/$t.log and fuzz/artifacts/$t/)"
        failed+=("$t")
    fi
    printf '%-12s %12s %10s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "$result"
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "failed: ${failed[*]}"
    exit 1
fi
