"""The configuration of LMT training on MNIST (Tsuzuku, Sato and Sugiyama, NeurIPS 2018)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ._checks import DATASET_SHAPES, check

__all__ = ["LMTConfig"]


@dataclass(frozen=True)
class LMTConfig:
    r"""Lipschitz-margin training (and its baselines) on MNIST-like data.

    ``method`` is ``"standard"`` (cross-entropy), ``"lmt"``, ``"snr"`` (spectral-norm
    regularisation) or ``"pgd"`` (PGD adversarial training, Madry et al., ICLR 2018). ``c`` is
    LMT's guarded radius, warmed up over ``warmup_epochs`` (as is PGD's ``adv_eps``).
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
        ``"standard"``, ``"lmt"``, ``"snr"`` or ``"pgd"``.
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
    adv_eps : float
        The l2 radius of PGD adversarial training (``method="pgd"``; input units).
    adv_steps : int
        PGD steps per training batch (``method="pgd"``).
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

    Raises
    ------
    ValueError
        For a value of the wrong type or out of range: counts below 1, a learning rate that is
        not > 0, milestones not increasing fractions in (0, 1], a radius (``c``,
        ``select_eps``, ``eps``) that is negative or larger than the l2 diameter of the
        dataset's input box (radii are in input units, e.g. 36/255), an unknown dataset,
        method or form.

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
    adv_eps: float = 1.0
    adv_steps: int = 10
    epochs: int = 6
    lr: float = 1e-3
    lr_milestones: tuple[float, ...] = ()
    batch_size: int = 50
    select_eps: float = 0.5
    n_val_eval: int = 400
    n_test: int = 1000
    eps: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0, 1.58)
    seed: int = 0

    def __post_init__(self):
        check(
            self,
            choices={
                "dataset": tuple(DATASET_SHAPES),
                "method": ("standard", "lmt", "snr", "pgd"),
                "lmt_form": ("global", "pairwise"),
            },
            counts=("epochs", "batch_size", "n_val_eval", "n_test", "adv_steps"),
            naturals=("seed",),
            positive=("lr",),
            nonnegative=("warmup_epochs", "snr_beta"),
            milestones=("lr_milestones",),
            radii=("c", "select_eps", "adv_eps"),
            radius_lists=("eps",),
            dataset=self.dataset,
        )


LMTConfig.SMOKE = LMTConfig()
LMTConfig.FULL = LMTConfig(
    dataset="mnist",
    epochs=20,
    n_val_eval=6000,
    n_test=10000,
    warmup_epochs=5.0,
    c=1.0,
    select_eps=1.58,
    eps=(0.0, 0.5, 1.0, 1.58, 2.0),
)
LMTConfig.FULL_LONG = dataclasses.replace(
    LMTConfig.FULL,
    c=2.5,
    warmup_epochs=10.0,
    kappa_clip=True,
    epochs=40,
    lr_milestones=(0.5, 0.75),
)
