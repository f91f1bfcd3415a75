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

from ..functional import (
    conv_norm_fft,
    conv_singular_values_fft,
    dilate_kernel,
    operator_power_iteration,
    reshaped_kernel_bounds,
)
from .context import BoundContext, LayerBound
from .guards import current_weight
from .registry import register_bound

__all__ = ["bn_scale", "conv_bn_bound", "conv_linear_op", "conv_operator_bound"]


def _check_conv(conv: nn.Conv2d, in_shape):
    if len(in_shape) != 3 or in_shape[0] != conv.in_channels:
        msg = f"{conv!r} expects inputs (C={conv.in_channels}, H, W), got {in_shape}"
        raise ValueError(msg)


def _pad_multiplicity(conv: nn.Conv2d, hw) -> tuple[int, tuple[int, int], tuple[int, int]]:
    r"""For a non-zero ``padding_mode``: the padding operator P copies inputs, so
    :math:`P^\top P` is diagonal with the number of copies of each input and
    :math:`\|P\|_2 = \sqrt{\max \text{copies}}`. Returns (max copies, padded size, padding)."""
    left, right, top, bottom = conv._reversed_padding_repeated_twice
    counts = []
    for n, pad in ((hw[0], (0, 0, top, bottom)), (hw[1], (left, right, 0, 0))):
        index = torch.arange(n, dtype=torch.float64)
        index = index.view(1, 1, n, 1) if pad[2] or pad[3] else index.view(1, 1, 1, n)
        padded = nn.functional.pad(index, pad, mode=conv.padding_mode).flatten().long()
        counts.append(int(torch.bincount(padded, minlength=n).max()))
    size = (hw[0] + top + bottom, hw[1] + left + right)
    return counts[0] * counts[1], size, (top, left)


