"""``fit``: the one-call training used by the toy chapters (a thin wrapper over Trainer)."""

from __future__ import annotations

import math

from .objectives import CrossEntropy
from .settings import FitResult, TrainConfig
from .trainer import Trainer

__all__ = ["fit"]


def fit(
    model,
    train,
    val,
    *,
    epochs: int = 50,
    lr: float = 1e-2,
    batch_size: int = 64,
    weight_decay: float = 0.0,
    temperature: float = 1.0,
    seed: int = 0,
    progress: bool = True,
    device=None,
) -> FitResult:
    """Train with cross-entropy and Adam; keep the epoch with the best *validation* accuracy.

    ``train`` and ``val`` are datasets with ``x``/``y`` tensors and a ``loader`` method (e.g.
    from :func:`lipviz.data.make_toy` or :func:`lipviz.data.load_dataset`). The test set plays no
    part in model selection.

    ``temperature`` multiplies the logits inside the cross-entropy only. A network with a small
    Lipschitz constant has small logits, and plain cross-entropy then under-fits; a temperature
    > 1 lets it reach confident predictions without changing the model or its certificate.

    Parameters
    ----------
    model : nn.Module
        Maps inputs ``(B, ...)`` to logits ``(B, C)``; trained in place.
    train : dataset
        Training split: ``x`` of shape ``(N, ...)``, ``y`` of shape ``(N,)`` and
        ``loader(batch_size, shuffle, seed)``.
    val : dataset
        Validation split, like ``train``; all of it is evaluated after every epoch.
    epochs : int, default 50
        Number of training epochs.
    lr : float, default 1e-2
        Adam's learning rate.
    batch_size : int, default 64
        Training batch size.
    weight_decay : float, default 0.0
        Adam's weight decay (none on parameters whose name ends with ``theta``).
    temperature : float, default 1.0
        The factor of the logits inside the cross-entropy (> 0), see above.
    seed : int, default 0
        Seeds the run's random stream and the shuffling.
    progress : bool, default True
        Show a progress bar.
    device : str or torch.device, optional
        Default: the device of the model's first parameter.

    Returns
    -------
    FitResult
        The model with the weights of the best validation epoch (in eval mode), that epoch,
        the per-epoch history and the wall time.

    Raises
    ------
    ValueError
        If ``temperature`` is not > 0, a setting is out of range (:class:`TrainConfig`, e.g.
        ``epochs`` < 1 or ``lr`` <= 0), or ``train`` or ``val`` is empty.
    """
    if not (math.isfinite(temperature) and temperature > 0):
        msg = f"temperature must be finite and > 0, got {temperature}"
        raise ValueError(msg)
    cfg = TrainConfig(
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        weight_decay=weight_decay,
        seed=seed,
        n_val_eval=max(1, len(val)),  # an empty val is refused by Trainer.fit
    )
    trainer = Trainer(
        model,
        CrossEntropy(temperature),
        cfg,
        tuple(train.x.shape[1:]),
        progress=progress,
        device=device,
    )
    return trainer.fit(train, val)
