"""Learning-quality evidence: SoftAC against SB3's SAC (and other learners) with the same settings and seeds.

    python benchmarks/learning.py                                # the default study (see TASKS), 2 workers
    python benchmarks/learning.py --tasks cheetah-run --algos softac sb3-sac --seeds 0 1 2 --env-steps 100000
    python benchmarks/learning.py --aggregate-only               # tables and plots from the CSVs already there
    python benchmarks/learning.py --tasks walker-walk --algos softac --seeds 0 --set gradient_steps=2 \
        --out benchmarks/results/utd
    # pytorch_sac's settings:
    python benchmarks/learning.py --algos softac --action-repeat 1 --set learning_rate=1e-4 batch_size=1024 ...

Each run (algo, task, seed) evaluates the deterministic policy every ``eval_every`` environment steps on
a separate env and appends a row to ``<out>/runs/<algo>__<task>__<seed>.partial.csv``; the file is
renamed to ``.csv`` when the run ends. Finished runs are skipped when the command is repeated.
After each evaluation the run also saves a checkpoint (model with its optimizers, replay buffer) to
``<out>/checkpoints/<algo>__<task>__<seed>/``; a repeated command resumes an unfinished run from its
last checkpoint (evaluations fall on episode ends, so nothing but the one pending gradient step is
lost), reseeds it from (seed, step), and notes the step in ``runs/<run>.resumes.txt``. Finished runs
delete their checkpoint. Runs go to ``--workers`` processes (one torch thread each).

Afterwards (and with ``--aggregate-only``) it writes to ``<out>``:
- ``summary.md``: per task the final return (mean and each seed) per learner, each published source's
  return at the same step where it has the task, and rliable's IQM with 95% stratified-bootstrap CIs;
- ``curves.png``: return against environment steps per task (mean over seeds, band: min-max), with
  the published curves (``PUBLISHED_SOURCES``: pytorch_sac, the TD-MPC2 repository's SAC, SR-SAC at
  replay ratio 8) in black;
- ``temperature.png`` when runs log a temperature: alpha and policy entropy against environment steps.

Steps are environment steps throughout: an agent step with action repeat k is k of them.
Needs ``pip install -e ".[bench]"`` (rliable) for the IQM confidence intervals.
"""

import argparse
import ast
import csv
import math
import os
import shutil
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
REFERENCE = REPO / "benchmarks" / "reference"
PUBLISHED = REFERENCE / "pytorch_sac_dmc_eval.csv"
FIELDS = ["algo", "task", "seed", "env_steps", "return_mean", "return_std", "alpha", "entropy", "wall_s"]


@dataclass(frozen=True)
class Source:
    """
    A published set of evaluation curves in ``benchmarks/reference/`` (its README gives the provenance).

    :param label: How tables and legends quote it.
    :param path: The CSV (columns ``env, seed, step, episode_reward``, and maybe ``updates_per_step``).
    :param updates_per_step: Keep only the rows with this ``updates_per_step`` (SR-SAC's file); None: all.
    :param style: Its matplotlib line style (always black).
    """

    label: str
    path: Path
    updates_per_step: int | None = None
    style: str = "--"


PUBLISHED_SOURCES = (
    Source("pytorch_sac (published)", PUBLISHED, style="--"),
    Source("SAC (TD-MPC2 repository)", REFERENCE / "tdmpc2_repo_sac_dmc_eval.csv", style=":"),
    Source("SR-SAC (published), replay ratio 8", REFERENCE / "sr_sac_dmc_eval.csv", updates_per_step=8, style="-."),
)


@dataclass(frozen=True)
class Task:
    """
    :param env_id: Gymnasium id.
    :param env_steps: Training budget in environment steps.
    :param eval_every: Evaluate every this many environment steps.
    :param action_repeat: Environment steps per agent step (DMC ids take it as a make() argument).
    :param eval_episodes: Deterministic evaluation episodes.
    :param hyperparams: Changes to the shared hyperparameters (``HYPERPARAMS``) for this task.
    """

    env_id: str
    env_steps: int
    eval_every: int
    action_repeat: int = 1
    eval_episodes: int = 5
    hyperparams: tuple[tuple[str, Any], ...] = ()


