"""Replay SoftAC's gradient step as one CUDA graph: the same Python function, captured once.

On a GPU the SAC update is a few hundred small kernels, so its time is launch overhead, not
arithmetic. Capturing the step (forward, three backwards, three Adam steps) into a CUDA graph
launches all of them with one call. Nothing about the update changes: ``SoftAC._gradient_step`` is
the function captured, and ``tests/test_cuda_graphs.py`` checks on a GPU that a replay gives the
parameters an eager step gives from the same state and random-number stream.
"""

from collections.abc import Callable

import torch as th
from stable_baselines3.common.type_aliases import ReplayBufferSamples


def supports_capture(optimizer: th.optim.Optimizer) -> bool:
    """
    :param optimizer: Any torch optimizer.
    :return: Whether it has the ``capturable`` mode that CUDA-graph capture needs (Adam, AdamW, ...).
    """
    return all("capturable" in group for group in optimizer.param_groups)


def set_capturable(optimizer: th.optim.Optimizer, enabled: bool) -> None:
    """
    Switch an optimizer into (or out of) the mode a CUDA graph can replay.

    Capturable optimizers keep their step counters and learning rate as device tensors, so a replayed
    graph reads the current values instead of the Python numbers frozen at capture time (the
    learning rate is then changed in place, see ``SoftAC._update_learning_rate``). Switching back
    restores plain floats and host step counters (device ones for fused optimizers, which keep them
    there), which eager training requires. No-op when unchanged.

    :param optimizer: An optimizer for which :func:`supports_capture` is true.
    :param enabled: The wanted mode.
    """
    for group in optimizer.param_groups:
        if group["capturable"] == enabled:
            continue
        device = group["params"][0].device
        group["capturable"] = enabled
        group["lr"] = th.tensor(float(group["lr"]), device=device) if enabled else float(group["lr"])
        for param in group["params"]:
            state = optimizer.state.get(param, {})
            if "step" in state:
                on_device = enabled or group.get("fused")
                state["step"] = state["step"].to(device=device if on_device else "cpu", dtype=th.float32)


def _shapes(batch: ReplayBufferSamples) -> list[tuple[int, ...] | None]:
    return [None if value is None else tuple(value.shape) for value in batch]


def _copy_batch(source: ReplayBufferSamples) -> ReplayBufferSamples:
    return ReplayBufferSamples(*(None if value is None else value.clone() for value in source))  # type: ignore[arg-type]


class CapturedStep:
    """
    Call ``step(batch)`` through a CUDA graph. Every call is exactly one real step:

    - the first ``warmup`` calls run eagerly on a side stream (capture needs the lazily created
      cuBLAS handles, optimizer states and autograd streams to exist beforehand);
    - the next call captures the step on its batch and replays the graph once;
    - later calls copy their batch into the captured input tensors and replay;
    - a batch of other shapes (a new ``batch_size``) is captured anew.

    ``step`` must not synchronise with the host or branch on tensor values (``SoftAC._gradient_step``
    does neither), and its optimizers must be capturable (:func:`set_capturable`).

    :param step: Maps a replay batch to a tensor of statistics.
    :param warmup: Eager calls before capture.
    """

    def __init__(self, step: Callable[[ReplayBufferSamples], th.Tensor], warmup: int = 3) -> None:
        self.step = step
        self.warmup = warmup
        self._eager_calls = 0
        self._graph: th.cuda.CUDAGraph | None = None
        self._inputs: ReplayBufferSamples | None = None
        self._output: th.Tensor | None = None

    def __call__(self, batch: ReplayBufferSamples) -> th.Tensor:
        if self._inputs is None or _shapes(batch) != _shapes(self._inputs):
            # Warm-ups and capture all see these same input tensors (same strides: no recompiling under capture).
            self._inputs, self._graph, self._eager_calls = _copy_batch(batch), None, 0
        else:
            for static, value in zip(self._inputs, batch):
                if static is not None:
                    static.copy_(value, non_blocking=True)  # type: ignore[arg-type]
        if self._graph is None and self._eager_calls < self.warmup:
            self._eager_calls += 1
            return self._on_side_stream(self._inputs)
        if self._graph is None:
            self._graph = th.cuda.CUDAGraph()
            with th.cuda.graph(self._graph):
                self._output = self.step(self._inputs)
        self._graph.replay()
        return self._output.clone()  # type: ignore[union-attr]  # the next replay overwrites the output

    def _on_side_stream(self, batch: ReplayBufferSamples) -> th.Tensor:
        side = th.cuda.Stream()
        side.wait_stream(th.cuda.current_stream())
        with th.cuda.stream(side):
            output = self.step(batch)
        th.cuda.current_stream().wait_stream(side)
        return output
