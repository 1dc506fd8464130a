"""An experiment for the CPU speed issue: does a hand-made autograd Function for the critic ensemble pay?

    python benchmarks/fused_critic.py                  # HalfCheetah sizes, torch's default threads, 10 repeats
    python benchmarks/fused_critic.py --threads 1

SoftAC's critics are ``nn.Sequential(EnsembleLinear, ReLU, EnsembleLinear, ReLU, EnsembleLinear)``,
differentiated by autograd. :class:`EnsembleReluMLP` computes the same network in one
``torch.autograd.Function``: ``baddbmm`` and an in-place ReLU per hidden layer, the one-column head as a
batched matmul, and a backward written out by hand (ReLU's mask from the saved outputs, weight
gradients only for weights that require them). It first checks that both give the same values and
gradients (float32 round-off), then times, as medians of interleaved repeats, the two passes an update
differentiates: with weight gradients (the critic loss) and with frozen weights and an input gradient
(the actor loss through ``Q(s, a_pi)``), and a forward without gradient (the target critics).

The library does not use the Function: on the 2-core Zen 3 host it was no faster (see
``benchmarks/results/cpu/fused_critic_zen3_20261203.txt`` and the docs' speed section).
"""

import argparse
import statistics
from collections.abc import Callable

import torch as th
from matmul_shapes import time_call  # benchmarks/ is sys.path[0] when this runs as a script
from torch import nn

from sb3_softac.policies import EnsembleLinear


class EnsembleReluMLP(th.autograd.Function):
    """``x -> relu(x W_1 + b_1) -> ... -> h W_head + b_head`` for every ensemble member, forward and backward by hand."""

    @staticmethod
    def forward(ctx, x: th.Tensor, *parameters: th.Tensor) -> th.Tensor:  # type: ignore[override]
        hidden = x
        activations = [x]
        for weight, bias in zip(parameters[:-2:2], parameters[1:-2:2]):
            hidden = th.baddbmm(bias, hidden, weight).relu_()
            activations.append(hidden)
        ctx.save_for_backward(*activations, *parameters)
        ctx.n_layers = len(parameters) // 2
        return th.baddbmm(parameters[-1], hidden, parameters[-2])

    @staticmethod
    def backward(ctx, grad_q: th.Tensor) -> tuple[th.Tensor | None, ...]:  # type: ignore[override]
        saved = ctx.saved_tensors
        activations, parameters = saved[: ctx.n_layers], saved[ctx.n_layers :]
        needs = ctx.needs_input_grad[1:]
        grads: list[th.Tensor | None] = [None] * len(parameters)
        grad_out = grad_q
        for layer in reversed(range(ctx.n_layers)):
            weight, layer_input = parameters[2 * layer], activations[layer]
            if layer < ctx.n_layers - 1:  # through the ReLU: zero where its output was zero
                grad_out = th.ops.aten.threshold_backward(grad_out, activations[layer + 1], 0)
            if needs[2 * layer]:
                grads[2 * layer] = th.bmm(layer_input.transpose(1, 2), grad_out)
            if needs[2 * layer + 1]:
                grads[2 * layer + 1] = grad_out.sum(dim=1, keepdim=True)
            if layer > 0 or ctx.needs_input_grad[0]:
                grad_out = th.bmm(grad_out, weight.transpose(1, 2))
        return (grad_out if ctx.needs_input_grad[0] else None, *grads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inputs", type=int, default=23, help="observation + action size (default: 23, HalfCheetah)")
    parser.add_argument("--hidden", type=int, default=256, help="hidden width (default: 256)")
    parser.add_argument("--batch", type=int, default=256, help="batch size (default: 256)")
    parser.add_argument("--critics", type=int, default=2, help="critics in the ensemble (default: 2)")
    parser.add_argument("--repeats", type=int, default=10, help="interleaved repeats (default: 10)")
    parser.add_argument("--calls", type=int, default=100, help="calls per timing (default: 100)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's default)")
    args = parser.parse_args()
    if args.threads is not None:
        th.set_num_threads(args.threads)
    critics, batch, inputs, hidden = args.critics, args.batch, args.inputs, args.hidden
    th.manual_seed(0)
    plain = nn.Sequential(
        EnsembleLinear(critics, inputs, hidden),
        nn.ReLU(),
        EnsembleLinear(critics, hidden, hidden),
        nn.ReLU(),
        EnsembleLinear(critics, hidden, 1),
    )
    parameters = [p for layer in plain if isinstance(layer, EnsembleLinear) for p in (layer.weight, layer.bias)]
    x = th.randn(batch, inputs).expand(critics, batch, inputs)
    x_pi = th.randn(batch, inputs, requires_grad=True)
    networks = {"autograd": lambda inp: plain(inp), "Function": lambda inp: EnsembleReluMLP.apply(inp, *parameters)}

    def gradients(network: Callable) -> list[th.Tensor]:
        for p in [*parameters, x_pi]:
            p.grad = None
        network(x).square().sum().backward()
        for p in parameters:
            p.requires_grad_(False)
        network(x_pi.expand(critics, batch, inputs)).sum().backward()
        for p in parameters:
            p.requires_grad_(True)
        return [p.grad.clone() for p in [*parameters, x_pi]]  # type: ignore[union-attr]

    reference, fused = gradients(networks["autograd"]), gradients(networks["Function"])
    with th.no_grad():
        value_error = (networks["autograd"](x) - networks["Function"](x)).abs().max().item()
    gradient_error = max(((a - b).abs().max() / a.abs().max().clamp_min(1e-12)).item() for a, b in zip(reference, fused))
    shape = f"({critics}, {batch}, {inputs}) -> {hidden} -> {hidden} -> 1"
    print(f"torch {th.__version__}, {th.get_num_threads()} threads; {shape}")
    print(f"same network: max |value difference| {value_error:.1e}, max relative gradient difference {gradient_error:.1e}")

    time_passes(networks, parameters, x, x_pi, args.repeats, args.calls)


def time_passes(
    networks: dict[str, Callable], parameters: list[nn.Parameter], x: th.Tensor, x_pi: th.Tensor, repeats: int, calls: int
) -> None:
    """Print the medians of interleaved timings of each network's three passes, and the Function's speed-ups."""
    critics, batch, inputs = x.shape

    def weight_pass(network: Callable) -> None:
        for p in parameters:
            p.grad = None
        network(x).sum().backward()

    def frozen_pass(network: Callable) -> None:
        for p in parameters:
            p.requires_grad_(False)
        network(x_pi.expand(critics, batch, inputs)).sum().backward()
        for p in parameters:
            p.requires_grad_(True)

    def no_grad_pass(network: Callable) -> None:
        with th.no_grad():
            network(x)

    cases = {
        f"{part} ({name})": (lambda network=network, run=run: run(network))
        for part, run in (("weights' gradients", weight_pass), ("input gradient", frozen_pass), ("forward only", no_grad_pass))
        for name, network in networks.items()
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeats):
        for name, case in cases.items():
            times[name].append(time_call(case, calls))
    for name, values in times.items():
        print(f"  {name:32s} {statistics.median(values):8.1f} us (min {min(values):.1f}, max {max(values):.1f})")
    for part in ("weights' gradients", "input gradient", "forward only"):
        ratio = statistics.median(times[f"{part} (autograd)"]) / statistics.median(times[f"{part} (Function)"])
        print(f"speed-up of the Function, {part}: {ratio:.2f}x")


if __name__ == "__main__":
    main()
