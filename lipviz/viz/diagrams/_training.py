r"""Diagrams of architectures and training objectives.

- :func:`layer_shapes` runs a model once on zeros and records each top-level layer's output
  shape; :func:`plot_architecture` draws the chain as boxes (LipConvnet: every strided SOC is a
  space-to-depth rearrangement, four times the channels at half the resolution, then an
  orthogonal convolution; LLN last).
- :func:`lmt_shifted_logits` and :func:`plot_lmt_shift` show LMT's objective on one input: the
  non-true logits raised by :math:`c\,s_{tj}` before the softmax (Tsuzuku, Sato and Sugiyama,
  NeurIPS 2018).
- :func:`certificate_gradient` and :func:`plot_certificate_gradient` show what certificate
  regularisation pushes: the gradient of :math:`-\gamma\,\mathrm{ReLU}(c)` with respect to the
  logits, non-zero on the top two logits only (Singla, Singla and Feizi, ICLR 2022).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

__all__ = [
    "certificate_gradient",
    "layer_shapes",
    "lmt_shifted_logits",
    "plot_architecture",
    "plot_certificate_gradient",
    "plot_lmt_shift",
]


def layer_shapes(model: nn.Module, input_shape) -> list[tuple[str, tuple[int, ...]]]:
    """Each top-level layer of a ``Sequential`` with the shape of its output (no batch).

    Parameters
    ----------
    model : nn.Sequential
    input_shape : tuple of int
        Without the batch dimension.

    Returns
    -------
    list of (str, tuple)
        ``("input", input_shape)`` first, then ``(type name, output shape)`` per layer.

    Examples
    --------
    >>> net = nn.Sequential(nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.Flatten())
    >>> layer_shapes(net, (1, 8, 8))
    [('input', (1, 8, 8)), ('Conv2d', (4, 4, 4)), ('Flatten', (64,))]
    """
    shapes = [("input", tuple(input_shape))]
    dtype = next((p.dtype for p in model.parameters()), torch.float32)
    x = torch.zeros((1, *input_shape), dtype=dtype)
    training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for layer in model:
                x = layer(x)
                name = type(layer).__name__.removeprefix("Parametrized")
                shapes.append((name, tuple(x.shape[1:])))
    finally:
        model.train(training)
    return shapes


def plot_architecture(model: nn.Module, input_shape, ax=None):
    """Draw a ``Sequential`` as a row of boxes, each with its layer and output shape; strided
    SOC layers are marked as space-to-depth followed by an orthogonal convolution.

    Parameters
    ----------
    model : nn.Sequential
    input_shape : tuple of int
    ax : matplotlib.axes.Axes, optional
        A new figure when omitted.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    shapes = layer_shapes(model, input_shape)
    strides = [None, *(getattr(layer, "stride", None) for layer in model)]
    if ax is None:
        _, ax = plt.subplots(figsize=(1.25 * len(shapes), 2.6))
    for i, ((name, shape), stride) in enumerate(zip(shapes, strides, strict=True)):
        stride = stride[0] if isinstance(stride, tuple) else stride
        colour = {"SOC": "tab:blue", "LLN": "tab:green"}.get(name, "lightgrey")
        ax.add_patch(plt.Rectangle((i, 0), 0.85, 1, color=colour, alpha=0.35))
        label = name if stride in (None, 1) else f"{name}\nstride {stride}"
        ax.text(i + 0.425, 0.62, label, ha="center", va="center", fontsize=8)
        ax.text(i + 0.425, 0.25, "×".join(map(str, shape)), ha="center", va="center", fontsize=7)
        if name == "SOC" and stride not in (None, 1):
            ax.annotate(
                "space-to-depth:\n4×channels, ½ size",
                (i + 0.425, 1.0),
                xytext=(i + 0.425, 1.45),
                ha="center",
                fontsize=6,
                arrowprops={"arrowstyle": "->", "lw": 0.6},
            )
        if i:
            ax.annotate(
                "", (i, 0.5), xytext=(i - 0.15, 0.5), arrowprops={"arrowstyle": "->", "lw": 0.8}
            )
    ax.set_xlim(-0.1, len(shapes))
    ax.set_ylim(-0.1, 1.8)
    ax.axis("off")
    return ax


