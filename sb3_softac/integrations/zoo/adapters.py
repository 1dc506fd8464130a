"""What the softac entry points change in rl_zoo3, and nothing else.

``register_with_zoo`` adds ``softac`` to rl_zoo3's algorithm and Optuna tables and wraps five methods
of its ``ExperimentManager`` (once) for what rl_zoo3 lacks:

- the yaml's ``env_kwargs`` also go to the evaluation env when ``--eval-env-kwargs`` is not passed
  (rl_zoo3 applies them to the training env only, so a DMC entry with ``action_repeat: 2`` would be
  evaluated without action repeat);
- ``--save-replay-buffer`` also makes every ``--save-freq`` checkpoint save its replay buffer;
- ``-i <checkpoint>`` loads that checkpoint's replay buffer and continues its timestep count;
- ``--track`` adds :class:`~sb3_softac.integrations.wandb_tracking.WandbTracking` to the callbacks;
- ``-optimize`` with a database ``--storage`` first prepares the shared study
  (:func:`~sb3_softac.integrations.zoo.storage.prepare_shared_study`), so workers started together on a
  fresh database do not race to create it;
- ``--trial-id 0`` retrains trial 0 (rl_zoo3 tests ``if self.trial_id``, so it ignored trial 0).

The wrapped methods are private to rl_zoo3, so the ``zoo`` extra bounds rl_zoo3 to the tested
versions (:data:`TESTED_RL_ZOO3`), and a missing method stops with :class:`UnsupportedRLZooError`.
"""

import re
import sys
from pathlib import Path
from typing import Any

from stable_baselines3.common.callbacks import BaseCallback, CheckpointCallback

from sb3_softac.integrations.zoo.search_space import convert_softac_params, sample_softac_params
from sb3_softac.integrations.zoo.storage import is_database_url, prepare_shared_study
from sb3_softac.softac import SoftAC

ALGO_NAME = "softac"
#: The rl_zoo3 releases these adapters are tested with (the ``zoo`` extra's bound).
TESTED_RL_ZOO3 = ">=2.9,<2.10"
_WRAPPED = (
    "learn",
    "_load_pretrained_agent",
    "_preprocess_hyperparams",
    "hyperparameters_optimization",
    "read_hyperparameters",
)
#: Whether ``--track`` is on for the current ``train_main`` call (set by the command line).
TRACKING: dict[str, Any] = {"active": False}


class UnsupportedRLZooError(ImportError):
    """The installed rl_zoo3 lacks something the softac adapters wrap."""


class InferenceSoftAC(SoftAC):
    """SoftAC whose ``load`` keeps a one-transition replay buffer: what enjoy and record_video need."""

    @classmethod
    def load(cls, path: Any, env: Any = None, device: Any = "auto", custom_objects: Any = None, **kwargs: Any) -> SoftAC:  # type: ignore[override]
        """
        ``SoftAC.load`` with ``buffer_size=1`` unless given: rl_zoo3 sets it only for its own off-policy algorithms.

        :param path: Path or file-like object of the saved model.
        :param env: Environment to attach.
        :param device: Torch device.
        :param custom_objects: Objects to replace on load (see SB3).
        :param kwargs: Other arguments of ``SoftAC.load``.
        :return: The loaded model.
        """
        return SoftAC.load(path, env=env, device=device, custom_objects=custom_objects, **{"buffer_size": 1, **kwargs})


class ResumeTimesteps(BaseCallback):
    """
    Continue a resumed run's step count: rl_zoo3 restarts it at 0 when training from ``-i``.

    SB3 resets ``num_timesteps`` when ``learn`` starts; this puts back the checkpoint's count, so the
    run trains only the remaining ``n_timesteps`` and schedules, logs and checkpoints continue.

    :param num_timesteps: Timesteps the loaded model had done.
    :param episode_num: Episodes the loaded model had done.
    """

    def __init__(self, num_timesteps: int, episode_num: int) -> None:
        super().__init__()
        self.resume_timesteps, self.resume_episodes = num_timesteps, episode_num

    def _on_training_start(self) -> None:
        self.model.num_timesteps = self.model._num_timesteps_at_start = self.resume_timesteps
        self.model._episode_num = self.resume_episodes
        print(f"Resuming at timestep {self.resume_timesteps} of {self.model._total_timesteps}")

    def _on_step(self) -> bool:
        return True


_CHECKPOINT = re.compile(r"^(?P<prefix>.+)_(?P<steps>\d+)_steps\.zip$")


def checkpoint_replay_buffer(model_path: str) -> Path | None:
    """
    :param model_path: A CheckpointCallback zip, ``<prefix>_<N>_steps.zip``.
    :return: Its ``<prefix>_replay_buffer_<N>_steps.pkl`` if it exists.
    """
    match = _CHECKPOINT.match(Path(model_path).name)
    if match is None:
        return None
    buffer = Path(model_path).with_name(f"{match['prefix']}_replay_buffer_{match['steps']}_steps.pkl")
    return buffer if buffer.exists() else None


