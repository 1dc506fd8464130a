"""SoftAC: Soft Actor-Critic on Stable-Baselines3's off-policy machinery.

Equation numbers cite the two papers: Haarnoja et al. 2018, "Soft Actor-Critic: Off-Policy Maximum
Entropy Deep Reinforcement Learning with a Stochastic Actor" (arXiv 1801.01290, "SAC18a"), and
Haarnoja et al. 2018b, "Soft Actor-Critic Algorithms and Applications" (arXiv 1812.05905, "SAC18b"):
SAC18b Eq. 1 the maximum-entropy objective, Eq. 3 the soft value, Eq. 5 the soft Q loss, Eq. 9 the
reparameterised policy loss, Eq. 18 the temperature loss; SAC18a Eq. 21 the tanh change of variables.
"""

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.base_class import maybe_make_env
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.noise import ActionNoise
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.save_util import load_from_zip_file
from stable_baselines3.common.type_aliases import (
    GymEnv,
    MaybeCallback,
    ReplayBufferSamples,
    Schedule,
)
from stable_baselines3.common.utils import get_parameters_by_name
from torch import nn

from sb3_softac.buffers import (
    DeviceReplayBuffer,
    ScalarSafeDictReplayBuffer,
    device_sampling_applies,
    scalar_keys,
)
from sb3_softac.checkpoints import sb3_sac_policy_equivalent
from sb3_softac.cuda_graphs import CapturedStep, set_capturable, supports_capture
from sb3_softac.migration import (
    SB3_ONLY_ATTRIBUTES,
    is_sb3_sac_state,
    softac_parameters,
)
from sb3_softac.policies import (
    CnnPolicy,
    MlpPolicy,
    MultiInputPolicy,
    SoftACPolicy,
    SoftQEnsemble,
    SquashedGaussianActor,
    check_n_critics,
)
from sb3_softac.validation import (
    AssertionValueError,
    check_action_space,
    check_choice,
    check_flag,
    check_hyperparameters,
    parse_ent_coef,
    resolve_target_entropy,
)

