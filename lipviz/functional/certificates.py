r"""The certificate vocabulary: margins, row distances, certificate scales and radii."""

from __future__ import annotations

import math

import torch

__all__ = [
    "certificate",
    "certificate_scales",
    "margins",
    "row_distances",
]


SQRT2 = math.sqrt(2.0)


def margins(logits: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
    r"""The margin :math:`M_f(x) = f_t(x) - \max_{i \ne t} f_i(x)` for each row.

    Parameters
    ----------
    logits : Tensor
        Shape ``(N, C)`` with ``C >= 2``.
    labels : Tensor, optional
        Shape ``(N,)``. The margin of the label (negative on misclassified points); without
        labels, of the predicted class (then >= 0).

    Returns
    -------
    Tensor
        Shape ``(N,)``; NaN for rows with non-finite logits.

    Examples
    --------
    >>> margins(torch.tensor([[2.0, 0.5, 1.0]])).tolist()
    [1.0]
    >>> margins(torch.tensor([[2.0, 0.5, 1.0]]), torch.tensor([1])).tolist()
    [-1.5]
    """
    if logits.dim() != 2 or logits.shape[1] < 2:
        msg = f"logits must have shape (N, C) with C >= 2, got {tuple(logits.shape)}"
        raise ValueError(msg)
    target = logits.argmax(1) if labels is None else labels
    own = logits.gather(1, target[:, None]).squeeze(1)
    others = logits.scatter(1, target[:, None], float("-inf")).amax(1)
    out = own - others
    finite = torch.isfinite(logits).all(1)
    return torch.where(finite, out, torch.full_like(out, float("nan")))


def row_distances(weight: torch.Tensor, rows: torch.Tensor | None = None) -> torch.Tensor:
    r"""Distances :math:`\|w_r - w_j\|_2` between rows of a last-layer weight.

    Differences are taken first (never the :math:`\|a\|^2 + \|b\|^2 - 2a^\top b` shortcut,
    which cancels for close rows).

    Parameters
    ----------
    weight : Tensor
        Shape ``(C, D)``; differentiable, in its own dtype.
    rows : Tensor, optional
        Shape ``(N,)``, row indices ``r``; all rows when omitted.

    Returns
    -------
    Tensor
        Shape ``(N, C)`` (or ``(C, C)``): entry ``[i, j]`` is :math:`\|w_j - w_{r_i}\|`.

    Examples
    --------
    >>> row_distances(torch.tensor([[0.0, 0.0], [3.0, 4.0]])).tolist()
    [[0.0, 5.0], [5.0, 0.0]]
    """
    if weight.dim() != 2:
        msg = f"weight must have shape (C, D), got {tuple(weight.shape)}"
        raise ValueError(msg)
    picked = weight if rows is None else weight[rows]
    return (weight[None, :, :] - picked[:, None, :]).norm(dim=2)


def certificate_scales(logits: torch.Tensor, target: torch.Tensor, lipschitz, row_dist=None):
    r"""The scale :math:`s_{tj}` of each logit gap in the certificate of class :math:`t`.

    Two forms (Tsuzuku, Sato and Sugiyama, NeurIPS 2018):

    - global form: :math:`s_{tj} = \sqrt2\, L`, with :math:`L` a bound of the whole logit map;
    - pairwise form (a linear last layer with rows :math:`w_j`): :math:`s_{tj} = L\,
      \|w_t - w_j\|`, with :math:`L` a bound of everything before the last layer.

    The logit :math:`f_j` cannot overtake :math:`f_t` within radius
    :math:`(f_t - f_j)/s_{tj}`; LMT adds :math:`c\, s_{tj}` to the other logits in training.

    Parameters
    ----------
    logits : Tensor
        Shape ``(N, C)``: gives the shape, dtype and device of the scales.
    target : Tensor
        Shape ``(N,)``: the class of each row.
    lipschitz : float or Tensor
        :math:`L` (a 0-dim tensor keeps gradients).
    row_dist : Tensor, optional
        Pairwise form: the ``(C, C)`` table of :func:`row_distances`. Omitted: the global form.

    Returns
    -------
    Tensor
        Shape ``(N, C)``.

    Examples
    --------
    >>> w, logits = torch.tensor([[0.0, 0.0], [3.0, 4.0]]), torch.zeros(1, 2)
    >>> certificate_scales(logits, torch.tensor([1]), 2.0, row_distances(w)).tolist()
    [[10.0, 0.0]]
    """
    if row_dist is not None:
        return lipschitz * row_dist[target]
    return lipschitz * torch.full_like(logits, SQRT2)


def certificate(logits: torch.Tensor, target: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    r"""The certified radius of class :math:`t` in each row, signed.

    .. math:: \varepsilon_t(x) = \min_{j \ne t} \frac{f_t(x) - f_j(x)}{s_{tj}}

    It is negative when another class has a larger logit. With the global scales
    :math:`s_{tj} = \sqrt2\, L` it is :math:`M_f(x) / (\sqrt2\, L)`, the radius of Tsuzuku,
    Sato and Sugiyama (NeurIPS 2018). A pair with :math:`s_{tj} = 0` (identical
    rows) never flips if :math:`f_t > f_j` (:math:`+\infty`), else gives 0. Differentiable (the
    CR objective maximises it); :class:`lipviz.Certifier` evaluates it in float64.

    Parameters
    ----------
    logits : Tensor
        Shape ``(N, C)``, :math:`f(x)` for each row.
    target : Tensor
        Shape ``(N,)``, integer: the class :math:`t` of each row (a label or the prediction).
    scales : Tensor
        Shape ``(N, C)``, non-negative, from :func:`certificate_scales`.

    Returns
    -------
    Tensor
        Shape ``(N,)``: the signed radius (in input units when ``scales`` are), possibly
        :math:`+\infty`.

    Examples
    --------
    >>> logits = torch.tensor([[3.0, 1.0, 0.0]])
    >>> scales = certificate_scales(logits, torch.tensor([0]), 1.0)
    >>> round(float(certificate(logits, torch.tensor([0]), scales)), 6)  # 2 / sqrt(2)
    1.414214
    """
    gap = logits.gather(1, target[:, None]) - logits  # f_t - f_j
    inf = torch.full_like(gap, float("inf"))
    degenerate = torch.where(gap > 0, inf, torch.zeros_like(gap))
    ratio = torch.where(scales > 0, gap / scales.clamp_min(1e-30), degenerate)
    return ratio.scatter(1, target[:, None], float("inf")).amin(1)  # j = t excluded
