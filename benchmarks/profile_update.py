"""Where the time of SoftAC's update goes on this machine: a torch.profiler table of ``train()``.

    python benchmarks/profile_update.py                      # HalfCheetah sizes, torch's default threads
    python benchmarks/profile_update.py --steps 100 --threads 1 --sb3   # and SB3's SAC, for comparison

Trains a default SoftAC (batch 256, [256, 256] networks, 2 critics) on random transitions of the
given sizes (the update does not depend on the env), then profiles ``--steps`` one-step ``train()``
calls: the table of aten ops by self CPU time, and a summary that splits the time
into matmuls (``mm``, ``addmm``, ``bmm``, ``baddbmm``), elementwise and reduction work on tensors, the
optimizers, and the rest (dispatch, autograd, Python), per update. Self times: the optimizers' part is
their ``Optimizer.*`` ranges and Adam kernels; the small aten ops they call count as other aten ops.
"""

import argparse
from collections import defaultdict
from typing import Any

import torch as th
from matmul_shapes import model_on_random_transitions  # benchmarks/ is sys.path[0] when this runs as a script
from torch.profiler import ProfilerActivity, profile

MATMULS = {"aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm"}


def kind(name: str) -> str:
    """The part of the update an aten op belongs to, for the summary."""
    if name in MATMULS:
        return "matmuls"
    if "adam" in name.lower() or name.startswith("Optimizer."):
        return "optimizers"
    if name.startswith("aten::"):
        return "other aten ops (elementwise, reductions, copies)"
    return "autograd nodes and other"


def make_model(algo: str, obs: int, act: int) -> Any:
    """A default SoftAC or SB3 SAC on random transitions, after 20 warm-up gradient steps."""
    from stable_baselines3 import SAC

    from sb3_softac import SoftAC

    model = model_on_random_transitions(SoftAC if algo == "SoftAC" else SAC, obs, act)
    for _ in range(20):
        model.train(gradient_steps=1, batch_size=256)
    return model


def profile_updates(model: Any, steps: int, rows: int) -> None:
    """Print the profiler table of ``steps`` one-step train() calls and the per-update summary."""
    # Without record_shapes: recording the shapes made SoftAC's elementwise ops about 10x slower here
    # (a 3x slower update under the profiler), which would misplace the time.
    with profile(activities=[ProfilerActivity.CPU]) as profiler:
        for _ in range(steps):
            model.train(gradient_steps=1, batch_size=256)
    events = profiler.key_averages()
    print(events.table(sort_by="self_cpu_time_total", row_limit=rows, max_name_column_width=40))
    totals: dict[str, float] = defaultdict(float)
    for event in events:
        totals[kind(event.key)] += event.self_cpu_time_total
    whole = sum(totals.values())
    print(f"per update ({steps} profiled, profiler overhead included): {whole / steps / 1000:.2f} ms")
    for part, micros in sorted(totals.items(), key=lambda item: -item[1]):
        print(f"  {part:50s} {micros / steps / 1000:6.2f} ms  {micros / whole:6.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--obs", type=int, default=17, help="observation size (default: 17, HalfCheetah)")
    parser.add_argument("--act", type=int, default=6, help="action size (default: 6, HalfCheetah)")
    parser.add_argument("--steps", type=int, default=100, help="profiled one-step train() calls (default: 100)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's default)")
    parser.add_argument("--rows", type=int, default=30, help="rows of the op table (default: 30)")
    parser.add_argument("--sb3", action="store_true", help="also profile SB3's SAC")
    args = parser.parse_args()
    if args.threads is not None:
        th.set_num_threads(args.threads)
    print(f"torch {th.__version__}, {th.get_num_threads()} threads; obs {args.obs}, act {args.act}, batch 256, [256, 256]")
    for algo in ("SoftAC", "SB3 SAC") if args.sb3 else ("SoftAC",):
        print(f"\n== {algo}")
        profile_updates(make_model(algo, args.obs, args.act), args.steps, args.rows)


if __name__ == "__main__":
    main()
