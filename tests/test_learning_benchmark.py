"""benchmarks/learning.py's bookkeeping: resumable run list, final returns, published numbers, summary and plots."""

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
from stable_baselines3.common import evaluation

from benchmarks import five_tasks, learning


def write_run(out: Path, algo: str, task: str, seed: int, returns: list[float], finished: bool = True) -> None:
    (out / "runs").mkdir(parents=True, exist_ok=True)
    name = f"{algo}__{task}__{seed}" + ("" if finished else ".partial") + ".csv"
    with (out / "runs" / name).open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(learning.FIELDS)
        for i, value in enumerate(returns):
            alpha, entropy = (0.1 / (i + 1), -float(i)) if algo == "softac" and i > 0 else (float("nan"), float("nan"))
            writer.writerow([algo, task, seed, i * 50_000, value, 1.0, alpha, entropy, float(i)])


@pytest.fixture
def results(tmp_path: Path) -> Path:
    for seed, offset in [(0, 0.0), (1, 100.0)]:
        write_run(tmp_path, "softac", "cheetah-run", seed, [0.0, 100.0 + offset, 300.0 + offset])
        write_run(tmp_path, "sb3-sac", "cheetah-run", seed, [0.0, 90.0 + offset, 250.0 + offset])
    write_run(tmp_path, "sb3-sac", "cheetah-run", 2, [0.0, 999.0], finished=False)
    return tmp_path


def test_finished_runs_are_skipped_and_partial_ones_pending(results):
    tasks = {"cheetah-run": learning.TASKS["cheetah-run"]}
    pending = learning.pending_runs(["softac", "sb3-sac"], tasks, [0, 1, 2], results)
    assert [(algo, seed) for algo, _, _, seed in pending] == [("softac", 2), ("sb3-sac", 2)]


def test_final_returns_use_the_last_evaluation_of_finished_runs(results):
    finals = learning.final_returns(learning.read_runs(results))
    assert finals["cheetah-run", "softac"] == {0: 300.0, 1: 400.0}
    assert finals["cheetah-run", "sb3-sac"] == {0: 250.0, 1: 350.0}, "the partial seed-2 run is left out"


def test_published_numbers_are_pytorch_sac_means_at_that_step():
    assert learning.PUBLISHED.is_relative_to(learning.REPO / "benchmarks" / "reference"), "read from the vendored copy"
    with learning.PUBLISHED.open() as handle:
        rows = [row for row in csv.DictReader(handle) if row["env"] == "cheetah_run" and row["step"] == "100000"]
    expected = np.mean([float(row["episode_reward"]) for row in rows])
    curve = learning.published_curves(["cheetah-run"])["cheetah-run"]
    assert learning.published_at(curve, 100_000) == pytest.approx(expected)
    assert min(curve[20_000], curve[40_000]) <= learning.published_at(curve, 30_000) <= max(curve[20_000], curve[40_000])


@pytest.mark.parametrize(
    ("label", "expected"), [("SAC (TD-MPC2 repository)", 310), ("SR-SAC (published), replay ratio 8", 548)]
)
def test_other_published_sources_give_their_readmes_100k_means(label, expected):
    source = next(source for source in learning.PUBLISHED_SOURCES if source.label == label)
    assert source.path.is_relative_to(learning.REPO / "benchmarks" / "reference"), "read from the vendored copy"
    curve = learning.published_curves(["cheetah-run", "cartpole-swingup"], source)
    assert learning.published_at(curve["cheetah-run"], 100_000) == pytest.approx(expected, abs=0.5)
    if source.updates_per_step is not None:
        assert "cartpole-swingup" not in curve, "SR-SAC has no cartpole-swingup"


