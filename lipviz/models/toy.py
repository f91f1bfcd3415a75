"""Small MLPs for the 2-D toys."""

from __future__ import annotations

from torch import nn
from torch.nn.utils import parametrizations

from ..state import seeded
from .registry import register

__all__ = ["toy_mlp"]


@register("toy-mlp")
def toy_mlp(
    in_features: int = 2,
    hidden: int = 64,
    depth: int = 2,
    n_classes: int = 2,
    spectral: bool = True,
    seed: int = 0,
) -> nn.Sequential:
    """A ReLU MLP ``in -> hidden x depth -> n_classes``.

    With ``spectral=True`` every Linear weight is divided by a power-iteration estimate of its
    spectral norm (``torch.nn.utils.parametrizations.spectral_norm``), which keeps each layer's
    norm near 1. That estimate is *not* used for certificates: :func:`lipviz.lipschitz_bound`
    takes the exact SVD of the weights the layer actually applies.

    Parameters
    ----------
    in_features : int
        Input features.
    hidden : int
        Width of every hidden layer, at least 1.
    depth : int
        Number of hidden layers, at least 1.
    n_classes : int
        Number of outputs.
    spectral : bool
        Wrap every Linear in ``spectral_norm``.
    seed : int
        Seed of the initial weights (the caller's RNG state is left as it was).

    Returns
    -------
    nn.Sequential
        Maps inputs ``(N, in_features)`` to logits ``(N, n_classes)``.

    Raises
    ------
    ValueError
        If ``depth`` or ``hidden`` is below 1.

    Examples
    --------
    >>> import torch
    >>> net = toy_mlp(hidden=8, depth=2)
    >>> len(net), net(torch.zeros(5, 2)).shape
    (5, torch.Size([5, 2]))
    """
    if depth < 1 or hidden < 1:
        msg = f"depth and hidden must be >= 1, got depth={depth}, hidden={hidden}"
        raise ValueError(msg)
    with seeded(seed):  # the caller's RNG stream is left as it was
        sizes = [in_features] + [hidden] * depth + [n_classes]
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            lin = nn.Linear(a, b)
            layers.append(parametrizations.spectral_norm(lin) if spectral else lin)
            if i < len(sizes) - 2:
                layers.append(nn.ReLU())
        return nn.Sequential(*layers)
