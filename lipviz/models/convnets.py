"""Convolutional models of the LMT and certified-training literature (normalisation inside)."""

from __future__ import annotations

from torch import nn

from ..data.transforms import normalization_layers
from ..state import seeded
from .registry import register

__all__ = [
    "ACTIVATIONS",
    "conv_chain",
    "eight_c_two_f",
    "four_c_three_f",
    "lmt_mnist",
    "six_c_two_f",
]

ACTIVATIONS = ("relu", "clipped-relu", "maxmin", "clipped-maxmin")
"""The activations of the Local-Lip model family (Huang et al., NeurIPS 2021)."""

# (kind, out, kernel, stride, padding) for convolutions; (kind, out) for dense layers
_FOUR_C_THREE_F = [
    ("conv", 32, 3, 1, 1),
    ("conv", 32, 4, 2, 1),
    ("conv", 64, 3, 1, 1),
    ("conv", 64, 4, 2, 1),
    ("fc", 512),
    ("fc", 512),
]
_SIX_C_TWO_F = [
    ("conv", 32, 3, 1, 1),
    ("conv", 32, 3, 1, 1),
    ("conv", 32, 4, 2, 1),
    ("conv", 64, 3, 1, 1),
    ("conv", 64, 3, 1, 1),
    ("conv", 64, 4, 2, 1),
    ("fc", 512),
]
_EIGHT_C_TWO_F = [
    ("conv", 64, 3, 1, 1),
    ("conv", 64, 3, 1, 1),
    ("conv", 64, 4, 2, 0),
    ("conv", 128, 3, 1, 1),
    ("conv", 128, 3, 1, 1),
    ("conv", 128, 4, 2, 0),
    ("conv", 256, 3, 1, 1),
    ("conv", 256, 4, 2, 0),
    ("fc", 256),
]


def _activation(name: str, shape: tuple[int, ...], threshold: float = 1.0) -> nn.Module:
    from ..layers import ClippedMaxMin, ClippedReLU, MaxMin

    if name == "relu":
        return nn.ReLU()
    if name == "clipped-relu":
        return ClippedReLU(shape, init=threshold)
    if name == "maxmin":
        return MaxMin()
    if name == "clipped-maxmin":
        return ClippedMaxMin(shape, init_max=1.0, init_min=-1.0)
    msg = f"activation must be one of {ACTIVATIONS}, got {name!r}"
    raise ValueError(msg)


def conv_chain(
    spec,
    in_channels: int,
    input_size: int,
    n_classes: int,
    *,
    normalize=None,
    activation: str = "relu",
    seed: int = 0,
    init: str = "default",
    threshold: float = 1.0,
) -> nn.Sequential:
    r"""A chain of zero-padded convolutions and dense layers with one activation after each.

    Parameters
    ----------
    spec : list of tuple
        ``("conv", out_channels, kernel, stride, padding)`` or ``("fc", out_features)``; the
        last dense layer (to ``n_classes``) is added.
    in_channels, input_size, n_classes : int
        Input channels, the side of the square inputs, outputs.
    normalize : bool, None or (mean, std)
        As in :func:`lipviz.data.transforms.normalization_layers`.
    activation : str
        One of :data:`ACTIVATIONS`; clipped activations get one threshold per neuron.
    seed : int
        Seed of the initial weights (the caller's RNG state is left as it was).
    init : {"default", "local-lip"}
        ``local-lip``: convolution weights :math:`\mathcal N(0, 2/(k^2 c_{\text{out}}))` and zero
        biases, as the Local-Lip code.
    threshold : float
        The initial threshold of clipped ReLUs (the Local-Lip code: 1.0 for its MNIST 4C3F,
        whose builder ignores ``--init``; 2.0 for its CIFAR-10 6C2F runs).

    Returns
    -------
    nn.Sequential
        Inputs ``(N, in_channels, input_size, input_size)`` to logits ``(N, n_classes)``.
    """
    if activation not in ACTIVATIONS:
        msg = f"activation must be one of {ACTIVATIONS}, got {activation!r}"
        raise ValueError(msg)
    if init not in ("default", "local-lip"):
        msg = f"init must be 'default' or 'local-lip', got {init!r}"
        raise ValueError(msg)
    with seeded(seed):
        layers = list(normalization_layers(normalize, in_channels))
        c, n = in_channels, input_size
        flat = False
        for item in spec:
            if item[0] == "conv":
                _, out, k, s, p = item
                conv = nn.Conv2d(c, out, k, stride=s, padding=p)
                if init == "local-lip":
                    nn.init.normal_(conv.weight, 0.0, (2.0 / (k * k * out)) ** 0.5)
                    nn.init.zeros_(conv.bias)
                c, n = out, (n + 2 * p - k) // s + 1
                layers += [conv, _activation(activation, (c, n, n), threshold)]
            else:
                if not flat:
                    layers.append(nn.Flatten())
                    c, flat = c * n * n, True
                layers += [nn.Linear(c, item[1]), _activation(activation, (item[1],), threshold)]
                c = item[1]
        if not flat:
            layers.append(nn.Flatten())
            c = c * n * n
        layers.append(nn.Linear(c, n_classes))
        return nn.Sequential(*layers)


