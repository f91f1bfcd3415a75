"""The settings of :class:`~lipviz.train.Trainer` (:class:`TrainConfig`), what it returns
(:class:`FitResult`), its learning-rate schedules and when a run may continue under a changed
config (:func:`same_run`). Checkpoints are read, checked and compacted in
:mod:`lipviz.train.checkpoints`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import nn

from ..config import check

__all__ = [
    "AMP_DTYPES",
    "FitResult",
    "TrainConfig",
    "differences",
    "exp_decay",
    "milestones",
    "same_run",
]


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
        ``max(1, round(f * epochs))``; repeated epochs count once). ``lr_schedule="step"``
        only.
    lr_schedule : {"step", "exp"}, default "step"
        ``"step"``: the milestones above. ``"exp"``: Local-Lip's schedule (Huang et al., 2021),
        the learning rate held until epoch ``epochs // 2 + lr_hold``, then decayed
        exponentially to ``end_lr`` at the last epoch (:func:`exp_decay`).
    end_lr : float, default 5e-6
        The last epoch's learning rate under ``"exp"``.
    lr_hold : int, default 25
        The epochs past half-way at the initial rate under ``"exp"`` (the code's ``--more``).
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
        the sound local certificate :func:`lipviz.local_certified` at ``select_eps`` (with the
        FFT bound alone on convolutions, ``exact_convs=False``: no eigenproblem each epoch).
    seed : int, default 0
        Seeds the run's random stream (per resumed epoch) and each epoch's shuffling.

    Raises
    ------
    ValueError
        For a value of the wrong type or out of range (``epochs``, ``batch_size`` or
        ``n_val_eval`` below 1, ``lr`` not > 0, ``momentum`` outside [0, 1), negative
        ``weight_decay`` or ``select_eps``, milestones not increasing fractions in (0, 1],
        ``end_lr`` not > 0, a negative ``lr_hold``, milestones with ``lr_schedule="exp"``) or
        an unknown choice.

    Examples
    --------
    >>> TrainConfig(epochs=2, optimizer="sgd").lr
    0.001
    >>> TrainConfig(lr=0.0)
    Traceback (most recent call last):
    ...
    ValueError: TrainConfig.lr must be finite and > 0, got 0.0
    """

    epochs: int = 10
    lr: float = 1e-3
    batch_size: int = 64
    optimizer: str = "adam"
    momentum: float = 0.9
    weight_decay: float = 0.0
    lr_milestones: tuple[float, ...] = ()  # fractions of the epochs where lr is divided by 10
    lr_schedule: str = "step"  # "step" (lr_milestones) or "exp" (Local-Lip's exponential decay)
    end_lr: float = 5e-6
    lr_hold: int = 25
    no_decay: tuple[str, ...] = ("theta",)  # parameter names ending so get no weight decay
    augment: str = "none"  # "none" or "crop-flip" (random 4-pixel-padded crop, horizontal flip)
    amp: str = "none"  # mixed-precision training: "none", "bf16" or "fp16"; certification is fp32
    select_on: str = "val_acc"
    select_eps: float = 0.0
    n_val_eval: int = 2000
    seed: int = 0
    select_certificate: str = "global"

    def __post_init__(self):
        check(
            self,
            choices={
                "optimizer": ("adam", "sgd"),
                "augment": ("none", "crop-flip"),
                "amp": tuple(AMP_DTYPES),
                "select_on": ("val_acc", "val_cert_acc"),
                "select_certificate": ("global", "local"),
                "lr_schedule": ("step", "exp"),
            },
            counts=("epochs", "batch_size", "n_val_eval"),
            naturals=("seed", "lr_hold"),
            positive=("lr", "end_lr"),
            nonnegative=("weight_decay",),
            below_one=("momentum",),
            milestones=("lr_milestones",),
            radii=("select_eps",),
        )
        if self.lr_schedule == "exp" and self.lr_milestones:
            msg = "TrainConfig: lr_milestones apply to lr_schedule='step' only, not 'exp'"
            raise ValueError(msg)

    @classmethod
    def from_config(cls, cfg, **settings) -> TrainConfig:
        """The training settings of an experiment's config: every field the two share, taken
        from ``cfg``, then ``settings`` (the ones the experiment fixes, e.g. ``select_on``).

        Parameters
        ----------
        cfg : dataclass
            An experiment's config (e.g. :class:`~lipviz.config.SOCConfig`).
        **settings
            Further TrainConfig fields; they must not repeat a field ``cfg`` already sets.

        Returns
        -------
        TrainConfig

        Raises
        ------
        ValueError
            When ``settings`` repeats a field of ``cfg`` (which one wins would be hidden).

        Examples
        --------
        >>> from lipviz.config import LMTConfig
        >>> tcfg = TrainConfig.from_config(LMTConfig.SMOKE, select_on="val_cert_acc")
        >>> tcfg.epochs == LMTConfig.SMOKE.epochs, tcfg.optimizer, tcfg.select_on
        (True, 'adam', 'val_cert_acc')
        """
        names = {f.name for f in dataclasses.fields(cls)}
        shared = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg) if f.name in names}
        both = sorted(set(shared) & set(settings))
        if both:
            msg = f"{type(cfg).__name__} already sets {both}; do not pass them again"
            raise ValueError(msg)
        return cls(**shared, **settings)


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


