"""Transforms of inputs: normalisation as a layer of the model (so radii stay in input units)
and the training augmentation."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..bounds.context import LayerBound
from ..bounds.registry import register_bound

__all__ = [
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "MNIST_MEAN",
    "MNIST_STD",
    "Normalize",
    "crop_flip",
    "normalization_layers",
]

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
    mean, std : sequence of float
        One value per channel (dimension 1 of the input); every std must be positive.

    Notes
    -----
    Inputs have shape ``(N, C, ...)`` (e.g. ``(N, C, H, W)``) with ``C = len(mean)``; the output
    has the same shape.

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

    def to_plain(self) -> nn.Module:
        """Already plain (fixed statistics in buffers): itself."""
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.mean.numel()
        if x.dim() < 2 or x.shape[1] != c:
            msg = f"Normalize expects (N, {c}, ...) inputs, got shape {tuple(x.shape)}"
            raise ValueError(msg)
        shape = (1, c) + (1,) * (x.dim() - 2)
        return (x - self.mean.view(shape)) / self.std.view(shape)

    def lipschitz_bound(self, in_shape: tuple[int, ...] | None = None) -> float:
        """The exact l2 Lipschitz constant, :math:`1/\\min\\sigma`.

        Parameters
        ----------
        in_shape : tuple of int, optional
            Ignored: the constant holds at every input shape
            (:class:`~lipviz.bounds.SelfBounded`).

        Returns
        -------
        float
            :math:`1/\\min_c \\sigma_c`.
        """
        return float(1.0 / self.std.min())

    def extra_repr(self) -> str:
        return f"mean={self.mean.tolist()}, std={self.std.tolist()}"


@register_bound(Normalize)
def _normalize_bound(module: Normalize, ctx) -> LayerBound:
    r""":math:`1/\min_c |\sigma_c|`, in float64 (exact up to rounding)."""
    return LayerBound(1.0 / float(module.std.double().abs().min()), "1/min(std)", True)


@register_bound(Normalize, kind="propagation")
def _normalize_map(module: Normalize, ctx):
    """A diagonal affine map :math:`a / \\sigma - \\mu / \\sigma` (bound propagation)."""
    from ..bounds.propagation import AffineMap

    shape = tuple(ctx.in_shape)
    view = (-1,) + (1,) * (len(shape) - 1)
    mean, std = module.mean.double(), module.std.double()
    scale = (1 / std).view(view)  # rounded: propagation widens every product by its slack
    return AffineMap(
        shape, lambda a: a * scale, lambda a: a * scale.abs(), -(mean / std).view(view)
    )


@register_bound(Normalize, kind="local")
def _normalize_local(module: Normalize, ctx) -> LayerBound:
    r"""A diagonal affine map: boxes map exactly; the ball radius scales by
    :math:`1/\min_c |\sigma_c|`."""
    from ..bounds.local import close_pending, state_of
    from ..bounds.rounding import gamma, round_up, widen

    st = state_of(ctx)
    close_pending(st, None)
    shape = (1, -1) + (1,) * (st.mu.dim() - 2)
    mean, std = module.mean.to(st.dtype).view(shape), module.std.to(st.dtype).view(shape)
    big = torch.maximum(st.mu.abs(), torch.maximum(st.lo.abs(), st.hi.abs()))
    a, b = (st.lo - mean) / std, (st.hi - mean) / std
    st.mu, st.lo, st.hi = (st.mu - mean) / std, torch.minimum(a, b), torch.maximum(a, b)
    factor = 1.0 / float(module.std.double().abs().min())
    st.radius = st.radius * factor
    if st.sound and not st.grad:  # two roundings per entry (a subtraction, a division)
        err = gamma(4) * (big + mean.abs()) / std.abs()
        st.lo, st.hi = widen(st.lo, st.hi, err)
        st.mu = torch.minimum(torch.maximum(st.mu, st.lo), st.hi)
        centre_err = err.expand_as(st.mu).flatten(1).norm(dim=1)
        st.radius = round_up(st.radius * (1 + gamma(4)) + centre_err)
    values = torch.full((len(st.mu),), factor, dtype=st.dtype, device=st.mu.device)
    return LayerBound(values, "1/min(std)", True)


def crop_flip(x: torch.Tensor, pad: int = 4) -> torch.Tensor:
    """Random crops of the zero-padded images and random horizontal flips (training
    augmentation; draws from torch's global RNG, which :class:`~lipviz.train.Trainer` seeds).

    Parameters
    ----------
    x : Tensor
        Images, shape ``(N, C, H, W)``.
    pad : int
        Zero padding on each side before the ``H x W`` crop.

    Returns
    -------
    Tensor
        Shape ``(N, C, H, W)``.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> crop_flip(torch.ones(2, 1, 4, 4), pad=1).shape
    torch.Size([2, 1, 4, 4])
    """
    if x.dim() != 4:
        msg = f"crop_flip expects images (N, C, H, W), got {tuple(x.shape)}"
        raise ValueError(msg)
    n, _, h, w = x.shape
    padded = nn.functional.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (n,))
    dx = torch.randint(0, 2 * pad + 1, (n,))
    rows = (dy[:, None] + torch.arange(h)[None]).to(x.device)  # (n, h)
    cols = (dx[:, None] + torch.arange(w)[None]).to(x.device)  # (n, w)
    idx = torch.arange(n, device=x.device)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[idx, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)
    flip = torch.rand(n, device=x.device) < 0.5
    return torch.where(flip[:, None, None, None], out.flip(3), out)


def normalization_layers(normalize, channels: int) -> list[nn.Module]:
    """The input normalisation a model builder puts first, from its ``normalize`` argument.

    One meaning everywhere: ``True`` uses the standard statistics for the channel count (MNIST
    for 1 channel, CIFAR-10 for 3), ``None`` or ``False`` adds no layer, and a pair
    ``(mean, std)`` uses those values.

    Parameters
    ----------
    normalize : bool, None or (mean, std)
        As above.
    channels : int
        Input channels of the model.

    Returns
    -------
    list of nn.Module
        ``[Normalize(mean, std)]`` or ``[]``.

    Examples
    --------
    >>> [type(m).__name__ for m in normalization_layers(True, 1)]
    ['Normalize']
    >>> normalization_layers(None, 3)
    []
    """
    if normalize is None or normalize is False:
        return []
    if normalize is True:
        stats = {1: (MNIST_MEAN, MNIST_STD), 3: (CIFAR10_MEAN, CIFAR10_STD)}
        if channels not in stats:
            msg = (
                f"normalize=True knows the statistics of 1-channel (MNIST) and 3-channel "
                f"(CIFAR-10) inputs, not {channels} channels: pass (mean, std)"
            )
            raise ValueError(msg)
        normalize = stats[channels]
    mean, std = normalize
    return [Normalize(mean, std)]
