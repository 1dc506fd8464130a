"""Small environments for the tests: continuous-action Dict observations, with and without a 0-d entry."""

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class ContinuousDictEnv(gym.Env):
    """
    Reach a random target in 2-D; observations are a Dict, actions a Box in [-1, 1]^2.

    :param scalar_entry: Add a 0-d ``height`` entry (like DMC walker's) to the observation Dict.
    :param image_entry: Add a small uint8 image entry (channel-first, 1x36x36).
    :param max_steps: Episode length; the episode is truncated, never terminated.
    """

    def __init__(self, scalar_entry: bool = True, image_entry: bool = False, max_steps: int = 20) -> None:
        entries: dict[str, spaces.Space] = {
            "position": spaces.Box(-10.0, 10.0, (2,), np.float32),
            "target": spaces.Box(-1.0, 1.0, (2,), np.float32),
        }
        if scalar_entry:
            entries["height"] = spaces.Box(0.0, 100.0, (), np.float32)
        if image_entry:
            entries["camera"] = spaces.Box(0, 255, (1, 36, 36), np.uint8)
        self.observation_space = spaces.Dict(entries)
        self.action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.max_steps = max_steps

    def _obs(self) -> dict[str, np.ndarray]:
        obs: dict[str, np.ndarray] = {"position": self.position.copy(), "target": self.target.copy()}
        if "height" in self.observation_space.spaces:
            obs["height"] = np.asarray(np.linalg.norm(self.position - self.target), dtype=np.float32)
        if "camera" in self.observation_space.spaces:
            obs["camera"] = np.full((1, 36, 36), int(127 + 12 * self.position[0]) % 256, dtype=np.uint8)
        return obs

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict[str, np.ndarray], dict]:
        super().reset(seed=seed)
        self.position = np.zeros(2, dtype=np.float32)
        self.target = self.np_random.uniform(-1.0, 1.0, 2).astype(np.float32)
        self.steps = 0
        return self._obs(), {}

    def step(self, action: np.ndarray) -> tuple[dict[str, np.ndarray], float, bool, bool, dict]:
        self.position = np.clip(self.position + 0.2 * np.asarray(action, dtype=np.float32), -10.0, 10.0)
        self.steps += 1
        reward = -float(np.linalg.norm(self.position - self.target))
        return self._obs(), reward, False, self.steps >= self.max_steps, {}


class SpaceEnv(gym.Env):
    """
    Observations drawn from any observation space, reproducibly: ``reset(seed=s)`` seeds the space's sampler.

    Actions are a Box in [-1, 1]^2; the reward is ``-|a|^2`` (a policy can learn it); episodes are truncated
    after ``max_steps`` steps, never terminated.

    :param observation_space: The observation space (a ``Dict`` of any entries, or any single space).
    :param max_steps: Episode length.
    """

    def __init__(self, observation_space: spaces.Space, max_steps: int = 10) -> None:
        self.observation_space = observation_space
        self.action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.max_steps = max_steps

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        super().reset(seed=seed)
        if seed is not None:
            self.observation_space.seed(int(self.np_random.integers(2**31)))
        self.steps = 0
        return self.observation_space.sample(), {}

    def step(self, action: np.ndarray) -> tuple[Any, float, bool, bool, dict]:
        self.steps += 1
        return self.observation_space.sample(), -float(np.sum(np.square(action))), False, self.steps >= self.max_steps, {}
