"""The same seed on CPU gives bit-identical parameters."""

import pytest
import torch as th
from stable_baselines3.common.env_util import make_vec_env

from sb3_softac import SoftAC
from tests.conftest import fast

FAST = fast(seed=None)  # each test passes its own seed


def trained_parameters(seed: int, n_envs: int, **kwargs) -> list[th.Tensor]:
    model = SoftAC("MlpPolicy", make_vec_env("Pendulum-v1", n_envs=n_envs), seed=seed, **FAST, **kwargs)
    model.learn(300)
    return [*model.policy.state_dict().values(), model._entropy_coefficient()]


@pytest.mark.parametrize("n_envs", [1, 2])
@pytest.mark.parametrize("kwargs", [dict(), dict(use_sde=True), dict(n_steps=3)], ids=["default", "gsde", "nstep"])
def test_same_seed_same_parameters(n_envs, kwargs):
    first = trained_parameters(3, n_envs, **kwargs)
    second = trained_parameters(3, n_envs, **kwargs)
    assert all(th.equal(a, b) for a, b in zip(first, second))
    other = trained_parameters(4, n_envs, **kwargs)
    assert not all(th.equal(a, b) for a, b in zip(first, other))