# DMC tasks with the action repeats of DrQ (Kostrikov et al. 2020), which make 100k environment steps
# fit a CPU session; pytorch_sac (published) uses action repeat 1.
TASKS: dict[str, Task] = {
    "pendulum": Task("Pendulum-v1", 20_000, 2_000, eval_episodes=10, hyperparams=(("learning_rate", 1e-3),)),
    "cartpole-swingup": Task("dmc-cartpole-swingup-v0", 100_000, 10_000, action_repeat=8),
    "reacher-easy": Task("dmc-reacher-easy-v0", 100_000, 10_000, action_repeat=4),
    "cheetah-run": Task("dmc-cheetah-run-v0", 100_000, 10_000, action_repeat=4),
    "finger-spin": Task("dmc-finger-spin-v0", 100_000, 10_000, action_repeat=2),
    "walker-walk": Task("dmc-walker-walk-v0", 100_000, 10_000, action_repeat=2),
    "humanoid-run": Task("dmc-humanoid-run-v0", 100_000, 10_000, action_repeat=2),
}
STUDY = ("pendulum", "cartpole-swingup", "reacher-easy", "cheetah-run", "finger-spin", "walker-walk")
# Shared by every learner (SB3's SAC takes SoftAC's constructor names): SB3's SAC defaults, except a
# smaller buffer, 1000 random steps, and pytorch_sac's initial temperature 0.1.
HYPERPARAMS: dict[str, Any] = dict(
    learning_rate=3e-4, buffer_size=300_000, learning_starts=1000, batch_size=256, tau=0.005, gamma=0.99, ent_coef="auto_0.1"
)
FIXED_ALPHA = 0.1
# SoftAC learners: constructor arguments and policy_kwargs (merged over the task's). "sac" is SoftAC's
# current default. The "softac*" learners are the studies' learners as they ran before 0.2.0, when the
# default temperature loss was the alpha form: they pin temperature_loss="alpha" unless they name the
# log-alpha form, so their finished runs stay what their names say. What they vary: pytorch_sac's actor
# (orthogonal init, tanh-mapped log-std), SB3's epsilon in log pi, SB3's temperature loss and update
# order; "softac-sb3-update" is SB3's SAC update (tests/test_math.py::test_sb3_switches_reproduce_sb3_sacs_update).
PYTORCH_SAC_LOG_STD = dict(tanh_log_std=True, log_std_bounds=(-5.0, 2.0))
SB3_LOG_PROB = dict(log_prob_epsilon=1e-6)
ALPHA_LOSS = dict(temperature_loss="alpha")


def preset_learner(name: str, **changes: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """
    A learner from ``sb3_softac.PRESETS[name]``: (constructor arguments, policy_kwargs).

    :param name: The preset.
    :param changes: Constructor arguments that replace the preset's; ``policy_kwargs`` entries are merged
        into the preset's ``policy_kwargs``.
    """
    from sb3_softac import PRESETS

    options = {**PRESETS[name], **{key: value for key, value in changes.items() if key != "policy_kwargs"}}
    policy_options = {**options.pop("policy_kwargs", {}), **changes.get("policy_kwargs", {})}
    return options, policy_options


# The SAC family at the replay ratio a 2-core CPU affords (benchmarks/results/presets/): at most 2
# gradient steps per agent step, which with action repeat k is 2 / k per environment step.
# - crossq-qf256: CrossQ's paper settings with 256-wide critics (2048: 40x the default's cost per update);
# - droq-rr2: DroQ's critics (LayerNorm, dropout 0.01) at 2 critic updates and 1 actor update per step;
# - sr_sac-rr2: SR-SAC at replay ratio 2: its reset interval 2_560_000 // 2 leaves no reset before 1.28M
#   steps, so up to there it is SAC at 2 gradient steps per step;
# - sr_sac-rr8: the published SR-SAC run at replay ratio 8 (the reproduction, run at action repeat 1):
#   initial temperature 1 and 5000 random steps as in its code; reset every 320k steps.
PRESET_LEARNERS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "crossq-qf256": preset_learner("crossq", policy_kwargs=dict(net_arch=dict(pi=[256, 256], qf=[256, 256]))),
    "droq-rr2": preset_learner("droq", gradient_steps=2, policy_delay=2),
    "sr_sac-rr2": preset_learner("sr_sac", gradient_steps=2, reset_interval=2_560_000 // 2),
    "sr_sac-rr8": preset_learner(
        "sr_sac", gradient_steps=8, reset_interval=2_560_000 // 8, ent_coef="auto_1.0", learning_starts=5000
    ),
}
SOFTAC_LEARNERS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "sac": ({}, {}),
    "softac": (ALPHA_LOSS, {}),
    "softac-ortho": (ALPHA_LOSS, dict(ortho_init=True)),
    "softac-tanh-std": (ALPHA_LOSS, PYTORCH_SAC_LOG_STD),
    "softac-ortho-tanh-std": (ALPHA_LOSS, dict(ortho_init=True, **PYTORCH_SAC_LOG_STD)),
    "softac-sb3-log-prob": (ALPHA_LOSS, SB3_LOG_PROB),
    "softac-log-alpha-loss": (dict(temperature_loss="log_alpha"), {}),
    "softac-critic-first": (dict(**ALPHA_LOSS, update_order="critic_first"), {}),
    "softac-sb3-update": (dict(temperature_loss="log_alpha", update_order="critic_first"), SB3_LOG_PROB),
    **PRESET_LEARNERS,
}
SB3_LEARNERS: dict[str, dict[str, Any]] = {"sb3-sac": {}, "sb3-sac-rr2": dict(gradient_steps=2)}
ALGOS = (*SOFTAC_LEARNERS, "softac-fixed", *SB3_LEARNERS, "ddpg")


