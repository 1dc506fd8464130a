"""RL-Zoo entry points run as subprocesses with tiny budgets, and every softac.yml entry builds."""

import os
import re
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import pytest
import yaml

import sb3_softac  # noqa: F401  (registers the DMC ids)
from benchmarks.five_tasks import ZOO_LEARNERS  # each validated DMC entry: (learning.py learner, action repeat)
from sb3_softac import SoftAC
from sb3_softac.integrations.zoo import InferenceSoftAC, register_with_zoo
from sb3_softac.integrations.zoo.cli import default_config_path, with_default_config

pytestmark = pytest.mark.slow  # subprocesses and learning runs: left out of the quick loop

REPO = Path(__file__).resolve().parents[1]
TINY = ["-params", "learning_starts:100", "batch_size:32", "buffer_size:2000", "policy_kwargs:dict(net_arch=[32])"]


def run(module_or_script: str, *args: str, timeout: int = 600) -> str:
    command = [
        sys.executable,
        *(["-m", module_or_script] if not module_or_script.endswith(".py") else [module_or_script]),
        *args,
    ]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=timeout, env=env)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """Pendulum-v1 through `python -m sb3_softac.train`, DMC through the repo-root train.py shim."""
    folder = tmp_path_factory.mktemp("logs")
    run("sb3_softac.train", "--algo", "softac", "--env", "Pendulum-v1", "-n", "300", "-f", str(folder), "--seed", "0", *TINY)
    run(
        "train.py",
        "--algo",
        "softac",
        "--env",
        "dmc-cartpole-balance-v0",
        "-n",
        "300",
        "-f",
        str(folder),
        "--seed",
        "0",
        *TINY,
    )
    return folder


@pytest.mark.parametrize("env_id", ["Pendulum-v1", "dmc-cartpole-balance-v0"])
def test_train_saves_a_loadable_model(trained, env_id):
    model_path = trained / "softac" / f"{env_id}_1" / f"{env_id}.zip"
    assert model_path.exists()
    model = SoftAC.load(model_path)
    assert model.num_timesteps == 300 and model._n_updates > 0
    config = yaml.unsafe_load((trained / "softac" / f"{env_id}_1" / env_id / "config.yml").read_text())
    assert dict(config)["batch_size"] == 32


def test_default_conf_is_the_packaged_softac_yml(trained):
    # The zoo prints the config it loaded; the default is ours (learning_rate 1e-3 for Pendulum).
    args = yaml.unsafe_load((trained / "softac" / "Pendulum-v1_1" / "Pendulum-v1" / "args.yml").read_text())
    assert Path(dict(args)["conf_file"]) == default_config_path()
    config = dict(yaml.unsafe_load((trained / "softac" / "Pendulum-v1_1" / "Pendulum-v1" / "config.yml").read_text()))
    assert config["learning_rate"] == 1e-3


def test_enjoy_reports_reward(trained):
    out = run("sb3_softac.enjoy", "--algo", "softac", "--env", "Pendulum-v1", "-f", str(trained), "--no-render", "-n", "250")
    assert "Episode Reward:" in out and "Mean reward:" in out


def test_enjoy_shim_on_dmc(trained):
    out = run(
        "enjoy.py", "--algo", "softac", "--env", "dmc-cartpole-balance-v0", "-f", str(trained), "--no-render", "-n", "1001"
    )
    assert "Episode Reward:" in out


def test_record_video_for_dmc(trained, tmp_path):
    run(
        "sb3_softac.record_video",
        "--algo",
        "softac",
        "--env",
        "dmc-cartpole-balance-v0",
        "-f",
        str(trained),
        "-n",
        "40",
        "-o",
        str(tmp_path),
    )
    videos = list(tmp_path.rglob("*.mp4"))
    assert videos and videos[0].stat().st_size > 1000


def test_inference_load_has_no_full_replay_buffer(trained):
    register_with_zoo(inference=True)
    from rl_zoo3.utils import ALGOS

    assert ALGOS["softac"] is InferenceSoftAC
    model = ALGOS["softac"].load(trained / "softac" / "Pendulum-v1_1" / "Pendulum-v1.zip")
    assert isinstance(model, SoftAC) and model.replay_buffer.buffer_size == 1
    register_with_zoo()
    assert ALGOS["softac"] is SoftAC


