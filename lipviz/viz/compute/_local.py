"""Local bounds in figures, the pure half (Huang et al., NeurIPS 2021): boxes and balls of one
layer, the first layer's fixed neurons, local against global certified radii, and profiles over
ε and the clip thresholds. Arrays and DataFrames only; :mod:`lipviz.viz.static` draws them.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ...certify import Certifier
from ...functional.checks import check_labels

__all__ = ["box_and_ball", "first_layer_status", "local_profile", "local_vs_global_radii"]


def _scaled_thresholds(model: nn.Module, scale: float) -> nn.Module:
    """A copy of ``model`` whose clip thresholds are multiplied by ``scale``."""
    import copy

    from ...layers import ClippedMaxMin, ClippedReLU

    twin = copy.deepcopy(model)
    with torch.no_grad():
        for m in twin.modules():
            if isinstance(m, ClippedReLU):
                m.theta.mul_(scale)
            elif isinstance(m, ClippedMaxMin):
                m.theta_max.mul_(scale)
                m.theta_min.mul_(scale)
    return twin


def local_profile(
    model: nn.Module, x, y, eps_values, *, threshold_scales=(1.0,), mode: str = "sound"
) -> object:
    r"""Local against global certificates as :math:`\varepsilon` and the clip thresholds vary
    (the local bound of Huang et al., NeurIPS 2021; :func:`lipviz.local_certified`).

    Parameters
    ----------
    model : nn.Module
        A chain that local bounds support, ending in ``nn.Linear``.
    x : Tensor
        Inputs, shape ``(N, *input_shape)``.
    y : Tensor
        Labels, shape ``(N,)``.
    eps_values : sequence of float
        Radii (input units), each > 0.
    threshold_scales : sequence of float
        Factors applied to every clip threshold (on a copy of the model; 1 is the model).
    mode : {"sound", "estimate"}
        Mode of the local bound.

    Returns
    -------
    pandas.DataFrame
        One row per (scale, eps): ``scale``, ``eps``, ``local_mean`` (mean local bound),
        ``global`` (the sound global bound), ``certified_local`` and ``certified_global``
        (fractions of inputs correct and certified), and ``fixed:<layer>`` (mean fraction of
        that activation's neurons fixed on the balls).
    """
    import pandas as pd

    from ...bounds import lipschitz_bound
    from ...certify import local_certified

    y = check_labels(y, len(x))
    rows = []
    for scale in threshold_scales:
        net = _scaled_thresholds(model, float(scale)).eval()
        shape = tuple(x.shape[1:])
        glob = lipschitz_bound(net, shape).value
        cert = Certifier(net, shape)(x)
        correct = cert.predicted.cpu() == y.cpu()
        for eps in eps_values:
            ok, bound = local_certified(net, x, float(eps), mode, return_bound=True)
            local_ok = correct & ok.cpu()
            global_ok = correct & (cert.radius.cpu() > eps)
            row = {
                "scale": float(scale),
                "eps": float(eps),
                "local_mean": float(bound.values.mean()),
                "global": glob,
                "certified_local": float(local_ok.double().mean()),
                "certified_global": float(global_ok.double().mean()),
            }
            for _, f in bound.fixed.iterrows():
                row[f"fixed:{f['layer']}"] = f["fixed_fraction"]
            rows.append(row)
    return pd.DataFrame(rows)


def _ball_points(x: torch.Tensor, eps: float, n: int, seed: int) -> torch.Tensor:
    """``n`` points uniform in the l2 ball of radius ``eps`` around the single input ``x``."""
    gen = torch.Generator().manual_seed(seed)
    d = torch.randn((n, *x.shape), generator=gen, dtype=torch.float64)
    d = d / d.flatten(1).norm(dim=1).view(-1, *([1] * x.dim()))
    r = torch.rand(n, generator=gen, dtype=torch.float64) ** (1.0 / x.numel())
    return x.double() + eps * r.view(-1, *([1] * x.dim())) * d


def box_and_ball(
    model: nn.Sequential,
    x,
    eps: float,
    layer: int,
    neurons=(0, 1),
    *,
    n_samples: int = 2000,
    seed: int = 0,
) -> dict:
    r"""The two boxes of one affine layer's outputs on the ball :math:`B(x, \varepsilon)`, and
    where the ball really goes (Box-Constrained Propagation, Huang et al., NeurIPS 2021).

    For two output neurons of ``model[layer]``: the IBP box, the ball's box
    :math:`\mu_j \pm \rho\,\|(W D)_j\|_2`, their intersection (what the local bound uses) and
    the images of ``n_samples`` random points of the input ball, which must all lie inside.

    Parameters
    ----------
    model : nn.Sequential
        A chain that local bounds support.
    x : Tensor
        One input, shape ``input_shape`` (no batch dimension).
    eps : float
        The radius (input units).
    layer : int
        Index in ``model`` of an ``nn.Linear`` or ``nn.Conv2d``.
    neurons : (int, int)
        Two indices into that layer's flattened output.
    n_samples : int
        Points sampled uniformly in the ball.
    seed : int
        Seed of the samples.

    Returns
    -------
    dict
        ``centre`` (2,), ``ibp``, ``ball`` and ``box`` (each ``(lo (2,), hi (2,))``),
        ``samples`` (n_samples, 2), ``layer`` and ``neurons``; NumPy float64.

    Raises
    ------
    ValueError
        If ``model[layer]`` is not an affine layer.
    """
    from ...bounds.local import local_walk

    module = model[layer]
    if not isinstance(module, (nn.Linear, nn.Conv2d)):
        msg = f"model[{layer}] is {type(module).__name__}; pick an nn.Linear or nn.Conv2d"
        raise ValueError(msg)
    x1 = torch.as_tensor(x)[None]
    _, _, st = local_walk(model, x1, eps, trace=True)
    order = [i for i, m in enumerate(model) if isinstance(m, (nn.Linear, nn.Conv2d))]
    entry = st.trace[order.index(layer % len(model))]
    idx = list(neurons)

    def pick(t):
        return t.flatten(1)[0, idx].numpy()

    ibp = (pick(entry["ibp"][0]), pick(entry["ibp"][1]))
    ball = (pick(entry["ball"][0]), pick(entry["ball"][1]))
    box = (np.maximum(ibp[0], ball[0]), np.minimum(ibp[1], ball[1]))
    pts = _ball_points(x1[0], eps, n_samples, seed)
    with torch.no_grad():
        out = _prefix(model, layer)(pts)
    return {
        "centre": pick(entry["mu"]),
        "ibp": ibp,
        "ball": ball,
        "box": box,
        "samples": out.flatten(1)[:, idx].numpy(),
        "layer": layer,
        "neurons": tuple(idx),
    }


def _prefix(model: nn.Sequential, layer: int):
    """``model[: layer + 1]`` run in float64 on a copy (the model is left as it is)."""
    import copy

    return copy.deepcopy(model[: layer % len(model) + 1]).double().eval()


def first_layer_status(model: nn.Sequential, x, eps: float) -> object:
    r"""The neurons of the first affine layer on :math:`B(x, \varepsilon)`: each one's weights,
    its pre-activation box and whether the activation after it is fixed on the ball.

    On the first layer the ball's box is exact, :math:`w_j^\top x + b_j \pm \varepsilon
    \|w_j\|_2`: a ReLU neuron is fixed (dead) iff its line :math:`w_j^\top u + b_j = 0` misses
    the ball on the negative side.

    Parameters
    ----------
    model : nn.Sequential
        A chain starting with ``nn.Linear`` and an activation, that local bounds support.
    x : Tensor
        One input, shape ``(d,)``.
    eps : float
        The radius (input units).

    Returns
    -------
    pandas.DataFrame
        One row per neuron: ``w`` (a tuple), ``b``, ``lo``, ``hi`` (the pre-activation box)
        and ``fixed`` (bool).

    Raises
    ------
    ValueError
        If ``model`` does not start with ``nn.Linear``.
    """
    import pandas as pd

    from ...bounds.local import local_walk

    if not isinstance(model[0], nn.Linear):
        msg = f"first_layer_status needs nn.Linear first, got {type(model[0]).__name__}"
        raise ValueError(msg)
    x = torch.as_tensor(x).reshape(1, -1)
    _, _, st = local_walk(model, x, eps, trace=True)
    first = model[0]
    entry = st.trace[0]
    lo = torch.maximum(entry["ibp"][0], entry["ball"][0])[0]
    hi = torch.minimum(entry["ibp"][1], entry["ball"][1])[0]
    varies = st.fixed[0]["varies"][0] if st.fixed else torch.ones_like(lo, dtype=torch.bool)
    w = first.weight.detach().double()
    b = first.bias.detach().double() if first.bias is not None else torch.zeros(len(w))
    return pd.DataFrame(
        {
            "w": [tuple(r.tolist()) for r in w],
            "b": b.numpy(),
            "lo": lo.numpy(),
            "hi": hi.numpy(),
            "fixed": (~varies).numpy(),
        }
    )


def local_vs_global_radii(
    model: nn.Module, x, *, eps_max: float = 1.0, true_distance: bool = False
) -> object:
    """Global, sound local and estimated local certified radii of the same points (and, on 2-D
    inputs, their true distance to the decision boundary).

    Parameters
    ----------
    model : nn.Module
        A chain that local bounds support, ending in ``nn.Linear``.
    x : Tensor
        Inputs, shape ``(N, *input_shape)``.
    eps_max : float
        The largest local radius tried (bisection, :func:`lipviz.local_certified_radius`).
    true_distance : bool
        Add ``true_distance`` (:func:`lipviz.exact.boundary_distance`; 2-D inputs only).

    Returns
    -------
    pandas.DataFrame
        One row per input: ``predicted``, ``global``, ``local``, ``local_estimate`` (not a
        certificate) and optionally ``true_distance``.
    """
    import pandas as pd

    from ...certify import local_certified_radius

    x = torch.as_tensor(x)
    cert = Certifier(model, tuple(x.shape[1:]))(x)
    local = local_certified_radius(model, x, eps_max)
    estimate = local_certified_radius(model, x, eps_max, mode="estimate")
    table = pd.DataFrame(
        {
            "predicted": cert.predicted.cpu().numpy(),
            "global": cert.radius.double().cpu().numpy(),
            "local": local.radius.double().numpy(),
            "local_estimate": estimate.radius.double().numpy(),
        }
    )
    if true_distance:
        from ...exact.planar import boundary_distance

        table["true_distance"] = boundary_distance(model, x.float(), r_max=2 * eps_max)[0].numpy()
    return table


def factor_gap(model: nn.Module, x, eps: float, *, n_iter: int = 1000) -> object:
    r"""How far each sound local factor lies above its power-iteration estimate, layer by layer
    (the local bound of Huang et al., NeurIPS 2021; :func:`lipviz.bounds.local.local_walk`).

    Two walks over the same balls: ``sound`` (guaranteed factors) and ``estimate`` (``n_iter``
    power-iteration steps per factor, a lower estimate). Their masks can differ downstream,
    since a larger factor makes a larger ball and so fewer fixed neurons; the ratio is the
    whole price of soundness at that layer.

    Parameters
    ----------
    model : nn.Module
        A chain that local bounds support, ending in ``nn.Linear``.
    x : Tensor
        Inputs, shape ``(N, *input_shape)``.
    eps : float
        The radius (input units).
    n_iter : int
        Power-iteration steps of the estimate.

    Returns
    -------
    pandas.DataFrame
        One row per affine layer: ``layer``, ``method`` (of the sound factor), ``sound`` and
        ``estimate`` (medians over the inputs), ``ratio_min`` and ``ratio_max`` (the smallest
        and the largest sound / estimate over the inputs).
    """
    import pandas as pd

    from ...bounds.local import local_walk

    _, _, sound = local_walk(model, x, eps, mode="sound")
    _, _, estimate = local_walk(model, x, eps, mode="estimate", n_iter=n_iter)
    rows = []
    for s, e in zip(sound.factors, estimate.factors, strict=True):
        ratio = s["values"] / e["values"].to(s["values"].dtype)
        rows.append(
            {
                "layer": s["layer"],
                "method": s["method"],
                "sound": float(s["values"].median()),
                "estimate": float(e["values"].median()),
                "ratio_min": float(ratio.min()),
                "ratio_max": float(ratio.max()),
            }
        )
    return pd.DataFrame(rows)
