"""The SAC-family options, each against a straightforward reference on fixed inputs.

Batch Renormalization and the per-member LayerNorm against torch's own normalisation functions;
policy_delay, qf_learning_rate, the CrossQ update and resets against what they must do to the
parameters and optimizers. Tolerances: float32 results that take the same arithmetic path agree to
1e-6; those computed differently (float64 references, other kernels) to 1e-5.
"""

import copy
import math

import pytest
import torch as th
from torch import nn
from torch.distributions import Independent, Normal, TransformedDistribution
from torch.distributions.transforms import TanhTransform
from torch.nn import functional as F

from sb3_softac import SoftAC
from sb3_softac.layers import BatchRenorm, EnsembleLayerNorm, running_statistics
from sb3_softac.validation import SoftACValueError, TypeValueError
from tests.conftest import fast

FAST = fast(policy_kwargs=dict(net_arch=[32, 32]))
CROSSQ = dict(target_networks=False, policy_delay=3, policy_kwargs=dict(net_arch=[32, 32], batch_renorm=True))


def member_batch_norm(x: th.Tensor, layer: BatchRenorm, training: bool, mean=None, var=None) -> th.Tensor:
    """torch's F.batch_norm, one ensemble member at a time (biased batch variance, as batch norm normalises)."""
    outputs = []
    for i in range(x.shape[0]):
        running_mean = None if mean is None else mean[i, 0].clone()
        running_var = None if var is None else var[i, 0].clone()
        weight, bias = layer.weight[i, 0], layer.bias[i, 0]
        outputs.append(F.batch_norm(x[i], running_mean, running_var, weight, bias, training=training, eps=layer.eps))
    return th.stack(outputs)


def test_batch_renorm_is_batch_norm_during_warmup_and_uses_running_statistics_in_eval():
    th.manual_seed(0)
    layer = BatchRenorm(8, n_members=3, momentum=0.1, warmup_steps=5)
    with th.no_grad():
        layer.weight.uniform_(0.5, 2.0)
        layer.bias.uniform_(-1.0, 1.0)
    for _ in range(5):
        x = th.randn(3, 64, 8) * 3.0 + 1.5
        mean, var = layer.running_mean.clone(), layer.running_var.clone()
        assert th.allclose(layer(x), member_batch_norm(x, layer, training=True), atol=1e-5)
        # Running statistics: an exponential average of the batch mean and (biased) variance.
        assert th.allclose(layer.running_mean, 0.9 * mean + 0.1 * x.mean(dim=1, keepdim=True), atol=1e-6)
        assert th.allclose(layer.running_var, 0.9 * var + 0.1 * x.var(dim=1, keepdim=True, unbiased=False), atol=1e-5)
    assert layer.num_batches_tracked.item() == 5

    layer.eval()
    x = th.randn(3, 64, 8)
    frozen_state = {k: v.clone() for k, v in layer.state_dict().items()}
    expected = member_batch_norm(x, layer, training=False, mean=layer.running_mean, var=layer.running_var)
    assert th.allclose(layer(x), expected, atol=1e-5)
    assert all(th.equal(v, layer.state_dict()[k]) for k, v in frozen_state.items()), "eval mode updates nothing"


def renorm_reference(x: th.Tensor, layer: BatchRenorm, mean: th.Tensor, var: th.Tensor) -> th.Tensor:
    """Ioffe 2017, Algorithm 1, in float64, one member at a time; r and d are constants (detached)."""
    outputs = []
    for i in range(x.shape[0]):
        xi = x[i].double()
        mu_b, sigma_b = xi.mean(dim=0), (xi.var(dim=0, unbiased=False) + layer.eps).sqrt()
        sigma = (var[i, 0].double() + layer.eps).sqrt()
        r = (sigma_b / sigma).clamp(1 / layer.r_max, layer.r_max).detach()
        d = ((mu_b - mean[i, 0].double()) / sigma).clamp(-layer.d_max, layer.d_max).detach()
        outputs.append(((xi - mu_b) / sigma_b * r + d) * layer.weight[i, 0].double() + layer.bias[i, 0].double())
    return th.stack(outputs)


