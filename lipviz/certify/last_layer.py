r"""Last-layer certificates side by side, and a trap for the top-k shortcut.

For a model ending in a linear layer, the pairwise certificate (Tsuzuku, Sato and Sugiyama,
NeurIPS 2018) divides each logit gap by the distance of two rows times the bound of the prefix;
the global one uses :math:`\sqrt{2}` times the whole bound; the top-k shortcut of the newer SOC
code looks at the runner-up logits only and is a heuristic, not a bound. :func:`lln_topk_trap`
builds a small model where it overestimates. Exported by :mod:`lipviz.certify`.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from ..state import eval_mode
from .radii import Certifier

__all__ = ["last_layer_certificates", "lln_topk_trap"]


def last_layer_certificates(model, x, input_shape=None, top_k: int = 9):
    r"""Per input, the three last-layer certificates of a model ending in a linear layer.

    With :math:`t` the predicted class, :math:`f_j` the logits, :math:`w_j` the rows of the
    last layer and :math:`L_{\text{prefix}}` the sound bound of everything before it
    (Tsuzuku, Sato and Sugiyama, NeurIPS 2018, for the first two):

    - ``pairwise``: :math:`\min_{j \ne t} (f_t - f_j) / (L_{\text{prefix}} \|w_t - w_j\|)` over
      **all** classes (what :func:`lipviz.certified_radius` uses; sound);
    - ``global``: :math:`(f_t - \max_{j \ne t} f_j) / (\sqrt2\, L)` with :math:`L` the bound of
      the whole model (sound, never larger than ``pairwise``);
    - ``top_k``: the pairwise formula over the ``top_k`` runner-up logits only, as in the newer
      SOC code (``num_other = 9``). **Not sound**: a class with a low logit but a row close to
      :math:`w_t` can be nearer; ``top_k_overestimates`` flags those inputs.

    Returns a DataFrame with columns ``predicted``, ``pairwise``, ``global``, ``top_k`` and
    ``top_k_overestimates``.

    Parameters
    ----------
    model : nn.Sequential
        Ends in an ``nn.Linear`` (e.g. :class:`~lipviz.layers.LLN`); maps ``(N, ...)`` to logits
        ``(N, C)``.
    x : Tensor
        Shape ``(N, ...)``, on the CPU.
    input_shape : tuple of int, optional
        The input shape without the batch dimension; default ``x.shape[1:]``.
    top_k : int, default 9
        Runner-up classes of the ``top_k`` certificate (at most ``C - 1`` are used).

    Returns
    -------
    pandas.DataFrame
        ``N`` rows: ``predicted`` (int), the radii ``pairwise``, ``global`` and ``top_k``
        (float) and ``top_k_overestimates`` (bool, ``top_k`` above ``pairwise``).

    Examples
    --------
    >>> model, x = lln_topk_trap()
    >>> certs = last_layer_certificates(model, x)
    >>> round(float(certs["pairwise"][0]), 6), bool(certs["top_k_overestimates"][0])
    (0.25, True)
    """
    import pandas as pd

    shape = tuple(input_shape) if input_shape is not None else tuple(x.shape[1:])
    pairwise = Certifier(model, shape, form="pairwise")
    glob = Certifier(model, shape, form="global")
    cert = pairwise(x)
    with torch.no_grad(), eval_mode(model):
        logits = model(x).float()
    k = min(top_k, logits.shape[1] - 1)
    top = logits.topk(k + 1, dim=1).indices  # the predicted class and its k runners-up
    gap = logits.gather(1, cert.predicted[:, None]) - logits.gather(1, top)
    dist = pairwise.row_dist[cert.predicted[:, None], top] * pairwise.lipschitz
    ratio = (gap / dist.clamp_min(1e-30)).masked_fill(top == cert.predicted[:, None], float("inf"))
    top_k_radius = ratio.amin(1)
    return pd.DataFrame(
        {
            "predicted": cert.predicted.numpy(),
            "pairwise": cert.radius.numpy(),
            "global": glob(x).radius.numpy(),
            "top_k": top_k_radius.numpy(),
            "top_k_overestimates": (top_k_radius > cert.radius * (1 + 1e-6)).numpy(),
        }
    )


def lln_topk_trap(n_classes: int = 20, top_k: int = 9, angle_deg: float = 4.0):
    r"""A small LLN classifier on 2-D features where the top-``top_k`` certificate is wrong.

    Class 0 has the row :math:`(1, 0)`; ``top_k`` runner-up classes have rows a few degrees
    away and slightly smaller biases (high logits, but far boundaries); the last class has the
    opposite row and a large bias (the lowest logit, but the nearest boundary). At
    :math:`x = (1, 0)` the true distance to the decision boundary is the pairwise certificate
    over all classes, and the top-k formula overestimates it.

    Returns ``(model, x)`` with ``model`` an ``nn.Sequential`` holding one
    :class:`~lipviz.layers.LLN` and ``x`` of shape (1, 2).

    Parameters
    ----------
    n_classes : int, default 20
        Number of classes ``C``.
    top_k : int, default 9
        The ``k`` of the top-k certificate to trap; ``1 <= top_k <= n_classes - 2``.
    angle_deg : float, default 4.0
        The runner-up rows lie between ``angle_deg`` and ``2 * angle_deg`` degrees from
        :math:`(1, 0)`, on alternating sides.

    Returns
    -------
    model : nn.Sequential
        float64, maps ``(N, 2)`` to logits ``(N, n_classes)``.
    x : Tensor
        Shape ``(1, 2)``, float64: the point :math:`(1, 0)`.

    Raises
    ------
    ValueError
        If ``top_k`` is out of range.

    Examples
    --------
    >>> model, x = lln_topk_trap()
    >>> x.tolist(), tuple(model(x).shape), int(model(x).argmax())
    ([[1.0, 0.0]], (1, 20), 0)
    """
    from ..layers import LLN

    if not 1 <= top_k <= n_classes - 2:
        msg = f"need 1 <= top_k <= n_classes - 2, got top_k={top_k}, n_classes={n_classes}"
        raise ValueError(msg)
    angles = torch.zeros(n_classes, dtype=torch.float64)
    bias = torch.zeros(n_classes, dtype=torch.float64)
    near = torch.arange(n_classes - 2, dtype=torch.float64)
    spread = torch.linspace(angle_deg, 2 * angle_deg, n_classes - 2, dtype=torch.float64)
    angles[1:-1] = torch.deg2rad(spread * (-1) ** near)  # alternating sides, a few degrees
    bias[1:-1] = -0.05
    angles[-1], bias[-1] = math.pi, 1.5
    lln: Any = LLN(2, n_classes).double()  # (its parametrisation containers are untyped)
    with torch.no_grad():
        weight = lln.parametrizations["weight"]  # the unconstrained weight's container
        weight.original.copy_(torch.stack([angles.cos(), angles.sin()], dim=1))
        lln.bias.copy_(bias)
    model = nn.Sequential(lln)
    return model, torch.tensor([[1.0, 0.0]], dtype=torch.float64)
