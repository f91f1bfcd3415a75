"""A fully connected ReLU network for images (normalisation inside), small enough for exact
and propagation-based verification on a CPU."""

from __future__ import annotations

from torch import nn

from ..data.transforms import normalization_layers
from ..state import seeded
from .registry import register

__all__ = ["image_mlp"]


@register("mlp")
def image_mlp(
    in_channels: int = 1,
    input_size: int = 28,
    n_classes: int = 10,
    hidden: int = 128,
    depth: int = 2,
    normalize=True,
    seed: int = 0,
) -> nn.Sequential:
    """An MLP on flattened images: ``Normalize -> Flatten -> (Linear, ReLU) x depth -> Linear``.

    Bound propagation (:func:`lipviz.propagate_bounds`) costs one backward pass per unstable
    neuron and input, so on a CPU it certifies such a network in seconds where a convolutional
    one with thousands of neurons per layer takes minutes.

    Parameters
    ----------
    in_channels : int
        Input channels.
    input_size : int
        Height and width of the square inputs.
    n_classes : int
        Number of outputs.
    hidden : int
        Width of every hidden layer, at least 1.
    depth : int
        Number of hidden layers, at least 1.
    normalize : bool, None or (mean, std)
        Input normalisation put first, as in :func:`lipviz.data.transforms.normalization_layers`.
    seed : int
        Seed of the initial weights (the caller's RNG state is left as it was).

    Returns
    -------
    nn.Sequential
        Maps inputs ``(N, in_channels, input_size, input_size)`` to logits ``(N, n_classes)``.

    Raises
    ------
    ValueError
        If ``depth`` or ``hidden`` is below 1.

    Examples
    --------
    >>> import torch
    >>> image_mlp(hidden=16, depth=1)(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    """
    if depth < 1 or hidden < 1:
        msg = f"depth and hidden must be >= 1, got depth={depth}, hidden={hidden}"
        raise ValueError(msg)
    with seeded(seed):  # the caller's RNG stream is left as it was
        layers: list[nn.Module] = [*normalization_layers(normalize, in_channels), nn.Flatten()]
        width = in_channels * input_size * input_size
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        layers.append(nn.Linear(width, n_classes))
        return nn.Sequential(*layers)
