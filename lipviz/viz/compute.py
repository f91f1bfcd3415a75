"""Pure computations behind the figures: arrays and DataFrames, no plotting."""

from __future__ import annotations

import numpy as np

__all__ = [
    "gradient_norm_decay",
    "last_layer_certificates",
    "lln_topk_trap",
    "tightness_summary",
]


def tightness_summary(table):
    """Summarise certified vs true radii from a per-point table.

    ``table`` needs the columns ``certified_radius`` and ``true_distance``. Returns a one-row
    DataFrame: number of points, the fraction with a positive certificate, violations (certified
    > true distance, which must be 0), and quantiles of the ratio certified/true.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"certified_radius": [0.5, 1.0, 0.0], "true_distance": [1.0, 1.0, 2.0]})
    >>> s = tightness_summary(t)
    >>> int(s.violations.iloc[0]), float(s.ratio_median.iloc[0])
    (0, 0.5)
    """
    import pandas as pd

    cert = np.asarray(table["certified_radius"], dtype=float)
    true = np.asarray(table["true_distance"], dtype=float)
    finite = np.isfinite(true) & (true > 0)
    ratio = cert[finite] / true[finite]
    q = np.quantile(ratio, [0.1, 0.5, 0.9]) if ratio.size else [np.nan] * 3
    return pd.DataFrame(
        [
            {
                "points": len(cert),
                "certified_fraction": float(np.mean(cert > 0)),
                "violations": int(np.sum(cert > true * (1 + 1e-6) + 1e-9)),
                "ratio_p10": float(q[0]),
                "ratio_median": float(q[1]),
                "ratio_p90": float(q[2]),
            }
        ]
    )


def gradient_norm_decay(activations: dict, depth: int = 20, width: int = 32, n: int = 256,
                        seed: int = 0):  # fmt: skip
    """How the norm of a back-propagated gradient changes through a stack of orthogonal layers.

    ``activations`` maps a name to a module factory ``f(width) -> nn.Module``. For each, builds
    ``depth`` blocks of (orthogonal Linear, activation), back-propagates random unit vectors from
    the output, and records the mean gradient norm after each block. A gradient-norm-preserving
    activation keeps it at exactly 1; ReLU halves the energy at every layer on average.

    Returns a DataFrame with columns ``activation``, ``layers``, ``grad_norm``.
    """
    import pandas as pd
    import torch
    from torch import nn

    from ..state import seeded

    rows = []
    for name, factory in activations.items():
        with seeded(seed):  # the same draws for every activation; the caller's RNG untouched
            blocks = []
            for _ in range(depth):
                lin = nn.Linear(width, width, bias=False)
                nn.init.orthogonal_(lin.weight)
                blocks.append(nn.Sequential(lin, factory(width)))
            x = torch.randn(n, width)
            outs = [x.requires_grad_(True)]
            for block in blocks:
                outs.append(block(outs[-1]))
            u = torch.nn.functional.normalize(torch.randn(n, width), dim=1)
        for k in range(1, depth + 1):
            (g,) = torch.autograd.grad(outs[k], outs[0], grad_outputs=u, retain_graph=True)
            rows.append({"activation": name, "layers": k, "grad_norm": float(g.norm(dim=1).mean())})
    return pd.DataFrame(rows)


def last_layer_certificates(model, x, input_shape=None, top_k: int = 9):
    r"""Per input, the three last-layer certificates of a model ending in a linear layer.

    - ``pairwise``: :math:`\min_{j \ne t} (f_t - f_j) / (L_{\text{prefix}} \|w_t - w_j\|)` over
      **all** classes (what :func:`lipviz.certified_radius` uses; sound);
    - ``global``: :math:`(f_t - \max_{j \ne t} f_j) / (\sqrt2\, L)` with :math:`L` the bound of
      the whole model (sound, never larger than ``pairwise``);
    - ``top_k``: the pairwise formula over the ``top_k`` runner-up logits only, as in the newer
      SOC code (``num_other = 9``). **Not sound**: a class with a low logit but a row close to
      :math:`w_t` can be nearer; ``top_k_overestimates`` flags those inputs.

    Returns a DataFrame with columns ``predicted``, ``pairwise``, ``global``, ``top_k`` and
    ``top_k_overestimates``.
    """
    import pandas as pd
    import torch

    from ..certify import Certifier
    from ..state import eval_mode

    shape = tuple(input_shape) if input_shape is not None else tuple(x.shape[1:])
    pairwise = Certifier(model, shape, form="pairwise")
    glob = Certifier(model, shape, form="global")
    cert = pairwise(x)
    with torch.no_grad(), eval_mode(model):
        logits = model(x).float()
    k = min(top_k, logits.shape[1] - 1)
    top = logits.topk(k + 1, dim=1).indices  # the predicted class and its k runners-up
    gap = logits.gather(1, cert.predicted[:, None]) - logits.gather(1, top)
    dist = pairwise.row_dist[cert.predicted[:, None], top] * pairwise.lipschitz
    ratio = (gap / dist.clamp_min(1e-30)).masked_fill(top == cert.predicted[:, None], float("inf"))
    top_k_radius = ratio.amin(1)
    return pd.DataFrame({
        "predicted": cert.predicted.numpy(),
        "pairwise": cert.radius.numpy(),
        "global": glob(x).radius.numpy(),
        "top_k": top_k_radius.numpy(),
        "top_k_overestimates": (top_k_radius > cert.radius * (1 + 1e-6)).numpy(),
    })  # fmt: skip


def lln_topk_trap(n_classes: int = 20, top_k: int = 9, angle_deg: float = 4.0):
    r"""A small LLN classifier on 2-D features where the top-``top_k`` certificate is wrong.

    Class 0 has the row :math:`(1, 0)`; ``top_k`` runner-up classes have rows a few degrees
    away and slightly smaller biases (high logits, but far boundaries); the last class has the
    opposite row and a large bias (the lowest logit, but the nearest boundary). At
    :math:`x = (1, 0)` the true distance to the decision boundary is the pairwise certificate
    over all classes, and the top-k formula overestimates it.

    Returns ``(model, x)`` with ``model`` an ``nn.Sequential`` holding one
    :class:`~lipviz.layers.LLN` and ``x`` of shape (1, 2).
    """
    import math

    import torch
    from torch import nn

    from ..layers import LLN

    if not 1 <= top_k <= n_classes - 2:
        msg = f"need 1 <= top_k <= n_classes - 2, got top_k={top_k}, n_classes={n_classes}"
        raise ValueError(msg)
    angles = torch.zeros(n_classes, dtype=torch.float64)
    bias = torch.zeros(n_classes, dtype=torch.float64)
    near = torch.arange(n_classes - 2, dtype=torch.float64)
    spread = torch.linspace(angle_deg, 2 * angle_deg, n_classes - 2, dtype=torch.float64)
    angles[1:-1] = torch.deg2rad(spread * (-1) ** near)  # alternating sides, a few degrees
    bias[1:-1] = -0.05
    angles[-1], bias[-1] = math.pi, 1.5
    model = nn.Sequential(LLN(2, n_classes)).double()
    with torch.no_grad():
        model[0].parametrizations.weight.original.copy_(
            torch.stack([angles.cos(), angles.sin()], dim=1)
        )
        model[0].bias.copy_(bias)
    return model, torch.tensor([[1.0, 0.0]], dtype=torch.float64)
