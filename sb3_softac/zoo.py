"""RL-Zoo (rl_zoo3) integration: ``--algo softac`` for train, enjoy, record_video and Optuna.

rl_zoo3 has no plugin mechanism: ``--algo`` takes its choices from ``rl_zoo3.utils.ALGOS`` when the
parser is built, and Optuna trials look the algorithm up in ``HYPERPARAMS_SAMPLER`` /
``HYPERPARAMS_CONVERTER``. Each entry point here registers ``softac`` in those tables, then hands over
to rl_zoo3 unchanged, so every zoo flag keeps working. Where rl_zoo3 falls short, small wrappers of
its ``ExperimentManager`` fill in: yaml ``env_kwargs`` for the eval env, checkpointed replay buffers
and timestep continuation on resume, and W&B tracking. No algorithm logic lives here.
"""

import argparse
import ast
import inspect
import re
import runpy
import sys
import time
from importlib import resources
from pathlib import Path
from typing import Any

from stable_baselines3.common.callbacks import BaseCallback, CheckpointCallback

from sb3_softac.softac import SoftAC

ALGO_NAME = "softac"
_CONF_FLAGS = ("-conf", "--conf-file")
_PARAMS_FLAGS = ("-params", "--hyperparams")
# SoftAC hyperparameters a sweep may set as --name=value; seed, device and verbose stay rl_zoo3 flags.
SWEEPABLE = frozenset(inspect.signature(SoftAC.__init__).parameters) - {"self", "policy", "env", "_init_setup_model", "seed", "device", "verbose", "tensorboard_log"}
SWEEPABLE |= {"n_timesteps", "n_envs"}
_TRACKING: dict[str, Any] = {"active": False}


def default_config_path() -> Path:
    """
    :return: The packaged ``zoo_configs/softac.yml`` (the repo's ``zoo_configs/`` in an editable install).
    """
    return Path(str(resources.files("sb3_softac.zoo_configs").joinpath("softac.yml")))


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


def sample_softac_params(trial: Any, n_actions: int, n_envs: int, additional_args: dict) -> dict[str, Any]:
    """
    Optuna search space: rl_zoo3's SAC space plus the temperature.

    ``ent_coef_init`` (log-uniform in [1e-3, 1]) starts a learned temperature (``ent_coef="auto_<init>"``);
    ``target_entropy`` is uniform in [-2 dim(A), 0], i.e. a scale of 0 to 2 on SAC's ``-dim(A)`` default.

    :param trial: The Optuna trial.
    :param n_actions: Action dimension.
    :param n_envs: Number of environments.
    :param additional_args: rl_zoo3's extra sampler arguments (HER settings).
    :return: Hyperparameters for the SoftAC constructor.
    """
    from rl_zoo3.hyperparams_opt import sample_sac_params

    hyperparams = sample_sac_params(trial, n_actions, n_envs, additional_args)
    ent_coef_init = trial.suggest_float("ent_coef_init", 1e-3, 1.0, log=True)
    target_entropy = trial.suggest_float("target_entropy", -2.0 * n_actions, 0.0)
    trial.set_user_attr("target_entropy_scale", -target_entropy / n_actions)
    return {**hyperparams, "ent_coef": f"auto_{ent_coef_init}", "target_entropy": target_entropy}


def convert_softac_params(params: dict[str, Any]) -> dict[str, Any]:
    """
    Turn a finished trial's raw parameters back into constructor arguments (for ``--trial-id`` reuse).

    :param params: ``trial.params`` of a softac trial.
    :return: Hyperparameters for the SoftAC constructor.
    """
    from rl_zoo3.hyperparams_opt import convert_offpolicy_params

    sac_params = {key: value for key, value in params.items() if key not in ("ent_coef_init", "target_entropy")}
    return {**convert_offpolicy_params(sac_params), "ent_coef": f"auto_{params['ent_coef_init']}", "target_entropy": params["target_entropy"]}


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


def _adapt_experiment_manager() -> None:
    """
    Wrap three ``ExperimentManager`` methods (once) for what rl_zoo3 lacks:

    - the yaml's ``env_kwargs`` also go to the evaluation env when ``--eval-env-kwargs`` is not passed
      (rl_zoo3 applies them to the training env only, so a DMC entry with ``action_repeat: 2`` would be
      evaluated without action repeat);
    - ``--save-replay-buffer`` also makes every ``--save-freq`` checkpoint save its replay buffer;
    - ``-i <checkpoint>`` loads that checkpoint's replay buffer and continues its timestep count;
    - ``--track`` adds :class:`~sb3_softac.tracking.WandbTracking` to the callbacks.
    """
    from rl_zoo3.exp_manager import ExperimentManager

    learn, load_pretrained = ExperimentManager.learn, ExperimentManager._load_pretrained_agent
    preprocess = ExperimentManager._preprocess_hyperparams
    if getattr(learn, "_softac_adapter", False):
        return

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
        if _TRACKING["active"]:
            from sb3_softac.tracking import WandbTracking

            self.callbacks = [*self.callbacks, WandbTracking(verbose=self.verbose)]
        learn(self, model)

    def load_pretrained_with_buffer(self: ExperimentManager, hyperparams: dict[str, Any], env: Any) -> Any:
        model = load_pretrained(self, hyperparams, env)
        buffer = checkpoint_replay_buffer(self.trained_agent)
        if buffer is not None:
            print(f"Loading the checkpoint's replay buffer {buffer}")
            model.load_replay_buffer(buffer, truncate_last_traj=self.truncate_last_trajectory)
        return model

    learn_adapted._softac_adapter = True  # type: ignore[attr-defined]
    ExperimentManager.learn = learn_adapted  # type: ignore[method-assign]
    ExperimentManager._load_pretrained_agent = load_pretrained_with_buffer  # type: ignore[method-assign]
    ExperimentManager._preprocess_hyperparams = preprocess_with_eval_kwargs  # type: ignore[method-assign]


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
    hyperparams_opt.HYPERPARAMS_CONVERTER[ALGO_NAME] = convert_softac_params
    _adapt_experiment_manager()