def test_summary_and_plots_are_written(results):
    pytest.importorskip("rliable")
    text = learning.summarize(results, "python benchmarks/learning.py --test")
    assert "| cheetah-run | 100,000 | 300.0 [250, 350] | 350.0 [300, 400] |" in text
    assert "| cheetah-run | +50.0 [+50, +50]; 2 / 0 |" in text  # softac minus sb3-sac, seeds 0 and 1
    assert "| cheetah-run | 100,000 | 0.033 / -2.00 |" in text  # softac's logged alpha 0.1 / 3 and entropy -2
    assert "| cheetah-run | 0.0 [0, 0] | 0.0 [0, 0] |" in text  # largest drops: both learners' curves only rise
    learning.plot(results)
    assert (results / "curves.png").stat().st_size > 10_000 and (results / "temperature.png").exists()


def test_summary_pairs_every_learner_with_sb3_at_each_replay_ratio(results):
    """With runs of SB3's SAC at two gradient steps per step, the summary adds a second paired table
    against them (the equal-update baseline of a learner at two steps), beside the one against sb3-sac."""
    pytest.importorskip("rliable")
    write_run(results, "sb3-sac-rr2", "cheetah-run", 0, [0.0, 100.0, 280.0])
    write_run(results, "sb3-sac-rr2", "cheetah-run", 1, [0.0, 100.0, 420.0])
    text = learning.summarize(results, "cmd")
    rr1 = text.split("Paired with sb3-sac on")[1].split("Paired with")[0]
    rr2 = text.split("Paired with sb3-sac-rr2 on")[1]
    assert "| cheetah-run | +50.0 [+30, +70]; 2 / 0 | +50.0 [+50, +50]; 2 / 0 |" in rr1  # sb3-sac-rr2, softac
    assert "| cheetah-run | -50.0 [-30, -70]; 0 / 2 | +0.0 [+20, -20]; 1 / 1 |" in rr2  # sb3-sac, softac


def test_largest_drop_is_the_deepest_fall_below_the_best_so_far(tmp_path):
    write_run(tmp_path, "ddpg", "cheetah-run", 0, [0.0, 300.0, 100.0, 250.0, 50.0, 400.0])  # 300 -> 50
    write_run(tmp_path, "ddpg", "cheetah-run", 1, [0.0, 100.0, 200.0])  # never drops
    write_run(tmp_path, "ddpg", "cheetah-run", 2, [500.0, 0.0], finished=False)  # unfinished: left out
    lines = learning.largest_drops(learning.read_runs(tmp_path))
    assert "| cheetah-run | 125.0 [250, 0] |" in lines


def test_returns_at_published_steps_include_unfinished_runs(results, tmp_path, monkeypatch):
    published = tmp_path / "published.csv"
    published.write_text(
        "env,seed,step,episode_reward\ncheetah_run,0,50000,70\ncheetah_run,1,50000,84\ncheetah_run,0,100000,213\n"
    )
    monkeypatch.setattr(learning, "PUBLISHED_SOURCES", (learning.Source("pytorch_sac (published)", published),))
    lines = learning.returns_at_published_steps(learning.read_runs(results), learning.published_curves(["cheetah-run"]))
    assert "| cheetah-run | 50,000 | 426.3 [90, 190, 999] | 150.0 [100, 200] | 77 |" in lines
    assert "| cheetah-run | 100,000 | 300.0 [250, 350] | 350.0 [300, 400] | 213 |" in lines


def test_summary_of_unfinished_runs_only_says_so(tmp_path, monkeypatch):
    published = tmp_path / "published.csv"
    published.write_text("env,seed,step,episode_reward\n")  # no published curve for the task
    monkeypatch.setattr(learning, "PUBLISHED_SOURCES", (learning.Source("pytorch_sac (published)", published),))
    write_run(tmp_path, "softac", "walker-walk", 0, [0.0, 50.0], finished=False)
    assert learning.summarize(tmp_path, "cmd").endswith("No run has finished yet: no final returns or IQMs.\n")


def test_command_line_overrides_reach_the_tasks():
    tasks = learning.configured_tasks(["pendulum", "walker-walk"], 5_000, 1, (("batch_size", 1024),))
    assert tasks["walker-walk"].action_repeat == 1 and tasks["pendulum"].action_repeat == 1
    assert learning.TASKS["walker-walk"].action_repeat == 2, "the study's settings are not changed"
    assert tasks["walker-walk"].env_steps == 5_000 and tasks["walker-walk"].eval_every == 5_000
    assert tasks["pendulum"].hyperparams == (("learning_rate", 1e-3), ("batch_size", 1024))
    with pytest.raises(SystemExit, match="--action-repeat must be >= 1, got 0"):
        learning.configured_tasks(["walker-walk"], None, 0, ())


