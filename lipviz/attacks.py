"""l2 attacks, with ε always in input units."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .functional import margins
from .functional.checks import check_eps, check_labels
from .state import frozen

__all__ = ["AttackResult", "margin_loss", "minimal_l2", "pgd_l2"]


def margin_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    r"""The margin loss that every attack maximises: the negated margin of ``y``, per row.

    .. math:: \ell(x, y) = \max_{j \ne y} f_j(x) - f_y(x) = -M_f(x)

    with :math:`M_f` the margin of :func:`lipviz.functional.margins`. It is positive exactly
    when the prediction is not ``y``.

    Parameters
    ----------
    logits : Tensor
        Shape ``(N, C)``.
    y : Tensor
        Shape ``(N,)``, the labels.

    Returns
    -------
    Tensor
        Shape ``(N,)``; NaN for rows with non-finite logits.

    Examples
    --------
    >>> margin_loss(torch.tensor([[2.0, 0.5, 1.0]]), torch.tensor([1])).tolist()
    [1.5]
    """
    return -margins(logits, y)


@dataclass(frozen=True, eq=False)
class AttackResult:
    r"""Adversarial inputs, whether each one changes the prediction, and its l2 distance.

    Returned by :func:`pgd_l2` and :func:`minimal_l2`; all tensors are detached.

    Attributes
    ----------
    x_adv : Tensor
        Shape ``(N, ...)``, like the attacked inputs ``x``: the perturbed inputs.
    success : Tensor
        Shape ``(N,)``, bool: whether ``x_adv`` is predicted as another class than the label.
    distance : Tensor
        Shape ``(N,)``: :math:`\|x_{adv} - x\|_2` over the flattened input, per row
        (:func:`minimal_l2` puts ``inf`` where it found no adversarial input).
    """

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

    With :math:`\ell` the :func:`margin_loss` and :math:`\alpha` the step size, one step is

    .. math::

        \delta \leftarrow \delta + \alpha \frac{\nabla_\delta \ell(x + \delta, y)}
        {\|\nabla_\delta \ell(x + \delta, y)\|_2}, \qquad
        \delta \leftarrow \delta \min\Big(1, \frac{\varepsilon}{\|\delta\|_2}\Big), \qquad
        \delta \leftarrow \mathrm{clip}(x + \delta, \text{box}) - x,

    per input (norms over the flattened input). The first restart starts at :math:`\delta = 0`.
    Of all restarts, the point with the largest final loss is returned. The model runs in eval
    mode with its parameters' gradients off (:func:`lipviz.state.frozen`).

    Parameters
    ----------
    model : nn.Module
        Maps inputs ``(N, ...)`` to logits ``(N, C)``.
    x : Tensor
        Shape ``(N, ...)``, the clean inputs.
    y : Tensor
        Shape ``(N,)``, integer labels (the class the attack tries to move away from).
    eps : float, sequence of float or Tensor
        The l2 radius, a scalar or one per input (``(N,)``), in input units (see
        :func:`~lipviz.functional.checks.check_eps`).
    steps : int, default 50
        Gradient steps per restart (>= 1).
    step_size : float, optional
        The absolute step length :math:`\alpha`, the same for every input. Default:
        :math:`2.5\,\varepsilon_i/\text{steps}` for input :math:`i`.
    restarts : int, default 1
        Number of runs (>= 1); every run after the first starts at a uniform random point of
        the ball.
    box : tuple of float or None, default (0.0, 1.0)
        ``(low, high)`` range of valid input values; ``None`` for no clipping.
    seed : int, default 0
        Seed of the CPU generator that draws the random starts.

    Returns
    -------
    AttackResult
        ``x_adv`` of shape ``(N, ...)``; ``success`` ``(N,)`` is true where the margin loss of
        ``x_adv`` is > 0; ``distance`` ``(N,)`` is :math:`\|x_{adv} - x\|_2`.

    Raises
    ------
    ValueError
        For an invalid ``eps`` (:func:`~lipviz.functional.checks.check_eps`), invalid labels,
        or ``steps`` or
        ``restarts`` < 1.

    Examples
    --------
    The logits :math:`(x_1, -x_1)` of :math:`x = (x_1, x_2)`: the decision boundary
    :math:`x_1 = 0` is at distance 0.5 from :math:`(0.5, 0)`.

    >>> lin = nn.Linear(2, 2, bias=False)
    >>> _ = lin.weight.data.copy_(torch.tensor([[1.0, 0.0], [-1.0, 0.0]]))
    >>> x, y = torch.tensor([[0.5, 0.0]]), torch.tensor([0])
    >>> pgd_l2(lin, x, y, 0.4, steps=10, box=None).success.tolist()
    [False]
    >>> res = pgd_l2(lin, x, y, 0.6, steps=10, box=None)
    >>> res.success.tolist(), round(float(res.distance), 4)
    ([True], 0.6)
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
    r"""The smallest l2 perturbation found that changes the prediction from ``y``, per input.

    Uses foolbox's decoupled direction and norm attack (DDN; Rony et al., 2019). ``distance`` is
    ``inf`` where no adversarial input was found. Every finite distance is realised by an actual
    input with another prediction, so it is an *upper* bound on the true distance to the
    decision boundary: a certified radius must never exceed it.

    The model runs in eval mode with its parameters' gradients off
    (:func:`lipviz.state.frozen`); foolbox's success flags are re-checked with the model's own
    forward pass (``argmax != y``).

    Parameters
    ----------
    model : nn.Module
        Maps inputs ``(N, ...)`` to logits ``(N, C)``.
    x : Tensor
        Shape ``(N, ...)``, the clean inputs.
    y : Tensor
        Shape ``(N,)``, integer labels (the class the attack tries to move away from).
    steps : int, default 200
        DDN iterations (>= 1).
    box : tuple of float or None, default (0.0, 1.0)
        ``(low, high)``, foolbox's bounds on input values. ``None``: the range of ``x`` widened
        by 1000 on both sides.
    init_epsilon : float, default 1.0
        DDN's initial norm.

    Returns
    -------
    AttackResult
        ``x_adv`` of shape ``(N, ...)``, ``success`` ``(N,)`` bool and ``distance`` ``(N,)``,
        :math:`\|x_{adv} - x\|_2` where ``success`` is true, ``inf`` elsewhere.

    Raises
    ------
    ValueError
        For invalid labels or ``steps`` < 1.
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
