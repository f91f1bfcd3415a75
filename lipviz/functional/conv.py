r"""Spectral norms of convolutions: the FFT bound of the padded, strided, dilated convolution
(Sedghi, Gupta and Long, ICLR 2019; polyphase for strides) and the reshaped-kernel bounds."""

from __future__ import annotations

import math

import torch

from .spectral import spectral_norm_exact

__all__ = [
    "conv_norm_fft",
    "conv_singular_values_fft",
    "conv_total_padding",
    "dilate_kernel",
    "polyphase_kernel",
    "reshaped_kernel_bounds",
]


def _pair(v) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def dilate_kernel(weight: torch.Tensor, dilation) -> torch.Tensor:
    """The equivalent undilated kernel: zeros inserted between the taps.

    A convolution with dilation :math:`(d_h, d_w)` equals an undilated one with this kernel.

    Parameters
    ----------
    weight : Tensor
        Shape ``(C_out, C_in / groups, k_h, k_w)``.
    dilation : int or tuple of int
        ``d`` or ``(d_h, d_w)``.

    Returns
    -------
    Tensor
        Shape ``(C_out, C_in / groups, d_h (k_h - 1) + 1, d_w (k_w - 1) + 1)``; ``weight``
        itself (not a copy) when the dilation is 1.

    Examples
    --------
    >>> dilate_kernel(torch.ones(1, 1, 2, 2), 2)[0, 0].tolist()
    [[1.0, 0.0, 1.0], [0.0, 0.0, 0.0], [1.0, 0.0, 1.0]]
    """
    dh, dw = _pair(dilation)
    if (dh, dw) == (1, 1):
        return weight
    c_out, c_in, kh, kw = weight.shape
    out = weight.new_zeros(c_out, c_in, dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    out[:, :, ::dh, ::dw] = weight
    return out


def conv_total_padding(kernel_hw, padding, dilation) -> tuple[int, int]:
    """Total zero padding (both sides) per spatial dim, for int, tuple, 'valid' or 'same'.

    Parameters
    ----------
    kernel_hw : int or tuple of int
        The (undilated) kernel size, ``k`` or ``(k_h, k_w)``.
    padding : int, tuple of int, "valid" or "same"
        As for :class:`torch.nn.Conv2d`: an int or pair is the padding of *each* side.
    dilation : int or tuple of int
        ``d`` or ``(d_h, d_w)``.

    Returns
    -------
    tuple of int
        ``(p_h, p_w)``: twice the per-side padding, 0 for ``"valid"``, and
        :math:`d (k - 1)` per dim for ``"same"``.

    Examples
    --------
    >>> conv_total_padding(3, 1, 1)
    (2, 2)
    >>> conv_total_padding((3, 5), "same", 2)
    (4, 8)
    """
    kh, kw = _pair(kernel_hw)
    dh, dw = _pair(dilation)
    if padding == "valid":
        return (0, 0)
    if padding == "same":
        return (dh * (kh - 1), dw * (kw - 1))
    ph, pw = _pair(padding)
    return (2 * ph, 2 * pw)


def conv_singular_values_fft(
    weight: torch.Tensor, grid_hw: tuple[int, int], groups: int = 1
) -> torch.Tensor:
    r"""All singular values of the *circular* convolution with ``weight`` on an ``grid_hw`` grid.

    The circular convolution is block-diagonalised by the 2-D DFT (Sedghi, Gupta and Long, ICLR
    2019): its singular values are those of the :math:`c_{out}\times c_{in}` matrices
    :math:`\hat K(f) = \sum_{a,b} K[:, :, a, b]\, e^{-2\pi i (f_1 a / n_1 + f_2 b / n_2)}`, one per
    frequency. Grouped convolutions are block-diagonal across groups.

    Only the frequencies :math:`0 \le f_2 \le \lfloor n_2/2 \rfloor` are computed (a real FFT):
    for a real kernel :math:`\hat K(-f) = \overline{\hat K(f)}` has the same singular values, so
    every singular value appears, but not with its full multiplicity.

    Parameters
    ----------
    weight : Tensor
        Shape ``(C_out, C_in / groups, k_h, k_w)``; detached and cast to float64.
    grid_hw : tuple of int
        ``(n_1, n_2)``, the grid of the circular convolution, at least the kernel size.
    groups : int
        Number of groups; must divide ``C_out``.

    Returns
    -------
    Tensor
        Float64, shape ``(n_1 (n_2 // 2 + 1), groups * min(C_out / groups, C_in / groups))``:
        row ``f`` holds the singular values of each group's block of :math:`\hat K(f)`.

    Raises
    ------
    ValueError
        If the kernel is larger than the grid or ``groups`` does not divide ``C_out``.

    Examples
    --------
    >>> sv = conv_singular_values_fft(torch.full((1, 1, 1, 1), 2.0), (4, 4))  # 2 x identity
    >>> tuple(sv.shape), sv.unique().tolist()
    ((12, 1), [2.0])
    """
    n1, n2 = grid_hw
    c_out, c_in_g, kh, kw = weight.shape
    if kh > n1 or kw > n2:
        msg = f"kernel {kh}x{kw} is larger than the grid {n1}x{n2}"
        raise ValueError(msg)
    if c_out % groups:
        msg = f"c_out={c_out} is not divisible by groups={groups}"
        raise ValueError(msg)
    w = weight.detach().double()
    spec = torch.fft.rfft2(w, s=(n1, n2))  # (c_out, c_in_g, n1, n2//2 + 1)
    spec = spec.permute(2, 3, 0, 1).reshape(-1, c_out, c_in_g)
    blocks = spec.reshape(spec.shape[0], groups, c_out // groups, c_in_g)
    return torch.linalg.svdvals(blocks).flatten(1)


def polyphase_kernel(weight: torch.Tensor, stride, groups: int = 1) -> torch.Tensor:
    r"""Rewrite a strided convolution kernel as a stride-1 kernel on the polyphase grid.

    A stride-:math:`s` convolution is a stride-1 one on the :math:`s`-times coarser grid, with
    :math:`c_{in} s_h s_w` input channels (one per polyphase component).
    With :math:`a = s q + r`, :math:`y[o] = \sum_a w[a]\, x[o s + a] = \sum_r \sum_q w[s q +
    r]\, x_r[o + q]` where :math:`x_r[m] = x[m s + r]`. Input channels are ordered
    (group, channel, r_h, r_w), so grouped convolutions stay block-diagonal.

    Parameters
    ----------
    weight : Tensor
        Shape ``(C_out, C_in / groups, k_h, k_w)`` (undilated: see :func:`dilate_kernel`).
    stride : int or tuple of int
        ``s`` or ``(s_h, s_w)``.
    groups : int
        Not used by the computation: the kernel is already per group (its second dimension is
        ``C_in / groups``), so the result is the kernel of the polyphase convolution with the
        same ``groups``.

    Returns
    -------
    Tensor
        Shape ``(C_out, (C_in / groups) s_h s_w, ceil(k_h / s_h), ceil(k_w / s_w))``; taps
        beyond the kernel are zero.

    Examples
    --------
    >>> polyphase_kernel(torch.arange(4.0).view(1, 1, 1, 4), (1, 2))[0, :, 0].tolist()
    [[0.0, 2.0], [1.0, 3.0]]
    """
    sh, sw = _pair(stride)
    c_out, c_in_g, kh, kw = weight.shape
    qh, qw = -(-kh // sh), -(-kw // sw)
    padded = weight.new_zeros(c_out, c_in_g, qh * sh, qw * sw)
    padded[:, :, :kh, :kw] = weight
    # (c_out, c_in_g, qh, sh, qw, sw) -> (c_out, c_in_g, sh, sw, qh, qw)
    poly = padded.reshape(c_out, c_in_g, qh, sh, qw, sw).permute(0, 1, 3, 5, 2, 4)
    return poly.reshape(c_out, c_in_g * sh * sw, qh, qw)


def conv_norm_fft(
    weight: torch.Tensor, input_hw, padding=0, dilation=1, groups: int = 1, stride=1
) -> float:
    r"""A sound upper bound on the l2 operator norm of a zero-padded 2-D convolution.

    A convolution of an :math:`n_1\times n_2` input with zero padding (total :math:`p_1, p_2`) is
    a restriction of the circular convolution on a grid :math:`N_i \ge n_i + p_i`: an isometric
    embedding, the circular convolution, then a coordinate projection. Hence, with the
    singular values of the circular convolution (Sedghi, Gupta and Long, ICLR 2019; see
    :func:`conv_singular_values_fft`),

    .. math:: \|\mathrm{conv}\|_2 \le \max_f \sigma_{\max}\big(\hat K(f)\big).

    With stride :math:`s` the grid is taken as a multiple of :math:`s` and the strided circular
    convolution is computed exactly through its polyphase form (:func:`polyphase_kernel`), which
    is much tighter than bounding the stride-1 convolution. Dilation is handled by the equivalent
    undilated kernel. The bias is not involved (it does not change the Lipschitz constant).

    Parameters
    ----------
    weight : Tensor
        Shape ``(C_out, C_in / groups, k_h, k_w)``.
    input_hw : int or tuple of int
        The input's spatial size ``(n_1, n_2)`` (the bound depends on it).
    padding : int, tuple of int, "valid" or "same"
        Zero padding, as for :class:`torch.nn.Conv2d` (see :func:`conv_total_padding`).
    dilation : int or tuple of int
        As for :class:`torch.nn.Conv2d`.
    groups : int
        As for :class:`torch.nn.Conv2d`.
    stride : int or tuple of int
        As for :class:`torch.nn.Conv2d`.

    Returns
    -------
    float
        The bound, computed in float64.

    Examples
    --------
    >>> w = torch.zeros(1, 1, 3, 3); w[0, 0, 1, 1] = 2.0  # 2 x identity
    >>> conv_norm_fft(w, (5, 5), padding=1)
    2.0
    """
    k = dilate_kernel(weight, dilation)
    ph, pw = conv_total_padding(weight.shape[-2:], padding, dilation)
    n1, n2 = _pair(input_hw)
    sh, sw = _pair(stride)
    g1 = max(n1 + ph, k.shape[-2])
    g2 = max(n2 + pw, k.shape[-1])
    g1, g2 = -(-g1 // sh) * sh, -(-g2 // sw) * sw  # multiples of the stride
    poly = polyphase_kernel(k, (sh, sw), groups)
    grid = (g1 // sh, g2 // sw)
    return float(conv_singular_values_fft(poly, grid, groups).max())


def reshaped_kernel_bounds(weight: torch.Tensor, stride=1, dilation=1, groups: int = 1) -> dict:
    r"""Cheap sound bounds of a convolution from its reshaped kernel matrix.

    The bounds use :math:`W \in \mathbb{R}^{c_{out}\times c_{in}k_hk_w}` and are valid for any
    zero padding and input size, but often 1.5-3x loose:

    - ``"sqrt(k_h k_w)"``: :math:`\sqrt{k_h k_w}\,\|W\|_2`;
    - ``"sqrt(overlap)"``: :math:`\sqrt{o_h o_w}\,\|W\|_2`, where :math:`o` is the largest
      number of patches that contain one input pixel,
      :math:`o = \lceil k \gcd(s, d) / s\rceil` for stride :math:`s` and dilation :math:`d`.

    Each output is :math:`W` times a patch, and each pixel lies in at most :math:`o_h o_w`
    patches, so :math:`\|y\|^2 \le \|W\|^2\, o_h o_w\, \|x\|^2`. For grouped
    convolutions :math:`\|W\|` is the largest over the groups' blocks.

    Parameters
    ----------
    weight : Tensor
        Shape ``(C_out, C_in / groups, k_h, k_w)`` (undilated; the dilation is a parameter).
    stride : int or tuple of int
        ``s`` or ``(s_h, s_w)``.
    dilation : int or tuple of int
        ``d`` or ``(d_h, d_w)``.
    groups : int
        Number of groups; must divide ``C_out``.

    Returns
    -------
    dict of str to float
        ``{"sqrt(k_h k_w)": ..., "sqrt(overlap)": ...}``, computed in float64 with the exact
        :math:`\|W\|_2` (:func:`spectral_norm_exact`). The second is never larger.

    Examples
    --------
    >>> reshaped_kernel_bounds(torch.ones(1, 1, 3, 3), stride=3)  # ||W|| = 3, o = 1
    {'sqrt(k_h k_w)': 9.0, 'sqrt(overlap)': 3.0}
    """

    c_out, c_in_g, kh, kw = weight.shape
    (sh, sw), (dh, dw) = _pair(stride), _pair(dilation)
    blocks = weight.detach().double().reshape(groups, c_out // groups, c_in_g * kh * kw)
    mat = max(float(spectral_norm_exact(b)) for b in blocks)
    oh = -(-kh * math.gcd(sh, dh) // sh)
    ow = -(-kw * math.gcd(sw, dw) // sw)
    return {"sqrt(k_h k_w)": mat * (kh * kw) ** 0.5, "sqrt(overlap)": mat * (oh * ow) ** 0.5}
