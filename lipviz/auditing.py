"""Check certificates against honest attacks: violations, tightness, empirical Lipschitz bounds.

``audit(model, x, y)`` attacks every certified point *inside* its certified radius (PGD-l2 from
several restarts) and counts the points whose prediction changed (a sound certificate allows
none). It also pits empirical *lower* bounds on the Lipschitz constant (local Jacobian norms
improved by gradient ascent, and ascent on pairs of inputs) against the claimed upper bound.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch
from torch import nn

from .attacks import margin_loss, minimal_l2, pgd_l2
from .bounds import lipschitz_bound
from .certify import Certifier
from .exact.jacobian import local_jacobian_norms
from .functional.checks import check_labels
from .state import eval_mode, frozen

__all__ = ["AuditReport", "audit", "empirical_lipschitz", "tightness"]


def _flat_norm(t: torch.Tensor) -> torch.Tensor:
    return t.flatten(1).norm(dim=1)


def empirical_lipschitz(
    model: nn.Module, x: torch.Tensor, *, steps: int = 50, lr: float = 0.05, seed: int = 0
) -> dict:
    r"""Two lower bounds on :math:`\mathrm{Lip}(f)` found by search from the inputs ``x``.

    - ``"jacobian"``: the largest :math:`\|J_f(x)\|_2` after gradient ascent of
      :math:`\|J_f(x) v\|` on :math:`x` (:math:`v` the top right singular vector). For ReLU
      networks the Jacobian is piecewise constant and the ascent only helps between pieces; the
      starting points still count.
    - ``"pairs"``: the largest :math:`\|f(a) - f(b)\| / \|a - b\|` after gradient ascent on both
      points, starting from :math:`b = a + 10^{-2} v`.

    Any value found is a valid lower bound; a sound upper bound must be above both:

    .. math::

        \|J_f(a)\|_2 \le \mathrm{Lip}(f) \quad\text{and}\quad
        \frac{\|f(a) - f(b)\|_2}{\|a - b\|_2} \le \mathrm{Lip}(f)

    for all :math:`a \ne b` (l2 norms over flattened inputs and outputs). The Jacobian search
    starts from :func:`lipviz.exact.jacobian.local_jacobian_norms` at ``x``; each step updates
    :math:`v \leftarrow J_f(a)^\top J_f(a) v` (one power-iteration step, normalised at the next)
    and moves every :math:`a` by ``lr`` along the normalised gradient of :math:`\|J_f(a) v\|`.
    The pair search runs Adam (learning rate ``lr / 5``) on both points of each pair. The model
    runs in eval mode with its parameters' gradients off (:func:`lipviz.state.frozen`).

    Parameters
    ----------
    model : nn.Module
        Maps inputs ``(N, ...)`` to outputs ``(N, ...)``, treating rows independently.
    x : Tensor
        Shape ``(N, ...)``, the starting points.
    steps : int, default 50
        Ascent steps of each search.
    lr : float, default 0.05
        Step length of the Jacobian ascent (the pair search uses ``lr / 5``).
    seed : int, default 0
        Seed of the random starting direction :math:`v`.

    Returns
    -------
    dict
        ``{"jacobian": float, "pairs": float}``, the largest value of each search over all
        rows and steps.
    """
    with frozen(model):
        gen = torch.Generator().manual_seed(seed)
        shape = (-1,) + (1,) * (x.dim() - 1)
        start = local_jacobian_norms(model, x)
        best_jac = float(start.max())
        a = x.detach().clone()
        v = torch.randn(x.shape, generator=gen).to(x)
        for _ in range(steps):
            v = (v / _flat_norm(v).clamp_min(1e-12).view(shape)).detach()
            a = a.detach().requires_grad_(True)
            _, jv = torch.autograd.functional.jvp(model, a, v, create_graph=True)
            norms = _flat_norm(jv)
            best_jac = max(best_jac, norms.max().item())
            g = None  # piecewise-linear models: the norm may not depend on a at all
            if norms.requires_grad:
                (g,) = torch.autograd.grad(norms.sum(), a, allow_unused=True)
            with torch.no_grad():
                _, vjp_fn = torch.func.vjp(model, a.detach())
                (v,) = vjp_fn(jv.detach())  # one power-iteration step for v
                if g is not None:
                    a = a + lr * g / _flat_norm(g).clamp_min(1e-12).view(shape)
        p = x.detach().clone().requires_grad_(True)
        q = (
            (x + 1e-2 * v / _flat_norm(v).clamp_min(1e-12).view(shape))
            .detach()
            .requires_grad_(True)
        )
        opt = torch.optim.Adam([p, q], lr=lr * 0.2)
        best_pair = 0.0
        for _ in range(steps):
            ratio = _flat_norm(model(p) - model(q)) / _flat_norm(p - q).clamp_min(1e-9)
            best_pair = max(best_pair, ratio.max().item())
            opt.zero_grad()
            # gradients of the two points only: the model's .grad stays untouched
            p.grad, q.grad = torch.autograd.grad(-ratio.sum(), [p, q])
            opt.step()
    return {"jacobian": best_jac, "pairs": best_pair}


def tightness(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    steps: int = 200,
    box=(0.0, 1.0),
    certifier: Certifier | None = None,
):
    r"""Per-sample certified radius against the smallest adversarial perturbation found.

    Columns: ``label``, ``predicted``, ``correct``, ``certified_radius``, ``attack_distance``
    (DDN minimal-norm attack on the prediction; inf if none found), ``local_estimate``
    (margin / ||grad of the top-two logit gap||, a first-order guess of the distance) and
    ``ratio`` = certified / attack distance (1 would be a perfectly tight certificate). The frame's
    ``attrs["summary"]`` holds medians and the count of violations (certified > attack).

    With :math:`t` the predicted class and :math:`r` the runner-up at :math:`x`,

    .. math::

        \text{local\_estimate}(x) = \frac{f_t(x) - f_r(x)}
        {\|\nabla_x (f_t - f_r)(x)\|_2},

    the distance at which the linearised gap between :math:`t` and :math:`r` vanishes: a first-order
    estimate, neither an upper nor a lower bound in general.

    Parameters
    ----------
    model : nn.Module
        Maps inputs ``(N, ...)`` to logits ``(N, C)``.
    x : Tensor
        Shape ``(N, ...)``, the inputs.
    y : Tensor
        Shape ``(N,)``, integer labels (the attack targets the *prediction*, not ``y``).
    steps : int, default 200
        Iterations of the minimal attack (:func:`lipviz.attacks.minimal_l2`).
    box : tuple of float or None, default (0.0, 1.0)
        ``(low, high)`` range of valid input values for the attack.
    certifier : lipviz.Certifier, optional
        Built for ``model`` and ``x.shape[1:]`` when omitted (form ``"auto"``, sound mode).

    Returns
    -------
    pandas.DataFrame
        ``N`` rows, the columns above. ``attrs["summary"]`` is a dict with ``points``,
        ``attack_found``, ``violations``, ``median_certified``, ``median_attack_distance``,
        ``median_ratio`` (both over the points where the attack succeeded) and
        ``certificate``.
    """
    import pandas as pd

    y = check_labels(y, len(x))
    certifier = certifier or Certifier(model, tuple(x.shape[1:]))
    cert = certifier(x)
    pred = cert.predicted
    attack = minimal_l2(model, x, pred, steps=steps, box=box)
    xg = x.detach().clone().requires_grad_(True)
    with frozen(model):
        logits = model(xg)
    runner_up = logits.detach().scatter(1, pred[:, None], float("-inf")).argmax(1)
    gap = logits.gather(1, pred[:, None]).squeeze(1) - logits.gather(1, runner_up[:, None]).squeeze(
        1
    )
    (grad,) = torch.autograd.grad(gap.sum(), xg)
    local = (gap.detach() / _flat_norm(grad).clamp_min(1e-12)).cpu()
    frame = pd.DataFrame(
        {
            "label": y.cpu().numpy(),
            "predicted": pred.cpu().numpy(),
            "correct": (pred == y).cpu().numpy(),
            "certified_radius": cert.radius.cpu().numpy(),
            "attack_distance": attack.distance.cpu().numpy(),
            "local_estimate": local.numpy(),
        }
    )
    frame["ratio"] = frame["certified_radius"] / frame["attack_distance"]
    found = frame["attack_distance"] < float("inf")
    frame.attrs["summary"] = {
        "points": len(frame),
        "attack_found": int(found.sum()),
        "violations": int(
            (frame["certified_radius"] > frame["attack_distance"] * (1 + 1e-6)).sum()
        ),
        "median_certified": float(frame["certified_radius"].median()),
        "median_attack_distance": float(frame.loc[found, "attack_distance"].median()),
        "median_ratio": float(frame.loc[found, "ratio"].median()),
        "certificate": f"{cert.form}, {'sound' if cert.sound else 'estimate'}",
    }
    return frame


@dataclass(eq=False)
class AuditReport:
    """What :func:`audit` found. ``violations`` must be 0 for a sound certificate.

    Shown as a table of checks (``repr``, and HTML in notebooks) followed by the closest calls.

    Attributes
    ----------
    points : int
        Number of inputs audited, ``N``.
    certified : int
        Inputs classified correctly with a finite certified radius > 0 (the ones attacked).
    violations : int
        Attacked inputs whose prediction changed inside their certified radius.
    worst : pandas.DataFrame
        Up to ``n_worst`` attacked inputs with the largest margin loss after the attack (the
        closest calls), with columns ``index``, ``certified_radius``, ``attack_norm`` and
        ``attack_margin`` (:func:`lipviz.attacks.margin_loss`; < 0 means the prediction held).
    lipschitz_claimed : float
        The sound upper bound of :func:`lipviz.lipschitz_bound` on the whole model.
    lipschitz_found : dict
        Empirical lower bounds, ``{"jacobian": float, "pairs": float}``
        (:func:`empirical_lipschitz`).
    certificate : str
        The certificate's form and kind, e.g. ``"pairwise, sound"``.
    seconds : float
        Wall time of the audit.
    settings : dict
        The attack settings: ``restarts``, ``steps``, ``fraction`` and ``box``.
    """

    points: int
    certified: int
    violations: int
    worst: object  # DataFrame: the certified points closest to flipping under attack
    lipschitz_claimed: float
    lipschitz_found: dict
    certificate: str
    seconds: float
    settings: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """Whether the audit found nothing against the certificate.

        True when there is no violation and no empirical Lipschitz lower bound exceeds the
        claimed bound (beyond a relative tolerance of 1e-6).
        """
        found = max(self.lipschitz_found.values(), default=0.0)
        return self.violations == 0 and found <= self.lipschitz_claimed * (1 + 1e-6)

    def to_frame(self):
        """The report as a two-column table.

        Returns
        -------
        pandas.DataFrame
            Indexed by ``check`` (points, certified, violations, certificate, the claimed and
            found Lipschitz values, the verdict and the seconds), one column ``result``.
        """
        import pandas as pd

        rows = [
            ("points audited", self.points),
            ("certified (correct, radius > 0)", self.certified),
            ("violations inside certified radii", self.violations),
            ("certificate", self.certificate),
            ("claimed Lipschitz bound (sound)", f"{self.lipschitz_claimed:.4g}"),
            ("largest Jacobian norm found", f"{self.lipschitz_found.get('jacobian', 0):.4g}"),
            ("largest pair ratio found", f"{self.lipschitz_found.get('pairs', 0):.4g}"),
            ("verdict", "PASS" if self.passed else "FAIL"),
            ("seconds", f"{self.seconds:.1f}"),
        ]
        return pd.DataFrame(rows, columns=["check", "result"]).set_index("check")

    def __repr__(self) -> str:
        worst = self.worst.to_string(index=False) if len(self.worst) else "(none)"
        return (
            f"{self.to_frame().to_string()}\n\nclosest calls (attack margin < 0 means the "
            f"prediction held):\n{worst}"
        )

    def _repr_html_(self) -> str:
        return self.to_frame()._repr_html_() + "<p>closest calls</p>" + self.worst._repr_html_()


def audit(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    restarts: int = 5,
    steps: int = 100,
    fraction: float = 0.999,
    box=(0.0, 1.0),
    n_worst: int = 5,
    lipschitz_steps: int = 30,
    seed: int = 0,
) -> AuditReport:
    """Attack certified points inside their radii and compare Lipschitz lower and upper bounds.

    Every certified point (correctly classified, with a finite radius > 0) is attacked with
    :func:`lipviz.attacks.pgd_l2` inside ``fraction`` of its certified radius (clamped to the l2
    diameter of ``box``); a point whose prediction changes is a violation, which a sound
    certificate never allows. Then the empirical Lipschitz lower bounds of
    :func:`empirical_lipschitz` (on the first 64 inputs at most) are compared with the claimed
    sound bound of :func:`lipviz.lipschitz_bound`; see the module docstring.

    Parameters
    ----------
    model : nn.Module
        Maps inputs ``(N, ...)`` to logits ``(N, C)``.
    x : Tensor
        Shape ``(N, ...)``, the inputs.
    y : Tensor
        Shape ``(N,)``, integer labels.
    restarts : int, default 5
        PGD restarts per point.
    steps : int, default 100
        PGD steps per restart.
    fraction : float, default 0.999
        In ``(0, 1]``: the attack radius as a fraction of the certified radius.
    box : tuple of float or None, default (0.0, 1.0)
        ``(low, high)`` range of valid input values; ``None`` for no clipping.
    n_worst : int, default 5
        Rows of :attr:`AuditReport.worst`.
    lipschitz_steps : int, default 30
        Steps of each :func:`empirical_lipschitz` search.
    seed : int, default 0
        Seed of the PGD restarts and of the Lipschitz search.

    Returns
    -------
    AuditReport
        ``report.passed`` is true when nothing contradicts the certificate.

    Raises
    ------
    ValueError
        If ``fraction`` is not in ``(0, 1]`` or the labels are invalid.
    """
    import pandas as pd

    if not 0 < fraction <= 1:
        msg = f"fraction must be in (0, 1], got {fraction}"
        raise ValueError(msg)
    y = check_labels(y, len(x)).to(x.device)
    start = time.perf_counter()
    shape = tuple(x.shape[1:])
    cert = Certifier(model, shape)(x)
    ok = (cert.predicted == y) & (cert.radius > 0) & torch.isfinite(cert.radius)
    idx = ok.nonzero().flatten()
    worst = pd.DataFrame(columns=["index", "certified_radius", "attack_norm", "attack_margin"])
    violations = 0
    if len(idx):
        radius = cert.radius[idx] * fraction
        if box is not None:  # no input of the box is farther away than its diameter
            radius = radius.clamp(max=(box[1] - box[0]) * math.sqrt(x[0].numel()))
        res = pgd_l2(
            model, x[idx], y[idx], radius, steps=steps, restarts=restarts, box=box, seed=seed
        )
        with torch.no_grad(), eval_mode(model):
            after = margin_loss(model(res.x_adv), y[idx])
        violations = int(res.success.sum())
        order = after.argsort(descending=True)[:n_worst]
        worst = pd.DataFrame(
            {
                "index": idx[order].cpu().numpy(),
                "certified_radius": cert.radius[idx][order].cpu().numpy(),
                "attack_norm": res.distance[order].cpu().numpy(),
                "attack_margin": after[order].cpu().numpy(),
            }
        )
    claimed = lipschitz_bound(model, shape).value
    found = empirical_lipschitz(model, x[: min(len(x), 64)], steps=lipschitz_steps, seed=seed)
    return AuditReport(
        points=len(x),
        certified=len(idx),
        violations=violations,
        worst=worst,
        lipschitz_claimed=claimed,
        lipschitz_found=found,
        certificate=f"{cert.form}, {'sound' if cert.sound else 'estimate'}",
        seconds=time.perf_counter() - start,
        settings={"restarts": restarts, "steps": steps, "fraction": fraction, "box": box},
    )
