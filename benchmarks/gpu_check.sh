#!/usr/bin/env bash
# The GPU checks of the speed issue, as one script for a lent GPU machine (see README "Speed"):
# the CUDA-graph tests, then SoftAC vs SB3's SAC on the same GPU (env steps, update-only).
# Run from the repo root. On a machine without internet, put wheels of SB3, gymnasium and mujoco in
# .devwheels/ first (pip download them for its Python); results go to $OUT (default: benchmarks/results/).
#   bash benchmarks/gpu_check.sh [tests] [throughput] [update-only]    (default: all)
set -uo pipefail
OUT=${OUT:-benchmarks/results}
mkdir -p "$OUT"
if [ -d .devwheels ]; then python3 -m pip install --quiet --no-deps .devwheels/*.whl; fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/gpu_machine.txt"
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)" | tee -a "$OUT/gpu_machine.txt"
run() {  # name, limit in seconds, command...
    local name=$1 limit=$2; shift 2
    echo "=== $name: $*"
    timeout "$limit" "$@" 2>&1 | tee "$OUT/$name.txt" | grep -v "^  repeat\|Warning\|warn("
}
stages=${*:-tests throughput update-only}
for stage in $stages; do
    case $stage in
        tests) run gpu_tests 200 python3 -m pytest -q -s -p no:cacheprovider tests/test_cuda_graphs.py ;;
        throughput) run gpu_throughput 120 python3 benchmarks/throughput.py --device cuda --steps 2000 --repeats 3 ;;
        update-only) run gpu_throughput_update_only 80 python3 benchmarks/throughput.py --device cuda --update-only --steps 2000 --repeats 3 ;;
        *) echo "unknown stage $stage (tests, throughput, update-only)"; exit 2 ;;
    esac
done
