r"""Diagrams for the convolution bounds of the bounds chapter: the padded grid and polyphase.

Two pure helpers compute what the pictures show, so the tests check the arguments themselves:

- :func:`padded_grid_reads`: which input pixel each tap of a zero-padded convolution reads, and
  which one the *circular* convolution on a grid of size ``grid`` reads after zero-embedding;
  on a grid of at least :math:`n + 2p` the two agree (the padded-grid argument), on the
  unpadded grid :math:`n` the border taps wrap around;
- :func:`polyphase_components`: the :math:`s^2` polyphase components of an image, an orthogonal
  rearrangement of its pixels on which a stride-:math:`s` convolution is a stride-1 one.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "padded_grid_reads",
    "plot_padded_grid",
    "plot_polyphase",
    "polyphase_components",
]

_INPUT = "#c6dbef"  # input pixels
_ZERO = "#ffffff"  # zero padding
_WINDOW = "#1f77b4"  # a kernel window
_WRAP = "#d62728"  # a tap that wraps onto a real pixel
_PHASES = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)


def padded_grid_reads(n: int, k: int, padding: int, grid: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Input index read by each tap, for the zero-padded and the circular convolution (1-D).

    The zero-padded, stride-1 correlation reads, at output :math:`o` and tap :math:`a`, the
    input pixel :math:`o + a - p` (a zero when it is outside :math:`[0, n)`). The circular
    correlation on a grid of size :math:`N` = ``grid``, applied to the input embedded at offset
    :math:`p`, reads grid cell :math:`(o + a) \bmod N`, that is input pixel
    :math:`(o + a - p) \bmod N` when this is below :math:`n` and a zero otherwise. One axis
    suffices: a 2-D convolution reads the product of the two axes' indices.

    Parameters
    ----------
    n : int
        Input size along the axis.
    k : int
        Kernel size (undilated).
    padding : int
        Zero padding :math:`p` on each side.
    grid : int
        Size :math:`N` of the circular grid, at least ``k`` (``n`` is the unpadded grid,
        ``n + 2 * padding`` the padded one).

    Returns
    -------
    true : ndarray of int
        Shape ``(n + 2p - k + 1, k)``: the input index read by the zero-padded convolution,
        ``-1`` for a zero.
    circular : ndarray of int
        Same shape: the input index read by the circular convolution on the grid, ``-1`` for
        a zero.

    Raises
    ------
    ValueError
        If the kernel does not fit the padded input or the grid.

    Examples
    --------
    >>> true, circ = padded_grid_reads(5, 3, 1, 5)  # the unpadded grid: the border wraps
    >>> true[0].tolist(), circ[0].tolist()
    ([-1, 0, 1], [4, 0, 1])
    >>> true, circ = padded_grid_reads(5, 3, 1, 7)  # the padded grid: identical reads
    >>> bool((true == circ).all())
    True
    """
    n_out = n + 2 * padding - k + 1
    if n_out < 1 or k > grid:
        msg = f"a kernel of size {k} does not fit n={n}, padding={padding}, grid={grid}"
        raise ValueError(msg)
    pos = np.arange(n_out)[:, None] + np.arange(k)[None, :] - padding
    true = np.where((pos >= 0) & (pos < n), pos, -1)
    wrapped = np.mod(pos, grid)
    circular = np.where(wrapped < n, wrapped, -1)
    return true, circular


