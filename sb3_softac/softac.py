"""SoftAC: Soft Actor-Critic (Haarnoja et al. 2018) on Stable-Baselines3's off-policy machinery.

Equation numbers refer to ``shared/reference/sac-derivation.txt``:
Eq. 12 the maximum-entropy objective, Eq. 15 the soft Bellman recursion
``Q(s,a) = r + E[Q(s',a') - alpha log pi(a'|s')]``, Eq. 16 the optimal temperature as the
Lagrangian dual of the entropy-constrained objective.
"""

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from numbers import Real
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.base_class import maybe_make_env
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.noise import ActionNoise
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, ReplayBufferSamples, Schedule
from stable_baselines3.common.utils import get_parameters_by_name
from torch import nn

from sb3_softac.buffers import DeviceReplayBuffer, ScalarSafeDictReplayBuffer, device_sampling_applies, scalar_keys
from sb3_softac.checkpoints import read_policy_state
from sb3_softac.cuda_graphs import CapturedStep, set_capturable, supports_capture
from sb3_softac.policies import (
    CnnPolicy,
    MlpPolicy,
    MultiInputPolicy,
    SoftACPolicy,
    SoftQEnsemble,
    SquashedGaussianActor,
    check_n_critics,
)

SelfSoftAC = TypeVar("SelfSoftAC", bound="SoftAC")

_ENT_COEF_FORMS = "'auto', 'auto_<initial value>' such as 'auto_0.1', or a positive float for a fixed temperature"


def parse_ent_coef(ent_coef: str | float) -> tuple[bool, float]:
    """
    Read SB3's ``ent_coef`` convention.

    :param ent_coef: ``"auto"`` (learned, starts at 1), ``"auto_<init>"`` (learned, starts at ``init``)
        or a positive number (fixed temperature).
    :return: ``(learned, initial_value)``.
    """
    if isinstance(ent_coef, str):
        if ent_coef == "auto":
            return True, 1.0
        if ent_coef.startswith("auto_"):
            try:
                init_value = float(ent_coef[len("auto_") :])
            except ValueError:
                init_value = math.nan
            if not (math.isfinite(init_value) and init_value > 0.0):
                raise ValueError(
                    f"ent_coef={ent_coef!r} is malformed: the initial temperature after 'auto_' must be a positive "
                    f"finite number. Accepted: {_ENT_COEF_FORMS}."
                )
            return True, init_value
        raise ValueError(f"ent_coef={ent_coef!r} is not understood. Accepted: {_ENT_COEF_FORMS}.")
    if isinstance(ent_coef, bool) or not isinstance(ent_coef, Real) or not (math.isfinite(ent_coef) and ent_coef > 0.0):
        raise ValueError(
            f"ent_coef={ent_coef!r} is invalid: a fixed temperature must be a positive finite number. Accepted: {_ENT_COEF_FORMS}."
        )
    return False, float(ent_coef)


def resolve_target_entropy(target_entropy: str | float, action_space: spaces.Box) -> float:
    """
    :param target_entropy: ``"auto"`` for ``-dim(A)`` (Haarnoja et al. 2018b), or a number.
    :param action_space: The action space.
    :return: The target entropy ``H_0`` as a float.
    """
    if isinstance(target_entropy, str) and target_entropy == "auto":
        return -float(np.prod(action_space.shape))
    check_target_entropy(target_entropy)
    return float(target_entropy)


def check_target_entropy(target_entropy: Any) -> None:
    """
    Raise a ``ValueError`` unless ``target_entropy`` is ``"auto"`` or a finite real number.

    :param target_entropy: The value to check.
    """
    if isinstance(target_entropy, str) and target_entropy == "auto":
        return
    if isinstance(target_entropy, bool) or not isinstance(target_entropy, Real) or not math.isfinite(target_entropy):
        raise ValueError(
            f"target_entropy={target_entropy!r} is invalid. Accepted: 'auto' (= -dim(action space)) or a finite number, "
            "e.g. target_entropy=-6.0."
        )