def test_softac_variants_add_their_policy_kwargs_to_the_task_ones():
    import gymnasium as gym

    hyperparams = {**learning.HYPERPARAMS, "policy_kwargs": {"net_arch": [32, 32]}}
    model = learning.make_model("softac-ortho-tanh-std", gym.make("Pendulum-v1"), 0, hyperparams)
    assert model.policy.ortho_init and model.actor.tanh_log_std and model.actor.log_std_bounds == (-5.0, 2.0)
    assert model.actor.net_arch == [32, 32]
    plain = learning.make_model("softac", gym.make("Pendulum-v1"), 0, hyperparams)
    assert not plain.policy.ortho_init and not plain.actor.tanh_log_std and plain.actor.net_arch == [32, 32]
    assert plain.actor.log_prob_epsilon == 0.0
    assert (plain.temperature_loss, plain.update_order) == ("alpha", "joint"), "the studies' softac learner, as it ran"
    default = learning.make_model("sac", gym.make("Pendulum-v1"), 0, hyperparams)
    assert (default.temperature_loss, default.update_order, default.actor.log_prob_epsilon) == ("log_alpha", "joint", 0.0)
    critic_first = learning.make_model("softac-critic-first", gym.make("Pendulum-v1"), 0, hyperparams)
    assert (critic_first.temperature_loss, critic_first.update_order) == ("alpha", "critic_first")
    sb3_update = learning.make_model("softac-sb3-update", gym.make("Pendulum-v1"), 0, hyperparams)
    assert (sb3_update.temperature_loss, sb3_update.update_order, sb3_update.actor.log_prob_epsilon) == (
        "log_alpha",
        "critic_first",
        1e-6,
    )
    assert sb3_update.actor.net_arch == [32, 32]
    with pytest.raises(ValueError, match="unknown algo 'softac-typo'"):
        learning.make_model("softac-typo", gym.make("Pendulum-v1"), 0, hyperparams)


def test_preset_learners_are_the_presets_at_the_affordable_replay_ratio():
    import gymnasium as gym
    from stable_baselines3 import SAC

    env, hyperparams = gym.make("Pendulum-v1"), dict(learning.HYPERPARAMS)
    crossq = learning.make_model("crossq-qf256", env, 0, hyperparams)
    assert crossq.critic_target is None and crossq.policy_delay == 3 and crossq.learning_rate == 1e-3
    assert crossq.policy._critic_arch == [256, 256] and crossq.policy.batch_renorm
    assert crossq.critic.optimizer.defaults["betas"] == (0.5, 0.999)
    droq = learning.make_model("droq-rr2", env, 0, hyperparams)
    assert (droq.gradient_steps, droq.policy_delay) == (2, 2)
    assert droq.policy.layer_norm and droq.policy.dropout_rate == 0.01
    rr8 = learning.make_model("sr_sac-rr8", env, 0, hyperparams)
    assert (rr8.gradient_steps, rr8.reset_interval, rr8.learning_starts) == (8, 320_000, 5000)
    assert rr8.log_ent_coef.exp().item() == pytest.approx(1.0)
    assert learning.make_model("sr_sac-rr2", env, 0, hyperparams).reset_interval == 1_280_000
    sb3 = learning.make_model("sb3-sac-rr2", env, 0, hyperparams)
    assert type(sb3) is SAC and sb3.gradient_steps == 2