def flag_value(argv: list[str], flag: str, default: str | None = None) -> str | None:
    """
    :param argv: Command-line arguments.
    :param flag: A long flag, e.g. ``"--env"``.
    :return: Its value, given as ``--flag value`` or ``--flag=value``, else ``default``.
    """
    for i, arg in enumerate(argv):
        if arg == flag and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(f"{flag}="):
            return arg.split("=", 1)[1]
    return default


def with_default_config(argv: list[str]) -> list[str]:
    """
    :param argv: Command-line arguments (without the program name).
    :return: ``argv`` plus ``--conf-file <packaged softac.yml>`` when the algo is softac and no config is given.
    """
    algo = flag_value(argv, "--algo")
    has_conf = any(arg in _CONF_FLAGS or arg.startswith("--conf-file=") for arg in argv)
    if algo == ALGO_NAME and not has_conf:
        return [*argv, "--conf-file", str(default_config_path())]
    return argv


def _as_python_source(value: str) -> str:
    """rl_zoo3 evaluates each ``-params`` value: keep literals and ``dict(...)`` as they are, quote plain strings."""
    if value.startswith("dict("):
        return value
    try:
        ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return repr(value)
    return value


def with_sweep_params(argv: list[str]) -> list[str]:
    """
    Turn the ``--name=value`` arguments a ``wandb agent`` passes into rl_zoo3's ``-params name:value``.

    Only SoftAC hyperparameter names (and ``n_timesteps``, ``n_envs``) are taken; they join an
    existing ``-params`` list (rl_zoo3 keeps only the last ``-params`` flag).

    :param argv: Command-line arguments.
    :return: The arguments rl_zoo3 understands.
    """
    rest, params = [], []
    for arg in argv:
        name, sep, value = arg[2:].partition("=")
        if arg.startswith("--") and sep and name in SWEEPABLE:
            params.append(f"{name}:{_as_python_source(value)}")
        else:
            rest.append(arg)
    if not params:
        return argv
    flag_index = next((i for i, arg in enumerate(rest) if arg in _PARAMS_FLAGS), None)
    if flag_index is None:
        return [*rest, "-params", *params]
    return [*rest[: flag_index + 1], *params, *rest[flag_index + 1 :]]


def _tracking_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--track", action="store_true")
    parser.add_argument("--wandb-project-name", default="sb3")
    parser.add_argument("--wandb-entity", default=None)
    parser.add_argument("--wandb-group", default=None)
    parser.add_argument("-tags", "--wandb-tags", nargs="+", default=[])
    return parser


def _start_tracking(tracking: argparse.Namespace, zoo_argv: list[str]) -> Any:
    """``--track``: a W&B run (offline without an account) that WandbTracking fills in."""
    from sb3_softac.tracking import init_wandb

    env_id = flag_value(zoo_argv, "--env", "env")
    seed = flag_value(zoo_argv, "--seed", "-1")
    run = init_wandb(
        project=tracking.wandb_project_name,
        entity=tracking.wandb_entity,
        group=tracking.wandb_group,
        tags=[*tracking.wandb_tags, ALGO_NAME],
        name=f"{env_id}__{ALGO_NAME}__{seed}__{int(time.time())}",
        config={"env": env_id, "algo": ALGO_NAME, "command": " ".join(["softac-train", *zoo_argv])},
    )
    _TRACKING["active"] = True
    return run


def train_main(argv: list[str] | None = None) -> None:
    """
    ``rl_zoo3``'s train with ``--algo softac`` registered, the packaged config as default, ``--track``
    logging to W&B (offline without an account) and ``wandb agent`` arguments applied as hyperparameters.

    :param argv: Arguments (default: ``sys.argv[1:]``).
    """
    register_with_zoo()
    from rl_zoo3.train import train

    tracking, zoo_argv = _tracking_parser().parse_known_args(sys.argv[1:] if argv is None else argv)
    zoo_argv = with_default_config(with_sweep_params(zoo_argv))
    run = _start_tracking(tracking, zoo_argv) if tracking.track else None
    sys.argv = [sys.argv[0], *zoo_argv]
    try:
        train()
    finally:
        if run is not None:
            _TRACKING["active"] = False
            run.finish()


def enjoy_main(argv: list[str] | None = None) -> None:
    """
    ``rl_zoo3``'s enjoy with ``--algo softac`` registered (no full replay buffer on load).

    :param argv: Arguments (default: ``sys.argv[1:]``).
    """
    register_with_zoo(inference=True)
    from rl_zoo3.enjoy import enjoy

    sys.argv = [sys.argv[0], *(sys.argv[1:] if argv is None else argv)]
    enjoy()


def record_video_main(argv: list[str] | None = None) -> None:
    """
    ``rl_zoo3``'s record_video (which only runs as ``__main__``) with ``--algo softac`` registered.

    :param argv: Arguments (default: ``sys.argv[1:]``).
    """
    register_with_zoo(inference=True)
    sys.argv = [sys.argv[0], *(sys.argv[1:] if argv is None else argv)]
    runpy.run_module("rl_zoo3.record_video", run_name="__main__", alter_sys=True)
