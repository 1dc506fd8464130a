"""SoftAC: Soft Actor-Critic on Stable-Baselines3's off-policy machinery.

Equation numbers cite the two papers: Haarnoja et al. 2018, "Soft Actor-Critic: Off-Policy Maximum
Entropy Deep Reinforcement Learning with a Stochastic Actor" (arXiv 1801.01290, "SAC18a"), and
Haarnoja et al. 2018b, "Soft Actor-Critic Algorithms and Applications" (arXiv 1812.05905, "SAC18b"):
SAC18b Eq. 1 the maximum-entropy objective, Eq. 3 the soft value, Eq. 5 the soft Q loss, Eq. 9 the
reparameterised policy loss, Eq. 18 the temperature loss; SAC18a Eq. 21 the tanh change of variables.

The SAC-family options cite their own papers: delayed policy updates (Fujimoto et al. 2018, "TD3",
arXiv 1802.09477, Sec. 5.2), DroQ's dropout and LayerNorm critics (Hiraoka et al. 2022, arXiv 2110.02034),
CrossQ (Bhatt et al. 2024, arXiv 1902.05605: no target networks, Batch Renormalization, a joint critic
pass) and periodic resets (Nikishin et al. 2022, arXiv 2205.07802; D'Oro et al. 2023, "SR-SAC").
"""

import math
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar, TypeVar, cast

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
    PyTorchObs,
    ReplayBufferSamples,
    Schedule,
)
from stable_baselines3.common.utils import FloatSchedule, get_parameters_by_name
from torch import nn

from sb3_softac.buffers import (
    DeviceReplayBuffer,
    ScalarSafeDictReplayBuffer,
    device_sampling_applies,
    scalar_keys,
)
from sb3_softac.checkpoints import sb3_sac_policy_equivalent
from sb3_softac.cuda_graphs import CapturedStep, set_capturable, supports_capture
from sb3_softac.functional_step import Reparametrized, adam_, ensure_adam_state, own_code, unsupported_reason
from sb3_softac.layers import running_statistics
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
    SoftACValueError,
    TypeValueError,
    check_action_space,
    check_choice,
    check_flag,
    check_hyperparameters,
    check_int,
    check_real,
    parse_ent_coef,
    resolve_target_entropy,
)

SelfSoftAC = TypeVar("SelfSoftAC", bound="SoftAC")
TEMPERATURE_LOSSES = ("log_alpha", "alpha")
UPDATE_ORDERS = ("joint", "critic_first")
RESET_PARTS = ("actor", "critic", "temperature")


class NonFiniteError(FloatingPointError, ValueError):
    """
    A NaN or inf reached training: from the env (observation, reward, action) or from a loss.

    Also a ``ValueError``, as SB3's errors on NaN are, so that RL-Zoo's ``-optimize`` prunes a diverged
    trial instead of stopping the worker.
    """


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


def check_reset_parts(parts: Any) -> list[str]:
    """
    :param parts: ``reset_parts``: a non-empty list or tuple of names in :data:`RESET_PARTS`.
    :return: It as a list (SB3 saves tuples as lists).
    """
    accepted = f"a non-empty list of {', '.join(map(repr, RESET_PARTS))}"
    if isinstance(parts, str) or not isinstance(parts, (tuple, list)):
        raise TypeValueError(f"reset_parts={parts!r} is invalid. Accepted: {accepted}.")
    if not parts or any(part not in RESET_PARTS for part in parts):
        raise SoftACValueError(f"reset_parts={parts!r} is invalid. Accepted: {accepted}.")
    return list(parts)


def concat_observations(first: Any, second: Any) -> Any:
    """
    :param first: A batch of observations (a tensor, or a dict of tensors for Dict spaces).
    :param second: Another batch of the same structure.
    :return: The two batches stacked along the batch dimension.
    """
    if isinstance(first, dict):
        return {key: th.cat([first[key], second[key]]) for key in first}
    return th.cat([first, second])


