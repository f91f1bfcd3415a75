"""The Local-Lip objective: a robust loss on worst-case logits over local balls (box and ball
propagation, masks of fixed neurons; :mod:`lipviz.certify.local`). Exported by
:mod:`lipviz.train.objectives`, the package's door."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["LocalLip"]


@dataclass(frozen=True)
class LocalLip:
    r"""Local-Lip training (Huang, Zhang, Shi, Kolter and Anandkumar, NeurIPS 2021):
    :math:`\kappa\,\mathrm{CE}(f(x), y) + (1 - \kappa)(\mathrm{robust} + s \cdot
    \mathrm{sparsity})`, with the robust loss on the worst-case logits over the ball of radius
    :math:`\varepsilon` (:func:`lipviz.certify.local_worst_logits`): the BCP loss
    :math:`\mathrm{CE}(\tilde z, y)`, or GloRo's, the cross-entropy of :math:`f(x)` with one
    more logit :math:`\max_{j \ne y} \tilde z_j`. After ``warmup_epochs`` clean epochs,
    :math:`\varepsilon` ramps linearly from 0 to ``eps`` and :math:`\kappa` from 1 to 0 over
    ``rampup_epochs`` (within epochs too). The clip thresholds are projected to
    :math:`\theta \ge 0` by the Trainer after every step. Once :math:`\varepsilon > 0`, the
    clean logits are the centre of the same walk (one pass; the model in eval mode, so Dropout
    is off), and the power iterations start from each unmasked layer's top singular vector,
    recomputed on a batch of one (no vector is stored per example): memory grows with the batch,
    never with the dataset.

    Parameters
    ----------
    eps : float
        The training radius (input units; the paper uses 1.75 on MNIST, 0.1551 on CIFAR-10).
    warmup_epochs, rampup_epochs : float
        Clean epochs, then the length of the ramps.
    gloro : bool
        GloRo's loss (the paper's choice on MNIST) instead of the BCP loss.
    sparsity : float
        Weight :math:`s` of the sparsity loss (0 disables it).
    sp_thres : float
        Weight of the saturation term inside the sparsity loss.
    n_iter : int
        Power-iteration steps per local factor (the paper: 2 on CIFAR-10, 5 on MNIST).

    Examples
    --------
    >>> LocalLip(eps=1.0, rampup_epochs=2.0).schedule(1.0)
    (0.5, 0.5)
    """

    eps: float = 1.75
    warmup_epochs: float = 0.0
    rampup_epochs: float = 1.0
    gloro: bool = False
    sparsity: float = 0.0
    sp_thres: float = 0.1
    n_iter: int = 2
    needs_lipschitz = False
    walks_model = True  # the bound walk calls the layers, not the forward pass (no torchrun)

    def __post_init__(self):
        if not (self.eps >= 0 and self.rampup_epochs >= 0 and self.warmup_epochs >= 0):
            msg = "eps, warmup_epochs and rampup_epochs must be >= 0"
            raise ValueError(msg)

    def schedule(self, epoch: float) -> tuple[float, float]:
        """``(eps, kappa)`` at a (fractional) epoch.

        Parameters
        ----------
        epoch : float
            Epochs done so far.

        Returns
        -------
        (float, float)
            The training radius and the weight of the clean loss.
        """
        if epoch < self.warmup_epochs:
            return 0.0, 1.0
        ramp = (
            1.0
            if self.rampup_epochs == 0
            else min(1.0, (epoch - self.warmup_epochs) / self.rampup_epochs)
        )
        return self.eps * ramp, 1.0 - ramp

    def __call__(self, model, x, y, lip, epoch):
        """The loss and its parts.

        Parameters
        ----------
        model : nn.Module
            A chain local bounds support, ending in ``nn.Linear``.
        x, y : Tensor
            A batch ``(N, ...)`` and its labels ``(N,)``.
        lip : None
            Unused.
        epoch : float
            Fractional epoch (for the ramps).

        Returns
        -------
        (Tensor, dict)
            The loss and ``{"logits", "eps", "kappa"}``.
        """
        from ...certify import local_worst_logits

        eps, kappa = self.schedule(epoch)
        if eps <= 0:
            logits = model(x)
            return nn.functional.cross_entropy(logits, y), {
                "logits": logits,
                "eps": eps,
                "kappa": kappa,
            }
        worst, sparsity, logits = local_worst_logits(
            model, x, y, eps, n_iter=self.n_iter, sp_thres=self.sp_thres, sparsity=self.sparsity > 0
        )
        logits, worst = logits.to(x.dtype), worst.to(x.dtype)
        clean = nn.functional.cross_entropy(logits, y)
        info = {"logits": logits, "eps": eps, "kappa": kappa}
        if self.gloro:
            others = worst.scatter(1, y[:, None], float("-inf")).amax(1, keepdim=True)
            robust = nn.functional.cross_entropy(torch.cat([logits, others], 1), y)
        else:
            robust = nn.functional.cross_entropy(worst, y)
        loss = kappa * clean + (1 - kappa) * (robust + self.sparsity * sparsity)
        return loss, info