def make_model(algo: str, env: Any, seed: int, hyperparams: dict[str, Any]) -> Any:
    """
    :param algo: A SoftAC learner (``SOFTAC_LEARNERS``), ``softac-fixed`` (ent_coef=FIXED_ALPHA), an SB3
        SAC learner (``SB3_LEARNERS``) or ``ddpg`` (SB3's, Gaussian noise 0.1).
    :param env: The training env.
    :param seed: Seed for the model and its env.
    :param hyperparams: Constructor arguments (temperature ones are dropped for DDPG).
    :return: The untrained model.
    """
    from stable_baselines3 import DDPG, SAC
    from stable_baselines3.common.noise import NormalActionNoise

    from sb3_softac import SoftAC

    if algo in SOFTAC_LEARNERS:
        options, policy_options = SOFTAC_LEARNERS[algo]
        policy_kwargs = {**hyperparams.get("policy_kwargs", {}), **policy_options}
        return SoftAC("MlpPolicy", env, seed=seed, **{**hyperparams, **options, "policy_kwargs": policy_kwargs})
    if algo == "softac-fixed":
        return SoftAC("MlpPolicy", env, seed=seed, **{**hyperparams, "ent_coef": FIXED_ALPHA})
    if algo in SB3_LEARNERS:
        return SAC("MlpPolicy", env, seed=seed, **{**hyperparams, **SB3_LEARNERS[algo]})
    if algo == "ddpg":
        n_actions = env.action_space.shape[0]
        noise = NormalActionNoise(np.zeros(n_actions), 0.1 * np.ones(n_actions))
        ddpg_params = {key: value for key, value in hyperparams.items() if key != "ent_coef"}
        return DDPG("MlpPolicy", env, seed=seed, action_noise=noise, policy_kwargs=dict(net_arch=[256, 256]), **ddpg_params)
    raise ValueError(f"unknown algo {algo!r}: use one of {', '.join(ALGOS)}")


def temperature_and_entropy(model: Any) -> tuple[float, float]:
    """alpha and the policy's entropy estimate -E[log pi(a|s)] on 1024 replayed states; NaN for DDPG."""
    import torch as th

    if not hasattr(model, "log_ent_coef"):
        return math.nan, math.nan
    alpha = model.log_ent_coef.exp().item() if model.log_ent_coef is not None else float(model.ent_coef_tensor)
    with th.no_grad():
        observations = model.replay_buffer.sample(1024).observations
        _, log_prob = model.actor.action_log_prob(observations)
    return alpha, -log_prob.mean().item()


