"""SoftAC actually learns: Pendulum-v1 swing-up within 12,000 steps (RL-Zoo's SAC reaches about -157 at 20,000)."""

import pytest
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy

from sb3_softac import SoftAC

pytestmark = pytest.mark.slow  # subprocesses and learning runs: left out of the quick loop


def test_pendulum_learns():
    # RL-Zoo's SAC hyperparameters for Pendulum-v1 (learning_rate=1e-3, the rest SB3 defaults).
    model = SoftAC("MlpPolicy", "Pendulum-v1", learning_rate=1e-3, seed=0)
    random_return, _ = evaluate_policy(model, make_vec_env("Pendulum-v1", seed=123), n_eval_episodes=10, deterministic=True)
    model.learn(12_000)
    mean_return, std_return = evaluate_policy(
        model, make_vec_env("Pendulum-v1", seed=123), n_eval_episodes=10, deterministic=True
    )
    print(f"Pendulum-v1 after 12,000 steps: {mean_return:.1f} +- {std_return:.1f} (untrained: {random_return:.1f})")
    assert mean_return >= -250, f"mean return {mean_return:.1f} < -250 after 12,000 steps"
