"""Save/load round-trips: everything needed to resume, bit for bit."""

import io

import numpy as np
import pytest
import torch as th
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.logger import Logger
from torch import nn

from sb3_softac import SoftAC
from tests.conftest import FAST
from tests.envs import ContinuousDictEnv


def tensors_of(state) -> list[th.Tensor]:
    """Every tensor in a (possibly nested) optimizer/policy state, in a fixed order."""
    if isinstance(state, th.Tensor):
        return [state]
    if isinstance(state, dict):
        return [t for key in sorted(state, key=str) for t in tensors_of(state[key])]
    if isinstance(state, (list, tuple)):
        return [t for item in state for t in tensors_of(item)]
    return []


def assert_same_tensors(a, b) -> None:
    ta, tb = tensors_of(a), tensors_of(b)
    assert len(ta) == len(tb) > 0
    for x, y in zip(ta, tb):
        assert th.equal(x, y)


def full_state(model: SoftAC) -> dict:
    state = {
        "policy": model.policy.state_dict(),
        "actor_opt": model.actor.optimizer.state_dict(),
        "critic_opt": model.critic.optimizer.state_dict(),
    }
    if model.ent_coef_optimizer is not None:
        state["log_ent_coef"] = model.log_ent_coef
        state["ent_coef_opt"] = model.ent_coef_optimizer.state_dict()
    else:
        state["ent_coef_tensor"] = model.ent_coef_tensor
    return state


PYTORCH_SAC_ACTOR = dict(net_arch=[16, 16], ortho_init=True, tanh_log_std=True, log_std_bounds=(-5.0, 2.0))
# The SAC-family options (tests/test_sac_family.py), each kind once; CrossQ's warm-up ends within the run.
FAMILY = {
    "droq": dict(gradient_steps=2, policy_delay=2, policy_kwargs=dict(net_arch=[16, 16], layer_norm=True, dropout_rate=0.1)),
    "crossq": dict(
        target_networks=False, policy_delay=3, policy_kwargs=dict(net_arch=[16, 16], batch_renorm=True, batch_renorm_warmup=20)
    ),
    "sr-sac": dict(gradient_steps=2, reset_interval=120, reset_parts=["actor", "critic"], qf_learning_rate=1e-3),
}


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(),
        dict(ent_coef=0.1),
        dict(ent_coef="auto_0.3", use_sde=True),
        dict(policy_kwargs=PYTORCH_SAC_ACTOR),
        dict(policy_kwargs=dict(net_arch=[16, 16], log_prob_epsilon=1e-6)),
        *FAMILY.values(),
    ],
    ids=["auto", "fixed", "gsde", "pytorch-sac-actor", "sb3-log-prob", *FAMILY],
)
def test_save_load_is_exact(tmp_path, kwargs):
    model = SoftAC("MlpPolicy", "Pendulum-v1", **{**FAST, **kwargs})
    model.learn(200)
    model.save(tmp_path / "model.zip")
    loaded = SoftAC.load(tmp_path / "model.zip", env=make_vec_env("Pendulum-v1"))

    assert_same_tensors(full_state(model), full_state(loaded))
    assert loaded.target_entropy == model.target_entropy == -1.0
    assert loaded.num_timesteps == model.num_timesteps and loaded._n_updates == model._n_updates
    assert loaded._n_resets == model._n_resets == (1 if kwargs.get("reset_interval") else 0)
    assert loaded.actor is loaded.policy.actor and loaded.critic_target is loaded.policy.critic_target
    for option in ("tanh_log_std", "log_std_bounds", "log_prob_epsilon", "batch_renorm"):
        assert getattr(loaded.actor, option) == getattr(model.actor, option)
    for option in ("policy_delay", "qf_learning_rate", "target_networks", "reset_interval", "reset_parts"):
        assert getattr(loaded, option) == getattr(model, option)
    # The loaded temperature is the one its optimizer updates (SB3 issue #391).
    if loaded.ent_coef_optimizer is not None:
        assert loaded.ent_coef_optimizer.param_groups[0]["params"][0] is loaded.log_ent_coef

    obs = np.random.default_rng(0).uniform(-1, 1, (16, 3)).astype(np.float32)
    assert np.array_equal(model.predict(obs, deterministic=True)[0], loaded.predict(obs, deterministic=True)[0])
    if kwargs.get("use_sde"):
        for m in (model, loaded):
            th.manual_seed(3)
            m.policy.reset_noise()
    th.manual_seed(1)
    stochastic = model.predict(obs, deterministic=False)[0]
    th.manual_seed(1)
    assert np.array_equal(stochastic, loaded.predict(obs, deterministic=False)[0])


def test_options_are_saved_and_restored(tmp_path):
    """SoftAC's options are instance attributes from the constructor: saved in the zip, restored by load, and in force."""
    options = dict(
        temperature_loss="alpha",
        update_order="critic_first",
        bf16_matmuls=True,
        compile_update=False,
        cuda_graphs=False,
        check_finite=False,
    )
    model = SoftAC("MlpPolicy", "Pendulum-v1", **FAST, **options)
    model.learn(100)
    model.save(tmp_path / "model")
    model.save_replay_buffer(tmp_path / "buffer")
    loaded = SoftAC.load(tmp_path / "model", env=make_vec_env("Pendulum-v1"))
    loaded.load_replay_buffer(tmp_path / "buffer")
    assert {name: getattr(loaded, name) for name in options} == options
    assert "_steps" not in loaded.__dict__ or loaded._step_config is None, "the compiled step is rebuilt, not unpickled"
    loaded.set_logger(Logger(folder=None, output_formats=[]))
    for m in (model, loaded):
        th.manual_seed(7)
        np.random.seed(7)
        m.train(gradient_steps=2, batch_size=32)
    assert_same_tensors(full_state(model), full_state(loaded))
    defaults = SoftAC.load(tmp_path / "model", update_order="joint")
    assert defaults.update_order == "joint" and defaults.temperature_loss == "alpha", (
        "load(**kwargs) changes only what it names"
    )


