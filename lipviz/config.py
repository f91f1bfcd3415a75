"""Frozen dataclass configs with named presets (``SMOKE`` for CPU, ``FULL`` for the real run).

A chapter's ``parameters`` cell holds plain values (``preset = "smoke"`` plus overrides); the next
cell calls :func:`resolve` to turn them into a config.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

__all__ = ["PRESETS", "LMTConfig", "Margins2DConfig", "SOCConfig", "resolve"]


@dataclass(frozen=True)
class Margins2DConfig:
    """Chapter 1: a small Lipschitz classifier on a 2-D toy and its certified balls.

    Used by :func:`lipviz.experiments.run_margins2d`.

    Parameters
    ----------
    toy : str
        The 2-D toy of :func:`lipviz.data.make_toy` (``"moons"``, ``"circles"``, ``"spirals"``
        or ``"slab"``).
    n_train, n_val : int
        Sizes of the training and validation samples (the model is selected on validation).
    n_show : int
        Number of points certified and compared with their true boundary distance.
    hidden, depth : int
        Width and number of hidden layers of the ``"toy-mlp"`` ReLU network.
    spectral : bool
        Spectral-norm parametrised Linear layers (a training-time estimate only; the
        certificate uses the sound bound).
    epochs : int
        Training epochs.
    lr : float
        Learning rate (Adam).
    temperature : float
        Multiplies the logits inside the cross-entropy only (see :func:`lipviz.train.fit`).
    batch_size : int
        Training batch size.
    n_directions : int
        Rays per point when searching the true distance to the decision boundary.
    grid_resolution : int
        Default grid size of the decision-region plot.
    seed : int
        Seed of the data, the initialisation and the training.

    Attributes
    ----------
    SMOKE, FULL : Margins2DConfig
        Class-level presets: the defaults (CPU, seconds) and the book's full run.
    """

    toy: str = "moons"
    n_train: int = 400
    n_val: int = 200
    n_show: int = 40
    hidden: int = 64
    depth: int = 2
    spectral: bool = True
    epochs: int = 60
    lr: float = 1e-2
    temperature: float = 10.0
    batch_size: int = 64
    n_directions: int = 360
    grid_resolution: int = 200
    seed: int = 0


Margins2DConfig.SMOKE = Margins2DConfig()
Margins2DConfig.FULL = Margins2DConfig(
    n_train=2000, n_val=1000, n_show=80, hidden=128, epochs=200, n_directions=1440,
    grid_resolution=400,
)  # fmt: skip


@dataclass(frozen=True)
class LMTConfig:
    r"""Lipschitz-margin training (and its baselines) on MNIST-like data.

    ``method`` is ``"standard"`` (cross-entropy), ``"lmt"`` or ``"snr"`` (spectral-norm
    regularisation). ``c`` is LMT's guarded radius, warmed up over ``warmup_epochs``.
    Used by :func:`lipviz.experiments.run_lmt`.

    Parameters
    ----------
    dataset : str
        Dataset name for :func:`lipviz.load_dataset` (train, val and test splits).
    model : str
        Model name for :func:`lipviz.models.create`.
    method : str
        ``"standard"``, ``"lmt"`` or ``"snr"``.
    c : float
        LMT's guarded radius (input units): the other logits are raised by :math:`c\, s_{tj}`
        (Tsuzuku, Sato and Sugiyama, NeurIPS 2018).
    lmt_form : str
        ``"global"`` or ``"pairwise"`` scales (:func:`lipviz.functional.certificate_scales`).
    kappa_clip : bool
        The reference code's clipped variant of the LMT penalty.
    warmup_epochs : float
        Epochs over which ``c`` rises linearly to its value.
    snr_beta : float
        Weight :math:`\beta` of the spectral-norm regulariser (``method="snr"``).
    epochs : int
        Training epochs.
    lr : float
        Learning rate (Adam).
    batch_size : int
        Training batch size.
    select_eps : float
        Radius at which validation certified accuracy selects the model (certified methods;
        the standard baseline is selected on validation accuracy).
    n_val_eval : int
        Number of validation images evaluated per epoch.
    n_test : int
        Number of test images certified at the end.
    eps : tuple of float
        Radii of the reported certified accuracies.
    seed : int
        Seed of the data split, the initialisation and the training.

    Attributes
    ----------
    SMOKE, FULL : LMTConfig
        Class-level presets: the defaults (CPU, MNIST-5k) and the full MNIST run.
    """

    dataset: str = "mnist5k"
    model: str = "lmt-mnist"
    method: str = "lmt"
    c: float = 1.0
    lmt_form: str = "pairwise"
    kappa_clip: bool = False
    warmup_epochs: float = 1.0
    snr_beta: float = 0.01
    epochs: int = 6
    lr: float = 1e-3
    batch_size: int = 50
    select_eps: float = 0.5
    n_val_eval: int = 400
    n_test: int = 1000
    eps: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0, 1.58)
    seed: int = 0


LMTConfig.SMOKE = LMTConfig()
LMTConfig.FULL = LMTConfig(
    dataset="mnist", epochs=20, n_val_eval=6000, n_test=10000, warmup_epochs=5.0, c=1.0,
    select_eps=1.58, eps=(0.0, 0.5, 1.0, 1.58, 2.0),
)  # fmt: skip


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

    Attributes
    ----------
    SMOKE, FULL : SOCConfig
        Class-level presets: the defaults (CPU, MNIST-5k) and the paper-like CIFAR-10 run.
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


SOCConfig.SMOKE = SOCConfig()
SOCConfig.FULL = SOCConfig(
    dataset="cifar10-jpeg", init_channels=32, epochs=200, augment="crop-flip",
    select_eps=36 / 255, n_val_eval=5000, n_test=10000,
    eps=(0.0, 36 / 255, 72 / 255, 108 / 255),
)  # fmt: skip

#: experiment name -> config class (each has SMOKE and FULL presets)
PRESETS = {"margins2d": Margins2DConfig, "lmt": LMTConfig, "soc": SOCConfig}


def resolve(experiment: str, preset: str = "smoke", **overrides):
    """The ``preset`` config of ``experiment`` with ``overrides`` applied.

    ``None`` overrides are ignored, so a parameters cell can leave values unset.

    Parameters
    ----------
    experiment : str
        A key of :data:`PRESETS`: ``"margins2d"``, ``"lmt"`` or ``"soc"``.
    preset : str
        ``"smoke"`` (CPU, the default) or ``"full"``; case-insensitive.
    **overrides
        Field values replacing the preset's; ``None`` values are skipped.

    Returns
    -------
    Margins2DConfig or LMTConfig or SOCConfig
        A new frozen config (the presets are not modified).

    Raises
    ------
    ValueError
        For an unknown experiment, preset or field name.

    Examples
    --------
    >>> resolve("margins2d", "smoke", epochs=5).epochs
    5
    """
    if experiment not in PRESETS:
        msg = f"Unknown experiment {experiment!r}. Known: {', '.join(PRESETS)}"
        raise ValueError(msg)
    cls = PRESETS[experiment]
    key = preset.upper()
    if key not in ("SMOKE", "FULL"):
        msg = f"Unknown preset {preset!r}; use 'smoke' (CPU, default) or 'full' (GPU)"
        raise ValueError(msg)
    base = getattr(cls, key)
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = set(overrides) - fields
    if unknown:
        msg = f"Unknown {cls.__name__} fields {sorted(unknown)}. Valid: {sorted(fields)}"
        raise ValueError(msg)
    return dataclasses.replace(base, **{k: v for k, v in overrides.items() if v is not None})
