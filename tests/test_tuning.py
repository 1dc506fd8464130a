"""Tuning at scale: several `-optimize` workers on one Optuna study (PostgreSQL and journal file), the
search space with SoftAC's options, a best trial back into a zoo entry, and a W&B grid over seeds."""

import collections
import os
import socket
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import optuna
import pytest
import yaml
from sqlalchemy.exc import IntegrityError

from sb3_softac import SoftAC
from sb3_softac.integrations.zoo import best_trial, storage
from sb3_softac.integrations.zoo.cli import default_config_path
from sb3_softac.integrations.zoo.search_space import convert_softac_params, sample_softac_params, zoo_entry
from tests.postgres import create_database, postgres_server

REPO = Path(__file__).resolve().parents[1]
# A small Pendulum budget per trial; the median pruner may stop a trial after its second evaluation.
WORKER = [
    "--algo", "softac", "--env", "Pendulum-v1", "-n", "400", "-optimize", "--n-trials", "2", "--n-jobs", "1",
    "--sampler", "random", "--pruner", "median", "--n-startup-trials", "1", "--n-evaluations", "4",
    "--eval-episodes", "1", "--no-optim-plots", "-params", "learning_starts:100", "buffer_size:2000",
]  # fmt: skip


def test_prepare_shared_study_retries_a_conflict_then_finds_what_the_other_worker_made(monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    real_create_study, calls, waits = optuna.create_study, [], []

    def racing_create_study(**kwargs):
        calls.append(kwargs["study_name"])
        if len(calls) == 1:  # the other worker created the type first
            raise IntegrityError("CREATE TYPE studydirection", {}, Exception("duplicate key pg_type_typname_nsp_index"))
        return real_create_study(**kwargs)

    monkeypatch.setattr(optuna, "create_study", racing_create_study)
    storage.prepare_shared_study(url, "shared", {"n_timesteps": "400", "command": "train.py"}, sleep=waits.append)
    assert calls == ["shared", "shared"] and len(waits) == 1
    assert optuna.load_study(study_name="shared", storage=url).user_attrs == {"n_timesteps": "400", "command": "train.py"}
    storage.prepare_shared_study(url, "shared", {"n_timesteps": "999", "command": "other"}, sleep=waits.append)
    assert optuna.load_study(study_name="shared", storage=url).user_attrs["n_timesteps"] == "400", "set once"


def test_prepare_shared_study_gives_up_after_the_last_attempt(monkeypatch):
    def always_conflicting(**kwargs):
        raise IntegrityError("INSERT", {}, Exception("duplicate key"))

    monkeypatch.setattr(optuna, "create_study", always_conflicting)
    with pytest.raises(IntegrityError):
        storage.prepare_shared_study("sqlite://", "s", {}, attempts=3, sleep=lambda _: None)
    assert storage.is_database_url("postgresql+psycopg://u@h/db") and not storage.is_database_url("logs/study.log")


def test_a_diverged_trial_is_pruned_not_fatal():
    """rl_zoo3's objective prunes a trial whose training raises AssertionError or ValueError (SB3's NaN errors);
    SoftAC's NonFiniteError is a ValueError too, so one diverging trial does not stop the worker."""
    from sb3_softac.softac import NonFiniteError

    assert issubclass(NonFiniteError, ValueError) and issubclass(NonFiniteError, FloatingPointError)


def test_search_space_has_softac_options_and_converts_back():
    params = dict(
        one_minus_gamma=0.01, batch_size_pow=8, learning_rate=1e-3, train_freq=2, tau=0.01, net_arch="small",
        ent_coef_init=0.1, target_entropy=-1.5, policy_delay=2, layer_norm=True, dropout_rate=0.01,
    )  # fmt: skip
    trial = optuna.trial.FixedTrial(params)
    sampled = sample_softac_params(trial, n_actions=1, n_envs=1, additional_args={"using_her_replay_buffer": False})
    assert sampled == convert_softac_params(params)
    assert (sampled["ent_coef"], sampled["policy_delay"], sampled["batch_size"], sampled["gradient_steps"]) == (
        "auto_0.1",
        2,
        256,
        2,
    )
    assert sampled["policy_kwargs"] == dict(net_arch=[64, 64], layer_norm=True, dropout_rate=0.01)
    assert trial.user_attrs["worker"] == f"{socket.gethostname()}:{os.getpid()}"
    old = {key: value for key, value in params.items() if key not in ("policy_delay", "layer_norm", "dropout_rate")}
    assert convert_softac_params(old)["policy_delay"] == 1, "a study from before the options gets their defaults"
    SoftAC("MlpPolicy", "Pendulum-v1", buffer_size=100, **sampled)


def run_workers(storage_url: str, study_name: str, log_folder: Path) -> dict[int, str]:
    """Start two -optimize workers at the same moment; wait for both; return pid -> output."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    commands = [
        [sys.executable, "-m", "sb3_softac.train", *WORKER, "--storage", storage_url, "--study-name", study_name,
         "-f", str(log_folder / f"worker{seed}"), "--seed", str(seed)]
        for seed in (1, 2)
    ]  # fmt: skip
    workers = [
        subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for command in commands
    ]
    outputs = {worker.pid: worker.communicate(timeout=900)[0] for worker in workers}
    for worker in workers:
        assert worker.returncode == 0, f"worker {worker.pid} failed:\n{outputs[worker.pid][-4000:]}"
    return outputs


def check_shared_study(study: optuna.Study, pids: list[int]) -> optuna.trial.FrozenTrial:
    """Every worker's trials are in the study once each; pruned ones are recorded as pruned. Returns the best."""
    trials = study.get_trials(deepcopy=False)
    per_worker = collections.Counter(trial.user_attrs["worker"] for trial in trials)
    assert per_worker == {f"{socket.gethostname()}:{pid}": 2 for pid in pids}, "2 trials from each worker"
    assert sorted(trial.number for trial in trials) == list(range(4)), "4 distinct trial numbers"
    for trial in trials:
        assert trial.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED), trial
        if trial.state == optuna.trial.TrialState.PRUNED:  # stopped early; Optuna keeps its last evaluation as its value
            evaluations = trial.intermediate_values  # none when rl_zoo3 prunes a trial that raised (a diverged one)
            assert len(evaluations) < 4 and (not evaluations or trial.value == evaluations[max(evaluations)])
        else:
            assert trial.value is not None and len(trial.intermediate_values) == 4
    command = study.user_attrs["command"]
    assert "-optimize" in command and (("--seed 1" in command) != ("--seed 2" in command)), "one worker set it, once"
    assert study.user_attrs["learning_starts"] == "100"
    states = collections.Counter(trial.state.name for trial in trials)
    print(f"trials per worker {dict(per_worker)}, study {len(trials)} ({dict(states)}), best #{study.best_trial.number}")
    return study.best_trial


