"""Policies for SoftAC: a tanh-squashed Gaussian actor and an ensemble of soft Q critics.

The sampling math (reparameterisation and the tanh change of variables) lives in
:meth:`SquashedGaussianActor.action_log_prob`; everything else is network plumbing on top of
Stable-Baselines3's building blocks (features extractors, ``create_mlp``, ``BasePolicy``).
"""

import functools
import itertools
import math
from collections.abc import Callable
from numbers import Real
from typing import Any

import torch as th
from gymnasium import spaces
from stable_baselines3.common.distributions import StateDependentNoiseDistribution
from stable_baselines3.common.policies import BaseModel, BasePolicy
from stable_baselines3.common.preprocessing import get_action_dim
from stable_baselines3.common.torch_layers import (
    BaseFeaturesExtractor,
    CombinedExtractor,
    FlattenExtractor,
    NatureCNN,
    create_mlp,
    get_actor_critic_arch,
)
from stable_baselines3.common.type_aliases import PyTorchObs, Schedule
from torch import nn
from torch.nn import functional as F

from sb3_softac.buffers import scalar_keys
from sb3_softac.layers import BatchRenorm, EnsembleLayerNorm
from sb3_softac.validation import SoftACValueError, TypeValueError, check_flag, check_int, check_real

# Bounds on the actor's log standard deviation (Haarnoja et al. 2018, as in SB3's SAC).
LOG_STD_MIN = -20.0
LOG_STD_MAX = 2.0
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
_LOG_2 = math.log(2.0)


def check_n_critics(n_critics: Any) -> int:
    """
    :param n_critics: Number of soft Q networks in the critic ensemble.
    :return: It as an int; an error names the value unless it is an integer >= 1.
    """
    accepted = (
        "an integer >= 1 in policy_kwargs, e.g. policy_kwargs=dict(n_critics=2) (the default); "
        "SoftAC needs at least one critic"
    )
    return check_int("n_critics", n_critics, accepted)


def check_log_std_bounds(log_std_bounds: Any) -> tuple[float, float]:
    """
    :param log_std_bounds: ``(low, high)`` bounds on the actor's log standard deviation.
    :return: The bounds as floats; an error names the value unless they are two finite numbers with ``low < high``.
    """
    accepted = (
        f"two finite numbers (low, high) with low < high, e.g. ({LOG_STD_MIN}, {LOG_STD_MAX}) (the default, as SB3) "
        "or (-5.0, 2.0) (pytorch_sac, CleanRL)"
    )
    pair = isinstance(log_std_bounds, (tuple, list)) and len(log_std_bounds) == 2
    if not (
        pair
        and all(isinstance(bound, Real) and not isinstance(bound, bool) and math.isfinite(bound) for bound in log_std_bounds)
    ):
        raise (SoftACValueError if pair else TypeValueError)(
            f"log_std_bounds={log_std_bounds!r} is invalid. Accepted: {accepted}."
        )
    low, high = float(log_std_bounds[0]), float(log_std_bounds[1])
    if not low < high:
        raise SoftACValueError(f"log_std_bounds={log_std_bounds!r} is invalid. Accepted: {accepted}.")
    return low, high


def check_log_prob_epsilon(log_prob_epsilon: Any) -> float:
    """
    :param log_prob_epsilon: See :class:`SquashedGaussianActor`.
    :return: It as a float; an error names the value unless it is a finite number >= 0.
    """
    accepted = "a finite number >= 0 (0, the default: the exact tanh correction; 1e-6: SB3's SAC's log(1 - tanh(u)^2 + 1e-6))"
    return check_real("log_prob_epsilon", log_prob_epsilon, accepted, low=0.0)


def check_critic_options(layer_norm: Any, dropout_rate: Any, batch_renorm: Any, momentum: Any, warmup: Any) -> None:
    """
    Validate the SAC-family network options of :class:`SoftACPolicy` (see its docstring).

    :param layer_norm: ``True`` or ``False``.
    :param dropout_rate: A number in [0, 1).
    :param batch_renorm: ``True`` or ``False``.
    :param momentum: ``batch_renorm_momentum``, a number in (0, 1].
    :param warmup: ``batch_renorm_warmup``, an integer >= 0.
    """
    check_flag("layer_norm", layer_norm)
    check_real(
        "dropout_rate",
        dropout_rate,
        "a number in [0, 1): the critics' dropout probability (0: no dropout; DroQ uses 0.01)",
        low=0.0,
        high=math.nextafter(1.0, 0.0),
    )
    check_flag("batch_renorm", batch_renorm)
    check_real(
        "batch_renorm_momentum",
        momentum,
        "a number in (0, 1]: the new batch's weight in the running statistics (CrossQ: 0.01, its flax momentum 0.99)",
        low=0.0,
        high=1.0,
        low_open=True,
    )
    check_int("batch_renorm_warmup", warmup, "an integer >= 0: training passes of plain batch normalisation", low=0)


