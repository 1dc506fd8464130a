"""Training throughput of SoftAC against SB3's SAC (and SBX when installed), measured in the same run.

    python benchmarks/throughput.py                       # HalfCheetah-v5, CPU, torch's default threads
    python benchmarks/throughput.py --update-only         # gradient steps/s on a filled buffer, no env
    python benchmarks/throughput.py --update-only --steps-per-call 300 --steps 300   # one train() call of 300 steps
    python benchmarks/throughput.py --bf16                # SoftAC with bf16 matmuls (bf16_matmuls=True)
    # SoftAC's one-backward step and SB3's order (update_order="critic_first"):
    python benchmarks/throughput.py --update-order both
    python benchmarks/throughput.py --compile both        # SoftAC eager and with compile_update=True, in one run
    python benchmarks/throughput.py --device cuda         # SoftAC's update replayed as a CUDA graph (its default on CUDA)
    python benchmarks/throughput.py --device cuda --threads 1 --env dmc-cheetah-run-v0 --repeats 5
    # The SAC-family presets (sb3_softac.PRESETS) at their papers' settings, per environment step:
    python benchmarks/throughput.py --presets droq crossq sr_sac --steps 100 --warmup 50

Setup as in the speed issue: batch 256, [256, 256] networks, 2 critics, 1 gradient step per env step.
Repeats are interleaved (SoftAC, SAC, [SBX], SoftAC, SAC, ...) so machine noise hits all alike.
SBX runs each repeat in a fresh process of its own: JAX's CPU runtime keeps threads that, in the same
process, slowed the PyTorch learners by about a third (``benchmarks/results/cpu/README.md``).
Reports the steady-state rate after learning_starts: median and min-max over the repeats; the last
lines are the ratios of medians SoftAC / SB3 SAC, each learner / SBX SAC when SBX ran, and with
--presets each preset / SoftAC's default.
A preset keeps its own gradient_steps (DroQ 20, SR-SAC 32 per environment step), widths and options;
its policy_kwargs are merged over the common [256, 256] networks.
"""

import argparse
import importlib.util
import multiprocessing
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

import torch as th

import sb3_softac  # noqa: F401  (registers the dmc-* ids)
from sb3_softac import PRESETS, SoftAC

LEARNING_STARTS = 1000
COMMON = dict(batch_size=256, learning_starts=LEARNING_STARTS, buffer_size=100_000, train_freq=1, gradient_steps=1, seed=0)
POLICY_KWARGS = dict(net_arch=[256, 256], n_critics=2)
# --compile and --update-order: each choice names the values of the SoftAC option it times.
COMPILE_CHOICES = {"off": (False,), "on": (True,), "both": (False, True)}  # compile_update
UPDATE_ORDERS = {
    "one-backward": ("joint",),
    "critic-first": ("critic_first",),
    "both": ("joint", "critic_first"),
}  # update_order


def softac_maker(compiled: bool, update_order: str) -> Callable:
    def make_softac(env: str, device: str, options: argparse.Namespace) -> SoftAC:
        return SoftAC(
            "MlpPolicy",
            env,
            device=device,
            policy_kwargs=POLICY_KWARGS,
            **COMMON,
            bf16_matmuls=options.bf16,
            compile_update=compiled,
            update_order=update_order,
            cuda_graphs=not options.no_cuda_graphs,
        )

    return make_softac


def preset_maker(name: str, compiled: bool = False) -> Callable:
    def make_preset(env: str, device: str, options: argparse.Namespace) -> SoftAC:
        preset = PRESETS[name]
        policy_kwargs = {**POLICY_KWARGS, **preset.pop("policy_kwargs", {})}
        settings = {**COMMON, **preset, "policy_kwargs": policy_kwargs}
        return SoftAC("MlpPolicy", env, device=device, bf16_matmuls=options.bf16, compile_update=compiled, **settings)

    return make_preset


def softac_implementations(
    compile_choice: str, update_order: str, variant: str, presets: tuple[str, ...] = ()
) -> dict[str, Callable]:
    """
    The SoftAC learners to time, by name.

    :param compile_choice: ``off``, ``on`` or ``both`` (``--compile``).
    :param update_order: ``one-backward``, ``critic-first`` or ``both`` (``--update-order``).
    :param variant: Suffix naming the options every SoftAC learner shares (e.g. `` bf16``).
    :param presets: Names in ``sb3_softac.PRESETS`` to time too (``--presets``).
    :return: One model maker per combination, then one per preset (and ``--compile`` choice), in the
        order they are timed.
    """
    implementations = {
        "SoftAC" + " compiled" * compiled + " critic-first" * (order == "critic_first") + variant: softac_maker(
            compiled, order
        )
        for compiled in COMPILE_CHOICES[compile_choice]
        for order in UPDATE_ORDERS[update_order]
    }
    for name in presets:
        for compiled in COMPILE_CHOICES[compile_choice]:
            implementations[f"SoftAC{' compiled' * compiled} preset {name}{variant}"] = preset_maker(name, compiled)
    return implementations


def make_sb3(env: str, device: str, options: argparse.Namespace):
    from stable_baselines3 import SAC

    return SAC("MlpPolicy", env, device=device, policy_kwargs=POLICY_KWARGS, **COMMON)


def make_sbx(env: str, device: str, options: argparse.Namespace):
    from sbx import SAC as SBXSAC

    return SBXSAC("MlpPolicy", env, policy_kwargs=dict(net_arch=[256, 256]), **COMMON)


