r"""The :class:`SOC` layer and :class:`OrthogonalLinear` (the mathematics and the bound are in the
docstring of :mod:`lipviz.layers.soc`, the package's door)."""

from __future__ import annotations

import math
from typing import cast

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

from ...bounds.context import BoundContext, LayerBound
from ...bounds.registry import register_bound
from ._exp import (
    TruncatedExpConv,
    _apply_exponential,
    _filter_norm_bound,
    _reshapes,
    skew_symmetrize,
    terms_for_tolerance,
)

__all__ = ["SOC", "OrthogonalLinear", "soc_bound"]


class SOC(nn.Module):
    """Skew-orthogonal convolution layer.

    Computes :math:`x \\mapsto [S_K(A)\\, P x]_{:m} + b` (:math:`m` = ``out_channels``, the
    first channels kept), the Taylor series of the orthogonal
    :math:`\\exp(A)` up to the power :math:`K`, with :math:`A` the convolution with a
    skew-symmetrised filter and :math:`P` space-to-depth and zero channels (Singla and Feizi,
    ICML 2021). For a sound :math:`\\|A\\|` its bound is

    .. math:: \\mathrm{Lip}(\\mathrm{SOC}) \\le 1 + \\frac{\\|A\\|^{K+1}}{(K+1)!} .

    Parameters
    ----------
    in_channels, out_channels, kernel_size : int
        ``kernel_size`` must be odd (skew symmetry needs padding ``k//2``). Inputs have shape
        ``(N, in_channels, H, W)`` (``H`` and ``W`` divisible by ``stride``), outputs
        ``(N, out_channels, H / stride, W / stride)``.
    stride : int
        1 or 2 (space-to-depth before the exponential).
    bias : bool
        Whether to add a learned bias of shape ``(out_channels,)``.
    train_terms, eval_terms : int
        Highest power K of the Taylor series in training and in eval mode.
    multiplier : float, optional
        Scale of the normalised filter (0.7 for k > 1 as in the original code): it controls the
        truncation error, not orthogonality. ``None`` picks 0.7 for k > 1 and 1.0 for k = 1.
    init_n_iter : int
        Power-iteration steps run at construction.

    Notes
    -----
    The filter is divided by :math:`\\min_i \\sigma_i`, power-iteration estimates of the norms of
    four reshapes of it ("Fantastic Four", Singla and Feizi, 2021), with vectors kept as
    buffers. They advance only in training mode; a new layer runs 50 steps at construction, so it
    is well scaled before any training step. Eval mode caches the normalised filter, and
    recomputes it whenever the weight or the vectors change (never a stale filter).

    The weight has shape ``(M, M, k, k)`` with ``M = max(in_channels * stride**2,
    out_channels)``.

    Examples
    --------
    >>> layer = SOC(2, 4, 3).eval()
    >>> layer(torch.randn(1, 2, 8, 8)).shape
    torch.Size([1, 4, 8, 8])
    >>> bool(layer.lipschitz_bound((2, 8, 8)) < 1 + 1e-6)
    True
    """

    #: parameters used only through their skew-symmetric part (the Trainer lists them in its
    #: checkpoints; :func:`lipviz.train.compact_checkpoint` stores half of each)
    skew_parameters = ("weight",)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        bias: bool = True,
        train_terms: int = 5,
        eval_terms: int = 12,
        multiplier: float | None = None,
        init_n_iter: int = 50,
    ):
        super().__init__()
        if kernel_size % 2 == 0:
            msg = f"SOC needs an odd kernel_size (skew symmetry), got {kernel_size}"
            raise ValueError(msg)
        if stride not in (1, 2):
            msg = f"SOC supports stride 1 or 2, got {stride}"
            raise ValueError(msg)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride = kernel_size, stride
        self.train_terms, self.eval_terms = train_terms, eval_terms
        self.multiplier = (
            multiplier if multiplier is not None else (0.7 if kernel_size > 1 else 1.0)
        )
        m = max(in_channels * stride * stride, out_channels)
        self.channels = m
        self.weight = nn.Parameter(torch.empty(m, m, kernel_size, kernel_size))
        nn.init.xavier_normal_(self.weight)
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        gen = torch.Generator().manual_seed(0)
        for i, r in enumerate(_reshapes(self.weight.detach())):
            self.register_buffer(
                f"u{i}", F.normalize(torch.randn(r.shape[1], generator=gen), dim=0)
            )
        self._cache: torch.Tensor | None = None
        self._cache_key: tuple = (None, [])
        self._power_step(init_n_iter)

    # --- the normalised filter --------------------------------------------------------------

    def _power_step(self, n: int) -> None:
        with torch.no_grad():
            filt = skew_symmetrize(self.weight)
            for i, r in enumerate(_reshapes(filt)):
                u = getattr(self, f"u{i}")
                for _ in range(n):
                    u = F.normalize(r.T @ F.normalize(r @ u, dim=0), dim=0)
                getattr(self, f"u{i}").copy_(u)

    def _sigma(self, filt: torch.Tensor) -> torch.Tensor:
        sigmas = [(r @ getattr(self, f"u{i}")).norm() for i, r in enumerate(_reshapes(filt))]
        return torch.stack(sigmas).min()

    def normalized_filter(self) -> torch.Tensor:
        """The filter the exponential uses: ``multiplier * L / min_i sigma_i``.

        Returns
        -------
        Tensor
            Skew-symmetric filter, shape ``(M, M, k, k)``, differentiable in the weight.
        """
        filt = skew_symmetrize(self.weight)
        return self.multiplier * filt / self._sigma(filt).clamp_min(1e-12)

    def train(self, mode: bool = True):
        self._cache = None
        return super().train(mode)

    def _cached_filter(self, device) -> torch.Tensor:
        """The eval-mode filter, recomputed whenever the weight, the scaling vectors or the
        multiplier differ from those it was computed from (``load_state_dict``, an edit)."""
        key = [self.weight.detach(), *(getattr(self, f"u{i}") for i in range(4))]
        fresh = (
            self._cache is not None
            and self._cache.device == device
            and self._cache_key[0] == self.multiplier
            and all(torch.equal(a, b) for a, b in zip(self._cache_key[1], key, strict=True))
        )
        if not fresh:
            with torch.no_grad():
                self._cache = self.normalized_filter().detach().to(device)
            self._cache_key = (self.multiplier, [t.clone() for t in key])
        return cast(torch.Tensor, self._cache)

    # --- forward --------------------------------------------------------------------------------

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            msg = f"SOC expects (N, {self.in_channels}, H, W), got {tuple(x.shape)}"
            raise ValueError(msg)
        if self.training:
            self._power_step(1)
            filt, terms = self.normalized_filter(), self.train_terms
        else:
            filt, terms = self._cached_filter(x.device), self.eval_terms
        return _apply_exponential(x, filt, terms, self.stride, self.out_channels, self.bias)

    def to_plain(self) -> nn.Module:
        """The eval-mode function with its filter fixed: a :class:`TruncatedExpConv` (no
        scaling vectors, no cache, no training-mode behaviour; the same outputs and bound).

        Returns
        -------
        TruncatedExpConv
            With the normalised filter, ``eval_terms``, the stride and a copy of the bias.
        """
        with torch.no_grad():
            filt = self.normalized_filter().detach().clone()
        bias = None if self.bias is None else self.bias.detach().clone()
        return TruncatedExpConv(
            filt, self.eval_terms, self.in_channels, self.out_channels, self.stride, bias
        )

    def operator_norm_bound(self, in_shape) -> float:
        """A sound bound on :math:`\\|A\\|` for inputs of shape (C, H, W).

        Parameters
        ----------
        in_shape : tuple of int
            ``(C, H, W)``, without the batch dimension; required (None is refused), since the
            bound depends on the input size.

        Returns
        -------
        float
            The FFT bound on the norm of the convolution with the normalised filter, at the
            size ``(H // stride, W // stride)`` the exponential sees.
        """
        return _filter_norm_bound(self.normalized_filter().detach(), self.stride, in_shape)

    def lipschitz_bound(
        self, in_shape: tuple[int, ...] | None = None, *, terms: int | None = None
    ) -> float:
        """:math:`1 + \\|A\\|^{K+1}/(K+1)!` with a sound :math:`\\|A\\|` (K = eval terms).

        Parameters
        ----------
        in_shape : tuple of int
            ``(C, H, W)``, without the batch dimension.
        terms : int, optional
            The highest power K; default ``eval_terms``.

        Returns
        -------
        float
            The bound (Singla and Feizi, ICML 2021).
        """
        k = self.eval_terms if terms is None else terms
        a = self.operator_norm_bound(in_shape)
        return 1.0 + a ** (k + 1) / math.factorial(k + 1)

    def set_eval_terms(self, in_shape, tol: float = 1e-6) -> int:
        """Choose the eval terms so that the truncation error is at most ``tol``.

        Parameters
        ----------
        in_shape : tuple of int
            ``(C, H, W)``, without the batch dimension.
        tol : float
            Bound on :math:`\\|A\\|^{K+1}/(K+1)!` (see :func:`terms_for_tolerance`).

        Returns
        -------
        int
            The new ``eval_terms`` (also stored on the layer).
        """
        self.eval_terms = terms_for_tolerance(self.operator_norm_bound(in_shape), tol)
        return self.eval_terms

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, terms={self.train_terms}/{self.eval_terms}"
        )


