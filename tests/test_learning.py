"""SoftAC actually learns: Pendulum-v1 swing-up (>= -250 over 10 deterministic episodes), with each preset.

RL-Zoo's SAC reaches about -157 at 20,000 steps. The high-replay-ratio presets run here at a replay
ratio and width that fit the CI budget (about 2 minutes each on one core); each keeps what defines its
method: DroQ's dropout + LayerNorm critics with one actor step per environment step, CrossQ without
target networks and with Batch Renormalization, SR-SAC's resets (one of them mid-run).
"""

import pytest
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy

from sb3_softac import PRESETS, SoftAC

pytestmark = pytest.mark.slow  # subprocesses and learning runs: left out of the quick loop

# preset -> (changes for the CI budget, environment steps)
CI_RUNS = {
    # RL-Zoo's SAC hyperparameters for Pendulum-v1 (learning_rate=1e-3, the rest SB3 defaults).
    "sac": (dict(learning_rate=1e-3), 12_000),
    # Replay ratio 10 instead of 20, 128-wide critics.
    "droq": (
        dict(
            gradient_steps=10,
            policy_delay=10,
            learning_starts=200,
            policy_kwargs={**PRESETS["droq"]["policy_kwargs"], "net_arch": [128, 128]},
        ),
        1_500,
    ),
    # 256-wide critics instead of 2048 (one 2048-wide update takes about 0.8 s on one core).
    "crossq": (
        dict(
            learning_starts=200,
            policy_kwargs={**PRESETS["crossq"]["policy_kwargs"], "net_arch": dict(pi=[256, 256], qf=[256, 256])},
        ),
        3_000,
    ),
    # Replay ratio 4 instead of 32, 128-wide networks, everything reset after 2,000 of the 3,500 steps.
    "sr_sac": (
        dict(
            gradient_steps=4,
            reset_interval=2_000,
            learning_starts=200,
            learning_rate=1e-3,
            policy_kwargs=dict(net_arch=[128, 128]),
        ),
        3_500,
    ),
}


@pytest.mark.parametrize("preset", list(PRESETS))
def test_pendulum_learns(preset):
    changes, steps = CI_RUNS[preset]
    model = SoftAC("MlpPolicy", "Pendulum-v1", seed=0, **{**PRESETS[preset], **changes})
    random_return, _ = evaluate_policy(model, make_vec_env("Pendulum-v1", seed=123), n_eval_episodes=10, deterministic=True)
    model.learn(steps)
    mean_return, std_return = evaluate_policy(
        model, make_vec_env("Pendulum-v1", seed=123), n_eval_episodes=10, deterministic=True
    )
    print(
        f"{preset}: Pendulum-v1 after {steps:,} steps: {mean_return:.1f} +- {std_return:.1f} (untrained: {random_return:.1f})"
    )
    assert mean_return >= -250, f"{preset}: mean return {mean_return:.1f} < -250 after {steps:,} steps"
    if preset == "sr_sac":
        assert model._n_resets == 1
