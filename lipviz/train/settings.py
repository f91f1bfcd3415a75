"""The settings of :class:`~lipviz.train.Trainer` (:class:`TrainConfig`), what it returns
(:class:`FitResult`), and when a checkpoint may continue under a changed config."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["AMP_DTYPES", "FitResult", "TrainConfig", "milestones", "same_run"]


AMP_DTYPES = {"none": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class TrainConfig:
    """Optimiser, schedule and selection settings of :class:`Trainer`.

    ``select_on`` is ``"val_acc"`` or ``"val_cert_acc"`` (certified accuracy at ``select_eps``
    on the validation split, with a sound bound). The test set is never looked at.
    ``amp`` runs the training forward/backward under ``torch.autocast`` (fp16 with a gradient
    scaler); parameters stay fp32 and every evaluation and certificate runs in fp32.

    Parameters
    ----------
    epochs : int, default 10
        Number of training epochs (>= 1).
    lr : float, default 1e-3
        Initial learning rate.
    batch_size : int, default 64
        Training batch size.
    optimizer : {"adam", "sgd"}, default "adam"
        The optimiser.
    momentum : float, default 0.9
        SGD momentum (unused by Adam).
    weight_decay : float, default 0.0
        Weight decay of every parameter except those named in ``no_decay``.
    lr_milestones : tuple of float, default ()
        Fractions of ``epochs`` after which the learning rate is divided by 10 (epoch
        ``max(1, round(f * epochs))``; repeated epochs count once).
    no_decay : tuple of str, default ("theta",)
        Parameters whose name ends with one of these get no weight decay.
    augment : {"none", "crop-flip"}, default "none"
        Training augmentation: ``"crop-flip"`` is a random crop of the 4-pixel-padded image
        and a random horizontal flip.
    amp : {"none", "bf16", "fp16"}, default "none"
        Mixed-precision training (see above).
    select_on : {"val_acc", "val_cert_acc"}, default "val_acc"
        The validation score that picks the returned epoch (ties: the higher ``val_acc``, then
        the earlier epoch).
    select_eps : float, default 0.0
        The radius of ``val_cert_acc``: correct with a certified radius > ``select_eps``. At 0,
        ``val_cert_acc`` is ``val_acc``.
    n_val_eval : int, default 2000
        Validation examples evaluated each epoch (the first ones).
    select_certificate : {"global", "local"}, default "global"
        The certificate of ``val_cert_acc``: the global radius of :class:`lipviz.Certifier`, or
        the sound local certificate :func:`lipviz.local_certified` at ``select_eps``.
    seed : int, default 0
        Seeds the run's random stream (per resumed epoch) and each epoch's shuffling.

    Examples
    --------
    >>> TrainConfig(epochs=2, optimizer="sgd").lr
    0.001
    """

    epochs: int = 10
    lr: float = 1e-3
    batch_size: int = 64
    optimizer: str = "adam"
    momentum: float = 0.9
    weight_decay: float = 0.0
    lr_milestones: tuple[float, ...] = ()  # fractions of the epochs where lr is divided by 10
    no_decay: tuple[str, ...] = ("theta",)  # parameter names ending so get no weight decay
    augment: str = "none"  # "none" or "crop-flip" (random 4-pixel-padded crop, horizontal flip)
    amp: str = "none"  # mixed-precision training: "none", "bf16" or "fp16"; certification is fp32
    select_on: str = "val_acc"
    select_eps: float = 0.0
    n_val_eval: int = 2000
    seed: int = 0
    select_certificate: str = "global"


@dataclass(eq=False)
class FitResult:
    """The selected model, the epoch it came from, the history (a DataFrame) and wall time.

    Attributes
    ----------
    model : nn.Module
        The trained model with the weights of the selected epoch, in eval mode.
    best_epoch : int
        The selected epoch (1-based).
    history : pandas.DataFrame
        One row per epoch: ``epoch``, ``loss`` (mean training loss), ``train_acc``,
        ``val_acc``, ``lipschitz`` (the sound bound used by the validation certificate: of the
        whole model, or of everything before a last ``nn.Linear``), ``val_cert_acc``, the
        objective's extra metrics of the last batch (e.g. LMT's ``c``), ``lr`` (after the
        epoch's scheduler step) and ``time_s`` (cumulative seconds, across resumes).
    wall_time_s : float
        Total training time in seconds, across resumes (``time_s`` of the last epoch).
    """

    model: nn.Module
    best_epoch: int
    history: object
    wall_time_s: float


def milestones(cfg: dict) -> list[int]:
    """The epochs after which the learning rate steps down; distinct epochs only (with very
    few epochs two fractions can round to the same epoch).

    Parameters
    ----------
    cfg : dict
        A :class:`TrainConfig` as a dict (``epochs`` and ``lr_milestones`` are read).

    Returns
    -------
    list of int
        Sorted 1-based epochs.

    Examples
    --------
    >>> milestones({"epochs": 4, "lr_milestones": (0.5, 0.6, 0.75)})
    [2, 3]
    """
    return sorted({max(1, round(f * cfg["epochs"])) for f in cfg["lr_milestones"]})


def same_run(saved: dict, current: dict, done: int) -> bool:
    """Whether a checkpoint's training config (after ``done`` epochs) continues as ``current``:
    equal, or *extended*: only ``epochs`` and ``lr_milestones`` differ, no fewer epochs than
    done, and the learning-rate steps up to the epochs done are the same (so those epochs were
    trained exactly as the extended run trains them). Fields added to :class:`TrainConfig`
    after the checkpoint was written must be at their defaults.

    Parameters
    ----------
    saved, current : dict
        The checkpoint's and the current :class:`TrainConfig`, as dicts.
    done : int
        Epochs the checkpoint holds.

    Returns
    -------
    bool

    Examples
    --------
    >>> a = dataclasses.asdict(TrainConfig(epochs=4))
    >>> same_run(a, dataclasses.asdict(TrainConfig(epochs=8)), done=4)
    True
    """
    defaults = dataclasses.asdict(TrainConfig())
    if not set(saved) <= set(current):
        return False
    saved = {k: saved.get(k, defaults[k]) for k in current}
    if saved == current:
        return True
    others = [k for k in current if k not in ("epochs", "lr_milestones")]
    steps = [[m for m in milestones(c) if m <= done] for c in (saved, current)]
    return (all(saved[k] == current[k] for k in others) and current["epochs"] >= done
            and steps[0] == steps[1])  # fmt: skip
