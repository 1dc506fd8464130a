"""Does the opt-in bf16 update hurt learning? SoftAC fp32 vs bf16 on the same seeds.

    python benchmarks/bf16_learning.py [--seeds 0 1]

Pendulum-v1: 12,000 steps with RL-Zoo's SAC settings (learning_rate 1e-3), 10 deterministic
evaluation episodes. DMC cartpole-balance: action repeat 8, 3,000 agent steps, 5 episodes.
Prints one line per (task, seed, precision) and the mean over seeds.
"""

import argparse
import statistics

from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy

from sb3_softac import SoftAC, make_dmc_env

TASKS = {
    "Pendulum-v1": dict(
        make=lambda seed: make_vec_env("Pendulum-v1", seed=seed),
        kwargs=dict(learning_rate=1e-3),
        steps=12_000,
        episodes=10,
    ),
    "dmc-cartpole-balance (action repeat 8)": dict(
        make=lambda seed: make_vec_env(lambda: make_dmc_env("cartpole-balance", action_repeat=8), seed=seed),
        kwargs=dict(learning_rate=1e-3, learning_starts=500),
        steps=3_000,
        episodes=5,
    ),
}


def evaluated_return(task: dict, seed: int, bf16: bool) -> float:
    model = SoftAC("MlpPolicy", task["make"](seed), seed=seed, bf16_matmuls=bf16, **task["kwargs"])
    model.learn(task["steps"])
    mean_return, _ = evaluate_policy(model, task["make"](seed + 1000), n_eval_episodes=task["episodes"], deterministic=True)
    return mean_return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="seeds (default: 0 1)")
    args = parser.parse_args()
    for name, task in TASKS.items():
        results: dict[str, list[float]] = {"fp32": [], "bf16": []}
        for seed in args.seeds:
            for precision in results:
                results[precision].append(evaluated_return(task, seed, bf16=precision == "bf16"))
                print(f"{name}, seed {seed}, {precision}: {results[precision][-1]:.1f}", flush=True)
        summary = ", ".join(f"{p} {statistics.mean(r):.1f}" for p, r in results.items())
        print(f"{name}: mean over seeds {args.seeds}: {summary}")


if __name__ == "__main__":
    main()
