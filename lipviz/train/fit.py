"""A small, honest training loop: tqdm progress, validation-split selection, history DataFrame."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import torch
from torch import nn
from tqdm.auto import tqdm

__all__ = ["FitResult", "fit"]


@dataclass(eq=False)
class FitResult:
    """The selected model, the epoch it came from, and the per-epoch history (a DataFrame)."""

    model: nn.Module
    best_epoch: int
    history: object
    wall_time_s: float


def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def fit(
    model: nn.Module,
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
) -> FitResult:
    """Train with cross-entropy and Adam; keep the epoch with the best *validation* accuracy.

    ``train`` and ``val`` are datasets with ``x``/``y`` tensors (e.g. from
    :func:`lipviz.data.make_toy` or :func:`lipviz.data.load_dataset`). The test set plays no part
    in model selection.

    ``temperature`` multiplies the logits inside the cross-entropy only. A network with a small
    Lipschitz constant has small logits, and plain cross-entropy then under-fits; a temperature
    > 1 lets it reach confident predictions without changing the model or its certificate.
    """
    import pandas as pd

    if epochs < 1:
        msg = f"epochs must be >= 1, got {epochs}"
        raise ValueError(msg)
    if not temperature > 0:
        msg = f"temperature must be > 0, got {temperature}"
        raise ValueError(msg)
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    best_acc, best_epoch, best_state = -1.0, 0, None
    rows = []
    start = time.perf_counter()
    bar = tqdm(range(1, epochs + 1), desc="train", disable=not progress, leave=False)
    for epoch in bar:
        model.train()
        total, count = 0.0, 0
        for xb, yb in train.loader(batch_size, shuffle=True, seed=seed + epoch):
            opt.zero_grad()
            loss = loss_fn(temperature * model(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item() * len(yb)
            count += len(yb)
        train_acc = _accuracy(model, train.x, train.y)
        val_acc = _accuracy(model, val.x, val.y)
        rows.append(
            {"epoch": epoch, "loss": total / count, "train_acc": train_acc, "val_acc": val_acc}
        )
        bar.set_postfix(loss=f"{total / count:.3f}", val_acc=f"{val_acc:.3f}")
        if val_acc > best_acc:
            best_acc, best_epoch, best_state = val_acc, epoch, copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    model.eval()
    return FitResult(model, best_epoch, pd.DataFrame(rows), time.perf_counter() - start)
