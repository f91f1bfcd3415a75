"""Pure computations behind the figures: arrays and DataFrames, no plotting."""

from __future__ import annotations

import numpy as np

__all__ = ["gradient_norm_decay", "tightness_summary"]


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

    rows = []
    for name, factory in activations.items():
        torch.manual_seed(seed)
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
