"""Learn and predict in every configuration SB3's SAC supports (in the style of SB3's tests/test_run.py)."""

import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from stable_baselines3 import HerReplayBuffer
from stable_baselines3.common.buffers import NStepReplayBuffer
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.envs import BitFlippingEnv, FakeImageEnv
from stable_baselines3.common.noise import NormalActionNoise
from stable_baselines3.common.torch_layers import NatureCNN
from torch import nn

from sb3_softac import SoftAC
from sb3_softac.policies import ScalarSafeCombinedExtractor, SoftQEnsemble
from tests.conftest import FAST
from tests.envs import ContinuousDictEnv


def assert_valid_predictions(model: SoftAC, obs) -> None:
    action, _ = model.predict(obs, deterministic=True)
    low, high = model.action_space.low, model.action_space.high
    assert action.shape[-len(model.action_space.shape) :] == model.action_space.shape
    assert np.all(action >= low) and np.all(action <= high)
    assert np.all(np.isfinite(action))


def learn_and_check(model: SoftAC, total_timesteps: int = 200) -> SoftAC:
    before = [p.detach().clone() for p in model.actor.parameters()]
    model.learn(total_timesteps)
    assert model._n_updates > 0, "no gradient step was taken"
    after = list(model.actor.parameters())
    assert any(not th.equal(b, a) for b, a in zip(before, after)), "the actor did not change"
    assert_valid_predictions(model, model.env.reset())
    return model


@pytest.mark.parametrize("ent_coef", ["auto", "auto_0.1", 0.05])
def test_box_env(ent_coef):
    model = learn_and_check(SoftAC("MlpPolicy", "Pendulum-v1", ent_coef=ent_coef, **FAST))
    if ent_coef == 0.05:
        assert model.log_ent_coef is None and model.ent_coef_optimizer is None
        assert model.ent_coef_tensor.item() == pytest.approx(0.05)
    else:
        assert model.ent_coef_optimizer is not None
        init = 1.0 if ent_coef == "auto" else 0.1
        assert model.log_ent_coef.exp().item() != pytest.approx(init), "a learned temperature must move"


def test_n_envs_2():
    env = make_vec_env("Pendulum-v1", n_envs=2, seed=0)
    model = learn_and_check(SoftAC("MlpPolicy", env, **FAST))
    assert model.replay_buffer.n_envs == 2
    assert model.num_timesteps == 200


@pytest.mark.parametrize("use_sde_at_warmup", [False, True])
def test_gsde(use_sde_at_warmup):
    model = SoftAC("MlpPolicy", "Pendulum-v1", use_sde=True, sde_sample_freq=4, use_sde_at_warmup=use_sde_at_warmup, **FAST)
    learn_and_check(model)
    assert model.actor.get_std().shape[-1] == 1
    # gSDE noise is fixed between resets: the same observation gives the same action.
    obs = th.zeros(1, 3)
    with th.no_grad():
        assert th.equal(model.actor(obs), model.actor(obs))
        model.actor.reset_noise()
        assert th.all(model.actor(obs).abs() <= 1)


def test_n_steps():
    model = learn_and_check(SoftAC("MlpPolicy", "Pendulum-v1", n_steps=3, **FAST))
    assert isinstance(model.replay_buffer, NStepReplayBuffer)
    assert model.replay_buffer.n_steps == 3
    assert model.replay_buffer.sample(8).discounts is not None


def test_image_env():
    env = FakeImageEnv(action_dim=2, screen_height=40, screen_width=40, n_channels=1, discrete=False)
    model = learn_and_check(SoftAC("CnnPolicy", env, **{**FAST, "policy_kwargs": dict(net_arch=[16])}), 120)
    assert isinstance(model.actor.features_extractor, NatureCNN)
    assert model.replay_buffer.observations.dtype == np.uint8


@pytest.mark.parametrize("share_features_extractor", [False, True])
def test_image_env_feature_sharing(share_features_extractor):
    env = FakeImageEnv(action_dim=2, screen_height=40, screen_width=40, n_channels=1, discrete=False)
    kwargs = dict(net_arch=[16], share_features_extractor=share_features_extractor)
    model = SoftAC("CnnPolicy", env, **{**FAST, "policy_kwargs": kwargs})
    shared = model.actor.features_extractor is model.critic.features_extractor
    assert shared == share_features_extractor
    assert model.critic_target.features_extractor is not model.critic.features_extractor
    critic_optimized = {id(p) for g in model.critic.optimizer.param_groups for p in g["params"]}
    # The critic loss never trains the actor's extractor; a critic's own extractor is trained by it.
    assert not any(id(p) in critic_optimized for p in model.actor.features_extractor.parameters())
    assert all(id(p) in critic_optimized for p in model.critic.features_extractor.parameters()) != share_features_extractor
    learn_and_check(model, 120)