def test_batch_renorm_after_warmup_matches_algorithm_1_in_values_and_gradients():
    th.manual_seed(1)
    layer = BatchRenorm(6, n_members=2, warmup_steps=0)
    with th.no_grad():
        layer.running_mean.uniform_(-1.0, 1.0)
        layer.running_var.uniform_(0.5, 2.0)
        layer.weight.uniform_(0.5, 2.0)
    # Batches far from the running statistics (r and d clipped) and close to them (not clipped).
    for scale, shift in [(10.0, 20.0), (1.0, 0.0)]:
        mean, var = layer.running_mean.clone(), layer.running_var.clone()
        x = (th.randn(2, 128, 6) * scale + shift).requires_grad_(True)
        reference_x = x.detach().clone().requires_grad_(True)
        ours = layer(x)
        reference = renorm_reference(reference_x, layer, mean, var)
        assert th.allclose(ours.double(), reference, atol=1e-5)
        upstream = th.randn_like(ours)
        ours.backward(upstream)
        reference.backward(upstream.double())
        assert th.allclose(x.grad, reference_x.grad, atol=1e-5)


def test_batch_renorm_with_unclipped_corrections_gives_the_eval_output():
    """Ioffe's point: when r and d are not clipped, the training output is the running-statistics output."""
    th.manual_seed(2)
    layer = BatchRenorm(5, n_members=2, warmup_steps=0)
    x = th.randn(2, 256, 5) * 1.2 + 0.3
    with th.no_grad():
        layer.running_mean.copy_(x.mean(dim=1, keepdim=True) + 0.05)
        layer.running_var.copy_(x.var(dim=1, keepdim=True) * 0.9)
    with running_statistics(layer):
        expected = layer(x)
    assert layer.training and layer.num_batches_tracked.item() == 0, "the context restores training mode, updates nothing"
    assert th.allclose(layer(x), expected, atol=1e-5)


def test_batch_renorm_members_are_independent_and_actor_layout_works():
    th.manual_seed(3)
    ensemble = BatchRenorm(4, n_members=2, warmup_steps=0)
    single = BatchRenorm(4, warmup_steps=0)
    x = th.randn(2, 32, 4)
    out = ensemble(x)
    assert th.allclose(out[1], single(x[1]), atol=1e-6)
    assert th.allclose(ensemble.running_mean[1], single.running_mean, atol=1e-7)


def test_ensemble_layer_norm_matches_nn_layer_norm_per_member():
    th.manual_seed(4)
    layer = EnsembleLayerNorm(3, 16)
    with th.no_grad():
        layer.weight.uniform_(0.5, 2.0)
        layer.bias.uniform_(-1.0, 1.0)
    x = th.randn(3, 10, 16) * 4
    for i in range(3):
        reference = nn.LayerNorm(16)
        with th.no_grad():
            reference.weight.copy_(layer.weight[i, 0])
            reference.bias.copy_(layer.bias[i, 0])
        assert th.allclose(layer(x)[i], reference(x[i]), atol=1e-6)


def kinds(module: nn.Module) -> list[type]:
    return [type(layer) for layer in module.modules()]


def test_layer_norm_and_dropout_only_where_asked():
    plain = SoftAC("MlpPolicy", "Pendulum-v1", **FAST)
    assert not {nn.Dropout, EnsembleLayerNorm, BatchRenorm} & set(kinds(plain.policy))
    droq = SoftAC("MlpPolicy", "Pendulum-v1", **fast(policy_kwargs=dict(layer_norm=True, dropout_rate=0.1)))
    for critic in (droq.critic, droq.critic_target):
        assert kinds(critic).count(EnsembleLayerNorm) == kinds(critic).count(nn.Dropout) == 2  # one per hidden layer
    assert not {nn.Dropout, EnsembleLayerNorm} & set(kinds(droq.actor)), "DroQ changes the critics only"
    assert kinds(SoftAC("MlpPolicy", "Pendulum-v1", **fast(policy_kwargs=dict(layer_norm=True))).critic).count(nn.Dropout) == 0