def check_retrain(storage_url: str, study_name: str, trial: optuna.trial.FrozenTrial, log_folder: Path) -> None:
    """`--trial-id N` trains with trial N's hyperparameters (trial 0 included)."""
    command = [
        sys.executable, "-m", "sb3_softac.train", "--algo", "softac", "--env", "Pendulum-v1", "-n", "150",
        "--storage", storage_url, "--study-name", study_name, "--trial-id", str(trial.number), "-f", str(log_folder),
        "-params", "learning_starts:100", "buffer_size:2000",
    ]  # fmt: skip
    result = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"}
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    model = SoftAC.load(log_folder / "softac" / "Pendulum-v1_1" / "Pendulum-v1.zip")
    expected = convert_softac_params(trial.params)
    assert (model.batch_size, model.policy_delay) == (expected["batch_size"], expected["policy_delay"])
    assert model.lr_schedule(1) == pytest.approx(expected["learning_rate"]) and model.ent_coef == expected["ent_coef"]
    assert model.policy_kwargs["layer_norm"] == expected["policy_kwargs"]["layer_norm"]


@pytest.mark.slow
def test_two_workers_started_together_on_a_fresh_postgres_database(tmp_path):
    with postgres_server() as server:
        url = create_database(server, "fresh")
        outputs = run_workers(url, "softac-pendulum", tmp_path)
        study = optuna.load_study(study_name="softac-pendulum", storage=url)
        best = check_shared_study(study, list(outputs))
        check_retrain(url, "softac-pendulum", best, tmp_path / "retrain")
        check_retrain(url, "softac-pendulum", study.trials[0], tmp_path / "retrain_0")


@pytest.mark.slow
def test_two_workers_share_a_journal_file_and_the_best_trial_becomes_a_zoo_entry(tmp_path, capsys):
    journal = str(tmp_path / "study.log")
    outputs = run_workers(journal, "softac-journal", tmp_path)
    study = optuna.load_study(study_name="softac-journal", storage=best_trial.open_storage(journal))
    best = check_shared_study(study, list(outputs))
    capsys.readouterr()  # only best_trial's output below

    best_trial.main(["--storage", journal, "--study-name", "softac-journal", "--env", "Pendulum-v1", "-n", "20000"])
    entry = yaml.safe_load(capsys.readouterr().out)["Pendulum-v1"]
    assert entry == zoo_entry(best.params, 20000)
    hyperparams = dict(entry)
    hyperparams.pop("n_timesteps")
    hyperparams["policy_kwargs"] = eval(hyperparams["policy_kwargs"])  # as rl_zoo3 reads the string
    model = SoftAC(env=gym.make("Pendulum-v1"), **{**hyperparams, "buffer_size": 100})
    assert model.policy_kwargs["net_arch"] == convert_softac_params(best.params)["policy_kwargs"]["net_arch"]


def test_seed_grid_sweep_covers_every_task_and_seed_once():
    import sweeps

    config = yaml.safe_load((default_config_path().parent / "sweeps" / "dmc_seeds_grid.yaml").read_text())
    assert config["method"] == "grid" and sweeps.schema_violations_from_proposed_config(config) == []
    runs: list = []
    while (run := sweeps.next_run(config, runs, validate=True)) is not None:
        run.state = sweeps.RunState.finished
        runs.append(run)
    combos = [(r.config["env"]["value"], r.config["seed"]["value"]) for r in runs]
    tasks, seeds = config["parameters"]["env"]["values"], config["parameters"]["seed"]["values"]
    assert sorted(combos) == sorted((task, seed) for task in tasks for seed in seeds) and len(set(combos)) == len(combos)
    assert "--algo" in config["command"] and "${args}" in config["command"] and "--track" in config["command"]
