"""The gradient step as one pure function, for ``compile_update=True`` on CPU.

``torch.compile`` cannot take SoftAC's eager step in one graph: Dynamo breaks it at ``backward()``, at
the optimizers' ``zero_grad`` and ``step`` (``torch.optim`` breaks the graph on purpose) and at the
``requires_grad`` switches, so the compiled eager step was slower than the eager one on CPU. Here
are the pieces of the same step computed functionally (``SoftAC._functional_gradient_step``): the
gradients of ``SoftAC._losses`` (the one place the update's equations are written) by
``torch.func.grad`` over the parameters the optimizers hold, and the Adam steps on the optimizers'
own state tensors, so that one graph holds the whole step and Inductor fuses its elementwise work.

Nothing about the update changes: ``tests/test_functional_step.py`` checks that a step through here
gives the eager step's parameters, optimizer moments and statistics from the same state and random
numbers. Where it cannot run (:func:`unsupported_reason`), ``compile_update`` runs the eager step.
"""

import types
from collections.abc import Callable, Iterable
from typing import Any

import torch as th
from gymnasium import spaces
from stable_baselines3.common.preprocessing import is_image_space
from torch import nn

from sb3_softac.layers import BatchRenorm


class Reparametrized(nn.Module):
    """
    Calls any function of a module with that module's parameters replaced, the way
    ``torch.func.functional_call`` replaces them for ``forward``: ``functional_call(Reparametrized(m),
    {"module." + name: tensor}, (function, *args))`` runs ``function(*args)`` with those tensors in ``m``.

    :param module: The module whose parameters the calls replace.
    """

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, function: Callable[..., Any], *args: Any) -> Any:
        return function(*args)


def own_code(function: Callable[..., Any]) -> Callable[..., Any]:
    """
    ``function`` with a code object of its own (same globals, defaults and closure).

    ``torch.compile`` keeps its compiled graphs, and its limit of 8 recompilations, per code object: the
    gradient step of each SoftAC model, a closure over the model, would otherwise share one code object
    with every other model's, recompile for each (its guards see another model), and the ninth model in
    a process would hit the limit. With a code object per model, each model's graphs live and die with it.

    :param function: A plain function (not a bound method).
    """
    code = function.__code__.replace()  # a new code object, equal to the old one
    return types.FunctionType(code, function.__globals__, function.__name__, function.__defaults__, function.__closure__)


def is_plain_adam(optimizer: th.optim.Optimizer) -> bool:
    """
    :param optimizer: Any torch optimizer.
    :return: Whether it is ``torch.optim.Adam`` in the form :func:`adam_` computes (no weight decay,
        AMSGrad, maximisation or differentiable mode; fused, foreach or neither alike).
    """
    return type(optimizer) is th.optim.Adam and all(
        not (group["amsgrad"] or group["maximize"] or group["differentiable"] or group["weight_decay"])
        for group in optimizer.param_groups
    )


def has_images(observation_space: spaces.Space) -> bool:
    """:return: Whether ``observation_space`` is, or holds in a Dict, a space SB3 treats as images."""
    if isinstance(observation_space, spaces.Dict):
        return any(map(has_images, observation_space.spaces.values()))
    return is_image_space(observation_space, check_channels=False)


def unsupported_reason(
    device: th.device,
    update_order: str,
    use_sde: bool,
    policy: nn.Module,
    optimizers: Iterable[th.optim.Optimizer],
    observation_space: spaces.Space,
) -> str | None:
    """
    Why the functional step cannot run a model's update, or ``None`` if it can.

    :param device: The model's device (CUDA keeps its CUDA-graph path).
    :param update_order: ``SoftAC.update_order`` (only ``"joint"`` takes all gradients at one point).
    :param use_sde: gSDE re-samples its noise matrix from the actor's parameters, a side effect.
    :param policy: The policy (Batch Renormalization updates its running statistics in place, a side effect).
    :param optimizers: All of the model's optimizers.
    :param observation_space: Images stop ``torch.compile`` from taking the step in one graph: SB3's
        preprocessing checks an image space's bounds with NumPy on every call, which Dynamo sees as a
        branch on data.
    """
    if device.type != "cpu":
        return f"device {device.type!r} (CUDA graphs replay the eager step there)"
    if update_order != "joint":
        return f"update_order={update_order!r} (the critics step between the two losses)"
    if use_sde:
        return "use_sde=True (the noise matrix is re-sampled from the actor's parameters)"
    if any(isinstance(layer, BatchRenorm) for layer in policy.modules()):
        return "Batch Renormalization layers (their running statistics change in place)"
    if has_images(observation_space):
        return "image observations (SB3's preprocessing branches on the space's bounds in every step)"
    others = [type(optimizer).__name__ for optimizer in optimizers if not is_plain_adam(optimizer)]
    if others:
        return f"optimizer {others[0]} (the functional step implements torch.optim.Adam without its extra options)"
    return None


def ensure_adam_state(optimizer: th.optim.Adam) -> None:
    """Create the Adam state ``torch.optim.Adam`` creates on its first step, where missing (before the
    compiled step, so it never branches on it): zero moments and a float32 step counter on the device."""
    for group in optimizer.param_groups:
        for parameter in group["params"]:
            state = optimizer.state[parameter]
            if not state:
                state["step"] = th.zeros((), dtype=th.float32, device=parameter.device)
                state["exp_avg"] = th.zeros_like(parameter, memory_format=th.preserve_format)
                state["exp_avg_sq"] = th.zeros_like(parameter, memory_format=th.preserve_format)


def adam_(parameter: th.Tensor, gradient: th.Tensor, state: dict[str, th.Tensor], group: dict, lr: th.Tensor) -> None:
    """
    One Adam step on ``parameter`` in place (Kingma and Ba 2015, Algorithm 1, with the bias corrections
    folded into the step size as ``torch.optim.Adam`` does), on the optimizer's own ``state``.

    :param parameter: The parameter.
    :param gradient: Its gradient.
    :param state: Its state in the optimizer (``step``, ``exp_avg``, ``exp_avg_sq``), updated in place.
    :param group: Its parameter group (``betas``, ``eps``).
    :param lr: The learning rate, a tensor so that a schedule does not recompile the step.
    """
    beta1, beta2 = group["betas"]
    step, exp_avg, exp_avg_sq = state["step"], state["exp_avg"], state["exp_avg_sq"]
    step.add_(1)
    exp_avg.lerp_(gradient, 1 - beta1)  # m_t = beta1 m_{t-1} + (1 - beta1) g_t
    exp_avg_sq.mul_(beta2).addcmul_(gradient, gradient, value=1 - beta2)  # v_t = beta2 v_{t-1} + (1 - beta2) g_t^2
    denominator = exp_avg_sq.sqrt() / (1 - beta2**step).sqrt() + group["eps"]  # sqrt(v_t / (1 - beta2^t)) + eps
    parameter.sub_(lr / (1 - beta1**step) * exp_avg / denominator)  # theta_t = theta_{t-1} - lr m_t / (1 - beta1^t) / ...
