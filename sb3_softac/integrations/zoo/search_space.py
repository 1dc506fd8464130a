"""SoftAC's Optuna search space for rl_zoo3's ``-optimize``: rl_zoo3's SAC space, the temperature and SoftAC's options."""

import os
import socket
from typing import Any

#: Trial parameters SoftAC adds to rl_zoo3's SAC space.
SOFTAC_PARAMS = ("ent_coef_init", "target_entropy", "policy_delay", "layer_norm", "dropout_rate")


def softac_options(params: dict[str, Any], policy_kwargs: dict[str, Any]) -> dict[str, Any]:
    """
    The constructor arguments of SoftAC's own trial parameters (a study made before one of them was in
    the space gets that option's default).

    :param params: A trial's raw parameters (``trial.params``).
    :param policy_kwargs: The ``policy_kwargs`` of rl_zoo3's SAC parameters (``net_arch``), extended here.
    :return: ``ent_coef``, ``target_entropy``, ``policy_delay`` and ``policy_kwargs``.
    """
    return {
        "ent_coef": f"auto_{params['ent_coef_init']}",
        "target_entropy": params["target_entropy"],
        "policy_delay": params.get("policy_delay", 1),
        "policy_kwargs": {
            **policy_kwargs,
            "layer_norm": params.get("layer_norm", False),
            "dropout_rate": params.get("dropout_rate", 0.0),
        },
    }


def sample_softac_params(trial: Any, n_actions: int, n_envs: int, additional_args: dict) -> dict[str, Any]:
    """
    Optuna search space: rl_zoo3's SAC space, the temperature and SoftAC's critic options.

    ``ent_coef_init`` (log-uniform in [1e-3, 1]) starts a learned temperature (``ent_coef="auto_<init>"``);
    ``target_entropy`` is uniform in [-2 dim(A), 0], i.e. a scale of 0 to 2 on SAC's ``-dim(A)`` default;
    ``policy_delay`` is 1, 2 or 3; the critics get ``layer_norm`` (on or off) and ``dropout_rate``
    (0, 0.01 or 0.1), DroQ's regularisers. Each trial records the worker that ran it (user attribute
    ``worker``, ``host:pid``), so a study shared by many workers shows who ran what.

    :param trial: The Optuna trial.
    :param n_actions: Action dimension.
    :param n_envs: Number of environments.
    :param additional_args: rl_zoo3's extra sampler arguments (HER settings).
    :return: Hyperparameters for the SoftAC constructor.
    """
    from rl_zoo3.hyperparams_opt import sample_sac_params

    hyperparams = sample_sac_params(trial, n_actions, n_envs, additional_args)
    trial.suggest_float("ent_coef_init", 1e-3, 1.0, log=True)
    target_entropy = trial.suggest_float("target_entropy", -2.0 * n_actions, 0.0)
    trial.suggest_categorical("policy_delay", [1, 2, 3])
    trial.suggest_categorical("layer_norm", [False, True])
    trial.suggest_categorical("dropout_rate", [0.0, 0.01, 0.1])
    trial.set_user_attr("target_entropy_scale", -target_entropy / n_actions)
    trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
    return {**hyperparams, **softac_options(trial.params, hyperparams["policy_kwargs"])}


def convert_softac_params(params: dict[str, Any]) -> dict[str, Any]:
    """
    Turn a finished trial's raw parameters back into constructor arguments (for ``--trial-id`` reuse).

    :param params: ``trial.params`` of a softac trial.
    :return: Hyperparameters for the SoftAC constructor.
    """
    from rl_zoo3.hyperparams_opt import convert_offpolicy_params

    sac_params = convert_offpolicy_params({key: value for key, value in params.items() if key not in SOFTAC_PARAMS})
    return {**sac_params, **softac_options(params, sac_params["policy_kwargs"])}


def zoo_entry(params: dict[str, Any], n_timesteps: int) -> dict[str, Any]:
    """
    A ``zoo_configs/softac.yml`` entry with a trial's hyperparameters.

    :param params: ``trial.params`` of a softac trial.
    :param n_timesteps: The entry's training budget.
    :return: The entry, ``policy_kwargs`` written as the string rl_zoo3 evaluates.
    """
    hyperparams = convert_softac_params(params)
    policy_kwargs = ", ".join(f"{key}={value!r}" for key, value in hyperparams.pop("policy_kwargs").items())
    return {"n_timesteps": n_timesteps, "policy": "MlpPolicy", **hyperparams, "policy_kwargs": f"dict({policy_kwargs})"}
