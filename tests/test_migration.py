"""SB3 SAC models continue as SoftAC: SoftAC.load, set_parameters, load_policy_weights and replay buffers."""

import io
from pathlib import Path

import numpy as np
import pytest
import torch as th
from stable_baselines3 import SAC
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.envs import FakeImageEnv
from stable_baselines3.common.logger import Logger
from stable_baselines3.sac.policies import SACPolicy

from sb3_softac import CnnPolicy, MlpPolicy, MultiInputPolicy, SoftAC
from sb3_softac.checkpoints import load_policy_weights
from sb3_softac.migration import ensemble_policy_state
from tests.conftest import fast
from tests.envs import ContinuousDictEnv

FAST = fast(policy_kwargs=None)  # SB3's default architecture, so SB3 zips convert as users have them
# SB3's update in SoftAC (tests/test_math.py::test_sb3_options_reproduce_sb3_sacs_update)
SB3_UPDATE = dict(temperature_loss="log_alpha", update_order="critic_first")

SETUPS = {
    "mlp-auto": (lambda: make_vec_env("Pendulum-v1", seed=0), "MlpPolicy", dict(policy_kwargs=dict(net_arch=[16, 16]))),
    "mlp-fixed-alpha": (
        lambda: make_vec_env("Pendulum-v1", seed=0),
        "MlpPolicy",
        dict(ent_coef=0.1, policy_kwargs=dict(net_arch=[16])),
    ),
    "mlp-3-critics-gsde": (
        lambda: make_vec_env("Pendulum-v1", seed=0),
        "MlpPolicy",
        dict(use_sde=True, policy_kwargs=dict(net_arch=dict(pi=[16], qf=[8, 8]), n_critics=3)),
    ),
    "multi-input-0d": (
        lambda: make_vec_env(lambda: ContinuousDictEnv(scalar_entry=False), n_envs=2, seed=0),
        "MultiInputPolicy",
        dict(policy_kwargs=dict(net_arch=[16])),
    ),
    "cnn-shared-extractor": (
        lambda: make_vec_env(
            lambda: FakeImageEnv(action_dim=2, screen_height=36, screen_width=36, n_channels=1, discrete=False), seed=0
        ),
        "CnnPolicy",
        dict(
            buffer_size=200,
            policy_kwargs=dict(net_arch=[16], share_features_extractor=True, features_extractor_kwargs=dict(features_dim=16)),
        ),
    ),
}
SOFTAC_POLICY = {"MlpPolicy": MlpPolicy, "MultiInputPolicy": MultiInputPolicy, "CnnPolicy": CnnPolicy}


def trained_sac(name: str, tmp_path: Path) -> tuple[SAC, Path]:
    make_env, policy, kwargs = SETUPS[name]
    sac = SAC(policy, make_env(), **{**FAST, **kwargs})
    sac.learn(120)
    sac.save(tmp_path / "sac.zip")
    return sac, tmp_path / "sac.zip"


def observations(model) -> object:
    model.env.seed(3)
    return model.env.reset()


@pytest.mark.parametrize("name", list(SETUPS))
def test_loaded_sb3_model_acts_as_sb3s(name, tmp_path, capsys):
    sac, path = trained_sac(name, tmp_path)
    model = SoftAC.load(path, env=sac.get_env())
    assert f"Loading the SB3 SAC model {path} as SoftAC" in capsys.readouterr().out
    assert type(model.policy) is SOFTAC_POLICY[SETUPS[name][1]]
    for attribute in (
        "learning_rate",
        "gamma",
        "tau",
        "batch_size",
        "buffer_size",
        "ent_coef",
        "target_entropy",
        "num_timesteps",
        "_n_updates",
        "use_sde",
    ):
        assert getattr(model, attribute) == getattr(sac, attribute), attribute
    assert (model.temperature_loss, model.update_order) == ("log_alpha", "joint"), "SoftAC's own options take their defaults"
    assert not hasattr(model, "batch_norm_stats")
    obs = observations(model)
    assert np.array_equal(model.predict(obs, deterministic=True)[0], sac.predict(obs, deterministic=True)[0])
    stochastic = []
    for algo in (model, sac):
        th.manual_seed(1)
        if algo.use_sde:
            algo.policy.reset_noise(algo.n_envs)
        th.manual_seed(2)
        stochastic.append(algo.predict(obs)[0])
    assert np.array_equal(*stochastic), "stochastic actions from the same random stream"
    if sac.ent_coef_optimizer is not None:
        assert th.equal(model.log_ent_coef, sac.log_ent_coef)
        assert model.ent_coef_optimizer.param_groups[0]["params"][0] is model.log_ent_coef
    else:
        assert th.equal(model.ent_coef_tensor, sac.ent_coef_tensor)
    assert model.critic.optimizer.param_groups[0]["fused"] is True, "SoftAC's own Adam settings are kept"


