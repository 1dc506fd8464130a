"""The SAC math against independent references: log-likelihood, one full update, targets, temperature."""

import copy
import math

import pytest
import torch as th
from torch.distributions import Independent, Normal, TransformedDistribution
from torch.distributions.transforms import TanhTransform
from torch.nn import functional as F

from sb3_softac import SoftAC
from sb3_softac.policies import EnsembleLinear, tanh_log_det_jacobian
from tests.conftest import fast

FAST = fast(policy_kwargs=dict(net_arch=[32, 32]))


def test_tanh_log_det_jacobian_matches_naive_form_and_stays_finite():
    u = th.linspace(-8.0, 8.0, 161, dtype=th.float64).reshape(-1, 1)
    naive = th.log(1.0 - th.tanh(u) ** 2).sum(dim=-1)
    assert th.allclose(tanh_log_det_jacobian(u), naive, rtol=1e-10, atol=1e-10)
    # Where float32 tanh(u) rounds to exactly 1, the naive form is -inf; ours is the exact -2|u| + 2 log 2 + o(1).
    big = th.tensor([[-60.0], [25.0], [100.0]])
    assert th.isinf(th.log(1.0 - th.tanh(big) ** 2)).all()
    exact = -2.0 * big.abs().squeeze(-1) + 2.0 * math.log(2.0)
    assert th.allclose(tanh_log_det_jacobian(big), exact, rtol=1e-6)


def test_action_log_prob_matches_torch_tanh_transform():
    model = SoftAC("MlpPolicy", "Pendulum-v1", **FAST)
    obs = th.randn(64, 3)
    th.manual_seed(0)
    actions, log_prob = model.actor.action_log_prob(obs)
    mean, log_std, _ = model.actor.gaussian_params(obs)
    th.manual_seed(0)
    reference = TransformedDistribution(Independent(Normal(mean, log_std.exp()), 1), [TanhTransform(cache_size=1)])
    reference_actions = reference.rsample()  # same noise draw; the cache keeps the exact pre-tanh sample
    assert th.allclose(actions, reference_actions)
    assert th.allclose(log_prob, reference.log_prob(reference_actions), atol=1e-5)


def test_squashed_density_is_a_numerical_change_of_variables():
    """For 1-D actions, exp(log pi) integrates to 1 over (-1, 1) and equals p_u(u) / |d tanh(u)/du|."""
    actor = SoftAC("MlpPolicy", "Pendulum-v1", **FAST).actor
    with th.no_grad():
        mean, log_std, _ = actor.gaussian_params(th.randn(1, 3))
    mean, log_std = mean.double(), log_std.double()
    u = th.linspace(-12, 12, 200_001, dtype=th.float64).reshape(-1, 1)
    eps = 1e-6
    jacobian = (th.tanh(u + eps) - th.tanh(u - eps)) / (2 * eps)  # finite differences, not the closed form
    p_u = Normal(mean, log_std.exp()).log_prob(u).exp().squeeze(-1)
    reference_density = p_u / jacobian.squeeze(-1)
    ours = (Normal(mean, log_std.exp()).log_prob(u).sum(-1) - tanh_log_det_jacobian(u)).exp()
    assert th.allclose(ours, reference_density, rtol=1e-5)
    actions = th.tanh(u).squeeze(-1)
    assert th.trapezoid(ours, actions).item() == pytest.approx(1.0, abs=1e-4)


def test_log_prob_finite_at_saturated_actions():
    model = SoftAC("MlpPolicy", "Pendulum-v1", **FAST)
    with th.no_grad():
        model.actor.mu.bias.fill_(30.0)  # tanh(mu) == 1.0 in float32
        model.actor.mu.weight.zero_()
    actions, log_prob = model.actor.action_log_prob(th.randn(32, 3))
    assert th.all(actions.abs() <= 1.0) and th.isfinite(log_prob).all()


