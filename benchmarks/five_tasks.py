"""
The learning evidence over the five DMC tasks of the presets studies, at 100k environment steps.

Per task: SB3's SAC (at one and at two gradient steps per step), SoftAC's default and each preset learner
(mean [each seed], and the IQM with its 95% stratified-bootstrap CI), beside the three published baselines;
then each task's zoo config paired with SB3's SAC at the zoo config's gradient steps per step. Over the five
tasks (return / 1000): the IQM of SB3's SAC, of SoftAC's default and of SoftAC at each task's zoo config, on
the seeds all five tasks have. Reads the run CSVs of the folders whose runs validated the zoo configs
(``STUDY_OF_TASK``) and writes ``benchmarks/results/five_tasks.md``::

    python benchmarks/five_tasks.py
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the checkout's benchmarks package
from benchmarks import learning

RESULTS = learning.REPO / "benchmarks" / "results"
# The folder each task's runs are in: presets/ at the task table's action repeats, presets_ar1/ at
# action repeat 1 (finger-spin and walker-walk, as their zoo configs).
STUDY_OF_TASK = {
    "cartpole-swingup": "presets",
    "reacher-easy": "presets",
    "cheetah-run": "presets",
    "finger-spin": "presets_ar1",
    "walker-walk": "presets_ar1",
}
STUDIES = sorted(set(STUDY_OF_TASK.values()))
# Each task's zoo config (zoo_configs/softac.yml) as a learning.py learner and action repeat, as the runs
# named in the entry's comment ran it (why each task has its learner is said there); tests/test_zoo.py
# checks each entry builds exactly this learner.
ZOO_LEARNERS = {
    "cartpole-swingup": ("sac", 8),
    "reacher-easy": ("crossq-qf256", 4),
    "cheetah-run": ("crossq-qf256", 4),
    "finger-spin": ("crossq-qf256", 1),
    "walker-walk": ("sr_sac-rr2", 1),
}
LEARNERS = ("sb3-sac", "sb3-sac-rr2", "sac", "crossq-qf256", "droq-rr2", "sr_sac-rr2")
BUDGET = 100_000


def finals_by_task(results: Path) -> dict[str, dict[str, dict[int, float]]]:
    """task -> learner -> seed -> final return, from each task's study folder (finished runs only)."""
    by_task: dict[str, dict[str, dict[int, float]]] = {task: {} for task in STUDY_OF_TASK}
    for folder in STUDIES:
        for (task, algo), seeds in learning.final_returns(learning.read_runs(results / folder)).items():
            if STUDY_OF_TASK.get(task) == folder:
                by_task[task][algo] = seeds
    return by_task


def per_task_table(finals: dict[str, dict[str, dict[int, float]]]) -> list[str]:
    """Markdown: task x learner, mean [seeds] and IQM [CI]; then the published returns at 100k."""
    sources = {s.label: learning.published_curves(list(STUDY_OF_TASK), s) for s in learning.PUBLISHED_SOURCES}
    header = ["task (action repeat)", *LEARNERS, *sources]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for task, learners in finals.items():
        cells = [f"{task} ({ZOO_LEARNERS[task][1]})"]
        for algo in LEARNERS:
            values = [learners[algo][s] for s in sorted(learners.get(algo, {}))]
            mark = "**" if algo == ZOO_LEARNERS[task][0] else ""
            if not values:
                cells.append("not run")
                continue
            iqm = learning.iqm_text(np.array(values)[:, None], digits=1)
            cells.append(f"{mark}{learning.mean_and_seeds(values)}{mark}; IQM {iqm}")
        for curves in sources.values():
            cells.append(f"{learning.published_at(curves[task], BUDGET):.0f}" if task in curves else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def equal_updates_baseline(algo: str) -> str:
    """The SB3 learner of ``learning.py`` that takes as many gradient steps per environment step as ``algo``."""
    steps = learning.SOFTAC_LEARNERS[algo][0].get("gradient_steps", 1)
    return next(name for name, options in learning.SB3_LEARNERS.items() if options.get("gradient_steps", 1) == steps)


def zoo_config_paired(finals: dict[str, dict[str, dict[int, float]]]) -> list[str]:
    """Markdown: each task's zoo config minus SB3's SAC at the same gradient steps per step, paired seeds."""
    lines = [
        "| task | zoo config | SB3's SAC at its gradient steps per step | zoo config minus SB3"
        " (mean [each seed]; seeds above / below) |",
        "|---|---|---|---|",
    ]
    for task, learners in finals.items():
        algo = ZOO_LEARNERS[task][0]
        baseline = equal_updates_baseline(algo)
        paired = learning.paired_text(learners.get(algo, {}), learners.get(baseline, {}))
        lines.append(f"| {task} | {algo} | {baseline} | {'not run' if paired == '-' else paired} |")
    return lines


def over_five(finals: dict[str, dict[str, dict[int, float]]]) -> list[str]:
    """Markdown: IQM [CI] of return / 1000 over the five tasks, on the seeds every task has for the learner."""
    columns = {
        "SB3 SAC": {task: "sb3-sac" for task in finals},
        "SoftAC default": {task: "sac" for task in finals},
        "SoftAC, zoo config": {task: ZOO_LEARNERS[task][0] for task in finals},
    }
    lines = ["| learner | seeds | IQM over the five tasks, return / 1000 [95% CI] |", "|---|---|---|"]
    for label, algo_of_task in columns.items():
        seeds = sorted(set.intersection(*(set(finals[t].get(a, {})) for t, a in algo_of_task.items())))
        if not seeds:
            lines.append(f"| {label} | - | not every task has a finished run |")
            continue
        matrix = np.array([[finals[t][a][s] for t, a in algo_of_task.items()] for s in seeds]) / 1000.0
        lines.append(f"| {label} | {', '.join(map(str, seeds))} | {learning.iqm_text(matrix, digits=3)} |")
    return lines


def report(results: Path) -> str:
    """The whole Markdown report."""
    finals = finals_by_task(results)
    return "\n".join(
        [
            "Made by: `python benchmarks/five_tasks.py` from the run CSVs of "
            + ", ".join(f"`{folder}/`" for folder in STUDIES)
            + ".",
            "",
            "Final deterministic return at 100k environment steps: mean [each seed]; IQM [95% stratified-bootstrap CI]"
            " (rliable). **Bold**: the task's zoo config. Published: mean over their seeds at 100k.",
            "",
            *per_task_table(finals),
            "",
            *zoo_config_paired(finals),
            "",
            *over_five(finals),
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder holding the study folders")
    parser.add_argument("--out", type=Path, default=RESULTS / "five_tasks.md", help="the Markdown file to write")
    args = parser.parse_args()
    text = report(args.results)
    args.out.write_text(text)
    print(text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
