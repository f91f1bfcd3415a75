"""l2 attacks, with ε always in input units."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .certify import check_labels
from .functional import margins
from .state import frozen

__all__ = ["AttackResult", "check_eps", "margin_loss", "minimal_l2", "pgd_l2"]


def check_eps(eps, x: torch.Tensor, box=(0.0, 1.0)) -> torch.Tensor:
    """Validate l2 radii against the inputs; return them as a tensor of shape (N,).

    Raises a clear error for negative or non-finite values, and for a radius larger than the
    diameter of the input box (typically an ε typed on a 0-255 scale).
    """
    eps_t = torch.as_tensor(eps, dtype=x.dtype, device=x.device).flatten()
    if eps_t.numel() == 1:
        eps_t = eps_t.expand(len(x))
    if eps_t.numel() != len(x):
        msg = f"eps must be a scalar or have one value per input ({len(x)}), got {eps_t.numel()}"
        raise ValueError(msg)
    if not torch.isfinite(eps_t).all() or (eps_t < 0).any():
        msg = "eps must be finite and >= 0"
        raise ValueError(msg)
    if box is not None:
        diameter = (box[1] - box[0]) * math.sqrt(x[0].numel())
        if float(eps_t.max()) > diameter:
            msg = (
                f"eps={float(eps_t.max()):g} is larger than the l2 diameter {diameter:.3g} of the "
                f"input box {box}: eps is in input units (e.g. 36/255 = 0.141, not 36)"
            )
            raise ValueError(msg)
    return eps_t


def margin_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    r""":math:`\max_{j \ne y} f_j - f_y = -M_f(x)` per row (:func:`lipviz.functional.margins`):
    positive exactly when the prediction is not ``y``; the loss every attack maximises.

    Parameters
    ----------
    logits : Tensor
        Shape ``(N, C)``.
    y : Tensor
        Shape ``(N,)``, the labels.

    Returns
    -------
    Tensor
        Shape ``(N,)``.
    """
    return -margins(logits, y)


@dataclass(frozen=True, eq=False)
class AttackResult:
    """Adversarial inputs, whether each one changes the prediction, and its l2 distance."""

    x_adv: torch.Tensor
    success: torch.Tensor
    distance: torch.Tensor


def pgd_l2(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    eps,
    *,
    steps: int = 50,
    step_size: float | None = None,
    restarts: int = 1,
    box=(0.0, 1.0),
    seed: int = 0,
) -> AttackResult:
    r"""Projected gradient ascent on the margin loss within the l2 ball of radius ``eps``.

    Each step moves by ``step_size`` (default :math:`2.5\,\varepsilon/\text{steps}`) along the
    normalised gradient, then projects back onto the ball and the input box. Restarts begin at
    uniform random points of the ball; any success is kept (Madry et al., 2018).
    """
    eps_t = check_eps(eps, x, box)
    y = check_labels(y, len(x)).to(x.device)
    if steps < 1 or restarts < 1:
        msg = "steps and restarts must be >= 1"
        raise ValueError(msg)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    shape = (-1,) + (1,) * (x.dim() - 1)
    alpha = (step_size if step_size is not None else 2.5 / steps) * (
        eps_t if step_size is None else torch.ones_like(eps_t)
    )
    best = x.clone()
    best_loss = torch.full((len(x),), float("-inf"), device=x.device)
    with frozen(model):
        for r in range(restarts):
            delta = torch.zeros_like(x)
            if r > 0:
                noise = torch.randn(x.shape, generator=gen).to(x)
                noise = noise / noise.flatten(1).norm(dim=1).view(shape)
                u = torch.rand(len(x), generator=gen).to(x) ** (1 / x[0].numel())
                delta = noise * (u * eps_t).view(shape)
            for _ in range(steps):
                delta.requires_grad_(True)
                loss = margin_loss(model(x + delta), y)
                (grad,) = torch.autograd.grad(loss.sum(), delta)
                with torch.no_grad():
                    g = grad / grad.flatten(1).norm(dim=1).clamp_min(1e-12).view(shape)
                    delta = delta + alpha.view(shape) * g
                    norm = delta.flatten(1).norm(dim=1).clamp_min(1e-12)
                    delta = delta * torch.clamp(eps_t / norm, max=1.0).view(shape)
                    if box is not None:
                        delta = (x + delta).clamp(*box) - x
            with torch.no_grad():
                loss = margin_loss(model(x + delta), y)
                better = loss > best_loss
                best[better] = (x + delta)[better]
                best_loss = torch.where(better, loss, best_loss)
    dist = (best - x).flatten(1).norm(dim=1)
    return AttackResult(best.detach(), (best_loss > 0).detach(), dist.detach())


def minimal_l2(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    steps: int = 200,
    box=(0.0, 1.0),
    init_epsilon: float = 1.0,
) -> AttackResult:
    """The smallest l2 perturbation found that changes the prediction from ``y``, per input.

    Uses foolbox's decoupled direction and norm attack (DDN; Rony et al., 2019). ``distance`` is
    ``inf`` where no adversarial input was found. Every finite distance is realised by an actual
    input with another prediction, so it is an *upper* bound on the true distance to the
    decision boundary: a certified radius must never exceed it.
    """
    import warnings

    with warnings.catch_warnings():  # foolbox imports a deprecated scipy namespace
        warnings.simplefilter("ignore", DeprecationWarning)
        import foolbox as fb

    y = check_labels(y, len(x)).to(x.device)
    if steps < 1:
        msg = "steps must be >= 1"
        raise ValueError(msg)
    bounds = box if box is not None else (float(x.min()) - 1e3, float(x.max()) + 1e3)
    with frozen(model):
        fmodel = fb.PyTorchModel(model, bounds=bounds)
        attack = fb.attacks.DDNAttack(steps=steps, init_epsilon=init_epsilon)
        _, adv, success = attack(fmodel, x, y, epsilons=None)
        with torch.no_grad():
            success = success & (model(adv).argmax(1) != y)  # re-check with our own forward
    dist = (adv - x).flatten(1).norm(dim=1)
    dist = torch.where(success, dist, torch.full_like(dist, float("inf")))
    return AttackResult(adv.detach(), success.detach(), dist.detach())