def reference_update(model: SoftAC, data) -> None:
    """
    A straightforward SAC step written independently: separate critics, torch distributions, F.mse_loss,
    one autograd.grad per loss. All gradients are taken at the same parameters, then each optimizer steps.
    """
    actor, critic, target = model.actor, model.critic, model.critic_target
    alpha = model.log_ent_coef.detach().exp()

    def sample(obs):
        mean, log_std, _ = actor.gaussian_params(obs)
        dist = TransformedDistribution(Independent(Normal(mean, log_std.exp()), 1), [TanhTransform(cache_size=1)])
        action = dist.rsample()
        return action, dist.log_prob(action).reshape(-1, 1)

    actions_pi, log_prob = sample(data.observations)
    # SAC18b Eq. 18 minimised over log alpha, with log alpha in place of alpha (temperature_loss="log_alpha")
    alpha_loss = -(model.log_ent_coef * (log_prob.detach() + model.target_entropy)).mean()
    with th.no_grad():
        next_actions, next_log_prob = sample(data.next_observations)
        next_q = th.min(th.cat(target(data.next_observations, next_actions), dim=1), dim=1, keepdim=True).values
        y = data.rewards + (1 - data.dones) * model.gamma * (next_q - alpha * next_log_prob)
    critic_loss = 0.5 * sum(F.mse_loss(q, y) for q in critic(data.observations, data.actions))
    q_pi = th.min(th.cat(critic(data.observations, actions_pi), dim=1), dim=1, keepdim=True).values
    actor_loss = (alpha * log_prob - q_pi).mean()

    for loss, optimizer in [
        (alpha_loss, model.ent_coef_optimizer),
        (critic_loss, critic.optimizer),
        (actor_loss, actor.optimizer),
    ]:
        params = [p for group in optimizer.param_groups for p in group["params"]]
        for param, grad in zip(params, th.autograd.grad(loss, params, retain_graph=True)):
            param.grad = grad
    for optimizer in (model.ent_coef_optimizer, critic.optimizer, actor.optimizer):
        optimizer.step()

    with th.no_grad():
        for p_target, p in zip(target.parameters(), critic.parameters()):
            p_target.mul_(1 - model.tau).add_(model.tau * p)


def test_update_matches_reference_update():
    """Same parameters (atol 1e-6) after one update of ours and one of the reference, on the same batch and noise."""
    model = SoftAC("MlpPolicy", "Pendulum-v1", **FAST)
    model.learn(100)
    reference = copy.deepcopy(model)
    before = copy.deepcopy(model)
    data = model.replay_buffer.sample(64)
    th.manual_seed(5)
    model._gradient_step(data)
    model._update_target_networks()
    th.manual_seed(5)
    reference_update(reference, data)

    def flat(m):
        return [*m.policy.parameters(), m.log_ent_coef]

    changed = 0
    for ours, theirs, initial in zip(flat(model), flat(reference), flat(before)):
        assert th.allclose(ours, theirs, atol=1e-6, rtol=0), "update differs from the reference"
        changed += 0 if th.equal(ours, initial) else 1
    assert changed == len(flat(model)), "every parameter and the temperature moved"


def test_truncations_bootstrap_and_terminations_cut():
    """Pendulum only truncates: every sampled done is 0. MountainCarContinuous terminates at the goal."""
    model = SoftAC("MlpPolicy", "Pendulum-v1", **FAST)
    model.learn(450)  # two truncated episodes of 200 steps
    assert model.replay_buffer.timeouts.sum() == 2
    assert model.replay_buffer.sample(400).dones.sum().item() == 0.0

    import gymnasium as gym

    class TerminatesAtOnce(gym.Wrapper):
        def step(self, action):
            obs, reward, _, truncated, info = self.env.step(action)
            return obs, reward, True, truncated, info

    model = SoftAC("MlpPolicy", TerminatesAtOnce(gym.make("Pendulum-v1")), **FAST)
    model.learn(60)
    assert model.replay_buffer.sample(50).dones.min().item() == 1.0


@pytest.mark.parametrize("target_entropy, direction", [(5.0, 1), (-50.0, -1)])
def test_temperature_moves_toward_target_entropy(target_entropy, direction):
    """Entropy below the target raises alpha; above it lowers alpha."""
    model = SoftAC("MlpPolicy", "Pendulum-v1", ent_coef="auto_0.5", target_entropy=target_entropy, **FAST)
    model.learn(300)
    alpha = model.log_ent_coef.exp().item()
    assert (alpha - 0.5) * direction > 0


def test_fixed_temperature_stays_fixed():
    model = SoftAC("MlpPolicy", "Pendulum-v1", ent_coef=0.2, **FAST)
    model.learn(300)
    assert model._entropy_coefficient().item() == pytest.approx(0.2)
    assert model.log_ent_coef is None


