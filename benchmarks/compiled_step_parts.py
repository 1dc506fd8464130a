"""Where the time of a ``compile_update=True`` gradient step goes, and what Inductor's modes change.

    python benchmarks/compiled_step_parts.py                        # torch.compile's default mode
    python benchmarks/compiled_step_parts.py --mode max-autotune    # Inductor's C++ GEMM templates too

On a SoftAC model at HalfCheetah sizes (batch 256, [256, 256], 2 critics) with a filled buffer, prints
the time of the first ``train()`` call (compiling), then per gradient step in milliseconds (median of
interleaved repeats): the compiled step on one fixed batch, replay sampling, the Polyak update, and
``train()`` with one and with 300 gradient steps per call (all of it: sampling, step, targets, logging).

    python benchmarks/compiled_step_parts.py --cprofile 200         # then cProfile over 200 train() calls

``--cprofile N`` adds the Python functions (and the compiled kernels, which cProfile sees as built-ins)
with the most own time over N one-step ``train()`` calls: the step's time outside its kernels, such
as Dynamo's wrapper, which checks the compiled graph's guards on every call.
"""

import argparse
import cProfile
import functools
import pstats
import statistics
import time
from collections.abc import Callable

import torch as th
from matmul_shapes import model_on_random_transitions, time_call  # benchmarks/ is sys.path[0] when this runs as a script

from sb3_softac import SoftAC


def milliseconds(function: Callable[[], object], calls: int) -> float:
    """Milliseconds per call of ``function``, after a warm-up."""
    return time_call(function, calls) / 1e3  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", default=None, help="torch.compile mode (default: torch's default)")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved repeats (default: 5)")
    parser.add_argument("--cprofile", type=int, default=0, help="then profile this many train() calls (default: 0)")
    args = parser.parse_args()
    if args.mode is not None:
        th.compile = functools.partial(th.compile, mode=args.mode)  # type: ignore[assignment]  # what SoftAC calls
    model = model_on_random_transitions(SoftAC, obs=17, act=6)
    model.compile_update = True
    start = time.perf_counter()
    model.train(gradient_steps=1, batch_size=256)
    print(f"torch {th.__version__}, {th.get_num_threads()} threads, mode {args.mode or 'default'}")
    print(f"first train() call (compiles): {time.perf_counter() - start:.1f} s")
    step = model._compiled_steps()[True]
    batch = model.replay_buffer.sample(256)  # type: ignore[union-attr]
    parts: dict[str, Callable[[], float]] = {
        "compiled step, one fixed batch": lambda: milliseconds(lambda: step(batch), 200),
        "replay sampling (batch 256)": lambda: milliseconds(lambda: model.replay_buffer.sample(256), 200),  # type: ignore[union-attr]
        "Polyak update": lambda: milliseconds(model._update_target_networks, 200),
        "train(), 1 step per call": lambda: milliseconds(lambda: model.train(gradient_steps=1, batch_size=256), 200),
        "train(), 300 steps per call": lambda: milliseconds(lambda: model.train(gradient_steps=300, batch_size=256), 2) / 300,
    }
    times: dict[str, list[float]] = {name: [] for name in parts}
    for _ in range(args.repeats):
        for name, measure in parts.items():
            times[name].append(measure())
    for name, values in times.items():
        print(f"{name:32s} {statistics.median(values):6.3f} ms per step (min {min(values):.3f}, max {max(values):.3f})")

    if args.cprofile:
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(args.cprofile):
            model.train(gradient_steps=1, batch_size=256)
        profiler.disable()
        print(f"\ncProfile, {args.cprofile} one-step train() calls, by own time:")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
