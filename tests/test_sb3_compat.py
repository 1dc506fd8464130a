"""SoftAC is a drop-in for SB3's SAC: same constructor, attributes, logger keys; SB3 callbacks and tools work."""

import csv
import inspect

import numpy as np
import pytest
import torch as th
from stable_baselines3 import SAC
from stable_baselines3.common.callbacks import CheckpointCallback, EvalCallback, StopTrainingOnMaxEpisodes
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.logger import configure
from stable_baselines3.common.vec_env import VecNormalize
from stable_baselines3.sac.policies import SACPolicy

from sb3_softac import SoftAC, SoftACPolicy
from tests.conftest import FAST


def parameters(function) -> list[tuple[str, object]]:
    return [(p.name, p.default) for p in inspect.signature(function).parameters.values()]


SOFTAC_OPTIONS = [
    ("temperature_loss", "log_alpha"),
    ("update_order", "joint"),
    ("bf16_matmuls", False),
    ("compile_update", False),
    ("cuda_graphs", True),
    ("check_finite", True),
    ("policy_delay", 1),
    ("qf_learning_rate", None),
    ("target_networks", True),
    ("reset_interval", 0),
    ("reset_parts", ("actor", "critic", "temperature")),
]


def test_constructor_is_sb3_sacs_then_keyword_only_options():
    """SB3's parameters with SB3's names, order and defaults; then only SoftAC's options, keyword-only."""
    ours, theirs = parameters(SoftAC.__init__), parameters(SAC.__init__)
    assert ours[: len(theirs)] == theirs
    assert ours[len(theirs) :] == SOFTAC_OPTIONS
    kinds = {p.name: p.kind for p in inspect.signature(SoftAC.__init__).parameters.values()}
    assert all(kinds[name] is inspect.Parameter.KEYWORD_ONLY for name, _ in SOFTAC_OPTIONS)
    for name, _ in SOFTAC_OPTIONS:
        assert f":param {name}:" in SoftAC.__doc__, f"{name} is not documented in the class docstring"


def test_no_behaviour_switches_as_class_attributes():
    """Every option is an instance attribute set by the constructor, so it is saved with the model."""
    for name, _ in SOFTAC_OPTIONS:
        assert name not in vars(SoftAC), name


def test_policy_constructor_matches_sb3_sac_policy():
    """SB3's parameters with SB3's order and defaults, then only SoftAC's opt-in network options (docs' options page)."""
    ours, theirs = parameters(SoftACPolicy.__init__), parameters(SACPolicy.__init__)
    assert ours[: len(theirs)] == theirs
    assert ours[len(theirs) :] == [
        ("log_std_bounds", (-20.0, 2.0)),
        ("tanh_log_std", False),
        ("log_prob_epsilon", 0.0),
        ("ortho_init", False),
        ("layer_norm", False),
        ("dropout_rate", 0.0),
        ("batch_renorm", False),
        ("batch_renorm_momentum", 0.01),
        ("batch_renorm_warmup", 100_000),
        ("target_networks", True),
    ]


def test_learn_signature_matches_except_log_name():
    ours = dict(parameters(SoftAC.learn))
    theirs = dict(parameters(SAC.learn))
    assert ours.pop("tb_log_name") == "SoftAC" and theirs.pop("tb_log_name") == "SAC"
    assert ours == theirs


@pytest.mark.parametrize("ent_coef", ["auto", 0.1])
def test_public_attributes(ent_coef):
    model = SoftAC("MlpPolicy", "Pendulum-v1", ent_coef=ent_coef, **FAST)
    sac = SAC("MlpPolicy", "Pendulum-v1", ent_coef=ent_coef, **FAST)
    for name in ("actor", "critic", "critic_target", "target_entropy", "ent_coef", "policy", "replay_buffer"):
        assert hasattr(model, name), name
    assert model.actor is model.policy.actor and model.critic is model.policy.critic
    assert model.critic_target is model.policy.critic_target
    assert model.target_entropy == sac.target_entropy
    if ent_coef == "auto":
        assert isinstance(model.log_ent_coef, th.Tensor) and model.log_ent_coef.requires_grad
        assert isinstance(model.ent_coef_optimizer, th.optim.Adam)
    else:
        assert th.equal(model.ent_coef_tensor, sac.ent_coef_tensor)
    obs, actions = th.zeros(4, 3), th.zeros(4, 1)
    assert [q.shape for q in model.critic(obs, actions)] == [q.shape for q in sac.critic(obs, actions)]
    assert model.critic.q1_forward(obs, actions).shape == sac.critic.q1_forward(obs, actions).shape
    a, log_prob = model.actor.action_log_prob(obs)
    b, sb3_log_prob = sac.actor.action_log_prob(obs)
    assert a.shape == b.shape and log_prob.shape == sb3_log_prob.shape