def check_action_space(action_space: spaces.Space) -> None:
    """
    Raise a ``ValueError`` unless ``action_space`` is a bounded ``Box``: the policy squashes with tanh.

    :param action_space: The environment's action space.
    """
    if not isinstance(action_space, spaces.Box):
        raise ValueError(
            f"SoftAC needs a continuous gymnasium.spaces.Box action space, got {action_space}. "
            "For Discrete, MultiDiscrete or MultiBinary actions use an algorithm for discrete actions (e.g. SB3's DQN or PPO)."
        )
    if not (np.all(np.isfinite(action_space.low)) and np.all(np.isfinite(action_space.high))):
        raise ValueError(
            f"SoftAC needs finite action bounds to rescale its tanh-squashed actions, got {action_space}. "
            "Give the Box finite low/high (e.g. wrap the env with gymnasium.wrappers.RescaleAction)."
        )


def check_hyperparameters(tau: float, gamma: float, ent_coef: str | float, target_entropy: Any, target_update_interval: int) -> None:
    """
    Validate the scalar hyperparameters at construction; each error names the value and what is accepted.

    :param tau: Polyak coefficient, in (0, 1].
    :param gamma: Discount factor, in [0, 1].
    :param ent_coef: See :func:`parse_ent_coef`.
    :param target_entropy: See :func:`check_target_entropy`.
    :param target_update_interval: Positive integer.
    """
    if isinstance(tau, bool) or not isinstance(tau, Real) or not 0.0 < tau <= 1.0:
        raise ValueError(f"tau={tau!r} is invalid: the soft target update coefficient must be in (0, 1] (1 = hard copy).")
    if isinstance(gamma, bool) or not isinstance(gamma, Real) or not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma={gamma!r} is invalid: the discount factor must be in [0, 1].")
    parse_ent_coef(ent_coef)
    check_target_entropy(target_entropy)
    if isinstance(target_update_interval, bool) or not isinstance(target_update_interval, int) or target_update_interval < 1:
        raise ValueError(f"target_update_interval={target_update_interval!r} is invalid: it must be an integer >= 1.")


class NonFiniteError(FloatingPointError):
    """A NaN or inf reached training: from the env (observation, reward, action) or from a loss."""


def first_non_finite(arrays: dict[str, Any]) -> str | None:
    """
    :param arrays: Named numpy arrays (or dicts of them, for Dict observations).
    :return: The name (``"observation['height']"`` for a Dict entry) of the first one holding a NaN or inf.
    """
    for name, value in arrays.items():
        if isinstance(value, dict):
            inner = first_non_finite({f"{name}[{key!r}]": item for key, item in value.items()})
            if inner is not None:
                return inner
        elif np.issubdtype(np.asarray(value).dtype, np.floating) and not np.all(np.isfinite(value)):
            return name
    return None


@contextmanager
def frozen(parameters: list[nn.Parameter]) -> Iterator[None]:
    """Temporarily stop gradients into ``parameters`` (gradients still flow through them to their inputs)."""
    for param in parameters:
        param.requires_grad_(False)
    try:
        yield
    finally:
        for param in parameters:
            param.requires_grad_(True)


