"""Convolutional models of the LMT and certified-training literature (normalisation inside)."""

from __future__ import annotations

from torch import nn

from ..data.transforms import normalization_layers
from ..state import seeded
from .registry import register

__all__ = ["four_c_three_f", "lmt_mnist"]


@register("lmt-mnist")
def lmt_mnist(in_channels: int = 1, input_size: int = 28, n_classes: int = 10,
              normalize=True, seed: int = 0) -> nn.Sequential:  # fmt: skip
    """LMT's MNIST network: conv16 4x4 s2 -> conv32 4x4 s2 -> fc100 -> fc10 (ReLU), padding 1.

    Tsuzuku, Sato and Sugiyama (NeurIPS 2018), after Wong and Kolter's small MNIST model.

    Parameters
    ----------
    in_channels : int
        Input channels.
    input_size : int
        Height and width of the square inputs.
    n_classes : int
        Number of outputs.
    normalize : bool, None or (mean, std)
        Input normalisation put first, as in
        :func:`lipviz.data.transforms.normalization_layers` (default: MNIST statistics for 1
        channel, CIFAR-10 for 3).
    seed : int
        Seed of the initial weights (the caller's RNG state is left as it was).

    Returns
    -------
    nn.Sequential
        Maps inputs ``(N, in_channels, input_size, input_size)`` to logits ``(N, n_classes)``.

    Examples
    --------
    >>> import torch
    >>> lmt_mnist()(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    """
    with seeded(seed):  # the caller's RNG stream is left as it was
        side = ((input_size + 2 - 4) // 2 + 1 + 2 - 4) // 2 + 1
        return nn.Sequential(
            *normalization_layers(normalize, in_channels),
            nn.Conv2d(in_channels, 16, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(16, 32, 4, stride=2, padding=1), nn.ReLU(),
            nn.Flatten(),
            nn.Linear(32 * side * side, 100), nn.ReLU(),
            nn.Linear(100, n_classes),
        )  # fmt: skip


@register("4c3f")
def four_c_three_f(in_channels: int = 1, input_size: int = 28, n_classes: int = 10,
                   normalize=True, seed: int = 0) -> nn.Sequential:  # fmt: skip
    """4C3F: conv32 3x3 -> conv32 4x4 s2 -> conv64 3x3 -> conv64 4x4 s2 -> fc512 -> fc512 -> fc.

    The large model of Wong et al. (2018), used by LMT/BCP comparisons. ReLU after every layer
    but the last; all convolutions have padding 1.

    Parameters
    ----------
    in_channels : int
        Input channels.
    input_size : int
        Height and width of the square inputs.
    n_classes : int
        Number of outputs.
    normalize : bool, None or (mean, std)
        Input normalisation put first, as in
        :func:`lipviz.data.transforms.normalization_layers` (default: MNIST statistics for 1
        channel, CIFAR-10 for 3).
    seed : int
        Seed of the initial weights (the caller's RNG state is left as it was).

    Returns
    -------
    nn.Sequential
        Maps inputs ``(N, in_channels, input_size, input_size)`` to logits ``(N, n_classes)``.

    Examples
    --------
    >>> net = four_c_three_f()  # 28x28 inputs: 64 x 7 x 7 features before the first fc
    >>> net[-5].in_features, net[-1].out_features
    (3136, 10)
    """
    with seeded(seed):  # the caller's RNG stream is left as it was
        side = (((input_size + 2 - 4) // 2 + 1) + 2 - 4) // 2 + 1
        return nn.Sequential(
            *normalization_layers(normalize, in_channels),
            nn.Conv2d(in_channels, 32, 3, padding=1), nn.ReLU(),
            nn.Conv2d(32, 32, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
            nn.Conv2d(64, 64, 4, stride=2, padding=1), nn.ReLU(),
            nn.Flatten(),
            nn.Linear(64 * side * side, 512), nn.ReLU(),
            nn.Linear(512, 512), nn.ReLU(),
            nn.Linear(512, n_classes),
        )  # fmt: skip