def read_progress(folder) -> list[dict[str, str]]:
    with open(folder / "progress.csv") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("ent_coef", ["auto", 0.1])
def test_logger_keys(tmp_path, ent_coef):
    model = SoftAC("MlpPolicy", "Pendulum-v1", ent_coef=ent_coef, **FAST)
    model.set_logger(configure(str(tmp_path), ["csv"]))
    model.learn(400, log_interval=1)
    rows = read_progress(tmp_path)
    keys = set(rows[-1])
    expected = {"train/ent_coef", "train/actor_loss", "train/critic_loss", "train/n_updates"}
    expected |= {"train/entropy", "train/target_entropy", "train/q_mean"}
    if ent_coef == "auto":
        expected.add("train/ent_coef_loss")
    assert expected <= keys
    last = rows[-1]
    assert float(last["train/target_entropy"]) == -1.0
    assert 300 <= int(float(last["train/n_updates"])) <= model._n_updates  # logged at the last episode end
    if ent_coef == 0.1:
        assert float(last["train/ent_coef"]) == pytest.approx(0.1)
        assert "train/ent_coef_loss" not in keys or last["train/ent_coef_loss"] == ""


def test_callbacks_and_checkpoints(tmp_path):
    eval_env = make_vec_env("Pendulum-v1", seed=1)
    eval_callback = EvalCallback(
        eval_env, eval_freq=100, n_eval_episodes=1, log_path=str(tmp_path), best_model_save_path=str(tmp_path)
    )
    checkpoint = CheckpointCallback(save_freq=150, save_path=str(tmp_path), name_prefix="softac", save_replay_buffer=True)
    model = SoftAC("MlpPolicy", "Pendulum-v1", **FAST)
    model.learn(300, callback=[eval_callback, checkpoint])
    assert eval_callback.evaluations_results and len(eval_callback.evaluations_timesteps) == 3
    restored = SoftAC.load(tmp_path / "softac_300_steps.zip")
    restored.load_replay_buffer(tmp_path / "softac_replay_buffer_300_steps.pkl")
    assert restored.replay_buffer.size() == 299  # SB3 calls callbacks before storing the step's transition
    assert (tmp_path / "best_model.zip").exists()
    reward, _ = evaluate_policy(restored, eval_env, n_eval_episodes=1)
    assert np.isfinite(reward)


def test_stop_callback_and_vecnormalize():
    env = VecNormalize(make_vec_env("Pendulum-v1", seed=0), gamma=0.99)
    model = SoftAC("MlpPolicy", env, **FAST)
    model.learn(10_000, callback=StopTrainingOnMaxEpisodes(max_episodes=2))
    assert model.num_timesteps == 400
    assert model._vec_normalize_env is env


def test_sb3_sac_hyperparameters_transfer():
    """An RL-Zoo SAC hyperparameter set (HalfCheetah-style, with gSDE and a policy_kwargs string) is accepted as is."""
    hyperparams = dict(
        learning_rate=7.3e-4,
        buffer_size=1000,
        batch_size=64,
        ent_coef="auto",
        gamma=0.98,
        tau=0.02,
        train_freq=8,
        gradient_steps=8,
        learning_starts=100,
        use_sde=True,
        policy_kwargs=eval("dict(log_std_init=-3, net_arch=[16, 16])"),
    )
    SoftAC("MlpPolicy", "Pendulum-v1", **hyperparams).learn(200)
