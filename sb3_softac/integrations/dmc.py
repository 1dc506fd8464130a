"""DeepMind Control Suite tasks as Gymnasium environments made right for SAC, through Shimmy.

``make_dmc_env("cheetah-run")`` wraps Shimmy's ``DmControlCompatibilityV0`` so that observations are a
flat float32 ``Box`` (or uint8 channel-first pixels), actions a float32 ``Box`` in [-1, 1], rewards
floats, and episodes end only by time limit (``truncated=True``), with optional action repeat and
frame stacking. Every task of ``dm_control.suite.ALL_TASKS`` is registered with Gymnasium when
``sb3_softac`` is imported (registration needs no dm_control; building an env does, and sets
``MUJOCO_GL=egl`` first when no display is configured):

- ``dmc-<domain>-<task>-v0``: state observations, e.g. ``dmc-cheetah-run-v0``, ``dmc-ball_in_cup-catch-v0``;
- ``dmc-<domain>-<task>-pixels-v0``: 84x84 RGB pixel observations, e.g. ``dmc-cheetah-run-pixels-v0``.

This module holds no algorithm logic.
"""

import difflib
import os
import sys
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from sb3_softac.validation import check_int

# Every task of dm_control.suite.ALL_TASKS (dm_control 1.0.50); tests/test_dmc.py checks it against the installed suite.
DMC_TASKS: tuple[tuple[str, str], ...] = (
    ("acrobot", "swingup"), ("acrobot", "swingup_sparse"), ("ball_in_cup", "catch"),
    ("cartpole", "balance"), ("cartpole", "balance_sparse"), ("cartpole", "swingup"), ("cartpole", "swingup_sparse"),
    ("cartpole", "two_poles"), ("cartpole", "three_poles"), ("cheetah", "run"),
    ("dog", "stand"), ("dog", "walk"), ("dog", "trot"), ("dog", "run"), ("dog", "fetch"),
    ("finger", "spin"), ("finger", "turn_easy"), ("finger", "turn_hard"), ("fish", "upright"), ("fish", "swim"),
    ("hopper", "stand"), ("hopper", "hop"),
    ("humanoid", "stand"), ("humanoid", "walk"), ("humanoid", "run"), ("humanoid", "run_pure_state"),
    ("humanoid_CMU", "stand"), ("humanoid_CMU", "walk"), ("humanoid_CMU", "run"),
    ("lqr", "lqr_2_1"), ("lqr", "lqr_6_2"),
    ("manipulator", "bring_ball"), ("manipulator", "bring_peg"), ("manipulator", "insert_ball"), ("manipulator", "insert_peg"),
    ("pendulum", "swingup"), ("point_mass", "easy"), ("point_mass", "hard"),
    ("quadruped", "walk"), ("quadruped", "run"), ("quadruped", "escape"), ("quadruped", "fetch"),
    ("reacher", "easy"), ("reacher", "hard"), ("stacker", "stack_2"), ("stacker", "stack_4"),
    ("swimmer", "swimmer6"), ("swimmer", "swimmer15"), ("walker", "stand"), ("walker", "walk"), ("walker", "run"),
)  # fmt: skip


def configure_headless_rendering() -> None:
    """
    Use EGL for MuJoCo rendering when no display is configured; a user's own ``MUJOCO_GL`` always wins.

    Must run before dm_control is imported: it picks its OpenGL backend at import time.
    """
    if "MUJOCO_GL" not in os.environ and sys.platform.startswith("linux") and not os.environ.get("DISPLAY"):
        os.environ["MUJOCO_GL"] = "egl"


def default_camera(domain: str) -> int:
    """
    :param domain: DMC domain name.
    :return: The camera usual in pixel-based DMC work: 2 for quadruped, 0 otherwise.
    """
    return 2 if domain == "quadruped" else 0


