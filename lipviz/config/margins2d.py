"""The configuration of the 2-D margins experiment."""

from __future__ import annotations

from dataclasses import dataclass

from ._checks import check

__all__ = ["Margins2DConfig"]


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

    Raises
    ------
    ValueError
        For a value of the wrong type or out of range: sample sizes and the grid below 2
        (a toy has two classes), widths, depths, epochs and directions below 1, a learning rate
        or temperature that is not > 0, an unknown toy.

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

    def __post_init__(self):
        check(
            self,
            choices={"toy": ("moons", "circles", "spirals", "slab")},
            counts=("hidden", "depth", "epochs", "batch_size", "n_directions"),
            naturals=("seed",),
            positive=("lr", "temperature"),
        )
        for name in ("n_train", "n_val", "n_show", "grid_resolution"):  # two points at least
            if getattr(self, name) < 2:
                msg = f"Margins2DConfig.{name} must be >= 2, got {getattr(self, name)!r}"
                raise ValueError(msg)


Margins2DConfig.SMOKE = Margins2DConfig()
Margins2DConfig.FULL = Margins2DConfig(
    n_train=2000,
    n_val=1000,
    n_show=80,
    hidden=128,
    epochs=200,
    n_directions=1440,
    grid_resolution=400,
)
