"""Weights & Biases tracking for SoftAC: offline by default, metrics straight from SB3's logger.

Library use::

    from sb3_softac.integrations.wandb_tracking import WandbTracking, init_wandb
    run = init_wandb(project="softac", config={"env": "Pendulum-v1"})
    model.learn(20_000, callback=WandbTracking())
    run.finish()

The RL-Zoo entry point's ``--track`` does the same (see ``sb3_softac.integrations.zoo``). No algorithm logic here.
"""

import inspect
import netrc
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import gymnasium as gym
import numpy as np
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.logger import KVWriter


def has_wandb_credentials() -> bool:
    """
    :return: Whether an API key is configured: ``WANDB_API_KEY`` or a ``wandb login`` entry in ``~/.netrc``.
    """
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname
    try:
        return netrc.netrc().authenticators(host or "api.wandb.ai") is not None
    except (FileNotFoundError, netrc.NetrcParseError):
        return False


def configure_wandb_mode() -> str:
    """
    Go offline when no W&B account is configured; a ``WANDB_MODE`` set by the user always wins.

    :return: The mode in force (``"online"``, ``"offline"``, ...).
    """
    if "WANDB_MODE" not in os.environ and not has_wandb_credentials():
        os.environ["WANDB_MODE"] = "offline"
        wandb_dir = Path(os.environ.get("WANDB_DIR", ".")).resolve() / "wandb"
        print(
            f"W&B: no account configured (WANDB_API_KEY or `wandb login`), so this run is logged offline under {wandb_dir}; "
            f"upload it later with: wandb sync {wandb_dir}/offline-run-*"
        )
    return os.environ.get("WANDB_MODE", "online")


def init_wandb(**init_kwargs: Any) -> Any:
    """
    ``wandb.init`` after :func:`configure_wandb_mode`.

    :param init_kwargs: Arguments of ``wandb.init`` (project, config, name, tags, ...).
    :return: The W&B run.
    """
    import wandb

    configure_wandb_mode()
    return wandb.init(**init_kwargs)


class WandbOutputFormat(KVWriter):
    """An SB3 logger output that sends every recorded scalar to ``wandb.log`` at the current timestep."""

    def write(self, key_values: dict[str, Any], key_excluded: dict[str, tuple[str, ...]], step: int = 0) -> None:
        import wandb

        scalars = {
            key: float(value)
            for key, value in key_values.items()
            if isinstance(value, (int, float, np.integer, np.floating)) and "wandb" not in (key_excluded.get(key) or ())
        }
        if scalars and wandb.run is not None:
            wandb.log({**scalars, "global_step": step})

    def close(self) -> None:
        """Nothing to close: the run is finished by its owner."""


def hyperparameters_of(model: Any) -> dict[str, Any]:
    """
    :param model: An SB3 algorithm.
    :return: Its constructor hyperparameters (W&B-friendly: schedules and classes as strings).
    """
    names = [
        name for name in inspect.signature(type(model).__init__).parameters if name not in ("self", "env", "_init_setup_model")
    ]
    values = {name: getattr(model, name) for name in names if hasattr(model, name)}
    values["policy"] = type(model.policy).__name__
    values["algo"] = type(model).__name__
    return {key: _plain(value) for key, value in values.items()}


def _plain(value: Any) -> Any:
    """A value W&B can chart: constant schedules as their number, other objects as their repr."""
    if isinstance(value, (bool, int, float, str, type(None))):
        return value
    if isinstance(getattr(value, "val", None), (int, float)):  # SB3's ConstantSchedule
        return value.val
    return str(value)


class WandbTracking(BaseCallback):
    """
    Log a SoftAC (or any SB3) run to the active W&B run.

    At the start: the hyperparameters into ``wandb.config`` and every SB3 logger record (SoftAC's
    ``train/entropy``, ``train/target_entropy``, ``train/ent_coef``, ``train/q_mean`` included) into
    the run's history. At the end: a deterministic evaluation (``final/mean_reward``,
    ``final/std_reward``), the final model as a run file, and an evaluation video when the env renders.

    :param eval_episodes: Deterministic evaluation episodes at the end (0 skips it).
    :param video_length: Maximum frames of the evaluation video (0 skips it).
    :param save_model: Save the final model into the run.
    :param verbose: Verbosity level.
    """

    def __init__(self, eval_episodes: int = 5, video_length: int = 300, save_model: bool = True, verbose: int = 0) -> None:
        super().__init__(verbose)
        self.eval_episodes, self.video_length, self.save_model = eval_episodes, video_length, save_model

    def _on_training_start(self) -> None:
        import wandb

        if wandb.run is None:
            raise RuntimeError(
                "WandbTracking needs an active W&B run: call sb3_softac.integrations.wandb_tracking.init_wandb(...) first."
            )
        wandb.config.update({"hyperparams": hyperparameters_of(self.model)}, allow_val_change=True)
        if not any(isinstance(output, WandbOutputFormat) for output in self.model.logger.output_formats):
            self.model.logger.output_formats.append(WandbOutputFormat())

    def _on_step(self) -> bool:
        return True

    def _on_training_end(self) -> None:
        import wandb

        run = wandb.run
        if run is None:  # the run was finished during training: nothing left to write to
            return
        if self.eval_episodes > 0:
            mean_reward, std_reward = evaluate_policy(
                self.model, self.training_env, n_eval_episodes=self.eval_episodes, deterministic=True
            )
            wandb.log({"final/mean_reward": mean_reward, "final/std_reward": std_reward, "global_step": self.num_timesteps})
            run.summary["final/mean_reward"] = mean_reward
        if self.save_model:
            path = Path(run.dir) / "model.zip"
            self.model.save(path)
            wandb.save(str(path), base_path=run.dir, policy="now")
        if self.video_length > 0:
            frames = self._record_episode()
            if frames is not None:
                wandb.log({"eval/video": wandb.Video(frames, fps=30, format="mp4"), "global_step": self.num_timesteps})

    def _record_episode(self) -> np.ndarray | None:
        """One deterministic episode rendered from a fresh copy of the training env, or None if it can't render."""
        spec = self.training_env.get_attr("spec")[0]
        if spec is None:
            return None
        try:
            env = gym.make(spec.id, **{**spec.kwargs, "render_mode": "rgb_array"})
            obs, _ = env.reset(seed=0)
            frames = [env.render()]
        except Exception as error:  # rendering is optional: no display, no renderer, an env without rgb_array
            if self.verbose:
                print(f"WandbTracking: no evaluation video ({type(error).__name__}: {error})")
            return None
        vec_normalize = self.model.get_vec_normalize_env()
        for _ in range(self.video_length - 1):
            policy_obs = vec_normalize.normalize_obs(obs) if vec_normalize is not None else obs
            action, _ = self.model.predict(policy_obs, deterministic=True)
            obs, _, terminated, truncated, _ = env.step(action)
            frames.append(env.render())
            if terminated or truncated:
                break
        env.close()
        return np.stack(frames).transpose(0, 3, 1, 2)  # type: ignore[arg-type]  # (time, channel, height, width) as wandb.Video expects
