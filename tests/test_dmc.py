"""DeepMind Control Suite envs through Shimmy: spaces, time limits, action repeat, pixels, seeding, SoftAC on top."""

import os
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
from dm_control import suite
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from sb3_softac import SoftAC
from sb3_softac.integrations.dmc import DMC_TASKS, dmc_env_id, make_dmc_env

BENCHMARKING = [f"{domain}-{task}" for domain, task in suite.BENCHMARKING]


def test_task_list_matches_installed_suite():
    assert tuple(suite.ALL_TASKS) == DMC_TASKS


def test_every_task_is_registered_in_both_variants():
    for domain, task in suite.ALL_TASKS:
        for from_pixels in (False, True):
            spec = gym.spec(dmc_env_id(domain, task, from_pixels))
            assert spec.kwargs == dict(task=f"{domain}-{task}", from_pixels=from_pixels)


@pytest.mark.parametrize("task", BENCHMARKING)
def test_state_variant_passes_env_checkers(task):
    env = gym.make(f"dmc-{task}-v0")
    assert isinstance(env.observation_space, gym.spaces.Box) and env.observation_space.dtype == np.float32
    assert len(env.observation_space.shape) == 1
    assert env.action_space.dtype == np.float32
    assert np.all(env.action_space.low == -1) and np.all(env.action_space.high == 1)
    gym_check_env(env, skip_render_check=True)
    sb3_check_env(make_dmc_env(task), warn=True)
    obs, _ = env.reset(seed=0)
    obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
    assert obs.dtype == np.float32 and type(reward) is float and terminated is False and truncated is False


def test_flattened_observation_order_includes_scalars():
    """Alphabetical key order, 0-d entries as one value: walker = height(1), orientations(14), velocity(9)."""
    env = make_dmc_env("walker-walk", seed=0)
    obs, _ = env.reset(seed=0)
    physics = env.unwrapped._env.physics
    assert obs.shape == (24,)
    assert obs[0] == np.float32(physics.torso_height())
    np.testing.assert_array_equal(obs[1:15], physics.orientations().astype(np.float32))
    np.testing.assert_array_equal(obs[15:], physics.velocity().astype(np.float32))


@pytest.mark.parametrize(
    "task, kwargs",
    [
        ("cheetah-run", {}),
        ("quadruped-walk", {}),
        ("cartpole-swingup", dict(frame_stack=3)),
        ("reacher-easy", dict(image_size=64)),
    ],
)
def test_pixel_variant_passes_env_checkers(task, kwargs):
    env = make_dmc_env(task, from_pixels=True, **kwargs)
    size = kwargs.get("image_size", 84)
    assert env.observation_space == gym.spaces.Box(0, 255, (3 * kwargs.get("frame_stack", 1), size, size), np.uint8)
    gym_check_env(env, skip_render_check=True)
    sb3_check_env(make_dmc_env(task, from_pixels=True, **kwargs), warn=True)
    obs, _ = env.reset(seed=0)
    assert obs.dtype == np.uint8 and obs.std() > 0, "a real image, not a blank frame"


def test_pixel_camera_defaults():
    assert make_dmc_env("quadruped-walk", from_pixels=True).get_wrapper_attr("camera_id") == 2
    assert make_dmc_env("cheetah-run", from_pixels=True).get_wrapper_attr("camera_id") == 0
    assert make_dmc_env("cheetah-run", from_pixels=True, camera_id=1).get_wrapper_attr("camera_id") == 1


