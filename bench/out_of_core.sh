#!/usr/bin/env bash
# Out-of-core fit: writes an NPY file larger than the address space the fit is allowed
# (ulimit -v), then fits it with `gaussmix fit --stream`. The fit can only succeed by
# streaming: it could not even map the file into memory.
#
# Usage: bench/out_of_core.sh [ROWS] [LIMIT_MIB]    (default 25,000,000 rows × 16 f64 = 3.2 GB; 1,536 MiB limit)
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-25000000}
limit_mib=${2:-1536}
dir=target/bench-data
mkdir -p "$dir"
file=$dir/big_${rows}x16.npy
cargo build --release -q -p gaussmix-cli
if [ ! -f "$file" ]; then
  echo "writing $file"
  python3 - "$file" "$rows" <<'PY'
import sys, numpy as np
path, n = sys.argv[1], int(sys.argv[2])
d, k = 16, 8
rng = np.random.default_rng(7)
means = rng.normal(0, 6, (k, d))
with open(path, "wb") as f:
    np.lib.format.write_array_header_1_0(f, {"descr": "<f8", "fortran_order": False, "shape": (n, d)})
    step = 1_000_000
    for s in range(0, n, step):
        m = min(step, n - s)
        lab = rng.integers(0, k, m)
        (means[lab] + rng.normal(0, 1, (m, d))).astype("<f8").tofile(f)
PY
fi
size=$(stat -c %s "$file")
echo "file: $file, $((size / 1048576)) MiB; address-space limit for the fit: $limit_mib MiB"
(
  ulimit -v $((limit_mib * 1024))
  /usr/bin/time -v ./target/release/gaussmix fit "$file" -k 8 --covariance diag --stream --max-iter 5 --tol 0 --threads 2 -o target/bench/big-model.json 2> target/bench/out_of_core.log || { cat target/bench/out_of_core.log; exit 1; }
)
grep -E "streaming|fitted|Maximum resident|Elapsed" target/bench/out_of_core.log
