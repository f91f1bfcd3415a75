"""Input normalisation as a layer of the model, so radii stay in input units."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..bounds.registry import LayerBound, register_bound

__all__ = ["CIFAR10_MEAN", "CIFAR10_STD", "MNIST_MEAN", "MNIST_STD", "Normalize"]

MNIST_MEAN, MNIST_STD = (0.1307,), (0.3081,)
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


class Normalize(nn.Module):
    r"""Per-channel standardisation :math:`x \mapsto (x - \mu) / \sigma`, as a model layer.

    It is a diagonal affine map, so its Lipschitz constant (l2) is exactly

    .. math:: \mathrm{Lip}(\mathrm{Normalize}) = 1 / \min_c \sigma_c .

    Putting it *inside* the model keeps inputs in [0, 1] and certified radii in input units.
    Using :math:`1/\max_c\sigma_c` instead over-certifies whenever the stds differ.

    Parameters
    ----------
    mean, std
        One value per channel (dimension 1 of the input).

    Examples
    --------
    >>> norm = Normalize([0.5, 0.5], [0.25, 0.5])
    >>> norm.lipschitz_bound()
    4.0
    >>> norm(torch.ones(1, 2, 1, 1)).flatten().tolist()
    [2.0, 1.0]
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        super().__init__()
        mean_t = torch.as_tensor(mean, dtype=torch.float32).flatten()
        std_t = torch.as_tensor(std, dtype=torch.float32).flatten()
        if mean_t.numel() != std_t.numel():
            msg = f"mean has {mean_t.numel()} values but std has {std_t.numel()}"
            raise ValueError(msg)
        if not torch.all(std_t > 0):
            msg = f"every std must be positive, got {std_t.tolist()}"
            raise ValueError(msg)
        self.register_buffer("mean", mean_t)
        self.register_buffer("std", std_t)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.mean.numel()
        if x.dim() < 2 or x.shape[1] != c:
            msg = f"Normalize expects (N, {c}, ...) inputs, got shape {tuple(x.shape)}"
            raise ValueError(msg)
        shape = (1, c) + (1,) * (x.dim() - 2)
        return (x - self.mean.view(shape)) / self.std.view(shape)

    def lipschitz_bound(self) -> float:
        """The exact l2 Lipschitz constant, :math:`1/\\min\\sigma`."""
        return float(1.0 / self.std.min())

    def extra_repr(self) -> str:
        return f"mean={self.mean.tolist()}, std={self.std.tolist()}"


@register_bound(Normalize)
def _normalize_bound(module: Normalize, ctx) -> LayerBound:
    r""":math:`1/\min_c |\sigma_c|`, in float64 (exact up to rounding)."""
    return LayerBound(1.0 / float(module.std.double().abs().min()), "1/min(std)", True)