@pytest.mark.parametrize("from_pixels", [False, True])
def test_render_mode_rgb_array(from_pixels):
    env = gym.make(dmc_env_id("cheetah", "run", from_pixels), render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (256, 256, 3) and frame.dtype == np.uint8 and frame.std() > 0


def rollout(env: gym.Env, actions: np.ndarray, seed: int) -> tuple[list[np.ndarray], list[float], list[tuple[bool, bool]]]:
    obs, _ = env.reset(seed=seed)
    observations, rewards, flags = [obs], [], []
    for action in actions:
        obs, reward, terminated, truncated, _ = env.step(action)
        observations.append(obs)
        rewards.append(reward)
        flags.append((terminated, truncated))
        if terminated or truncated:
            break
    return observations, rewards, flags


def test_default_episode_is_1000_steps_truncated():
    env = gym.make("dmc-cartpole-balance-v0")
    actions = np.zeros((1005, 1), dtype=np.float32)
    _, rewards, flags = rollout(env, actions, seed=0)
    assert len(rewards) == 1000
    assert flags[-1] == (False, True) and all(f == (False, False) for f in flags[:-1])


@pytest.mark.parametrize("repeat", [1, 2, 3, 4, 7])
def test_action_repeat_sums_rewards_and_truncates_on_the_right_step(repeat):
    """100 env steps (time_limit=1 s at 0.01 s): ceil(100 / k) agent steps, each reward the sum of its env steps."""
    task_kwargs = dict(time_limit=1.0)
    rng = np.random.default_rng(0)
    agent_actions = rng.uniform(-1, 1, (200, 6)).astype(np.float32)
    _, rewards, flags = rollout(
        make_dmc_env("cheetah-run", action_repeat=repeat, task_kwargs=task_kwargs), agent_actions, seed=5
    )
    expected_steps = -(-100 // repeat)
    assert len(rewards) == expected_steps
    assert flags[-1] == (False, True) and all(f == (False, False) for f in flags[:-1])

    raw_actions = np.repeat(agent_actions[:expected_steps], repeat, axis=0)[:100]
    _raw_observations, raw_rewards, _ = rollout(make_dmc_env("cheetah-run", task_kwargs=task_kwargs), raw_actions, seed=5)
    assert len(raw_rewards) == 100
    summed = [sum(raw_rewards[i : i + repeat]) for i in range(0, 100, repeat)]
    np.testing.assert_allclose(rewards, summed, rtol=1e-12)
    last_partial = 100 - (expected_steps - 1) * repeat
    assert 1 <= last_partial <= repeat
    np.testing.assert_allclose(rewards[-1], sum(raw_rewards[-last_partial:]), rtol=1e-12)


def test_sb3_sees_truncation_not_termination():
    from stable_baselines3.common.env_util import make_vec_env

    env = make_vec_env(lambda: make_dmc_env("cartpole-balance", action_repeat=8), n_envs=1)
    env.reset()
    for _ in range(125):
        _, _, dones, infos = env.step(np.zeros((1, 1), dtype=np.float32))
    assert dones[0] and infos[0]["TimeLimit.truncated"] is True


@pytest.mark.parametrize("from_pixels", [False, True])
def test_seeding_is_reproducible(from_pixels):
    actions = np.random.default_rng(1).uniform(-1, 1, (20, 6)).astype(np.float32)
    env = make_dmc_env("cheetah-run", from_pixels=from_pixels)
    first = rollout(env, actions, seed=11)
    second = rollout(env, actions, seed=11)
    again = rollout(make_dmc_env("cheetah-run", from_pixels=from_pixels), actions, seed=11)
    other = rollout(env, actions, seed=12)
    for a, b, c in zip(first[0], second[0], again[0]):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    assert first[1] == second[1] == again[1]
    assert not np.array_equal(first[0][0], other[0][0])


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"Unknown DMC task 'cheetah-walk'.*'cheetah-run'"):
        make_dmc_env("cheetah-walk")
    with pytest.raises(ValueError, match="action_repeat=0 is invalid"):
        make_dmc_env("cheetah-run", action_repeat=0)
    with pytest.raises(ValueError, match="render_mode='human' is not supported"):
        make_dmc_env("cheetah-run", render_mode="human")


def test_replay_buffer_dtypes_and_bytes_per_transition():
    state = SoftAC("MlpPolicy", "dmc-walker-walk-v0", buffer_size=100, seed=0)
    pixels = SoftAC("CnnPolicy", "dmc-walker-walk-pixels-v0", buffer_size=100, seed=0, policy_kwargs=dict(net_arch=[16]))
    assert state.replay_buffer.observations.dtype == np.float32
    assert pixels.replay_buffer.observations.dtype == np.uint8

    def bytes_per_transition(buffer) -> float:
        arrays = [buffer.observations, buffer.next_observations, buffer.actions, buffer.rewards, buffer.dones, buffer.timeouts]
        return sum(a.nbytes for a in arrays) / buffer.buffer_size

    # obs + next_obs (24 float32 each), 6 float32 actions, reward, done, timeout (float32)
    assert bytes_per_transition(state.replay_buffer) == 2 * 24 * 4 + 6 * 4 + 3 * 4 == 228
    assert bytes_per_transition(pixels.replay_buffer) == 2 * 3 * 84 * 84 + 6 * 4 + 3 * 4 == 42_372


def test_cnn_policy_on_pixels_end_to_end():
    env = make_dmc_env("cartpole-swingup", from_pixels=True, action_repeat=8, frame_stack=2, image_size=64)
    model = SoftAC(
        "CnnPolicy", env, buffer_size=300, learning_starts=50, batch_size=16, seed=0, policy_kwargs=dict(net_arch=[32])
    )
    model.learn(120)
    assert model._n_updates > 0
    obs, _ = env.reset(seed=0)
    action, _ = model.predict(obs, deterministic=True)
    assert action.shape == (1,) and np.all(np.abs(action) <= 1)


def test_mlp_policy_from_id():
    model = SoftAC(
        "MlpPolicy",
        "dmc-walker-walk-v0",
        buffer_size=300,
        learning_starts=50,
        batch_size=16,
        seed=0,
        policy_kwargs=dict(net_arch=[32]),
    )
    model.learn(80)
    assert model.observation_space.shape == (24,)


class UniformRandomPolicy:
    """The baseline: uniform random actions, with the predict() signature evaluate_policy expects."""

    def __init__(self, action_dim: int) -> None:
        self.rng, self.action_dim = np.random.default_rng(0), action_dim

    def predict(self, obs, state=None, episode_start=None, deterministic=False):
        return self.rng.uniform(-1, 1, (len(obs), self.action_dim)).astype(np.float32), None


@pytest.mark.slow
def test_softac_beats_random_on_cartpole_balance():
    """3,000 agent steps (action repeat 8, 24,000 env steps, ~30 s): random scores ~225, SoftAC ~830 on the same seeds."""
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.evaluation import evaluate_policy

    def eval_env():
        return make_vec_env(lambda: make_dmc_env("cartpole-balance", action_repeat=8), n_envs=1, seed=100)

    model = SoftAC(
        "MlpPolicy", make_dmc_env("cartpole-balance", action_repeat=8, seed=0), learning_rate=1e-3, learning_starts=500, seed=0
    )
    random_return, _ = evaluate_policy(UniformRandomPolicy(1), eval_env(), n_eval_episodes=3)
    model.learn(3_000)
    trained_return, _ = evaluate_policy(model, eval_env(), n_eval_episodes=3, deterministic=True)
    print(f"cartpole-balance: random {random_return:.1f}, SoftAC after 3,000 steps {trained_return:.1f}")
    assert trained_return >= 600 and trained_return >= 2 * random_return


def test_mujoco_gl_is_set_where_dm_control_is_first_imported_not_on_import():
    """``import sb3_softac`` leaves MUJOCO_GL alone; building the first DMC env sets EGL (no display)."""
    code = (
        "import os, sys, sb3_softac; assert 'MUJOCO_GL' not in os.environ and 'dm_control' not in sys.modules; "
        "sb3_softac.make_dmc_env('cartpole-balance'); print(os.environ['MUJOCO_GL'])"
    )
    env = {key: value for key, value in os.environ.items() if key not in ("MUJOCO_GL", "DISPLAY")}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "egl"
