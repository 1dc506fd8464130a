"""Train SoftAC on Pendulum-v1 with a progress bar, then print the deterministic evaluation return.

    python examples/quickstart.py [--steps 12000] [--seed 0] [--save softac_pendulum.zip]

Pendulum's return is in [-1600, 0]; a swung-up, balanced pendulum scores above about -200.
"""

import argparse

from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy

from sb3_softac import SoftAC


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=12_000, help="environment steps to train for (default: 12000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--eval-episodes", type=int, default=10, help="deterministic evaluation episodes (default: 10)")
    parser.add_argument("--save", default=None, help="where to save the trained model (.zip), optional")
    args = parser.parse_args()
    if args.steps <= 0:
        parser.error(f"--steps must be a positive number of environment steps, got {args.steps}")

    # RL-Zoo's SAC hyperparameters for Pendulum-v1: the SB3 SAC defaults with learning_rate=1e-3.
    model = SoftAC("MlpPolicy", "Pendulum-v1", learning_rate=1e-3, seed=args.seed)
    model.learn(total_timesteps=args.steps, progress_bar=True)
    eval_env = make_vec_env("Pendulum-v1", seed=args.seed + 1000)
    mean_return, std_return = evaluate_policy(model, eval_env, n_eval_episodes=args.eval_episodes, deterministic=True)
    print(
        f"Pendulum-v1, {args.steps} steps, seed {args.seed}: "
        f"evaluated return {mean_return:.1f} +- {std_return:.1f} over {args.eval_episodes} episodes"
    )
    if args.save:
        model.save(args.save)
        print(f"saved to {args.save}")


if __name__ == "__main__":
    main()
