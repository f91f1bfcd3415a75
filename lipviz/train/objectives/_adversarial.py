r"""Adversarial training (Madry, Makelov, Schmidt, Tsipras and Vladu, ICLR 2018): the
cross-entropy at the worst input an attack finds in the ball,

.. math:: \min_\theta\; \mathbb E_{(x, y)} \max_{\|\delta\|_2 \le \varepsilon}
    \mathrm{CE}\big(f_\theta(x + \delta), y\big).

By Danskin's theorem, where the inner maximiser :math:`\delta^\star` is unique, the gradient
of the inner maximum with respect to :math:`\theta` is the gradient of the loss *at*
:math:`\delta^\star`: so one step of training differentiates the loss at the attack's point,
treated as a constant. The attack (PGD) only approximates :math:`\delta^\star`; the model's
robustness is therefore *empirical* until a certificate says otherwise.

The attack is passed in (``attack(model, x, y, eps) -> result with .x_adv``), so that this
package does not depend on :mod:`lipviz.attacks`; the experiments pass
:func:`lipviz.attacks.pgd_l2`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from ._global import linear_warmup, unwrap

__all__ = ["Adversarial"]


@dataclass(frozen=True)
class Adversarial:
    r"""PGD adversarial training: the cross-entropy at ``attack``'s point of each ball.

    Parameters
    ----------
    attack : callable
        ``attack(model, x, y, eps)`` returning an object with ``x_adv`` (detached inputs in
        the ball and the input box), e.g. :func:`lipviz.attacks.pgd_l2` with its steps bound.
    eps : float
        The training radius :math:`\varepsilon` (input units).
    warmup_epochs : float, default 0.0
        The radius rises linearly from 0 over these epochs (:func:`linear_warmup`).

    Examples
    --------
    >>> class Shift:  # a stand-in attack: moves every input by eps along the first axis
    ...     def __call__(self, model, x, y, eps):
    ...         return type("R", (), {"x_adv": x + eps * torch.eye(x.shape[1])[0]})()
    >>> net = nn.Linear(2, 2)
    >>> loss, metrics = Adversarial(Shift(), eps=0.5)(net, torch.zeros(3, 2),
    ...                                               torch.zeros(3, dtype=torch.long), None, 1.0)
    >>> round(metrics["eps"], 2), tuple(metrics["logits"].shape)
    (0.5, (3, 2))
    """

    attack: Callable[..., Any]
    eps: float
    warmup_epochs: float = 0.0

    needs_lipschitz: ClassVar[bool] = False
    walks_model: ClassVar[bool] = False

    def __call__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, lip, epoch: float):
        """The loss on one batch: cross-entropy at the attack's points (Danskin: the attack's
        point is a constant of the gradient).

        Returns
        -------
        loss : Tensor
            0-dim, differentiable in the model's parameters.
        metrics : dict
            ``{"logits": f(x + delta), "eps": the radius of this batch}``.
        """
        eps = linear_warmup(self.eps, self.warmup_epochs, start=0.0)(epoch)
        x_adv = self.attack(unwrap(model), x, y, eps).x_adv.detach() if eps > 0 else x
        logits = model(x_adv)
        return nn.functional.cross_entropy(logits, y), {"logits": logits, "eps": eps}
