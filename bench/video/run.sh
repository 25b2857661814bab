#!/bin/sh
# gaussmix-video vs OpenCV MOG2, back to back, one thread each.
# Usage: bench/video/run.sh [SEQ_DIR]   (from the workspace root; needs
#   pip install opencv-python-headless numpy)
set -e
SEQ=$(cd "${1:-../shared/data/video/highway}" && pwd)  # cargo bench runs in the crate folder
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 bench/video/opencv_bench.py "$SEQ"
cargo bench -q -p gaussmix-video --bench video_bench -- "$SEQ" --threads 1
