r"""The SOC chapter's diagram: how a truncated exponential acts on each eigen-direction.

A skew-symmetric :math:`A` is normal with eigenvalues :math:`i\theta_j`, so the truncated series
:math:`S_K(A) = \sum_{j=0}^{K} A^j / j!` has exactly the singular values
:math:`|p_K(i\theta_j)|`, with :math:`p_K(z) = \sum_{j=0}^{K} z^j / j!`. This module evaluates
:math:`|p_K(i\theta)|` (:func:`taylor_modulus`), the largest :math:`\|A\|` for which the
truncation is a contraction (:func:`contraction_limit`), the pairs
:math:`(|\theta_j|, \sigma_j)` of a small SOC layer (:func:`soc_spectrum`), and draws the
curves with those pairs on them (:func:`plot_taylor_moduli`).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import torch
from torch.nn import functional as F  # noqa: N812

__all__ = ["contraction_limit", "plot_taylor_moduli", "soc_spectrum", "taylor_modulus"]


def _squared_modulus_coefficients(terms: int) -> list[Fraction]:
    r"""Exact coefficients (increasing powers of :math:`\theta`) of :math:`|p_K(i\theta)|^2`."""
    # p_K(i t) = sum_j i^j t^j / j!: the real part has the even j, the imaginary part the odd j
    c = [Fraction(0)] * (2 * terms + 1)
    for j in range(terms + 1):
        for m in range(terms + 1):
            if (j + m) % 2 == 0:  # Re*Re + Im*Im: pairs of the same parity
                sign = (-1) ** (j // 2 + m // 2)
                c[j + m] += Fraction(sign, math.factorial(j) * math.factorial(m))
    return c


def taylor_modulus(theta, terms: int) -> np.ndarray:
    r"""The modulus :math:`|p_K(i\theta)|` of the exponential's Taylor polynomial at
    :math:`i\theta`.

    With :math:`p_K(z) = \sum_{j=0}^{K} z^j / j!` (highest power :math:`K`, as
    :class:`lipviz.layers.SOC` counts its terms), this is the singular value that the truncated
    series :math:`S_K(A)` of a skew-symmetric :math:`A` gives an eigen-direction of :math:`A`
    with eigenvalue :math:`i\theta`.

    Parameters
    ----------
    theta : float or array_like
        Real angles :math:`\theta`.
    terms : int
        The highest power :math:`K \ge 0`.

    Returns
    -------
    numpy.ndarray
        :math:`|p_K(i\theta)|`, the shape of ``theta``, float64.

    Examples
    --------
    >>> round(float(taylor_modulus(2.0, 1) ** 2), 12)  # 1 + theta^2
    5.0
    >>> round(float(taylor_modulus(3.0**0.5, 3)), 12)  # 1 - t^4/12 + t^6/36 = 1 at t^2 = 3
    1.0
    """
    t = np.asarray(theta, dtype=np.float64)
    z = 1j * t
    total = np.ones_like(z)
    term = np.ones_like(z)
    for j in range(1, terms + 1):
        term = term * z / j
        total = total + term
    return np.abs(total)


def contraction_limit(terms: int) -> float:
    r"""The largest :math:`a` with :math:`|p_K(i\theta)| \le 1` for every :math:`|\theta| \le a`.

    If :math:`\|A\|_2 \le a` for a skew-symmetric :math:`A`, the truncated series
    :math:`S_K(A)` is a contraction (all its singular values are at most 1). The value is 0 when
    :math:`|p_K(i\theta)|^2 - 1` is positive for small :math:`\theta \ne 0` (then
    :math:`S_K(A)` expands some direction whatever the size of :math:`A \ne 0`). It is the
    smallest positive root of the polynomial :math:`|p_K(i\theta)|^2 - 1`.

    Parameters
    ----------
    terms : int
        The highest power :math:`K \ge 1`.

    Returns
    -------
    float
        The limit :math:`a \ge 0` (0 for an expansive truncation).

    Raises
    ------
    ValueError
        If ``terms`` < 1.

    Examples
    --------
    >>> [round(contraction_limit(k) ** 2, 9) for k in (1, 2, 3, 4, 5)]
    [0.0, 0.0, 3.0, 8.0, 0.0]
    """
    if terms < 1:
        msg = f"terms must be >= 1, got {terms}"
        raise ValueError(msg)
    c = _squared_modulus_coefficients(terms)
    c[0] -= 1  # exact: the low-order coefficients cancel exactly
    low = next(i for i, v in enumerate(c) if v != 0)  # the lowest non-zero power
    if c[low] > 0:
        return 0.0
    scaled = np.array([float(v / c[-1]) for v in c[low:]])  # monic: better conditioned
    roots = np.polynomial.polynomial.polyroots(scaled)
    real = roots[(np.abs(roots.imag) < 1e-9 * np.abs(roots)) & (roots.real > 0)].real
    return float(real.min()) if len(real) else math.inf


def soc_spectrum(layer, in_shape, terms: int) -> tuple[np.ndarray, np.ndarray]:
    r"""The eigen-angles of a small SOC layer's :math:`A` and the exact singular values of the
    layer with highest power :math:`K`.

    Builds the dense matrix :math:`A` of the convolution with the layer's normalised filter
    (zero padding ``k // 2``, stride 1) on inputs of shape ``in_shape`` and takes its
    eigenvalues :math:`i\theta_j`; independently, it takes the singular values of the dense
    Jacobian of the layer itself (its eval-mode forward, Horner form, with ``eval_terms = K``),
    which is :math:`S_K(A) = \sum_{j \le K} A^j / j!`. Because :math:`A` is normal, the two
    agree: ``sigma`` equals ``taylor_modulus(theta, terms)`` up to rounding, with ``theta``
    ordered to pair with ``sigma`` (the :math:`|\theta_j|` sorted by :math:`|p_K(i\theta_j)|`,
    the singular values sorted increasingly), so that the points ``(theta, sigma)`` fall on the
    curve of :func:`taylor_modulus`.

    Parameters
    ----------
    layer : lipviz.layers.SOC
        A stride-1 layer with as many input as output channels; its mode and ``eval_terms``
        are restored.
    in_shape : tuple of int
        ``(C, H, W)``, small (the matrices are dense, with :math:`(CHW)^2` entries).
    terms : int
        The highest power :math:`K`.

    Returns
    -------
    theta : numpy.ndarray
        Shape ``(C H W,)``: the :math:`|\theta_j|`, sorted by :math:`|p_K(i\theta_j)|`.
    sigma : numpy.ndarray
        Shape ``(C H W,)``: the layer's singular values, sorted increasingly.

    Raises
    ------
    ValueError
        If the layer has a stride, changes the number of channels, or ``in_shape`` does not
        match it.
    """
    from ...state import eval_mode

    filt = layer.normalized_filter().detach().double()
    square = layer.stride == 1 and layer.in_channels == layer.out_channels == filt.shape[0]
    if not square or len(in_shape) != 3 or in_shape[0] != filt.shape[0]:
        msg = f"need a stride-1 layer with C in = out and in_shape (C, H, W), got {in_shape}"
        raise ValueError(msg)
    n = math.prod(in_shape)
    eye = torch.eye(n, dtype=torch.float64).reshape(n, *in_shape)
    a = F.conv2d(eye, filt, padding=filt.shape[-1] // 2).reshape(n, n).T  # column j = A e_j
    theta = np.abs(torch.linalg.eigvals(a).imag.numpy())
    theta = theta[np.argsort(taylor_modulus(theta, terms), kind="stable")]
    saved = layer.eval_terms
    try:
        with eval_mode(layer), torch.no_grad():
            layer.eval_terms = terms
            x = torch.eye(n, dtype=layer.weight.dtype).reshape(n, *in_shape)
            bias = 0.0 if layer.bias is None else layer.bias.view(1, -1, 1, 1)
            jac = (layer(x) - bias).reshape(n, n).T.double()  # a linear map: its columns
    finally:
        layer.eval_terms = saved
    sigma = np.sort(torch.linalg.svdvals(jac).numpy())
    return theta, sigma


def plot_taylor_moduli(
    terms=(1, 2, 3, 4, 5, 12), theta_max: float = 4.0, norm_bound=None, spectra=None, ax=None
):
    r"""Curves :math:`|p_K(i\theta)|` against :math:`\theta` for several :math:`K`, with the
    line 1.

    Below 1 the truncated series shrinks that eigen-direction, above 1 it stretches it. Optional
    extras: a vertical line at a (sound) bound on :math:`\|A\|`, beyond which no eigen-angle of
    :math:`A` lies, and the pairs :math:`(|\theta_j|, \sigma_j)` of a real layer
    (:func:`soc_spectrum`) as dots, which fall on their curves.

    Parameters
    ----------
    terms : sequence of int
        The highest powers :math:`K` drawn.
    theta_max : float
        Right end of the :math:`\theta` axis.
    norm_bound : float, optional
        Drawn as a vertical dotted line labelled "sound bound on ||A||".
    spectra : dict, optional
        ``{K: (theta, sigma)}`` as returned by :func:`soc_spectrum`, drawn as dots in the
        colour of the curve of ``K`` (which must be in ``terms``).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure (``figsize=(7, 4)``) when omitted.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on (``ax``, or the new one).
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    theta = np.linspace(0.0, theta_max, 400)
    colors = {}
    for k in terms:
        (line,) = ax.plot(theta, taylor_modulus(theta, k), lw=1.6, label=f"K = {k}")
        colors[k] = line.get_color()
    ax.axhline(1.0, color="black", lw=0.8)
    for k, (th, sigma) in (spectra or {}).items():
        ax.plot(th, sigma, "o", ms=3.5, color=colors[k], alpha=0.7)
    if norm_bound is not None:
        ax.axvline(norm_bound, color="gray", ls=":", lw=1.2, label="sound bound on ‖A‖")
    ax.set(
        xlim=(0.0, theta_max),
        ylim=(0.7, 1.3),
        xlabel=r"$\theta$ (eigenvalue $i\theta$ of $A$)",
        ylabel=r"$|p_K(i\theta)|$",
    )
    ax.legend(loc="lower left", ncol=2, fontsize=9)
    return ax