def test_optuna_two_trials(tmp_path):
    out = run(
        "sb3_softac.train", "--algo", "softac", "--env", "Pendulum-v1", "-n", "400", "-optimize", "--n-trials", "2",
        "--n-jobs", "1", "--sampler", "random", "--pruner", "none", "--n-evaluations", "1", "--eval-episodes", "1",
        "-f", str(tmp_path), "--seed", "0", "-params", "learning_starts:100", "buffer_size:2000",
    )  # fmt: skip
    assert "Number of finished trials:  2" in out
    assert "ent_coef_init" in out and "target_entropy" in out


def test_sampler_and_converter_agree():
    import optuna

    from sb3_softac.integrations.zoo.search_space import convert_softac_params, sample_softac_params

    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    sampled = sample_softac_params(trial, n_actions=6, n_envs=1, additional_args={"using_her_replay_buffer": False})
    assert convert_softac_params(trial.params) == sampled
    assert sampled["ent_coef"].startswith("auto_") and -12.0 <= sampled["target_entropy"] <= 0.0
    SoftAC("MlpPolicy", "Pendulum-v1", **{**sampled, "buffer_size": 100})


def test_conf_injection_only_for_softac():
    assert with_default_config(["--algo", "softac", "--env", "X"])[-2:] == ["--conf-file", str(default_config_path())]
    assert with_default_config(["--algo=softac"])[-1] == str(default_config_path())
    assert with_default_config(["--algo", "sac", "--env", "X"]) == ["--algo", "sac", "--env", "X"]
    assert with_default_config(["--algo", "softac", "-conf", "mine.yml"]) == ["--algo", "softac", "-conf", "mine.yml"]


CONFIG = yaml.safe_load(default_config_path().read_text())


def test_config_has_required_entries():
    from dm_control import suite

    required = {"default", "Pendulum-v1", "MountainCarContinuous-v0", "LunarLanderContinuous-v3", "BipedalWalker-v3"}
    required |= {
        f"{task}-v5"
        for task in (
            "HalfCheetah",
            "Hopper",
            "Walker2d",
            "Ant",
            "Humanoid",
            "Swimmer",
            "Reacher",
            "InvertedPendulum",
            "InvertedDoublePendulum",
        )
    }
    required |= {f"dmc-{domain}-{task}-v0" for domain, task in suite.BENCHMARKING}
    assert required <= set(CONFIG)


@pytest.mark.parametrize("env_id", sorted(set(CONFIG) - {"presets"}))
def test_every_config_entry_builds(env_id):
    """Env and model from each entry's hyperparameters, the zoo's way (schedules, policy_kwargs strings); no training."""
    from rl_zoo3.exp_manager import ExperimentManager

    hyperparams = dict(CONFIG[env_id])
    assert hyperparams.pop("n_timesteps") > 0
    if isinstance(hyperparams.get("policy_kwargs"), str):
        hyperparams["policy_kwargs"] = eval(hyperparams["policy_kwargs"])
    hyperparams = ExperimentManager._preprocess_schedules(hyperparams)
    hyperparams["buffer_size"] = 100  # constructor check only: don't allocate millions of transitions
    env = gym.make("Pendulum-v1" if env_id == "default" else env_id, **hyperparams.pop("env_kwargs", {}))
    model = SoftAC(env=env, **hyperparams)
    assert model.observation_space == env.observation_space