def test_an_interrupted_run_resumes_from_its_last_checkpoint(tmp_path, monkeypatch):
    task = learning.Task(
        "Pendulum-v1", 600, 200, eval_episodes=1, hyperparams=(("learning_starts", 100), ("buffer_size", 1000))
    )
    save = learning.Checkpoint.save
    saved: list[int] = []

    def save_then_stop(self, model):  # the machine goes away right after the second checkpoint
        save(self, model)
        saved.append(model.num_timesteps)
        if len(saved) == 2:
            raise KeyboardInterrupt

    (tmp_path / "runs").mkdir()
    monkeypatch.setattr(learning.Checkpoint, "save", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        learning.run("sac", "pendulum", task, 0, tmp_path, 1)
    assert saved == [200, 400]
    checkpoint = learning.Checkpoint(tmp_path / "checkpoints" / "sac__pendulum__0")
    assert checkpoint.latest_step() == 400 and [p.name for p in checkpoint.folder.iterdir() if p.is_dir()] == ["400"]
    interrupted = learning.rows_up_to(tmp_path / "runs" / "sac__pendulum__0.partial.csv", 10**9)
    assert [int(row[3]) for row in interrupted] == [0, 200, 400]

    monkeypatch.setattr(learning.Checkpoint, "save", save)
    assert [job[0] for job in learning.pending_runs(["sac"], {"pendulum": task}, [0], tmp_path)] == ["sac"]
    on_disk_at_first_evaluation: list[list[list[str]]] = []
    evaluate_policy = evaluation.evaluate_policy

    def record_then_evaluate(*args, **kwargs):  # what a machine lost now would leave on disk
        if not on_disk_at_first_evaluation:
            on_disk_at_first_evaluation.append(learning.rows_up_to(tmp_path / "runs" / "sac__pendulum__0.partial.csv", 10**9))
        return evaluate_policy(*args, **kwargs)

    monkeypatch.setattr(evaluation, "evaluate_policy", record_then_evaluate)
    finished = learning.run("sac", "pendulum", task, 0, tmp_path, 1)
    assert on_disk_at_first_evaluation == [interrupted], "the kept rows are on disk before the resumed run trains"
    with finished.open() as handle:
        rows = list(csv.DictReader(handle))
    assert [int(row["env_steps"]) for row in rows] == [0, 200, 400, 600], "no evaluation repeated or lost"
    assert [row["return_mean"] for row in rows[:3]] == [row[4] for row in interrupted], "the kept rows are the originals"
    assert (tmp_path / "runs" / "sac__pendulum__0.resumes.txt").read_text() == "resumed at 400 environment steps\n"
    assert not checkpoint.folder.exists(), "a finished run deletes its checkpoint"
    assert learning.pending_runs(["sac"], {"pendulum": task}, [0], tmp_path) == []


def test_a_resumed_run_gets_a_seed_numpy_accepts_at_any_checkpoint():
    seeds = [learning.resume_seed(seed, steps) for seed in (0, 1, 2) for steps in (400, 5_000, 50_000, 75_000)]
    assert len(set(seeds)) == len(seeds), "each seed and checkpoint reseeds differently"
    for value in seeds:  # 50k agent steps overflowed 2**32 before (a 100k run could not resume at its midpoint)
        np.random.seed(value)


def test_one_run_gets_its_iqm_without_an_interval():
    """One run over five tasks: the point is the IQM (the middle three tasks' mean, 0.600), not the mean (0.560)."""
    assert learning.iqm_text(np.array([[0.1, 0.5, 0.6, 0.7, 0.9]]), digits=3) == "0.600 (1 run, no CI)"
    assert learning.iqm_text(np.array([[0.1, 0.5, 0.6, 0.7, 0.9]] * 2), digits=3) == "0.600 [0.600, 0.600]"


def test_five_tasks_report_takes_each_task_from_its_study_and_pools_common_seeds(tmp_path):
    """benchmarks/five_tasks.py: each task's runs come from its own study folder (a task's runs in the
    other folder are ignored), the zoo config's learner is marked, and the IQM over the five tasks uses
    the seeds every task has."""
    for task, folder in five_tasks.STUDY_OF_TASK.items():
        for seed in (0, 1, 2):
            write_run(tmp_path / folder, "sb3-sac", task, seed, [0.0, 100.0, 500.0])
            write_run(tmp_path / folder, five_tasks.ZOO_LEARNERS[task][0], task, seed, [0.0, 100.0, 800.0])
    write_run(tmp_path / "presets", "sb3-sac", "walker-walk", 3, [0.0, 1.0, 5.0])  # walker-walk is presets_ar1's
    write_run(tmp_path / "presets_ar1", "sb3-sac", "walker-walk", 3, [0.0, 1.0, 200.0])  # a seed only walker has
    text = five_tasks.report(tmp_path)
    walker = next(line for line in text.splitlines() if line.startswith("| walker-walk (1) |"))
    assert (
        "| 425.0 [500, 500, 500, 200]; IQM 500.0 [200.0, 500.0] |" in walker
        and "| **800.0 [800, 800, 800]**; IQM 800.0 [800.0, 800.0] |" in walker
    )
    assert walker.endswith("| 847 | 708 | 891 |") and "not run" in walker  # published at 100k; droq-rr2 has no run
    write_run(tmp_path / "presets_ar1", "droq-rr2", "walker-walk", 0, [0.0, 1.0, 548.2])
    walker = next(line for line in five_tasks.report(tmp_path).splitlines() if line.startswith("| walker-walk (1) |"))
    assert "| 548.2 [548]; IQM 548.2 (1 run, no CI) |" in walker  # one seed: no bootstrap interval to show
    assert "| cheetah-run | crossq-qf256 | sb3-sac | +300.0 [+300, +300, +300]; 3 / 0 |" in text
    assert "| walker-walk | sr_sac-rr2 | sb3-sac-rr2 | not run |" in text  # paired at equal gradient steps
    write_run(tmp_path / "presets_ar1", "sb3-sac-rr2", "walker-walk", 1, [0.0, 1.0, 900.0])
    assert "| walker-walk | sr_sac-rr2 | sb3-sac-rr2 | -100.0 [-100]; 0 / 1 |" in five_tasks.report(tmp_path)
    assert "| SB3 SAC | 0, 1, 2 | 0.500 [0.500, 0.500] |" in text
    assert "| SoftAC, zoo config | 0, 1, 2 | 0.800 [0.800, 0.800] |" in text
    assert "| SoftAC default | - | not every task has a finished run |" in text  # no sac runs on the crossq tasks


RESULTS = five_tasks.RESULTS
STUDIES = sorted(path.parent.name for path in RESULTS.glob("*/summary.md"))


def committed_runs(study: str, into: Path) -> Path:
    """Copy a study's run CSVs (finished and stopped ones) and its commands.txt into ``into / study``.
    In a fresh clone these are the committed ones; a run in flight in this checkout makes them differ."""
    folder = RESULTS / study
    csvs = sorted((folder / "runs").glob("*.csv"))
    assert csvs, f"{folder} has no run CSVs"
    (into / study / "runs").mkdir(parents=True)
    for path in csvs:
        shutil.copy(path, into / study / "runs" / path.name)
    if (folder / "commands.txt").exists():
        shutil.copy(folder / "commands.txt", into / study / "commands.txt")
    return into / study


@pytest.mark.parametrize("study", STUDIES)
def test_committed_summary_is_what_learning_py_makes_from_the_committed_runs(study, tmp_path):
    """Each study's summary.md is current: regenerating it from the committed CSVs changes nothing."""
    made = learning.summarize(committed_runs(study, tmp_path), command="unused: commands.txt exists")
    assert made == (RESULTS / study / "summary.md").read_text(), (
        f"benchmarks/results/{study}/summary.md is stale: run "
        f"`python benchmarks/learning.py --aggregate-only --out benchmarks/results/{study}` and commit it"
    )


def test_committed_five_task_report_is_what_five_tasks_py_makes_from_the_committed_runs():
    """five_tasks.py only reads the studies (and only finished runs), so it runs on them in place."""
    assert five_tasks.report(RESULTS) == (RESULTS / "five_tasks.md").read_text(), (
        "benchmarks/results/five_tasks.md is stale: run `python benchmarks/five_tasks.py` and commit it"
    )