def test_dropout_is_off_in_eval_mode_and_on_in_the_target():
    model = SoftAC("MlpPolicy", "Pendulum-v1", **fast(policy_kwargs=dict(layer_norm=True, dropout_rate=0.5)))
    obs, actions = th.randn(64, 3), th.rand(64, 1) * 2 - 1
    model.policy.set_training_mode(False)
    assert th.equal(model.critic.q_values(obs, actions), model.critic.q_values(obs, actions)), "no dropout in eval mode"
    model.policy.set_training_mode(True)
    assert not th.equal(model.critic.q_values(obs, actions), model.critic.q_values(obs, actions))
    # The target keeps dropout active (DroQ's target uses the dropout Q-functions), in every policy mode.
    model.policy.set_training_mode(False)
    assert not th.equal(model.critic_target.q_values(obs, actions), model.critic_target.q_values(obs, actions))
    assert not model.critic_target.training


def changed(before: list[th.Tensor], after) -> bool:
    return any(not th.equal(a, b) for a, b in zip(before, after))


def test_policy_delay_steps_the_actor_and_temperature_exactly_every_nth_update():
    model = SoftAC("MlpPolicy", "Pendulum-v1", policy_delay=3, **FAST)
    model.learn(60)  # 10 gradient steps so far
    history = []
    for _ in range(7):
        actor, critic = [p.clone() for p in model.actor.parameters()], [p.clone() for p in model.critic.parameters()]
        alpha = model.log_ent_coef.clone()
        model.train(gradient_steps=1, batch_size=32)
        assert changed(critic, model.critic.parameters()), "the critics step on every update"
        history.append((model._n_updates, changed(actor, model.actor.parameters()), not th.equal(alpha, model.log_ent_coef)))
    assert [(n, a, t) for n, a, t in history if a or t] == [(12, True, True), (15, True, True)]
    assert model.logger.name_to_value["train/critic_loss"] != 0.0


def test_policy_delay_logs_actor_statistics_only_from_actor_steps():
    model = SoftAC("MlpPolicy", "Pendulum-v1", policy_delay=4, **FAST)
    model.learn(50)
    model.train(gradient_steps=3, batch_size=32)  # updates 1-3: critics only
    assert "train/actor_loss" not in model.logger.name_to_value
    model.train(gradient_steps=1, batch_size=32)  # update 4
    assert "train/actor_loss" in model.logger.name_to_value and "train/entropy" in model.logger.name_to_value


def one_step(model: SoftAC, data, seed: int = 5) -> SoftAC:
    model = copy.deepcopy(model)
    th.manual_seed(seed)
    model._gradient_step(data)
    return model


def test_qf_learning_rate_reaches_only_the_critic_optimizer():
    base = SoftAC("MlpPolicy", "Pendulum-v1", learning_rate=1e-3, **FAST)
    base.learn(100)
    data = base.replay_buffer.sample(32)
    split = copy.deepcopy(base)
    split.qf_learning_rate = 5e-3
    split._setup_lr_schedule()
    split.qf_lr_schedule = lambda _: 5e-3
    split._update_learning_rate(split._optimizers())
    assert [g["lr"] for g in split.critic.optimizer.param_groups] == [5e-3]
    assert (
        [g["lr"] for g in split.actor.optimizer.param_groups]
        == [g["lr"] for g in split.ent_coef_optimizer.param_groups]
        == [1e-3]
    )

    fast_critic = copy.deepcopy(base)
    for group in fast_critic.critic.optimizer.param_groups + fast_critic.actor.optimizer.param_groups:
        group["lr"] = 5e-3
    ours, critic_reference, actor_reference = one_step(split, data), one_step(fast_critic, data), one_step(base, data)
    assert all(th.equal(a, b) for a, b in zip(ours.critic.parameters(), critic_reference.critic.parameters()))
    assert all(th.equal(a, b) for a, b in zip(ours.actor.parameters(), actor_reference.actor.parameters()))
    assert changed(list(ours.critic.parameters()), actor_reference.critic.parameters())


