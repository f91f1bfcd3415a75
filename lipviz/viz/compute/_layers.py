"""Pure computations about layers: tightness summaries, gradient-norm decay, per-layer
spectra and power-iteration traces (no plotting; exported by :mod:`lipviz.viz.compute`)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ...bounds.rules import layer_bound
from ...exact.jacobian import exact_operator_norm
from ...functional import (
    conv_singular_values_fft,
    operator_power_iteration,
    polyphase_kernel,
)
from ...state import eval_mode

__all__ = ["gradient_norm_decay", "layer_spectra", "power_iteration_trace", "tightness_summary"]


def tightness_summary(table):
    r"""Summarise certified vs true radii from a per-point table.

    ``table`` needs the columns ``certified_radius`` and ``true_distance``. Returns a one-row
    DataFrame: number of points, the fraction with a positive certificate, violations (certified
    > true distance, which must be 0), and quantiles of the ratio certified/true.

    With :math:`\varepsilon_i` the certified radius and :math:`d_i` the true distance of point
    :math:`i`, a violation is :math:`\varepsilon_i > d_i (1 + 10^{-6}) + 10^{-9}` (a small
    tolerance for rounding), and the ratio :math:`\varepsilon_i / d_i` is taken over the points
    with a finite, positive :math:`d_i` only.

    Parameters
    ----------
    table : pandas.DataFrame or mapping
        One row per point, with the columns ``certified_radius`` (:math:`\varepsilon_i \ge 0`)
        and ``true_distance`` (:math:`d_i`; ``inf`` where no boundary was found), e.g.
        :attr:`lipviz.experiments.Margins2DResult.table`.

    Returns
    -------
    pandas.DataFrame
        One row, columns ``points`` (number of rows), ``certified_fraction`` (fraction with
        :math:`\varepsilon_i > 0`), ``violations`` (count; must be 0), ``ratio_p10``,
        ``ratio_median`` and ``ratio_p90`` (the 10 %, 50 % and 90 % quantiles of
        :math:`\varepsilon_i / d_i`; NaN when no point has a finite, positive :math:`d_i`).

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


def gradient_norm_decay(
    activations: dict, depth: int = 20, width: int = 32, n: int = 256, seed: int = 0
):
    r"""How the norm of a back-propagated gradient changes through a stack of orthogonal layers.

    ``activations`` maps a name to a module factory ``f(width) -> nn.Module``. For each, builds
    ``depth`` blocks of (orthogonal Linear, activation), back-propagates random unit vectors from
    the output, and records the mean gradient norm after each block. A gradient-norm-preserving
    activation keeps it at exactly 1; ReLU halves the energy at every layer on average.

    With :math:`g_k` the first :math:`k` blocks, :math:`x_i \sim \mathcal N(0, I)` and
    :math:`u_i` a random unit vector (:math:`i = 1..n`), the value recorded for :math:`k` is

    .. math:: \frac1n \sum_{i=1}^{n} \big\| J_{g_k}(x_i)^\top u_i \big\|_2 .

    Parameters
    ----------
    activations : dict
        Maps a name (str) to a factory ``f(width) -> nn.Module``, the activation put after each
        linear layer.
    depth : int
        Number of (orthogonal ``nn.Linear`` without bias, activation) blocks.
    width : int
        Features of every layer.
    n : int
        Number of random inputs ``x`` of shape ``(n, width)`` (and of unit vectors ``u``).
    seed : int
        Seed of the weights, inputs and unit vectors, the same for every activation (the
        caller's random state is restored).

    Returns
    -------
    pandas.DataFrame
        One row per (activation, number of blocks), columns ``activation`` (the name),
        ``layers`` (:math:`k = 1..` ``depth``) and ``grad_norm`` (the mean above).

    Examples
    --------
    >>> t = gradient_norm_decay({"identity": lambda w: nn.Identity()}, depth=3, width=4, n=8)
    >>> t.grad_norm.round(5).tolist()
    [1.0, 1.0, 1.0]
    """
    import pandas as pd
    import torch
    from torch import nn

    from ...state import seeded

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