def shared_batch_step(model, seed: int = 7) -> None:
    th.manual_seed(seed)
    np.random.seed(seed)  # replay sampling draws from numpy's global generator
    model.train(gradient_steps=1, batch_size=32)


@pytest.mark.parametrize("name", ["mlp-auto", "mlp-3-critics-gsde", "multi-input-0d"])
def test_one_more_update_with_sb3s_update_gives_sb3s_parameters(name, tmp_path):
    """From the converted zip, SoftAC's SB3-equivalent update continues exactly as SB3's SAC does (1e-6)."""
    sac, path = trained_sac(name, tmp_path)
    sac.save_replay_buffer(tmp_path / "buffer.pkl")
    model = SoftAC.load(path, env=sac.get_env(), **SB3_UPDATE)
    model.policy.log_prob_epsilon = model.actor.log_prob_epsilon = 1e-6  # SB3's epsilon in log pi
    model.load_replay_buffer(tmp_path / "buffer.pkl")
    model.set_logger(Logger(folder=None, output_formats=[]))
    for algo in (sac, model):
        if algo.use_sde:
            th.manual_seed(3)
            algo.policy.reset_noise()
        shared_batch_step(algo)
    ours, theirs = model.policy.state_dict(), ensemble_policy_state(sac.policy.state_dict())
    differences = [(ours[key] - theirs[key]).abs().max().item() for key in ours]
    assert max(differences) < 1e-6, max(differences)
    if sac.ent_coef_optimizer is not None:
        assert (model.log_ent_coef - sac.log_ent_coef).abs().item() < 1e-6
    # Adam's moments were carried over: the step moved the parameters by SB3's amount, not a first step's
    moved = [
        (ours[key] - before).abs().max().item()
        for key, before in ensemble_policy_state(SAC.load(path).policy.state_dict()).items()
    ]
    assert max(moved) > 0.0


def test_sb3_replay_buffer_loads_into_softac(tmp_path):
    sac, path = trained_sac("multi-input-0d", tmp_path)
    buffer = io.BytesIO()
    sac.save_replay_buffer(buffer)
    buffer.seek(0)
    model = SoftAC.load(path, env=sac.get_env())
    model.load_replay_buffer(buffer)
    np.random.seed(0)
    ours = model.replay_buffer.sample(16)
    np.random.seed(0)
    theirs = sac.replay_buffer.sample(16)
    for key in theirs.observations:
        assert th.equal(ours.observations[key], theirs.observations[key])
    assert th.equal(ours.actions, theirs.actions) and th.equal(ours.rewards, theirs.rewards)
    model.learn(30, reset_num_timesteps=False)


def test_continued_sb3_model_saves_and_reloads_as_softac(tmp_path):
    sac, path = trained_sac("mlp-auto", tmp_path)
    model = SoftAC.load(path, env=sac.get_env())
    model.learn(60, reset_num_timesteps=False)
    assert model.num_timesteps == 180
    model.save(tmp_path / "softac.zip")
    reloaded = SoftAC.load(tmp_path / "softac.zip")
    for ours, theirs in zip(model.policy.state_dict().values(), reloaded.policy.state_dict().values()):
        assert th.equal(ours, theirs)


def test_set_parameters_and_weights_only_load_take_sb3_zips(tmp_path):
    sac, path = trained_sac("mlp-auto", tmp_path)
    obs = np.random.default_rng(0).uniform(-1, 1, (8, 3)).astype(np.float32)
    expected = sac.predict(obs, deterministic=True)[0]
    for load in (lambda model: model.set_parameters(str(path)), lambda model: load_policy_weights(model, path)):
        model = SoftAC("MlpPolicy", "Pendulum-v1", **{**FAST, "seed": 5}, policy_kwargs=dict(net_arch=[16, 16]))
        load(model)
        assert np.array_equal(model.predict(obs, deterministic=True)[0], expected)
        for ours, theirs in zip(model.critic_target.parameters(), SoftAC.load(path).critic_target.parameters()):
            assert th.equal(ours, theirs)


def test_sb3_model_with_a_custom_policy_class_is_refused_clearly(tmp_path):
    class MyPolicy(SACPolicy):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)

    SAC(MyPolicy, "Pendulum-v1", **FAST).save(tmp_path / "custom.zip")
    with pytest.raises(
        ValueError, match=r"SB3 SAC model with the custom policy class .*MyPolicy.*Load it with SB3's SAC.load"
    ):
        SoftAC.load(tmp_path / "custom.zip")
