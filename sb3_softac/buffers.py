"""Replay storage for Dict observations with 0-d (scalar) entries, on top of SB3's ``DictReplayBuffer``."""

from typing import Any

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.buffers import DictReplayBuffer


def scalar_keys(observation_space: spaces.Space) -> frozenset[str]:
    """
    :param observation_space: Any observation space.
    :return: The keys of a ``Dict`` space whose entries have shape ``()``; empty for other spaces.
    """
    if not isinstance(observation_space, spaces.Dict):
        return frozenset()
    return frozenset(key for key, space in observation_space.spaces.items() if space.shape == ())


class ScalarSafeDictReplayBuffer(DictReplayBuffer):
    """
    SB3's ``DictReplayBuffer`` that stores 0-d entries as one-element vectors.

    SB3 indexes every stored entry as ``[index, env, :]``, which fails for a 0-d entry (stored as
    (buffer_size, n_envs)). Here such entries get a trailing axis of size 1, so they are sampled
    as (batch, 1). With no 0-d entry it is exactly ``DictReplayBuffer``.
    Same parameters as ``DictReplayBuffer``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._scalar_keys = scalar_keys(self.observation_space)
        for key in self._scalar_keys:
            self.obs_shape[key] = (1,)
            self.observations[key] = self.observations[key][..., np.newaxis]
            self.next_observations[key] = self.next_observations[key][..., np.newaxis]

    def _lift(self, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {key: np.reshape(value, (self.n_envs, 1)) if key in self._scalar_keys else value for key, value in obs.items()}

    def add(  # type: ignore[override]
        self,
        obs: dict[str, np.ndarray],
        next_obs: dict[str, np.ndarray],
        action: np.ndarray,
        reward: np.ndarray,
        done: np.ndarray,
        infos: list[dict[str, Any]],
    ) -> None:
        """
        Store one transition per environment.

        :param obs: Observations before the step.
        :param next_obs: Observations after the step.
        :param action: Actions taken.
        :param reward: Rewards received.
        :param done: Episode ends (terminated or truncated).
        :param infos: Per-env info dicts (``TimeLimit.truncated`` marks truncations).
        """
        super().add(self._lift(obs), self._lift(next_obs), action, reward, done, infos)
