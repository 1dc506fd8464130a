"""Bad input raises at construction, naming the value and what is accepted, side by side with SB3's SAC.

Where SB3's SAC raises (at construction or at its first update), SoftAC's error is also an instance of
SB3's exception type; inputs SB3 accepts, SoftAC accepts (with SB3's reading of them), except the few
documented ones that SB3 accepts silently but cannot train with.
"""

import re
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from stable_baselines3 import SAC

from sb3_softac import SoftAC
from sb3_softac.validation import AssertionValueError, SoftACValueError, TypeValueError, ZeroDivisionValueError
from tests.conftest import fast

FAST = fast(learning_starts=10, buffer_size=100, batch_size=8, policy_kwargs=dict(net_arch=[8]))


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


def sb3_error(env, kwargs) -> Exception | None:
    """What SB3's SAC raises for these arguments, at construction or in its first updates (None: nothing)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            SAC("MlpPolicy", env, **{**FAST, **kwargs}).learn(15)
    except Exception as error:
        return error
    return None


@pytest.mark.parametrize(
    "action_space, message",
    [
        (spaces.Discrete(3), "Box action space, got Discrete(3)"),
        (spaces.MultiDiscrete([2, 3]), "Box action space, got MultiDiscrete([2 3])"),
        (spaces.MultiBinary(4), "Box action space, got MultiBinary(4)"),
        (spaces.Box(-np.inf, np.inf, (2,), np.float32), "finite action bounds"),
    ],
)
def test_unsupported_action_spaces_raise_sb3s_assertion_too(action_space, message):
    theirs = sb3_error(ActionSpaceEnv(action_space), {})
    assert isinstance(theirs, AssertionError)
    for init in (True, False):
        with pytest.raises(AssertionValueError, match=re.escape(message)) as error:
            SoftAC("MlpPolicy", ActionSpaceEnv(action_space), _init_setup_model=init)
        assert isinstance(error.value, ValueError) and isinstance(error.value, AssertionError)
    try:  # code written against SB3 catches ours
        SoftAC("MlpPolicy", ActionSpaceEnv(action_space))
    except AssertionError:
        pass


def test_env_id_is_checked_too():
    with pytest.raises(AssertionError, match=re.escape("got Discrete(2)")):
        SoftAC("MlpPolicy", "CartPole-v1")


# Inputs SB3's SAC rejects too (at construction or at its first update): SoftAC's error is an instance of SB3's type.
REJECTED_BY_BOTH = [
    (dict(ent_coef="auto_x"), "ent_coef='auto_x' is malformed", ValueError),
    (dict(ent_coef="auto_"), "ent_coef='auto_' is malformed", ValueError),
    (dict(ent_coef="auto_-0.1"), "ent_coef='auto_-0.1' is invalid", AssertionError),
    (dict(ent_coef="auto_0"), "ent_coef='auto_0' is invalid", AssertionError),
    (dict(ent_coef="auto_nan"), "ent_coef='auto_nan' is invalid", AssertionError),
    (dict(ent_coef="auto_inf"), "ent_coef='auto_inf' is invalid", ValueError),  # SB3: NaN actions at the first update
    (dict(ent_coef="abc"), "ent_coef='abc' is invalid", ValueError),
    (dict(ent_coef=float("nan")), "ent_coef=nan is invalid", ValueError),  # SB3: NaN actions at the first update
    (dict(ent_coef=None), "ent_coef=None is invalid", TypeError),
    (dict(ent_coef=[0.1]), "ent_coef=[0.1] is invalid", TypeError),
    (dict(target_entropy="high"), "target_entropy='high' is invalid", ValueError),
    (dict(target_entropy=None), "target_entropy=None is invalid", TypeError),
    (dict(target_entropy=[1.0]), "target_entropy=[1.0] is invalid", TypeError),
    (dict(target_entropy=float("inf")), "target_entropy=inf is invalid", ValueError),  # SB3: NaN actions
    (dict(target_update_interval=0), "target_update_interval=0 is invalid", ZeroDivisionError),
    (dict(policy_kwargs=dict(net_arch=[8], n_critics=0)), "n_critics=0 is invalid", ValueError),
    (dict(policy_kwargs=dict(net_arch=[8], n_critics=-2)), "n_critics=-2 is invalid", ValueError),
    (dict(policy_kwargs=dict(net_arch=[8], n_critics=1.5)), "n_critics=1.5 is invalid", TypeError),
]


@pytest.mark.parametrize("kwargs, message, sb3_type", REJECTED_BY_BOTH, ids=[case[1] for case in REJECTED_BY_BOTH])
def test_errors_are_instances_of_sb3s(kwargs, message, sb3_type):
    theirs = sb3_error("Pendulum-v1", kwargs)
    assert isinstance(theirs, sb3_type), f"SB3 now raises {theirs!r}"
    with pytest.raises(SoftACValueError, match=re.escape(message)) as error:
        SoftAC("MlpPolicy", "Pendulum-v1", **{**FAST, **kwargs})
    assert isinstance(error.value, type(theirs)), f"SB3 raises {type(theirs).__name__}, SoftAC {type(error.value).__mro__}"
    assert "Accepted:" in str(error.value)


def test_sb3_error_types_are_also_value_errors():
    for error_type, sb3_type in (
        (AssertionValueError, AssertionError),
        (TypeValueError, TypeError),
        (ZeroDivisionValueError, ZeroDivisionError),
    ):
        assert issubclass(error_type, ValueError) and issubclass(error_type, sb3_type)


# Inputs SB3's SAC accepts silently but cannot train sensibly with: SoftAC rejects them (the docs' differences table).
REJECTED_BY_SOFTAC_ONLY = [
    (dict(tau=1.5), "tau=1.5 is invalid"),
    (dict(tau=-0.1), "tau=-0.1 is invalid"),
    (dict(gamma=1.01), "gamma=1.01 is invalid"),
    (dict(gamma=-0.5), "gamma=-0.5 is invalid"),
    (dict(ent_coef=-0.2), "ent_coef=-0.2 is invalid"),
    (dict(ent_coef=True), "ent_coef=True is invalid"),
    (dict(target_update_interval=-1), "target_update_interval=-1 is invalid"),
    (dict(target_update_interval=1.5), "target_update_interval=1.5 is invalid"),
]


@pytest.mark.parametrize("kwargs, message", REJECTED_BY_SOFTAC_ONLY, ids=[case[1] for case in REJECTED_BY_SOFTAC_ONLY])
def test_stricter_than_sb3_where_sb3_would_train_on_nonsense(kwargs, message):
    assert sb3_error("Pendulum-v1", kwargs) is None
    with pytest.raises(SoftACValueError, match=re.escape(message)) as error:
        SoftAC("MlpPolicy", "Pendulum-v1", **{**FAST, **kwargs})
    assert "Accepted:" in str(error.value)


@pytest.mark.parametrize(
    "policy_kwargs, message",
    [
        (dict(log_std_bounds=(2.0, -5.0)), "log_std_bounds=(2.0, -5.0) is invalid"),
        (dict(log_std_bounds=(-5.0, float("inf"))), "log_std_bounds=(-5.0, inf) is invalid"),
        (dict(log_std_bounds=-5.0), "log_std_bounds=-5.0 is invalid"),
        (dict(log_std_bounds=(-5.0, 0.0, 2.0)), "log_std_bounds=(-5.0, 0.0, 2.0) is invalid"),
        (dict(log_prob_epsilon=-1e-6), "log_prob_epsilon=-1e-06 is invalid"),
        (dict(log_prob_epsilon="1e-6"), "log_prob_epsilon='1e-6' is invalid"),
    ],
)
def test_bad_softac_policy_options(policy_kwargs, message):
    with pytest.raises(SoftACValueError, match=re.escape(message)) as error:
        SoftAC("MlpPolicy", "Pendulum-v1", **{**FAST, "policy_kwargs": dict(net_arch=[8], **policy_kwargs)})
    assert "Accepted:" in str(error.value)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(temperature_loss="log"), "temperature_loss='log' is invalid. Accepted: 'log_alpha', 'alpha'."),
        (dict(temperature_loss=True), "temperature_loss=True is invalid"),
        (dict(update_order="sb3"), "update_order='sb3' is invalid. Accepted: 'joint', 'critic_first'."),
        (dict(bf16_matmuls="yes"), "bf16_matmuls='yes' is invalid. Accepted: True or False."),
        (dict(compile_update=1), "compile_update=1 is invalid"),
        (dict(cuda_graphs=None), "cuda_graphs=None is invalid"),
        (dict(check_finite="False"), "check_finite='False' is invalid"),
    ],
)
def test_bad_softac_options(kwargs, message):
    with pytest.raises(SoftACValueError, match=re.escape(message)):
        SoftAC("MlpPolicy", "Pendulum-v1", **FAST, **kwargs)


def test_options_given_to_load_are_checked(tmp_path):
    SoftAC("MlpPolicy", "Pendulum-v1", **FAST).save(tmp_path / "model")
    with pytest.raises(SoftACValueError, match="update_order='both' is invalid"):
        SoftAC.load(tmp_path / "model", update_order="both")


def test_option_names_do_not_shadow_sb3s():
    """SoftAC's options come after all of SB3's parameters, keyword-only."""
    with pytest.raises(TypeError):
        SoftAC("MlpPolicy", "Pendulum-v1", 3e-4, 100, 10, 8, 0.005, 0.99, 1, 1, None, None, None, False, 1, "auto", 1, "auto",
               False, -1, False, 100, None, None, 0, 0, "auto", True, "alpha")  # fmt: skip


# Inputs SB3's SAC accepts: SoftAC reads them as SB3 does (initial learned temperature or fixed one).
@pytest.mark.parametrize(
    "ent_coef, learned, value, warns",
    [
        ("auto", True, 1.0, False),
        ("auto_0.1", True, 0.1, False),
        ("auto_1e-2", True, 0.01, False),
        ("automatic", True, 1.0, True),
        ("auto_0.1_x", True, 0.1, True),
        (0.2, False, 0.2, False),
        (1, False, 1.0, False),
        (np.float32(0.5), False, 0.5, False),
        ("0.1", False, 0.1, False),
        (0.0, False, 0.0, False),
    ],
)
def test_accepted_ent_coef_read_as_sb3_reads_it(ent_coef, learned, value, warns):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = SoftAC("MlpPolicy", "Pendulum-v1", ent_coef=ent_coef, **FAST)
    sac = SAC("MlpPolicy", "Pendulum-v1", ent_coef=ent_coef, **FAST)
    assert (model.ent_coef_optimizer is not None) == (sac.ent_coef_optimizer is not None) == learned
    theirs = sac.log_ent_coef.exp().item() if learned else sac.ent_coef_tensor.item()
    assert model._entropy_coefficient().item() == pytest.approx(theirs) == pytest.approx(value)
    messages = [str(w.message) for w in caught if "ent_coef" in str(w.message)]
    assert bool(messages) == warns, messages
    if warns:
        assert "as SB3's SAC reads it" in messages[0]


@pytest.mark.parametrize(
    "target_entropy, expected", [("auto", -1.0), (-3, -3.0), (0.5, 0.5), (np.float64(-2.0), -2.0), ("-3", -3.0)]
)
def test_accepted_target_entropy(target_entropy, expected):
    model = SoftAC("MlpPolicy", "Pendulum-v1", target_entropy=target_entropy, **FAST)
    assert isinstance(model.target_entropy, float) and model.target_entropy == expected
    assert SAC("MlpPolicy", "Pendulum-v1", target_entropy=target_entropy, **FAST).target_entropy == expected


def test_auto_target_entropy_is_minus_action_dim():
    env = ActionSpaceEnv(spaces.Box(-1.0, 1.0, (6,), np.float32))
    assert SoftAC("MlpPolicy", env).target_entropy == -6.0