class Checkpoint:
    """
    A run's last checkpoint: ``<folder>/<agent steps>/{model.zip, buffer.pkl}``, committed by writing the
    step to ``<folder>/latest`` (atomically) after both files are complete, so a run killed while
    saving keeps its previous checkpoint.

    :param folder: ``<out>/checkpoints/<algo>__<task>__<seed>``.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def latest_step(self) -> int | None:
        """Agent steps of the last committed checkpoint; None without one."""
        marker = self.folder / "latest"
        return int(marker.read_text()) if marker.exists() else None

    def save(self, model: Any) -> None:
        """Save model and replay buffer at ``model.num_timesteps``, then drop the older checkpoints."""
        step = str(model.num_timesteps)
        (self.folder / step).mkdir(parents=True, exist_ok=True)
        model.save(self.folder / step / "model.zip")
        model.save_replay_buffer(self.folder / step / "buffer.pkl")
        (self.folder / "latest.tmp").write_text(step)
        os.replace(self.folder / "latest.tmp", self.folder / "latest")
        for older in self.folder.iterdir():
            if older.is_dir() and older.name != step:
                shutil.rmtree(older)

    def load(self, model_class: Any, env: Any) -> Any:
        """The model (with its replay buffer) of the last checkpoint, on ``env``."""
        step = str(self.latest_step())
        model = model_class.load(self.folder / step / "model.zip", env=env, device="cpu")
        model.load_replay_buffer(self.folder / step / "buffer.pkl")
        return model

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def rows_up_to(partial: Path, env_steps: int) -> list[list[str]]:
    """The data rows of a partial run CSV up to and including ``env_steps`` (the checkpoint's)."""
    with partial.open(newline="") as handle:
        return [row for row in list(csv.reader(handle))[1:] if int(row[FIELDS.index("env_steps")]) <= env_steps]


def start_partial(partial: Path, kept_rows: list[list[str]]) -> None:
    """Write the partial CSV's header and the rows kept from before the checkpoint, atomically: a run
    killed right after resuming still has them on disk."""
    staged = partial.with_name(partial.name + ".tmp")
    with staged.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(FIELDS)
        writer.writerows(kept_rows)
    os.replace(staged, partial)


def resume_seed(seed: int, agent_steps: int) -> int:
    """The seed a run resumed at ``agent_steps`` reseeds with, so it is reproducible from its checkpoint;
    distinct per checkpoint and below 2**32, as NumPy requires."""
    return (seed + 1_000_003 * agent_steps) % 2**32


def run(algo: str, task_name: str, task: Task, seed: int, out: Path, threads: int) -> Path:
    """Train one learner on one task and seed, writing its evaluation curve, resuming from its last
    checkpoint when it has one; returns the finished CSV."""
    import gymnasium as gym
    import torch as th
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.evaluation import evaluate_policy
    from stable_baselines3.common.monitor import Monitor

    import sb3_softac  # noqa: F401  (registers the dmc-* ids)

    th.set_num_threads(threads)
    name = f"{algo}__{task_name}__{seed}"
    partial = out / "runs" / f"{name}.partial.csv"
    checkpoint = Checkpoint(out / "checkpoints" / name)
    env_kwargs = {"action_repeat": task.action_repeat} if task.action_repeat > 1 else {}
    env = Monitor(gym.make(task.env_id, **env_kwargs))
    eval_env = Monitor(gym.make(task.env_id, **env_kwargs))
    model = make_model(algo, env, seed, {**HYPERPARAMS, **dict(task.hyperparams)})
    resume_step = checkpoint.latest_step() if partial.exists() else None
    previous_rows: list[list[str]] = []
    if resume_step is not None:
        model = checkpoint.load(type(model), env)
        model.set_random_seed(resume_seed(seed, resume_step))
        resume_env_steps = resume_step * task.action_repeat
        previous_rows = rows_up_to(partial, resume_env_steps)
        with (out / "runs" / f"{name}.resumes.txt").open("a") as notes:
            notes.write(f"resumed at {resume_env_steps} environment steps\n")
        print(f"[{algo} {task_name} seed {seed}] resuming at {resume_env_steps} env steps", flush=True)
    eval_env.reset(seed=10_000 + seed + (resume_step or 0))
    start = time.time() - (float(previous_rows[-1][FIELDS.index("wall_s")]) if previous_rows else 0.0)

    def evaluate(writer: Any, agent_steps: int) -> None:
        returns, _ = evaluate_policy(model, eval_env, n_eval_episodes=task.eval_episodes, return_episode_rewards=True)
        alpha, entropy = temperature_and_entropy(model) if agent_steps > model.learning_starts else (math.nan, math.nan)
        env_steps = agent_steps * task.action_repeat
        row = [
            algo,
            task_name,
            seed,
            env_steps,
            np.mean(returns),
            np.std(returns),
            alpha,
            entropy,
            round(time.time() - start, 1),
        ]
        writer.writerow(row)
        print(
            f"[{algo} {task_name} seed {seed}] {env_steps}/{task.env_steps} env steps: return {np.mean(returns):.1f} "
            f"({(time.time() - start) / 60:.1f} min)",
            flush=True,
        )

    class EvaluateEvery(BaseCallback):
        """Evaluates every ``eval_every`` environment steps, then (once the step's transition is stored)
        saves a checkpoint unless the run is about to end."""

        def __init__(self, writer: Any) -> None:
            super().__init__()
            self.writer = writer
            self.every = max(task.eval_every // task.action_repeat, 1)
            self.checkpoint_due = False

        def _on_step(self) -> bool:
            if self.num_timesteps % self.every == 0:
                evaluate(self.writer, self.num_timesteps)
                handle.flush()
                self.checkpoint_due = self.num_timesteps < task.env_steps // task.action_repeat
            return True

        def _on_rollout_end(self) -> None:
            if self.checkpoint_due:
                checkpoint.save(model)
                self.checkpoint_due = False

    start_partial(partial, previous_rows)
    with partial.open("a", newline="") as handle:
        writer = csv.writer(handle)
        if resume_step is None:
            evaluate(writer, 0)
        model.learn(
            task.env_steps // task.action_repeat - model.num_timesteps,
            callback=EvaluateEvery(writer),
            reset_num_timesteps=resume_step is None,
        )
    finished = partial.with_name(partial.name.replace(".partial.csv", ".csv"))
    partial.rename(finished)
    checkpoint.remove()
    return finished


def pending_runs(algos: list[str], tasks: dict[str, Task], seeds: list[int], out: Path) -> list[tuple[str, str, Task, int]]:
    """Every (algo, task, seed) without a finished CSV, seed-major so that early stops still cover all tasks."""
    return [
        (algo, name, task, seed)
        for seed in seeds
        for name, task in tasks.items()
        for algo in algos
        if not (out / "runs" / f"{algo}__{name}__{seed}.csv").exists()
    ]


def run_all(algos: list[str], tasks: dict[str, Task], seeds: list[int], out: Path, workers: int, threads: int) -> None:
    """Run the pending runs on ``workers`` processes."""
    (out / "runs").mkdir(parents=True, exist_ok=True)
    jobs = [(*job, out, threads) for job in pending_runs(algos, tasks, seeds, out)]
    print(f"{len(jobs)} runs to do ({len(algos) * len(tasks) * len(seeds) - len(jobs)} finished already), {workers} workers")
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(run, *job): job for job in jobs}
        for future in as_completed(futures):
            print(f"finished {future.result().name}", flush=True)


def parse_override(item: str) -> tuple[str, Any]:
    """``"gradient_steps=2"`` -> ``("gradient_steps", 2)`` (values are Python literals; bare words stay strings)."""
    key, separator, value = item.partition("=")
    if not separator or not key:
        raise SystemExit(f"--set takes KEY=VALUE, got {item!r} (for example --set gradient_steps=2)")
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key, value


def configured_tasks(
    names: list[str], env_steps: int | None, action_repeat: int | None, overrides: tuple[tuple[str, Any], ...]
) -> dict[str, Task]:
    """
    :param names: Keys of ``TASKS``.
    :param env_steps: Budget for every task (None: each task's own).
    :param action_repeat: Action repeat for every DMC task (None: each task's own); others keep theirs.
    :param overrides: Hyperparameter changes for every task, applied after the task's own.
    :return: The tasks to run, by name.
    """
    if action_repeat is not None and action_repeat < 1:
        raise SystemExit(f"--action-repeat must be >= 1, got {action_repeat}")
    tasks = {}
    for name in names:
        task = replace(TASKS[name], hyperparams=TASKS[name].hyperparams + overrides)
        if env_steps is not None:
            task = replace(task, env_steps=env_steps, eval_every=min(task.eval_every, env_steps))
        if action_repeat is not None and task.env_id.startswith("dmc-"):
            task = replace(task, action_repeat=action_repeat)
        tasks[name] = task
    return tasks


def record_command(out: Path, command: str) -> None:
    """Remember in ``<out>/commands.txt`` each distinct command that ran into this folder (summary.md quotes them)."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "commands.txt"
    known = path.read_text().splitlines() if path.exists() else []
    if command not in known:
        path.write_text("\n".join([*known, command]) + "\n")


def read_runs(out: Path) -> list[dict[str, Any]]:
    """All evaluation rows, finished runs and partial ones (``finished`` tells them apart)."""
    rows = []
    for path in sorted((out / "runs").glob("*.csv")):
        finished = not path.name.endswith(".partial.csv")
        with path.open() as handle:
            for row in csv.DictReader(handle):
                rows.append(
                    {
                        **row,
                        "seed": int(row["seed"]),
                        "env_steps": int(row["env_steps"]),
                        "finished": finished,
                        **{key: float(row[key]) for key in ("return_mean", "return_std", "alpha", "entropy", "wall_s")},
                    }
                )
    return rows


def task_order(task: str) -> int:
    """Sort key: the order of TASKS, unknown tasks last."""
    return list(TASKS).index(task) if task in TASKS else len(TASKS)


def curves(rows: list[dict[str, Any]]) -> dict[tuple[str, str], dict[int, dict[int, float]]]:
    """(task, algo) -> seed -> env_steps -> evaluation return."""
    result: dict[tuple[str, str], dict[int, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
    for row in rows:
        result[row["task"], row["algo"]][row["seed"]][row["env_steps"]] = row["return_mean"]
    return result


def published_curves(tasks: list[str], source: Source | None = None) -> dict[str, dict[int, float]]:
    """
    One published source's curves: task -> env step -> mean return over its seeds, for our DMC task names.

    :param tasks: Task names (``cheetah-run``); those the source lacks are left out.
    :param source: The source (default: the first of ``PUBLISHED_SOURCES``, pytorch_sac).
    """
    source = source or PUBLISHED_SOURCES[0]
    by_task: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    with source.path.open() as handle:
        for row in csv.DictReader(handle):
            if source.updates_per_step is None or int(row["updates_per_step"]) == source.updates_per_step:
                by_task[row["env"].replace("_", "-", 1)][int(row["step"])].append(float(row["episode_reward"]))
    return {task: {step: float(np.mean(v)) for step, v in sorted(by_task[task].items())} for task in tasks if task in by_task}


def published_at(curve: dict[int, float], step: int) -> float:
    """The published return at ``step``, interpolated linearly between its evaluation steps."""
    steps = sorted(curve)
    return float(np.interp(step, steps, [curve[s] for s in steps]))


def final_returns(rows: list[dict[str, Any]]) -> dict[tuple[str, str], dict[int, float]]:
    """(task, algo) -> seed -> return at the run's last evaluation (finished runs only)."""
    last: dict[tuple[str, str], dict[int, tuple[int, float]]] = defaultdict(dict)
    for row in rows:
        if row["finished"]:
            key = row["task"], row["algo"]
            if row["env_steps"] >= last[key].get(row["seed"], (-1, 0.0))[0]:
                last[key][row["seed"]] = (row["env_steps"], row["return_mean"])
    return {key: {seed: value for seed, (_, value) in seeds.items()} for key, seeds in last.items()}


def iqm_with_ci(scores: np.ndarray, seed: int = 0) -> tuple[float, float, float]:
    """rliable's IQM of a (runs, tasks) score matrix with its 95% stratified-bootstrap CI."""
    from rliable import library as rly
    from rliable import metrics

    def iqm(matrix: np.ndarray) -> np.ndarray:
        return np.array([metrics.aggregate_iqm(matrix)])

    np.random.seed(seed)
    point, interval = rly.get_interval_estimates({"x": scores}, iqm, reps=2000)
    return float(point["x"][0]), float(interval["x"][0, 0]), float(interval["x"][1, 0])


def iqm_text(scores: np.ndarray, digits: int) -> str:
    """
    ``"857.3 [848.0, 863.8]"``: ``iqm_with_ci`` of a (runs, tasks) score matrix, rounded to ``digits``;
    ``"548.2 (1 run, no CI)"`` for a single run, whose bootstrap interval would only repeat the point.
    """
    point, low, high = iqm_with_ci(scores)
    if len(scores) == 1:
        return f"{point:.{digits}f} (1 run, no CI)"
    return f"{point:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def mean_and_seeds(values: list[float]) -> str:
    """``"150.0 [100, 200]"``: the mean, then each seed's value; ``"-"`` for none."""
    return f"{np.mean(values):.1f} [{', '.join(f'{v:.0f}' for v in values)}]" if values else "-"


def runs_label(algo: str, n_seeds: int) -> str:
    """Legend entry: ``"softac (3 seeds)"``, ``"softac (1 seed)"``."""
    return f"{algo} ({n_seeds} seed{'s' if n_seeds > 1 else ''})"


def returns_at_published_steps(rows: list[dict[str, Any]], published: dict[str, dict[int, float]]) -> list[str]:
    """
    Markdown lines: each learner's return at pytorch_sac's evaluation steps (mean over the seeds that got
    there, each seed in brackets), unfinished runs included, beside the published return; empty without
    published curves.

    :param rows: Evaluation rows (``read_runs``).
    :param published: ``published_curves`` of (at least) the rows' tasks.
    """
    by_key = curves(rows)
    tasks = sorted({task for task, _ in by_key}, key=task_order)
    if not any(task in published for task in tasks):
        return []
    algos = sorted({algo for _, algo in by_key})
    lines = [
        "Return at pytorch_sac's evaluation steps (every run, finished or not; "
        "mean over the seeds that got there, each seed in brackets).",
        "",
    ]
    lines += ["| task | env steps | " + " | ".join(algos) + " | pytorch_sac (published) |", "|" + "---|" * (len(algos) + 3)]
    for task in [task for task in tasks if task in published]:
        reached = max(step for algo in algos for curve in by_key.get((task, algo), {}).values() for step in curve)
        for step in [step for step in published[task] if 0 < step <= reached]:
            cells = [task, f"{step:,}"]
            for algo in algos:
                values = [curve[step] for _, curve in sorted(by_key.get((task, algo), {}).items()) if step in curve]
                cells.append(mean_and_seeds(values))
            lines.append("| " + " | ".join([*cells, f"{published[task][step]:.0f}"]) + " |")
    return [*lines, ""]


def paired_with_baseline(finals: dict[tuple[str, str], dict[int, float]], baseline: str = "sb3-sac") -> list[str]:
    """
    Markdown lines: each learner's final return minus ``baseline``'s on the seeds both finished (mean, then
    each seed's difference), and in how many of those seeds it is above / below; empty without the baseline.

    :param finals: ``final_returns``.
    :param baseline: The learner compared against.
    """
    tasks = sorted({task for task, algo in finals if algo == baseline}, key=task_order)
    algos = sorted({algo for _, algo in finals} - {baseline})
    if not tasks or not algos:
        return []
    lines = [
        f"Paired with {baseline} on the seeds both finished: final return minus {baseline}'s "
        "(mean [each seed]; seeds above / below).",
        "",
    ]
    lines += ["| task | " + " | ".join(algos) + " |", "|" + "---|" * (len(algos) + 1)]
    for task in tasks:
        cells = [task, *(paired_text(finals.get((task, algo), {}), finals[task, baseline]) for algo in algos)]
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


def paired_text(ours: dict[int, float], theirs: dict[int, float]) -> str:
    """
    ``ours`` minus ``theirs`` on the seeds both have: "mean [each seed]; seeds above / below", or "-".

    :param ours: seed -> final return of one learner.
    :param theirs: seed -> final return of the learner it is compared with.
    """
    differences = [ours[seed] - theirs[seed] for seed in sorted(set(ours) & set(theirs))]
    if not differences:
        return "-"
    above, below = sum(d > 0 for d in differences), sum(d < 0 for d in differences)
    return f"{np.mean(differences):+.1f} [{', '.join(f'{d:+.0f}' for d in differences)}]; {above} / {below}"


def temperature_at_fractions(rows: list[dict[str, Any]], fractions: tuple[float, ...] = (0.1, 0.5, 0.9)) -> list[str]:
    """
    Markdown lines: median alpha and median policy entropy over the finished seeds of each (task, learner),
    at the evaluations nearest to these fractions of the budget; empty when no run logged a temperature.

    :param rows: Evaluation rows (``read_runs``).
    :param fractions: Fractions of the task's budget.
    """
    logged = [row for row in rows if row["finished"] and np.isfinite(row["alpha"])]
    tasks = sorted({row["task"] for row in logged}, key=task_order)
    if not tasks:
        return []
    algos = sorted({row["algo"] for row in logged})
    lines = [
        "Temperature: median alpha / median entropy over seeds, at the evaluations nearest "
        + ", ".join(f"{f:.0%}" for f in fractions)
        + " of the budget.",
        "",
    ]
    lines += ["| task | env steps | " + " | ".join(algos) + " |", "|" + "---|" * (len(algos) + 2)]
    for task in tasks:
        task_rows = [row for row in logged if row["task"] == task]
        steps = sorted({row["env_steps"] for row in task_rows})
        for step in dict.fromkeys(min(steps, key=lambda s: abs(s - fraction * steps[-1])) for fraction in fractions):
            cells = [task, f"{step:,}"]
            for algo in algos:
                at_step = [row for row in task_rows if row["algo"] == algo and row["env_steps"] == step]
                cells.append(
                    f"{np.median([r['alpha'] for r in at_step]):.3f} / {np.median([r['entropy'] for r in at_step]):.2f}"
                    if at_step
                    else "-"
                )
            lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


def largest_drops(rows: list[dict[str, Any]]) -> list[str]:
    """
    Markdown lines: how far each finished run fell below its own best return so far (its largest
    drawdown over the evaluations: 0 for a curve that never drops), mean over seeds, each seed in brackets.

    :param rows: Evaluation rows (``read_runs``).
    """
    by_key = curves([row for row in rows if row["finished"]])
    tasks = sorted({task for task, _ in by_key}, key=task_order)
    algos = sorted({algo for _, algo in by_key})
    lines = ["Largest drop below the run's best return so far (mean over seeds; each seed in brackets).", ""]
    lines += ["| task | " + " | ".join(algos) + " |", "|" + "---|" * (len(algos) + 1)]
    for task in tasks:
        cells = [task]
        for algo in algos:
            drops = []
            for _, curve in sorted(by_key.get((task, algo), {}).items()):
                returns = np.array([curve[step] for step in sorted(curve)])
                drops.append(float(np.max(np.maximum.accumulate(returns) - returns)))
            cells.append(mean_and_seeds(drops))
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


def summarize(out: Path, command: str) -> str:
    """Write summary.md (and return it): per-task finals, the published numbers, paired differences from
    each SB3 learner that has runs (``SB3_LEARNERS``: SB3's SAC at one and at two gradient steps per step,
    the equal-update baselines), the largest drops, the temperature table, IQM with CIs."""
    rows = read_runs(out)
    finals = final_returns(rows)
    tasks = sorted({task for task, _ in finals}, key=task_order)
    algos = sorted({algo for _, algo in finals})
    row_tasks = sorted({row["task"] for row in rows})
    sources = {source.label: published_curves(row_tasks, source) for source in PUBLISHED_SOURCES}
    published = sources[PUBLISHED_SOURCES[0].label]
    budget = {task: max(row["env_steps"] for row in rows if row["task"] == task and row["finished"]) for task in tasks}
    commands_file = out / "commands.txt"
    commands = commands_file.read_text().splitlines() if commands_file.exists() else [command]
    lines = ["Made by: " + ", then ".join(f"`{c}`" for c in commands), ""]
    lines += returns_at_published_steps(rows, published)
    if not tasks:
        text = "\n".join([*lines, "No run has finished yet: no final returns or IQMs."]) + "\n"
        (out / "summary.md").write_text(text)
        return text
    lines += ["Final deterministic evaluation return (mean over seeds; each seed in brackets).", ""]
    header = ["task", "env steps", *algos, *sources]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for task in tasks:
        cells = [task, f"{budget[task]:,}"]
        for algo in algos:
            seeds = finals.get((task, algo), {})
            values = [seeds[s] for s in sorted(seeds)]
            cells.append(mean_and_seeds(values))
        for curves_of_source in sources.values():
            cells.append(f"{published_at(curves_of_source[task], budget[task]):.0f}" if task in curves_of_source else "-")
        lines.append("| " + " | ".join(cells) + " |")

    lines.append("")
    for baseline in SB3_LEARNERS:
        lines += paired_with_baseline(finals, baseline)
    lines += [*largest_drops(rows), *temperature_at_fractions(rows)]
    lines += ["IQM over runs with 95% stratified-bootstrap CI (rliable, 2000 resamples):", ""]
    lines += ["| group | " + " | ".join(algos) + " |", "|" + "---|" * (len(algos) + 1)]
    groups = {task: ([task], 1.0) for task in tasks}
    dmc = [task for task in tasks if task in published]  # the DMC tasks: pytorch_sac has every one
    if dmc:
        groups["DMC tasks, return / 1000"] = (dmc, 1000.0)
    for group, (members, scale) in groups.items():
        cells = [group]
        for algo in algos:
            n_runs = min((len(finals.get((task, algo), {})) for task in members), default=0)
            if n_runs == 0:
                cells.append("-")
                continue
            matrix = np.array([[sorted(finals[task, algo].items())[i][1] for task in members] for i in range(n_runs)]) / scale
            cells.append(iqm_text(matrix, digits=3 if scale > 1 else 1))
        lines.append("| " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    (out / "summary.md").write_text(text)
    return text


def plot(out: Path) -> None:
    """curves.png (and temperature.png when runs logged a temperature)."""
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_runs(out)
    by_key = curves(rows)
    tasks = sorted({task for task, _ in by_key}, key=task_order)
    algos = sorted({algo for _, algo in by_key})
    sources = [(source, published_curves(tasks, source)) for source in PUBLISHED_SOURCES]
    colors = {algo: f"C{i}" for i, algo in enumerate(algos)}
    thousands = matplotlib.ticker.FuncFormatter(lambda x, _: f"{x / 1000:g}k")

    def grid(n: int) -> tuple[Any, list[Any]]:
        cols = min(n, 3)
        fig, axes = plt.subplots(math.ceil(n / cols), cols, figsize=(5 * cols, 3.6 * math.ceil(n / cols)), squeeze=False)
        flat = list(axes.flat)
        for ax in flat[n:]:
            ax.set_visible(False)
        return fig, flat

    fig, axes = grid(len(tasks))
    for ax, task in zip(axes, tasks):
        for algo in algos:
            seeds = by_key.get((task, algo))
            if not seeds:
                continue
            steps = sorted(set.intersection(*(set(curve) for curve in seeds.values())))
            values = np.array([[seeds[s][step] for step in steps] for s in seeds])
            ax.plot(steps, values.mean(0), color=colors[algo], label=runs_label(algo, len(seeds)))
            ax.fill_between(steps, values.min(0), values.max(0), color=colors[algo], alpha=0.2)
        horizon = max(row["env_steps"] for row in rows if row["task"] == task)
        for source, published in sources:
            steps = [s for s in published.get(task, {}) if s <= horizon]
            if steps:
                ax.plot(steps, [published[task][s] for s in steps], "k" + source.style, label=source.label)
        ax.set_title(task)
        ax.xaxis.set_major_formatter(thousands)
        ax.set_xlabel("environment steps")
        ax.set_ylabel("evaluation return")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "curves.png", dpi=110)
    plt.close(fig)

    temperature_rows = [row for row in rows if not math.isnan(row["alpha"])]
    if not temperature_rows:
        return
    temperature_tasks = [task for task in tasks if any(row["task"] == task for row in temperature_rows)]
    fig, axes = plt.subplots(len(temperature_tasks), 2, figsize=(11, 3.2 * len(temperature_tasks)), squeeze=False)
    for (alpha_ax, entropy_ax), task in zip(axes, temperature_tasks):
        for algo in algos:
            runs = sorted({row["seed"] for row in temperature_rows if (row["task"], row["algo"]) == (task, algo)})
            for i, seed in enumerate(runs):
                run_rows = sorted(
                    (r for r in temperature_rows if (r["task"], r["algo"], r["seed"]) == (task, algo, seed)),
                    key=lambda r: r["env_steps"],
                )
                steps = [r["env_steps"] for r in run_rows]
                label = runs_label(algo, len(runs)) if i == 0 else None
                alpha_ax.plot(steps, [r["alpha"] for r in run_rows], color=colors[algo], alpha=0.8, label=label)
                entropy_ax.plot(steps, [r["entropy"] for r in run_rows], color=colors[algo], alpha=0.8, label=label)
        alpha_ax.set(title=f"{task}: temperature alpha", xlabel="environment steps", yscale="log")
        entropy_ax.set(title=f"{task}: policy entropy -E[log pi(a|s)]", xlabel="environment steps")
        for ax in (alpha_ax, entropy_ax):
            ax.xaxis.set_major_formatter(thousands)
        entropy_ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "temperature.png", dpi=110)
    plt.close(fig)


