r"""The truncated exponential of a skew-symmetric convolution (Singla and Feizi, ICML 2021):
the pure pieces SOC layers are made of (skew-symmetrisation, the number of Taylor terms for a
tolerance, the Horner evaluation) and :class:`TruncatedExpConv`, the fixed-filter layer an SOC
exports to. Exported by :mod:`lipviz.layers.soc`, the package's door.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

from ...bounds.context import BoundContext, LayerBound
from ...bounds.registry import register_bound
from ...functional import conv_norm_fft

__all__ = ["TruncatedExpConv", "skew_symmetrize", "terms_for_tolerance"]


def skew_symmetrize(weight: torch.Tensor) -> torch.Tensor:
    """:math:`\\tfrac12 (W - W^\\top)` for a square filter (M, M, k, k), k odd.

    :math:`W^\\top` swaps the in/out channels and rotates the kernel by 180 degrees, the filter
    of the transposed convolution; with padding ``k//2`` and stride 1 the convolution with the
    result therefore has a skew-symmetric Jacobian (Singla and Feizi, ICML 2021).

    Parameters
    ----------
    weight : Tensor
        Square filter, shape ``(M, M, k, k)`` with ``k`` odd.

    Returns
    -------
    Tensor
        The skew-symmetric filter, shape ``(M, M, k, k)``.

    Examples
    --------
    >>> w = torch.randn(3, 3, 3, 3)
    >>> skew = skew_symmetrize(w)
    >>> torch.equal(skew, -skew.transpose(0, 1).flip(2, 3))
    True
    """
    return 0.5 * (weight - weight.transpose(0, 1).flip(2, 3))


def _reshapes(filt: torch.Tensor):
    m, _, kh, kw = filt.shape
    return (
        filt.permute(0, 2, 1, 3).reshape(m * kh, m * kw),
        filt.permute(0, 3, 1, 2).reshape(m * kw, m * kh),
        filt.reshape(m, m * kh * kw),
        filt.permute(0, 2, 3, 1).reshape(m * kh * kw, m),
    )


def terms_for_tolerance(norm_a: float, tol: float, max_terms: int = 60) -> int:
    """Smallest highest power K with :math:`\\|A\\|^{K+1}/(K+1)! \\le` ``tol``.

    That quantity bounds the truncation error :math:`\\|\\exp(A) - S_K(A)\\|_2` of the Taylor
    series for a skew-symmetric :math:`A` (Singla and Feizi, ICML 2021).

    Parameters
    ----------
    norm_a : float
        An upper bound on :math:`\\|A\\|_2`.
    tol : float
        Tolerance on the truncation term, > 0.
    max_terms : int
        Largest K tried.

    Returns
    -------
    int
        The smallest K in ``1..max_terms`` that meets the tolerance.

    Raises
    ------
    ValueError
        If ``tol <= 0`` or no K up to ``max_terms`` meets it.

    Examples
    --------
    >>> terms_for_tolerance(1.0, 1e-6)  # 1/10! <= 1e-6 < 1/9!
    9
    """
    if tol <= 0:
        msg = f"tol must be > 0, got {tol}"
        raise ValueError(msg)
    for k in range(1, max_terms + 1):
        if norm_a ** (k + 1) / math.factorial(k + 1) <= tol:
            return k
    msg = f"no K <= {max_terms} reaches tol={tol} for ||A|| = {norm_a:.3g}"
    raise ValueError(msg)


def _apply_exponential(x, filt, terms: int, stride: int, out_channels: int, bias):
    r"""Space-to-depth, zero channels in, :math:`S_K(A)\,x` in Horner form (:math:`z \leftarrow
    x + A z / i` for :math:`i = K..2`, then :math:`x + A z`), channels out, bias."""
    if stride > 1:
        x = F.pixel_unshuffle(x, stride)
    if x.shape[1] < filt.shape[0]:
        x = F.pad(x, (0, 0, 0, 0, 0, filt.shape[0] - x.shape[1]))
    filt, pad = filt.to(x.dtype), filt.shape[-1] // 2
    z = x
    for i in range(terms, 1, -1):
        z = F.conv2d(z, filt / i, padding=pad).add_(x)  # 1/i folded into the tiny filter
    out = F.conv2d(z, filt, padding=pad).add_(x)[:, :out_channels]
    if bias is not None:
        out = out + bias.view(1, -1, 1, 1)
    return out


def _filter_norm_bound(filt: torch.Tensor, stride: int, in_shape) -> float:
    """The FFT bound on :math:`\\|A\\|` at the size the exponential sees (after the stride)."""
    if in_shape is None or len(in_shape) != 3:
        msg = (
            "the SOC bound depends on the input size (the FFT bound of the convolution at that "
            f"size): pass in_shape=(C, H, W), got {in_shape!r}"
        )
        raise ValueError(msg)
    _, h, w = in_shape
    return conv_norm_fft(filt, (h // stride, w // stride), padding=filt.shape[-1] // 2)


class TruncatedExpConv(nn.Module):
    r"""What an eval-mode :class:`SOC` computes, with its filter fixed (its :meth:`SOC.to_plain`
    export): :math:`x \mapsto [S_K(A)\, P x]_{:m} + b`, with :math:`P` space-to-depth and
    zero channels, for a fixed skew-symmetric filter :math:`A`.

    It holds buffers only (no parameters, power-iteration vectors or cache), and its bound is the
    SOC bound :math:`1 + \|A\|^{K+1}/(K+1)!` with the FFT bound on :math:`\|A\|` (Singla and
    Feizi, ICML 2021).

    Parameters
    ----------
    filt : Tensor
        The normalised skew-symmetric filter, shape ``(M, M, k, k)``.
    terms : int
        The highest power :math:`K`.
    in_channels, out_channels, stride : int
        As in the SOC layer.
    bias : Tensor or None
        Shape ``(out_channels,)``.
    """

    filter: torch.Tensor  # buffers (register_buffer), declared for the type checker
    bias: torch.Tensor | None

    def __init__(
        self,
        filt: torch.Tensor,
        terms: int,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        bias: torch.Tensor | None = None,
    ):
        super().__init__()
        self.register_buffer("filter", filt)
        self.register_buffer("bias", bias)
        self.terms, self.stride = terms, stride
        self.in_channels, self.out_channels = in_channels, out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            msg = f"TruncatedExpConv expects (N, {self.in_channels}, H, W), got {tuple(x.shape)}"
            raise ValueError(msg)
        return _apply_exponential(
            x, self.filter, self.terms, self.stride, self.out_channels, self.bias
        )

    def lipschitz_bound(self, in_shape: tuple[int, ...] | None = None) -> float:
        """:math:`1 + \\|A\\|^{K+1}/(K+1)!` with a sound :math:`\\|A\\|`.

        Parameters
        ----------
        in_shape : tuple of int
            ``(C, H, W)``, without the batch dimension; required (None is refused), since the
            bound depends on the input size.

        Returns
        -------
        float
            The bound, with the FFT bound on :math:`\\|A\\|` at size
            ``(H // stride, W // stride)``.
        """
        a = _filter_norm_bound(self.filter, self.stride, in_shape)
        return 1.0 + a ** (self.terms + 1) / math.factorial(self.terms + 1)

    def to_plain(self) -> TruncatedExpConv:
        """Already plain: itself."""
        return self

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.filter.shape[-1]}, "
            f"stride={self.stride}, terms={self.terms}"
        )


@register_bound(TruncatedExpConv)
def _truncated_exp_bound(module: TruncatedExpConv, ctx: BoundContext) -> LayerBound:
    if len(ctx.in_shape) != 3 or ctx.in_shape[0] != module.in_channels:
        msg = f"{module!r} expects inputs (C={module.in_channels}, H, W), got {ctx.in_shape}"
        raise ValueError(msg)
    k = module.terms
    return LayerBound(
        module.lipschitz_bound(ctx.in_shape), f"1 + ||A||^{k + 1}/{k + 1}! (FFT ||A||)", True
    )
