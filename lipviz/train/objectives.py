"""Training objectives: ``objective(model, x, y, lip, epoch) -> (loss, metrics)``.

``lip`` is a :class:`~lipviz.train.lipschitz.PowerIterationBound` (or None for plain CE) and
``epoch`` a float (fractional epochs), used by schedules such as LMT's warm-up of ``c``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..functional import certificate, certificate_scales, row_distances

__all__ = [
    "LMT",
    "CertificateRegularized",
    "CrossEntropy",
    "SpectralRegularized",
    "linear_warmup",
]


def linear_warmup(target: float, epochs: float, start: float = 1e-5):
    """Schedule rising linearly from ``start`` to ``target`` over ``epochs``, then constant."""

    def schedule(epoch: float) -> float:
        if epochs <= 0 or epoch >= epochs:
            return target
        return start + (target - start) * epoch / epochs

    return schedule


@dataclass(frozen=True)
class CrossEntropy:
    """Plain cross-entropy (``temperature`` scales the logits inside the loss only)."""

    temperature: float = 1.0
    needs_lipschitz = False

    def __call__(self, model, x, y, lip, epoch):
        logits = model(x)
        loss = nn.functional.cross_entropy(self.temperature * logits, y)
        return loss, {"logits": logits}


@dataclass(frozen=True)
class LMT:
    r"""Lipschitz-margin training (Tsuzuku, Sato and Sugiyama, 2018).

    The non-true logits are raised before the cross-entropy, so the network must win by a
    margin proportional to its Lipschitz estimate :math:`L`:

    - ``form="global"``: :math:`f_j \mathrel{+}= \sqrt2\, c\, L` for :math:`j \ne y`;
    - ``form="pairwise"``: :math:`f_j \mathrel{+}= c\, L_{\text{prefix}} \|w_j - w_y\|`.

    ``kappa_clip=True`` is the reference code's variant: the added amount is scaled by
    :math:`\kappa = \mathrm{clip}(\text{margin}/\text{added}, 0, 1)`, treated as a constant (0 for
    misclassified points), so the penalty never pushes beyond the current margin. ``c`` warms up
    linearly from ``c_start`` over ``warmup_epochs``.
    """

    c: float = 1.0
    form: str = "global"
    kappa_clip: bool = False
    warmup_epochs: float = 0.0
    c_start: float = 1e-5
    needs_lipschitz = True

    def __post_init__(self):
        if self.form not in ("global", "pairwise"):
            msg = f"LMT form must be 'global' or 'pairwise', got {self.form!r}"
            raise ValueError(msg)
        if self.c < 0:
            msg = f"c must be >= 0, got {self.c}"
            raise ValueError(msg)

    def __call__(self, model, x, y, lip, epoch):
        c = linear_warmup(self.c, self.warmup_epochs, self.c_start)(epoch)
        logits = model(x)
        others = 1.0 - nn.functional.one_hot(y, logits.shape[1]).to(logits)
        # c times the certificate's scale of each gap: the margin a radius c would need
        if self.form == "global":
            total, _ = lip()
            added = c * certificate_scales(logits, y, total) * others
        else:
            table = row_distances(model[-1].weight)  # (C, C): ||w_j - w_i||
            added = certificate_scales(logits, y, c * lip.prefix(), table) * others
            lip()  # advance the vectors of the last layer too
        if self.kappa_clip:
            with torch.no_grad():
                own = logits.gather(1, y[:, None])
                margin = (own - logits.scatter(1, y[:, None], float("-inf"))).clamp_min(0)
                kappa = (margin / added.clamp_min(1e-12)).clamp(0, 1) * others
                kappa = kappa.masked_fill(others == 0, float("inf")).amin(1, keepdim=True)
                kappa = torch.where(torch.isfinite(kappa), kappa, torch.zeros_like(kappa))
            added = kappa * added
        loss = nn.functional.cross_entropy(logits + added, y)
        return loss, {"logits": logits, "c": float(c)}


@dataclass(frozen=True)
class SpectralRegularized:
    r"""Cross-entropy plus :math:`\tfrac{\beta}{2}\sum_i \sigma_i^2` over the linear layers'
    power-iteration estimates (spectral-norm regularisation, Yoshida and Miyato, 2017)."""

    beta: float = 0.01
    needs_lipschitz = True

    def __call__(self, model, x, y, lip, epoch):
        logits = model(x)
        _, sigmas = lip()
        penalty = 0.5 * self.beta * sum(s * s for s in sigmas)
        return nn.functional.cross_entropy(logits, y) + penalty, {"logits": logits}


@dataclass(frozen=True)
class CertificateRegularized:
    r"""Certificate regularisation (CR; Singla, Singla and Feizi, ICLR 2022):
    :math:`\mathrm{CE} - \gamma\,\mathrm{mean}\,\mathrm{ReLU}(\mathrm{cert}(x, y))`.

    ``cert`` is the last-layer certificate for the *true* label over all classes. When the last
    layer is an ``nn.Linear`` (e.g. LLN) it is the pairwise one,
    :math:`\min_{j \ne y} (f_y - f_j) / (L\,\|w_y - w_j\|)`; otherwise (an orthogonal last
    layer) it is :math:`(f_y - \max_{j \ne y} f_j) / (\sqrt2\, L)`. :math:`L` is the declared
    Lipschitz constant of everything before the last layer (``lipschitz``; for a network of
    orthogonal layers, the input normalisation's 1/min std).
    """

    gamma: float = 0.5
    lipschitz: float = 1.0
    needs_lipschitz = False

    def __call__(self, model, x, y, lip, epoch):
        logits = model(x)
        table = row_distances(model[-1].weight) if isinstance(model[-1], nn.Linear) else None
        cert = certificate(logits, y, certificate_scales(logits, y, self.lipschitz, table))
        loss = nn.functional.cross_entropy(logits, y) - self.gamma * torch.relu(cert).mean()
        return loss, {"logits": logits}