def test_qf_learning_rate_schedule_and_default():
    model = SoftAC("MlpPolicy", "Pendulum-v1", learning_rate=1e-3, qf_learning_rate=lambda progress: 1e-2 * progress, **FAST)
    assert model.critic.optimizer.param_groups[0]["lr"] == pytest.approx(1e-2)
    model.learn(100)
    assert model.logger.name_to_value["train/qf_learning_rate"] == pytest.approx(1e-2 * model._current_progress_remaining)
    assert model.critic.optimizer.param_groups[0]["lr"] < 1e-2 and model.actor.optimizer.param_groups[0]["lr"] == 1e-3
    default = SoftAC("MlpPolicy", "Pendulum-v1", learning_rate=1e-3, **FAST)
    assert default.critic.optimizer.param_groups[0]["lr"] == 1e-3 and default.qf_lr_schedule is default.lr_schedule


def test_crossq_has_no_target_network_and_one_joint_critic_pass(monkeypatch):
    model = SoftAC("MlpPolicy", "Pendulum-v1", **fast(**CROSSQ))
    assert model.critic_target is None and model.policy.critic_target is None
    assert not any(name.startswith("critic_target") for name in model.policy.state_dict())
    model.learn(60)
    calls = []
    original = type(model.critic).q_values

    def counting(critic, obs, actions):
        calls.append((critic.training, obs.shape[0]))
        return original(critic, obs, actions)

    monkeypatch.setattr(type(model.critic), "q_values", counting)
    data = model.replay_buffer.sample(32)
    model._gradient_step(data, update_actor=False)
    assert calls == [(True, 64)], "critics only: one pass over the 32 current and 32 next pairs together"
    calls.clear()
    model._gradient_step(data, update_actor=True)
    assert calls == [(True, 64), (True, 32)], "then the actor loss's pass"


def crossq_reference_update(model: SoftAC, data) -> None:
    """CrossQ's step written out: separate modes per pass, torch distributions, one autograd.grad per loss."""
    actor, critic = model.actor, model.critic
    alpha = model.log_ent_coef.detach().exp()

    def set_batch_renorm(module, training):
        for layer in module.modules():
            if isinstance(layer, BatchRenorm):
                layer.train(training)

    def sample(obs):
        mean, log_std, _ = actor.gaussian_params(obs)
        dist = TransformedDistribution(Independent(Normal(mean, log_std.exp()), 1), [TanhTransform(cache_size=1)])
        action = dist.rsample()
        return action, dist.log_prob(action).reshape(-1, 1)

    actions_pi, log_prob = sample(data.observations)  # actor statistics from this batch
    set_batch_renorm(actor, False)
    with th.no_grad():
        next_actions, next_log_prob = sample(data.next_observations)
    set_batch_renorm(actor, True)
    both = critic(th.cat([data.observations, data.next_observations]), th.cat([data.actions, next_actions]))
    current = [q[:32] for q in both]
    next_q = th.min(th.cat([q[32:].detach() for q in both], dim=1), dim=1, keepdim=True).values
    y = data.rewards + (1 - data.dones) * model.gamma * (next_q - alpha * next_log_prob)
    critic_loss = 0.5 * sum(F.mse_loss(q, y) for q in current)
    set_batch_renorm(critic, False)
    q_pi = th.min(th.cat(critic(data.observations, actions_pi), dim=1), dim=1, keepdim=True).values
    set_batch_renorm(critic, True)
    actor_loss = (alpha * log_prob - q_pi).mean()
    alpha_loss = -(model.log_ent_coef * (log_prob.detach() + model.target_entropy)).mean()

    for loss, optimizer in [
        (alpha_loss, model.ent_coef_optimizer),
        (critic_loss, critic.optimizer),
        (actor_loss, actor.optimizer),
    ]:
        params = [p for group in optimizer.param_groups for p in group["params"]]
        for param, grad in zip(params, th.autograd.grad(loss, params, retain_graph=True, allow_unused=True)):
            param.grad = grad
    for optimizer in (model.ent_coef_optimizer, critic.optimizer, actor.optimizer):
        optimizer.step()


