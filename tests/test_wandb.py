"""W&B logging and sweeps, all offline with no server: run files are decoded, not just found."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from sb3_softac.integrations.wandb_tracking import configure_wandb_mode, has_wandb_credentials
from sb3_softac.integrations.zoo.cli import default_config_path, with_sweep_params
from tests.wandb_records import read_run

pytestmark = pytest.mark.slow  # subprocesses and learning runs: left out of the quick loop

REPO = Path(__file__).resolve().parents[1]
SWEEPS = sorted((default_config_path().parent / "sweeps").glob("*.yaml"))


def no_account_env(home: Path) -> dict[str, str]:
    """The environment of a machine with no W&B account: no key, no netrc, no mode set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(HOME=str(home), PYTHONWARNINGS="ignore", PATH=f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}")
    return env


def only_run_file(folder: Path) -> Path:
    (run_file,) = folder.glob("wandb/offline-run-*/run-*.wandb")
    return run_file


def test_tracked_zoo_run_is_offline_and_complete(tmp_path):
    command = [
        sys.executable, str(REPO / "train.py"), "--algo", "softac", "--env", "Pendulum-v1", "-n", "600", "-f", "logs",
        "--seed", "0", "--log-interval", "1", "--track", "--wandb-project-name", "softac-test",
        "-params", "learning_starts:100", "learning_rate:0.002", "batch_size:64", "update_order:'critic_first'",
    ]  # fmt: skip
    result = subprocess.run(command, cwd=tmp_path, env=no_account_env(tmp_path), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "W&B: no account configured" in result.stdout and "wandb sync" in result.stdout

    run = read_run(only_run_file(tmp_path))
    hyperparams = run["config"]["hyperparams"]
    assert hyperparams["learning_rate"] == 0.002 and hyperparams["batch_size"] == 64 and hyperparams["algo"] == "SoftAC"
    assert hyperparams["ent_coef"] == "auto" and hyperparams["target_entropy"] == -1.0
    # SoftAC's own options are constructor arguments too: set from -params, recorded in the run's config
    assert hyperparams["update_order"] == "critic_first" and hyperparams["temperature_loss"] == "log_alpha"
    assert hyperparams["check_finite"] is True and hyperparams["bf16_matmuls"] is False
    assert run["config"]["env"] == "Pendulum-v1"
    logged = {key for row in run["history"] for key in row}
    assert {
        "train/actor_loss",
        "train/critic_loss",
        "train/ent_coef",
        "train/entropy",
        "train/target_entropy",
        "train/q_mean",
    } <= logged
    assert {"rollout/ep_rew_mean", "final/mean_reward"} <= logged
    steps = [row["global_step"] for row in run["history"] if "train/actor_loss" in row]
    assert steps == sorted(steps) and steps[-1] == 600
    assert np.isfinite(run["summary"]["final/mean_reward"])
    assert "model.zip" in run["files"]
    assert (only_run_file(tmp_path).parent / "files" / "model.zip").stat().st_size > 10_000


def test_library_callback_logs_video_for_dmc(tmp_path, monkeypatch):
    from sb3_softac import SoftAC
    from sb3_softac.integrations.wandb_tracking import WandbTracking, init_wandb

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    run = init_wandb(project="softac-test", dir=str(tmp_path))
    model = SoftAC("MlpPolicy", "dmc-cartpole-balance-v0", learning_starts=50, buffer_size=500, batch_size=32, seed=0)
    model.learn(150, callback=WandbTracking(eval_episodes=1, video_length=30))
    run.finish()
    records = read_run(only_run_file(tmp_path))
    (video,) = [row for row in records["history"] if "eval/video/_type" in row]
    assert video["eval/video/_type"] == "video-file" and video["eval/video/width"] == 256
    video_file = only_run_file(tmp_path).parent / "files" / video["eval/video/path"]
    assert video_file.suffix == ".mp4" and video_file.stat().st_size == video["eval/video/size"] > 1000


def test_offline_only_without_credentials(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("HOME", str(tmp_path))
    for key in ("WANDB_MODE", "WANDB_API_KEY", "WANDB_BASE_URL"):
        monkeypatch.delenv(key, raising=False)
    assert not has_wandb_credentials()
    assert configure_wandb_mode() == "offline" and "wandb sync" in capsys.readouterr().out

    monkeypatch.setenv("WANDB_MODE", "disabled")  # a user's own mode always wins
    assert configure_wandb_mode() == "disabled"

    monkeypatch.delenv("WANDB_MODE")
    (tmp_path / ".netrc").write_text("machine api.wandb.ai\n  login user\n  password " + "0" * 40 + "\n")
    (tmp_path / ".netrc").chmod(0o600)
    assert has_wandb_credentials()
    assert configure_wandb_mode() == "online" and "WANDB_MODE" not in os.environ


def test_sweep_arguments_become_zoo_params():
    argv = [
        "--algo",
        "softac",
        "--env",
        "X",
        "--learning_rate=0.001",
        "--ent_coef=auto_0.1",
        "--policy_kwargs=dict(net_arch=[64])",
    ]
    assert with_sweep_params(argv) == [
        "--algo",
        "softac",
        "--env",
        "X",
        "-params",
        "learning_rate:0.001",
        "ent_coef:'auto_0.1'",
        "policy_kwargs:dict(net_arch=[64])",
    ]
    # Joined to an existing -params list (rl_zoo3 keeps only the last -params flag); zoo flags stay as they are.
    assert with_sweep_params(["-params", "tau:0.01", "--seed=3", "--batch_size=64"]) == [
        "-params",
        "batch_size:64",
        "tau:0.01",
        "--seed=3",
    ]
    # SoftAC's options (keyword-only constructor arguments) are sweepable like SB3's
    assert with_sweep_params(["--temperature_loss=alpha", "--check_finite=False"]) == [
        "-params",
        "temperature_loss:'alpha'",
        "check_finite:False",
    ]


@pytest.mark.parametrize("sweep_file", SWEEPS, ids=[path.stem for path in SWEEPS])
def test_sweep_config_is_valid_and_samples(sweep_file):
    import sweeps

    config = yaml.safe_load(sweep_file.read_text())
    assert sweeps.schema_violations_from_proposed_config(config) == []
    sampled = [sweeps.next_run(config, [], validate=True) for _ in range(3)]
    for run in sampled:
        assert set(run.config) == set(config["parameters"])
    assert "${args}" in config["command"] and "--track" in config["command"]


def agent_command(sweep_config: dict, sampled_args: dict) -> list[str]:
    """The command `wandb agent` builds for a run (wandb_agent.Agent._command_run, without a server)."""
    from wandb.sdk.launch.sweeps import utils as sweep_utils

    sweep_vars = sweep_utils.create_sweep_command_args({"args": sampled_args})
    sweep_vars.update(interpreter=["python"], program=[sweep_config["program"]], env=["/usr/bin/env"])
    command = []
    for part in map(str, sweep_utils.create_sweep_command(sweep_config["command"])):
        command += sweep_vars.get(part[2:-1]) or [] if part.startswith("${") and part.endswith("}") else [part]
    return command


def test_simulated_agent_run_carries_sampled_values(tmp_path):
    import sweeps

    sweep_file = default_config_path().parent / "sweeps" / "pendulum_random.yaml"
    config = yaml.safe_load(sweep_file.read_text())
    sampled = sweeps.next_run(config, [], validate=True).config
    command = agent_command(config, sampled)
    assert command[:3] == ["/usr/bin/env", "python", "train.py"] and command[-len(sampled) :] == [
        f"--{k}={v['value']}" for k, v in sampled.items()
    ]

    (tmp_path / "train.py").symlink_to(REPO / "train.py")  # the agent runs from the repo root; `program` is relative
    result = subprocess.run(command, cwd=tmp_path, env=no_account_env(tmp_path), capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    run = read_run(only_run_file(tmp_path))
    hyperparams = run["config"]["hyperparams"]
    for name, value in sampled.items():
        expected = value["value"]
        assert hyperparams[name] == pytest.approx(expected) if isinstance(expected, float) else hyperparams[name] == expected
    assert np.isfinite(run["summary"]["final/mean_reward"])