@register("lmt-mnist")
def lmt_mnist(
    in_channels: int = 1, input_size: int = 28, n_classes: int = 10, normalize=True, seed: int = 0
) -> nn.Sequential:
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
            nn.Conv2d(in_channels, 16, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 32, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(32 * side * side, 100),
            nn.ReLU(),
            nn.Linear(100, n_classes),
        )


@register("4c3f")
def four_c_three_f(
    in_channels: int = 1,
    input_size: int = 28,
    n_classes: int = 10,
    normalize=True,
    seed: int = 0,
    activation: str = "relu",
    init: str = "default",
    threshold: float = 1.0,
) -> nn.Sequential:
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
    init : {"default", "local-lip"}
        Convolution initialisation (:func:`conv_chain`).
    threshold : float
        The initial threshold of clipped ReLUs (:func:`conv_chain`).

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
    return conv_chain(
        _FOUR_C_THREE_F,
        in_channels,
        input_size,
        n_classes,
        normalize=normalize,
        activation=activation,
        seed=seed,
        init=init,
        threshold=threshold,
    )


@register("6c2f")
def six_c_two_f(
    in_channels: int = 1,
    input_size: int = 28,
    n_classes: int = 10,
    normalize=None,
    seed: int = 0,
    activation: str = "relu",
    init: str = "local-lip",
    threshold: float = 1.0,
) -> nn.Sequential:
    """6C2F of Local-Lip (Huang et al., NeurIPS 2021): conv32-3, conv32-3, conv32-4s2, conv64-3,
    conv64-3, conv64-4s2, fc512, fc; Local-Lip's initialisation; no normalisation by default.

    Parameters
    ----------
    in_channels, input_size, n_classes : int
        Input channels, the side of the square inputs, outputs.
    normalize : bool, None or (mean, std)
        As in :func:`lipviz.data.transforms.normalization_layers`.
    seed : int
        Seed of the initial weights.
    activation : str
        One of :data:`ACTIVATIONS`.
    init : {"default", "local-lip"}
        Convolution initialisation (:func:`conv_chain`).
    threshold : float
        The initial threshold of clipped ReLUs (:func:`conv_chain`).

    Returns
    -------
    nn.Sequential
        Inputs ``(N, in_channels, input_size, input_size)`` to logits ``(N, n_classes)``.
    """
    return conv_chain(
        _SIX_C_TWO_F,
        in_channels,
        input_size,
        n_classes,
        normalize=normalize,
        activation=activation,
        seed=seed,
        init=init,
        threshold=threshold,
    )


@register("8c2f")
def eight_c_two_f(
    in_channels: int = 3,
    input_size: int = 64,
    n_classes: int = 200,
    normalize=None,
    seed: int = 0,
    activation: str = "relu",
    init: str = "local-lip",
    threshold: float = 1.0,
) -> nn.Sequential:
    """8C2F of Local-Lip for 64x64 inputs (TinyImageNet): conv64-3, conv64-3, conv64-4s2p0,
    conv128-3, conv128-3, conv128-4s2p0, conv256-3, conv256-4s2p0, fc256, fc.

    Parameters
    ----------
    in_channels, input_size, n_classes : int
        Input channels, the side of the square inputs, outputs.
    normalize : bool, None or (mean, std)
        As in :func:`lipviz.data.transforms.normalization_layers`.
    seed : int
        Seed of the initial weights.
    activation : str
        One of :data:`ACTIVATIONS`.
    init : {"default", "local-lip"}
        Convolution initialisation (:func:`conv_chain`).
    threshold : float
        The initial threshold of clipped ReLUs (:func:`conv_chain`).

    Returns
    -------
    nn.Sequential
        Inputs ``(N, in_channels, input_size, input_size)`` to logits ``(N, n_classes)``.
    """
    return conv_chain(
        _EIGHT_C_TWO_F,
        in_channels,
        input_size,
        n_classes,
        normalize=normalize,
        activation=activation,
        seed=seed,
        init=init,
        threshold=threshold,
    )
