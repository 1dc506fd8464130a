"""
Why bf16 does not speed up SoftAC's update on CPU: time each matmul shape of one update in float32,
in float32 with oneDNN's bf16 math mode (``torch.backends.mkldnn.matmul.fp32_precision = "bf16"``),
and in bfloat16 tensors (what autocast runs).

    python benchmarks/matmul_shapes.py                 # HalfCheetah sizes: 17 observations, 6 actions
    python benchmarks/matmul_shapes.py --obs 67 --act 21 --hidden 1024 --batch 1024

The shapes are those of the speed benchmark's update: batch 256, [256, 256] networks, 2 critics as one
batched ensemble (``baddbmm``), forward and the backward's weight and input gradients. Reports the
median over interleaved repeats (microseconds per call) and the speed-up against float32.

A second table times the critics' Q head, one output column, as a batched matmul (``baddbmm``) and as
the multiply-and-sum ``EnsembleLinear`` uses for it, forward and forward plus backward.

    python benchmarks/matmul_shapes.py --ceiling       # how close the whole update comes to the matmul ceiling

``--ceiling`` instead lists every matmul of one default SoftAC update (its forward passes and the
backward's weight and input gradients, :func:`update_matmuls`) with its FLOPs, and prints, as medians of
interleaved repeats in this process: the machine's fp32 matmul rate (a 2048^3 matmul), the ceiling in
updates/s it allows (that rate / the update's FLOPs), the update's matmuls alone timed back to back,
and SoftAC's measured updates/s (``train()`` on a filled buffer), each as a fraction of the ceiling.
"""

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import torch as th

from sb3_softac import SoftAC
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
    parser.add_argument("--ceiling", action="store_true", help="the update's matmuls and SoftAC's update against the ceiling")
    args = parser.parse_args()
    if args.ceiling:
        time_against_ceiling(args.obs, args.act, args.hidden, args.batch, args.critics, args.repeats)
        return
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


def update_matmuls(obs: int, act: int, hidden: int, batch: int, critics: int) -> list[tuple[str, tuple, tuple, int]]:
    """
    Every matmul of one default SoftAC update (joint order, two hidden layers, Gaussian actor), as
    (name, left shape, right shape, calls per update). The actor runs on s (with gradient) and on s'
    (without); the critics on (s, a) and (s, a_pi) with gradient (weights, and inputs only) and the
    target critics on (s', a'); the Q head counts as a matmul with one output column.
    """
    obs_act, heads = obs + act, 2  # the actor's mean and log-std heads
    return [
        ("actor fwd in", (batch, obs), (obs, hidden), 2),
        ("actor fwd hid", (batch, hidden), (hidden, hidden), 2),
        ("actor fwd heads", (batch, hidden), (hidden, act), 2 * heads),
        ("actor bwd heads dW", (hidden, batch), (batch, act), heads),
        ("actor bwd heads dX", (batch, act), (act, hidden), heads),
        ("actor bwd hid dW", (hidden, batch), (batch, hidden), 1),
        ("actor bwd hid dX", (batch, hidden), (hidden, hidden), 1),
        ("actor bwd in dW", (obs, batch), (batch, hidden), 1),
        ("critic fwd in", (critics, batch, obs_act), (critics, obs_act, hidden), 3),
        ("critic fwd hid", (critics, batch, hidden), (critics, hidden, hidden), 3),
        ("critic fwd head", (critics, batch, hidden), (critics, hidden, 1), 3),
        ("critic bwd head dW", (critics, hidden, batch), (critics, batch, 1), 1),
        ("critic bwd head dX", (critics, batch, 1), (critics, 1, hidden), 2),
        ("critic bwd hid dW", (critics, hidden, batch), (critics, batch, hidden), 1),
        ("critic bwd hid dX", (critics, batch, hidden), (critics, hidden, hidden), 2),
        ("critic bwd in dW", (critics, obs_act, batch), (critics, batch, hidden), 1),
        ("critic bwd in dX", (critics, batch, hidden), (critics, hidden, obs_act), 1),
    ]


