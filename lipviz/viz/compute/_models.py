"""Pure computations about trained models: certified fractions, radii of correct inputs,
accuracy against ε, LMT's margin profile and a 2-D point's certificate (no plotting;
exported by :mod:`lipviz.viz.compute`)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ...certify import Certifier
from ...functional import (
    certificate_scales,
    margins,
)
from ...functional.checks import check_labels
from ...state import eval_mode

__all__ = [
    "accuracy_vs_eps",
    "certified_fractions",
    "correct_radii",
    "lmt_c_profile",
    "point_certificate",
]


def certified_fractions(radii: dict, eps) -> object:
    r"""Fraction certified at each ε (radius > ε; at ε = 0, radius > 0) for several models.

    ``radii`` maps a label to per-input certified radii that are 0 for misclassified inputs
    (e.g. ``CertifiedRadii.radius * correct``). Returns a DataFrame ``label``, ``eps``,
    ``fraction``.

    For radii :math:`r_1, \dots, r_N` the fraction is
    :math:`\frac1N \#\{i : r_i > \varepsilon\}` for :math:`\varepsilon > 0` and
    :math:`\frac1N \#\{i : r_i > 0\}` otherwise.

    Parameters
    ----------
    radii : dict
        Maps a label to array-like radii of shape ``(N,)`` (``N`` may differ between labels),
        0 for misclassified inputs (:func:`correct_radii`).
    eps : float or sequence of float
        The radii ε at which to count.

    Returns
    -------
    pandas.DataFrame
        One row per (label, ε), label by label, columns ``label``, ``eps`` (float) and
        ``fraction`` (in [0, 1]).

    Examples
    --------
    >>> certified_fractions({"a": np.array([0.0, 0.5, 1.0])}, [0, 0.5]).fraction.tolist()
    [0.6666666666666666, 0.3333333333333333]
    """
    import pandas as pd

    rows = []
    for label, r in radii.items():
        r = np.asarray(r, dtype=float)
        for e in np.atleast_1d(eps):
            hit = r > e if e > 0 else r > 0
            rows.append({"label": label, "eps": float(e), "fraction": float(hit.mean())})
    return pd.DataFrame(rows)


def correct_radii(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """Sound certified radii, with 0 for misclassified inputs (and 0 < r for correct ones).

    Parameters
    ----------
    model : nn.Module
        A model the sound :class:`lipviz.certify.Certifier` supports.
    x : Tensor
        Inputs, shape ``(N, ...)``, in input units.
    y : Tensor
        Labels, shape ``(N,)``.

    Returns
    -------
    numpy.ndarray
        Shape ``(N,)``: each correctly classified input's radius (at least ``1e-12``), 0 for
        the others.
    """
    cert = Certifier(model, tuple(x.shape[1:]))(x)
    ok = cert.predicted == check_labels(y, len(x)).to(cert.predicted.device)
    return torch.where(ok, cert.radius.clamp_min(1e-12), torch.zeros_like(cert.radius)).numpy()


def accuracy_vs_eps(
    model: nn.Module, x, y, eps, *, steps: int = 20, restarts: int = 1, box=(0.0, 1.0)
) -> object:
    """Clean, certified (sound) and empirical (PGD-l2) accuracy at each ε.

    Empirical accuracy is an upper bound on robust accuracy and certified accuracy a lower
    bound, so ``certified <= empirical <= clean`` at every ε (a test checks it). Returns a
    DataFrame ``eps``, ``clean``, ``certified``, ``empirical``.

    The radii are those of :func:`correct_radii` (a sound :class:`lipviz.certify.Certifier`,
    0 for misclassified inputs). ``certified`` counts the inputs with a radius *greater than*
    ε (as :func:`lipviz.certified_accuracy`: at a radius equal to ε a tie can flip the
    argmax); ``empirical`` counts the correctly classified inputs that
    :func:`lipviz.attacks.pgd_l2` does not flip within radius ε (at ε = 0 no attack is run and
    it equals ``clean``).

    Two facts spare attacks without changing what is measured. An input certified at a radius
    greater than ε cannot be flipped within ε, so it is not attacked (the certificate is
    sound). And an adversarial example found within a smaller radius lies within every larger
    one, so an input flipped at some ε counts as flipped at every larger ε and is not attacked
    again: the empirical curve is the accuracy under the strongest attack found so far, and
    never rises with ε.

    Parameters
    ----------
    model : nn.Module
        A classifier with a registered sound bound for every layer.
    x : Tensor
        Inputs of shape ``(N, ...)``, on the CPU (the radii become a NumPy array).
    y : Tensor
        Integer labels of shape ``(N,)``.
    eps : iterable of float
        The l2 radii ε, in input units.
    steps : int
        PGD steps per restart.
    restarts : int
        PGD restarts (the first starts at the input, the others at random points of the ball).
    box : tuple of float
        ``(low, high)``: the input range PGD's perturbed inputs are clipped to.

    Returns
    -------
    pandas.DataFrame
        One row per ε, columns ``eps``, ``clean``, ``certified`` and ``empirical`` (fractions
        of the ``N`` inputs, in [0, 1]).
    """
    import pandas as pd

    from ...attacks import pgd_l2

    radii = correct_radii(model, x, y)
    clean = float((radii > 0).mean())
    robust = torch.as_tensor(radii > 0)  # not yet flipped by any attack
    rows = {}
    for e in sorted({float(e) for e in eps}):
        todo = robust & ~torch.as_tensor(radii > e)  # certified inputs cannot be flipped
        if e > 0 and todo.any():
            idx = todo.nonzero().flatten()
            attack = pgd_l2(model, x[idx], y[idx], e, steps=steps, restarts=restarts, box=box)
            robust[idx] = ~attack.success.cpu()
        rows[e] = {
            "eps": e,
            "clean": clean,
            "certified": float(np.mean(radii > e)),
            "empirical": float(robust.double().mean()),
        }
    return pd.DataFrame([rows[float(e)] for e in eps])


def lmt_c_profile(model: nn.Module, x, y, c_values) -> object:
    r"""What LMT's :math:`c` asks of a trained model.

    LMT adds :math:`c\,L_{\text{prefix}}\|w_j - w_y\|` (pairwise; :math:`\sqrt2\,c\,L` in the
    global form) to every wrong logit, so a point meets the LMT margin at :math:`c` exactly when
    it is certified at radius :math:`c`. For each ``c``: the fraction meeting it and the mean
    cross-entropy of the enlarged logits. Returns a DataFrame ``c``, ``fraction_met``,
    ``lmt_loss``.

    With :math:`s_{yj}` the certificate scales of :func:`lipviz.functional.certificate_scales`
    (Tsuzuku, Sato and Sugiyama, NeurIPS 2018), computed from the sound bound of a
    :class:`lipviz.certify.Certifier`, the enlarged logits of an input with label :math:`y` are
    :math:`\tilde f_j = f_j + c\, s_{yj}` for :math:`j \ne y` and :math:`\tilde f_y = f_y`. It
    meets the margin when :math:`\tilde f_y - \max_{j \ne y} \tilde f_j > 0`, that is when
    :math:`\min_{j \ne y} (f_y - f_j) / s_{yj} > c`.

    Parameters
    ----------
    model : nn.Module
        A classifier with a registered sound bound for every layer (the pairwise form is used
        when it is an ``nn.Sequential`` ending in ``nn.Linear``).
    x : Tensor
        Inputs of shape ``(N, ...)``.
    y : Tensor
        Labels of shape ``(N,)``, int64.
    c_values : iterable of float
        The LMT parameters :math:`c` (radii in input units).

    Returns
    -------
    pandas.DataFrame
        One row per :math:`c`, columns ``c``, ``fraction_met`` (fraction of the ``N`` inputs
        meeting the margin, in [0, 1]) and ``lmt_loss`` (mean cross-entropy of
        :math:`\tilde f` against ``y``).
    """
    import pandas as pd

    cert = Certifier(model, tuple(x.shape[1:]))
    with torch.no_grad(), eval_mode(model):
        logits = model(x).double()
    table = cert.row_dist.double() if cert.form == "pairwise" else None
    scale = certificate_scales(logits, y, cert.lipschitz, table)  # (N, C), as LMT adds it
    scale = scale.scatter(1, y[:, None], 0.0)
    rows = []
    for c in c_values:
        enlarged = logits + float(c) * scale
        met = margins(enlarged, y) > 0
        loss = nn.functional.cross_entropy(enlarged, y)
        rows.append(
            {"c": float(c), "fraction_met": float(met.double().mean()), "lmt_loss": float(loss)}
        )
    return pd.DataFrame(rows)


def point_certificate(model: nn.Module, point, **boundary_kwargs) -> dict:
    """The sound certified radius of one 2-D point and its true distance to the boundary.

    Parameters
    ----------
    model : nn.Module
        A classifier on 2-D inputs, with a registered sound bound for every layer.
    point : array-like
        Two coordinates (anything that reshapes to ``(1, 2)``).
    **boundary_kwargs
        Passed to :func:`lipviz.exact.planar.boundary_distance` (``n_directions``, ``r_max``,
        ``n_steps``, ``n_bisect``).

    Returns
    -------
    dict
        ``x``, ``y`` (the point, float), ``predicted`` (int), ``certified_radius`` (the sound
        :class:`lipviz.certify.Certifier` radius of the predicted class) and ``true_distance``
        (the ray-scan distance to the nearest change of class; ``inf`` if none within
        ``r_max``).

    Examples
    --------
    >>> lin = nn.Linear(2, 2, bias=False)
    >>> _ = lin.weight.data.copy_(torch.tensor([[1.0, 0.0], [-1.0, 0.0]]))
    >>> p = point_certificate(nn.Sequential(lin), [0.5, 0.0], n_directions=4)
    >>> p["predicted"], round(p["certified_radius"], 3), round(p["true_distance"], 3)
    (0, 0.5, 0.5)
    """
    from ...exact.planar import boundary_distance

    x = torch.as_tensor(point, dtype=torch.float32).reshape(1, 2)
    cert = Certifier(model, (2,))(x)
    true = boundary_distance(model, x, **boundary_kwargs)
    return {
        "x": float(x[0, 0]),
        "y": float(x[0, 1]),
        "predicted": int(cert.predicted[0]),
        "certified_radius": float(cert.radius[0]),
        "true_distance": float(true[0]),
    }
