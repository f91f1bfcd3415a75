"""Certified l2 radii from a Lipschitz bound, and certified accuracy."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from .bounds import LipschitzBound, lipschitz_bound

__all__ = ["CertifiedRadii", "certified_accuracy", "certified_radius", "margins"]

SQRT2 = math.sqrt(2.0)


def margins(logits: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
    r"""The margin :math:`M_f(x) = f_t(x) - \max_{i \ne t} f_i(x)` for each row.

    ``t`` is the label if given (the margin is then negative on misclassified points), else the
    predicted class (the margin is then >= 0). Non-finite logits give a NaN margin.

    Examples
    --------
    >>> margins(torch.tensor([[2.0, 0.5, 1.0]])).tolist()
    [1.0]
    >>> margins(torch.tensor([[2.0, 0.5, 1.0]]), torch.tensor([1])).tolist()
    [-1.5]
    """
    if logits.dim() != 2 or logits.shape[1] < 2:
        msg = f"logits must have shape (N, C) with C >= 2, got {tuple(logits.shape)}"
        raise ValueError(msg)
    target = logits.argmax(1) if labels is None else labels
    own = logits.gather(1, target[:, None]).squeeze(1)
    others = logits.scatter(1, target[:, None], float("-inf")).amax(1)
    out = own - others
    finite = torch.isfinite(logits).all(1)
    return torch.where(finite, out, torch.full_like(out, float("nan")))


@dataclass(frozen=True, eq=False)
class CertifiedRadii:
    """Per-sample certified l2 radii (in input units) and how they were obtained.

    ``sound`` is true only if the Lipschitz bound is a guaranteed upper bound; otherwise the
    radii are *estimates*, not certificates.
    """

    radius: torch.Tensor
    predicted: torch.Tensor
    margin: torch.Tensor
    lipschitz: float
    sound: bool
    form: str

    @property
    def kind(self) -> str:
        return "certified" if self.sound else "estimate (not a certificate)"

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame(
            {
                "predicted": self.predicted.cpu().numpy(),
                "margin": self.margin.cpu().numpy(),
                "radius": self.radius.cpu().numpy(),
            }
        )


def _resolve_bound(model, x, bound, mode) -> LipschitzBound:
    if bound is None:
        return lipschitz_bound(model, tuple(x.shape[1:]), mode=mode)
    if not isinstance(bound, LipschitzBound):
        msg = "bound must be a LipschitzBound from lipviz.lipschitz_bound (it carries its mode)"
        raise TypeError(msg)
    if tuple(bound.input_shape) != tuple(x.shape[1:]):
        msg = f"bound was computed for inputs {bound.input_shape}, x has {tuple(x.shape[1:])}"
        raise ValueError(msg)
    return bound


def certified_radius(
    model: nn.Module,
    x: torch.Tensor,
    *,
    bound: LipschitzBound | None = None,
    mode: str = "sound",
    batch_size: int = 4096,
) -> CertifiedRadii:
    r"""Certified l2 radius of the predicted class for each input (global form, LMT).

    .. math:: \varepsilon(x) = \frac{M_f(x)}{\sqrt2\, L}

    where :math:`M_f` is the margin of the predicted class and :math:`L` a Lipschitz bound of
    the logit map (Tsuzuku et al., 2018). No input within that l2 distance of ``x`` changes the
    prediction if ``L`` is a sound bound. Non-finite logits get radius 0.

    Parameters
    ----------
    model
        The whole model, normalisation included, so radii are in input units.
    x
        Inputs (N, ...) in the model's input units.
    bound
        A precomputed :class:`~lipviz.bounds.LipschitzBound` (computed once, reused).
    mode
        Used only when ``bound`` is None: ``"sound"`` (default) or ``"estimate"``.
    """
    if x.dim() < 2:
        msg = f"x must be batched (N, ...), got shape {tuple(x.shape)}"
        raise ValueError(msg)
    lb = _resolve_bound(model, x, bound, mode)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            logits = torch.cat([model(xb) for xb in x.split(batch_size)])
    finally:
        model.train(was_training)
    margin = margins(logits)
    radius = margin / (SQRT2 * lb.value)
    radius = torch.nan_to_num(radius, nan=0.0, posinf=0.0, neginf=0.0).clamp_min(0.0)
    return CertifiedRadii(
        radius=radius,
        predicted=logits.argmax(1),
        margin=margin,
        lipschitz=lb.value,
        sound=lb.sound,
        form="global: margin / (sqrt(2) L)",
    )


def certified_accuracy(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    eps: Sequence[float],
    *,
    bound: LipschitzBound | None = None,
    mode: str = "sound",
):
    """Fraction of inputs correctly classified with a certified radius >= each ε.

    Returns a DataFrame with columns ``eps``, ``certified_accuracy``, ``kind``. At ε = 0 the
    value is the clean accuracy.
    """
    import pandas as pd

    eps_list = [float(e) for e in eps]
    if any((not math.isfinite(e)) or e < 0 for e in eps_list):
        msg = f"every eps must be a finite number >= 0, got {eps_list}"
        raise ValueError(msg)
    if len(y) != len(x):
        msg = f"x has {len(x)} rows but y has {len(y)}"
        raise ValueError(msg)
    cert = certified_radius(model, x, bound=bound, mode=mode)
    correct = cert.predicted.cpu() == y.cpu()
    radius = cert.radius.cpu()
    rows = [
        {
            "eps": e,
            "certified_accuracy": float(
                (correct & ((radius >= e) if e > 0 else True)).float().mean()
            ),
            "kind": cert.kind,
        }
        for e in eps_list
    ]
    return pd.DataFrame(rows)
