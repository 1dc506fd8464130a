"""
Why bf16 does not speed up SoftAC's update on CPU: time each matmul shape of one update in float32,
in float32 with oneDNN's bf16 math mode (``torch.backends.mkldnn.matmul.fp32_precision = "bf16"``),
and in bfloat16 tensors (what autocast runs).

    python benchmarks/matmul_shapes.py                 # HalfCheetah sizes: 17 observations, 6 actions
    python benchmarks/matmul_shapes.py --obs 67 --act 21 --hidden 1024 --batch 1024

The shapes are those of the speed benchmark's update: batch 256, [256, 256] networks, 2 critics as one
batched ensemble (``baddbmm``), forward and the backward's weight and input gradients. Reports the
median over interleaved repeats (microseconds per call) and the speed-up against float32.

A last table times the critics' Q head, one output column, as a batched matmul (``baddbmm``) and as
the multiply-and-sum ``EnsembleLinear`` uses for it, forward and forward plus backward.
"""

import argparse
import statistics
import time
from collections.abc import Callable

import torch as th

from sb3_softac.policies import EnsembleLinear


def time_call(function: Callable[[], th.Tensor], calls: int) -> float:
    """Microseconds per call of ``function``, after a warm-up."""
    for _ in range(calls // 10 + 1):
        function()
    start = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - start) / calls * 1e6


def shapes(obs: int, act: int, hidden: int, batch: int, critics: int) -> dict[str, tuple[tuple[int, ...], tuple[int, ...]]]:
    """Name -> (left, right) operand shapes of the update's matmuls."""
    return {
        "actor in   (B, obs) x (obs, H)": ((batch, obs), (obs, hidden)),
        "actor hid  (B, H) x (H, H)": ((batch, hidden), (hidden, hidden)),
        "actor dW   (H, B) x (B, H)": ((hidden, batch), (batch, hidden)),
        "critic in  (C, B, obs+act) x (C, obs+act, H)": ((critics, batch, obs + act), (critics, obs + act, hidden)),
        "critic hid (C, B, H) x (C, H, H)": ((critics, batch, hidden), (critics, hidden, hidden)),
        "critic out (C, B, H) x (C, H, 1)": ((critics, batch, hidden), (critics, hidden, 1)),
        "critic dW  (C, H, B) x (C, B, H)": ((critics, hidden, batch), (critics, batch, hidden)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--obs", type=int, default=17, help="observation size (default: 17)")
    parser.add_argument("--act", type=int, default=6, help="action size (default: 6)")
    parser.add_argument("--hidden", type=int, default=256, help="hidden width (default: 256)")
    parser.add_argument("--batch", type=int, default=256, help="batch size (default: 256)")
    parser.add_argument("--critics", type=int, default=2, help="critics in the ensemble (default: 2)")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved repeats (default: 5)")
    parser.add_argument("--calls", type=int, default=200, help="calls per timing (default: 200)")
    args = parser.parse_args()
    onednn = th.backends.mkldnn.matmul
    print(f"torch {th.__version__}, {th.get_num_threads()} threads")
    print(f"{'matmul':46s} {'fp32':>9s} {'bf16 mode':>10s} {'bf16':>9s}   speed-up (mode, bf16)")
    for name, (left, right) in shapes(args.obs, args.act, args.hidden, args.batch, args.critics).items():
        a, b = th.randn(left), th.randn(right)
        a16, b16 = a.bfloat16(), b.bfloat16()
        times: dict[str, list[float]] = {"fp32": [], "mode": [], "bf16": []}
        for _ in range(args.repeats):
            for variant in times:
                onednn.fp32_precision = "bf16" if variant == "mode" else "none"
                operands = (a16, b16) if variant == "bf16" else (a, b)
                times[variant].append(time_call(lambda operands=operands: th.matmul(*operands), args.calls))
        onednn.fp32_precision = "none"
        fp32, mode, bf16 = (statistics.median(times[v]) for v in ("fp32", "mode", "bf16"))
        print(f"{name:46s} {fp32:8.1f}us {mode:9.1f}us {bf16:8.1f}us   {fp32 / mode:4.2f}x {fp32 / bf16:5.2f}x")
    time_q_head(args.critics, args.batch, args.hidden, args.repeats, args.calls)


def time_q_head(critics: int, batch: int, hidden: int, repeats: int, calls: int) -> None:
    """Print the Q head's time as ``baddbmm`` and as multiply-and-sum, forward and forward + backward."""
    x = th.randn(critics, batch, hidden, requires_grad=True)
    q_head = EnsembleLinear(critics, hidden, 1)  # its forward is the multiply-and-sum
    grad = th.randn(critics, batch, 1)
    heads = {
        "baddbmm": lambda: th.baddbmm(q_head.bias, x, q_head.weight),
        "multiply-and-sum": lambda: q_head(x),
    }
    calls_to_time = {
        f"{name}, {part}": (lambda head=head: head()) if part == "forward" else (lambda head=head: head().backward(grad))
        for name, head in heads.items()
        for part in ("forward", "forward + backward")
    }
    times: dict[str, list[float]] = {name: [] for name in calls_to_time}
    for _ in range(repeats):
        for name, call in calls_to_time.items():
            times[name].append(time_call(call, calls))
    print("\nQ head (C, B, H) x (C, H, 1), fp32")
    for name, values in times.items():
        print(f"  {name:36s} {statistics.median(values):8.1f}us")


if __name__ == "__main__":
    main()
