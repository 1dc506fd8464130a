"""Training throughput of SoftAC against SB3's SAC (and SBX when installed), measured in the same run.

    python benchmarks/throughput.py                       # HalfCheetah-v5, CPU, torch's default threads
    python benchmarks/throughput.py --update-only         # gradient steps/s on a filled buffer, no env
    python benchmarks/throughput.py --bf16                # SoftAC with bf16 matmuls (model.bf16_matmuls)
    python benchmarks/throughput.py --device cuda --threads 1 --env dmc-cheetah-run-v0 --repeats 5

Setup as in the speed issue: batch 256, [256, 256] networks, 2 critics, 1 gradient step per env step.
Repeats are interleaved (SoftAC, SAC, [SBX], SoftAC, SAC, ...) so machine noise hits all alike.
Reports the steady-state rate after learning_starts: median and min-max over the repeats; the last
line is the ratio of medians SoftAC / SB3 SAC.
"""

import argparse
import statistics
import time
from collections.abc import Callable

import torch as th

import sb3_softac  # noqa: F401  (registers the dmc-* ids)
from sb3_softac import SoftAC

LEARNING_STARTS = 1000
COMMON = dict(batch_size=256, learning_starts=LEARNING_STARTS, buffer_size=100_000, train_freq=1, gradient_steps=1, seed=0)
POLICY_KWARGS = dict(net_arch=[256, 256], n_critics=2)


def make_softac(env: str, device: str, bf16: bool) -> SoftAC:
    model = SoftAC("MlpPolicy", env, device=device, policy_kwargs=POLICY_KWARGS, **COMMON)
    model.bf16_matmuls = bf16
    return model


def make_sb3(env: str, device: str, bf16: bool):
    from stable_baselines3 import SAC

    return SAC("MlpPolicy", env, device=device, policy_kwargs=POLICY_KWARGS, **COMMON)


def make_sbx(env: str, device: str, bf16: bool):
    from sbx import SAC as SBXSAC

    return SBXSAC("MlpPolicy", env, policy_kwargs=dict(net_arch=[256, 256]), **COMMON)


def env_steps_per_second(make: Callable, env: str, device: str, bf16: bool, steps: int) -> float:
    """Steady-state env-steps/s of learn(), after learning_starts and a short warm-up."""
    model = make(env, device, bf16)
    model.learn(LEARNING_STARTS + 200)
    start = time.perf_counter()
    model.learn(steps, reset_num_timesteps=False)
    return steps / (time.perf_counter() - start)


def updates_per_second(make: Callable, env: str, device: str, bf16: bool, steps: int) -> float:
    """Gradient steps/s of train() alone, on a buffer filled with LEARNING_STARTS random transitions."""
    model = make(env, device, bf16)
    model.learn(LEARNING_STARTS)
    model.train(gradient_steps=20, batch_size=256)
    start = time.perf_counter()
    model.train(gradient_steps=steps, batch_size=256)
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="HalfCheetah-v5", help="Gymnasium id (default: HalfCheetah-v5)")
    parser.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's default)")
    parser.add_argument("--steps", type=int, default=1000, help="timed steps per repeat (default: 1000)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats (default: 3)")
    parser.add_argument("--update-only", action="store_true", help="time gradient steps only, no env interaction")
    parser.add_argument("--bf16", action="store_true", help="SoftAC with bf16 matmuls (opt-in)")
    args = parser.parse_args()
    if args.threads is not None:
        th.set_num_threads(args.threads)

    implementations: dict[str, Callable] = {"SoftAC" + (" bf16" if args.bf16 else ""): make_softac, "SB3 SAC": make_sb3}
    try:
        import sbx  # noqa: F401

        implementations["SBX SAC"] = make_sbx
    except ImportError:
        pass
    measure = updates_per_second if args.update_only else env_steps_per_second
    unit = "updates/s" if args.update_only else "env-steps/s"
    print(f"{args.env}, device {args.device}, {th.get_num_threads()} torch threads, {args.steps} steps x {args.repeats} repeats, {unit}")

    rates: dict[str, list[float]] = {name: [] for name in implementations}
    for repeat in range(args.repeats):
        for name, make in implementations.items():
            rates[name].append(measure(make, args.env, args.device, args.bf16, args.steps))
            print(f"  repeat {repeat + 1}: {name:12s} {rates[name][-1]:8.1f} {unit}", flush=True)
    medians = {name: statistics.median(values) for name, values in rates.items()}
    for name, values in rates.items():
        print(f"{name:12s} median {medians[name]:8.1f} {unit} (min {min(values):.1f}, max {max(values):.1f})")
    softac = next(name for name in medians if name.startswith("SoftAC"))
    print(f"ratio {softac} / SB3 SAC: {medians[softac] / medians['SB3 SAC']:.2f}x")


if __name__ == "__main__":
    main()