def exp_decay(epoch: int, epochs: int, lr: float, end_lr: float, hold: int = 25) -> float:
    r"""The factor of the initial learning rate in epoch ``epoch`` (0-based) under Local-Lip's
    exponential schedule (``utils.lr_exp`` of Huang et al., 2021): 1 until epoch
    :math:`h = \lfloor E/2 \rfloor + \text{hold}`, then
    :math:`(\text{end}/\text{lr})^{(e - h + 1)/(\lfloor E/2 \rfloor - \text{hold})}`, which reaches
    ``end_lr`` in the last epoch :math:`E - 1` (a schedule too short for its hold never decays).

    Parameters
    ----------
    epoch : int
        The epoch about to be trained (0-based: the scheduler's steps so far).
    epochs : int
        The run's epochs :math:`E`.
    lr, end_lr : float
        The initial and the final learning rate.
    hold : int
        Epochs past half-way at the initial rate.

    Returns
    -------
    float

    Examples
    --------
    >>> [round(exp_decay(e, 300, 1e-3, 5e-6) * 1e-3, 9) for e in (0, 174, 175, 299)]
    [0.001, 0.001, 0.000958499, 5e-06]
    """
    start = epochs // 2 + hold
    if epoch < start:
        return 1.0
    return (end_lr / lr) ** ((epoch - (start - 1)) / max(1, epochs // 2 - hold))


def same_run(saved: dict, current: dict, done: int) -> bool:
    """Whether a checkpoint's training config (after ``done`` epochs) continues as ``current``:
    equal, or *extended*: only ``epochs`` and ``lr_milestones`` differ, no fewer epochs than
    done, and the learning-rate steps up to the epochs done are the same (so those epochs were
    trained exactly as the extended run trains them). Under ``lr_schedule="exp"`` the rate
    of every epoch depends on ``epochs``, so such a run is never extended. Fields added to
    :class:`TrainConfig` after the checkpoint was written must be at their defaults.

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
    if current.get("lr_schedule") == "exp":
        return False
    others = [k for k in current if k not in ("epochs", "lr_milestones")]
    steps = [[m for m in milestones(c) if m <= done] for c in (saved, current)]
    return (
        all(saved[k] == current[k] for k in others)
        and current["epochs"] >= done
        and steps[0] == steps[1]
    )


def differences(saved: dict, current: dict, limit: int = 3) -> str:
    """The fields where two configs (as dicts) differ, for an error message.

    Parameters
    ----------
    saved, current : dict
        The checkpoint's and the current config.
    limit : int, default 3
        At most this many fields are named.

    Returns
    -------
    str
        ``"lr (checkpoint 0.001, now 0.5)"``, several joined by ``"; "``.

    Examples
    --------
    >>> differences({"lr": 0.001, "epochs": 4}, {"lr": 0.5, "epochs": 4})
    'lr (checkpoint 0.001, now 0.5)'
    """
    keys = [k for k in sorted(set(saved) | set(current)) if saved.get(k) != current.get(k)]
    parts = [
        f"{k} (checkpoint {saved.get(k, '-')!r}, now {current.get(k, '-')!r})" for k in keys[:limit]
    ]
    return "; ".join(parts + ([f"and {len(keys) - limit} more"] if len(keys) > limit else []))
