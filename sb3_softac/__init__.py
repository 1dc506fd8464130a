"""sb3_softac: a from-scratch Soft Actor-Critic that is a drop-in replacement for Stable-Baselines3's SAC.

The algorithm core is :mod:`sb3_softac.softac` with :mod:`~sb3_softac.policies`, :mod:`~sb3_softac.buffers`,
:mod:`~sb3_softac.layers`, :mod:`~sb3_softac.checkpoints`, :mod:`~sb3_softac.migration`,
:mod:`~sb3_softac.validation` and :mod:`~sb3_softac.cuda_graphs`, with the SAC-family settings in
:mod:`~sb3_softac.presets`; the thin adapters to DeepMind Control, RL-Zoo and W&B are in
:mod:`sb3_softac.integrations`.
"""

from sb3_softac.integrations.dmc import make_dmc_env, register_dmc_envs
from sb3_softac.policies import CnnPolicy, MlpPolicy, MultiInputPolicy, SoftACPolicy
from sb3_softac.presets import PRESETS
from sb3_softac.softac import SoftAC

__version__ = "0.3.0"
__all__ = ["PRESETS", "CnnPolicy", "MlpPolicy", "MultiInputPolicy", "SoftAC", "SoftACPolicy", "__version__", "make_dmc_env"]

# Gymnasium ids dmc-<domain>-<task>-v0 and dmc-<domain>-<task>-pixels-v0 (see sb3_softac.integrations.dmc);
# registering them imports no dm_control.
register_dmc_envs()