def orthogonal_init(module: nn.Module) -> None:
    """
    pytorch_sac's initialisation, for ``module.apply``: orthogonal weights (gain 1) and zero biases in
    every ``nn.Linear`` and every member of an :class:`EnsembleLinear`; other modules are left as they are.

    :param module: A module (``apply`` visits all submodules).
    """
    if isinstance(module, nn.Linear):
        nn.init.orthogonal_(module.weight)
        nn.init.zeros_(module.bias)
    elif isinstance(module, EnsembleLinear):
        for weight in module.weight:
            nn.init.orthogonal_(weight)
        nn.init.zeros_(module.bias)


def tanh_log_det_jacobian(gaussian_actions: th.Tensor) -> th.Tensor:
    """
    ``sum_i log(1 - tanh(u_i)^2)``: the log-determinant of the Jacobian of ``a = tanh(u)``.

    Written as ``2 (log 2 - u - softplus(-2u))``, an identity that stays finite and exact for any ``u``
    (the naive ``log(1 - tanh(u)^2 + eps)`` saturates to ``log(eps)`` once ``|u| > ~9``).

    :param gaussian_actions: Pre-squash Gaussian sample ``u``, shape (batch, action_dim).
    :return: Shape (batch,).
    """
    return (2.0 * (_LOG_2 - gaussian_actions - F.softplus(-2.0 * gaussian_actions))).sum(dim=-1)


class ScalarSafeCombinedExtractor(CombinedExtractor):
    """
    SB3's ``CombinedExtractor`` that also accepts 0-d (scalar) ``Box`` entries in a ``Dict`` space.

    SB3 flattens each non-image entry with ``nn.Flatten()``, which fails on the (batch,) tensor of a
    0-d entry (DMC walker's ``height``, humanoid's ``head_height``). Here every entry is reshaped to
    (batch, -1) before it reaches its extractor, so a scalar becomes one feature.

    :param observation_space: The Dict observation space.
    :param cnn_output_dim: Number of features to output from each CNN submodule(s).
    :param normalized_image: Whether image entries are already normalized (SB3's flag, set by the policy
        when ``normalize_images=False``).
    """

    def __init__(self, observation_space: spaces.Dict, cnn_output_dim: int = 256, normalized_image: bool = False) -> None:
        super().__init__(observation_space, cnn_output_dim=cnn_output_dim, normalized_image=normalized_image)
        self._scalar_keys = scalar_keys(observation_space)

    def forward(self, observations: dict[str, th.Tensor]) -> th.Tensor:
        encoded = []
        for key, extractor in self.extractors.items():
            obs = observations[key]
            encoded.append(extractor(obs.reshape(-1, 1) if key in self._scalar_keys else obs))
        return th.cat(encoded, dim=1)