def parse_task(task: str) -> tuple[str, str]:
    """
    :param task: ``"<domain>-<task>"``, e.g. ``"cheetah-run"`` or ``"ball_in_cup-catch"``.
    :return: ``(domain, task)``; a ``ValueError`` naming close matches if it is not a suite task.
    """
    domain, _, task_name = task.partition("-")
    if (domain, task_name) not in DMC_TASKS:
        names = [f"{d}-{t}" for d, t in DMC_TASKS]
        close = difflib.get_close_matches(task, names, n=3)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(
            f"Unknown DMC task {task!r}: expected '<domain>-<task>' from dm_control.suite.ALL_TASKS, "
            f"e.g. 'cheetah-run' or 'ball_in_cup-catch'.{hint}"
        )
    return domain, task_name


class ActionRepeat(gym.Wrapper):
    """
    Repeat each action ``repeat`` times and return the summed reward.

    The repeat stops early when the episode ends inside it (e.g. the 1000-step limit is not a multiple
    of ``repeat``): the reward of the steps actually taken is returned with the end flags.

    :param env: Environment to wrap.
    :param repeat: Number of environment steps per agent step (>= 1).
    """

    def __init__(self, env: gym.Env, repeat: int) -> None:
        super().__init__(env)
        self.repeat = repeat

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        total_reward = 0.0
        for _ in range(self.repeat):
            obs, reward, terminated, truncated, info = self.env.step(action)
            total_reward += float(reward)
            if terminated or truncated:
                break
        return obs, total_reward, terminated, truncated, info


class PixelObservation(gym.ObservationWrapper):
    """
    Replace the observation with a channel-first uint8 camera image rendered by MuJoCo.

    It renders through the physics directly, so ``env.render()`` stays free for videos at another size.

    :param env: A Shimmy dm_control environment (possibly wrapped).
    :param image_size: Height and width of the image.
    :param camera_id: MuJoCo camera to render from.
    """

    def __init__(self, env: gym.Env, image_size: int, camera_id: int) -> None:
        super().__init__(env)
        self.image_size, self.camera_id = image_size, camera_id
        self.observation_space = spaces.Box(0, 255, (3, image_size, image_size), np.uint8)

    def observation(self, observation: Any) -> np.ndarray:
        physics = self.env.unwrapped._env.physics  # type: ignore[attr-defined]
        image = physics.render(height=self.image_size, width=self.image_size, camera_id=self.camera_id)
        return np.ascontiguousarray(image.transpose(2, 0, 1))


