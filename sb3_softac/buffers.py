"""Replay storage on top of SB3's buffers: Dict observations with 0-d entries, and sampling on the GPU."""

from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.buffers import DictReplayBuffer, ReplayBuffer
from stable_baselines3.common.type_aliases import ReplayBufferSamples
from stable_baselines3.common.utils import get_device
from stable_baselines3.common.vec_env import VecNormalize


def scalar_keys(observation_space: spaces.Space) -> frozenset[str]:
    """
    :param observation_space: Any observation space.
    :return: The keys of a ``Dict`` space whose entries are 0-d ``Box`` es (shape ``()``); empty for
        other spaces. A ``Discrete`` entry has shape ``()`` too, but SB3 stores it as one value and
        one-hot encodes it, so it is not one of them.
    """
    if not isinstance(observation_space, spaces.Dict):
        return frozenset()
    return frozenset(
        key for key, space in observation_space.spaces.items() if isinstance(space, spaces.Box) and space.shape == ()
    )


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


def device_sampling_applies(
    observation_space: spaces.Space, device: th.device, optimize_memory_usage: bool, n_steps: int
) -> bool:
    """
    :param observation_space: The model's observation space.
    :param device: The model's device.
    :param optimize_memory_usage: The model's setting (its buffer layout is SB3's own).
    :param n_steps: The model's n-step setting (n > 1 uses SB3's ``NStepReplayBuffer``).
    :return: Whether SoftAC picks :class:`DeviceReplayBuffer` by default: on CUDA, for flat float
        observations (images would double their GPU footprint as float32 rows), 1-step, not memory-optimised.
    """
    return (
        device.type == "cuda"
        and isinstance(observation_space, spaces.Box)
        and len(observation_space.shape) == 1
        and np.issubdtype(observation_space.dtype, np.floating)
        and not optimize_memory_usage
        and n_steps == 1
    )


class DeviceReplayBuffer(ReplayBuffer):
    """
    SB3's ``ReplayBuffer`` with a copy of every transition on the model's device, sampled there.

    The numpy arrays stay the source of truth (``save_replay_buffer`` and VecNormalize sampling use
    them unchanged); each ``add`` also writes the transition as one packed float32 row
    ``[obs, action, next_obs, reward, done * (1 - timeout)]`` to a device tensor, and ``sample``
    draws indices with torch's generator and gathers on the device: no host-to-device copy per batch.
    Same parameters as ``ReplayBuffer``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._allocate_rows()

    def _allocate_rows(self) -> None:
        self._widths = [self.obs_shape[0], self.action_dim, self.obs_shape[0], 1, 1]
        self._rows = th.zeros((self.buffer_size, self.n_envs, sum(self._widths)), dtype=th.float32, device=self.device)

    def add(
        self,
        obs: np.ndarray,
        next_obs: np.ndarray,
        action: np.ndarray,
        reward: np.ndarray,
        done: np.ndarray,
        infos: list[dict[str, Any]],
    ) -> None:
        """
        Store one transition per environment (in the numpy arrays and as a device row).

        :param obs: Observations before the step.
        :param next_obs: Observations after the step.
        :param action: Actions taken.
        :param reward: Rewards received.
        :param done: Episode ends (terminated or truncated).
        :param infos: Per-env info dicts (``TimeLimit.truncated`` marks truncations).
        """
        pos = self.pos
        super().add(obs, next_obs, action, reward, done, infos)
        self._rows[pos].copy_(th.from_numpy(self._packed(slice(pos, pos + 1))[0]))

    def _packed(self, positions: slice) -> np.ndarray:
        """The numpy transitions at ``positions`` as float32 rows, shape (positions, n_envs, row width)."""
        parts = [
            self.observations[positions],
            self.actions[positions],
            self.next_observations[positions],
            self.rewards[positions][..., None],
            (self.dones[positions] * (1 - self.timeouts[positions]))[..., None],
        ]
        return np.concatenate(parts, axis=-1, dtype=np.float32)

    def sample(self, batch_size: int, env: VecNormalize | None = None) -> ReplayBufferSamples:
        """
        Sample a batch on the device (with VecNormalize, SB3's numpy path, which normalises on the host).

        :param batch_size: Number of transitions.
        :param env: VecNormalize wrapper to normalise observations and rewards with, if any.
        :return: The batch, on the buffer's device.
        """
        if env is not None:
            return super().sample(batch_size, env=env)
        upper = self.buffer_size if self.full else self.pos
        indices = th.randint(upper, (batch_size,), device=self.device)
        env_indices = th.randint(self.n_envs, (batch_size,), device=self.device)
        obs, actions, next_obs, rewards, dones = self._rows[indices, env_indices].split(self._widths, dim=1)
        return ReplayBufferSamples(obs, actions, next_obs, dones, rewards)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_rows"]  # rebuilt from the numpy arrays on unpickling
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.device = get_device(self.device)  # a buffer saved on a GPU machine loads on a CPU-only one
        self._allocate_rows()
        stored = self.buffer_size if self.full else self.pos
        self._rows[:stored].copy_(th.from_numpy(self._packed(slice(0, stored))))
