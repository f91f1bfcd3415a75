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
        GloRo's loss (an extra logit :math:`\max_{j \ne y} \tilde z_j`) instead of the BCP
        loss.
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

    def __post_init__(self):
        check(
            self,
            choices={
                "dataset": tuple(DATASET_SHAPES),
                "model": ("4c3f", "6c2f", "8c2f"),
                "activation": ("relu", "clipped-relu", "maxmin", "clipped-maxmin"),
            },
            counts=("n_iter", "epochs", "batch_size", "n_val_eval", "n_test", "estimate_n_iter"),
            naturals=("seed",),
            positive=("lr",),
            nonnegative=("sparsity", "sp_thres", "warmup_epochs", "rampup_epochs"),
            milestones=("lr_milestones",),
            radii=("train_eps", "select_eps"),
            radius_lists=("eps",),
            dataset=self.dataset,
        )


LocalLipConfig.SMOKE = LocalLipConfig()
LocalLipConfig.FULL = LocalLipConfig(
    dataset="mnist",
    train_eps=1.75,
    n_iter=5,
    warmup_epochs=0.0,
    rampup_epochs=150.0,
    epochs=300,
    lr_milestones=(0.6, 0.8),
    select_eps=1.58,
    n_val_eval=5000,
    n_test=10000,
    eps=(0.0, 1.0, 1.58),
    estimate_n_iter=100,
)
LocalLipConfig.FULL_CIFAR10 = LocalLipConfig(
    dataset="cifar10",
    model="6c2f",
    train_eps=0.1551,
    gloro=False,
    n_iter=2,
    warmup_epochs=20.0,
    rampup_epochs=400.0,
    epochs=800,
    lr_milestones=(0.6, 0.8),
    select_eps=36 / 255,
    n_val_eval=5000,
    n_test=10000,
    eps=(0.0, 36 / 255, 72 / 255),
    estimate_n_iter=100,
)

#: experiment name -> config class (each has SMOKE and FULL presets; some have more)
