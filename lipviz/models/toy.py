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