def _input_shapes(model: nn.Module, input_shape) -> dict[nn.Module, tuple[int, ...]]:
    shapes: dict[nn.Module, tuple[int, ...]] = {}

    def record(mod, args):
        if args and isinstance(args[0], torch.Tensor):  # parametrizations get no input
            shapes.setdefault(mod, tuple(args[0].shape[1:]))  # returns None: inputs unchanged

    hooks = [m.register_forward_pre_hook(record) for m in model.modules()]
    try:
        with torch.no_grad(), eval_mode(model):
            dtype = next(iter(model.parameters()), torch.zeros(())).dtype
            model(torch.zeros((1, *input_shape), dtype=dtype))
    finally:
        for h in hooks:
            h.remove()
    return shapes


def _soc_singular_values(layer, in_shape) -> torch.Tensor:
    """Per-frequency singular values of the truncated exponential (circular padding)."""
    _, h, w = in_shape
    filt = layer.normalized_filter().detach().double()
    s, p = layer.stride, layer.kernel_size // 2
    n1, n2 = h // s, w // s
    grid = torch.zeros(*filt.shape[:2], n1, n2, dtype=filt.dtype)
    for a in range(filt.shape[2]):  # tap a sits at offset a - p; taps alias on tiny grids
        for b in range(filt.shape[3]):
            grid[:, :, (a - p) % n1, (b - p) % n2] += filt[:, :, a, b]
    # cross-correlation: y[i] = sum_a K[a] x[i + a - p], so each frequency multiplies by
    # sum_a K[a] exp(+2 pi i f (a - p) / n): an inverse DFT, scaled
    spec = (torch.fft.ifft2(grid) * (n1 * n2)).permute(2, 3, 0, 1)  # (n1, n2, m, m)
    spec = spec.reshape(-1, layer.channels, layer.channels)
    eye = torch.eye(layer.channels, dtype=spec.dtype).expand_as(spec)
    total, term = eye.clone(), eye.clone()
    for k in range(1, layer.eval_terms + 1):
        term = term @ spec / k
        total = total + term
    block = total[:, : layer.out_channels, : layer.in_channels * s * s]
    return torch.linalg.svdvals(block).flatten()