def _circular_bound(w: torch.Tensor, conv: nn.Conv2d, hw) -> float:
    r"""Circular padding: output j reads row :math:`(s j - p) \bmod n` of the circular
    correlation on the n-grid with the (dilated) kernel folded modulo n, so
    :math:`\|\mathrm{conv}\| \le \sqrt{m}\, \max_f \sigma_{\max}(\hat K(f))`, with m the most
    times one row is read."""
    k = dilate_kernel(w.detach().double(), conv.dilation)
    left, right, top, bottom = conv._reversed_padding_repeated_twice
    folded, mult = k, 1
    for axis, (n, before, after, s) in enumerate(
        ((hw[0], top, bottom, conv.stride[0]), (hw[1], left, right, conv.stride[1]))
    ):
        size = k.shape[2 + axis]
        n_out = (n + before + after - size) // s + 1
        rows = [(s * j - before) % n for j in range(n_out)]
        mult *= max(rows.count(r) for r in set(rows))
        reps = -(-size // n)
        shape = list(folded.shape)
        shape[2 + axis] = reps * n - size
        folded = torch.cat([folded, folded.new_zeros(shape)], dim=2 + axis)
        new_shape = list(folded.shape)
        new_shape[2 + axis : 3 + axis] = [reps, n]
        folded = folded.reshape(new_shape).sum(2 + axis)
    sv = conv_singular_values_fft(folded, tuple(hw), conv.groups)
    return math.sqrt(mult) * float(sv.max())


def conv_linear_op(conv: nn.Conv2d, weight: torch.Tensor):
    """The linear part of ``conv`` (no bias) with ``weight``, any padding mode, as a function.

    Parameters
    ----------
    conv : nn.Conv2d
        Gives the stride, padding, padding mode, dilation and groups.
    weight : Tensor
        The kernel to use, shape ``(C_out, C_in / groups, k_h, k_w)`` (e.g. the current weight,
        or one fused with a BatchNorm); gradients flow through it.

    Returns
    -------
    callable
        ``op(x)``, mapping ``(N, C_in, H, W)`` to ``(N, C_out, H_out, W_out)``, the same as
        ``conv(x)`` without the bias when ``weight`` is ``conv``'s.

    Examples
    --------
    >>> conv = nn.Conv2d(1, 1, 3, padding=1, padding_mode="circular")
    >>> op = conv_linear_op(conv, torch.ones(1, 1, 3, 3))
    >>> op(torch.ones(1, 1, 4, 4)).unique().tolist()  # circular: every window is full
    [9.0]
    """
    zeros = conv.padding_mode == "zeros"

    def op(x):
        if not zeros:
            x = nn.functional.pad(x, conv._reversed_padding_repeated_twice, conv.padding_mode)
        pad = conv.padding if zeros else 0
        return nn.functional.conv2d(x, weight, None, conv.stride, pad, conv.dilation, conv.groups)

    return op


def conv_operator_bound(
    conv: nn.Conv2d,
    in_shape,
    mode: str,
    n_iter: int,
    weight: torch.Tensor | None = None,
) -> LayerBound:
    r"""Bound the linear part of ``conv`` (bias ignored), optionally with a replacement weight.

    Zero padding: the FFT bound on the padded grid (with polyphase strides) or the reshaped-kernel
    bound, whichever is smaller. Other padding modes: the unpadded ("valid") convolution on the
    padded grid times :math:`\|P\|_2` of the padding operator; for circular padding also the
    folded circular bound (:func:`_circular_bound`), keeping the smaller. For zero padding,

    .. math:: \|\mathrm{conv}\|_2 \le \min\Big(\max_f \sigma_{\max}\big(\hat K(f)\big),\;
        \sqrt{o_h o_w}\, \|W\|_2\Big)

    (:func:`lipviz.functional.conv_norm_fft`, after Sedghi, Gupta and Long, ICLR 2019, and
    :func:`lipviz.functional.reshaped_kernel_bounds`); for other padding modes each of the two
    is applied to the valid convolution and multiplied by
    :math:`\|P\|_2 = \sqrt{\max \text{copies of one input}}`.

    Parameters
    ----------
    conv : nn.Conv2d
        The convolution (its stride, padding, dilation and groups).
    in_shape : tuple of int
        ``(C, H, W)``, without the batch dimension.
    mode : {"sound", "estimate"}
        Guaranteed bound, or ``n_iter`` steps of power iteration (an under-estimate).
    n_iter : int
        Power-iteration steps of ``estimate`` mode.
    weight : Tensor, optional
        A replacement kernel of the same shape (e.g. fused with a BatchNorm).

    Returns
    -------
    LayerBound
        ``value`` (a float), ``method`` (which bound won) and ``sound`` (False for
        ``"estimate"``).

    Raises
    ------
    ValueError
        If ``in_shape`` is not ``(conv.in_channels, H, W)``.

    Examples
    --------
    >>> conv = nn.Conv2d(1, 1, 3, padding=1, bias=False)
    >>> with torch.no_grad():
    ...     _ = conv.weight.zero_()
    ...     conv.weight[0, 0, 1, 1] = 2.0  # 2 x identity
    >>> lb = conv_operator_bound(conv, (1, 5, 5), "sound", 0)
    >>> lb.value, lb.sound
    (2.0, True)
    """
    _check_conv(conv, in_shape)
    w = current_weight(conv) if weight is None else weight
    zeros = conv.padding_mode == "zeros"
    if mode == "estimate":
        op = conv_linear_op(conv, w.detach().double())
        sigma, _ = operator_power_iteration(op, in_shape, n_iter=n_iter)
        return LayerBound(sigma, f"power iteration ({n_iter} steps)", False)
    overlap = reshaped_kernel_bounds(w, conv.stride, conv.dilation, conv.groups)["sqrt(overlap)"]
    if zeros:
        fft = conv_norm_fft(w, in_shape[1:], conv.padding, conv.dilation, conv.groups, conv.stride)
        if fft <= overlap:
            return LayerBound(fft, "FFT (circular conv, padded grid, polyphase stride)", True)
        return LayerBound(overlap, "reshaped kernel x sqrt(overlap)", True)
    copies, size, _ = _pad_multiplicity(conv, in_shape[1:])
    valid = conv_norm_fft(w, size, 0, conv.dilation, conv.groups, conv.stride)
    candidates = {
        f"FFT of the valid conv x sqrt({copies}) ({conv.padding_mode} padding)": valid,
        f"reshaped kernel x sqrt(overlap) x sqrt({copies}) ({conv.padding_mode} padding)": overlap,
    }
    candidates = {k: v * math.sqrt(copies) for k, v in candidates.items()}
    if conv.padding_mode == "circular":
        candidates["FFT of the folded circular conv"] = _circular_bound(w, conv, in_shape[1:])
    method = min(candidates, key=lambda name: candidates[name])
    return LayerBound(candidates[method], method, True)


@register_bound(nn.Conv2d)
def _conv2d(conv: nn.Conv2d, ctx: BoundContext) -> LayerBound:
    if ctx.mode == "differentiable":
        _check_conv(conv, ctx.in_shape)
        value = ctx.vectors.sigma(ctx, conv_linear_op(conv, current_weight(conv)))
        return LayerBound(value, "persistent power iteration", False)
    return conv_operator_bound(conv, ctx.in_shape, ctx.mode, ctx.n_iter)


def bn_scale(
    bn: nn.modules.batchnorm._BatchNorm, dtype: torch.dtype | None = torch.float64
) -> torch.Tensor:
    r"""Per-channel slope of an eval-mode BatchNorm, :math:`\gamma/\sqrt{\hat\sigma^2+\epsilon}`.

    Parameters
    ----------
    bn : nn.BatchNorm1d or nn.BatchNorm2d
        With running statistics.
    dtype : torch.dtype or None
        ``float64`` (the default): detached, for sound bounds. ``None``: in the module's dtype
        and differentiable in :math:`\gamma` (training-time estimates).

    Returns
    -------
    Tensor
        Shape ``(C,)``; :math:`\gamma = 1` without affine parameters. The eval-mode map is
        :math:`x_c \mapsto s_c x_c + b_c` with these slopes :math:`s_c`.

    Raises
    ------
    ValueError
        If ``bn`` keeps no running statistics.

    Examples
    --------
    >>> bn = nn.BatchNorm1d(2, eps=0.0).eval()
    >>> _ = bn.running_var.fill_(4.0)
    >>> bn_scale(bn).tolist()
    [0.5, 0.5]
    """
    if bn.running_var is None:
        msg = f"{bn!r} has no running statistics (track_running_stats=False): no eval-mode bound"
        raise ValueError(msg)
    gamma = bn.weight if bn.affine else torch.ones_like(bn.running_var)
    if dtype is None:
        return gamma / torch.sqrt(bn.running_var + bn.eps)
    return gamma.detach().to(dtype) / torch.sqrt(bn.running_var.to(dtype) + bn.eps)


@register_bound(nn.BatchNorm1d, nn.BatchNorm2d)
def _batchnorm(bn, ctx: BoundContext) -> LayerBound:
    r""":math:`\max_c |\gamma_c| / \sqrt{\hat\sigma_c^2 + \epsilon}` (eval mode: a diagonal map)."""
    if ctx.mode == "differentiable":
        return LayerBound(bn_scale(bn, None).abs().max(), "max |gamma|/sqrt(var+eps)", False)
    return LayerBound(float(bn_scale(bn).abs().max()), "max |gamma|/sqrt(var+eps) (eval)", True)


def conv_bn_bound(conv: nn.Conv2d, bn: nn.BatchNorm2d, in_shape, mode, n_iter) -> LayerBound:
    r"""Bound of BN(conv(x)) as one linear map: the kernel scaled per output channel.

    Tighter than the product of the two bounds. Parameters as :func:`conv_operator_bound`.
    In eval mode :math:`\mathrm{BN}(\mathrm{conv}(x)) = \mathrm{conv}_{K'}(x) + b'` with
    :math:`K'[o] = s_o K[o]` (:func:`bn_scale`), so the bound is that of the convolution with
    kernel :math:`K'` (biases and shifts do not change the Lipschitz constant).

    Parameters
    ----------
    conv : nn.Conv2d
        The convolution.
    bn : nn.BatchNorm2d
        The BatchNorm that directly follows it (eval mode: running statistics).
    in_shape : tuple of int
        The convolution's input shape ``(C, H, W)``, without the batch dimension.
    mode : {"sound", "estimate"}
        Guaranteed bound, or ``n_iter`` steps of power iteration (an under-estimate).
    n_iter : int
        Power-iteration steps of ``estimate`` mode.

    Returns
    -------
    LayerBound
        As :func:`conv_operator_bound`, with ``", conv+BN fused"`` appended to ``method``.
    """
    scale = bn_scale(bn).to(conv.weight.device)
    fused = current_weight(conv).detach().double() * scale.view(-1, 1, 1, 1)
    lb = conv_operator_bound(conv, in_shape, mode, n_iter, weight=fused)
    return LayerBound(lb.value, lb.method + ", conv+BN fused", lb.sound)


@register_bound(nn.Conv2d, nn.BatchNorm2d, kind="fusion")
def _conv_bn(pair: tuple[nn.Conv2d, nn.BatchNorm2d], ctx: BoundContext) -> LayerBound:
    conv, bn = pair
    if ctx.mode == "differentiable":
        _check_conv(conv, ctx.in_shape)
        linear, scale = conv_linear_op(conv, current_weight(conv)), bn_scale(bn, None)
        value = ctx.vectors.sigma(ctx, lambda v: linear(v) * scale.view(1, -1, 1, 1))
        return LayerBound(value, "persistent power iteration, conv+BN fused", False)
    return conv_bn_bound(conv, bn, ctx.in_shape, ctx.mode, ctx.n_iter)


def _check_pool_input(module, in_shape):
    if len(in_shape) != 3:
        msg = f"{module!r} expects inputs (C, H, W), got {in_shape}"
        raise ValueError(msg)


def _window_counts(n: int, n_out: int, k: int, s: int, p: int, d: int) -> int:
    """The largest number of pooling windows (along one axis) that contain one input index."""
    counts = [0] * n
    for o in range(n_out):
        for j in range(k):
            i = o * s - p + j * d
            if 0 <= i < n:
                counts[i] += 1
    return max(counts, default=0)


@register_bound(nn.MaxPool2d)
def _maxpool(module, ctx: BoundContext) -> LayerBound:
    r"""Each output is a max over a window, 1-Lipschitz from :math:`\ell_\infty` (hence
    :math:`\ell_2`) of the window; each input lies in at most :math:`o_h o_w` windows, counted
    exactly on the actual grid (padding, dilation, ``ceil_mode``), so
    :math:`\|y - y'\|^2 \le \sum_w \|x_w - x'_w\|^2 \le o_h o_w \|x - x'\|^2`."""
    in_shape = ctx.in_shape
    _check_pool_input(module, in_shape)
    pair = nn.modules.utils._pair
    k, p, d = pair(module.kernel_size), pair(module.padding), pair(module.dilation)
    s = pair(module.stride if module.stride is not None else module.kernel_size)
    probe = torch.zeros((1, 1, *in_shape[1:]))
    out_hw = nn.functional.max_pool2d(probe, k, s, p, d, module.ceil_mode).shape[-2:]
    overlap = 1
    for axis in range(2):
        overlap *= _window_counts(
            in_shape[1 + axis], out_hw[axis], k[axis], s[axis], p[axis], d[axis]
        )
    return LayerBound(math.sqrt(overlap), f"sqrt(overlap={overlap}), counted", True)


def _axis_matrix(pool, n: int) -> torch.Tensor:
    """The (n, n_out) matrix of a separable pooling along one axis, by pooling the identity."""
    eye = torch.eye(n, dtype=torch.float64).view(n, 1, n, 1)
    return pool(eye).reshape(n, -1)


def _separable_bound(mats, scale: float = 1.0) -> float:
    r""":math:`\|A_h \otimes A_w\|_2 = \|A_h\|_2 \|A_w\|_2` (exact singular values)."""
    from ..functional import spectral_norm_exact

    return scale * math.prod(float(spectral_norm_exact(m)) for m in mats)


@register_bound(nn.AvgPool2d)
def _avgpool(module, ctx: BoundContext) -> LayerBound:
    r"""Exact: average pooling acts on each channel as :math:`A_h X A_w^\top` (its divisor, with
    or without padding counted, is a product of per-axis counts), so its norm is
    :math:`\|A_h\|_2 \|A_w\|_2`, with each axis matrix obtained by pooling the identity."""
    in_shape = ctx.in_shape
    _check_pool_input(module, in_shape)
    pair = nn.modules.utils._pair
    k, p = pair(module.kernel_size), pair(module.padding)
    s = pair(module.stride if module.stride is not None else module.kernel_size)
    override = module.divisor_override
    mats = []
    for axis in range(2):
        kk, ss, pp = (k[axis], 1), (s[axis], 1), (p[axis], 0)

        def pool(t, kk=kk, ss=ss, pp=pp):
            return nn.functional.avg_pool2d(
                t, kk, ss, pp, module.ceil_mode, module.count_include_pad, 1 if override else None
            )

        mats.append(_axis_matrix(pool, in_shape[1 + axis]))
    value = _separable_bound(mats, 1.0 / override if override else 1.0)
    return LayerBound(value, "exact (separable: ||A_h|| ||A_w||)", True)


@register_bound(nn.AdaptiveAvgPool2d)
def _adaptive_avg(module, ctx: BoundContext) -> LayerBound:
    r"""Exact, as for :class:`~torch.nn.AvgPool2d`: :math:`\|A_h\|_2 \|A_w\|_2` (for
    ``output_size=1``, :math:`1/\sqrt{HW}`)."""
    in_shape = ctx.in_shape
    _check_pool_input(module, in_shape)
    size = nn.modules.utils._pair(module.output_size)
    mats = []
    for axis in range(2):
        n = in_shape[1 + axis]
        m = size[axis] if size[axis] is not None else n
        mats.append(_axis_matrix(lambda t, m=m: nn.functional.adaptive_avg_pool2d(t, (m, 1)), n))
    return LayerBound(_separable_bound(mats), "exact (separable: ||A_h|| ||A_w||)", True)
