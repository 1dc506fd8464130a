"""sb3_softac: a from-scratch Soft Actor-Critic that is a drop-in replacement for Stable-Baselines3's SAC."""

from sb3_softac.dmc import make_dmc_env, register_dmc_envs
from sb3_softac.policies import CnnPolicy, MlpPolicy, MultiInputPolicy, SoftACPolicy
from sb3_softac.softac import SoftAC

__version__ = "0.1.0"
__all__ = ["CnnPolicy", "MlpPolicy", "MultiInputPolicy", "SoftAC", "SoftACPolicy", "__version__", "make_dmc_env"]

# Gymnasium ids dmc-<domain>-<task>-v0 and dmc-<domain>-<task>-pixels-v0 (see sb3_softac.dmc).
register_dmc_envs()