class Float32Actions(gym.ActionWrapper):
    """
    Expose a float32 action space; the wrapped dm_control env receives float64.

    :param env: Environment with a float64 ``Box`` action space.
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        space = env.action_space
        self.action_space = spaces.Box(space.low.astype(np.float32), space.high.astype(np.float32), dtype=np.float32)  # type: ignore[attr-defined]

    def action(self, action: np.ndarray) -> np.ndarray:
        return np.asarray(action, dtype=np.float64)


def _as_float32(observation: np.ndarray) -> np.ndarray:
    return observation.astype(np.float32)


def make_dmc_env(
    task: str = "cheetah-run",
    from_pixels: bool = False,
    action_repeat: int = 1,
    frame_stack: int = 1,
    image_size: int = 84,
    camera_id: int | None = None,
    seed: int | None = None,
    render_mode: str | None = None,
    render_size: int = 256,
    task_kwargs: dict[str, Any] | None = None,
    environment_kwargs: dict[str, Any] | None = None,
) -> gym.Env:
    """
    Build a DeepMind Control Suite task as a Gymnasium env made right for SAC.

    :param task: ``"<domain>-<task>"`` from ``dm_control.suite.ALL_TASKS``, e.g. ``"cheetah-run"``.
    :param from_pixels: Observe ``image_size`` x ``image_size`` RGB images (uint8, channel-first)
        instead of the flattened state.
    :param action_repeat: Environment steps per agent step; rewards are summed over them.
    :param frame_stack: Number of consecutive observations stacked (along channels for pixels).
    :param image_size: Pixel observation height and width.
    :param camera_id: Camera for pixel observations and ``render()``; default 2 for quadruped, else 0.
    :param seed: Seed of the task's random state (``reset(seed=...)`` reseeds it too).
    :param render_mode: ``"rgb_array"`` for ``render()`` frames (videos), or None.
    :param render_size: Height and width of ``render()`` frames.
    :param task_kwargs: Extra ``task_kwargs`` for ``dm_control.suite.load`` (e.g. ``time_limit``).
    :param environment_kwargs: Extra ``environment_kwargs`` for ``dm_control.suite.load``.
    :return: The wrapped environment. State variant: ``Box(float32)`` observations, the observation
        Dict flattened in alphabetical key order (0-d entries as one value).
    """
    domain, task_name = parse_task(task)
    for name, value in (("action_repeat", action_repeat), ("frame_stack", frame_stack), ("image_size", image_size)):
        check_int(name, value, "an integer >= 1")
    if render_mode not in (None, "rgb_array"):
        raise ValueError(f"render_mode={render_mode!r} is not supported: use None or 'rgb_array'.")

    configure_headless_rendering()  # before dm_control's first import: it picks its OpenGL backend then
    try:
        from dm_control import suite
        from shimmy.dm_control_compatibility import DmControlCompatibilityV0
    except ImportError as error:
        raise ImportError(f"DMC environments need the 'dmc' extra: pip install 'sb3_softac[dmc]' ({error})") from error

    camera = default_camera(domain) if camera_id is None else camera_id
    task_kwargs = {**(task_kwargs or {}), **({"random": seed} if seed is not None else {})}
    dm_env = suite.load(domain, task_name, task_kwargs=task_kwargs, environment_kwargs=environment_kwargs or {})
    env: gym.Env = DmControlCompatibilityV0(
        dm_env, render_mode=render_mode, render_kwargs=dict(height=render_size, width=render_size, camera_id=camera)
    )
    env = Float32Actions(env)
    if not (np.all(env.action_space.low == -1) and np.all(env.action_space.high == 1)):  # type: ignore[attr-defined]
        env = gym.wrappers.RescaleAction(env, min_action=np.float32(-1.0), max_action=np.float32(1.0))
    env = gym.wrappers.TransformReward(env, float)  # dm_control returns the int 0 or a numpy float
    if action_repeat > 1:
        env = ActionRepeat(env, action_repeat)
    if from_pixels:
        env = PixelObservation(env, image_size, camera)
    else:
        env = gym.wrappers.FlattenObservation(env)
        flat_space: spaces.Box = env.observation_space  # type: ignore[assignment]
        float32_space = spaces.Box(flat_space.low.astype(np.float32), flat_space.high.astype(np.float32), dtype=np.float32)
        env = gym.wrappers.TransformObservation(env, _as_float32, float32_space)
    if frame_stack > 1:
        stacked_shape = (frame_stack * env.observation_space.shape[0], *env.observation_space.shape[1:])  # type: ignore[index]
        env = gym.wrappers.FrameStackObservation(env, frame_stack)
        env = gym.wrappers.ReshapeObservation(env, stacked_shape)
    return env


def dmc_env_id(domain: str, task: str, from_pixels: bool = False) -> str:
    """
    :param domain: DMC domain, e.g. ``"cheetah"``.
    :param task: DMC task, e.g. ``"run"``.
    :param from_pixels: The pixel variant's id.
    :return: The Gymnasium id, e.g. ``"dmc-cheetah-run-v0"`` or ``"dmc-cheetah-run-pixels-v0"``.
    """
    return f"dmc-{domain}-{task}-pixels-v0" if from_pixels else f"dmc-{domain}-{task}-v0"


def register_dmc_envs() -> None:
    """Register the state and pixel variant of every suite task with Gymnasium (idempotent, no dm_control import)."""
    for domain, task in DMC_TASKS:
        for from_pixels in (False, True):
            env_id = dmc_env_id(domain, task, from_pixels)
            if env_id not in gym.registry:
                gym.register(
                    env_id,
                    entry_point="sb3_softac.integrations.dmc:make_dmc_env",
                    kwargs=dict(task=f"{domain}-{task}", from_pixels=from_pixels),
                    disable_env_checker=True,
                )
