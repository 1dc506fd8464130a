"""The derivation's experiment: DDPG vs SAC with a fixed temperature vs SAC with an automatic one, on DMC cheetah-run.

    python examples/compare_temperature.py                      # cheetah-run, seed 0, 100k environment steps
    python examples/compare_temperature.py --tasks cheetah-run humanoid-run --seeds 0 1 2

Learners: SB3's DDPG (Gaussian action noise 0.1), SoftAC with alpha fixed at 0.1, SoftAC with alpha
learned towards the target entropy -dim(A) (both starting at 0.1). All share the other settings of
``benchmarks/learning.py`` (its HYPERPARAMS and task table, action repeat 4 on cheetah-run).
Writes to benchmarks/results/temperature/: curves.png (all return curves in one figure per task),
temperature.png (alpha and policy entropy over training for the two SAC variants) and summary.md.
The runner is resumable: finished runs are skipped.
"""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # the checkout's benchmarks package

from benchmarks.learning import main  # noqa: E402

if __name__ == "__main__":
    main(
        default_out=REPO / "benchmarks" / "results" / "temperature",
        default_algos=("ddpg", "softac-fixed", "softac"),
        default_tasks=("cheetah-run",),
        default_seeds=(0,),
        description=__doc__,
    )