@pytest.mark.parametrize(
    "env_kwargs", [dict(scalar_entry=False), dict(scalar_entry=True), dict(scalar_entry=True, image_entry=True)]
)
def test_dict_env(env_kwargs):
    env = make_vec_env(lambda: ContinuousDictEnv(**env_kwargs), n_envs=2, seed=0)
    model = learn_and_check(SoftAC("MultiInputPolicy", env, **FAST))
    assert isinstance(model.actor.features_extractor, ScalarSafeCombinedExtractor)
    single_obs, _ = ContinuousDictEnv(**env_kwargs).reset(seed=1)
    assert_valid_predictions(model, single_obs)


def test_sb3_extractor_fails_on_scalar_entries():
    """The reason ScalarSafeCombinedExtractor exists: if SB3 fixes this, the test tells us to drop ours."""
    from stable_baselines3.common.torch_layers import CombinedExtractor

    space = ContinuousDictEnv(scalar_entry=True).observation_space
    batch = {key: th.as_tensor(np.stack([sub.sample(), sub.sample()])).float() for key, sub in space.spaces.items()}
    with pytest.raises(IndexError):
        CombinedExtractor(space)(batch)
    assert ScalarSafeCombinedExtractor(space)(batch).shape == (2, 5)


def test_her_goal_env():
    env = BitFlippingEnv(n_bits=4, continuous=True, max_steps=4)
    model = SoftAC(
        "MultiInputPolicy",
        env,
        replay_buffer_class=HerReplayBuffer,
        replay_buffer_kwargs=dict(n_sampled_goal=2, goal_selection_strategy="future"),
        **FAST,
    )
    learn_and_check(model)
    assert isinstance(model.replay_buffer, HerReplayBuffer)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(train_freq=(1, "episode"), gradient_steps=-1),
        dict(train_freq=4, gradient_steps=2, target_update_interval=3),
        dict(optimize_memory_usage=True, replay_buffer_kwargs=dict(handle_timeout_termination=False)),
        dict(action_noise=NormalActionNoise(np.zeros(1), 0.1 * np.ones(1))),
        dict(learning_rate=lambda progress: 1e-3 * progress),
    ],
    ids=["episode-freq", "multi-step", "memory", "action-noise", "lr-schedule"],
)
def test_off_policy_options(kwargs):
    learn_and_check(SoftAC("MlpPolicy", "Pendulum-v1", **{**FAST, **kwargs}), 400)


@pytest.mark.parametrize(
    "policy_kwargs",
    [
        dict(net_arch=dict(pi=[8], qf=[16, 16]), activation_fn=nn.Tanh),
        dict(net_arch=[16], n_critics=1),
        dict(net_arch=[16], n_critics=5),
        dict(net_arch=[16], optimizer_class=th.optim.RMSprop, optimizer_kwargs=dict(alpha=0.9)),
        dict(net_arch=[16], use_sde=True, log_std_init=-1, use_expln=True, clip_mean=0.0),
        dict(net_arch=[16], features_extractor_kwargs=dict()),
    ],
)
def test_policy_kwargs(policy_kwargs):
    model = SoftAC(
        "MlpPolicy", "Pendulum-v1", use_sde=policy_kwargs.get("use_sde", False), **{**FAST, "policy_kwargs": policy_kwargs}
    )
    assert isinstance(model.critic, SoftQEnsemble)
    assert len(model.critic(th.zeros(3, 3), th.zeros(3, 1))) == policy_kwargs.get("n_critics", 2)
    assert isinstance(model.actor.optimizer, policy_kwargs.get("optimizer_class", th.optim.Adam))
    learn_and_check(model, 150)


def test_net_arch_layout():
    model = SoftAC("MlpPolicy", "Pendulum-v1", policy_kwargs=dict(net_arch=dict(pi=[8, 4], qf=[16])), seed=0)
    actor_linears = [m for m in model.actor.latent_pi if isinstance(m, nn.Linear)]
    assert [m.out_features for m in actor_linears] == [8, 4]
    assert [layer.out_features for layer in model.critic.q_net if hasattr(layer, "out_features")] == [16, 1]


def test_unbounded_observation_box_and_rescaled_actions():
    """Actions are rescaled from [-1, 1] to the env's own bounds."""
    import gymnasium as gym

    env = gym.wrappers.RescaleAction(gym.make("Pendulum-v1"), min_action=np.float32(-0.5), max_action=np.float32(0.5))
    model = SoftAC("MlpPolicy", env, **FAST)
    assert isinstance(model.action_space, spaces.Box)
    actions = np.stack([model.predict(model.env.reset(), deterministic=False)[0] for _ in range(50)])
    assert actions.min() >= -0.5 and actions.max() <= 0.5