def restart_optimizer(optimizer: th.optim.Optimizer) -> None:
    """
    Return an optimizer to the state it had when built, in place: every state tensor (Adam's moments
    and step counts) is zeroed, which is what Adam's first step would create, and the tensors a
    captured CUDA graph reads stay the same tensors.

    :param optimizer: Any torch optimizer.
    """
    for state in optimizer.state.values():
        for value in state.values():
            if isinstance(value, th.Tensor):
                value.zero_()


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
    :param compile_update: On CPU, run each gradient step as one ``torch.compile``-d graph: the same update
        computed functionally (``torch.func`` gradients, Adam on the optimizers' own state,
        ``functional_step.py``), about 1.4x the eager step's speed (see the docs' speed page). The first
        ``train()`` call compiles (seconds; Inductor needs a C++ compiler). It covers
        ``update_order="joint"``, ``torch.optim.Adam`` without weight decay or AMSGrad, no gSDE, no Batch
        Renormalization (CrossQ) and no image observations; otherwise, and on CUDA (where CUDA graphs
        replay the eager step), the steps run eagerly, with a warning that says why (see
        :meth:`functional_step_unsupported`).
    :param cuda_graphs: On CUDA, replay each gradient step as one CUDA graph (``cuda_graphs.py``); not
        with gSDE. No effect on CPU.
    :param check_finite: Stop with a :class:`NonFiniteError` on NaN/inf from the env (observation, reward,
        action) or in a loss, and refuse to save non-finite weights; ``False`` skips the (small) cost.
    :param policy_delay: The actor and the temperature are updated on every ``policy_delay``-th gradient
        step (counted over the whole training), the critics on every one (delayed policy updates, Fujimoto
        et al. 2018, Sec. 5.2; CrossQ uses 3, DroQ and REDQ one actor step per ``gradient_steps`` critic steps).
    :param qf_learning_rate: The critics' own learning rate (a number or a schedule of the progress
        remaining); ``None`` (default) uses ``learning_rate``.
    :param target_networks: ``True`` (default): polyak-averaged target critics give the bootstrap value.
        ``False``: no target networks (CrossQ, Bhatt et al. 2024): the current critics, with the gradient
        stopped, give it, and ``(s, a)`` and ``(s', a')`` go through the critics in one joint pass so that
        batch normalisation statistics cover both; ``tau`` and ``target_update_interval`` are then unused.
        Pair it with ``policy_kwargs=dict(batch_renorm=True)`` (see ``PRESETS["crossq"]``).
    :param reset_interval: After every ``reset_interval`` environment steps (before the next gradient step),
        re-initialise the parts named in ``reset_parts`` (networks, their targets and optimizers, the
        temperature; see :meth:`reset_parameters`), keeping the replay buffer and the step counters
        (Nikishin et al. 2022; with ``gradient_steps > 1`` this is SR-SAC, D'Oro et al. 2023).
        ``0`` (default): never.
    :param reset_parts: What a reset re-initialises: any of ``"actor"`` (with its optimizer), ``"critic"``
        (with its target and optimizer) and ``"temperature"`` (with its optimizer; ``ent_coef="auto"`` only).
    """

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {
        "MlpPolicy": MlpPolicy,
        "CnnPolicy": CnnPolicy,
        "MultiInputPolicy": MultiInputPolicy,
    }
    policy: SoftACPolicy
    actor: SquashedGaussianActor
    critic: SoftQEnsemble
    critic_target: SoftQEnsemble | None

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
        policy_delay: int = 1,
        qf_learning_rate: float | Schedule | None = None,
        target_networks: bool = True,
        reset_interval: int = 0,
        reset_parts: tuple[str, ...] | list[str] = RESET_PARTS,
    ) -> None:
        check_hyperparameters(tau, gamma, ent_coef, target_entropy, target_update_interval)
        check_n_critics((policy_kwargs or {}).get("n_critics", 2))
        if "target_networks" in (policy_kwargs or {}):
            raise SoftACValueError(
                f"policy_kwargs=dict(target_networks={policy_kwargs['target_networks']!r}) is set by SoftAC itself: "  # type: ignore[index]
                f"pass SoftAC(..., target_networks={policy_kwargs['target_networks']!r}) instead."  # type: ignore[index]
            )
        self.temperature_loss = temperature_loss
        self.update_order = update_order
        self.bf16_matmuls = bf16_matmuls
        self.compile_update = compile_update
        self.cuda_graphs = cuda_graphs
        self.check_finite = check_finite
        self.policy_delay = policy_delay
        self.qf_learning_rate = qf_learning_rate
        self.target_networks = target_networks
        self.reset_interval = reset_interval
        self.reset_parts = reset_parts
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
        self._step_config: tuple[Any, ...] | None = None  # see _compiled_steps
        self._functional_step_compiled = False  # whether _compiled_steps compiled the functional step
        self._learning_rate_tensor: th.Tensor | None = None  # see _prepare_functional_step
        self._qf_learning_rate_tensor: th.Tensor | None = None
        self._stat_names: dict[bool, list[str]] = {}  # see _step_function
        self._n_resets = 0  # resets done so far (see _reset_if_due); saved, so a resumed run keeps the schedule
        if _init_setup_model:
            self._setup_model()

    def _check_options(self) -> None:
        """
        Validate SoftAC's own keyword arguments (again in ``_setup_model``, after ``load`` set them);
        ``reset_parts`` becomes a list.
        """
        check_choice("temperature_loss", self.temperature_loss, TEMPERATURE_LOSSES)
        check_choice("update_order", self.update_order, UPDATE_ORDERS)
        for name in ("bf16_matmuls", "compile_update", "cuda_graphs", "check_finite", "target_networks"):
            check_flag(name, getattr(self, name))
        check_int("policy_delay", self.policy_delay, "an integer >= 1 (1: the actor is updated on every gradient step)")
        if self.qf_learning_rate is not None and not callable(self.qf_learning_rate):
            check_real(
                "qf_learning_rate",
                self.qf_learning_rate,
                "None (use learning_rate), a number > 0, or a schedule (a function of the progress remaining)",
                low=0.0,
                low_open=True,
            )
        check_int("reset_interval", self.reset_interval, "an integer >= 0, in environment steps (0: never reset)", low=0)
        self.reset_parts = check_reset_parts(self.reset_parts)  # a list, as a saved model restores it

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
        # The policy builds target critics or not; SB3 passes use_sde to the policy the same way.
        self.policy_kwargs = {**self.policy_kwargs, "target_networks": self.target_networks}
        super()._setup_model()
        self.actor = self.policy.actor
        self.critic = self.policy.critic
        self.critic_target = self.policy.critic_target
        # Batch-norm running statistics are copied to the targets, not averaged.
        self._norm_stats = get_parameters_by_name(self.critic, ["running_"])
        self._norm_stats_target = (
            [] if self.critic_target is None else get_parameters_by_name(self.critic_target, ["running_"])
        )
        self._stat_names = {}  # also for models saved before 0.3.0, which stored a list here
        self.qf_lr_schedule = self.lr_schedule if self.qf_learning_rate is None else FloatSchedule(self.qf_learning_rate)
        for group in self.critic.optimizer.param_groups:
            group["lr"] = self.qf_lr_schedule(1)

        self.target_entropy = resolve_target_entropy(self.target_entropy, self.action_space)  # type: ignore[arg-type]
        learned, init_value = parse_ent_coef(self.ent_coef)
        if learned:
            # alpha = exp(log_alpha) keeps the temperature positive without a constraint.
            self.log_ent_coef = th.log(th.full((1,), init_value, device=self.device)).requires_grad_(True)
            # Fused like the policy's Adams: one kernel call, not ~10 ops, on this one-element parameter.
            self.ent_coef_optimizer = th.optim.Adam([self.log_ent_coef], lr=self.lr_schedule(1), fused=True)
        else:
            self.ent_coef_tensor = th.tensor(init_value, device=self.device)

    def _entropy_coefficient(self, log_alpha: th.Tensor | None = None) -> th.Tensor:
        """
        The current temperature alpha, detached: each loss treats it as a constant.

        :param log_alpha: The learned ``log alpha`` to read (the functional step's stand-in for
            ``log_ent_coef``); by default the model's own.
        """
        log_alpha = self.log_ent_coef if log_alpha is None else log_alpha
        if log_alpha is not None:
            return log_alpha.detach().exp()
        return self.ent_coef_tensor

    def train(self, gradient_steps: int, batch_size: int = 64) -> None:
        self.policy.set_training_mode(True)
        self._reset_if_due()
        self._update_learning_rate(self._optimizers())
        steps = self._compiled_steps()

        stats: dict[bool, list[th.Tensor]] = {True: [], False: []}
        for _ in range(gradient_steps):
            # Delayed policy updates (TD3, Fujimoto et al. 2018, Sec. 5.2): the actor and temperature
            # step on gradient steps policy_delay, 2 policy_delay, ... of the whole training.
            update_actor = (self._n_updates + 1) % self.policy_delay == 0
            replay_data = self.replay_buffer.sample(batch_size, env=self._vec_normalize_env)  # type: ignore[union-attr]
            stats[update_actor].append(steps[update_actor](replay_data))
            self._n_updates += 1
            if self.critic_target is not None and self._n_updates % self.target_update_interval == 0:
                self._update_target_networks()
        self._record_train_stats(stats)

    def _reset_if_due(self) -> None:
        """
        Reset ``reset_parts`` once after each ``reset_interval`` environment steps: before the first
        gradient steps past the boundary, so a run that ends on a boundary ends with trained networks.
        """
        due = (self.num_timesteps - 1) // self.reset_interval if self.reset_interval else 0
        if due > self._n_resets:
            self._n_resets = due
            self.reset_parameters(self.reset_parts)
            if self.verbose >= 1:
                parts = ", ".join(self.reset_parts)
                print(f"Step {self.num_timesteps}: reset {parts} (reset {self._n_resets}; replay buffer kept)")
        self.logger.record("train/n_resets", self._n_resets, exclude="tensorboard")

    def reset_parameters(self, parts: tuple[str, ...] | list[str] = RESET_PARTS) -> None:
        """
        Re-initialise parts of the agent as a new model would be initialised, in place (so the optimizers
        and a captured CUDA graph keep pointing at the same tensors): the resets of Nikishin et al. 2022
        and SR-SAC (D'Oro et al. 2023). The replay buffer, the step counters and the schedules are kept.

        :param parts: Any of ``"actor"`` (its weights, normalisation statistics and optimizer), ``"critic"``
            (the same, and the target critics copied from the new critics) and ``"temperature"``
            (``log alpha`` back to its initial value and its optimizer; only with a learned temperature).
        """
        parts = check_reset_parts(parts)
        fresh = cast(
            SoftACPolicy, self.policy_class(self.observation_space, self.action_space, self.lr_schedule, **self.policy_kwargs)
        ).to(self.device)
        with th.no_grad():
            if "actor" in parts:
                self.actor.load_state_dict(fresh.actor.state_dict())
                restart_optimizer(self.actor.optimizer)
            if "critic" in parts:
                critic_state = fresh.critic.state_dict()
                if self.critic.share_features_extractor:  # the extractor is the actor's: reset with the actor
                    critic_state = {k: v for k, v in critic_state.items() if not k.startswith("features_extractor.")}
                self.critic.load_state_dict(critic_state, strict=not self.critic.share_features_extractor)
                restart_optimizer(self.critic.optimizer)
                if self.critic_target is not None:
                    self.critic_target.load_state_dict(self.critic.state_dict())
            if "temperature" in parts and self.log_ent_coef is not None:
                self.log_ent_coef.fill_(math.log(parse_ent_coef(self.ent_coef)[1]))
                restart_optimizer(self.ent_coef_optimizer)  # type: ignore[arg-type]

    def _optimizers(self, update_actor: bool = True) -> list[th.optim.Optimizer]:
        """The optimizers a gradient step steps: the critics', and the actor's and temperature's when ``update_actor``."""
        if not update_actor:
            return [self.critic.optimizer]
        optimizers = [self.actor.optimizer, self.critic.optimizer]
        if self.ent_coef_optimizer is not None:
            optimizers.append(self.ent_coef_optimizer)
        return optimizers

    def _update_learning_rate(self, optimizers: list[th.optim.Optimizer] | th.optim.Optimizer) -> None:
        """SB3's schedule update, with ``qf_learning_rate`` for the critics; a tensor learning rate
        (capturable optimizers, read by a captured CUDA graph) is updated in place."""
        learning_rate = self.lr_schedule(self._current_progress_remaining)
        self.logger.record("train/learning_rate", learning_rate)
        qf_learning_rate = self.qf_lr_schedule(self._current_progress_remaining)
        if self.qf_learning_rate is not None:
            self.logger.record("train/qf_learning_rate", qf_learning_rate)
        for tensor, rate in ((self._learning_rate_tensor, learning_rate), (self._qf_learning_rate_tensor, qf_learning_rate)):
            if tensor is not None:  # read by the compiled functional step
                tensor.fill_(rate)
        for optimizer in optimizers if isinstance(optimizers, list) else [optimizers]:
            rate = qf_learning_rate if optimizer is self.critic.optimizer else learning_rate
            for group in optimizer.param_groups:
                if isinstance(group["lr"], th.Tensor):
                    group["lr"].fill_(rate)
                else:
                    group["lr"] = rate

    def _compiled_steps(self) -> dict[bool, Callable[[ReplayBufferSamples], th.Tensor]]:
        """
        The gradient steps as ``train()`` runs them, keyed by ``update_actor`` (critics only, or all three
        updates), rebuilt when ``compile_update``, ``cuda_graphs``, ``bf16_matmuls``, ``temperature_loss``
        or ``update_order`` change: eager (on CUDA replayed as CUDA graphs), or with ``compile_update``
        the functional step compiled as one graph where it applies (:meth:`functional_step_unsupported`).
        """
        use_graph = (
            self.cuda_graphs
            and self.device.type == "cuda"
            and not self.use_sde
            and all(map(supports_capture, self._optimizers()))
        )
        config = (use_graph, self.compile_update, self.bf16_matmuls, self.temperature_loss, self.update_order)
        if self._step_config != config:
            unsupported = self.functional_step_unsupported() if self.compile_update else None
            if unsupported is not None:
                warnings.warn(f"compile_update=True: this model's gradient steps run eagerly, because of {unsupported}.")
            functional = self.compile_update and unsupported is None
            for optimizer in self._optimizers():
                if supports_capture(optimizer):
                    set_capturable(optimizer, use_graph)
            if functional:
                self._prepare_functional_step()
            self._steps: dict[bool, Callable[[ReplayBufferSamples], th.Tensor]] = {}
            for update_actor in (True, False):
                step = self._step_function(update_actor, functional)
                self._steps[update_actor] = CapturedStep(step) if use_graph else step
            self._functional_step_compiled = functional
            self._step_config = config
        return self._steps

    def functional_step_unsupported(self) -> str | None:
        """
        :return: Why ``compile_update=True`` runs the eager step rather than the compiled functional one
            (``functional_step.py``) for this model, or ``None`` when it compiles the functional one.
        """
        return unsupported_reason(
            self.device, self.update_order, self.use_sde, self.policy, self._optimizers(), self.observation_space
        )

    def _prepare_functional_step(self) -> None:
        """What :meth:`_functional_gradient_step` looks up: each optimizer's parameter names (``log_ent_coef``
        as ``"log_alpha"``), its state, and the learning rates as tensors (a schedule then changes
        values, not the compiled graph)."""
        names = {id(parameter): name for name, parameter in self.policy.named_parameters()}
        names[id(self.log_ent_coef)] = "log_alpha"
        self._parameter_names = {
            id(optimizer): [names[id(p)] for group in optimizer.param_groups for p in group["params"]]
            for optimizer in self._optimizers()
        }
        for optimizer in self._optimizers():
            ensure_adam_state(optimizer)  # type: ignore[arg-type]
        self._reparametrized = Reparametrized(self.policy)
        self._learning_rate_tensor = th.tensor(float(self.actor.optimizer.param_groups[0]["lr"]), device=self.device)
        self._qf_learning_rate_tensor = th.tensor(float(self.critic.optimizer.param_groups[0]["lr"]), device=self.device)

    def _step_function(self, update_actor: bool, functional: bool) -> Callable[[ReplayBufferSamples], th.Tensor]:
        """
        One kind of gradient step as ``train()`` calls it: eager, or functional and ``torch.compile``-d,
        under bf16 autocast if enabled; it returns its statistics as one vector,
        named by ``_stat_names`` (recorded outside the compiled part, which then never sees them change).

        :param update_actor: Whether the step updates the actor and the temperature too.
        :param functional: :meth:`_functional_gradient_step` rather than :meth:`_gradient_step`.
        """

        def step(data: ReplayBufferSamples) -> dict[str, th.Tensor]:
            with th.autocast(self.device.type, dtype=th.bfloat16, enabled=self.bf16_matmuls):
                return (self._functional_gradient_step if functional else self._gradient_step)(data, update_actor)

        if functional:
            step = th.compile(own_code(step), fullgraph=True)

        def step_statistics(data: ReplayBufferSamples) -> th.Tensor:
            stats = step(data)
            self._stat_names[update_actor] = list(stats)
            return th.stack([value.reshape(()) for value in stats.values()])

        return step_statistics

    def _critic_values(self, data: ReplayBufferSamples, next_actions: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
        """
        :param data: The minibatch.
        :param next_actions: ``a' ~ pi(.|s')``.
        :return: ``Q_i(s, a)`` of every critic, with gradient, and the bootstrap ``Q_i(s', a')`` of every
            target critic, without; both of shape (n_critics, batch, 1).
        """
        if self.critic_target is None:
            # CrossQ (Bhatt et al. 2024, Sec. 3): no target networks. (s, a) and (s', a') go through the
            # critics in one joint pass, so the batch-normalisation statistics are those of both together,
            # and the bootstrap half has its gradient stopped.
            joint_q = self.critic.q_values(
                concat_observations(data.observations, data.next_observations), th.cat([data.actions, next_actions])
            )
            current_q, next_q = joint_q.chunk(2, dim=1)
            return current_q, next_q.detach()
        with th.no_grad():
            next_q = self.critic_target.q_values(data.next_observations, next_actions)
        return self.critic.q_values(data.observations, data.actions), next_q

    def _gradient_step(self, data: ReplayBufferSamples, update_actor: bool = True) -> dict[str, th.Tensor]:
        """
        One update on one minibatch: the critics, and the temperature and actor when ``update_actor``
        (see ``policy_delay``); returns detached statistics. The losses are :meth:`_losses`; here autograd
        takes their gradients and the optimizers step.
        """
        if self.use_sde:
            self.actor.reset_noise()  # log_std may have changed since the noise was sampled
        optimizers = self._optimizers(update_actor)
        for optimizer in optimizers:
            optimizer.zero_grad()
        step_critics_first = None
        if self.update_order == "critic_first":  # SB3's order: the actor loss sees the stepped critics

            def step_critics_first(critic_loss: th.Tensor) -> None:
                critic_loss.backward()
                self.critic.optimizer.step()

            optimizers.remove(self.critic.optimizer)
        loss, stats = self._losses(data, update_actor, self.log_ent_coef, step_critics_first)
        if loss is not None:
            loss.backward()
        for optimizer in optimizers:
            optimizer.step()
        return stats

    def _functional_gradient_step(self, data: ReplayBufferSamples, update_actor: bool = True) -> dict[str, th.Tensor]:
        """
        The same update as :meth:`_gradient_step` as one pure function, which ``torch.compile`` takes in one
        graph (``compile_update=True`` on CPU, see ``functional_step.py``): ``torch.func.grad`` of
        :meth:`_losses` over the parameters the optimizers hold, then Adam on the optimizers' own state.
        """
        trained = [  # (optimizer, group, parameter, name) of every parameter this step trains
            (optimizer, group, parameter, name)
            for optimizer in self._optimizers(update_actor)
            for (group, parameter), name in zip(
                ((group, parameter) for group in optimizer.param_groups for parameter in group["params"]),
                self._parameter_names[id(optimizer)],
            )
        ]
        values = {name: parameter for _, _, parameter, name in trained}

        def summed_loss(values: dict[str, th.Tensor]) -> tuple[th.Tensor, dict[str, th.Tensor]]:
            log_alpha = values.get("log_alpha", self.log_ent_coef)
            weights = {f"module.{name}": value for name, value in values.items() if name != "log_alpha"}
            loss, stats = th.func.functional_call(
                self._reparametrized, weights, (self._losses, data, update_actor, log_alpha, None, True)
            )
            return loss, stats

        gradients, stats = th.func.grad(summed_loss, has_aux=True)(values)
        with th.no_grad():
            for optimizer, group, parameter, name in trained:
                lr = self._qf_learning_rate_tensor if optimizer is self.critic.optimizer else self._learning_rate_tensor
                adam_(parameter, gradients[name], optimizer.state[parameter], group, lr)  # type: ignore[arg-type]
        return stats

    def _losses(
        self,
        data: ReplayBufferSamples,
        update_actor: bool,
        log_alpha: th.Tensor | None,
        step_critics_first: Callable[[th.Tensor], None] | None = None,
        functional: bool = False,
    ) -> tuple[th.Tensor | None, dict[str, th.Tensor]]:
        """
        The losses of one update, each reaching only its own parameters, summed; every gradient step runs
        these lines, eager (:meth:`_gradient_step`) or functional (:meth:`_functional_gradient_step`).

        :param data: The minibatch.
        :param update_actor: Whether the actor and temperature losses are included.
        :param log_alpha: The learned ``log alpha`` (None with a fixed temperature).
        :param step_critics_first: Called with the critic loss before the actor loss is taken, which it
            then leaves out of the sum (``update_order="critic_first"``).
        :param functional: Whether ``torch.func`` differentiates the sum (see
            :meth:`_q_values_at_constant_weights`).
        :return: The sum of the losses (None when none is left) and detached statistics.
        """
        alpha = self._entropy_coefficient(log_alpha)
        # n-step buffers give gamma^k per sample (k <= n, shorter at episode ends); else gamma.
        discounts = data.discounts if data.discounts is not None else self.gamma

        # a = f(eps; s) ~ pi(.|s) by reparameterisation (SAC18b Eq. 8), log pi(a|s) with the tanh
        # correction (SAC18a Eq. 21): SquashedGaussianActor.action_log_prob.
        if update_actor:
            actions_pi, log_prob = self.actor.action_log_prob(data.observations)
            log_prob = log_prob.reshape(-1, 1)

        # Critic target (SAC18b Eqs. 3 and 5), clipped double-Q over the target ensemble:
        # y = r + gamma^n (1 - terminated) (min_i Qtarg_i(s', a') - alpha log pi(a'|s')),  a' ~ pi(.|s').
        # Time-limit truncations are stored as not-done by the replay buffer, so they bootstrap.
        # a' comes from the actor's running normalisation statistics (CrossQ), if it has any.
        with th.no_grad(), running_statistics(self.actor):
            next_actions, next_log_prob = self.actor.action_log_prob(data.next_observations)
        current_q, next_q = self._critic_values(data, next_actions)
        with th.no_grad():
            soft_next_value = next_q.min(dim=0).values - alpha * next_log_prob.reshape(-1, 1)
            target_q = data.rewards + (1.0 - data.dones) * discounts * soft_next_value
        # J_Q = sum_i 1/2 E[(Q_i(s, a) - y)^2]  (SAC18b Eq. 5, one term per critic)
        critic_loss = 0.5 * (current_q - target_q).pow(2).mean(dim=(1, 2)).sum()
        stats = {"ent_coef": alpha, "critic_loss": critic_loss.detach(), "q_mean": current_q.detach().mean()}
        losses = [critic_loss]
        if step_critics_first is not None:
            step_critics_first(critic_loss)
            losses = []

        if update_actor:
            # Actor: J_pi = E[alpha log pi(f(eps; s)|s) - min_i Q_i(s, f(eps; s))]  (SAC18b Eq. 9),
            # gradients through the action (reparameterisation) but not into the critics' weights,
            # nor the critics' running normalisation statistics (CrossQ), which this pass leaves unchanged.
            with running_statistics(self.critic):
                q_pi = self._q_values_at_constant_weights(data.observations, actions_pi, functional)
            actor_loss = (alpha * log_prob - q_pi.min(dim=0).values).mean()
            losses.append(actor_loss)
            stats.update(actor_loss=actor_loss.detach(), entropy=-log_prob.detach().mean())

            # Temperature: J(alpha) = E[-alpha (log pi(a|s) + H_0)]  (SAC18b Eq. 18), minimised over log alpha.
            # Its gradient is negative while the entropy -log pi is below H_0, so alpha grows, and vice versa.
            # "log_alpha" (default, SB3 and softlearning) puts log alpha in place of alpha: same sign and
            # fixed point, a gradient that does not shrink with alpha. "alpha" is the equation as written.
            if log_alpha is not None:
                temperature = log_alpha if self.temperature_loss == "log_alpha" else log_alpha.exp()
                ent_coef_loss = -(temperature * (log_prob.detach() + self.target_entropy)).mean()  # type: ignore[operator]
                losses.append(ent_coef_loss)
                stats["ent_coef_loss"] = ent_coef_loss.detach()

        # Each loss reaches only its own parameters (no_grad target, detached critics, detached alpha and
        # log pi), so the gradient of the sum gives each optimizer exactly its loss's gradient, all at
        # the same parameters, as in the authors' softlearning code (update_order="joint").
        return (th.stack(losses).sum() if losses else None), stats

    def _q_values_at_constant_weights(self, obs: PyTorchObs, actions: th.Tensor, functional: bool) -> th.Tensor:
        """
        ``Q_i(s, a)`` of every critic, differentiable in ``actions`` only (the actor loss's critic pass).

        Eagerly the critics' weights stop requiring gradients for the pass, so autograd neither tracks
        nor computes their gradients (cheaper than detaching each of them). Under ``torch.func`` (the
        functional step) ``requires_grad`` means nothing, so the pass runs on detached weights.
        """
        if functional:
            detached = {name: parameter.detach() for name, parameter in self.critic.named_parameters()}
            return th.stack(th.func.functional_call(self.critic, detached, (obs, actions)))
        with frozen([p for group in self.critic.optimizer.param_groups for p in group["params"]]):
            return self.critic.q_values(obs, actions)

    @th.no_grad()
    def _update_target_networks(self) -> None:
        """Polyak averaging: psi_targ <- (1 - tau) psi_targ + tau psi; batch-norm statistics are copied."""
        th._foreach_lerp_(list(self.critic_target.parameters()), list(self.critic.parameters()), self.tau)  # type: ignore[union-attr]
        for stat_target, stat in zip(self._norm_stats_target, self._norm_stats):
            stat_target.copy_(stat)

    def _record_train_stats(self, stats: dict[bool, list[th.Tensor]]) -> None:
        """Log the means over this call's gradient steps (one host sync per kind of step)."""
        totals: dict[str, float] = {}
        counts: dict[str, int] = {}
        for update_actor, vectors in stats.items():
            if vectors:
                sums = th.stack(vectors).double().sum(dim=0).tolist()
                for key, total in zip(self._stat_names[update_actor], sums):
                    totals[key] = totals.get(key, 0.0) + total
                    counts[key] = counts.get(key, 0) + len(vectors)
        for key, total in totals.items():
            value = total / counts[key]
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
            *("actor", "critic", "critic_target", "_norm_stats", "_norm_stats_target", "_steps", "_step_config"),
            *("_reparametrized", "_parameter_names", "_learning_rate_tensor", "_qf_learning_rate_tensor"),
            "_functional_step_compiled",
            *("_stat_names", "qf_lr_schedule"),
        ]

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        state_dicts = ["policy", "actor.optimizer", "critic.optimizer"]
        if self.ent_coef_optimizer is not None:
            return [*state_dicts, "ent_coef_optimizer"], ["log_ent_coef"]
        return state_dicts, ["ent_coef_tensor"]