@pytest.mark.parametrize("kwargs", [dict(), *FAMILY.values()], ids=["default", *FAMILY])
def test_resumed_training_is_identical(tmp_path, kwargs):
    """Saved model + replay buffer, reloaded, take exactly the same gradient steps as the original
    (with the SAC-family options: the policy-delay phase, Batch Renormalization statistics and the
    reset schedule's position are restored too; a reset falls inside the 5 steps for "sr-sac")."""
    model = SoftAC("MlpPolicy", "Pendulum-v1", **{**FAST, **kwargs})
    model.learn(300 if "reset_interval" not in kwargs else 239)
    model.save(tmp_path / "model")
    model.save_replay_buffer(tmp_path / "buffer")
    loaded = SoftAC.load(tmp_path / "model", env=make_vec_env("Pendulum-v1"))
    loaded.load_replay_buffer(tmp_path / "buffer")

    loaded.set_logger(Logger(folder=None, output_formats=[]))
    for m in (model, loaded):
        th.manual_seed(7)
        np.random.seed(7)  # replay sampling uses numpy's global generator
        m.num_timesteps += 2  # past 240 = 2 x reset_interval for "sr-sac": both reset at the same point
        m.train(gradient_steps=5, batch_size=32)
    assert_same_tensors(full_state(model), full_state(loaded))
    assert loaded._n_resets == model._n_resets


def test_replay_buffer_round_trip(tmp_path):
    env = make_vec_env(lambda: ContinuousDictEnv(scalar_entry=True), n_envs=2, seed=0)
    model = SoftAC("MultiInputPolicy", env, **FAST)
    model.learn(100)
    buffer = io.BytesIO()
    model.save_replay_buffer(buffer)
    buffer.seek(0)
    other = SoftAC("MultiInputPolicy", env, **FAST)
    other.load_replay_buffer(buffer)
    a, b = model.replay_buffer, other.replay_buffer
    assert (a.pos, a.full) == (b.pos, b.full)
    for key in a.observations:
        assert np.array_equal(a.observations[key], b.observations[key])
        assert np.array_equal(a.next_observations[key], b.next_observations[key])
    for name in ("actions", "rewards", "dones", "timeouts"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    other.learn(50, reset_num_timesteps=False)  # the loaded buffer is usable for training


def test_set_parameters_and_get_parameters():
    source = SoftAC("MlpPolicy", "Pendulum-v1", **FAST)
    source.learn(100)
    target = SoftAC("MlpPolicy", "Pendulum-v1", **{**FAST, "seed": 1})
    obs = np.zeros((4, 3), dtype=np.float32)
    assert not np.array_equal(source.predict(obs, deterministic=True)[0], target.predict(obs, deterministic=True)[0])
    target.set_parameters(source.get_parameters())
    assert np.array_equal(source.predict(obs, deterministic=True)[0], target.predict(obs, deterministic=True)[0])
    assert_same_tensors(source.critic_target.state_dict(), target.critic_target.state_dict())


def test_learn_continues_without_reset(tmp_path):
    model = SoftAC("MlpPolicy", "Pendulum-v1", **FAST)
    model.learn(200)
    model.save(tmp_path / "model")
    loaded = SoftAC.load(tmp_path / "model", env=make_vec_env("Pendulum-v1"))
    updates = loaded._n_updates
    loaded.learn(100, reset_num_timesteps=False)
    assert loaded.num_timesteps == 300
    assert loaded._n_updates == updates + 100
    loaded.learn(100)
    assert loaded.num_timesteps == 100


def test_train_eval_mode_switching():
    from stable_baselines3.common.torch_layers import FlattenExtractor

    class FlattenDropout(FlattenExtractor):
        def __init__(self, observation_space):
            super().__init__(observation_space)
            self.dropout = nn.Dropout(p=0.5)

        def forward(self, observations):
            return self.dropout(super().forward(observations))

    model = SoftAC(
        "MlpPolicy", "Pendulum-v1", **{**FAST, "policy_kwargs": dict(net_arch=[16], features_extractor_class=FlattenDropout)}
    )
    assert not model.critic_target.training
    model.learn(60)
    # predict() switches to eval mode: dropout is off, so deterministic actions repeat exactly.
    obs = np.ones((8, 3), dtype=np.float32)
    first = model.predict(obs, deterministic=True)[0]
    assert not model.policy.training and not model.actor.training and not model.actor.features_extractor.training
    assert np.array_equal(first, model.predict(obs, deterministic=True)[0])
    model.train(gradient_steps=1, batch_size=8)
    assert model.policy.training and model.actor.training and model.critic.training
    assert not model.critic_target.training, "target networks stay in eval mode"
