"""The same seed on CPU gives bit-identical parameters."""

import pytest
import torch as th
from stable_baselines3.common.env_util import make_vec_env

from sb3_softac import SoftAC
from tests.conftest import fast

FAST = fast(seed=None)  # each test passes its own seed


def trained_parameters(seed: int, n_envs: int, **kwargs) -> list[th.Tensor]:
    model = SoftAC("MlpPolicy", make_vec_env("Pendulum-v1", n_envs=n_envs), seed=seed, **{**FAST, **kwargs})
    model.learn(300)
    assert model._n_resets == (1 if kwargs.get("reset_interval") else 0)
    return [*model.policy.state_dict().values(), model._entropy_coefficient()]


# Every SAC-family option on: dropout draws, Batch Renormalization statistics, the policy-delay phase, resets.
EVERY_OPTION = dict(
    policy_delay=2,
    qf_learning_rate=1e-3,
    target_networks=False,
    reset_interval=150,
    gradient_steps=2,
    policy_kwargs=dict(net_arch=[16, 16], layer_norm=True, dropout_rate=0.1, batch_renorm=True, batch_renorm_warmup=50),
)


@pytest.mark.parametrize(
    "kwargs", [dict(), dict(use_sde=True), dict(n_steps=3), EVERY_OPTION], ids=["default", "gsde", "nstep", "every-option"]
)
@pytest.mark.parametrize("n_envs", [1, 2])
def test_same_seed_same_parameters(n_envs, kwargs):
    first = trained_parameters(3, n_envs, **kwargs)
    second = trained_parameters(3, n_envs, **kwargs)
    assert all(th.equal(a, b) for a, b in zip(first, second))
    other = trained_parameters(4, n_envs, **kwargs)
    assert not all(th.equal(a, b) for a, b in zip(first, other))