def test_wheel_ships_the_default_config(tmp_path):
    """The default --conf-file is found in a wheel install too: it ships as sb3_softac/zoo_configs/softac.yml."""
    import zipfile

    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), str(REPO)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("sb3_softac-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "sb3_softac/zoo_configs/softac.yml" in names and "sb3_softac/py.typed" in names
    assert zipfile.ZipFile(wheel).read("sb3_softac/zoo_configs/softac.yml").decode() == default_config_path().read_text()


@pytest.mark.parametrize("name", sorted(ZOO_LEARNERS))
def test_dmc_study_entries_are_the_learners_that_validated_them(name):
    """A validated DMC entry builds exactly the learner benchmarks/learning.py ran: its HYPERPARAMS, the
    learner's options and policy_kwargs, and the action repeat (n_timesteps: 1M environment steps)."""
    from benchmarks import learning

    algo, action_repeat = ZOO_LEARNERS[name]
    task = learning.TASKS[name]
    options, policy_options = learning.SOFTAC_LEARNERS[algo]
    entry = dict(CONFIG[task.env_id])
    assert entry.pop("env_kwargs") == {"action_repeat": action_repeat}
    assert entry.pop("n_timesteps") * action_repeat == 1_000_000
    assert entry.pop("policy") == "MlpPolicy"
    policy_kwargs = eval(entry.pop("policy_kwargs", "dict()"))  # RL-Zoo evaluates this string the same way
    assert policy_kwargs == policy_options
    assert entry == {**learning.HYPERPARAMS, **dict(task.hyperparams), **options}


def test_softac_options_from_yaml_and_params(tmp_path):
    """SoftAC's options are constructor arguments: a zoo yaml entry and -params set them, the saved model keeps them."""
    conf = tmp_path / "softac.yml"
    conf.write_text(
        "Pendulum-v1:\n  n_timesteps: 200\n  policy: 'MlpPolicy'\n  learning_starts: 100\n"
        "  batch_size: 32\n  buffer_size: 1000\n"
        "  policy_kwargs: 'dict(net_arch=[16])'\n  temperature_loss: 'alpha'\n"
    )
    run("sb3_softac.train", "--algo", "softac", "--env", "Pendulum-v1", "-conf", str(conf), "-f", str(tmp_path), "--seed", "0",
        "-params", "update_order:'critic_first'")  # fmt: skip
    model = SoftAC.load(tmp_path / "softac" / "Pendulum-v1_1" / "Pendulum-v1.zip")
    assert (model.temperature_loss, model.update_order) == ("alpha", "critic_first")
    config = dict(yaml.unsafe_load((tmp_path / "softac" / "Pendulum-v1_1" / "Pendulum-v1" / "config.yml").read_text()))
    assert config["temperature_loss"] == "alpha" and config["update_order"] == "critic_first"


def test_missing_rl_zoo3_method_names_the_version():
    from importlib.metadata import version

    from sb3_softac.integrations.zoo.adapters import TESTED_RL_ZOO3, UnsupportedRLZooError, check_rl_zoo3

    class OldExperimentManager:
        def learn(self) -> None: ...

    with pytest.raises(
        UnsupportedRLZooError, match=re.escape(f"rl_zoo3 {version('rl_zoo3')} has no ExperimentManager._load")
    ) as error:
        check_rl_zoo3(OldExperimentManager)
    assert isinstance(error.value, ImportError) and TESTED_RL_ZOO3 in str(error.value)


def test_train_with_a_preset_anchor_from_the_yaml(tmp_path):
    """A user's conf file that merges a preset (`<<: *crossq`) from the shipped presets block trains and saves it."""
    shipped = default_config_path().read_text()
    presets = shipped[shipped.index("presets:") :].split("\n\n")[0]
    entry = (
        "Pendulum-v1:\n  <<: *crossq\n  policy: 'MlpPolicy'\n  n_timesteps: 300\n  learning_starts: 100\n"
        '  batch_size: 32\n  buffer_size: 2000\n  policy_kwargs: "dict(net_arch=[32], batch_renorm=True)"\n'
    )
    conf = tmp_path / "crossq.yml"
    conf.write_text(f"{presets}\n{entry}")
    run("sb3_softac.train", "--algo", "softac", "--env", "Pendulum-v1", "-conf", str(conf), "-f", str(tmp_path), "--seed", "0")
    model = SoftAC.load(tmp_path / "softac" / "Pendulum-v1_1" / "Pendulum-v1.zip")
    assert model.critic_target is None and model.policy_delay == 3 and model.lr_schedule(1) == 1e-3
    assert model.actor.batch_renorm and model.policy.net_arch == [32]