def test_temperature_losses_give_sb3s_gradient_and_the_alpha_form():
    """temperature_loss="log_alpha" (default): the gradient in log alpha is -(log pi + H_0), SB3's;
    "alpha": alpha times that (the derivative of -alpha (log pi + H_0) through alpha = exp(log alpha))."""
    model = SoftAC("MlpPolicy", "Pendulum-v1", ent_coef="auto_0.5", **FAST)
    model.learn(100)
    data = model.replay_buffer.sample(64)
    alpha = model.log_ent_coef.exp().item()
    th.manual_seed(5)
    _, log_prob = model.actor.action_log_prob(data.observations)  # the step's first draw: the same sample
    sb3_gradient = -(log_prob.detach() + model.target_entropy).mean().item()
    gradients = {}
    for temperature_loss in ("log_alpha", "alpha"):
        trial = copy.deepcopy(model)
        trial.temperature_loss = temperature_loss
        th.manual_seed(5)
        trial._gradient_step(data)
        gradients[temperature_loss] = trial.log_ent_coef.grad.item()
    assert gradients["log_alpha"] == pytest.approx(sb3_gradient, rel=1e-5)
    assert gradients["alpha"] == pytest.approx(alpha * sb3_gradient, rel=1e-5)
    assert alpha != pytest.approx(1.0)  # so the two forms differ


def test_critic_first_order_takes_the_actor_loss_at_the_stepped_critics():
    """update_order="critic_first" (SB3's order): the critics step as usual, then the actor's gradient is
    J_pi at the stepped critics."""
    model = SoftAC("MlpPolicy", "Pendulum-v1", **FAST)
    model.learn(100)
    data = model.replay_buffer.sample(64)
    trials = {}
    for update_order in ("joint", "critic_first"):
        trials[update_order] = trial = copy.deepcopy(model)
        trial.update_order = update_order
        th.manual_seed(5)
        trial._gradient_step(data)
    for default, stepped_first in zip(trials["joint"].critic.parameters(), trials["critic_first"].critic.parameters()):
        assert th.equal(default, stepped_first)

    def actor_gradients(critic_state: dict) -> list[th.Tensor]:
        reference = copy.deepcopy(model)
        reference.critic.load_state_dict(critic_state)
        th.manual_seed(5)
        actions_pi, log_prob = reference.actor.action_log_prob(data.observations)  # the step's first draw
        min_q_pi = reference.critic.q_values(data.observations, actions_pi).min(dim=0).values
        actor_loss = (reference._entropy_coefficient() * log_prob.reshape(-1, 1) - min_q_pi).mean()
        return th.autograd.grad(actor_loss, list(reference.actor.parameters()))

    for update_order, critic_state in (
        ("joint", model.critic.state_dict()),
        ("critic_first", trials["critic_first"].critic.state_dict()),
    ):
        for param, expected in zip(trials[update_order].actor.parameters(), actor_gradients(critic_state)):
            assert th.allclose(param.grad, expected, rtol=1e-5, atol=1e-7)
    differences = [
        (a.grad - b.grad).abs().max()
        for a, b in zip(trials["joint"].actor.parameters(), trials["critic_first"].actor.parameters())
    ]
    assert max(differences) > 1e-6  # so the two orders differ on this batch


class OneBatch:
    """A replay buffer stand-in whose ``sample`` always returns the same batch."""

    def __init__(self, data) -> None:
        self.data = data

    def sample(self, batch_size: int, env=None):
        return self.data


