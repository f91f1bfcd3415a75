"""The configuration of Local-Lip training (Huang, Zhang, Shi, Kolter and Anandkumar,
NeurIPS 2021)."""

from __future__ import annotations

from dataclasses import dataclass

from ._checks import DATASET_SHAPES, check

__all__ = ["LocalLipConfig"]


@dataclass(frozen=True)
class LocalLipConfig:
    r"""Local-Lip training (Huang, Zhang, Shi, Kolter and Anandkumar, NeurIPS 2021) and its
    sound local certificates. Used by :func:`lipviz.experiments.run_locallip`.

    ``full`` is the reference code's MNIST run (``run_job.sh``: 4C3F with clipped ReLUs whose
    thresholds start at 1.0, Local-Lip's convolution init, GloRo's loss, Adam 1e-3, batch 256,
    300 epochs, no warm-up, 150 epochs of ε ramp, 5 power iterations, train ε 1.75, eval ε 1.58,
    the exponential learning-rate schedule to 5e-6); ``full-cifar10`` its CIFAR-10 6C2F run
    (thresholds 2.0, 800 epochs, 20 warm-up epochs, 400 of ramps, 2 power iterations, the BCP
    loss, train ε 0.1551, eval ε 36/255, decay to 1e-6). ``smoke`` trains 3 epochs towards a
    smaller radius (1.0) with fractional linear ramps, so that a short run certifies something;
    it keeps PyTorch's convolution init and thresholds at 2.0, which learn faster in its 45
    steps (measured on MNIST-5k, 100 test images: clean 74 % and sound local 31 % at ε = 0.5,
    against 67 % and 6 % with the reference's init).

    **Where lipviz differs from the reference code on purpose.**

    - Models are selected on validation *sound* local certified accuracy; the reference picks
      the best *test* robust error, and lipviz never looks at the test set.
    - Training uses power iteration as the reference does, but starts each layer's iterations
      from its unmasked top singular vector instead of a vector stored per training example
      (memory O(batch), not O(dataset)).
    - The last layer's worst case is the exact maximum over the ball :math:`\cap` box (the
      Lagrangian dual, :mod:`lipviz.functional.ball_box`) instead of ``opt_iter`` steps of
      clip-and-rescale, in training as in certification.
    - Under ``ramp="reference"``, κ (the clean loss's weight of the BCP loss) is clamped
      at 0: the code's within-epoch step takes it below 0 after the ramp.
    - Certificates are sound (guaranteed factors and rounding terms); the code's are
      power-iteration estimates.

    Parameters
    ----------
    dataset : str
        Dataset name for :func:`lipviz.load_dataset`.
    model : str
        ``"4c3f"``, ``"6c2f"`` or ``"8c2f"`` (:func:`lipviz.models.create`).
    activation : str
        ``"relu"``, ``"clipped-relu"``, ``"maxmin"`` or ``"clipped-maxmin"``.
    init : str
        Convolution initialisation: ``"local-lip"`` (:math:`\mathcal N(0, 2/(k^2
        c_{\text{out}}))`, zero biases, as the reference code) or ``"default"`` (PyTorch's).
    threshold_init : float
        Initial clipped-ReLU threshold (the reference: 1.0 on MNIST, 2.0 on CIFAR-10 6C2F).
    train_eps : float
        Training radius (input units), reached at the end of the ramp.
    gloro : bool
        GloRo's loss (an extra logit :math:`\max_{j \ne y} \tilde z_j`), alone as in the
        reference code, instead of the BCP loss mixed with the clean loss by κ.
    sparsity, sp_thres : float
        Weight of the sparsity loss and of its saturation term (the reference's TinyImageNet
        code: ``--sparse`` 0.01 in ``run_job.sh``, ``sp_thres`` 0.1; its MNIST and CIFAR-10
        code has no sparsity loss, so ``full`` keeps it off).
    n_iter : int
        Power-iteration steps per local factor in training.
    warmup_epochs, rampup_epochs : float
        Clean epochs, then the length of the ε and κ ramps.
    ramp : str
        ``"reference"``: the code's ramps, whole epochs: in epoch :math:`t` (0-based, after
        the warm-up) ε starts at ``train_eps`` :math:`\cdot \min(t, R-1)/(R-1)` (``np.linspace``
        over :math:`R` = ``rampup_epochs``) and grows within the epoch by ``select_eps``
        :math:`/R` (the code's eval ε, also after the ramp, as the code does); κ likewise from
        1 to 0. ``"linear"``: both ramp linearly and continuously from ``warmup_epochs`` over
        ``rampup_epochs`` (fractions allowed).
    epochs : int
        Training epochs.
    lr : float
        Learning rate (Adam).
    lr_schedule : str
        ``"exp"``: the reference code's schedule, constant until ``epochs // 2 + lr_hold``,
        then exponential decay to ``end_lr`` (:func:`lipviz.train.settings.exp_decay`);
        ``"step"``: divided by 10 after each of ``lr_milestones``.
    end_lr : float
        The last epoch's learning rate under ``"exp"`` (5e-6 on MNIST, 1e-6 on CIFAR-10).
    lr_hold : int
        Epochs past half-way at the initial rate under ``"exp"`` (the code's ``--more``).
    lr_milestones : tuple of float
        Fractions of ``epochs`` after which the learning rate is divided by 10 (``"step"``).
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

    Raises
    ------
    ValueError
        For a value of the wrong type or out of range: counts below 1, a learning rate that is
        not > 0, negative weights or ramps, milestones not increasing fractions in (0, 1], a
        radius (``train_eps``, ``select_eps``, ``eps``) that is negative or larger than the l2
        diameter of the dataset's input box (radii are in input units, e.g. 36/255), an
        unknown dataset, model or activation.

    Attributes
    ----------
    SMOKE, FULL, FULL_CIFAR10 : LocalLipConfig
        Class-level presets: CPU on MNIST-5k (about a minute), the reference code's MNIST and
        CIFAR-10 runs (``preset="full-cifar10"`` in :func:`resolve`).
    """

    dataset: str = "mnist5k"
    model: str = "4c3f"
    activation: str = "clipped-relu"
    init: str = "local-lip"
    threshold_init: float = 1.0
    train_eps: float = 1.0
    gloro: bool = True
    sparsity: float = 0.0
    sp_thres: float = 0.1
    n_iter: int = 2
    warmup_epochs: float = 0.5
    rampup_epochs: float = 1.5
    ramp: str = "linear"
    epochs: int = 3
    lr: float = 1e-3
    lr_schedule: str = "step"
    end_lr: float = 5e-6
    lr_hold: int = 25
    lr_milestones: tuple[float, ...] = ()
    batch_size: int = 256
    select_eps: float = 0.5
    n_val_eval: int = 100
    n_test: int = 100
    eps: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0)
    estimate_n_iter: int = 20
    seed: int = 0

    def __post_init__(self):
        check(
            self,
            choices={
                "dataset": tuple(DATASET_SHAPES),
                "model": ("4c3f", "6c2f", "8c2f"),
                "activation": ("relu", "clipped-relu", "maxmin", "clipped-maxmin"),
                "init": ("local-lip", "default"),
                "ramp": ("reference", "linear"),
                "lr_schedule": ("exp", "step"),
            },
            counts=("n_iter", "epochs", "batch_size", "n_val_eval", "n_test", "estimate_n_iter"),
            naturals=("seed", "lr_hold"),
            positive=("lr", "end_lr"),
            nonnegative=(
                "sparsity",
                "sp_thres",
                "warmup_epochs",
                "rampup_epochs",
                "threshold_init",
            ),
            milestones=("lr_milestones",),
            radii=("train_eps", "select_eps"),
            radius_lists=("eps",),
            dataset=self.dataset,
        )
        if self.ramp == "reference" and not (
            self.rampup_epochs >= 1
            and float(self.rampup_epochs).is_integer()
            and float(self.warmup_epochs).is_integer()
        ):
            msg = (
                "LocalLipConfig: ramp='reference' ramps over whole epochs: warmup_epochs "
                f"and rampup_epochs (>= 1) must be whole numbers, got {self.warmup_epochs} and "
                f"{self.rampup_epochs} (or use ramp='linear')"
            )
            raise ValueError(msg)
        if self.lr_schedule == "exp" and self.lr_milestones:
            msg = "LocalLipConfig: lr_milestones apply to lr_schedule='step' only, not 'exp'"
            raise ValueError(msg)


LocalLipConfig.SMOKE = LocalLipConfig(threshold_init=2.0, init="default")
LocalLipConfig.FULL = LocalLipConfig(
    dataset="mnist",
    train_eps=1.75,
    n_iter=5,
    warmup_epochs=0.0,
    rampup_epochs=150.0,
    ramp="reference",
    epochs=300,
    lr_schedule="exp",
    end_lr=5e-6,
    select_eps=1.58,
    n_val_eval=5000,
    n_test=10000,
    eps=(0.0, 1.0, 1.58),
    estimate_n_iter=100,
)
LocalLipConfig.FULL_CIFAR10 = LocalLipConfig(
    dataset="cifar10",
    model="6c2f",
    threshold_init=2.0,
    train_eps=0.1551,
    gloro=False,
    n_iter=2,
    warmup_epochs=20.0,
    rampup_epochs=400.0,
    ramp="reference",
    epochs=800,
    lr_schedule="exp",
    end_lr=1e-6,
    select_eps=36 / 255,
    n_val_eval=5000,
    n_test=10000,
    eps=(0.0, 36 / 255, 72 / 255),
    estimate_n_iter=100,
)

#: experiment name -> config class (each has SMOKE and FULL presets; some have more)