def polyphase_components(x: np.ndarray, stride) -> np.ndarray:
    r"""The polyphase components of an image, stacked as channels.

    For stride :math:`s = (s_h, s_w)`, component :math:`r = (r_h, r_w)` of channel :math:`c` is
    :math:`x_{c,r}[m] = x_c[s m + r]` (the pixels whose coordinates are :math:`r` modulo
    :math:`s`). Every pixel goes to exactly one component, so the map is a permutation of
    coordinates: it preserves the l2 norm. A stride-:math:`s` convolution of ``x`` equals the
    stride-1 convolution of these components with
    :func:`lipviz.functional.polyphase_kernel`, whose input channels have the same order
    (channel, :math:`r_h`, :math:`r_w`).

    Parameters
    ----------
    x : array_like
        Shape ``(C, H, W)`` with ``H`` and ``W`` multiples of the stride.
    stride : int or tuple of int
        ``s`` or ``(s_h, s_w)``.

    Returns
    -------
    ndarray
        Shape ``(C s_h s_w, H / s_h, W / s_w)``, channels ordered (channel, :math:`r_h`,
        :math:`r_w`).

    Raises
    ------
    ValueError
        If ``x`` is not 3-D or its size is not a multiple of the stride.

    Examples
    --------
    >>> x = np.arange(16.0).reshape(1, 4, 4)
    >>> polyphase_components(x, 2)[:, 0, 0].tolist()  # the top-left pixel of each component
    [0.0, 1.0, 4.0, 5.0]
    """
    x = np.asarray(x)
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    if x.ndim != 3 or x.shape[1] % sh or x.shape[2] % sw:
        msg = f"need (C, H, W) with H, W multiples of the stride {(sh, sw)}, got {x.shape}"
        raise ValueError(msg)
    c, h, w = x.shape
    parts = x.reshape(c, h // sh, sh, w // sw, sw).transpose(0, 2, 4, 1, 3)
    return parts.reshape(c * sh * sw, h // sh, w // sw)


def _cell(ax, row, col, color, text="", edge="#999999", lw=0.6, size=9, text_color="black"):
    from matplotlib.patches import Rectangle

    ax.add_patch(Rectangle((col, row), 1, 1, facecolor=color, edgecolor=edge, linewidth=lw))
    if text:
        ax.text(
            col + 0.5, row + 0.5, text, ha="center", va="center", fontsize=size, color=text_color
        )


def _frame(ax, size_h, size_w, title):
    ax.set_xlim(-0.3, size_w + 0.3)
    ax.set_ylim(size_h + 0.3, -0.3)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=10)


def plot_padded_grid(n: int = 5, k: int = 3, padding: int = 1, axes=None):
    r"""Why the FFT bound needs the padded grid: the top-left window on two circular grids.

    Left: the circular convolution on the unpadded :math:`n\times n` grid. The window of the
    top-left output reads, where the zero-padded convolution reads zeros, real pixels from the
    opposite edges (red). Right: the input embedded in the :math:`(n+2p)\times(n+2p)` grid with
    a ring of zeros. Every window of the zero-padded convolution fits inside without wrapping
    (the first and the last are drawn), so the padded convolution is the circular one, cropped
    to those outputs.

    Parameters
    ----------
    n : int, default 5
        Input height and width.
    k : int, default 3
        Kernel height and width.
    padding : int, default 1
        Zero padding :math:`p` on each side (at least 1 for anything to wrap).
    axes : sequence of two matplotlib Axes, optional
        Where to draw; a new ``(7, 3.6)`` figure when omitted.

    Returns
    -------
    ndarray of matplotlib.axes.Axes
        The two panels.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(7, 3.6))
    axes = np.asarray(axes)
    true, circ = padded_grid_reads(n, k, padding, n)
    # left: the unpadded circular grid, top-left output window (o = 0 on both axes)
    ax = axes[0]
    rows_true, rows_circ = true[0], circ[0]
    wrapped = {int(c) for t, c in zip(rows_true, rows_circ, strict=True) if t < 0 <= c}
    inside = {int(t) for t in rows_true if t >= 0}
    for i in range(n):
        for j in range(n):
            if i in wrapped | inside and j in wrapped | inside and (i in wrapped or j in wrapped):
                _cell(ax, i, j, _WRAP, "x", text_color="white")
            elif i in inside and j in inside:
                _cell(ax, i, j, _WINDOW, "x", text_color="white")
            else:
                _cell(ax, i, j, _INPUT, "x")
    _frame(ax, n, n, f"circular on the {n}x{n} grid:\nthe border window wraps (red)")
    # right: the padded grid, first and last window of the zero-padded convolution
    ax = axes[1]
    size = n + 2 * padding
    for i in range(size):
        for j in range(size):
            real = padding <= i < padding + n and padding <= j < padding + n
            _cell(ax, i, j, _INPUT if real else _ZERO, "x" if real else "0")
    last = size - k
    for corner in (0, last):
        ax.add_patch(Rectangle((corner, corner), k, k, fill=False, edgecolor=_WINDOW, lw=2.5))
    ax.add_patch(
        Rectangle((padding, padding), n, n, fill=False, edgecolor="black", lw=1.2, linestyle="--")
    )
    _frame(ax, size, size, f"circular on the {size}x{size} padded grid:\nno window wraps")
    return axes


def plot_polyphase(n: int = 6, stride: int = 2, axes=None):
    r"""The polyphase rearrangement of an :math:`n\times n` image for a stride :math:`s`.

    Left: each pixel coloured by its phase :math:`(i \bmod s, j \bmod s)`. Right: the
    :math:`s^2` components of size :math:`n/s`, one per phase, as the input channels of the
    equivalent stride-1 convolution. Pixels are numbered in reading
    order so that each can be followed from left to right.

    Parameters
    ----------
    n : int, default 6
        Image height and width, a multiple of ``stride``.
    stride : int, default 2
        The stride :math:`s` (at most 3, for readable colours).
    axes : sequence of two matplotlib Axes, optional
        Where to draw; a new ``(7, 3.4)`` figure when omitted.

    Returns
    -------
    ndarray of matplotlib.axes.Axes
        The two panels.

    Raises
    ------
    ValueError
        If ``n`` is not a multiple of ``stride`` or ``stride`` is above 3.
    """
    import matplotlib.pyplot as plt

    if stride > 3 or n % stride:
        msg = f"need n a multiple of stride and stride <= 3, got n={n}, stride={stride}"
        raise ValueError(msg)
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(7, 3.4), gridspec_kw={"width_ratios": [1, 1.25]})
    axes = np.asarray(axes)
    index = np.arange(n * n).reshape(1, n, n)
    ax = axes[0]
    for i in range(n):
        for j in range(n):
            phase = (i % stride) * stride + j % stride
            _cell(
                ax,
                i,
                j,
                _PHASES[phase],
                str(index[0, i, j]),
                edge="white",
                lw=1.2,
                size=9,
                text_color="white",
            )
    _frame(ax, n, n, f"input {n}x{n}, coloured by phase\n(row mod {stride}, column mod {stride})")
    parts = polyphase_components(index, stride)
    ax = axes[1]
    m = n // stride
    gap = 0.6
    for r in range(stride * stride):
        top = (r // stride) * (m + gap)
        left = (r % stride) * (m + gap)
        for i in range(m):
            for j in range(m):
                _cell(
                    ax,
                    top + i,
                    left + j,
                    _PHASES[r],
                    str(parts[r, i, j]),
                    edge="white",
                    lw=1.2,
                    size=9,
                    text_color="white",
                )
    span = stride * m + (stride - 1) * gap
    _frame(
        ax,
        span,
        span,
        f"{stride * stride} polyphase components {m}x{m}\n"
        "(input channels of a stride-1 convolution)",
    )
    return axes
