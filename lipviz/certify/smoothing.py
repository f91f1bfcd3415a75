r"""Randomised smoothing (Cohen, Rosenfeld and Kolter, ICML 2019): a *probabilistic* l2
certificate of the smoothed classifier

.. math:: g(x) = \arg\max_c \Pr_{\eta \sim \mathcal N(0, \sigma^2 I)}\big[f(x + \eta) = c\big].

If the top class :math:`c_A` has probability :math:`p_A > \tfrac12` under the noise, then
:math:`g(x + \delta) = c_A` for every :math:`\|\delta\|_2 < \sigma\,\Phi^{-1}(p_A)`
(Cohen et al., Theorem 1, with :math:`p_B = 1 - p_A`). :math:`p_A` is not known: it is
estimated from :math:`n` noisy forward passes, and the one-sided Clopper–Pearson bound
:math:`\underline{p_A}` at level :math:`\alpha` holds with probability at least
:math:`1 - \alpha` over the draws. So the radius :math:`\sigma\,\Phi^{-1}(\underline{p_A})` is
a certificate *for* :math:`g` *with probability* :math:`1 - \alpha`: never a deterministic one,
and never for :math:`f`. Below :math:`\underline{p_A} \le \tfrac12` the certificate abstains.

This module is :func:`smoothed_certify` (the paper's ``CERTIFY``: the class from ``n0`` draws,
its probability bounded from ``n`` other draws, so that the selection does not bias the bound).
"""

from __future__ import annotations

import dataclasses
import math
import statistics

import torch
from torch import nn

from ..functional.checks import check_count, check_local_inputs, model_dtype
from ..state import eval_mode

__all__ = ["SmoothedCertificate", "smoothed_certify"]

ABSTAIN = -1
"""The class :func:`smoothed_certify` reports where it abstains."""


@dataclasses.dataclass(frozen=True)
class SmoothedCertificate:
    r"""What :func:`smoothed_certify` found for each input.

    Attributes
    ----------
    predicted : Tensor
        The smoothed class, int64 ``(N,)``; ``-1`` where it abstains.
    radius : Tensor
        :math:`\sigma\,\Phi^{-1}(\underline{p_A})`, float64 ``(N,)``; 0 where it abstains.
    p_lower : Tensor
        The Clopper–Pearson lower bound :math:`\underline{p_A}`, float64 ``(N,)``.
    counts : Tensor
        The estimation draws that returned the selected class, int64 ``(N,)``.
    sigma, alpha : float
        The noise level and the failure probability.
    n0, n : int
        Selection and estimation draws per input.
    """

    predicted: torch.Tensor
    radius: torch.Tensor
    p_lower: torch.Tensor
    counts: torch.Tensor
    sigma: float
    alpha: float
    n0: int
    n: int

    @property
    def kind(self) -> str:
        """Says what the radii are: probabilistic, for the smoothed classifier."""
        return (
            f"probabilistic (smoothed classifier, holds with probability >= {1 - self.alpha:g} "
            "over the noise draws; not a certificate of the base model)"
        )


def _class_counts(model, x, sigma, draws, n_classes, batch_size, generator) -> torch.Tensor:
    dtype = model_dtype(model)
    counts = torch.zeros(len(x), n_classes, dtype=torch.int64)
    with eval_mode(model), torch.no_grad(), torch.autocast(x.device.type, enabled=False):
        for i, xi in enumerate(x):
            left = draws
            while left:
                m = min(left, batch_size)
                noise = torch.randn((m, *xi.shape), generator=generator, dtype=torch.float64)
                batch = (xi.double().cpu() + sigma * noise).to(x.device, dtype)
                pred = model(batch).argmax(1).cpu()
                counts[i] += torch.bincount(pred, minlength=n_classes)[:n_classes]
                left -= m
    return counts


def smoothed_certify(
    model: nn.Module,
    x: torch.Tensor,
    sigma: float,
    *,
    n0: int = 100,
    n: int = 10_000,
    alpha: float = 0.001,
    batch_size: int = 1000,
    seed: int = 0,
) -> SmoothedCertificate:
    r"""Cohen et al.'s ``CERTIFY``: the smoothed class of each input and a radius that holds
    with probability at least :math:`1 - \alpha`.

    Parameters
    ----------
    model : nn.Module
        The base classifier :math:`f`, returning logits ``(N, C)``.
    x : Tensor
        Inputs ``(N, *input_shape)``, finite, in input units.
    sigma : float
        The noise's standard deviation :math:`\sigma > 0` (input units).
    n0 : int
        Draws that select the class.
    n : int
        Draws that bound its probability.
    alpha : float
        Failure probability of the bound, in (0, 1).
    batch_size : int
        Noisy copies per forward pass.
    seed : int
        Seed of the noise (the caller's RNG is untouched).

    Returns
    -------
    SmoothedCertificate

    Raises
    ------
    ValueError
        For a non-finite input, a ``sigma`` that is not > 0 and finite, an ``alpha`` outside
        (0, 1) or a count below 1.

    Examples
    --------
    >>> net = nn.Linear(1, 2, bias=False)
    >>> _ = net.weight.data.copy_(torch.tensor([[1.0], [-1.0]]))  # class 0 iff x > 0
    >>> cert = smoothed_certify(net, torch.tensor([[0.5], [0.0]]), 0.25, n=2000)
    >>> cert.predicted.tolist()  # at 0 the classes tie: the certificate abstains
    [0, -1]
    >>> 0.3 < float(cert.radius[0]) < 0.5  # the exact radius of g is 0.5
    True
    """
    from scipy.stats import beta

    check_local_inputs(model, x, 0.0, None)
    if not (isinstance(sigma, (int, float)) and math.isfinite(sigma) and sigma > 0):
        msg = f"sigma must be a finite number > 0 (input units), got {sigma!r}"
        raise ValueError(msg)
    if not (0 < alpha < 1):
        msg = f"alpha must lie in (0, 1), got {alpha!r}"
        raise ValueError(msg)
    for name, value in (("n0", n0), ("n", n), ("batch_size", batch_size)):
        check_count(name, value)
    with eval_mode(model), torch.no_grad():
        n_classes = model(x[:1].to(model_dtype(model))).shape[1]
    generator = torch.Generator().manual_seed(seed)
    selected = _class_counts(model, x, sigma, n0, n_classes, batch_size, generator).argmax(1)
    counts = _class_counts(model, x, sigma, n, n_classes, batch_size, generator)
    top = counts.gather(1, selected[:, None])[:, 0]
    # one-sided Clopper-Pearson: the alpha quantile of Beta(k, n - k + 1) (0 when k = 0)
    p_lower = torch.tensor(
        [beta.ppf(alpha, k, n - k + 1) if k > 0 else 0.0 for k in top.tolist()],
        dtype=torch.float64,
    )
    certain = p_lower > 0.5
    inv = statistics.NormalDist().inv_cdf
    radius = torch.tensor(
        [sigma * inv(float(p)) if ok else 0.0 for p, ok in zip(p_lower, certain, strict=True)],
        dtype=torch.float64,
    )
    predicted = torch.where(certain, selected, torch.full_like(selected, ABSTAIN))
    return SmoothedCertificate(predicted, radius, p_lower, top, float(sigma), alpha, n0, n)