SelfSoftAC = TypeVar("SelfSoftAC", bound="SoftAC")
TEMPERATURE_LOSSES = ("log_alpha", "alpha")
UPDATE_ORDERS = ("joint", "critic_first")


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
    Soft Actor-Critic (SAC), written from the papers, with the constructor of SB3's ``SAC``.

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
    :param tau: The soft update coefficient ("Polyak update", in [0, 1]; 0 freezes the targets).
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
    :param temperature_loss: Keyword only (as every parameter below). The temperature objective
        ``J(alpha) = E[-alpha (log pi(a|s) + H_0)]`` (Haarnoja et al. 2018b, Eq. 18) is minimised over
        ``log alpha``. ``"log_alpha"`` (default, as SB3's SAC and the authors' softlearning code): the loss
        ``-log(alpha) (log pi + H_0)``, whose gradient in ``log alpha`` does not shrink with alpha.
        ``"alpha"``: the loss as written, ``-alpha (log pi + H_0)``; same fixed point, but its gradient is
        scaled by alpha, so a small temperature adapts slowly (SoftAC's default before 0.2.0).
    :param update_order: ``"joint"`` (default): the temperature, critic and actor gradients are all taken
        at the same parameters, from one backward pass, then the three optimizers step (softlearning's
        update). ``"critic_first"``: SB3's order, the critics step first and the actor loss is taken at
        the stepped critics (a second backward pass).
    :param bf16_matmuls: Run the update's matmuls in bfloat16 (``torch.autocast``); losses and optimizer
        stay float32. Pays off where the hardware has bf16 matmul units (CPUs with AMX, recent GPUs).
    :param compile_update: ``torch.compile`` the gradient step (fuses its elementwise kernels; compiling
        takes a while, and on CPU the compiled step was slower, see the docs' speed page).
    :param cuda_graphs: On CUDA, replay each gradient step as one CUDA graph (``cuda_graphs.py``); not
        with gSDE. No effect on CPU.
    :param check_finite: Stop with a :class:`NonFiniteError` on NaN/inf from the env (observation, reward,
        action) or in a loss, and refuse to save non-finite weights; ``False`` skips the (small) cost.
    """

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {
        "MlpPolicy": MlpPolicy,
        "CnnPolicy": CnnPolicy,
        "MultiInputPolicy": MultiInputPolicy,
    }
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
        *,
        temperature_loss: str = "log_alpha",
        update_order: str = "joint",
        bf16_matmuls: bool = False,
        compile_update: bool = False,
        cuda_graphs: bool = True,
        check_finite: bool = True,
    ) -> None:
        check_hyperparameters(tau, gamma, ent_coef, target_entropy, target_update_interval)
        check_n_critics((policy_kwargs or {}).get("n_critics", 2))
        self.temperature_loss = temperature_loss
        self.update_order = update_order
        self.bf16_matmuls = bf16_matmuls
        self.compile_update = compile_update
        self.cuda_graphs = cuda_graphs
        self.check_finite = check_finite
        self._check_options()
        if env is not None:
            env = maybe_make_env(env, verbose)
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
        self._step_config: tuple[Any, ...] | None = None  # see _compiled_step
        self._last_learning_rate: float | None = None
        if _init_setup_model:
            self._setup_model()

    def _check_options(self) -> None:
        """Validate SoftAC's own keyword arguments (again in ``_setup_model``, after ``load`` set them)."""
        check_choice("temperature_loss", self.temperature_loss, TEMPERATURE_LOSSES)
        check_choice("update_order", self.update_order, UPDATE_ORDERS)
        for name in ("bf16_matmuls", "compile_update", "cuda_graphs", "check_finite"):
            check_flag(name, getattr(self, name))

    def _setup_model(self) -> None:
        self._check_options()
        if self.n_steps > 1 and isinstance(self.observation_space, spaces.Dict) and self.replay_buffer_class is None:
            raise AssertionValueError(
                f"n_steps={self.n_steps} needs a Box observation space: SB3's n-step replay buffer does not support "
                "Dict observations (SB3's SAC asserts the same). Use n_steps=1 with MultiInputPolicy."
            )
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
        ``bf16_matmuls``, ``temperature_loss`` or ``update_order`` change: eager, ``torch.compile``-d,
        and on CUDA replayed as a CUDA graph.
        """
        use_graph = (
            self.cuda_graphs
            and self.device.type == "cuda"
            and not self.use_sde
            and all(map(supports_capture, self._optimizers()))
        )
        config = (use_graph, self.compile_update, self.bf16_matmuls, self.temperature_loss, self.update_order)
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

        # a = f(eps; s) ~ pi(.|s) by reparameterisation (SAC18b Eq. 8), log pi(a|s) with the tanh
        # correction (SAC18a Eq. 21): SquashedGaussianActor.action_log_prob.
        actions_pi, log_prob = self.actor.action_log_prob(data.observations)
        log_prob = log_prob.reshape(-1, 1)

        # Critic target (SAC18b Eqs. 3 and 5), clipped double-Q over the target ensemble:
        # y = r + gamma^n (1 - terminated) (min_i Qtarg_i(s', a') - alpha log pi(a'|s')),  a' ~ pi(.|s').
        # Time-limit truncations are stored as not-done by the replay buffer, so they bootstrap.
        with th.no_grad():
            next_actions, next_log_prob = self.actor.action_log_prob(data.next_observations)
            next_q = self.critic_target.q_values(data.next_observations, next_actions).min(dim=0).values
            soft_next_value = next_q - alpha * next_log_prob.reshape(-1, 1)
            target_q = data.rewards + (1.0 - data.dones) * discounts * soft_next_value
        # J_Q = sum_i 1/2 E[(Q_i(s, a) - y)^2]  (SAC18b Eq. 5, one term per critic)
        current_q = self.critic.q_values(data.observations, data.actions)
        critic_loss = 0.5 * (current_q - target_q).pow(2).mean(dim=(1, 2)).sum()

        optimizers = self._optimizers()
        for optimizer in optimizers:
            optimizer.zero_grad()
        losses = []
        if self.update_order == "critic_first":  # SB3's order: the actor loss below sees the stepped critics
            critic_loss.backward()
            self.critic.optimizer.step()
            optimizers.remove(self.critic.optimizer)
        else:
            losses.append(critic_loss)

        # Actor: J_pi = E[alpha log pi(f(eps; s)|s) - min_i Q_i(s, f(eps; s))]  (SAC18b Eq. 9),
        # gradients through the action (reparameterisation) but not into the critics' weights.
        with frozen([p for group in self.critic.optimizer.param_groups for p in group["params"]]):
            min_q_pi = self.critic.q_values(data.observations, actions_pi).min(dim=0).values
        actor_loss = (alpha * log_prob - min_q_pi).mean()
        losses.append(actor_loss)

        # Temperature: J(alpha) = E[-alpha (log pi(a|s) + H_0)]  (SAC18b Eq. 18), minimised over log alpha.
        # Its gradient is negative while the entropy -log pi is below H_0, so alpha grows, and vice versa.
        # "log_alpha" (default, SB3 and softlearning) puts log alpha in place of alpha: same sign and
        # fixed point, a gradient that does not shrink with alpha. "alpha" is the equation as written.
        ent_coef_loss = None
        if self.ent_coef_optimizer is not None:
            log_alpha = self.log_ent_coef
            temperature = log_alpha if self.temperature_loss == "log_alpha" else log_alpha.exp()  # type: ignore[union-attr]
            ent_coef_loss = -(temperature * (log_prob.detach() + self.target_entropy)).mean()  # type: ignore[operator]
            losses.append(ent_coef_loss)

        # Each loss reaches only its own parameters (no_grad target, frozen critic, detached alpha and
        # log pi), so one backward of the sum gives each optimizer exactly its loss's gradient, all at
        # the same parameters, as in the authors' softlearning code (update_order="joint").
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
            bad = [
                name
                for name, param in self.policy.state_dict().items()
                if param.is_floating_point() and not th.isfinite(param).all()
            ]
            if bad:
                raise NonFiniteError(f"Refusing to save {path}: non-finite values in {bad[:5]} (NaN or inf weights).")
        super().save(path, exclude=exclude, include=include)

    @classmethod
    def load(
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
        Load a SoftAC zip, or an SB3 SAC zip (see SB3's ``BaseAlgorithm.load``), after checking it without unpickling.

        An SB3 SAC zip keeps its hyperparameters, weights, optimizer states and temperature; its critics
        are relabelled into SoftAC's ensemble layout (:mod:`sb3_softac.migration`), its policy becomes
        SoftAC's of the same kind (``MlpPolicy``, ``CnnPolicy``, ``MultiInputPolicy``), and SoftAC's own
        options take their defaults unless given in ``kwargs``. One line is printed when that happens.
        Loading unpickles the zip's objects, which can execute code: load only trusted files;
        for untrusted ones use :func:`sb3_softac.checkpoints.load_policy_weights`.

        :param path: Path (with or without ``.zip``) or file object.
        :param env: Environment to attach; its spaces must match the saved ones.
        :param device: Torch device.
        :param custom_objects: Objects to replace on load.
        :param print_system_info: Print the saving and loading systems' info.
        :param force_reset: Reset the env before training.
        :param kwargs: Attributes to change on load (e.g. ``buffer_size=1``, ``update_order="critic_first"``).
        :return: The model.
        """
        softac_policy = sb3_sac_policy_equivalent(path)  # ValueError for corrupt files and other algorithms' zips
        if softac_policy is not None:
            custom_objects = {"policy_class": cls.policy_aliases[softac_policy], **(custom_objects or {})}
            print(
                f"Loading the SB3 SAC model {path} as SoftAC ({softac_policy}): critics converted to SoftAC's ensemble layout."
            )
        model = super().load(
            path,
            env=env,
            device=device,
            custom_objects=custom_objects,
            print_system_info=print_system_info,
            force_reset=force_reset,
            **kwargs,
        )
        for name in SB3_ONLY_ATTRIBUTES:
            model.__dict__.pop(name, None)
        return model

    def set_parameters(
        self,
        load_path_or_dict: str | dict[str, Any],
        exact_match: bool = True,
        device: th.device | str = "auto",
    ) -> None:
        """
        SB3's ``set_parameters``, which also takes the parameters of an SB3 SAC model (converted to SoftAC's layout).

        :param load_path_or_dict: A model zip, or a dict of state dicts (``get_parameters()``).
        :param exact_match: Require every parameter to be given (see SB3).
        :param device: Where to load the tensors.
        """
        params = load_path_or_dict
        if not isinstance(params, dict):
            _, params, _ = load_from_zip_file(params, device=device, load_data=False)
        if is_sb3_sac_state(params.get("policy", {})):  # type: ignore[arg-type]
            params = softac_parameters(params, self)
        super().set_parameters(params, exact_match=exact_match, device=device)

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
