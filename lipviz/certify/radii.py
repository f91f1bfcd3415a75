"""Certified l2 radii from a Lipschitz bound: :class:`Certifier` and its results."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import torch
from torch import nn

from ..bounds import LipschitzBound, lipschitz_bound
from ..bounds.guards import check_hooks, current_weight
from ..bounds.registry import find_rule
from ..functional import certificate, certificate_scales, margins, row_distances
from ..functional.checks import model_dtype
from ..state import eval_mode, state_digest

__all__ = ["CertifiedRadii", "Certifier", "bisect_radii", "round_down"]


@dataclass(frozen=True, eq=False)
class CertifiedRadii:
    """Per-sample certified l2 radii (in input units) and how they were obtained.

    ``sound`` is true only if the Lipschitz bound is a guaranteed upper bound; otherwise the
    radii are *estimates*, not certificates. Returned by :class:`Certifier` and
    :func:`certified_radius`; ``kind`` labels the radii (``"certified"`` or an estimate).

    Parameters
    ----------
    radius : Tensor
        Shape ``(N,)``, in the model's compute dtype (float32 or float64), rounded down:
        the radius of the predicted class, >= 0 (0 for non-finite logits; may be ``inf``).
    predicted : Tensor
        Shape ``(N,)``, int64: the predicted classes.
    margin : Tensor
        Shape ``(N,)``: the margin :math:`M_f(x)` of the predicted class (NaN for non-finite
        logits).
    lipschitz : float
        The :math:`L` used: of the whole model (global form) or of everything before the last
        layer (pairwise form).
    sound : bool
        Whether :math:`L` is a guaranteed bound.
    form : str
        ``"global"`` or ``"pairwise"`` (Lipschitz radii), ``"local"``, ``"ibp"`` or ``"crown"``
        (radii found by bisection).
    """

    radius: torch.Tensor
    predicted: torch.Tensor
    margin: torch.Tensor
    lipschitz: float
    sound: bool
    form: str

    @property
    def kind(self) -> str:
        """``"certified"`` for sound radii, else ``"estimate (not a certificate)"``."""
        return "certified" if self.sound else "estimate (not a certificate)"

    def to_frame(self):
        """The radii as a table.

        Returns
        -------
        pandas.DataFrame
            ``N`` rows, columns ``predicted``, ``margin`` and ``radius``.
        """
        import pandas as pd

        return pd.DataFrame(
            {
                "predicted": self.predicted.cpu().numpy(),
                "margin": self.margin.cpu().numpy(),
                "radius": self.radius.cpu().numpy(),
            }
        )


FORMS = ("auto", "global", "pairwise")


def _last_linear(model: nn.Module):
    """(prefix, last) when ``model`` is a Sequential ending in ``nn.Linear``, else (None, None).

    The prefix is a plain Sequential of the same child instances under the same names.
    """
    if isinstance(model, nn.Sequential) and len(model._modules):
        items = list(model._modules.items())
        if isinstance(items[-1][1], nn.Linear):
            return nn.Sequential(OrderedDict(items[:-1])), items[-1][1]
    return None, None


class Certifier:
    r"""Certified radii for one model and input shape, with its bounds computed once.

    Two forms (Tsuzuku, Sato and Sugiyama, NeurIPS 2018):

    - ``"global"``: :math:`\varepsilon(x) = M_f(x) / (\sqrt2\, L)` with :math:`L` a bound of
      the whole logit map;
    - ``"pairwise"`` (last layer linear, rows :math:`w_i`): :math:`\varepsilon(x) =
      \min_{j\ne t} (f_t - f_j) / (L_{\text{prefix}} \|w_t - w_j\|)`, always over **all**
      classes, with :math:`L_{\text{prefix}}` a bound of everything before the last layer. It is
      never smaller than the global form with the product bound.

    ``"auto"`` picks ``"pairwise"`` when the model is a Sequential ending in ``nn.Linear``
    (and no ``bound`` is given), else ``"global"``. The bounds are tied to the weights: calling
    the certifier after the model's parameters or buffers change raises (:meth:`check_current`).

    Parameters
    ----------
    model : nn.Module
        The whole model, normalisation included, so radii are in input units.
    input_shape : tuple of int
        The input shape without the batch dimension (bounds depend on it).
    form : {"auto", "global", "pairwise"}
        The certificate form.
    mode : {"sound", "estimate"}
        Mode of the bounds computed here (:func:`lipviz.lipschitz_bound`); ``"estimate"``
        radii are labelled as estimates.
    bound : LipschitzBound, optional
        A precomputed bound of the whole model for ``input_shape`` (global form only); it is
        refused if it was computed for other weights.

    Attributes
    ----------
    lipschitz : float
        The :math:`L` of the certificate (of the prefix in the pairwise form; 1 for an empty
        prefix).
    bound : LipschitzBound or None
        The bound behind ``lipschitz`` (None for an empty prefix).
    sound : bool
        Whether the radii are certificates.

    Raises
    ------
    ValueError
        For an unknown form, a pairwise form without a last ``nn.Linear`` or with ``bound``,
        or a ``bound`` for other inputs or weights.

    Examples
    --------
    >>> net = nn.Sequential(nn.Linear(2, 2, bias=False))
    >>> _ = net[0].weight.data.copy_(torch.tensor([[1.0, 0.0], [-1.0, 0.0]]))
    >>> cert = Certifier(net, (2,))
    >>> cert.form, cert.lipschitz
    ('pairwise', 1.0)
    >>> float(cert(torch.tensor([[0.5, 3.0]])).radius[0])  # gap 1, ||w_0 - w_1|| = 2
    0.5
    """

    def __init__(
        self,
        model: nn.Module,
        input_shape,
        form: str = "auto",
        mode: str = "sound",
        bound: LipschitzBound | None = None,
    ):
        if form not in FORMS:
            msg = f"Unknown certificate form {form!r}; use one of {FORMS}"
            raise ValueError(msg)
        prefix, last = _last_linear(model)
        if form == "auto":
            form = "pairwise" if last is not None and bound is None else "global"
        if form == "pairwise" and last is None:
            msg = "the pairwise certificate needs an nn.Sequential whose last layer is nn.Linear"
            raise ValueError(msg)
        if form == "pairwise" and bound is not None:
            msg = "a precomputed bound is a bound of the whole model: use form='global' with it"
            raise ValueError(msg)
        self.model, self.form = model, form
        self.bound: LipschitzBound | None
        if form == "global":
            self.bound = bound or lipschitz_bound(model, input_shape, mode=mode)
            if tuple(self.bound.input_shape) != tuple(input_shape):
                msg = f"bound was computed for inputs {self.bound.input_shape}, not {input_shape}"
                raise ValueError(msg)
            self.lipschitz = self.bound.value
        else:
            check_hooks(model, "")
            find_rule(last)  # a Linear subclass overriding forward has other rows
            check_hooks(last, "last layer")
            if len(prefix):
                self.bound = lipschitz_bound(prefix, input_shape, mode=mode)
                self.lipschitz = self.bound.value
            else:
                self.bound, self.lipschitz = None, 1.0
            self.row_dist = row_distances(current_weight(last).detach().double())  # (C, C)
        self.digest = state_digest(model)
        if bound is not None and bound.state_digest not in ("", self.digest):
            msg = (
                "the bound was computed for other weights (another model, or this one before an "
                "edit or a training step): recompute it with lipviz.lipschitz_bound(model, ...)"
            )
            raise ValueError(msg)
        self.sound = self.bound is None or self.bound.sound
        self.input_shape = tuple(input_shape)

    def check_current(self) -> None:
        """Raise if the model's parameters or buffers changed since this certifier was built."""
        if state_digest(self.model) != self.digest:
            msg = (
                "the model changed since this Certifier was built (a training step, "
                "load_state_dict, or an edit of a weight or buffer): its bounds describe the old "
                "weights. Build a new Certifier."
            )
            raise RuntimeError(msg)

    def radii_from_logits(self, logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        r"""(radius, margin) of the predicted class, from logits (N, C), in float64.

        .. math:: \varepsilon(x) = \min_{j \ne t} \frac{f_t(x) - f_j(x)}{s_{tj}},
            \qquad t = \arg\max_j f_j(x)

        with the scales :math:`s_{tj}` of this certifier's form
        (:func:`lipviz.functional.certificate_scales`). The model is not run and not checked.

        Parameters
        ----------
        logits : Tensor
            Shape ``(N, C)``, the model's outputs (cast to float64).

        Returns
        -------
        radius : Tensor
            Shape ``(N,)``, float64, >= 0: 0 for rows with non-finite logits, possibly
            ``inf``; not yet rounded to the model's dtype (see :func:`round_down`).
        margin : Tensor
            Shape ``(N,)``, float64: :math:`M_f(x)` of the predicted class.
        """
        logits = logits.double()
        margin = margins(logits)
        pred = logits.argmax(1)
        table = None if self.form == "global" else self.row_dist.to(logits.device, logits.dtype)
        radius = certificate(logits, pred, certificate_scales(logits, pred, self.lipschitz, table))
        finite = torch.isfinite(logits).all(1) & torch.isfinite(margin)
        radius = torch.where(finite, radius, torch.zeros_like(radius))
        return radius.nan_to_num(nan=0.0, posinf=float("inf")).clamp_min(0.0), margin

    def __call__(self, x: torch.Tensor, batch_size: int = 4096) -> CertifiedRadii:
        """Certified radii of the predicted classes of a batch.

        The model runs in eval mode, without gradients and outside autocast, in its own dtype
        (float32 or float64); the radii are computed in float64 and rounded down to it.

        Parameters
        ----------
        x : Tensor
            Shape ``(N, *input_shape)``, on the model's device, no wider than the model's
            dtype.
        batch_size : int
            Inputs per forward pass.

        Returns
        -------
        CertifiedRadii
            Per-input ``radius``, ``predicted`` and ``margin``, each of shape ``(N,)``.

        Raises
        ------
        ValueError
            For a wrong shape, a float16/bfloat16 model, or ``x`` wider than the model's dtype.
        RuntimeError
            If the model changed since the certifier was built.
        """
        if x.dim() < 2:
            msg = f"x must be batched (N, ...), got shape {tuple(x.shape)}"
            raise ValueError(msg)
        if tuple(x.shape[1:]) != self.input_shape:
            msg = f"certifier was built for inputs {self.input_shape}, x has {tuple(x.shape[1:])}"
            raise ValueError(msg)
        model = self.model
        dtypes = {t.dtype for t in (*model.parameters(), *model.buffers()) if t.is_floating_point()}
        low = {torch.float16, torch.bfloat16}
        if dtypes & low:
            msg = "certificates are computed in fp32 or wider: convert the model with model.float()"
            raise ValueError(msg)
        dtype = torch.float64 if torch.float64 in dtypes else torch.float32
        if x.is_floating_point() and x.dtype.itemsize > dtype.itemsize:
            msg = (
                f"x is {x.dtype} but the model computes in {dtype}: rounding x would certify "
                "other points. Convert the model (model.double()) or x explicitly."
            )
            raise ValueError(msg)
        x = x.to(dtype)  # exact: never narrower than x
        self.check_current()
        # fp32 or wider even inside an autocast region (mixed-precision training)
        with eval_mode(model), torch.no_grad(), torch.autocast(x.device.type, enabled=False):
            logits = torch.cat([model(xb) for xb in x.split(batch_size)])
        radius, margin = self.radii_from_logits(logits.double())
        radius, margin = round_down(radius, dtype), margin.to(dtype)
        return CertifiedRadii(
            radius=radius,
            predicted=logits.argmax(1),
            margin=margin,
            lipschitz=self.lipschitz,
            sound=self.sound,
            form=self.form,
        )


def round_down(value: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``value`` in ``dtype``, rounded toward zero, so a float64 radius never grows when narrowed.

    For each non-negative entry the result is the largest ``dtype`` number not above it
    (float64 values larger than the largest finite float32 become that number). It is meant
    for radii: a negative entry is not guaranteed to come out below its value.

    Parameters
    ----------
    value : Tensor
        Any shape, typically ``(N,)`` float64 radii (>= 0, possibly ``inf``).
    dtype : torch.dtype
        The target floating dtype.

    Returns
    -------
    Tensor
        Same shape as ``value``, in ``dtype``.

    Examples
    --------
    >>> r = torch.tensor([0.1], dtype=torch.float64)
    >>> bool(round_down(r, torch.float32).double() <= r)
    True
    """
    out = value.to(dtype)
    up = out.double() > value.double()
    return torch.where(up, torch.nextafter(out, torch.zeros_like(out)), out)


def bisect_radii(
    model: nn.Module,
    x: torch.Tensor,
    eps_max: float,
    certified_at,
    *,
    steps: int,
    sound: bool,
    form: str,
) -> CertifiedRadii:
    r"""Per-input radii by bisection on :math:`\varepsilon \in [0, \varepsilon_{\max}]`, for a
    certificate that proves one ball at a time.

    Every returned radius is one at which ``certified_at`` answered True (or 0): a ball's
    certificate holds on every smaller ball, so the radius is certified whatever the
    monotonicity of the bound itself, and it is a lower bound of the best radius the
    certificate could prove (within ``eps_max / 2**steps`` where its answers are monotone).

    Parameters
    ----------
    model : nn.Module
        The certified model (for its predictions and margins).
    x : Tensor
        Inputs, shape ``(N, *input_shape)``, already checked by the caller.
    eps_max : float
        The largest radius tried (input units), finite and > 0.
    certified_at : callable
        ``radii (N,) float64 -> bool (N,)``: whether each ball is certified.
    steps : int
        Bisection steps (>= 0).
    sound : bool
        Labels the radii (``CertifiedRadii.sound``).
    form : str
        Labels the radii (``CertifiedRadii.form``).

    Returns
    -------
    CertifiedRadii
        Rounded down to the model's dtype; ``lipschitz`` is NaN.

    Examples
    --------
    >>> net = nn.Linear(1, 2)
    >>> x = torch.zeros(3, 1)
    >>> r = bisect_radii(net, x, 1.0, lambda e: e <= 0.3, steps=10, sound=True, form="toy")
    >>> [round(float(v), 3) for v in r.radius]
    [0.3, 0.3, 0.3]
    """
    n = len(x)
    lo = torch.zeros(n, dtype=torch.float64)
    hi = torch.full((n,), float(eps_max), dtype=torch.float64)
    ok_max = certified_at(hi.clone()).cpu()
    for _ in range(steps):
        mid = (lo + hi) / 2
        ok = certified_at(mid.clone()).cpu()
        lo, hi = torch.where(ok, mid, lo), torch.where(ok, hi, mid)
    radius = torch.where(ok_max, torch.full_like(lo, float(eps_max)), lo)
    dtype = model_dtype(model)
    with eval_mode(model), torch.no_grad(), torch.autocast(x.device.type, enabled=False):
        logits = model(x.detach().to(dtype, copy=True))
    return CertifiedRadii(
        radius=round_down(radius, dtype),
        predicted=logits.argmax(1),
        margin=margins(logits),
        lipschitz=float("nan"),
        sound=sound,
        form=form,
    )