def check_rl_zoo3(experiment_manager: type) -> None:
    """
    :param experiment_manager: rl_zoo3's ``ExperimentManager`` class.
    :raises UnsupportedRLZooError: When it lacks a method the adapters wrap, naming the installed version.
    """
    missing = [name for name in _WRAPPED if not callable(getattr(experiment_manager, name, None))]
    if missing:
        from importlib.metadata import version

        raise UnsupportedRLZooError(
            f"rl_zoo3 {version('rl_zoo3')} has no ExperimentManager.{', .'.join(missing)}, which the softac entry points "
            f"wrap; they are tested with rl_zoo3{TESTED_RL_ZOO3}: pip install 'rl_zoo3{TESTED_RL_ZOO3}'"
        )


def _adapt_experiment_manager() -> None:
    """Wrap ``ExperimentManager``'s ``learn``, ``_load_pretrained_agent``, ``_preprocess_hyperparams``,
    ``hyperparameters_optimization`` and ``read_hyperparameters`` (once)."""
    from rl_zoo3.exp_manager import ExperimentManager

    check_rl_zoo3(ExperimentManager)
    learn, load_pretrained = ExperimentManager.learn, ExperimentManager._load_pretrained_agent
    preprocess = ExperimentManager._preprocess_hyperparams
    optimize = ExperimentManager.hyperparameters_optimization
    read_hyperparameters = ExperimentManager.read_hyperparameters
    if getattr(learn, "_softac_adapter", False):
        return

    def read_hyperparameters_with_trial_zero(self: ExperimentManager) -> tuple[dict[str, Any], dict[str, Any]]:
        if self.trial_id != 0 or not (self.storage and self.study_name):
            return read_hyperparameters(self)
        # rl_zoo3's order: the yaml entry, then the trial, then -params.
        custom, self.custom_hyperparams = self.custom_hyperparams, None
        hyperparams, _ = read_hyperparameters(self)
        self.custom_hyperparams = custom
        print("Loading trial 0 from the Optuna study...")
        hyperparams.update({**self.load_trial(self.storage, self.study_name, 0), **(custom or {})})
        return hyperparams, dict(sorted(hyperparams.items()))

    def optimize_on_a_prepared_study(self: ExperimentManager) -> None:
        if is_database_url(self.storage) and self.study_name is not None:
            # The study attributes rl_zoo3 sets on a new study, "command" last (rl_zoo3 skips them once it is there).
            attrs = {key: str(self._hyperparams[key]) for key in sorted(self._hyperparams)}
            prepare_shared_study(self.storage, self.study_name, {**attrs, "command": " ".join(sys.orig_argv)})
        optimize(self)

    def preprocess_with_eval_kwargs(self: ExperimentManager, hyperparams: dict[str, Any]) -> Any:
        result = preprocess(self, hyperparams)
        if self._eval_env_kwargs_args is None:
            self.eval_env_kwargs = self.env_kwargs
        return result

    def learn_adapted(self: ExperimentManager, model: Any) -> None:
        for callback in self.callbacks:
            if isinstance(callback, CheckpointCallback) and self.save_replay_buffer:
                callback.save_replay_buffer = True
        if self.continue_training:
            self.callbacks = [*self.callbacks, ResumeTimesteps(model.num_timesteps, model._episode_num)]
        if TRACKING["active"]:
            from sb3_softac.integrations.wandb_tracking import WandbTracking

            self.callbacks = [*self.callbacks, WandbTracking(verbose=self.verbose)]
        learn(self, model)

    def load_pretrained_with_buffer(self: ExperimentManager, hyperparams: dict[str, Any], env: Any) -> Any:
        model = load_pretrained(self, hyperparams, env)
        buffer = checkpoint_replay_buffer(self.trained_agent)
        if buffer is not None:
            print(f"Loading the checkpoint's replay buffer {buffer}")
            model.load_replay_buffer(buffer, truncate_last_traj=self.truncate_last_trajectory)  # type: ignore[attr-defined]
        return model

    learn_adapted._softac_adapter = True  # type: ignore[attr-defined]
    ExperimentManager.learn = learn_adapted  # type: ignore[method-assign]
    ExperimentManager._load_pretrained_agent = load_pretrained_with_buffer  # type: ignore[method-assign]
    ExperimentManager._preprocess_hyperparams = preprocess_with_eval_kwargs  # type: ignore[method-assign]
    ExperimentManager.hyperparameters_optimization = optimize_on_a_prepared_study  # type: ignore[method-assign]
    ExperimentManager.read_hyperparameters = read_hyperparameters_with_trial_zero  # type: ignore[method-assign]


def register_with_zoo(inference: bool = False) -> None:
    """
    Make ``--algo softac`` known to rl_zoo3 (idempotent).

    :param inference: Register :class:`InferenceSoftAC` (enjoy, record_video) instead of :class:`SoftAC`.
    """
    try:
        from rl_zoo3 import hyperparams_opt, utils
    except ImportError as error:
        raise ImportError(f"The RL-Zoo entry points need the 'zoo' extra: pip install 'sb3_softac[zoo]' ({error})") from error

    utils.ALGOS[ALGO_NAME] = InferenceSoftAC if inference else SoftAC
    hyperparams_opt.HYPERPARAMS_SAMPLER[ALGO_NAME] = sample_softac_params
    hyperparams_opt.HYPERPARAMS_CONVERTER[ALGO_NAME] = convert_softac_params  # type: ignore[assignment]
    _adapt_experiment_manager()
