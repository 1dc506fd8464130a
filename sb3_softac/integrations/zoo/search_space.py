"""SoftAC's Optuna search space for rl_zoo3's ``-optimize``: rl_zoo3's SAC space plus the temperature."""

from typing import Any


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
    return {
        **convert_offpolicy_params(sac_params),
        "ent_coef": f"auto_{params['ent_coef_init']}",
        "target_entropy": params["target_entropy"],
    }
