"""Pure computations behind the figures: arrays and DataFrames, no plotting."""

from __future__ import annotations

import numpy as np

__all__ = ["tightness_summary"]


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