class SquashedGaussianActor(BasePolicy):
    """
    The SAC actor: ``a = tanh(u)``, ``u ~ N(mu(s), sigma(s)^2)`` (or gSDE noise when ``use_sde``).

    :param observation_space: Observation space.
    :param action_space: Action space (a bounded ``Box``).
    :param net_arch: Hidden layer sizes of the policy MLP.
    :param features_extractor: Network that turns observations into a feature vector.
    :param features_dim: Number of features ``features_extractor`` outputs.
    :param activation_fn: Activation between hidden layers.
    :param use_sde: Use generalized State-Dependent Exploration instead of independent Gaussian noise.
    :param log_std_init: Initial value of the gSDE log standard deviation.
    :param full_std: gSDE: one std per (feature, action) pair instead of one per feature.
    :param use_expln: gSDE: use ``expln`` instead of ``exp`` to keep the std positive without blowing up.
    :param clip_mean: gSDE: clip the pre-squash mean to ``[-clip_mean, clip_mean]`` (0 disables it).
    :param normalize_images: Whether to divide images by 255.
    :param log_std_bounds: ``(low, high)`` bounds on the log standard deviation (not used with gSDE).
    :param tanh_log_std: ``False``: clamp the log-std head's output to the bounds (SB3's SAC; no gradient
        outside them). ``True``: map it into them with ``low + (high - low) (tanh(x) + 1) / 2``
        (pytorch_sac, CleanRL), which keeps a gradient everywhere.
    :param log_prob_epsilon: ``0``: the exact tanh correction :func:`tanh_log_det_jacobian`. ``> 0``: SB3's
        ``sum_i log(1 - tanh(u_i)^2 + epsilon)`` (SB3's SAC: 1e-6), which caps each dimension's correction
        at ``log(epsilon)`` and so underestimates ``log pi`` for saturated actions.
    :param batch_renorm: Batch Renormalization (:class:`~sb3_softac.layers.BatchRenorm`) before every linear
        layer of the MLP and its heads (CrossQ, Bhatt et al. 2024).
    :param batch_renorm_momentum: See :class:`~sb3_softac.layers.BatchRenorm` (``momentum``).
    :param batch_renorm_warmup: See :class:`~sb3_softac.layers.BatchRenorm` (``warmup_steps``).
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Box,
        net_arch: list[int],
        features_extractor: BaseFeaturesExtractor,
        features_dim: int,
        activation_fn: type[nn.Module] = nn.ReLU,
        use_sde: bool = False,
        log_std_init: float = -3,
        full_std: bool = True,
        use_expln: bool = False,
        clip_mean: float = 2.0,
        normalize_images: bool = True,
        log_std_bounds: tuple[float, float] = (LOG_STD_MIN, LOG_STD_MAX),
        tanh_log_std: bool = False,
        log_prob_epsilon: float = 0.0,
        batch_renorm: bool = False,
        batch_renorm_momentum: float = 0.01,
        batch_renorm_warmup: int = 100_000,
    ) -> None:
        super().__init__(
            observation_space,
            action_space,
            features_extractor=features_extractor,
            normalize_images=normalize_images,
            squash_output=True,
        )
        self.use_sde = use_sde
        self.net_arch = net_arch
        self.features_dim = features_dim
        self.activation_fn = activation_fn
        self.log_std_init = log_std_init
        self.use_expln = use_expln
        self.full_std = full_std
        self.clip_mean = clip_mean
        self.log_std_bounds = check_log_std_bounds(log_std_bounds)
        self.tanh_log_std = tanh_log_std
        self.log_prob_epsilon = check_log_prob_epsilon(log_prob_epsilon)
        self.batch_renorm = batch_renorm
        self.batch_renorm_momentum = batch_renorm_momentum
        self.batch_renorm_warmup = batch_renorm_warmup

        action_dim = get_action_dim(self.action_space)
        last_layer_dim = net_arch[-1] if len(net_arch) > 0 else features_dim
        normalisation = []
        if batch_renorm:  # CrossQ: Batch Renormalization in front of every linear layer, the heads included
            normalisation = [functools.partial(BatchRenorm, momentum=batch_renorm_momentum, warmup_steps=batch_renorm_warmup)]
        latent_pi = create_mlp(features_dim, -1, net_arch, activation_fn, pre_linear_modules=normalisation)  # type: ignore[arg-type]
        self.latent_pi = nn.Sequential(*latent_pi, *(make(last_layer_dim) for make in normalisation))

        self.action_dist: StateDependentNoiseDistribution | None = None
        if use_sde:
            # SB3's gSDE supplies the Gaussian part; the tanh squash is applied here like the plain case.
            self.action_dist = StateDependentNoiseDistribution(
                action_dim, full_std=full_std, use_expln=use_expln, learn_features=True, squash_output=False
            )
            self.mu, self.log_std = self.action_dist.proba_distribution_net(
                latent_dim=last_layer_dim, latent_sde_dim=last_layer_dim, log_std_init=log_std_init
            )
            if clip_mean > 0.0:
                self.mu = nn.Sequential(self.mu, nn.Hardtanh(min_val=-clip_mean, max_val=clip_mean))
        else:
            self.mu = nn.Linear(last_layer_dim, action_dim)
            self.log_std = nn.Linear(last_layer_dim, action_dim)  # type: ignore[assignment]

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(
            dict(
                net_arch=self.net_arch,
                features_dim=self.features_dim,
                activation_fn=self.activation_fn,
                use_sde=self.use_sde,
                log_std_init=self.log_std_init,
                full_std=self.full_std,
                use_expln=self.use_expln,
                features_extractor=self.features_extractor,
                clip_mean=self.clip_mean,
                log_std_bounds=self.log_std_bounds,
                tanh_log_std=self.tanh_log_std,
                log_prob_epsilon=self.log_prob_epsilon,
                batch_renorm=self.batch_renorm,
                batch_renorm_momentum=self.batch_renorm_momentum,
                batch_renorm_warmup=self.batch_renorm_warmup,
            )
        )
        return data

    def get_std(self) -> th.Tensor:
        """
        Standard deviation of the gSDE noise (logged by SB3 as ``train/std``).

        :return: The std matrix of the exploration weights.
        """
        if self.action_dist is None:
            raise ValueError(f"get_std() is only defined with gSDE (use_sde=True); this actor has use_sde={self.use_sde}.")
        return self.action_dist.get_std(self.log_std)

    def reset_noise(self, batch_size: int = 1) -> None:
        """
        Sample new gSDE exploration weights.

        :param batch_size: Number of noise matrices (one per environment).
        """
        if self.action_dist is None:
            raise ValueError(f"reset_noise() is only defined with gSDE (use_sde=True); this actor has use_sde={self.use_sde}.")
        self.action_dist.sample_weights(self.log_std, batch_size=batch_size)

    def gaussian_params(self, obs: PyTorchObs) -> tuple[th.Tensor, th.Tensor, th.Tensor]:
        """
        Mean and log-std of the pre-squash Gaussian, and the latent features gSDE needs.

        :param obs: Observations.
        :return: ``(mean, log_std, latent_pi)``; with gSDE ``log_std`` is the exploration parameter.
        """
        features = self.extract_features(obs, self.features_extractor)
        latent_pi = self.latent_pi(features)
        mean = self.mu(latent_pi).float()  # float32 for the sampling math, also under bf16 autocast
        if self.use_sde:
            return mean, self.log_std, latent_pi.float()
        return mean, self._bounded_log_std(self.log_std(latent_pi).float()), latent_pi  # type: ignore[operator]

    def _bounded_log_std(self, log_std: th.Tensor) -> th.Tensor:
        """The log-std head's output kept in ``log_std_bounds``: clamped, or tanh-mapped (``tanh_log_std``)."""
        low, high = self.log_std_bounds
        if self.tanh_log_std:
            return low + 0.5 * (high - low) * (th.tanh(log_std) + 1.0)
        return log_std.clamp(low, high)

    def _sample_gaussian(self, mean: th.Tensor, log_std: th.Tensor, latent_pi: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
        """Reparameterised ``u = mu + sigma * eps`` and its Gaussian log-density ``log N(u; mu, sigma)`` (summed)."""
        if self.action_dist is not None:
            distribution = self.action_dist.proba_distribution(mean, log_std, latent_pi)
            gaussian_actions = distribution.sample()
            return gaussian_actions, distribution.log_prob(gaussian_actions)
        noise = th.randn_like(mean)
        gaussian_actions = mean + log_std.exp() * noise
        log_prob = (-0.5 * noise.pow(2) - log_std - _HALF_LOG_2PI).sum(dim=-1)
        return gaussian_actions, log_prob

    def forward(self, obs: PyTorchObs, deterministic: bool = False) -> th.Tensor:
        """
        Actions in [-1, 1] for acting: ``tanh(mu)`` when deterministic, else a sample (no log-prob computed).

        :param obs: Observations.
        :param deterministic: Return the mode instead of a sample.
        :return: Squashed actions, shape (batch, action_dim).
        """
        mean, log_std, latent_pi = self.gaussian_params(obs)
        if deterministic:
            return th.tanh(mean)
        if self.action_dist is not None:
            return th.tanh(self.action_dist.proba_distribution(mean, log_std, latent_pi).sample())
        return th.tanh(mean + log_std.exp() * th.randn_like(mean))

    def action_log_prob(self, obs: PyTorchObs) -> tuple[th.Tensor, th.Tensor]:
        """
        Reparameterised sample ``a = tanh(u)`` and its log-likelihood under the squashed policy.

        Change of variables: ``log pi(a|s) = log N(u; mu, sigma) - sum_i log(1 - tanh(u_i)^2)``.

        :param obs: Observations.
        :return: ``(actions, log_prob)`` of shapes (batch, action_dim) and (batch,); differentiable in the actor.
        """
        gaussian_actions, gaussian_log_prob = self._sample_gaussian(*self.gaussian_params(obs))
        actions = th.tanh(gaussian_actions)
        if self.log_prob_epsilon > 0.0:  # SB3's form (opt-in)
            return actions, gaussian_log_prob - th.log(1.0 - actions.pow(2) + self.log_prob_epsilon).sum(dim=-1)
        return actions, gaussian_log_prob - tanh_log_det_jacobian(gaussian_actions)

    def _predict(self, observation: PyTorchObs, deterministic: bool = False) -> th.Tensor:
        return self(observation, deterministic)


class EnsembleLinear(nn.Module):
    """
    ``n`` independent linear layers evaluated as one batched matmul.

    Each member is initialised like ``nn.Linear`` (uniform in ``+-1/sqrt(in_features)``).

    :param n_members: Number of independent layers.
    :param in_features: Input size.
    :param out_features: Output size.
    """

    def __init__(self, n_members: int, in_features: int, out_features: int) -> None:
        super().__init__()
        self.n_members, self.in_features, self.out_features = n_members, in_features, out_features
        bound = 1.0 / math.sqrt(in_features) if in_features > 0 else 0.0
        self.weight = nn.Parameter(th.empty(n_members, in_features, out_features).uniform_(-bound, bound))
        self.bias = nn.Parameter(th.empty(n_members, 1, out_features).uniform_(-bound, bound))

    def forward(self, x: th.Tensor) -> th.Tensor:
        """
        :param x: Shape (n_members, batch, in_features).
        :return: Shape (n_members, batch, out_features).
        """
        if self.out_features == 1:
            # A matrix-vector product (the Q head): multiply-and-sum is about twice as fast on CPU as
            # a batched matmul with one output column, forward and backward (benchmarks/matmul_shapes.py).
            return (x * self.weight.transpose(1, 2)).sum(dim=2, keepdim=True) + self.bias
        return th.baddbmm(self.bias, x, self.weight)

    def extra_repr(self) -> str:
        return f"n_members={self.n_members}, in_features={self.in_features}, out_features={self.out_features}"


class SoftQEnsemble(BaseModel):
    """
    ``n_critics`` soft Q networks ``Q_i(s, a)`` sharing one features extractor, computed in one pass.

    ``forward`` returns a tuple of (batch, 1) tensors, like SB3's ``ContinuousCritic``;
    :meth:`q_values` returns the stacked (n_critics, batch, 1) tensor the update uses.

    :param observation_space: Observation space.
    :param action_space: Action space.
    :param net_arch: Hidden layer sizes of each Q network.
    :param features_extractor: Network that turns observations into a feature vector.
    :param features_dim: Number of features ``features_extractor`` outputs.
    :param activation_fn: Activation between hidden layers.
    :param normalize_images: Whether to divide images by 255.
    :param n_critics: Number of Q networks (2 for clipped double-Q).
    :param share_features_extractor: The extractor belongs to the actor: the critic loss must not
        update it, so features are computed without gradient.
    :param layer_norm: LayerNorm after each hidden linear layer (DroQ, Hiraoka et al. 2022, Sec. 3).
    :param dropout_rate: Dropout with this probability after each hidden linear layer, before the LayerNorm
        (DroQ's order: linear, dropout, layer norm, activation); 0 adds none.
    :param batch_renorm: Batch Renormalization in front of every linear layer (CrossQ, Bhatt et al. 2024).
    :param batch_renorm_momentum: See :class:`~sb3_softac.layers.BatchRenorm` (``momentum``).
    :param batch_renorm_warmup: See :class:`~sb3_softac.layers.BatchRenorm` (``warmup_steps``).
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Box,
        net_arch: list[int],
        features_extractor: BaseFeaturesExtractor,
        features_dim: int,
        activation_fn: type[nn.Module] = nn.ReLU,
        normalize_images: bool = True,
        n_critics: int = 2,
        share_features_extractor: bool = True,
        layer_norm: bool = False,
        dropout_rate: float = 0.0,
        batch_renorm: bool = False,
        batch_renorm_momentum: float = 0.01,
        batch_renorm_warmup: int = 100_000,
    ) -> None:
        super().__init__(
            observation_space, action_space, features_extractor=features_extractor, normalize_images=normalize_images
        )
        check_n_critics(n_critics)
        self.n_critics = n_critics
        self.share_features_extractor = share_features_extractor
        sizes = [features_dim + get_action_dim(self.action_space), *net_arch, 1]
        layers: list[nn.Module] = []
        for index, (in_size, out_size) in enumerate(itertools.pairwise(sizes)):
            if batch_renorm:
                layers.append(
                    BatchRenorm(in_size, n_critics, momentum=batch_renorm_momentum, warmup_steps=batch_renorm_warmup)
                )
            layers.append(EnsembleLinear(n_critics, in_size, out_size))
            if index == len(sizes) - 2:
                break  # the Q head: nothing after it
            if dropout_rate > 0.0:
                layers.append(nn.Dropout(dropout_rate))
            if layer_norm:
                layers.append(EnsembleLayerNorm(n_critics, out_size))
            layers.append(activation_fn())
        self.q_net = nn.Sequential(*layers)

    def q_values(self, obs: PyTorchObs, actions: th.Tensor) -> th.Tensor:
        """
        :param obs: Observations.
        :param actions: Actions in [-1, 1], shape (batch, action_dim).
        :return: Q values of every critic, shape (n_critics, batch, 1).
        """
        if self.share_features_extractor:
            with th.no_grad():
                features = self.extract_features(obs, self.features_extractor)  # type: ignore[arg-type]
        else:
            features = self.extract_features(obs, self.features_extractor)  # type: ignore[arg-type]
        critic_input = th.cat([features, actions], dim=1)
        return self.q_net(critic_input.expand(self.n_critics, *critic_input.shape)).float()

    def forward(self, obs: PyTorchObs, actions: th.Tensor) -> tuple[th.Tensor, ...]:
        """
        :param obs: Observations.
        :param actions: Actions in [-1, 1].
        :return: One (batch, 1) tensor per critic.
        """
        return tuple(self.q_values(obs, actions).unbind(dim=0))

    def q1_forward(self, obs: PyTorchObs, actions: th.Tensor) -> th.Tensor:
        """
        :param obs: Observations.
        :param actions: Actions in [-1, 1].
        :return: The first critic's Q values, shape (batch, 1).
        """
        return self.q_values(obs, actions)[0]


class SoftACPolicy(BasePolicy):
    """
    Actor, critic ensemble and target critics for SoftAC; accepts SB3 SAC's ``policy_kwargs``.

    :param observation_space: Observation space.
    :param action_space: Action space (a bounded ``Box``).
    :param lr_schedule: Learning rate schedule (could be constant).
    :param net_arch: Hidden sizes, shared (``[256, 256]``) or per network (``dict(pi=[...], qf=[...])``).
    :param activation_fn: Activation function.
    :param use_sde: Whether to use State Dependent Exploration or not.
    :param log_std_init: Initial value for the log standard deviation (gSDE).
    :param use_expln: gSDE: use ``expln()`` instead of ``exp()`` to keep the std positive.
    :param clip_mean: gSDE: clip the mean output to avoid numerical instability (0 disables it).
    :param features_extractor_class: Features extractor to use.
    :param features_extractor_kwargs: Keyword arguments to pass to the features extractor.
    :param normalize_images: Whether to normalize images or not, dividing by 255.0 (True by default).
    :param optimizer_class: The optimizer to use, ``th.optim.Adam`` by default.
    :param optimizer_kwargs: Additional keyword arguments, excluding the learning rate, to pass to the optimizer.
        Adam is fused (``fused=True``) unless these name ``fused`` or ``foreach``.
    :param n_critics: Number of critic networks to create.
    :param share_features_extractor: Whether to share or not the features extractor between the actor and
        the critic (the critic then does not train it).
    :param log_std_bounds: ``(low, high)`` bounds on the actor's log standard deviation; SB3's are the default,
        pytorch_sac and CleanRL use ``(-5, 2)`` with ``tanh_log_std=True``.
    :param tanh_log_std: Map the log-std into its bounds with tanh instead of clamping it (see
        :class:`SquashedGaussianActor`).
    :param log_prob_epsilon: ``0`` for the exact tanh correction in ``log pi``; SB3's SAC uses ``1e-6`` (see
        :class:`SquashedGaussianActor`).
    :param ortho_init: Initialise the actor's and critics' MLP layers with orthogonal weights and zero biases
        (pytorch_sac's init); ``False`` keeps PyTorch's default init, as SB3's SAC. Features extractors keep theirs.
    :param layer_norm: LayerNorm after each hidden layer of the critics (DroQ, Hiraoka et al. 2022; see
        :class:`SoftQEnsemble`).
    :param dropout_rate: Dropout probability after each hidden layer of the critics (DroQ uses 0.01); the
        target critics keep dropout active, as in DroQ's target (Hiraoka et al. 2022, Algorithm 2).
    :param batch_renorm: Batch Renormalization in the critics and the actor (CrossQ, Bhatt et al. 2024; see
        :class:`~sb3_softac.layers.BatchRenorm`).
    :param batch_renorm_momentum: The new batch's weight in the running statistics (0.01, CrossQ's flax 0.99).
    :param batch_renorm_warmup: Training passes of plain batch normalisation before the renormalisation
        corrections start (CrossQ: 100,000).
    :param target_networks: Build target critics. Set by :class:`~sb3_softac.SoftAC` from its own
        ``target_networks`` argument; ``False`` (CrossQ) leaves ``critic_target`` as ``None``.
    """

    actor: SquashedGaussianActor
    critic: SoftQEnsemble
    critic_target: SoftQEnsemble | None

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Box,
        lr_schedule: Schedule,
        net_arch: list[int] | dict[str, list[int]] | None = None,
        activation_fn: type[nn.Module] = nn.ReLU,
        use_sde: bool = False,
        log_std_init: float = -3,
        use_expln: bool = False,
        clip_mean: float = 2.0,
        features_extractor_class: type[BaseFeaturesExtractor] = FlattenExtractor,
        features_extractor_kwargs: dict[str, Any] | None = None,
        normalize_images: bool = True,
        optimizer_class: type[th.optim.Optimizer] = th.optim.Adam,
        optimizer_kwargs: dict[str, Any] | None = None,
        n_critics: int = 2,
        share_features_extractor: bool = False,
        log_std_bounds: tuple[float, float] = (LOG_STD_MIN, LOG_STD_MAX),
        tanh_log_std: bool = False,
        log_prob_epsilon: float = 0.0,
        ortho_init: bool = False,
        layer_norm: bool = False,
        dropout_rate: float = 0.0,
        batch_renorm: bool = False,
        batch_renorm_momentum: float = 0.01,
        batch_renorm_warmup: int = 100_000,
        target_networks: bool = True,
    ) -> None:
        super().__init__(
            observation_space,
            action_space,
            features_extractor_class,
            features_extractor_kwargs,
            optimizer_class=optimizer_class,
            optimizer_kwargs=optimizer_kwargs,
            squash_output=True,
            normalize_images=normalize_images,
        )
        check_n_critics(n_critics)
        check_critic_options(layer_norm, dropout_rate, batch_renorm, batch_renorm_momentum, batch_renorm_warmup)
        if net_arch is None:
            net_arch = [256, 256]
        actor_arch, critic_arch = get_actor_critic_arch(net_arch)
        self.net_arch = net_arch
        self.activation_fn = activation_fn
        self.use_sde = use_sde
        self.log_std_init = log_std_init
        self.use_expln = use_expln
        self.clip_mean = clip_mean
        self.n_critics = n_critics
        self.share_features_extractor = share_features_extractor
        self.log_std_bounds = log_std_bounds  # checked by the actor (make_actor, below)
        self.tanh_log_std = tanh_log_std
        self.log_prob_epsilon = log_prob_epsilon
        self.ortho_init = ortho_init
        self.layer_norm = layer_norm
        self.dropout_rate = dropout_rate
        self.batch_renorm = batch_renorm
        self.batch_renorm_momentum = batch_renorm_momentum
        self.batch_renorm_warmup = batch_renorm_warmup
        self.target_networks = check_flag("target_networks", target_networks)
        self._actor_arch, self._critic_arch = actor_arch, critic_arch
        self._build(lr_schedule)

    def _build(self, lr_schedule: Schedule) -> None:
        optimizer_kwargs = self.optimizer_kwargs
        if self.optimizer_class is th.optim.Adam and "foreach" not in optimizer_kwargs:  # an explicit "fused" wins below
            # One fused kernel per parameter instead of ~10 ops; same math (SB3's SAC leaves Adam unfused).
            optimizer_kwargs = {"fused": True, **optimizer_kwargs}
        self.actor = self.make_actor()
        if self.ortho_init:
            self._apply_to_mlps(self.actor, orthogonal_init)
        self.actor.optimizer = self.optimizer_class(self.actor.parameters(), lr=lr_schedule(1), **optimizer_kwargs)  # type: ignore[call-arg]

        if self.share_features_extractor:
            self.critic = self.make_critic(features_extractor=self.actor.features_extractor)
            # The shared extractor is trained by the actor loss only.
            critic_parameters = [p for name, p in self.critic.named_parameters() if "features_extractor" not in name]
        else:
            self.critic = self.make_critic()
            critic_parameters = list(self.critic.parameters())
        if self.ortho_init:
            self._apply_to_mlps(self.critic, orthogonal_init)
        self.critic.optimizer = self.optimizer_class(critic_parameters, lr=lr_schedule(1), **optimizer_kwargs)  # type: ignore[call-arg]

        self.critic_target = self.make_target_critic() if self.target_networks else None

    def make_target_critic(self) -> SoftQEnsemble:
        """
        :return: A copy of the critics, never trained by gradient and never sharing the extractor, in eval
            mode except for dropout, which stays active as in DroQ's target (Hiraoka et al. 2022, Algorithm 2).
        """
        target = self.make_critic()
        target.load_state_dict(self.critic.state_dict())
        target.set_training_mode(False)
        for layer in target.q_net:
            if isinstance(layer, nn.Dropout):
                layer.train(True)
        return target

    @staticmethod
    def _apply_to_mlps(network: nn.Module, function: Callable[[nn.Module], None]) -> None:
        """Apply ``function`` to every submodule of ``network`` outside its features extractor."""
        for name, child in network.named_children():
            if name != "features_extractor":
                child.apply(function)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(
            dict(
                net_arch=self.net_arch,
                activation_fn=self.activation_fn,
                use_sde=self.use_sde,
                log_std_init=self.log_std_init,
                use_expln=self.use_expln,
                clip_mean=self.clip_mean,
                n_critics=self.n_critics,
                lr_schedule=self._dummy_schedule,  # not needed to load the policy alone
                optimizer_class=self.optimizer_class,
                optimizer_kwargs=self.optimizer_kwargs,
                features_extractor_class=self.features_extractor_class,
                features_extractor_kwargs=self.features_extractor_kwargs,
                share_features_extractor=self.share_features_extractor,
                log_std_bounds=self.log_std_bounds,
                tanh_log_std=self.tanh_log_std,
                log_prob_epsilon=self.log_prob_epsilon,
                ortho_init=self.ortho_init,
                layer_norm=self.layer_norm,
                dropout_rate=self.dropout_rate,
                batch_renorm=self.batch_renorm,
                batch_renorm_momentum=self.batch_renorm_momentum,
                batch_renorm_warmup=self.batch_renorm_warmup,
                target_networks=self.target_networks,
            )
        )
        return data

    def reset_noise(self, batch_size: int = 1) -> None:
        """
        Sample new weights for the exploration matrix, when using gSDE.

        :param batch_size: Number of noise matrices (one per environment).
        """
        self.actor.reset_noise(batch_size=batch_size)

    def make_actor(self, features_extractor: BaseFeaturesExtractor | None = None) -> SquashedGaussianActor:
        """
        :param features_extractor: Extractor to use; a new one is built when ``None``.
        :return: A new actor on the policy's device.
        """
        extractor = features_extractor or self.make_features_extractor()
        return SquashedGaussianActor(
            self.observation_space,
            self.action_space,  # type: ignore[arg-type]
            net_arch=self._actor_arch,
            features_extractor=extractor,
            features_dim=extractor.features_dim,
            activation_fn=self.activation_fn,
            use_sde=self.use_sde,
            log_std_init=self.log_std_init,
            use_expln=self.use_expln,
            clip_mean=self.clip_mean,
            normalize_images=self.normalize_images,
            log_std_bounds=self.log_std_bounds,
            tanh_log_std=self.tanh_log_std,
            log_prob_epsilon=self.log_prob_epsilon,
            batch_renorm=self.batch_renorm,
            batch_renorm_momentum=self.batch_renorm_momentum,
            batch_renorm_warmup=self.batch_renorm_warmup,
        ).to(self.device)

    def make_critic(self, features_extractor: BaseFeaturesExtractor | None = None) -> SoftQEnsemble:
        """
        :param features_extractor: The actor's extractor to share; a new one is built when ``None``.
        :return: A new critic ensemble on the policy's device.
        """
        extractor = features_extractor or self.make_features_extractor()
        return SoftQEnsemble(
            self.observation_space,
            self.action_space,  # type: ignore[arg-type]
            net_arch=self._critic_arch,
            features_extractor=extractor,
            features_dim=extractor.features_dim,
            activation_fn=self.activation_fn,
            normalize_images=self.normalize_images,
            n_critics=self.n_critics,
            share_features_extractor=features_extractor is not None,
            layer_norm=self.layer_norm,
            dropout_rate=self.dropout_rate,
            batch_renorm=self.batch_renorm,
            batch_renorm_momentum=self.batch_renorm_momentum,
            batch_renorm_warmup=self.batch_renorm_warmup,
        ).to(self.device)

    def forward(self, obs: PyTorchObs, deterministic: bool = False) -> th.Tensor:
        return self._predict(obs, deterministic=deterministic)

    def _predict(self, observation: PyTorchObs, deterministic: bool = False) -> th.Tensor:
        return self.actor(observation, deterministic)

    def set_training_mode(self, mode: bool) -> None:
        """
        Put the actor and critic in training or evaluation mode (batch norm, dropout).

        :param mode: ``True`` for training mode.
        """
        if self.training == self.actor.training == self.critic.training == mode:
            return  # called twice per env step by learn(); walking the modules is not free
        self.actor.set_training_mode(mode)
        self.critic.set_training_mode(mode)
        self.training = mode


MlpPolicy = SoftACPolicy


class CnnPolicy(SoftACPolicy):
    """
    :class:`SoftACPolicy` with SB3's ``NatureCNN`` features extractor for image observations.

    Takes the same parameters as :class:`SoftACPolicy`; only the default extractor differs.
    """

    def __init__(self, *args: Any, features_extractor_class: type[BaseFeaturesExtractor] = NatureCNN, **kwargs: Any) -> None:
        super().__init__(*args, features_extractor_class=features_extractor_class, **kwargs)  # type: ignore[misc]


class MultiInputPolicy(SoftACPolicy):
    """
    :class:`SoftACPolicy` for ``Dict`` observations, 0-d entries included (:class:`ScalarSafeCombinedExtractor`).

    Takes the same parameters as :class:`SoftACPolicy`; only the default extractor differs.
    """

    def __init__(
        self, *args: Any, features_extractor_class: type[BaseFeaturesExtractor] = ScalarSafeCombinedExtractor, **kwargs: Any
    ) -> None:
        super().__init__(*args, features_extractor_class=features_extractor_class, **kwargs)  # type: ignore[misc]
