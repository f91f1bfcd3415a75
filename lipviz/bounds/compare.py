"""Side-by-side estimators of one operator's norm: power iteration, the sound bound, the cheap
kernel bounds and the exact value (for teaching and tests)."""

from __future__ import annotations

import time
from typing import cast

from torch import nn

from ..exact.jacobian import exact_operator_norm, float64_copy
from ..functional import conv_norm_fft, operator_power_iteration, reshaped_kernel_bounds
from .rules import layer_bound

__all__ = ["compare_estimators"]


def compare_estimators(module: nn.Module, input_shape, n_iter=(1, 5, 20, 100), exact=True):
    """A DataFrame comparing the ways to get the norm of one Linear/Conv2d layer.

    Rows: power iteration with each number of steps (estimates, never above the truth), the
    sound bound lipviz uses, the cheap reshaped-kernel bounds, the stride-1 FFT bound, and the
    exact value from the dense Jacobian when ``exact`` (small inputs only). Columns: ``method``,
    ``value``, ``sound``, ``seconds`` and ``ratio`` (value / exact).

    The reshaped-kernel and FFT rows are for convolutions only. The stride-1 FFT bound
    (Sedghi, Gupta and Long, ICLR 2019) ignores the stride: a strided convolution is the
    stride-1 one followed by a subsampling of norm 1, so it stays sound, only looser. Power
    iteration runs in float64 on a copy of the layer; the bias plays no part.

    Parameters
    ----------
    module : nn.Linear or nn.Conv2d
        The layer.
    input_shape : tuple of int
        Its input shape without the batch dimension: ``(in_features,)`` or ``(C, H, W)``.
    n_iter : int or sequence of int
        Power-iteration step counts, one row each.
    exact : bool
        Add the exact norm (SVD of the dense Jacobian, with ``prod(out) x prod(in)`` entries:
        small inputs only) and the ``ratio`` column.

    Returns
    -------
    pandas.DataFrame
        One row per estimator, columns ``method``, ``value``, ``sound``, ``seconds`` (NaN for
        the untimed rows) and, when ``exact``, ``ratio``.
    """
    import pandas as pd

    rows = []

    def timed(method, fn, sound):
        start = time.perf_counter()
        value = fn()
        seconds = time.perf_counter() - start
        rows.append({"method": method, "value": float(value), "sound": sound, "seconds": seconds})

    mod = float64_copy(module)
    is_conv = isinstance(module, nn.Conv2d)

    def op(v):
        if is_conv:
            return nn.functional.conv2d(
                v, mod.weight, None, mod.stride, mod.padding, mod.dilation, mod.groups
            )
        return nn.functional.linear(v, mod.weight)

    for n in (n_iter,) if isinstance(n_iter, int) else n_iter:

        def estimate(n=n):
            return operator_power_iteration(op, input_shape, n_iter=n)[0]

        timed(f"power iteration, {n} steps", estimate, False)
    timed("sound bound (lipviz)", lambda: layer_bound(module, input_shape, "sound").value, True)
    if is_conv:
        conv = cast(nn.Conv2d, module)
        w = conv.weight
        cheap = reshaped_kernel_bounds(w, conv.stride, conv.dilation, conv.groups)
        for name, value in cheap.items():
            row = {"method": f"reshaped kernel x {name}", "value": value, "sound": True}
            rows.append(row | {"seconds": float("nan")})

        def unstrided():
            return conv_norm_fft(w, input_shape[1:], module.padding, module.dilation, module.groups)

        timed("FFT, ignoring the stride", unstrided, True)
    table = pd.DataFrame(rows)
    if exact:
        ref = exact_operator_norm(module, input_shape)
        row = {"method": "exact (dense Jacobian SVD)", "value": ref, "sound": True}
        table.loc[len(table)] = row | {"seconds": float("nan")}
        table["ratio"] = table["value"] / ref
    return table
