"""One training loop for every objective: progress bars, validation-split model selection,
checkpoint and resume, and the per-epoch metrics as a DataFrame (and ``metrics.csv``).

Under ``torchrun`` the loop is data-parallel (:mod:`lipviz.train.distributed`): rank 0 alone
writes the checkpoint, the metrics and the progress bar."""

from __future__ import annotations

import copy
import dataclasses
import functools
import math
import time
from collections import Counter
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from ..certify import Certifier
from ..data.transforms import crop_flip
from ..state import seeded
from . import distributed
from .checkpoints import CheckpointError, load_checkpoint
from .lipschitz import PowerIterationBound
from .objectives import Objective
from .settings import (
    AMP_DTYPES,
    FitResult,
    TrainConfig,
    differences,
    exp_decay,
    milestones,
    same_run,
)

__all__ = ["Trainer"]


class Trainer:
    """Train ``model`` with ``objective`` (see :mod:`lipviz.train.objectives`).

    With ``out_dir`` set, each epoch writes ``checkpoint.pt`` and ``metrics.csv`` there, and a
    new Trainer on the same folder resumes where the last one stopped; it may also extend a
    run with more epochs (and learning-rate steps after the epochs done). The checkpoint is
    read as plain data (``weights_only=True``) and its schema checked before anything in it
    is used (:func:`~lipviz.train.checkpoints.load_checkpoint`). A run that diverges (parameters
    no longer finite) stops with a :class:`FloatingPointError`, the checkpoint holding the
    last finite epoch. Each callable in
    ``callbacks`` is called after every epoch with the list of rows so far (e.g. a live
    dashboard, :class:`lipviz.viz.widgets.TrainingDashboard`).

    Parameters
    ----------
    model : nn.Module
        Maps inputs ``(B, *input_shape)`` to logits ``(B, C)``; moved to ``device`` and trained
        in place.
    objective : Objective
        ``objective(model, x, y, lip, epoch) -> (loss, metrics)``
        (:class:`~lipviz.train.objectives.Objective`), e.g.
        :class:`~lipviz.train.objectives.LMT`; ``metrics["logits"]`` must be the ``(B, C)``
        logits. If its ``needs_lipschitz`` is true, ``lip`` is a
        :class:`~lipviz.train.lipschitz.PowerIterationBound` of ``model``, else None.
    cfg : TrainConfig
        Optimiser, schedule and selection settings.
    input_shape : tuple of int
        The input shape without the batch dimension, e.g. ``(1, 28, 28)``.
    out_dir : str or Path, optional
        Folder for ``checkpoint.pt`` and ``metrics.csv``, and to resume from.
    progress : bool, default True
        Show a progress bar over the epochs.
    device : str or torch.device, optional
        Default: the device of the model's first parameter.
    callbacks : sequence of callable, default ()
        Each called as ``callback(rows)`` after every epoch, ``rows`` a list of dicts (the
        history so far).
    run_config : dict, optional
        Settings outside ``cfg`` that shape the training (e.g. the experiment's data, model and
        objective), plain values only: stored in the checkpoint, and a checkpoint written under
        other ones is not resumed.

    Raises
    ------
    ValueError
        For an invalid ``cfg`` (checked by :class:`TrainConfig` itself), or an objective that
        cannot run data-parallel under ``torchrun``.
    """

    def __init__(
        self,
        model,
        objective,
        cfg: TrainConfig,
        input_shape,
        *,
        out_dir=None,
        progress: bool = True,
        device=None,
        callbacks=(),
        run_config: dict | None = None,
    ):
        if not isinstance(cfg, TrainConfig):
            msg = f"cfg must be a TrainConfig, got {type(cfg).__name__}"
            raise TypeError(msg)
        if not isinstance(objective, Objective):
            msg = (
                f"objective {objective!r} is not an Objective: it must be callable as "
                "objective(model, x, y, lip, epoch) and state needs_lipschitz and walks_model "
                "(lipviz.train.objectives.Objective)"
            )
            raise TypeError(msg)
        self.run_config = dict(run_config) if run_config is not None else None
        self._resumed: tuple[int, list, dict] | None = None  # what resume() read, for fit()
        self.distributed = distributed.setup()
        if self.distributed and objective.walks_model:
            msg = (
                f"{type(objective).__name__} walks the model outside its forward pass, "
                "which DistributedDataParallel cannot synchronise: train it in one "
                "process"
            )
            raise ValueError(msg)
        if device is not None or self.distributed:
            self.device = distributed.device_for(device)
        else:
            self.device = next(model.parameters()).device
        self.model = model.to(self.device)
        self.net = self.model  # what the objective calls: the DDP wrapper under torchrun
        if self.distributed:
            from torch.nn.parallel import DistributedDataParallel

            self.net = DistributedDataParallel(self.model)
        self.objective, self.cfg = objective, cfg
        self.input_shape = tuple(input_shape)
        self.out_dir = Path(out_dir) if out_dir else None
        self.progress = progress
        self.lip = None
        if objective.needs_lipschitz:
            self.lip = PowerIterationBound(model, self.input_shape).to(self.device)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=cfg.amp == "fp16")
        self.callbacks = list(callbacks)
        named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        decay = [p for n, p in named if not n.endswith(cfg.no_decay)]
        no_decay = [p for n, p in named if n.endswith(cfg.no_decay)]
        params: list[dict[str, Any]] = [
            {"params": decay},
            {"params": no_decay, "weight_decay": 0.0},
        ]
        # parameters used only through their skew-symmetric part (a module's
        # ``skew_parameters``), name -> optimizer index (the order of the groups above):
        # written in each checkpoint, where compact_checkpoint stores half of each
        index = {id(p): i for i, p in enumerate(decay + no_decay)}
        self.skew = {
            f"{name}.{attr}" if name else attr: index[id(getattr(module, attr))]
            for name, module in model.named_modules()
            for attr in getattr(module, "skew_parameters", ())
            if id(getattr(module, attr)) in index
        }
        self.opt: torch.optim.Optimizer
        if cfg.optimizer == "adam":
            self.opt = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        else:  # "sgd" (TrainConfig admits no other)
            self.opt = torch.optim.SGD(
                params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
            )
        self.sched: torch.optim.lr_scheduler.LRScheduler
        if cfg.lr_schedule == "exp":
            self.sched = torch.optim.lr_scheduler.LambdaLR(
                self.opt,
                functools.partial(
                    exp_decay, epochs=cfg.epochs, lr=cfg.lr, end_lr=cfg.end_lr, hold=cfg.lr_hold
                ),
            )
        else:
            steps = milestones(dataclasses.asdict(cfg))
            self.sched = torch.optim.lr_scheduler.MultiStepLR(self.opt, steps, gamma=0.1)

    # --- checkpointing ---------------------------------------------------------------------

    def _ckpt_path(self) -> Path | None:
        return self.out_dir / "checkpoint.pt" if self.out_dir else None

    def _save(self, epoch, rows, best):
        path = self._ckpt_path()
        if path is None or distributed.rank() != 0:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        sched = self.sched.state_dict()
        if "milestones" in sched:
            sched["milestones"] = dict(sched["milestones"])  # a Counter: plain data only
        state = {  # plain data only, so that it loads with weights_only=True
            "epoch": epoch,
            "model": self.model.state_dict(),
            "optimizer": self.opt.state_dict(),
            "scheduler": sched,
            "lip": self.lip.state_dict() if self.lip is not None else None,
            "rows": rows,
            "best": best,
            "train_config": dataclasses.asdict(self.cfg),
            "rng": torch.get_rng_state(),
        }
        if self.run_config is not None:
            state["run_config"] = self.run_config
        if self.skew:
            state["skew"] = self.skew
        tmp = path.with_suffix(".tmp")
        torch.save(state, tmp)
        tmp.replace(path)  # atomic: an interrupted save never corrupts the checkpoint

    def resume(self) -> int:
        """Read and check ``out_dir/checkpoint.pt`` now (else :meth:`fit` does).

        Lets a caller learn that a run folder cannot be resumed before it writes anything there.

        Returns
        -------
        int
            The epochs the checkpoint holds (0 without one); :meth:`fit` continues from there.

        Raises
        ------
        CheckpointError
            If the checkpoint is unsafe, malformed, or written by another run (see
            :func:`~lipviz.train.settings.same_run`).
        """
        if self._resumed is None:
            self._resumed = self._load()
        return self._resumed[0]

    def _fits(self, path, name: str, saved: dict, own: dict) -> None:
        """Refuse a saved state dict whose names or shapes are not those of ``own``."""
        wrong = sorted(set(saved) ^ set(own))
        wrong += [k for k in own if k in saved and saved[k].shape != own[k].shape]
        if wrong:
            msg = (
                f"{path} holds a {name} state for another architecture (differs at "
                f"{', '.join(wrong[:3])}); use a new out_dir"
            )
            raise CheckpointError(msg)

    def _load(self):
        path = self._ckpt_path()
        if path is None or not path.exists():
            return 0, [], {"score": None, "epoch": 0, "state": None}
        state = load_checkpoint(path, map_location=self.device)
        saved, current = state["train_config"], dataclasses.asdict(self.cfg)
        if not same_run(saved, current, state["epoch"]):
            msg = (
                f"{path} was written with another training config ("
                f"{differences(saved, current)}); use a new out_dir (a run may only be "
                "extended: more epochs, learning-rate steps after those done)"
            )
            raise CheckpointError(msg)
        own = self.run_config
        if own is not None and "run_config" in state and state["run_config"] != own:
            msg = (
                f"{path} was written by another run ("
                f"{differences(state['run_config'], self.run_config)}); use a new "
                "out_dir"
            )
            raise CheckpointError(msg)
        self._fits(path, "model", state["model"], self.model.state_dict())
        if state["best"]["state"] is not None:
            self._fits(path, "best model", state["best"]["state"], self.model.state_dict())
        if self.lip is not None and state["lip"] is not None:
            self._fits(path, "power-iteration", state["lip"], self.lip.state_dict())
        try:
            self.opt.load_state_dict(state["optimizer"])
            self.sched.load_state_dict(state["scheduler"])
        except (KeyError, TypeError, ValueError, RuntimeError) as err:
            msg = f"{path} holds an optimizer or scheduler state that does not fit this run: {err}"
            raise CheckpointError(msg) from err
        self.model.load_state_dict(state["model"])
        if isinstance(self.sched, torch.optim.lr_scheduler.MultiStepLR):
            self.sched.milestones = Counter(milestones(current))  # an extended run's new steps
        if self.lip is not None and state["lip"] is not None:
            self.lip.load_state_dict(state["lip"])
        best = state["best"]
        if best["state"] is None and best["score"] is not None and best["epoch"] == state["epoch"]:
            best["state"] = copy.deepcopy(self.model.state_dict())  # a compact checkpoint's
        return state["epoch"], state["rows"], best

    def _sync_lip(self) -> None:
        """Every rank starts from rank 0's power-iteration vectors (then the same weights keep
        them equal)."""
        if self.distributed and self.lip is not None:
            for buf in self.lip.buffers():
                torch.distributed.broadcast(buf, 0)

    # --- evaluation ------------------------------------------------------------------------

    def _evaluate(self, val):
        n = min(len(val), self.cfg.n_val_eval)
        x, y = val.x[:n].to(self.device), val.y[:n].to(self.device)
        cert = Certifier(self.model, self.input_shape)(x)
        correct = cert.predicted == y
        out = {"val_acc": float(correct.float().mean()), "lipschitz": cert.lipschitz}
        if self.cfg.select_eps > 0 and self.cfg.select_certificate == "local":
            from ..certify import local_certified

            # sound, with the FFT bound alone on convolutions: the exact norms' eigenproblems
            # (tens of seconds per weight) are kept for the final certificate
            ok = local_certified(self.model, x, self.cfg.select_eps, exact_convs=False)
            certified = correct & ok.to(y.device)
            out["val_cert_acc"] = float(certified.float().mean())
        elif self.cfg.select_eps > 0:
            certified = correct & (cert.radius > self.cfg.select_eps)
            out["val_cert_acc"] = float(certified.float().mean())
        else:
            out["val_cert_acc"] = out["val_acc"]
        return out

    # --- the loop ------------------------------------------------------------------------------

    def fit(self, train, val) -> FitResult:
        """Train on ``train``, selecting on ``val``; resume from ``out_dir`` if it holds a run.

        Parameters
        ----------
        train, val : lipviz.data.TensorDataset
            Training and validation splits (the test split is never seen).

        Returns
        -------
        FitResult
            The selected model (in eval mode), its epoch, the history and the wall time.
        """
        if len(train) < 1 or len(val) < 1:
            msg = f"train and val must not be empty, got {len(train)} and {len(val)} examples"
            raise ValueError(msg)
        self.resume()
        assert self._resumed is not None  # resume() read it
        (start_epoch, rows, best), self._resumed = self._resumed, None
        self._sync_lip()
        # the run's own random stream (seeded per resumed epoch); the caller's is left alone
        with seeded(self.cfg.seed + start_epoch, self.device):
            return self._loop(train, val, start_epoch, rows, best)

    def _loop(self, train, val, start_epoch, rows, best) -> FitResult:
        import pandas as pd

        cfg = self.cfg
        start = time.perf_counter()
        earlier = rows[-1]["time_s"] if rows else 0.0  # training time before a resume
        n_batches = math.ceil(len(train) / cfg.batch_size)
        main = distributed.rank() == 0
        bar = tqdm(
            total=cfg.epochs,
            initial=start_epoch,
            desc="epochs",
            disable=not (self.progress and main),
        )
        for epoch in range(start_epoch + 1, cfg.epochs + 1):
            self.model.train()
            if self.lip is not None:
                self.lip.train()
            total, correct, count = 0.0, 0, 0
            if self.distributed:  # this rank's share of the single process's batches
                loader = distributed.distributed_loader(train, cfg.batch_size, cfg.seed + epoch)
            else:
                loader = train.loader(cfg.batch_size, shuffle=True, seed=cfg.seed + epoch)
            extra = {}
            for b, (xb, yb) in enumerate(loader):
                xb, yb = xb.to(self.device), yb.to(self.device)
                if cfg.augment == "crop-flip":
                    xb = crop_flip(xb)
                with torch.autocast(self.device.type, AMP_DTYPES[cfg.amp], cfg.amp != "none"):
                    loss, info = self.objective(
                        self.net, xb, yb, self.lip, epoch - 1 + b / n_batches
                    )
                self.opt.zero_grad(set_to_none=True)
                self.scaler.scale(loss).backward()
                self.scaler.step(self.opt)
                self.scaler.update()
                for module in self.model.modules():  # e.g. clip thresholds kept >= 0
                    if callable(getattr(module, "project_", None)):
                        module.project_()
                total += loss.item() * len(yb)
                correct += int((info["logits"].argmax(1) == yb).sum())
                count += len(yb)
                extra = {k: _plain(v) for k, v in info.items() if k != "logits"}
            self.sched.step()
            self._check_finite(epoch)  # before the evaluation, which needs finite weights
            loss_sum, n_correct, n_seen = distributed.all_sum([total, correct, count])
            row = {"epoch": epoch, "loss": loss_sum / n_seen, "train_acc": n_correct / n_seen}
            row |= self._evaluate(val) | extra | {"lr": self.opt.param_groups[0]["lr"]}
            row["time_s"] = earlier + time.perf_counter() - start
            self._check_finite(epoch, row)
            rows.append(row)
            score = (row[cfg.select_on], row["val_acc"])  # ties broken by clean accuracy
            if best["score"] is None or score > tuple(best["score"]):
                state = copy.deepcopy(self.model.state_dict())
                best = {"score": score, "epoch": epoch, "state": state}
            self._save(epoch, rows, best)
            if self.out_dir and main:
                tmp = self.out_dir / ".metrics.csv.tmp"
                pd.DataFrame(rows).to_csv(tmp, index=False)
                tmp.replace(self.out_dir / "metrics.csv")
            for callback in self.callbacks if main else ():
                callback(list(rows))
            bar.update(1)
            bar.set_postfix(loss=f"{row['loss']:.3f}", val=f"{row[cfg.select_on]:.3f}")
        bar.close()
        if best["state"] is not None:
            self.model.load_state_dict(best["state"])
        self.model.eval()
        history = pd.DataFrame(rows)
        total = rows[-1]["time_s"] if rows else 0.0
        return FitResult(self.model, best["epoch"], history, total)

    def _check_finite(self, epoch: int, row=None) -> None:
        """Stop a diverged run before its epoch is evaluated and saved (the checkpoint keeps
        the last good one): parameters that are no longer finite, or a NaN accuracy."""
        if row is None:
            params = [p.detach() for p in self.model.parameters()]
            if not params or bool(torch.stack([p.isfinite().all() for p in params]).all()):
                return
            what = "parameters that are not finite"
        else:
            nan = [k for k in ("train_acc", "val_acc", "val_cert_acc") if math.isnan(row[k])]
            if not nan:
                return
            what = f"a NaN {', '.join(nan)}"
        msg = (
            f"epoch {epoch} ended with {what}: training diverged (try a lower learning rate); "
            "the checkpoint keeps the epoch before"
        )
        raise FloatingPointError(msg)


def _plain(value):
    """A metric as a plain Python value (a one-element tensor or NumPy scalar as a number), so
    that the checkpoint holds plain data and ``metrics.csv`` plain numbers."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    item = getattr(value, "item", None)  # NumPy scalars
    if callable(item) and type(value).__module__ == "numpy":
        return item()
    return value