def env_steps_per_second(make: Callable, env: str, device: str, options: argparse.Namespace, steps: int) -> float:
    """Steady-state env-steps/s of learn(), after learning_starts and a short warm-up."""
    model = make(env, device, options)
    model.learn(LEARNING_STARTS + options.warmup)
    start = time.perf_counter()
    model.learn(steps, reset_num_timesteps=False)
    return steps / (time.perf_counter() - start)


def updates_per_second(make: Callable, env: str, device: str, options: argparse.Namespace, steps: int) -> float:
    """
    Gradient steps/s of train() alone, on LEARNING_STARTS random transitions: ``steps`` calls of one
    gradient step (as learn() runs them at train_freq=1, gradient_steps=1), or with ``--steps-per-call N``
    ``steps // N`` calls of N gradient steps each (high replay ratios, train_freq in episodes), after a
    warm-up call of the same size (SBX compiles its loop for each size).
    """
    model = make(env, device, options)
    model.learn(LEARNING_STARTS)
    per_call = options.steps_per_call
    calls = max(steps // per_call, 1)
    for _ in range(20 if per_call == 1 else 1):
        model.train(gradient_steps=per_call, batch_size=256)
    synchronize(device)
    start = time.perf_counter()
    for _ in range(calls):
        model.train(gradient_steps=per_call, batch_size=256)
    synchronize(device)
    return calls * per_call / (time.perf_counter() - start)


def measure_in_process(measure: Callable, make: Callable, options: argparse.Namespace) -> float:
    """``measure(make, ...)`` in a fresh process, so that its runtime's threads leave this process alone."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(measure, make, options.env, options.device, options, options.steps).result()


def synchronize(device: str) -> None:
    if th.device(device).type == "cuda":
        th.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="HalfCheetah-v5", help="Gymnasium id (default: HalfCheetah-v5)")
    parser.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's default)")
    parser.add_argument("--steps", type=int, default=1000, help="timed steps per repeat (default: 1000)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats (default: 3)")
    parser.add_argument("--update-only", action="store_true", help="time gradient steps only, no env interaction")
    parser.add_argument(
        "--steps-per-call",
        type=int,
        default=1,
        help="--update-only: gradient steps per train() call (default: 1, as learn() at gradient_steps=1)",
    )
    parser.add_argument("--bf16", action="store_true", help="SoftAC with bf16 matmuls (opt-in)")
    parser.add_argument(
        "--compile",
        choices=list(COMPILE_CHOICES),
        default="off",
        help="SoftAC with compile_update=True (CPU: the step as one compiled graph)",
    )
    parser.add_argument(
        "--update-order",
        choices=list(UPDATE_ORDERS),
        default="one-backward",
        help="SoftAC's update order: one backward for all losses (default), or SB3's (critics stepped first)",
    )
    parser.add_argument("--no-cuda-graphs", action="store_true", help="SoftAC without its CUDA-graph replay (CUDA only)")
    parser.add_argument("--no-sbx", action="store_true", help="leave SBX out even when installed")
    parser.add_argument("--presets", nargs="*", default=[], choices=list(PRESETS), help="also time these SoftAC presets")
    parser.add_argument("--warmup", type=int, default=200, help="training steps before timing, env-steps mode (default: 200)")
    args = parser.parse_args()
    if args.steps_per_call < 1 or (args.steps_per_call > 1 and not args.update_only):
        parser.error(f"--steps-per-call {args.steps_per_call}: use an integer >= 1, and values above 1 with --update-only")
    if args.threads is not None:
        th.set_num_threads(args.threads)

    variant = "".join(f" {name}" for name, on in [("bf16", args.bf16), ("no-graphs", args.no_cuda_graphs)] if on)
    implementations = softac_implementations(args.compile, args.update_order, variant, tuple(args.presets))
    implementations["SB3 SAC"] = make_sb3
    if importlib.util.find_spec("sbx") is not None and not args.no_sbx:  # not imported here: see the docstring
        implementations["SBX SAC"] = make_sbx
    measure = updates_per_second if args.update_only else env_steps_per_second
    unit = "updates/s" if args.update_only else "env-steps/s"
    device_name = th.cuda.get_device_name() if th.device(args.device).type == "cuda" else "cpu"
    per_call = f", {args.steps_per_call} steps per train() call" if args.update_only else ""
    print(
        f"{args.env}, device {args.device} ({device_name}), torch {th.__version__}, {th.get_num_threads()} torch threads, "
        f"{args.steps} steps x {args.repeats} repeats, {unit}{per_call}"
    )

    rates: dict[str, list[float]] = {name: [] for name in implementations}
    for repeat in range(args.repeats):
        for name, make in implementations.items():
            rates[name].append(
                measure_in_process(measure, make, args)
                if make is make_sbx
                else measure(make, args.env, args.device, args, args.steps)
            )
            print(f"  repeat {repeat + 1}: {name:26s} {rates[name][-1]:8.1f} {unit}", flush=True)
    medians = {name: statistics.median(values) for name, values in rates.items()}
    for name, values in rates.items():
        print(f"{name:26s} median {medians[name]:8.1f} {unit} (min {min(values):.1f}, max {max(values):.1f})")
    for softac in [name for name in medians if name.startswith("SoftAC")]:
        print(f"ratio {softac} / SB3 SAC: {medians[softac] / medians['SB3 SAC']:.2f}x")
    for learner in [name for name in medians if name.startswith("SoftAC") or name == "SB3 SAC"]:
        if "SBX SAC" in medians:
            print(f"ratio {learner} / SBX SAC: {medians[learner] / medians['SBX SAC']:.2f}x")
    default = next(iter(medians))
    for preset in [name for name in medians if name.startswith("SoftAC preset")]:
        print(f"ratio {preset} / {default}: {medians[preset] / medians[default]:.3f}x")


if __name__ == "__main__":
    main()
