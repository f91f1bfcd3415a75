"""The configuration of SOC networks (Singla and Feizi)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ._checks import DATASET_SHAPES, check

__all__ = ["SOCConfig"]


@dataclass(frozen=True)
class SOCConfig:
    r"""LipConvnet with SOC layers, GNP activations, LLN and certificate regularisation.

    ``full`` follows the paper (Singla, Singla and Feizi, 2022): SGD lr 0.1, momentum 0.9,
    weight decay 5e-4 (none on Householder angles), lr /10 at 50 % and 75 %, batch 128,
    crop+flip, 200 epochs, on the CIFAR-10 JPEG q75 re-encoding (always labelled so). The CR
    weight used for the paper's tables was not recovered; ``gamma`` is ours.
    Used by :func:`lipviz.experiments.run_soc`.

    Parameters
    ----------
    dataset : str
        Dataset name for :func:`lipviz.load_dataset`.
    depth : int
        LipConvnet depth (5, 10, ..., 40).
    init_channels : int
        Channels of the first stage (doubled per stage).
    activation : str
        ``"hh1"``, ``"hh2"`` (Householder) or ``"maxmin"``.
    last_layer : str
        ``"lln"`` (last layer normalisation) or ``"soc"`` (an orthogonal last layer).
    gamma : float
        Weight :math:`\gamma` of the certificate regulariser,
        :math:`\mathrm{CE} - \gamma\,\mathrm{mean}\,\mathrm{ReLU}(\mathrm{cert})`.
    epochs : int
        Training epochs.
    lr, momentum, weight_decay : float
        SGD settings (no weight decay on Householder angles).
    lr_milestones : tuple of float
        Fractions of ``epochs`` at which the learning rate is divided by 10.
    batch_size : int
        Training batch size.
    augment : str
        ``"none"`` or ``"crop-flip"``.
    select_eps : float
        Radius at which validation certified accuracy selects the model.
    n_val_eval : int
        Number of validation images evaluated per epoch.
    n_test : int
        Number of test images certified at the end.
    eps : tuple of float
        Radii of the reported certified accuracies.
    seed : int
        Seed of the data split, the initialisation and the training.
    model : str
        Model name recorded in the run summary (the network built is always LipConvnet).
    amp : str
        ``"none"``, ``"bf16"`` or ``"fp16"``: mixed-precision training (GPU); certificates are
        computed in fp32.

    Raises
    ------
    ValueError
        For a value of the wrong type or out of range: a depth not in 5, 10, ..., 40, counts
        below 1, a learning rate that is not > 0, a momentum outside [0, 1), milestones not
        increasing fractions in (0, 1], a radius (``select_eps``, ``eps``) that is negative or
        larger than the l2 diameter of the dataset's input box (radii are in input units, e.g.
        36/255), an unknown dataset, activation, last layer, augmentation or precision.

    Attributes
    ----------
    SMOKE, FULL : SOCConfig
        Class-level presets: the defaults (CPU, MNIST-5k) and the paper-like CIFAR-10 run.
    SMOKE_CIFAR10 : SOCConfig
        ``"smoke-cifar10"``: LipConvnet-5 at ``init_channels`` 8, MaxMin, LLN, no CR, three
        epochs on the exact 6,102-image CIFAR-10 subset (4,577 training, 508 validation
        images), certified on its 1,017 test images; under two minutes on 2 CPU cores.
    CPU_CIFAR10 : SOCConfig
        ``"cpu-cifar10"``: LipConvnet-5 at a reduced width (``init_channels`` 16, 4.2 M
        parameters against the paper's 16.6 M at 32), MaxMin, LLN, no CR, 30 epochs of the
        paper's schedule (SGD 0.1, steps at 50 % and 75 %, crop+flip) on the CIFAR-10 JPEG q75
        re-encoding, selected on 2,000 validation images at 36/255 and certified on the 10,000
        JPEG test images. About 5 minutes an epoch on 2 CPU cores (283 s measured,
        ``benchmarks/bench_lipconvnet_epoch.py``).
    CPU_CIFAR10_HH_CR : SOCConfig
        ``"cpu-cifar10-hh-cr"``: the same with Householder activations (HH1) and certificate
        regularisation (:math:`\gamma = 0.5`, ours: the paper's value was not recovered).
    """

    dataset: str = "mnist5k"
    depth: int = 5
    init_channels: int = 8
    activation: str = "hh1"
    last_layer: str = "lln"
    gamma: float = 0.5
    epochs: int = 3
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    lr_milestones: tuple[float, ...] = (0.5, 0.75)
    batch_size: int = 128
    augment: str = "none"
    select_eps: float = 0.5
    n_val_eval: int = 400
    n_test: int = 1000
    eps: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0)
    seed: int = 0
    model: str = "lipconvnet"
    amp: str = "none"  # "bf16"/"fp16" train in mixed precision (GPU); certificates are fp32

    def __post_init__(self):
        check(
            self,
            choices={
                "dataset": tuple(DATASET_SHAPES),
                "depth": tuple(range(5, 45, 5)),
                "activation": ("hh1", "hh2", "maxmin"),
                "last_layer": ("lln", "soc"),
                "augment": ("none", "crop-flip"),
                "amp": ("none", "bf16", "fp16"),
            },
            counts=("init_channels", "epochs", "batch_size", "n_val_eval", "n_test"),
            naturals=("seed",),
            positive=("lr",),
            nonnegative=("gamma", "weight_decay"),
            below_one=("momentum",),
            milestones=("lr_milestones",),
            radii=("select_eps",),
            radius_lists=("eps",),
            dataset=self.dataset,
        )


_CIFAR10_EPS = (0.0, 36 / 255, 72 / 255, 108 / 255)

SOCConfig.SMOKE = SOCConfig()
SOCConfig.SMOKE_CIFAR10 = SOCConfig(
    dataset="cifar10-exact-subset",
    activation="maxmin",
    gamma=0.0,
    augment="crop-flip",
    select_eps=36 / 255,
    n_val_eval=508,
    n_test=1017,
    eps=_CIFAR10_EPS,
)
SOCConfig.CPU_CIFAR10 = SOCConfig(
    dataset="cifar10-jpeg",
    init_channels=16,
    activation="maxmin",
    gamma=0.0,
    epochs=30,
    augment="crop-flip",
    select_eps=36 / 255,
    n_val_eval=2000,
    n_test=10000,
    eps=_CIFAR10_EPS,
)
SOCConfig.CPU_CIFAR10_HH_CR = dataclasses.replace(
    SOCConfig.CPU_CIFAR10, activation="hh1", gamma=0.5
)
SOCConfig.FULL = SOCConfig(
    dataset="cifar10-jpeg",
    init_channels=32,
    epochs=200,
    augment="crop-flip",
    select_eps=36 / 255,
    n_val_eval=5000,
    n_test=10000,
    eps=_CIFAR10_EPS,
)