def test_crossq_update_matches_reference_update():
    model = SoftAC(
        "MlpPolicy",
        "Pendulum-v1",
        **fast(**{**CROSSQ, "policy_kwargs": dict(net_arch=[32, 32], batch_renorm=True, batch_renorm_warmup=2)}),
    )
    model.learn(60)  # 10 updates: past the warm-up, so r and d are in play
    data = model.replay_buffer.sample(32)
    ours, reference = copy.deepcopy(model), copy.deepcopy(model)
    th.manual_seed(5)
    ours._gradient_step(data, update_actor=True)
    th.manual_seed(5)
    crossq_reference_update(reference, data)
    for (name, a), b, initial in zip(
        ours.policy.state_dict().items(), reference.policy.state_dict().values(), model.policy.state_dict().values()
    ):
        assert th.allclose(a.double(), b.double(), atol=1e-6, rtol=0), name
        if "running_" in name:
            assert not th.equal(a, initial), f"{name}: statistics moved"
    assert th.allclose(ours.log_ent_coef, reference.log_ent_coef, atol=1e-7)


def test_crossq_batch_renorm_counts_training_passes():
    model = SoftAC("MlpPolicy", "Pendulum-v1", **fast(**CROSSQ))
    model.learn(59)  # 9 gradient steps, 3 of them actor steps
    critic_layers = [m for m in model.critic.modules() if isinstance(m, BatchRenorm)]
    actor_layers = [m for m in model.actor.modules() if isinstance(m, BatchRenorm)]
    assert len(critic_layers) == 3 and len(actor_layers) == 3  # in front of every linear layer (and the actor's heads)
    assert {m.num_batches_tracked.item() for m in critic_layers} == {9}
    assert {m.num_batches_tracked.item() for m in actor_layers} == {3}
    model.predict(th.randn(4, 3).numpy())  # acting uses running statistics: nothing moves
    assert {m.num_batches_tracked.item() for m in actor_layers} == {3}


def fresh_model_state(model: SoftAC, seed: int) -> dict:
    th.manual_seed(seed)
    fresh = model.policy_class(model.observation_space, model.action_space, model.lr_schedule, **model.policy_kwargs)
    return fresh.state_dict()


@pytest.mark.parametrize("kwargs", [dict(), CROSSQ], ids=["sac", "crossq"])
def test_reset_restores_freshly_initialised_networks_and_optimizers(kwargs):
    model = SoftAC("MlpPolicy", "Pendulum-v1", **fast(**kwargs))
    model.learn(150)
    n_updates, timesteps, stored = model._n_updates, model.num_timesteps, model.replay_buffer.observations.copy()
    expected = fresh_model_state(model, seed=11)
    th.manual_seed(11)
    model.reset_parameters()
    state = model.policy.state_dict()
    for name, value in expected.items():
        if name.startswith("critic_target."):
            assert th.equal(state[name], state[name.replace("critic_target.", "critic.")]), "targets copy the new critics"
        else:
            assert th.equal(state[name], value), name
    for optimizer in model._optimizers():
        assert all(th.count_nonzero(v) == 0 for s in optimizer.state.values() for v in s.values() if isinstance(v, th.Tensor))
    assert model.log_ent_coef.item() == 0.0  # log of the initial temperature 1
    assert (model._n_updates, model.num_timesteps) == (n_updates, timesteps)
    assert (model.replay_buffer.observations == stored).all(), "the replay buffer is kept"

    # A restarted Adam steps exactly like a newly built one.
    params = [p for group in model.critic.optimizer.param_groups for p in group["params"]]
    clones = [p.detach().clone().requires_grad_(True) for p in params]
    new_adam = th.optim.Adam(
        clones,
        lr=model.critic.optimizer.param_groups[0]["lr"],
        fused=True,
        betas=model.critic.optimizer.param_groups[0]["betas"],
    )
    for p, c in zip(params, clones):
        p.grad = th.randn_like(p)
        c.grad = p.grad.clone()
    model.critic.optimizer.step()
    new_adam.step()
    assert all(th.equal(p, c) for p, c in zip(params, clones))