def _logit_axes(f: np.ndarray, ax):
    """The axes of a bar chart over the classes of ``f`` (new if ``ax`` is None), and the
    classes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.2))
    k = np.arange(len(f))
    ax.set_xticks(k)
    ax.set_xlabel("class j")
    return ax, k


def lmt_shifted_logits(logits, target: int, c: float, scales) -> np.ndarray:
    r"""LMT's logits :math:`\tilde f_j = f_j + c\, s_{tj} [j \ne t]` of one input.

    Parameters
    ----------
    logits : array_like
        Shape ``(K,)``.
    target : int
        The true class :math:`t`.
    c : float
        The guarded radius.
    scales : float or array_like
        :math:`s_{tj}`: one value (global form, :math:`\sqrt2 L`) or one per class.

    Returns
    -------
    numpy.ndarray
        Shape ``(K,)``.

    Examples
    --------
    >>> lmt_shifted_logits([3.0, 1.0, 0.0], 0, 0.5, 2.0).tolist()
    [3.0, 2.0, 1.0]
    """
    f = np.asarray(logits, dtype=np.float64).copy()
    s = np.broadcast_to(np.asarray(scales, dtype=np.float64), f.shape)
    others = np.arange(len(f)) != target
    f[others] += c * s[others]
    return f


def plot_lmt_shift(logits, target: int, c: float, scales, ax=None):
    """Bars of the logits of one input before and after LMT's shift, with the margin that the
    shift demands (the cross-entropy of the shifted logits is small only if the true logit
    still wins after it).

    Parameters
    ----------
    logits, target, c, scales
        As for :func:`lmt_shifted_logits`.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    f = np.asarray(logits, dtype=np.float64)
    shifted = lmt_shifted_logits(f, target, c, scales)
    ax, k = _logit_axes(f, ax)
    ax.bar(k - 0.2, f, width=0.4, label="logits f_j", color="tab:grey")
    ax.bar(k + 0.2, shifted, width=0.4, label="LMT: f_j + c s_tj (j ≠ t)", color="tab:orange")
    ax.axhline(f[target], color="tab:blue", lw=1, ls="--", label=f"true logit f_t (t = {target})")
    wins = bool(np.all(shifted[k != target] < f[target]))
    ax.set_title(
        "the true logit still wins after the shift: certified at radius c"
        if wins
        else "a shifted logit overtakes the true one: not certified at radius c",
        fontsize=9,
    )
    ax.legend(fontsize=8)
    return ax


def certificate_gradient(logits, target: int, lipschitz: float, gamma: float = 1.0):
    r"""The gradient, with respect to the logits, of certificate regularisation's term
    :math:`-\gamma\,\mathrm{ReLU}(c)` with :math:`c = (f_t - \max_{j \ne t} f_j)/(\sqrt2 L)`.

    Parameters
    ----------
    logits : array_like
        Shape ``(K,)``.
    target : int
    lipschitz : float
        :math:`L`.
    gamma : float

    Returns
    -------
    numpy.ndarray
        Shape ``(K,)``: :math:`-\gamma/(\sqrt2 L)` on :math:`f_t` and :math:`+\gamma/(\sqrt2 L)`
        on the runner-up when :math:`c > 0`, zero elsewhere (and everywhere when
        :math:`c \le 0`).

    Examples
    --------
    >>> certificate_gradient([2.0, 1.0, 0.0], 0, 1 / math.sqrt(2)).round(6).tolist()
    [-1.0, 1.0, 0.0]
    >>> certificate_gradient([0.0, 1.0, 0.0], 0, 1.0).tolist()  # misclassified: no push
    [0.0, 0.0, 0.0]
    """
    f = torch.tensor(np.asarray(logits, dtype=np.float64), requires_grad=True)
    others = torch.cat([f[:target], f[target + 1 :]])
    cert = (f[target] - others.max()) / (math.sqrt(2) * lipschitz)
    (-gamma * torch.relu(cert)).backward()
    return f.grad.numpy()


def plot_certificate_gradient(logits, target: int, lipschitz: float, ax=None):
    """Bars of the logits with arrows for the descent direction of certificate
    regularisation's term: the true logit is pushed up and the runner-up down, nothing else.

    Parameters
    ----------
    logits, target, lipschitz
        As for :func:`certificate_gradient`.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    f = np.asarray(logits, dtype=np.float64)
    step = -certificate_gradient(f, target, lipschitz)  # gradient descent moves this way
    ax, k = _logit_axes(f, ax)
    ax.bar(k, f, color=["tab:blue" if j == target else "tab:grey" for j in k])
    scale = 0.25 * (f.max() - f.min() + 1e-12) / max(np.abs(step).max(), 1e-12)
    for j in k[step != 0]:
        ax.annotate(
            "",
            (j, f[j] + scale * step[j]),
            xytext=(j, f[j]),
            arrowprops={"arrowstyle": "->", "lw": 1.5, "color": "tab:red"},
        )
    ax.set_title("CR's descent direction on the logits: the top two only", fontsize=9)
    return ax
