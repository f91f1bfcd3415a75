"""The Local-Lip objective: a robust loss on worst-case logits over local balls (box and ball
propagation, masks of fixed neurons; :mod:`lipviz.certify.local`). Exported by
:mod:`lipviz.train.objectives`, the package's door."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["LocalLip"]


@dataclass(frozen=True)
class LocalLip:
    r"""Local-Lip training (Huang, Zhang, Shi, Kolter and Anandkumar, NeurIPS 2021): with the
    BCP loss, :math:`\kappa\,\mathrm{CE}(f(x), y) + (1 - \kappa)(\mathrm{CE}(\tilde z, y) + s
    \cdot \mathrm{sparsity})`; with GloRo's loss, as the reference code, the cross-entropy of
    :math:`f(x)` with one more logit :math:`\max_{j \ne y} \tilde z_j` alone (it holds the clean
    logits; κ is unused) plus :math:`s \cdot \mathrm{sparsity}`. :math:`\tilde z` are the
    worst-case logits over the ball of radius :math:`\varepsilon`
    (:func:`lipviz.certify.local_worst_logits`: power-iteration factors, the exact last-layer
    maximum). The ramps of :math:`\varepsilon` (0 to ``eps``) and :math:`\kappa` (1 to 0) follow
    ``ramp`` (:meth:`schedule`). The clip thresholds are projected to :math:`\theta \ge 0`
    by the Trainer after every step. Once :math:`\varepsilon > 0`, the clean logits are the
    centre of the same walk (one pass; the model in eval mode, so Dropout is off), and the
    power iterations start from each unmasked layer's top singular vector, recomputed on a
    batch of one (no vector is stored per example): memory grows with the batch, never with
    the dataset.

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
    ramp : {"linear", "reference"}
        ``"linear"``: :math:`\varepsilon` and :math:`\kappa` ramp linearly and continuously.
        ``"reference"``: the reference code's ramps (whole epochs; see :meth:`schedule`).
    eval_eps : float, optional
        The reference schedule's within-epoch step is ``eval_eps / rampup_epochs`` (the code
        uses its evaluation ε there, not the training ε); default ``eps``.

    Examples
    --------
    >>> LocalLip(eps=1.0, rampup_epochs=2.0).schedule(1.0)
    (0.5, 0.5)
    >>> LocalLip(eps=1.75, rampup_epochs=150, ramp="reference", eval_eps=1.58).schedule(
    ...     149.5)  # the ramp's last epoch, half-way: 1.75 + 0.5 * 1.58 / 150
    (1.7552666666666668, 0.0)
    """

    eps: float = 1.75
    warmup_epochs: float = 0.0
    rampup_epochs: float = 1.0
    gloro: bool = False
    sparsity: float = 0.0
    sp_thres: float = 0.1
    n_iter: int = 2
    ramp: str = "linear"
    eval_eps: float | None = None
    needs_lipschitz = False
    walks_model = True  # the bound walk calls the layers, not the forward pass (no torchrun)

    def __post_init__(self):
        if not (self.eps >= 0 and self.rampup_epochs >= 0 and self.warmup_epochs >= 0):
            msg = "eps, warmup_epochs and rampup_epochs must be >= 0"
            raise ValueError(msg)
        if self.ramp not in ("linear", "reference"):
            msg = f"ramp must be 'linear' or 'reference', got {self.ramp!r}"
            raise ValueError(msg)
        if self.ramp == "reference" and not (
            self.rampup_epochs >= 1
            and float(self.rampup_epochs).is_integer()
            and float(self.warmup_epochs).is_integer()
        ):
            msg = "ramp='reference' needs whole warmup_epochs and rampup_epochs >= 1"
            raise ValueError(msg)

    def schedule(self, epoch: float) -> tuple[float, float]:
        r"""``(eps, kappa)`` at a (fractional) epoch.

        ``"linear"``: after ``warmup_epochs``, :math:`\varepsilon` rises linearly from 0 to
        ``eps`` and :math:`\kappa` falls from 1 to 0 over ``rampup_epochs``. ``"reference"``
        (``train_mnist.py`` / ``Local_bound.train`` of the reference code): with :math:`t` the
        whole epochs done after the warm-up, :math:`f` the fraction of the current one and
        :math:`R` = ``rampup_epochs``,
        :math:`\varepsilon = \mathrm{eps}\,\min(t, R-1)/(R-1) + f\,\mathrm{eval\_eps}/R` (also
        in warm-up epochs, where the first term is 0, and after the ramp, as the code does),
        :math:`\kappa = \max(0, 1 - \min(t, R-1)/(R-1) - f/R)` (1 in warm-up epochs; the code's
        κ goes below 0 after the ramp, lipviz clamps it).

        Parameters
        ----------
        epoch : float
            Epochs done so far.

        Returns
        -------
        (float, float)
            The training radius and the weight of the clean loss.
        """
        if self.ramp == "reference":
            whole = math.floor(epoch)
            frac = epoch - whole
            rampup = int(self.rampup_epochs)
            step = (self.eval_eps if self.eval_eps is not None else self.eps) / rampup
            t = whole - int(self.warmup_epochs)
            if t < 0:
                return frac * step, 1.0
            if t >= rampup:
                done, kappa = 1.0, 0.0
            else:  # np.linspace(0, 1, R)[t]; a one-point linspace is its start
                done = t / (rampup - 1) if rampup > 1 else 0.0
                kappa = max(0.0, 1.0 - done - frac / rampup)
            return self.eps * done + frac * step, kappa
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
        if self.gloro:  # GloRo's loss alone, as the reference code: it holds the clean logits
            others = worst.scatter(1, y[:, None], float("-inf")).amax(1, keepdim=True)
            robust = nn.functional.cross_entropy(torch.cat([logits, others], 1), y)
            return robust + self.sparsity * sparsity, info
        robust = nn.functional.cross_entropy(worst, y)
        loss = kappa * clean + (1 - kappa) * (robust + self.sparsity * sparsity)
        return loss, info
