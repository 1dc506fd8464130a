"""The softac RL-Zoo entry points (``softac-train``, ``softac-enjoy``, ``softac-record-video``) and their
command-line handling: the packaged config as default, ``wandb agent`` arguments as hyperparameters,
and ``--track`` for W&B."""

import argparse
import ast
import inspect
import runpy
import sys
import time
from importlib import resources
from pathlib import Path
from typing import Any

from sb3_softac.integrations.zoo.adapters import ALGO_NAME, TRACKING, register_with_zoo
from sb3_softac.softac import SoftAC

_CONF_FLAGS = ("-conf", "--conf-file")
_PARAMS_FLAGS = ("-params", "--hyperparams")
_NOT_SWEEPABLE = {"self", "policy", "env", "_init_setup_model", "seed", "device", "verbose", "tensorboard_log"}
#: SoftAC hyperparameters a sweep may set as ``--name=value``; seed, device and verbose stay rl_zoo3 flags.
SWEEPABLE = (frozenset(inspect.signature(SoftAC.__init__).parameters) - _NOT_SWEEPABLE) | {"n_timesteps", "n_envs"}


def default_config_path() -> Path:
    """
    :return: The packaged ``zoo_configs/softac.yml`` (the repo's ``zoo_configs/`` in an editable install).
    """
    return Path(str(resources.files("sb3_softac.zoo_configs").joinpath("softac.yml")))


def flag_value(argv: list[str], flag: str, default: str | None = None) -> str | None:
    """
    :param argv: Command-line arguments.
    :param flag: A long flag, e.g. ``"--env"``.
    :param default: What to return when the flag is absent.
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
    from sb3_softac.integrations.wandb_tracking import init_wandb

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
    TRACKING["active"] = True
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
            TRACKING["active"] = False
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
