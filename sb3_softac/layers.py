"""Normalisation layers for the SAC-family critics and actors: per-member LayerNorm and Batch Renormalization.

Both take SoftAC's ensemble layout, ``(n_members, batch, features)`` (one affine transform and, for
Batch Renormalization, one set of statistics per member), and the plain ``(batch, features)`` layout
of the actor. ``tests/test_sac_family.py`` checks each against a straightforward reference.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import torch as th
from torch import nn
from torch.nn import functional as F


def _member_shape(num_features: int, n_members: int | None) -> tuple[int, ...]:
    """Shape of per-feature parameters and statistics: (n_members, 1, features), or (1, features) without members."""
    return (1, num_features) if n_members is None else (n_members, 1, num_features)


class EnsembleLayerNorm(nn.Module):
    """
    Layer normalisation (Ba et al. 2016, arXiv 1607.06450) over the last dimension, with one learned
    scale and shift per ensemble member. It has no statistics, so train and eval mode are the same.

    :param n_members: Number of ensemble members (the leading dimension of the input).
    :param num_features: Size of the normalised (last) dimension.
    :param eps: Added to the variance.
    """

    def __init__(self, n_members: int, num_features: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.num_features, self.eps = num_features, eps
        self.weight = nn.Parameter(th.ones(_member_shape(num_features, n_members)))
        self.bias = nn.Parameter(th.zeros(_member_shape(num_features, n_members)))

    def forward(self, x: th.Tensor) -> th.Tensor:
        """
        :param x: Shape (n_members, batch, num_features).
        :return: ``(x - mean) / sqrt(var + eps) * weight + bias``, statistics over the last dimension of each row.
        """
        return th.addcmul(self.bias, F.layer_norm(x, (self.num_features,), eps=self.eps), self.weight)

    def extra_repr(self) -> str:
        return f"num_features={self.num_features}, eps={self.eps}"


class BatchRenorm(nn.Module):
    """
    Batch Renormalization (Ioffe 2017, arXiv 1702.03275, Algorithm 1), as CrossQ uses it (Bhatt et al. 2024).

    In training mode each feature is normalised with the minibatch statistics and then corrected
    toward the running ones: ``x_hat = (x - mu_B) / sigma_B * r + d`` with
    ``r = clip(sigma_B / sigma, 1/r_max, r_max)`` and ``d = clip((mu_B - mu) / sigma, -d_max, d_max)``,
    both treated as constants (no gradient). For the first ``warmup_steps`` training passes ``r = 1``
    and ``d = 0``: plain batch normalisation while the running statistics settle (CrossQ's warm-up; the
    paper of Ioffe relaxes ``r_max``, ``d_max`` gradually instead). Each training pass then moves the
    running mean and (biased) variance toward the batch's by ``momentum``. In eval mode the running
    statistics alone normalise, and nothing is updated.

    Statistics are over the batch dimension (-2), per feature and per ensemble member; the warm-up
    test is a tensor comparison, so the layer never synchronises with the host (CUDA-graph safe).

    :param num_features: Number of features (the last dimension).
    :param n_members: Number of ensemble members (leading dimension), or ``None`` for (batch, features) inputs.
    :param momentum: Weight of the new batch in the running statistics (PyTorch's convention: CrossQ's
        flax momentum 0.99 is 0.01 here).
    :param warmup_steps: Training passes with ``r = 1``, ``d = 0``.
    :param eps: Added to the variances.
    :param r_max: Bound on the scale correction ``r``.
    :param d_max: Bound on the shift correction ``d``.
    """

    running_mean: th.Tensor
    running_var: th.Tensor
    num_batches_tracked: th.Tensor

    def __init__(
        self,
        num_features: int,
        n_members: int | None = None,
        momentum: float = 0.01,
        warmup_steps: int = 100_000,
        eps: float = 1e-3,
        r_max: float = 3.0,
        d_max: float = 5.0,
    ) -> None:
        super().__init__()
        self.num_features, self.momentum, self.warmup_steps = num_features, momentum, warmup_steps
        self.eps, self.r_max, self.d_max = eps, r_max, d_max
        shape = _member_shape(num_features, n_members)
        self.weight = nn.Parameter(th.ones(shape))
        self.bias = nn.Parameter(th.zeros(shape))
        self.register_buffer("running_mean", th.zeros(shape))
        self.register_buffer("running_var", th.ones(shape))
        self.register_buffer("num_batches_tracked", th.tensor(0, dtype=th.long))

    def forward(self, x: th.Tensor) -> th.Tensor:
        """
        :param x: Shape (n_members, batch, features), or (batch, features) without members.
        :return: The renormalised ``x`` times ``weight`` plus ``bias``, in float32.
        """
        x = x.float()  # statistics in float32, also under bf16 autocast
        if not self.training:
            return th.addcmul(self.bias, (x - self.running_mean) * th.rsqrt(self.running_var + self.eps), self.weight)
        batch_mean = x.mean(dim=-2, keepdim=True)
        batch_var = x.var(dim=-2, keepdim=True, unbiased=False)
        batch_std = th.sqrt(batch_var + self.eps)
        with th.no_grad():
            running_std = th.sqrt(self.running_var + self.eps)
            warming_up = self.num_batches_tracked < self.warmup_steps
            r = th.where(warming_up, 1.0, (batch_std / running_std).clamp(1.0 / self.r_max, self.r_max))
            d = th.where(warming_up, 0.0, ((batch_mean - self.running_mean) / running_std).clamp(-self.d_max, self.d_max))
            self.running_mean.lerp_(batch_mean, self.momentum)
            self.running_var.lerp_(batch_var, self.momentum)
            self.num_batches_tracked.add_(1)
        x_hat = (x - batch_mean) / batch_std * r + d
        return th.addcmul(self.bias, x_hat, self.weight)

    def extra_repr(self) -> str:
        return f"num_features={self.num_features}, momentum={self.momentum}, warmup_steps={self.warmup_steps}"


@contextmanager
def running_statistics(module: nn.Module) -> Iterator[None]:
    """
    Within this context the :class:`BatchRenorm` layers of ``module`` that are in training mode
    normalise with their running statistics and leave them unchanged (eval mode); dropout and every
    other layer keep their mode. Without such layers it does nothing.

    :param module: Any module.
    """
    layers = [layer for layer in module.modules() if isinstance(layer, BatchRenorm) and layer.training]
    for layer in layers:
        layer.train(False)
    try:
        yield
    finally:
        for layer in layers:
            layer.train(True)