def matmul_flop(left: tuple, right: tuple) -> int:
    """2 m n k per product, times the leading (ensemble) dimension if there is one."""
    return 2 * int(np.prod(left)) * right[-1]


class RandomBoxEnv(gym.Env):
    """Random observations of size ``obs`` and actions of size ``act``: enough to fill a replay buffer."""

    def __init__(self, obs: int, act: int) -> None:
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (obs,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (act,), np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        return self.observation_space.sample(), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        return self.observation_space.sample(), 0.0, False, False, {}


def model_on_random_transitions(
    model_class: type, obs: int, act: int, hidden: int = 256, batch: int = 256, critics: int = 2
) -> Any:
    """
    A ``model_class`` (SoftAC or SB3's SAC) with batch ``batch``, ``[hidden, hidden]`` networks and
    ``critics`` critics on a :class:`RandomBoxEnv`, its buffer filled with 1,000 random transitions (no
    gradient step yet): the update does not depend on the env, so this times it without physics.
    """
    model = model_class(
        "MlpPolicy",
        RandomBoxEnv(obs, act),
        batch_size=batch,
        learning_starts=1000,
        policy_kwargs=dict(net_arch=[hidden, hidden], n_critics=critics),
        seed=0,
    )
    model.learn(1000)
    return model


def time_against_ceiling(obs: int, act: int, hidden: int, batch: int, critics: int, repeats: int) -> None:
    """Print the update's matmuls, the fp32 matmul ceiling, and the matmuls alone and SoftAC's update against it."""
    matmuls = update_matmuls(obs, act, hidden, batch, critics)
    flop = sum(matmul_flop(left, right) * count for _, left, right, count in matmuls)
    operands = [(th.randn(left), th.randn(right), count) for _, left, right, count in matmuls]
    big = th.randn(2048, 2048), th.randn(2048, 2048)
    model = model_on_random_transitions(SoftAC, obs, act, hidden, batch, critics)

    def matmuls_alone() -> None:
        for left, right, count in operands:
            for _ in range(count):
                th.matmul(left, right)

    def updates() -> None:
        model.train(gradient_steps=20, batch_size=batch)

    peak, alone, update = [], [], []
    for _ in range(repeats):
        peak.append(2 * 2048**3 / time_call(lambda: th.matmul(*big), 10) * 1e-3)  # GFLOP/s
        alone.append(time_call(matmuls_alone, 50))  # microseconds per update
        update.append(time_call(updates, 5) / 20)
    peak_rate, alone_us, update_us = (statistics.median(values) for values in (peak, alone, update))
    ceiling = peak_rate * 1e9 / flop
    print(f"torch {th.__version__}, {th.get_num_threads()} threads; obs {obs}, act {act}, hidden {hidden}, batch {batch}")
    print(f"{'matmul of one update':24s} {'left':>16s} {'right':>16s} {'calls':>5s} {'MFLOP':>8s}")
    for name, left, right, count in matmuls:
        print(f"{name:24s} {left!s:>16s} {right!s:>16s} {count:5d} {matmul_flop(left, right) * count / 1e6:8.2f}")
    print(f"one update: {flop / 1e9:.3f} GFLOP in matmuls")
    print(f"fp32 matmul rate (2048^3), median of {repeats}: {peak_rate:.1f} GFLOP/s -> ceiling {ceiling:.1f} updates/s")
    for name, micros in (("the update's matmuls alone", alone_us), ("SoftAC update (train)", update_us)):
        print(
            f"{name:28s} {micros:8.1f} us/update = {1e6 / micros:7.1f} updates/s = "
            f"{1e6 / micros / ceiling:5.1%} of the ceiling"
        )


if __name__ == "__main__":
    main()
