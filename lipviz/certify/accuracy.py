"""Certified radii of a model's inputs and certified accuracy (global or local bounds)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from ..bounds import LipschitzBound
from ..bounds.propagation import METHODS
from ..functional.checks import check_labels, check_local_inputs
from .local import local_certified, predict
from .propagation import propagation_certified
from .radii import CertifiedRadii, Certifier

__all__ = ["certified_accuracy", "certified_radius"]


def certified_radius(
    model: nn.Module,
    x: torch.Tensor,
    *,
    form: str = "auto",
    mode: str = "sound",
    bound: LipschitzBound | None = None,
    certifier: Certifier | None = None,
    batch_size: int = 4096,
) -> CertifiedRadii:
    r"""Certified l2 radius of the predicted class for each input, in input units.

    .. math:: \varepsilon(x) = \frac{M_f(x)}{\sqrt2\, L}
        \quad\text{or}\quad
        \varepsilon(x) = \min_{j \ne t} \frac{f_t(x) - f_j(x)}{L_{\text{prefix}}\,\|w_t - w_j\|}

    No input within that l2 distance of ``x`` changes the prediction, provided the bound is
    sound (``mode="sound"``, the default; ``result.sound`` says so). Non-finite logits get
    radius 0. See :class:`Certifier` for the two forms (Tsuzuku, Sato and Sugiyama, NeurIPS
    2018).

    Parameters
    ----------
    model : nn.Module
        The whole model, normalisation included, so radii are in input units.
    x : Tensor
        Inputs, shape ``(N, ...)`` (e.g. ``(N, C, H, W)``).
    form : {"auto", "global", "pairwise"}
        ``"auto"`` (default), ``"global"`` or ``"pairwise"``.
    mode : {"sound", "estimate"}
        ``"sound"`` or ``"estimate"`` (radii then labelled as estimates).
    bound : LipschitzBound, optional
        A precomputed bound of the whole model (global form).
    certifier : Certifier, optional
        A precomputed :class:`Certifier`: the bounds are then not recomputed, and ``form``,
        ``mode`` and ``bound`` are ignored.
    batch_size : int
        Inputs per forward pass.

    Returns
    -------
    CertifiedRadii
        ``radius``, ``predicted`` and ``margin``, each of shape ``(N,)``, and whether the
        radii are certificates (``sound``).

    Raises
    ------
    ValueError
        If ``x`` is not batched, or as :class:`Certifier`.
    TypeError
        If ``bound`` is not a :class:`~lipviz.bounds.LipschitzBound`.

    Examples
    --------
    >>> lin = nn.Linear(2, 2, bias=False)
    >>> _ = lin.weight.data.copy_(torch.tensor([[1.0, 0.0], [-1.0, 0.0]]))
    >>> r = certified_radius(lin, torch.tensor([[0.5, 3.0]])).radius  # distance to x0 = 0
    >>> round(float(r), 6), bool(r <= 0.5)  # rounded down, never up
    (0.5, True)
    """
    if x.dim() < 2:
        msg = f"x must be batched (N, ...), got shape {tuple(x.shape)}"
        raise ValueError(msg)
    if bound is not None and not isinstance(bound, LipschitzBound):
        msg = "bound must be a LipschitzBound from lipviz.lipschitz_bound (it carries its mode)"
        raise TypeError(msg)
    if certifier is None:
        certifier = Certifier(model, tuple(x.shape[1:]), form=form, mode=mode, bound=bound)
    return certifier(x, batch_size=batch_size)


def certified_accuracy(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    eps: Sequence[float],
    *,
    bound: LipschitzBound | None = None,
    mode: str = "sound",
    form: str = "auto",
    certifier: Certifier | None = None,
    method: str = "global",
    n_iter: int = 100,
):
    r"""Fraction of inputs correctly classified with a certified radius *greater than* each ε.

    .. math:: \mathrm{CA}(\varepsilon) = \frac1N \sum_{i=1}^N
        \mathbb{1}\big[\hat y(x_i) = y_i \text{ and } r(x_i) > \varepsilon\big]
        \quad (\varepsilon > 0)

    A radius equal to ε does not count: a perturbation of norm ε may reach a tie, where the
    argmax can flip. Returns a DataFrame with columns ``eps``, ``certified_accuracy``, ``kind``.
    At ε = 0 the value is the clean accuracy.

    Parameters
    ----------
    model : nn.Module
        The whole model, normalisation included.
    x : Tensor
        Inputs, shape ``(N, ...)``.
    y : Tensor
        Labels, shape ``(N,)``, integer class indices (see
        :func:`~lipviz.functional.checks.check_labels`).
    eps : sequence of float
        Radii :math:`\varepsilon \ge 0`, finite, one row each.
    bound : LipschitzBound, optional
        A precomputed bound of the whole model (global form).
    mode : {"sound", "estimate"}
        Mode of the bounds; the ``kind`` column says whether the radii are certificates.
    form : {"auto", "global", "pairwise"}
        The certificate form (:class:`Certifier`).
    certifier : Certifier, optional
        A precomputed :class:`Certifier` (``bound``, ``mode`` and ``form`` are then ignored).
    method : {"global", "local", "ibp", "crown"}
        ``local``: correct and :func:`lipviz.local_certified` at each ε > 0 (the local bound of
        Huang et al., NeurIPS 2021, in ``mode``); ``ibp`` and ``crown``: correct and
        :func:`lipviz.propagation_certified` (bound propagation, always sound; ``mode`` must be
        ``"sound"``). ``bound``, ``form`` and ``certifier`` are then not used.
    n_iter : int, default 100
        Power-iteration steps per factor of local estimates (``method="local"``,
        ``mode="estimate"``).

    Returns
    -------
    pandas.DataFrame
        ``len(eps)`` rows, columns ``eps``, ``certified_accuracy`` (in [0, 1]) and ``kind``.

    Raises
    ------
    ValueError
        For a negative or non-finite ε, or labels of the wrong shape or dtype.

    Examples
    --------
    >>> lin = nn.Linear(2, 2, bias=False)
    >>> _ = lin.weight.data.copy_(torch.tensor([[1.0, 0.0], [-1.0, 0.0]]))
    >>> x, y = torch.tensor([[0.5, 0.0], [-2.0, 0.0]]), torch.tensor([0, 1])
    >>> certified_accuracy(lin, x, y, [0.0, 0.5, 1.0])["certified_accuracy"].tolist()
    [1.0, 0.5, 0.5]
    """
    import pandas as pd

    eps_list = [float(e) for e in eps]
    if any((not math.isfinite(e)) or e < 0 for e in eps_list):
        msg = f"every eps must be a finite number >= 0, got {eps_list}"
        raise ValueError(msg)
    if len(x) == 0:
        msg = "x holds no inputs: an accuracy over none is undefined (NaN), never reported"
        raise ValueError(msg)
    y = check_labels(y, len(x))
    if method == "local":
        kind = "certified (local)" if mode == "sound" else "estimate (local, not a certificate)"

        def local(index, e):
            return local_certified(model, x[index.to(x.device)], e, mode, n_iter=n_iter)

        return _ball_accuracy(model, x, y, eps_list, mode == "sound", local, kind)
    if method in METHODS:
        if mode != "sound":
            msg = f"bound propagation ({method}) has no estimate mode: use mode='sound'"
            raise ValueError(msg)

        def propagated(index, e):
            return propagation_certified(model, x[index.to(x.device)], e, method=method)

        return _ball_accuracy(model, x, y, eps_list, True, propagated, f"certified ({method})")
    if method != "global":
        msg = f"method must be one of 'global', 'local', 'ibp', 'crown', got {method!r}"
        raise ValueError(msg)
    cert = certified_radius(model, x, bound=bound, mode=mode, form=form, certifier=certifier)
    correct = cert.predicted.cpu() == y.cpu()
    radius = cert.radius.cpu()
    rows = [
        {
            "eps": e,
            "certified_accuracy": float(
                (correct & ((radius > e) if e > 0 else True)).float().mean()
            ),
            "kind": cert.kind,
        }
        for e in eps_list
    ]
    return pd.DataFrame(rows)


def _ball_accuracy(model, x, y, eps_list, sound, certify, kind):
    """Correct and certified on the ball, per ε, by ``certify(index, eps)``. Only correct
    inputs are tried, and for sound certificates the largest ε first: an input certified at ε
    is robust on the whole ball, so on every smaller ball too, and is not tried again (a
    certificate is a proof, whatever the bound's own monotonicity). Estimates are computed at
    every ε."""
    import pandas as pd

    check_local_inputs(model, x, max(eps_list, default=0.0), None)
    correct = predict(model, x).cpu() == y.cpu()
    found: dict[float, torch.Tensor] = {}
    proven = torch.zeros_like(correct)
    for e in sorted(set(eps_list), reverse=True):
        if e <= 0:
            found[e] = correct
            continue
        todo = correct & ~proven if sound else correct
        ok = proven.clone() if sound else torch.zeros_like(correct)
        index = todo.nonzero()[:, 0]
        if len(index):
            ok[index] = certify(index, e).cpu()
        found[e] = ok & correct
        if sound:
            proven = found[e]
    rows = [
        {"eps": e, "certified_accuracy": float(found[e].float().mean()), "kind": kind}
        for e in eps_list
    ]
    return pd.DataFrame(rows)
