"""RL-Zoo (rl_zoo3) integration: ``--algo softac`` for train, enjoy, record_video and Optuna.

rl_zoo3 has no plugin mechanism: ``--algo`` takes its choices from ``rl_zoo3.utils.ALGOS`` when the
parser is built, and Optuna trials look the algorithm up in ``HYPERPARAMS_SAMPLER`` /
``HYPERPARAMS_CONVERTER``. Each entry point here registers ``softac`` in those tables, then hands over
to rl_zoo3 unchanged, so every zoo flag keeps working. No algorithm logic lives here.
"""

import runpy
import sys
from importlib import resources
from pathlib import Path
from typing import Any

from sb3_softac.softac import SoftAC

ALGO_NAME = "softac"
_CONF_FLAGS = ("-conf", "--conf-file")


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


def _eval_env_uses_yaml_env_kwargs() -> None:
    """
    Give the evaluation env the yaml's ``env_kwargs`` when ``--eval-env-kwargs`` is not passed.

    rl_zoo3 applies yaml ``env_kwargs`` to the training env only, so a DMC entry with
    ``action_repeat: 2`` would be evaluated without action repeat.
    """
    from rl_zoo3.exp_manager import ExperimentManager

    preprocess = ExperimentManager._preprocess_hyperparams
    if getattr(preprocess, "_softac_eval_env_kwargs", False):
        return

    def preprocess_with_eval_kwargs(self: ExperimentManager, hyperparams: dict[str, Any]) -> Any:
        result = preprocess(self, hyperparams)
        if self._eval_env_kwargs_args is None:
            self.eval_env_kwargs = self.env_kwargs
        return result

    preprocess_with_eval_kwargs._softac_eval_env_kwargs = True  # type: ignore[attr-defined]
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
    _eval_env_uses_yaml_env_kwargs()


def with_default_config(argv: list[str]) -> list[str]:
    """
    :param argv: Command-line arguments (without the program name).
    :return: ``argv`` plus ``--conf-file <packaged softac.yml>`` when the algo is softac and no config is given.
    """
    algo = next((argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == "--algo"), None)
    algo = algo or next((arg.split("=", 1)[1] for arg in argv if arg.startswith("--algo=")), None)
    has_conf = any(arg in _CONF_FLAGS or arg.startswith("--conf-file=") for arg in argv)
    if algo == ALGO_NAME and not has_conf:
        return [*argv, "--conf-file", str(default_config_path())]
    return argv


def train_main(argv: list[str] | None = None) -> None:
    """
    ``rl_zoo3``'s train with ``--algo softac`` registered and the packaged config as default.

    :param argv: Arguments (default: ``sys.argv[1:]``).
    """
    register_with_zoo()
    from rl_zoo3.train import train

    sys.argv = [sys.argv[0], *with_default_config(sys.argv[1:] if argv is None else argv)]
    train()


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
