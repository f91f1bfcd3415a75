"""Bound rules for convolutions, batch norm (eval), conv+BN fused, and pooling.

Convolution norms depend on the input size, stride, padding, dilation and groups, so every rule
works on the actual ``in_shape``. Sound values come from the FFT bound of the circular convolution
on the padded grid (Sedghi et al., 2019) and the reshaped-kernel overlap bound; the smaller of the
two is used (both are guaranteed upper bounds).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..functional import conv_norm_fft, operator_power_iteration, reshaped_kernel_bounds
from .rules import LayerBound, register_bound

__all__ = ["bn_scale", "conv_bn_bound", "conv_operator_bound"]


def _check_conv(conv: nn.Conv2d, in_shape):
    if len(in_shape) != 3 or in_shape[0] != conv.in_channels:
        msg = f"{conv!r} expects inputs (C={conv.in_channels}, H, W), got {in_shape}"
        raise ValueError(msg)
    if conv.padding_mode != "zeros":
        msg = (
            f"{conv!r}: padding_mode={conv.padding_mode!r} is not supported by the bounds "
            "(only zero padding keeps the input embedding an isometry)"
        )
        raise NotImplementedError(msg)


def conv_operator_bound(
    conv: nn.Conv2d, in_shape, mode: str, n_iter: int, weight: torch.Tensor | None = None
) -> LayerBound:
    """Bound the linear part of ``conv`` (bias ignored), optionally with a replacement weight."""
    _check_conv(conv, in_shape)
    w = conv.weight if weight is None else weight
    if mode == "estimate":

        def op(x):
            return nn.functional.conv2d(
                x, w.detach().double(), None, conv.stride, conv.padding, conv.dilation, conv.groups
            )

        sigma, _ = operator_power_iteration(op, in_shape, n_iter=n_iter)
        return LayerBound(sigma, f"power iteration ({n_iter} steps)", False)
    fft = conv_norm_fft(w, in_shape[1:], conv.padding, conv.dilation, conv.groups, conv.stride)
    overlap = reshaped_kernel_bounds(w, conv.stride, conv.dilation, conv.groups)["sqrt(overlap)"]
    if fft <= overlap:
        return LayerBound(fft, "FFT (circular conv, padded grid, polyphase stride)", True)
    return LayerBound(overlap, "reshaped kernel x sqrt(overlap)", True)


@register_bound(nn.Conv2d)
def _conv2d(conv: nn.Conv2d, in_shape, mode, n_iter) -> LayerBound:
    return conv_operator_bound(conv, in_shape, mode, n_iter)


def bn_scale(bn: nn.modules.batchnorm._BatchNorm) -> torch.Tensor:
    r"""Per-channel slope of an eval-mode BatchNorm, :math:`\gamma/\sqrt{\hat\sigma^2+\epsilon}`."""
    if bn.running_var is None:
        msg = f"{bn!r} has no running statistics (track_running_stats=False): no eval-mode bound"
        raise ValueError(msg)
    gamma = bn.weight if bn.affine else torch.ones_like(bn.running_var)
    return gamma.detach().double() / torch.sqrt(bn.running_var.double() + bn.eps)


@register_bound(nn.BatchNorm1d, nn.BatchNorm2d)
def _batchnorm(bn, in_shape, mode, n_iter) -> LayerBound:
    return LayerBound(float(bn_scale(bn).abs().max()), "max |gamma|/sqrt(var+eps) (eval)", True)


def conv_bn_bound(conv: nn.Conv2d, bn: nn.BatchNorm2d, in_shape, mode, n_iter) -> LayerBound:
    """Bound of BN(conv(x)) as one linear map: the kernel scaled per output channel.

    Tighter than the product of the two bounds.
    """
    scale = bn_scale(bn).to(conv.weight.device)
    fused = conv.weight.detach().double() * scale.view(-1, 1, 1, 1)
    lb = conv_operator_bound(conv, in_shape, mode, n_iter, weight=fused)
    return LayerBound(lb.value, lb.method + ", conv+BN fused", lb.sound)


def _pool_geometry(module, in_shape):
    if len(in_shape) != 3:
        msg = f"{module!r} expects inputs (C, H, W), got {in_shape}"
        raise ValueError(msg)
    k = nn.modules.utils._pair(module.kernel_size)
    s = nn.modules.utils._pair(module.stride if module.stride is not None else module.kernel_size)
    p = nn.modules.utils._pair(module.padding)
    d = nn.modules.utils._pair(getattr(module, "dilation", 1))
    overlap = 1
    for kk, ss, pp, dd, n in zip(k, s, p, d, in_shape[1:], strict=True):
        span = dd * (kk - 1) + 1
        n_out = (n + 2 * pp - span) // ss + 1 + (ss - 1 if module.ceil_mode else 0)
        overlap *= max(1, min(kk, -(-kk * math.gcd(ss, dd) // ss), n_out))
    return k, p, overlap


@register_bound(nn.MaxPool2d)
def _maxpool(module, in_shape, mode, n_iter) -> LayerBound:
    r"""Each output is a max over a window (1-Lipschitz from l-inf of the window to R), and each
    input lies in at most ``overlap`` windows: :math:`\sqrt{\text{overlap}}`."""
    _, _, overlap = _pool_geometry(module, in_shape)
    return LayerBound(math.sqrt(overlap), f"sqrt(overlap={overlap})", True)


@register_bound(nn.AvgPool2d)
def _avgpool(module, in_shape, mode, n_iter) -> LayerBound:
    r""":math:`\sqrt{\text{overlap} / m}` where :math:`m` is the smallest number of terms averaged
    (Cauchy-Schwarz per window)."""
    if module.divisor_override:
        msg = f"{module!r}: divisor_override is not supported by the bounds"
        raise NotImplementedError(msg)
    k, p, overlap = _pool_geometry(module, in_shape)
    if module.count_include_pad or p == (0, 0):
        terms = k[0] * k[1]
    else:
        terms = max(1, k[0] - p[0]) * max(1, k[1] - p[1])
    if module.ceil_mode:
        terms = 1  # windows hanging over the edge may average a single input
    return LayerBound(math.sqrt(overlap / terms), f"sqrt(overlap={overlap} / {terms})", True)


@register_bound(nn.AdaptiveAvgPool2d)
def _adaptive_avg(module, in_shape, mode, n_iter) -> LayerBound:
    size = nn.modules.utils._pair(module.output_size)
    if size != (1, 1):
        msg = f"{module!r}: only global average pooling (output_size=1) has a bound rule"
        raise NotImplementedError(msg)
    return LayerBound(1 / math.sqrt(in_shape[1] * in_shape[2]), "1/sqrt(H W)", True)
