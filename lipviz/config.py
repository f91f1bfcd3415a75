"""Frozen dataclass configs with named presets (``SMOKE`` for CPU, ``FULL`` for the real run).

A chapter's ``parameters`` cell holds plain values (``preset = "smoke"`` plus overrides); the next
cell calls :func:`resolve` to turn them into a config.
"""

from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass

__all__ = [
    "PRESETS",
    "LMTConfig",
    "LocalLipConfig",
    "Margins2DConfig",
    "SOCConfig",
    "preset_names",
    "resolve",
]


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
    activation : str or None
        The model's activation (``"relu"``, ``"maxmin"``, ... as
        :func:`lipviz.models.convnets.conv_chain` takes it); None keeps the model's own.
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
    lr_milestones : tuple of float
        Fractions of ``epochs`` at which the learning rate is divided by 10 (none by default,
        as in LMT's MNIST configuration).
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
    SMOKE, FULL, FULL_LONG : LMTConfig
        Class-level presets: the defaults (CPU, MNIST-5k), the full MNIST run, and the longer
        MNIST schedule that beats LMT's published row (``preset="full-long"``: c = 2.5 warmed
        up over 10 epochs, κ-clipping, 40 epochs, the learning rate divided by 10 after epochs
        20 and 30; the run ``book/results/lmt-full-c2.5``).
    """

    dataset: str = "mnist5k"
    model: str = "lmt-mnist"
    activation: str | None = None
    method: str = "lmt"
    c: float = 1.0
    lmt_form: str = "pairwise"
    kappa_clip: bool = False
    warmup_epochs: float = 1.0
    snr_beta: float = 0.01
    epochs: int = 6
    lr: float = 1e-3
    lr_milestones: tuple[float, ...] = ()
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
LMTConfig.FULL_LONG = dataclasses.replace(
    LMTConfig.FULL, c=2.5, warmup_epochs=10.0, kappa_clip=True, epochs=40,
    lr_milestones=(0.5, 0.75),
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


@dataclass(frozen=True)
class LocalLipConfig:
    r"""Local-Lip training (Huang, Zhang, Shi, Kolter and Anandkumar, NeurIPS 2021) and its
    sound local certificates. Used by :func:`lipviz.experiments.run_locallip`.

    ``full`` is the paper's MNIST schedule (4C3F with clipped ReLUs, Adam 1e-3, batch 256,
    300 epochs, no warm-up, 150 epochs of ε and κ ramps, 5 power iterations, GloRo's loss,
    train ε 1.75, eval ε 1.58); ``full-cifar10`` its CIFAR-10 schedule (6C2F, 800 epochs,
    20 clean epochs, 400 of ramps, 2 power iterations, BCP loss, train ε 0.1551, eval ε
    36/255; the paper's exponential learning-rate decay is not reproduced). Models are selected
    on validation sound local certified accuracy (the reference code picks the best *test*
    robust error; lipviz never looks at the test set). ``smoke`` trains 3 epochs towards a
    smaller radius (1.0) so that a short run certifies something.

    Parameters
    ----------
    dataset : str
        Dataset name for :func:`lipviz.load_dataset`.
    model : str
        ``"4c3f"``, ``"6c2f"`` or ``"8c2f"`` (:func:`lipviz.models.create`).
    activation : str
        ``"relu"``, ``"clipped-relu"``, ``"maxmin"`` or ``"clipped-maxmin"``.
    train_eps : float
        Training radius (input units), reached at the end of the ramp.
    gloro : bool
        GloRo's loss (an extra logit :math:`\max_{j
    e y} 	ilde z_j`) instead of the BCP loss.
    sparsity, sp_thres : float
        Weight of the sparsity loss and of its saturation term.
    n_iter : int
        Power-iteration steps per local factor in training.
    warmup_epochs, rampup_epochs : float
        Clean epochs, then the length of the ε and κ ramps.
    epochs : int
        Training epochs.
    lr : float
        Learning rate (Adam).
    lr_milestones : tuple of float
        Fractions of ``epochs`` after which the learning rate is divided by 10. The paper holds
        it constant until half the epochs plus 25, then decays it exponentially (to 5e-6 on
        MNIST); the ``full`` presets step down after 60 % and 80 % of the epochs instead
        (1e-3, 1e-4, 1e-5).
    batch_size : int
        Training batch size.
    select_eps : float
        Radius of the validation sound local certified accuracy that selects the model.
    n_val_eval : int
        Validation images certified per epoch.
    n_test : int
        Test images certified at the end.
    eps : tuple of float
        Radii of the reported certified accuracies.
    estimate_n_iter : int
        Power-iteration steps per factor of the reported estimates (not certificates).
    seed : int
        Seed of the data split, the initialisation and the training.

    Attributes
    ----------
    SMOKE, FULL, FULL_CIFAR10 : LocalLipConfig
        Class-level presets: CPU on MNIST-5k (about a minute), the paper's MNIST and CIFAR-10
        schedules (GPU; ``preset="full-cifar10"`` in :func:`resolve`).
    """

    dataset: str = "mnist5k"
    model: str = "4c3f"
    activation: str = "clipped-relu"
    train_eps: float = 1.0
    gloro: bool = True
    sparsity: float = 0.0
    sp_thres: float = 0.1
    n_iter: int = 2
    warmup_epochs: float = 0.5
    rampup_epochs: float = 1.5
    epochs: int = 3
    lr: float = 1e-3
    lr_milestones: tuple[float, ...] = ()
    batch_size: int = 256
    select_eps: float = 0.5
    n_val_eval: int = 100
    n_test: int = 100
    eps: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0)
    estimate_n_iter: int = 20
    seed: int = 0


LocalLipConfig.SMOKE = LocalLipConfig()
LocalLipConfig.FULL = LocalLipConfig(
    dataset="mnist", train_eps=1.75, n_iter=5, warmup_epochs=0.0, rampup_epochs=150.0, epochs=300,
    lr_milestones=(0.6, 0.8), select_eps=1.58, n_val_eval=5000, n_test=10000,
    eps=(0.0, 1.0, 1.58), estimate_n_iter=100,
)  # fmt: skip
LocalLipConfig.FULL_CIFAR10 = LocalLipConfig(
    dataset="cifar10", model="6c2f", train_eps=0.1551, gloro=False, n_iter=2,
    warmup_epochs=20.0, rampup_epochs=400.0, epochs=800, lr_milestones=(0.6, 0.8),
    select_eps=36 / 255, n_val_eval=5000,
    n_test=10000, eps=(0.0, 36 / 255, 72 / 255), estimate_n_iter=100,
)  # fmt: skip

#: experiment name -> config class (each has SMOKE and FULL presets; some have more)
PRESETS = {
    "margins2d": Margins2DConfig,
    "lmt": LMTConfig,
    "soc": SOCConfig,
    "locallip": LocalLipConfig,
}


def preset_names(experiment: str) -> list[str]:
    """The presets of an experiment, as :func:`resolve` and the command line spell them.

    Parameters
    ----------
    experiment : str
        A key of :data:`PRESETS`.

    Returns
    -------
    list of str
        ``"smoke"``, ``"full"``, then any other class-level preset (``FULL_CIFAR10`` is
        ``"full-cifar10"``).

    Examples
    --------
    >>> preset_names("locallip")
    ['smoke', 'full', 'full-cifar10']
    """
    cls = PRESETS[experiment]
    extra = sorted(k for k, v in vars(cls).items()
                   if isinstance(v, cls) and k not in ("SMOKE", "FULL"))  # fmt: skip
    return ["smoke", "full"] + [k.lower().replace("_", "-") for k in extra]


def _coerce(cls_name: str, name: str, current, value):
    """``value`` as the type of the preset's ``current`` value, or a ValueError naming the field.

    Booleans also accept the strings "true"/"false" (any case; the command line passes text),
    floats accept integers, integers accept integral floats, tuples accept lists; a field whose
    preset value is None takes anything.
    """
    bad = f"{cls_name}.{name} expects {type(current).__name__}, got {value!r}"
    if current is None:
        return value
    if isinstance(current, bool):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ValueError(bad)
    if isinstance(current, numbers.Integral):
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            return int(value)
        if isinstance(value, numbers.Real) and float(value).is_integer():
            return int(value)
        raise ValueError(bad)
    if isinstance(current, numbers.Real):
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            return float(value)
        raise ValueError(bad)
    if isinstance(current, tuple):
        if isinstance(value, (tuple, list)):
            return tuple(value)
        raise ValueError(bad)
    if isinstance(current, str) and not isinstance(value, str):
        raise ValueError(bad)
    return value


def resolve(experiment: str, preset: str = "smoke", **overrides):
    """The ``preset`` config of ``experiment`` with ``overrides`` applied.

    ``None`` overrides are ignored, so a parameters cell can leave values unset.

    Parameters
    ----------
    experiment : str
        A key of :data:`PRESETS`: ``"margins2d"``, ``"lmt"``, ``"soc"`` or ``"locallip"``.
    preset : str
        ``"smoke"`` (CPU, the default), ``"full"``, or another preset of the config class
        (``"full-cifar10"`` for ``"locallip"``); case-insensitive.
    **overrides
        Field values replacing the preset's; ``None`` values are skipped.

    Returns
    -------
    Margins2DConfig or LMTConfig or SOCConfig or LocalLipConfig
        A new frozen config (the presets are not modified).

    Raises
    ------
    ValueError
        For an unknown experiment, preset or field name, or a value of the wrong type (a
        boolean field also takes the strings "true" and "false"; see the examples).

    Examples
    --------
    >>> resolve("margins2d", "smoke", epochs=5).epochs
    5
    >>> resolve("lmt", "full", kappa_clip="false").kappa_clip
    False
    >>> resolve("lmt", "smoke", kappa_clip="yes")
    Traceback (most recent call last):
    ...
    ValueError: LMTConfig.kappa_clip expects bool, got 'yes'
    """
    if experiment not in PRESETS:
        msg = f"Unknown experiment {experiment!r}. Known: {', '.join(PRESETS)}"
        raise ValueError(msg)
    cls = PRESETS[experiment]
    names = preset_names(experiment)
    if preset.lower() not in names:
        msg = f"Unknown preset {preset!r} of {experiment!r}; use one of {names} (smoke: CPU)"
        raise ValueError(msg)
    base = getattr(cls, preset.upper().replace("-", "_"))
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = set(overrides) - fields
    if unknown:
        msg = f"Unknown {cls.__name__} fields {sorted(unknown)}. Valid: {sorted(fields)}"
        raise ValueError(msg)
    values = {k: _coerce(cls.__name__, k, getattr(base, k), v)
              for k, v in overrides.items() if v is not None}  # fmt: skip
    return dataclasses.replace(base, **values)