def test_sb3_options_reproduce_sb3_sacs_update():
    """With SB3's three behaviours (log_prob_epsilon=1e-6, temperature_loss="log_alpha", update_order="critic_first"),
    SoftAC's updates from SB3's SAC's weights, batch and random draws give SB3's SAC's gradients and parameters:
    the options are exactly SB3's update, so a learning gap between the two comes from those options or from
    seeds. (Three steps: Adam's first step moves each parameter by lr * sign(gradient), blind to the rest.)"""
    from stable_baselines3 import SAC

    from sb3_softac.migration import ensemble_policy_state

    settings = dict(learning_starts=200, buffer_size=1000, ent_coef="auto_0.5", seed=0)
    sac = SAC("MlpPolicy", "Pendulum-v1", policy_kwargs=dict(net_arch=[32, 32]), **settings)
    sac.learn(150)  # fills the buffer, no update yet
    data = sac.replay_buffer.sample(64)
    sac.replay_buffer = OneBatch(data)
    with th.no_grad():
        sac.actor.mu.bias.fill_(3.0)  # near-saturated actions (1 - a^2 ~ 1e-2): SB3's 1e-6 in log pi shows, Q still steers

    def softac_from_sb3(log_prob_epsilon: float, temperature_loss: str, update_order: str) -> SoftAC:
        policy_kwargs = dict(net_arch=[32, 32], log_prob_epsilon=log_prob_epsilon)
        model = SoftAC(
            "MlpPolicy",
            "Pendulum-v1",
            policy_kwargs=policy_kwargs,
            **settings,
            temperature_loss=temperature_loss,
            update_order=update_order,
        )
        model.policy.load_state_dict(ensemble_policy_state(sac.policy.state_dict()))
        with th.no_grad():
            model.log_ent_coef.copy_(sac.log_ent_coef)
        model.replay_buffer = OneBatch(data)
        model._setup_learn(1)  # the logger train() records to
        return model

    sb3_options = (1e-6, "log_alpha", "critic_first")
    one_off = [
        (0.0, "log_alpha", "critic_first"),
        (1e-6, "alpha", "critic_first"),
        (1e-6, "log_alpha", "joint"),
    ]  # SoftAC's other choice for one
    models = {options: softac_from_sb3(*options) for options in (sb3_options, *one_off)}
    for model in (sac, *models.values()):
        th.manual_seed(5)
        model.train(gradient_steps=3, batch_size=64)

    def max_difference(model: SoftAC) -> float:
        ours, theirs = model.policy.state_dict(), ensemble_policy_state(sac.policy.state_dict())
        assert ours.keys() == theirs.keys()
        pairs = [
            *((ours[key], theirs[key]) for key in ours),
            (model.log_ent_coef, sac.log_ent_coef),
            *((ours.grad, theirs.grad) for ours, theirs in zip(model.actor.parameters(), sac.actor.parameters())),
            (model.log_ent_coef.grad, sac.log_ent_coef.grad),
        ]
        return max((ours - theirs).abs().max().item() for ours, theirs in pairs)

    assert max_difference(models[sb3_options]) < 1e-6  # 1.2e-7 here
    for options in one_off:  # each option matters, so the check can fail
        assert max_difference(models[options]) > 1e-5, options  # 3e-4 or more here


def test_polyak_update_and_interval():
    model = SoftAC("MlpPolicy", "Pendulum-v1", tau=0.25, target_update_interval=3, **FAST)
    critic = list(model.critic.parameters())
    target = list(model.critic_target.parameters())
    with th.no_grad():
        for p in critic:
            p.add_(1.0)
    before = [t.clone() for t in target]
    model._update_target_networks()
    for t, b, p in zip(target, before, critic):
        assert th.allclose(t, 0.75 * b + 0.25 * p)
    # The interval counts gradient steps over the whole run: 10 steps -> 3 target updates (after steps 3, 6, 9).
    calls = []
    model._update_target_networks = lambda: calls.append(model._n_updates)
    model.learn(60)
    assert calls == [3, 6, 9]


def test_critic_ensemble_members_are_independent():
    model = SoftAC("MlpPolicy", "Pendulum-v1", policy_kwargs=dict(net_arch=[8], n_critics=3), seed=0)
    obs, actions = th.randn(5, 3), th.rand(5, 1) * 2 - 1
    q = model.critic.q_values(obs, actions)
    assert q.shape == (3, 5, 1)
    assert not th.allclose(q[0], q[1])
    # A gradient on critic 0 touches only member 0's slice of each weight.
    q[0].sum().backward()
    for layer in model.critic.q_net:
        if hasattr(layer, "weight"):
            assert layer.weight.grad[0].abs().sum() > 0 and layer.weight.grad[1:].abs().sum() == 0
    assert th.allclose(q[0], model.critic.q1_forward(obs, actions))


def test_actor_loss_does_not_touch_critic_gradients():
    """Each critic weight receives exactly one gradient per update (the critic loss), none from the actor loss."""
    model = SoftAC("MlpPolicy", "Pendulum-v1", **FAST)
    model.learn(60)
    accumulations = {name: 0 for name, _ in model.critic.named_parameters()}
    for name, param in model.critic.named_parameters():
        param.register_post_accumulate_grad_hook(lambda p, name=name: accumulations.__setitem__(name, accumulations[name] + 1))
    model._gradient_step(model.replay_buffer.sample(16))
    assert set(accumulations.values()) == {1}
    assert all(p.requires_grad for p in model.critic.parameters()), "critic parameters are unfrozen after the actor step"