class SoftAC(OffPolicyAlgorithm):
    """
    Soft Actor-Critic (SAC), written from the derivation, with the constructor of SB3's ``SAC``.

    Twin (``n_critics``) soft Q networks with polyak-averaged targets, a tanh-squashed Gaussian actor,
    and either a fixed temperature (``ent_coef=<float>``) or one learned to keep the policy entropy
    at ``target_entropy`` (``ent_coef="auto"``).
    Papers: https://arxiv.org/abs/1801.01290, https://arxiv.org/abs/1812.05905

    :param policy: The policy model to use (MlpPolicy, CnnPolicy, MultiInputPolicy, or a class).
    :param env: The environment to learn from (if registered in Gym, can be str).
    :param learning_rate: Learning rate for Adam, the same for actor, critics and temperature;
        it can be a function of the current progress remaining (from 1 to 0).
    :param buffer_size: Size of the replay buffer.
    :param learning_starts: How many steps of the model to collect transitions for before learning starts.
    :param batch_size: Minibatch size for each gradient update.
    :param tau: The soft update coefficient ("Polyak update", in (0, 1]).
    :param gamma: The discount factor, in [0, 1].
    :param train_freq: Update the model every ``train_freq`` steps. Alternatively pass a tuple of frequency
        and unit like ``(5, "step")`` or ``(2, "episode")``.
    :param gradient_steps: How many gradient steps to do after each rollout (see ``train_freq``).
        ``-1`` means as many gradient steps as steps done in the environment during the rollout.
    :param action_noise: The action noise type (None by default), for hard exploration problems.
    :param replay_buffer_class: Replay buffer class to use (for instance ``HerReplayBuffer``).
        If ``None``, it will be automatically selected.
    :param replay_buffer_kwargs: Keyword arguments to pass to the replay buffer on creation.
    :param optimize_memory_usage: Enable a memory efficient variant of the replay buffer.
    :param n_steps: When > 1, use n-step returns (SB3's ``NStepReplayBuffer``) in the critic target.
        Only used when ``replay_buffer_class`` is ``None``; not supported for Dict observations.
    :param ent_coef: Entropy temperature alpha. ``"auto"`` learns it (starting at 1), ``"auto_0.1"`` learns it
        starting at 0.1, a positive float fixes it.
    :param target_update_interval: Update the target networks every ``target_update_interval`` gradient steps
        (counted over the whole training, see README).
    :param target_entropy: Target entropy ``H_0`` when learning ``ent_coef``; ``"auto"`` means ``-dim(A)``.
    :param use_sde: Whether to use generalized State Dependent Exploration (gSDE) instead of action noise exploration.
    :param sde_sample_freq: Sample a new noise matrix every n steps when using gSDE
        (-1: only at the beginning of the rollout).
    :param use_sde_at_warmup: Whether to use gSDE instead of uniform sampling during the warm up phase.
    :param stats_window_size: Window size for the rollout logging, specifying the number of episodes to average
        the reported success rate, mean episode length, and mean reward over.
    :param tensorboard_log: The log location for tensorboard (if None, no logging).
    :param policy_kwargs: Additional arguments to be passed to the policy on creation (see :class:`SoftACPolicy`).
    :param verbose: Verbosity level: 0 for no output, 1 for info messages, 2 for debug messages.
    :param seed: Seed for the pseudo random generators.
    :param device: Device (cpu, cuda, ...) on which the code should be run ("auto": GPU if possible).
    :param _init_setup_model: Whether or not to build the network at the creation of the instance.
    """

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {
        "MlpPolicy": MlpPolicy,
        "CnnPolicy": CnnPolicy,
        "MultiInputPolicy": MultiInputPolicy,
    }
    #: Stop with a NonFiniteError on NaN/inf from the env or in a loss; set ``model.check_finite = False``
    #: to skip the (small) cost of the checks.
    check_finite: bool = True
    #: Opt-in: run the update's matmuls in bfloat16 (torch.autocast); losses and optimizer stay float32.
    #: Pays off where the hardware has bf16 matmul units (e.g. CPUs with AMX, recent GPUs).
    bf16_matmuls: bool = False
    #: On CUDA, replay each gradient step as one CUDA graph (see ``cuda_graphs.py``); not with gSDE.
    cuda_graphs: bool = True
    #: Opt-in: ``torch.compile`` the gradient step (fuses its elementwise kernels; compiling takes a while).
    compile_update: bool = False
    #: Opt-in: the temperature loss in log alpha, ``-log(alpha) (log pi + H_0)``, as SB3's SAC and the
    #: authors' softlearning code write it. Same fixed point; its gradient is not scaled by alpha.
    log_alpha_loss: bool = False
    #: Opt-in: SB3's update order. Step the critics first, so that the actor loss is taken at the
    #: stepped critics (two backward passes). Default: every loss at the same parameters (one backward).
    critic_step_first: bool = False
    policy: SoftACPolicy
    actor: SquashedGaussianActor
    critic: SoftQEnsemble
    critic_target: SoftQEnsemble

    def __init__(
        self,
        policy: str | type[SoftACPolicy],
        env: GymEnv | str,
        learning_rate: float | Schedule = 3e-4,
        buffer_size: int = 1_000_000,
        learning_starts: int = 100,
        batch_size: int = 256,
        tau: float = 0.005,
        gamma: float = 0.99,
        train_freq: int | tuple[int, str] = 1,
        gradient_steps: int = 1,
        action_noise: ActionNoise | None = None,
        replay_buffer_class: type[ReplayBuffer] | None = None,
        replay_buffer_kwargs: dict[str, Any] | None = None,
        optimize_memory_usage: bool = False,
        n_steps: int = 1,
        ent_coef: str | float = "auto",
        target_update_interval: int = 1,
        target_entropy: str | float = "auto",
        use_sde: bool = False,
        sde_sample_freq: int = -1,
        use_sde_at_warmup: bool = False,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        policy_kwargs: dict[str, Any] | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: th.device | str = "auto",
        _init_setup_model: bool = True,
    ) -> None:
        check_hyperparameters(tau, gamma, ent_coef, target_entropy, target_update_interval)
        check_n_critics((policy_kwargs or {}).get("n_critics", 2))
        if env is not None:
            env = maybe_make_env(env, verbose)  # type: ignore[assignment]
            check_action_space(env.action_space)
        super().__init__(
            policy,
            env,
            learning_rate,
            buffer_size,
            learning_starts,
            batch_size,
            tau,
            gamma,
            train_freq,
            gradient_steps,
            action_noise,
            replay_buffer_class=replay_buffer_class,
            replay_buffer_kwargs=replay_buffer_kwargs,
            optimize_memory_usage=optimize_memory_usage,
            n_steps=n_steps,
            policy_kwargs=policy_kwargs,
            stats_window_size=stats_window_size,
            tensorboard_log=tensorboard_log,
            verbose=verbose,
            device=device,
            seed=seed,
            use_sde=use_sde,
            sde_sample_freq=sde_sample_freq,
            use_sde_at_warmup=use_sde_at_warmup,
            supported_action_spaces=(spaces.Box,),
            support_multi_env=True,
        )
        self.ent_coef = ent_coef
        self.target_entropy = target_entropy
        self.target_update_interval = target_update_interval
        self.log_ent_coef: th.Tensor | None = None
        self.ent_coef_optimizer: th.optim.Adam | None = None
        self._step_config: tuple[bool, bool, bool] | None = None  # see _compiled_step
        self._last_learning_rate: float | None = None
        if _init_setup_model:
            self._setup_model()

    def _setup_model(self) -> None:
        if self.replay_buffer_class is None and scalar_keys(self.observation_space):
            self.replay_buffer_class = ScalarSafeDictReplayBuffer
        if self.replay_buffer_class is None and device_sampling_applies(
            self.observation_space, self.device, self.optimize_memory_usage, self.n_steps
        ):
            self.replay_buffer_class = DeviceReplayBuffer
        super()._setup_model()
        self.actor = self.policy.actor
        self.critic = self.policy.critic
        self.critic_target = self.policy.critic_target
        # Batch-norm running statistics are copied to the targets, not averaged.
        self._norm_stats = get_parameters_by_name(self.critic, ["running_"])
        self._norm_stats_target = get_parameters_by_name(self.critic_target, ["running_"])

        self.target_entropy = resolve_target_entropy(self.target_entropy, self.action_space)  # type: ignore[arg-type]
        learned, init_value = parse_ent_coef(self.ent_coef)
        if learned:
            # alpha = exp(log_alpha) keeps the temperature positive without a constraint.
            self.log_ent_coef = th.log(th.full((1,), init_value, device=self.device)).requires_grad_(True)
            # Fused like the policy's Adams: one kernel call, not ~10 ops, on this one-element parameter.
            self.ent_coef_optimizer = th.optim.Adam([self.log_ent_coef], lr=self.lr_schedule(1), fused=True)
        else:
            self.ent_coef_tensor = th.tensor(init_value, device=self.device)

    def _entropy_coefficient(self) -> th.Tensor:
        """The current temperature alpha, detached: each loss treats it as a constant."""
        if self.log_ent_coef is not None:
            return self.log_ent_coef.detach().exp()
        return self.ent_coef_tensor

    def train(self, gradient_steps: int, batch_size: int = 64) -> None:
        self.policy.set_training_mode(True)
        self._update_learning_rate(self._optimizers())
        step = self._compiled_step()

        stats: list[th.Tensor] = []
        for _ in range(gradient_steps):
            replay_data = self.replay_buffer.sample(batch_size, env=self._vec_normalize_env)  # type: ignore[union-attr]
            stats.append(step(replay_data))
            self._n_updates += 1
            if self._n_updates % self.target_update_interval == 0:
                self._update_target_networks()
        self._record_train_stats(stats)

    def _optimizers(self) -> list[th.optim.Optimizer]:
        optimizers = [self.actor.optimizer, self.critic.optimizer]
        if self.ent_coef_optimizer is not None:
            optimizers.append(self.ent_coef_optimizer)
        return optimizers

    def _update_learning_rate(self, optimizers: list[th.optim.Optimizer] | th.optim.Optimizer) -> None:
        """SB3's schedule update; a tensor learning rate (capturable optimizers) is updated in place."""
        learning_rate = self.lr_schedule(self._current_progress_remaining)
        self.logger.record("train/learning_rate", learning_rate)
        for optimizer in optimizers if isinstance(optimizers, list) else [optimizers]:
            for group in optimizer.param_groups:
                if not isinstance(group["lr"], th.Tensor):
                    group["lr"] = learning_rate
                elif learning_rate != self._last_learning_rate:
                    group["lr"].fill_(learning_rate)  # a captured CUDA graph reads this very tensor
        self._last_learning_rate = learning_rate

    def _compiled_step(self) -> Callable[[ReplayBufferSamples], th.Tensor]:
        """
        The gradient step as ``train()`` runs it, rebuilt when ``compile_update``, ``cuda_graphs``,
        ``bf16_matmuls``, ``log_alpha_loss`` or ``critic_step_first`` change: eager, ``torch.compile``-d,
        and on CUDA replayed as a CUDA graph.
        """
        use_graph = (
            self.cuda_graphs and self.device.type == "cuda" and not self.use_sde and all(map(supports_capture, self._optimizers()))
        )
        config = (use_graph, self.compile_update, self.bf16_matmuls, self.log_alpha_loss, self.critic_step_first)
        if self._step_config != config:
            for optimizer in self._optimizers():
                if supports_capture(optimizer):
                    set_capturable(optimizer, use_graph)
            step = th.compile(self._step_statistics) if self.compile_update else self._step_statistics
            self._step = CapturedStep(step) if use_graph else step
            self._step_config = config
        return self._step

    def _step_statistics(self, data: ReplayBufferSamples) -> th.Tensor:
        """One gradient step (under bf16 autocast if enabled); its statistics as one vector, named by ``_stat_names``."""
        with th.autocast(self.device.type, dtype=th.bfloat16, enabled=self.bf16_matmuls):
            stats = self._gradient_step(data)
        self._stat_names = list(stats)
        return th.stack([value.reshape(()) for value in stats.values()])

    def _gradient_step(self, data: ReplayBufferSamples) -> dict[str, th.Tensor]:
        """One update of temperature, critics and actor on one minibatch; returns detached statistics."""
        if self.use_sde:
            self.actor.reset_noise()  # log_std may have changed since the noise was sampled
        alpha = self._entropy_coefficient()
        # n-step buffers give gamma^k per sample (k <= n, shorter at episode ends); else gamma.
        discounts = data.discounts if data.discounts is not None else self.gamma

        # a ~ pi(.|s) by reparameterisation, log pi(a|s) with the tanh correction (policies.py)
        actions_pi, log_prob = self.actor.action_log_prob(data.observations)
        log_prob = log_prob.reshape(-1, 1)

        # Critic, Eq. 15 (soft Bellman backup) with clipped double-Q over the target ensemble:
        # y = r + gamma^n (1 - terminated) (min_i Qtarg_i(s', a') - alpha log pi(a'|s')),  a' ~ pi(.|s').
        # Time-limit truncations are stored as not-done by the replay buffer, so they bootstrap.
        with th.no_grad():
            next_actions, next_log_prob = self.actor.action_log_prob(data.next_observations)
            next_q = self.critic_target.q_values(data.next_observations, next_actions).min(dim=0).values
            soft_next_value = next_q - alpha * next_log_prob.reshape(-1, 1)
            target_q = data.rewards + (1.0 - data.dones) * discounts * soft_next_value
        # L(psi) = sum_i 1/2 E[(Q_i(s, a) - y)^2]
        current_q = self.critic.q_values(data.observations, data.actions)
        critic_loss = 0.5 * (current_q - target_q).pow(2).mean(dim=(1, 2)).sum()

        optimizers = self._optimizers()
        for optimizer in optimizers:
            optimizer.zero_grad()
        losses = []
        if self.critic_step_first:  # SB3's order (opt-in): the actor loss below sees the stepped critics
            critic_loss.backward()
            self.critic.optimizer.step()
            optimizers.remove(self.critic.optimizer)
        else:
            losses.append(critic_loss)

        # Actor, the KL projection onto exp(Q)/Z: J(theta) = E[alpha log pi(a|s) - min_i Q_i(s, a)],
        # gradients through a (reparameterisation) but not into the critic's weights.
        with frozen([p for group in self.critic.optimizer.param_groups for p in group["params"]]):
            min_q_pi = self.critic.q_values(data.observations, actions_pi).min(dim=0).values
        actor_loss = (alpha * log_prob - min_q_pi).mean()
        losses.append(actor_loss)

        # Temperature, Eq. 16 and the alpha loss after it: J(alpha) = E[-alpha (log pi(a|s) + H_0)].
        # dJ/dalpha < 0 when the entropy -log pi is below H_0, so alpha grows, and vice versa.
        # (log_alpha_loss: -log(alpha) in place of -alpha, SB3's form; the sign of the gradient is the same.)
        ent_coef_loss = None
        if self.ent_coef_optimizer is not None:
            temperature = self.log_ent_coef if self.log_alpha_loss else self.log_ent_coef.exp()  # type: ignore[union-attr]
            ent_coef_loss = -(temperature * (log_prob.detach() + self.target_entropy)).mean()
            losses.append(ent_coef_loss)

        # Each loss reaches only its own parameters (no_grad target, frozen critic, detached alpha and
        # log pi), so one backward of the sum gives each optimizer exactly its loss's gradient.
        # All three are taken at the same parameters, as in the authors' softlearning code (unless
        # critic_step_first stepped the critics above).
        th.stack(losses).sum().backward()
        for optimizer in optimizers:
            optimizer.step()

        stats = {
            "ent_coef": alpha,
            "actor_loss": actor_loss.detach(),
            "critic_loss": critic_loss.detach(),
            "entropy": -log_prob.detach().mean(),
            "q_mean": current_q.detach().mean(),
        }
        if ent_coef_loss is not None:
            stats["ent_coef_loss"] = ent_coef_loss.detach()
        return stats

    @th.no_grad()
    def _update_target_networks(self) -> None:
        """Polyak averaging: psi_targ <- (1 - tau) psi_targ + tau psi; batch-norm statistics are copied."""
        th._foreach_lerp_(list(self.critic_target.parameters()), list(self.critic.parameters()), self.tau)
        for stat_target, stat in zip(self._norm_stats_target, self._norm_stats):
            stat_target.copy_(stat)

    def _record_train_stats(self, stats: list[th.Tensor]) -> None:
        """Log the means over this call's gradient steps (one host sync for all of them)."""
        means = dict(zip(self._stat_names, th.stack(stats).mean(dim=0).tolist())) if stats else {}
        for key, value in means.items():
            if self.check_finite and not math.isfinite(value):
                raise NonFiniteError(
                    f"{key} became {value} at step {self.num_timesteps} (gradient step {self._n_updates}): training diverged, "
                    "so it stops here rather than continue on non-finite weights. Try a lower learning_rate, reward scaling, "
                    "or check the env for extreme values; the last saved checkpoint is untouched."
                )
            self.logger.record(f"train/{key}", value)
        self.logger.record("train/target_entropy", self.target_entropy)
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")

    def _store_transition(
        self,
        replay_buffer: ReplayBuffer,
        buffer_action: np.ndarray,
        new_obs: np.ndarray | dict[str, np.ndarray],
        reward: np.ndarray,
        dones: np.ndarray,
        infos: list[dict[str, Any]],
    ) -> None:
        if self.check_finite:
            bad = first_non_finite({"observation": new_obs, "reward": reward, "action": buffer_action})
            if bad is not None:
                raise NonFiniteError(
                    f"The environment step at timestep {self.num_timesteps} gave a non-finite {bad} (NaN or inf); "
                    "nothing was stored or trained on. Fix the env, or wrap it (e.g. clip or VecCheckNan to find the source)."
                )
        super()._store_transition(replay_buffer, buffer_action, new_obs, reward, dones, infos)

    def save(self, path: Any, exclude: Any = None, include: Any = None) -> None:
        """
        Save the model (see SB3's ``BaseAlgorithm.save``), refusing to write non-finite weights over a good file.

        :param path: Path or file object to save to.
        :param exclude: Parameter names to exclude in addition to the defaults.
        :param include: Parameter names to include even if excluded by default.
        """
        if self.check_finite:
            bad = [name for name, param in self.policy.state_dict().items() if param.is_floating_point() and not th.isfinite(param).all()]
            if bad:
                raise NonFiniteError(f"Refusing to save {path}: non-finite values in {bad[:5]} (NaN or inf weights).")
        super().save(path, exclude=exclude, include=include)

    @classmethod
    def load(  # type: ignore[override]
        cls: type[SelfSoftAC],
        path: Any,
        env: GymEnv | None = None,
        device: th.device | str = "auto",
        custom_objects: dict[str, Any] | None = None,
        print_system_info: bool = False,
        force_reset: bool = True,
        **kwargs: Any,
    ) -> SelfSoftAC:
        """
        Load a SoftAC zip (see SB3's ``BaseAlgorithm.load``), after checking it without unpickling.

        Loading unpickles the zip's objects, which can execute code: load only trusted files;
        for untrusted ones use :func:`sb3_softac.checkpoints.load_policy_weights`.

        :param path: Path (with or without ``.zip``) or file object.
        :param env: Environment to attach; its spaces must match the saved ones.
        :param device: Torch device.
        :param custom_objects: Objects to replace on load.
        :param print_system_info: Print the saving and loading systems' info.
        :param force_reset: Reset the env before training.
        :param kwargs: Attributes to change on load (e.g. ``buffer_size=1``).
        :return: The model.
        """
        read_policy_state(path)  # ValueError for corrupt files and other algorithms' zips
        return super().load(
            path, env=env, device=device, custom_objects=custom_objects, print_system_info=print_system_info, force_reset=force_reset, **kwargs
        )

    def learn(
        self: SelfSoftAC,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 4,
        tb_log_name: str = "SoftAC",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfSoftAC:
        """
        Train the model.

        :param total_timesteps: Number of environment steps to train for.
        :param callback: Callback(s) called at every step with the state of the algorithm.
        :param log_interval: Log every ``log_interval`` episodes.
        :param tb_log_name: The name of the run for TensorBoard logging.
        :param reset_num_timesteps: Whether or not to reset the current timestep number (used in logging);
            ``False`` continues a previous run.
        :param progress_bar: Display a progress bar using tqdm and rich.
        :return: The trained model.
        """
        return super().learn(
            total_timesteps=total_timesteps,
            callback=callback,
            log_interval=log_interval,
            tb_log_name=tb_log_name,
            reset_num_timesteps=reset_num_timesteps,
            progress_bar=progress_bar,
        )

    def _excluded_save_params(self) -> list[str]:
        return [
            *super()._excluded_save_params(),
            *("actor", "critic", "critic_target", "_norm_stats", "_norm_stats_target", "_step", "_step_config"),
        ]

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        state_dicts = ["policy", "actor.optimizer", "critic.optimizer"]
        if self.ent_coef_optimizer is not None:
            return [*state_dicts, "ent_coef_optimizer"], ["log_ent_coef"]
        return state_dicts, ["ent_coef_tensor"]
