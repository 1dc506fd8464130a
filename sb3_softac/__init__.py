"""sb3_softac: a from-scratch Soft Actor-Critic that is a drop-in replacement for Stable-Baselines3's SAC."""

from sb3_softac.policies import CnnPolicy, MlpPolicy, MultiInputPolicy, SoftACPolicy
from sb3_softac.softac import SoftAC

__version__ = "0.1.0"
__all__ = ["CnnPolicy", "MlpPolicy", "MultiInputPolicy", "SoftAC", "SoftACPolicy", "__version__"]
