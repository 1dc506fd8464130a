"""Bad input raises ValueError at construction, naming the value and what is accepted."""

import re

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

from sb3_softac import SoftAC


class ActionSpaceEnv(gym.Env):
    """Pendulum-like observations with an arbitrary action space."""

    def __init__(self, action_space: spaces.Space) -> None:
        self.observation_space = spaces.Box(-1.0, 1.0, (3,), np.float32)
        self.action_space = action_space

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(3, dtype=np.float32), {}

    def step(self, action):
        return np.zeros(3, dtype=np.float32), 0.0, False, False, {}


@pytest.mark.parametrize(
    "action_space, message",
    [
        (spaces.Discrete(3), "Box action space, got Discrete(3)"),
        (spaces.MultiDiscrete([2, 3]), "Box action space, got MultiDiscrete([2 3])"),
        (spaces.MultiBinary(4), "Box action space, got MultiBinary(4)"),
        (spaces.Box(-np.inf, np.inf, (2,), np.float32), "finite action bounds"),
    ],
)
def test_unsupported_action_spaces(action_space, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        SoftAC("MlpPolicy", ActionSpaceEnv(action_space))
    with pytest.raises(ValueError, match="SoftAC needs"):
        SoftAC("MlpPolicy", ActionSpaceEnv(action_space), _init_setup_model=False)


def test_env_id_is_checked_too():
    with pytest.raises(ValueError, match=re.escape("got Discrete(2)")):
        SoftAC("MlpPolicy", "CartPole-v1")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(ent_coef="auto_x"), "ent_coef='auto_x' is malformed"),
        (dict(ent_coef="auto_-0.1"), "ent_coef='auto_-0.1' is malformed"),
        (dict(ent_coef="auto_0"), "ent_coef='auto_0' is malformed"),
        (dict(ent_coef="auto_"), "ent_coef='auto_' is malformed"),
        (dict(ent_coef="automatic"), "ent_coef='automatic' is not understood"),
        (dict(ent_coef="0.1"), "ent_coef='0.1' is not understood"),
        (dict(ent_coef=0.0), "ent_coef=0.0 is invalid"),
        (dict(ent_coef=-0.2), "ent_coef=-0.2 is invalid"),
        (dict(ent_coef=float("nan")), "ent_coef=nan is invalid"),
        (dict(ent_coef=True), "ent_coef=True is invalid"),
        (dict(tau=0.0), "tau=0.0 is invalid"),
        (dict(tau=1.5), "tau=1.5 is invalid"),
        (dict(tau=-0.1), "tau=-0.1 is invalid"),
        (dict(gamma=1.01), "gamma=1.01 is invalid"),
        (dict(gamma=-0.5), "gamma=-0.5 is invalid"),
        (dict(policy_kwargs=dict(n_critics=0)), "n_critics=0 is invalid"),
        (dict(policy_kwargs=dict(n_critics=-2)), "n_critics=-2 is invalid"),
        (dict(policy_kwargs=dict(n_critics=1.5)), "n_critics=1.5 is invalid"),
        (dict(target_entropy="high"), "target_entropy='high' is invalid"),
        (dict(target_entropy=None), "target_entropy=None is invalid"),
        (dict(target_entropy=[1.0]), "target_entropy=[1.0] is invalid"),
        (dict(target_entropy=float("inf")), "target_entropy=inf is invalid"),
        (dict(target_update_interval=0), "target_update_interval=0 is invalid"),
        (dict(policy_kwargs=dict(log_std_bounds=(2.0, -5.0))), "log_std_bounds=(2.0, -5.0) is invalid"),
        (dict(policy_kwargs=dict(log_std_bounds=(-5.0, float("inf")))), "log_std_bounds=(-5.0, inf) is invalid"),
        (dict(policy_kwargs=dict(log_std_bounds=-5.0)), "log_std_bounds=-5.0 is invalid"),
        (dict(policy_kwargs=dict(log_std_bounds=(-5.0, 0.0, 2.0))), "log_std_bounds=(-5.0, 0.0, 2.0) is invalid"),
        (dict(policy_kwargs=dict(log_prob_epsilon=-1e-6)), "log_prob_epsilon=-1e-06 is invalid"),
        (dict(policy_kwargs=dict(log_prob_epsilon="1e-6")), "log_prob_epsilon='1e-6' is invalid"),
    ],
)
def test_bad_hyperparameters(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)) as error:
        SoftAC("MlpPolicy", "Pendulum-v1", **kwargs)
    # Every message also says what is accepted.
    assert re.search(r"Accepted|must|needs", str(error.value))


def test_ent_coef_message_lists_accepted_forms():
    with pytest.raises(ValueError) as error:
        SoftAC("MlpPolicy", "Pendulum-v1", ent_coef="auto_x")
    assert "'auto'" in str(error.value) and "'auto_0.1'" in str(error.value) and "positive float" in str(error.value)


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        (dict(ent_coef="auto"), 1.0),
        (dict(ent_coef="auto_0.1"), 0.1),
        (dict(ent_coef="auto_1e-2"), 0.01),
        (dict(ent_coef=0.2), 0.2),
        (dict(ent_coef=1), 1.0),
        (dict(ent_coef=np.float32(0.5)), 0.5),
    ],
)
def test_accepted_ent_coef(kwargs, expected):
    model = SoftAC("MlpPolicy", "Pendulum-v1", **kwargs)
    assert model._entropy_coefficient().item() == pytest.approx(expected)


@pytest.mark.parametrize("target_entropy, expected", [("auto", -1.0), (-3, -3.0), (0.5, 0.5), (np.float64(-2.0), -2.0)])
def test_accepted_target_entropy(target_entropy, expected):
    model = SoftAC("MlpPolicy", "Pendulum-v1", target_entropy=target_entropy)
    assert isinstance(model.target_entropy, float) and model.target_entropy == expected


def test_auto_target_entropy_is_minus_action_dim():
    env = ActionSpaceEnv(spaces.Box(-1.0, 1.0, (6,), np.float32))
    assert SoftAC("MlpPolicy", env).target_entropy == -6.0