def soc_bound(module: SOC, ctx: BoundContext) -> LayerBound:
    """Bound rule: :math:`1 + \\|A\\|^{K+1}/(K+1)!` with a sound FFT bound on :math:`\\|A\\|`.

    The SOC bound of Singla and Feizi (ICML 2021), with K the layer's ``eval_terms``; registered
    for :class:`SOC` in the bound registry.

    Parameters
    ----------
    module : SOC
        The layer.
    ctx : BoundContext
        Its context; ``ctx.in_shape`` must be ``(in_channels, H, W)``.

    Returns
    -------
    LayerBound
        A sound bound (``sound=True``) with its formula as the method.

    Raises
    ------
    ValueError
        If ``ctx.in_shape`` is not ``(in_channels, H, W)``.
    """
    in_shape = ctx.in_shape
    if len(in_shape) != 3 or in_shape[0] != module.in_channels:
        msg = f"{module!r} expects inputs (C={module.in_channels}, H, W), got {in_shape}"
        raise ValueError(msg)
    k = module.eval_terms
    return LayerBound(
        module.lipschitz_bound(in_shape), f"1 + ||A||^{k + 1}/{k + 1}! (FFT ||A||)", True
    )


register_bound(SOC)(soc_bound)


class OrthogonalLinear(SOC):
    r"""An orthogonal linear layer: a 1x1 SOC on features.

    It computes :math:`x \mapsto [\exp(A)]_{:m,:n}\, x + b` for inputs of shape (N, n) and
    outputs of shape (N, m), with :math:`\exp(A)` evaluated as its truncated series
    :math:`S_K(A)` (Singla and Feizi, ICML 2021).

    Used as the last layer of an SOC network: the logits are 1-Lipschitz up to the truncation
    term, and the global certificate :math:`(f_y - \max_{j \ne y} f_j) / (\sqrt2\, L)`
    (Tsuzuku, Sato and Sugiyama, NeurIPS 2018) applies. Its bound is the SOC bound
    :math:`1 + \|A\|^{K+1}/(K+1)!`.

    Parameters
    ----------
    in_features : int
        Input features :math:`n`.
    out_features : int
        Output features :math:`m`.
    bias : bool
        Whether to add a learned bias of shape ``(out_features,)``.
    train_terms, eval_terms : int
        Highest power K of the series in training and in eval mode.

    Examples
    --------
    >>> layer = OrthogonalLinear(4, 3).eval()
    >>> layer(torch.randn(2, 4)).shape
    torch.Size([2, 3])
    >>> bool(layer.lipschitz_bound() < 1 + 1e-6)
    True
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        train_terms: int = 5,
        eval_terms: int = 12,
    ):
        super().__init__(
            in_features, out_features, 1, bias=bias, train_terms=train_terms, eval_terms=eval_terms
        )
        self.in_features, self.out_features = in_features, out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.shape[1] != self.in_features:
            msg = f"OrthogonalLinear expects (N, {self.in_features}), got {tuple(x.shape)}"
            raise ValueError(msg)
        return super().forward(x[:, :, None, None]).flatten(1)

    def lipschitz_bound(
        self, in_shape: tuple[int, ...] | None = None, *, terms: int | None = None
    ) -> float:
        r""":math:`1 + \|A\|^{K+1}/(K+1)!`, with the sound norm of the 1x1 filter.

        Parameters
        ----------
        in_shape : optional
            Ignored (the inputs are always ``(in_features,)``); kept for the SOC signature.
        terms : int, optional
            The highest power K; default ``eval_terms``.

        Returns
        -------
        float
            The SOC bound.
        """
        return super().lipschitz_bound((self.in_features, 1, 1), terms=terms)

    def to_plain(self) -> nn.Linear:
        r"""An ``nn.Linear`` with the matrix :math:`[S_K(A)]_{:m,:n}` (computed in float64 from
        the fixed filter) and the bias; its exact norm is at most the SOC bound.

        Returns
        -------
        nn.Linear
            Weight of shape ``(out_features, in_features)``, in the layer's dtype.
        """
        with torch.no_grad():
            filt = self.normalized_filter().detach().double()
            eye = torch.eye(self.in_features, dtype=torch.float64)[:, :, None, None]
            cols = _apply_exponential(eye, filt, self.eval_terms, 1, self.out_features, None)
            plain = nn.Linear(self.in_features, self.out_features, bias=self.bias is not None)
            plain = plain.to(self.weight.dtype)
            plain.weight.copy_(cols.flatten(1).T)
            if self.bias is not None:
                plain.bias.copy_(self.bias)
        return plain


@register_bound(OrthogonalLinear)
def _orthogonal_linear_bound(module, ctx: BoundContext) -> LayerBound:
    in_shape = ctx.in_shape
    if tuple(in_shape) != (module.in_features,):
        msg = f"{module!r} expects inputs ({module.in_features},), got {in_shape}"
        raise ValueError(msg)
    return soc_bound(module, ctx.at((module.in_features, 1, 1)))