def test_n_step_discounts_used():
    """The critic target uses the buffer's per-sample gamma^k, and gamma itself without an n-step buffer."""
    model = SoftAC("MlpPolicy", "Pendulum-v1", n_steps=3, gamma=0.9, **FAST)
    model.learn(100)
    data = model.replay_buffer.sample(64)
    assert {round(float(d), 5) for d in data.discounts.unique()} <= {0.9, 0.81, 0.729}
    assert (data.discounts.round(decimals=6) == 0.729).float().mean() > 0.5

    def critic_after_step(batch):
        clone = copy.deepcopy(model)
        th.manual_seed(0)
        clone._gradient_step(batch)
        return [p.detach() for p in clone.critic.parameters()]

    as_gamma = critic_after_step(data._replace(discounts=th.full_like(data.discounts, 0.9)))
    for a, b in zip(as_gamma, critic_after_step(data._replace(discounts=None))):
        assert th.equal(a, b)
    assert not all(th.equal(a, b) for a, b in zip(as_gamma, critic_after_step(data)))


@pytest.mark.parametrize("tanh_log_std", [False, True])
def test_log_std_stays_in_bounds_and_tanh_keeps_a_gradient(tanh_log_std):
    """Clamping (SB3) has no gradient past a bound; the tanh map (pytorch_sac) keeps one and stays inside."""
    kwargs = dict(net_arch=[32, 32], log_std_bounds=(-5.0, 2.0), tanh_log_std=tanh_log_std)
    actor = SoftAC("MlpPolicy", "Pendulum-v1", **{**FAST, "policy_kwargs": kwargs}).actor
    with th.no_grad():
        actor.log_std.bias.fill_(6.0)  # above the upper bound (and where tanh is not yet exactly 1 in float32)
    _, log_std, _ = actor.gaussian_params(th.randn(16, 3))
    assert (log_std >= -5.0).all() and (log_std <= 2.0).all()
    log_std.sum().backward()
    gradient = actor.log_std.bias.grad.abs().sum().item()
    assert (gradient > 0.0) == tanh_log_std
    if tanh_log_std:  # at the head's output 0, the middle of the bounds: -5 + 3.5 (tanh(0) + 1)
        with th.no_grad():
            actor.log_std.weight.zero_()
            actor.log_std.bias.zero_()
        assert th.allclose(actor.gaussian_params(th.randn(4, 3))[1], th.full((4, 1), -1.5))


def test_ortho_init_gives_orthogonal_weights_and_zero_biases():
    kwargs = dict(net_arch=[32, 16], ortho_init=True)
    policy = SoftAC("MlpPolicy", "Pendulum-v1", **{**FAST, "policy_kwargs": kwargs}).policy
    layers = [
        module
        for module in [*policy.actor.modules(), *policy.critic.modules()]
        if isinstance(module, (th.nn.Linear, EnsembleLinear))
    ]
    assert len(layers) == 4 + 3  # actor: 2 hidden, mu, log_std; critic: 2 hidden, output
    for layer in layers:
        for weight in layer.weight.reshape(-1, *layer.weight.shape[-2:]):  # each ensemble member on its own
            gram = weight @ weight.T if weight.shape[0] <= weight.shape[1] else weight.T @ weight
            assert th.allclose(gram, th.eye(len(gram)), atol=1e-5)
        assert (layer.bias == 0).all()
    for target, online in zip(policy.critic_target.parameters(), policy.critic.parameters()):
        assert th.equal(target, online)
    default = SoftAC("MlpPolicy", "Pendulum-v1", **FAST).policy
    assert (default.actor.latent_pi[0].bias != 0).any()  # PyTorch's default init otherwise, as SB3's SAC


def test_log_prob_epsilon_gives_sb3s_squashed_log_prob():
    """log_prob_epsilon=1e-6 is SB3's SquashedDiagGaussianDistribution.log_prob; 0 (default) is the exact form."""
    from stable_baselines3.common.distributions import SquashedDiagGaussianDistribution

    kwargs = dict(net_arch=[32, 32], log_prob_epsilon=1e-6)
    actor = SoftAC("MlpPolicy", "Pendulum-v1", **{**FAST, "policy_kwargs": kwargs}).actor
    with th.no_grad():
        actor.mu.bias.fill_(4.0)  # mostly saturated actions, where the two forms differ
    obs = th.randn(256, 3)
    th.manual_seed(0)
    actions, log_prob = actor.action_log_prob(obs)
    mean, log_std, _ = actor.gaussian_params(obs)
    th.manual_seed(0)
    sb3_actions, sb3_log_prob = SquashedDiagGaussianDistribution(1).log_prob_from_params(mean, log_std)
    assert th.equal(sb3_actions, actions)
    assert th.allclose(log_prob, sb3_log_prob, atol=1e-5)
    actor.log_prob_epsilon = 0.0
    th.manual_seed(0)
    _, exact = actor.action_log_prob(obs)
    assert (exact >= log_prob - 1e-4).all() and (exact > log_prob + 0.1).any()  # the epsilon form underestimates log pi
