"""RL-Zoo (rl_zoo3) integration: ``--algo softac`` for train, enjoy, record_video and Optuna.

rl_zoo3 has no plugin mechanism: ``--algo`` takes its choices from ``rl_zoo3.utils.ALGOS`` when the
parser is built, and Optuna trials look the algorithm up in ``HYPERPARAMS_SAMPLER`` /
``HYPERPARAMS_CONVERTER``. Each entry point registers ``softac`` in those tables, then hands over to
rl_zoo3 unchanged, so every zoo flag keeps working. The package is split by concern:

- :mod:`~sb3_softac.integrations.zoo.cli`: the entry points and their command-line handling;
- :mod:`~sb3_softac.integrations.zoo.search_space`: SoftAC's Optuna search space;
- :mod:`~sb3_softac.integrations.zoo.adapters`: the registration and the small wrappers of rl_zoo3's
  ``ExperimentManager`` that fill in what rl_zoo3 lacks.

No algorithm logic lives here.
"""

from sb3_softac.integrations.zoo.adapters import ALGO_NAME, InferenceSoftAC, register_with_zoo
from sb3_softac.integrations.zoo.cli import default_config_path, enjoy_main, record_video_main, train_main

__all__ = [
    "ALGO_NAME",
    "InferenceSoftAC",
    "default_config_path",
    "enjoy_main",
    "record_video_main",
    "register_with_zoo",
    "train_main",
]