def layer_spectra(model: nn.Module, input_shape) -> object:
    r"""Every singular value of every linear layer of ``model``, for inputs of ``input_shape``.

    - ``nn.Linear`` (LLN included): the SVD of the weight;
    - ``nn.Conv2d``: the singular values of the **circular** convolution on the input grid, one
      :math:`c_{out} \times c_{in}` matrix per frequency (Sedghi et al., 2019), strides through
      the polyphase decomposition. A zero-padded convolution has different values; its largest
      one is bounded by the FFT bound on the padded grid that certificates use;
    - SOC layers: the truncated exponential per frequency (circular padding), which sits at 1.

    For a stride-1 convolution with kernel :math:`K` on an :math:`n_1 \times n_2` grid these
    are the singular values of

    .. math:: \hat K(f) = \sum_{a,b} K[:, :, a, b]\, e^{-2\pi i (f_1 a / n_1 + f_2 b / n_2)}

    over all frequencies :math:`f` (:func:`~lipviz.functional.conv_singular_values_fft`); a
    stride :math:`s` first becomes a stride-1 kernel on the :math:`s`-times coarser grid
    (:func:`~lipviz.functional.polyphase_kernel`). For an SOC layer (Singla and Feizi, 2021)
    with normalised filter :math:`A` (per-frequency matrices :math:`\hat A(f)`) and
    :math:`K` = ``eval_terms``, they are those of the top-left
    :math:`c_{out} \times c_{in} s^2` block of :math:`\sum_{k=0}^{K} \hat A(f)^k / k!`.

    Layers are found by one forward pass on zeros (eval mode, no gradients); layers that do not
    run, and grouped or dilated convolutions, are skipped.

    Parameters
    ----------
    model : nn.Module
        The network; every ``nn.Linear``, ``nn.Conv2d`` (``groups=1``, no dilation) and
        :class:`lipviz.layers.SOC` (:class:`~lipviz.layers.OrthogonalLinear` included) it calls
        contributes.
    input_shape : tuple of int
        One input without the batch dimension, e.g. ``(3, 32, 32)`` or ``(2,)``.

    Returns
    -------
    pandas.DataFrame
        One row per singular value, columns ``layer`` (index in ``model.named_modules()``),
        ``name`` (the module's name, or its type for the root), ``type`` (class name),
        ``sigma`` (float64) and ``method`` (how it was computed).

    Raises
    ------
    ValueError
        If ``model`` runs no Linear, Conv2d or SOC layer.

    Examples
    --------
    >>> lin = nn.Linear(3, 2)
    >>> layer_spectra(nn.Sequential(lin), (3,)).sigma.size
    2
    """
    import pandas as pd

    from ...layers import SOC

    shapes = _input_shapes(model, tuple(input_shape))
    frames = []
    for index, (name, module) in enumerate(model.named_modules()):
        if module not in shapes:
            continue
        in_shape = tuple(shapes[module])
        if isinstance(module, SOC):
            grid = (module.in_features, 1, 1) if in_shape == (module.in_channels,) else in_shape
            sv, method = _soc_singular_values(module, grid), "truncated exp per frequency"
        elif isinstance(module, nn.Conv2d):
            if module.groups != 1 or module.dilation != (1, 1):
                continue
            weight = polyphase_kernel(module.weight, module.stride)
            grid = (in_shape[1] // module.stride[0], in_shape[2] // module.stride[1])
            sv = conv_singular_values_fft(weight, grid).flatten()
            method = "circular convolution (FFT)"
        elif isinstance(module, nn.Linear):
            sv, method = torch.linalg.svdvals(module.weight.detach().double()), "SVD"
        else:
            continue
        frames.append(
            pd.DataFrame(
                {
                    "layer": index,
                    "name": name or type(module).__name__,
                    "type": type(module).__name__,
                    "sigma": sv.detach().double().numpy(),
                    "method": method,
                }
            )
        )
    if not frames:
        msg = f"{type(model).__name__} has no Linear, Conv2d or SOC layer to take a spectrum of"
        raise ValueError(msg)
    return pd.concat(frames, ignore_index=True)


def power_iteration_trace(module: nn.Module, input_shape, n_iter: int = 50) -> object:
    r"""Power-iteration estimates after 1..``n_iter`` steps against the exact norm and the sound
    bound of one linear module (small inputs: the exact norm is a dense Jacobian SVD).

    Every estimate is :math:`\le` exact :math:`\le` sound.

    With :math:`A` the module without bias and :math:`u_0` a fixed (seeded) Gaussian vector,
    step :math:`k` gives :math:`u_k = A^\top A u_{k-1} / \|A^\top A u_{k-1}\|` and the estimate
    :math:`\|A u_k\|_2` (:func:`lipviz.functional.operator_power_iteration`, in float64).

    Parameters
    ----------
    module : nn.Linear or nn.Conv2d
        The linear module (bias ignored).
    input_shape : tuple of int
        Without the batch dimension; small (the Jacobian is dense).
    n_iter : int
        The largest number of power-iteration steps.

    Returns
    -------
    pandas.DataFrame
        Columns ``n_iter``, ``estimate``, ``exact``, ``sound``: one row per step
        ``1..n_iter``; ``exact`` (:func:`lipviz.exact.jacobian.exact_operator_norm`) and
        ``sound`` (:func:`lipviz.bounds.rules.layer_bound`) repeat on every row.

    Raises
    ------
    ValueError
        If ``n_iter < 1``.
    """
    import pandas as pd

    if n_iter < 1:
        msg = f"n_iter must be >= 1, got {n_iter}"
        raise ValueError(msg)
    mod = _float64_linear(module)
    exact = exact_operator_norm(module, input_shape)
    sound = layer_bound(module, tuple(input_shape)).value
    rows, u = [], None
    for k in range(1, n_iter + 1):
        sigma, u = operator_power_iteration(mod, input_shape, n_iter=1, u=u)
        rows.append({"n_iter": k, "estimate": sigma})
    return pd.DataFrame(rows).assign(exact=exact, sound=sound)


def _float64_linear(module: nn.Module) -> nn.Module:
    import copy

    mod = copy.deepcopy(module).double().eval()
    if getattr(mod, "bias", None) is not None:
        mod.bias = None  # the operator, not the affine map
    return mod