def test_partial_reset_keeps_the_other_parts():
    model = SoftAC("MlpPolicy", "Pendulum-v1", **FAST)
    model.learn(150)
    actor, alpha = copy.deepcopy(model.actor.state_dict()), model.log_ent_coef.clone()
    critic = [p.clone() for p in model.critic.parameters()]
    model.reset_parameters(["critic"])
    assert all(th.equal(v, model.actor.state_dict()[k]) for k, v in actor.items()) and th.equal(alpha, model.log_ent_coef)
    assert changed(critic, model.critic.parameters())
    with pytest.raises(SoftACValueError, match=r"reset_parts=\['encoder'\] is invalid"):
        model.reset_parameters(["encoder"])


def test_reset_schedule_fires_once_per_interval_and_survives_save_load(tmp_path):
    model = SoftAC("MlpPolicy", "Pendulum-v1", reset_interval=100, reset_parts=["actor"], **FAST)
    resets = []
    original = model.reset_parameters
    model.reset_parameters = lambda parts: (resets.append((model.num_timesteps, list(parts))), original(parts))  # type: ignore[method-assign]
    model.learn(250)
    assert resets == [(101, ["actor"]), (201, ["actor"])] and model._n_resets == 2, "after each 100 steps"
    assert model.logger.name_to_value["train/n_resets"] == 2
    model.save(tmp_path / "model.zip")
    loaded = SoftAC.load(tmp_path / "model.zip", env=model.get_env())
    assert (loaded._n_resets, loaded.reset_interval, loaded.reset_parts) == (2, 100, ["actor"])
    loaded.learn(50, reset_num_timesteps=False)  # to 300: no reset due
    assert loaded._n_resets == 2
    loaded.learn(10, reset_num_timesteps=False)  # past 300
    assert loaded._n_resets == 3


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(policy_delay=0), "policy_delay=0"),
        (dict(policy_delay=1.5), "policy_delay=1.5"),
        (dict(qf_learning_rate=-1.0), "qf_learning_rate=-1.0"),
        (dict(qf_learning_rate="fast"), "qf_learning_rate='fast'"),
        (dict(target_networks="no"), "target_networks='no'"),
        (dict(reset_interval=-5), "reset_interval=-5"),
        (dict(reset_parts=["actor", "encoder"]), "reset_parts=['actor', 'encoder']"),
        (dict(reset_parts="actor"), "reset_parts='actor'"),
        (dict(reset_parts=[]), "reset_parts=[]"),
        (dict(policy_kwargs=dict(dropout_rate=1.0)), "dropout_rate=1.0"),
        (dict(policy_kwargs=dict(layer_norm=1)), "layer_norm=1"),
        (dict(policy_kwargs=dict(batch_renorm_momentum=0.0)), "batch_renorm_momentum=0.0"),
        (dict(policy_kwargs=dict(batch_renorm_warmup=-1)), "batch_renorm_warmup=-1"),
        (dict(policy_kwargs=dict(target_networks=False)), "SoftAC(..., target_networks=False)"),
    ],
)
def test_bad_family_options_name_the_value(kwargs, message):
    with pytest.raises(SoftACValueError) as error:
        SoftAC("MlpPolicy", "Pendulum-v1", **{**FAST, **kwargs})
    assert message in str(error.value)
    if kwargs in (dict(policy_delay=1.5), dict(reset_parts="actor"), dict(target_networks="no")):
        assert isinstance(error.value, TypeValueError)


def test_target_entropy_reset_restores_a_custom_initial_temperature():
    model = SoftAC("MlpPolicy", "Pendulum-v1", ent_coef="auto_0.2", **FAST)
    model.learn(150)
    model.reset_parameters(["temperature"])
    assert model.log_ent_coef.item() == pytest.approx(math.log(0.2))


@pytest.mark.parametrize("kwargs", [CROSSQ, dict(policy_kwargs=dict(net_arch=[32, 32], layer_norm=True, dropout_rate=0.1))])
def test_family_options_take_dict_observations(kwargs):
    """The joint CrossQ pass concatenates each Dict entry (a 0-d one included); DroQ critics on a combined extractor."""
    from tests.envs import ContinuousDictEnv

    model = SoftAC("MultiInputPolicy", ContinuousDictEnv(scalar_entry=True), **fast(**kwargs))
    model.learn(80)
    assert model._n_updates == 30 and math.isfinite(model.logger.name_to_value["train/critic_loss"])