def main(
    default_out: Path = REPO / "benchmarks" / "results" / "learning",
    default_algos: tuple[str, ...] = ("softac", "sb3-sac"),
    default_tasks: tuple[str, ...] = STUDY,
    default_seeds: tuple[int, ...] = (0, 1, 2),
    description: str = __doc__,
) -> None:
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--algos", nargs="+", default=list(default_algos), choices=ALGOS, help=f"learners (default: {' '.join(default_algos)})"
    )
    parser.add_argument(
        "--tasks",
        nargs="+",
        default=list(default_tasks),
        choices=list(TASKS),
        help=f"tasks (default: {' '.join(default_tasks)})",
    )
    parser.add_argument(
        "--seeds",
        nargs="+",
        type=int,
        default=list(default_seeds),
        help=f"seeds (default: {' '.join(map(str, default_seeds))})",
    )
    parser.add_argument("--env-steps", type=int, default=None, help="override every task's budget (environment steps)")
    parser.add_argument(
        "--action-repeat", type=int, default=None, help="override every DMC task's action repeat (1: pytorch_sac's)"
    )
    parser.add_argument(
        "--set",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="override hyperparameters for every task and learner, e.g. --set gradient_steps=2",
    )
    parser.add_argument("--workers", type=int, default=2, help="parallel runs (default: 2)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run (default: 1)")
    parser.add_argument(
        "--out", type=Path, default=default_out, help=f"results folder (default: {default_out.relative_to(REPO)})"
    )
    parser.add_argument("--aggregate-only", action="store_true", help="only write summary.md and the plots")
    args = parser.parse_args()
    overrides = tuple(parse_override(item) for item in args.set)
    tasks = configured_tasks(args.tasks, args.env_steps, args.action_repeat, overrides)
    command = "python " + " ".join([os.path.relpath(os.path.abspath(sys.argv[0]), REPO), *sys.argv[1:]])
    if not args.aggregate_only:
        record_command(args.out, command)
        run_all(args.algos, tasks, args.seeds, args.out, args.workers, args.threads)
    elif not any((args.out / "runs").glob("*.csv")):
        raise SystemExit(
            f"--aggregate-only: no run CSVs in {args.out / 'runs'}; run without --aggregate-only first, or pass --out"
        )
    print(summarize(args.out, command))
    plot(args.out)
    print(f"wrote {args.out / 'summary.md'} and {args.out / 'curves.png'}")


if __name__ == "__main__":
    main()
