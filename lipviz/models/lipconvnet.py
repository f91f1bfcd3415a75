"""LipConvnet-N (Singla, Singla and Feizi, ICLR 2022): SOC convolutions with GNP activations."""

from __future__ import annotations

from torch import nn

from ..data.transforms import normalization_layers
from ..layers import LLN, SOC, Householder, Householder2, MaxMin, OrthogonalLinear
from ..state import seeded
from .registry import register

__all__ = ["lipconvnet"]


def _activation(name: str, channels: int) -> nn.Module:
    if name == "maxmin":
        return MaxMin()
    if name == "hh1":
        return Householder(channels)
    if name == "hh2":
        return Householder2(channels)
    msg = f"activation must be 'maxmin', 'hh1' or 'hh2', got {name!r}"
    raise ValueError(msg)


@register("lipconvnet")
def lipconvnet(
    depth: int = 5,
    in_channels: int = 3,
    n_classes: int = 10,
    activation: str = "hh1",
    last_layer: str = "lln",
    init_channels: int = 32,
    normalize=True,
    input_size: int = 32,
    seed: int = 0,
) -> nn.Sequential:
    """LipConvnet-``depth`` for 32x32 inputs (``depth`` = 5, 10, ..., 40).

    Five stages of ``depth/5 - 1`` stride-1 3x3 SOCs and one stride-2 SOC (3x3, 1x1 in the last
    stage), each followed by the activation; channels double per stage from ``2*init_channels`` to
    ``32*init_channels`` at 1x1. Input normalisation sits inside (per-channel CIFAR-10 statistics
    for 3 channels, MNIST for 1, by default; ``normalize`` as in
    :func:`lipviz.data.transforms.normalization_layers`; its bound is 1/min std). The last layer is
    LLN or an orthogonal 1x1 SOC (``last_layer="soc"``). Smaller inputs (e.g. MNIST's 28x28) are
    zero-padded to 32x32, an isometric embedding.

    The architecture is the LipConvnet-N of Singla and Feizi (ICML 2021); the Householder
    activations and LLN are those of Singla, Singla and Feizi (ICLR 2022).

    Parameters
    ----------
    depth : int
        Number of SOC layers, one of 5, 10, ..., 40.
    in_channels : int
        Input channels.
    n_classes : int
        Number of outputs.
    activation : str
        ``"maxmin"`` (:class:`~lipviz.layers.MaxMin`), ``"hh1"``
        (:class:`~lipviz.layers.Householder`) or ``"hh2"`` (:class:`~lipviz.layers.Householder2`).
    last_layer : str
        ``"lln"`` (:class:`~lipviz.layers.LLN`) or ``"soc"``
        (:class:`~lipviz.layers.OrthogonalLinear`).
    init_channels : int
        Stage ``s`` (0 to 4) has stride-1 SOCs with ``init_channels * 2**s`` channels and ends
        with a stride-2 SOC to twice that.
    normalize : bool, None or (mean, std)
        Input normalisation, as in :func:`lipviz.data.transforms.normalization_layers`.
    input_size : int
        Height and width of the square inputs: 32, or smaller by an even number.
    seed : int
        Seed of the initial weights (the caller's RNG state is left as it was).

    Returns
    -------
    nn.Sequential
        Maps inputs ``(N, in_channels, input_size, input_size)`` to logits ``(N, n_classes)``.

    Raises
    ------
    ValueError
        For an invalid ``depth``, ``activation``, ``last_layer`` or ``input_size``.

    Examples
    --------
    >>> net = lipconvnet(5, in_channels=1, input_size=28, init_channels=1)
    >>> [type(m).__name__ for m in net[:4]], isinstance(net[-1], LLN), net[-1].in_features
    (['Normalize', 'ZeroPad2d', 'SOC', 'Householder'], True, 32)
    """
    if depth % 5 or not 5 <= depth <= 40:
        msg = f"depth must be one of 5, 10, ..., 40, got {depth}"
        raise ValueError(msg)
    with seeded(seed):  # the caller's RNG stream is left as it was
        layers: list[nn.Module] = normalization_layers(normalize, in_channels)
        if input_size != 32:
            if input_size > 32 or (32 - input_size) % 2:
                msg = f"input_size must be 32 or smaller by an even number, got {input_size}"
                raise ValueError(msg)
            layers.append(nn.ZeroPad2d((32 - input_size) // 2))
        block = depth // 5
        channels = in_channels
        for stage in range(5):
            planes = init_channels * 2**stage
            for _ in range(block - 1):
                layers += [SOC(channels, planes, 3), _activation(activation, planes)]
                channels = planes
            kernel = 3 if stage < 4 else 1
            layers += [
                SOC(channels, 2 * planes, kernel, stride=2),
                _activation(activation, 2 * planes),
            ]
            channels = 2 * planes
        layers.append(nn.Flatten())
        if last_layer == "lln":
            layers.append(LLN(channels, n_classes))
        elif last_layer == "soc":
            layers.append(OrthogonalLinear(channels, n_classes))
        else:
            msg = f"last_layer must be 'lln' or 'soc', got {last_layer!r}"
            raise ValueError(msg)
        return nn.Sequential(*layers)
