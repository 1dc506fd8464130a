#!/usr/bin/env bash
# SoftAC with pytorch_sac's settings (the zoo's `*dmc` config: 1024x2 MLPs, batch 1024, lr 1e-4, 5000
# random steps, target update every 2 steps, initial alpha 0.1) at action repeat 1, 100k environment
# steps, on a GPU: the runs of benchmarks/results/pytorch_sac_settings/.
# ALGOS picks the actor (benchmarks/learning.py SOFTAC_LEARNERS): `softac` (default: SB3's log-std clamp
# and init) or `softac-ortho-tanh-std` (pytorch_sac's, as in the `*dmc` config), or the two halves.
# The study's CPU settings differ in action repeat, width, batch and lr; these runs are about 30x its compute.
#
#   bash benchmarks/gpu_learning.sh [tasks...]      (default: walker-walk finger-spin cheetah-run reacher-easy)
#   SEEDS="1 2" LIMIT=300 bash benchmarks/gpu_learning.sh finger-spin    (LIMIT: seconds before the runs stop)
#   ALGOS="softac-ortho softac-tanh-std" WORKERS=4 bash benchmarks/gpu_learning.sh finger-spin   (SoftAC variants, see learning.py)
#   python benchmarks/learning.py --aggregate-only --out benchmarks/results/pytorch_sac_settings   # tables, plots
#
# For a machine without internet: put wheels (SB3, gymnasium, mujoco, shimmy, dm-env, dm-tree, absl-py,
# lxml, imageio for its Python) in .devwheels/, and dm_control's package folder in .devkit/site/ (its
# locomotion assets are not needed). Where scipy is missing, .devkit/stub/ holds empty scipy modules
# (dm_control.suite imports scipy at module level for quadruped and LQR only).
# TF32 matmuls are allowed (TORCH_ALLOW_TF32_CUBLAS_OVERRIDE=1) to fit a lent machine's time.
set -uo pipefail
OUT=${OUT:-benchmarks/results}
LIMIT=${LIMIT:-3600}
mkdir -p "$OUT"
if [ -d .devwheels ]; then python3 -m pip install --quiet --no-deps .devwheels/*.whl; fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
[ -d .devkit/site ] && export PYTHONPATH=$PWD/.devkit/site:$PYTHONPATH
python3 -c "import scipy" 2>/dev/null || export PYTHONPATH=$PWD/.devkit/stub:$PYTHONPATH
export MUJOCO_GL=${MUJOCO_GL:-disable} TORCH_ALLOW_TF32_CUBLAS_OVERRIDE=1 PYTHONWARNINGS=ignore
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/gpu_machine.txt"
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)" | tee -a "$OUT/gpu_machine.txt"
tasks=${*:-walker-walk finger-spin cheetah-run reacher-easy}
# shellcheck disable=SC2086  (tasks and seeds are word lists)
timeout "$LIMIT" python3 benchmarks/learning.py --algos ${ALGOS:-softac} --tasks $tasks --seeds ${SEEDS:-0} --action-repeat 1 \
    --workers "${WORKERS:-4}" --threads 2 --out "$OUT/pytorch_sac_settings" \
    --set learning_rate=1e-4 buffer_size=1000000 batch_size=1024 learning_starts=5000 target_update_interval=2 \
    "policy_kwargs={'net_arch': [1024, 1024]}" 2>&1 | grep -v "Warning\|warn("
