"""LMT and its baselines on MNIST-like data, writing a run folder.

``run_lmt(cfg, out_dir)`` trains (resuming from ``out_dir/checkpoint.pt`` if present), selects
the model on the validation split, then certifies the test split once with a sound bound. The run
folder holds ``config.json``, ``metrics.csv``, ``checkpoint.pt``, ``certified.csv`` and
``summary.json``.
"""

from __future__ import annotations

import dataclasses
import platform
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..certify import Certifier, certified_accuracy
from ..config import LMTConfig
from ..data import load_dataset
from ..models import create
from ..train import LMT, CrossEntropy, SpectralRegularized, TrainConfig, Trainer
from ..train.trainer import write_json

__all__ = ["LMTResult", "make_objective", "run_lmt"]


@dataclass(eq=False)
class LMTResult:
    config: LMTConfig
    model: nn.Module
    history: object
    certified: object
    summary: dict
    out_dir: Path | None


def make_objective(cfg: LMTConfig):
    """The training objective named by ``cfg.method``."""
    if cfg.method == "standard":
        return CrossEntropy()
    if cfg.method == "lmt":
        return LMT(c=cfg.c, form=cfg.lmt_form, kappa_clip=cfg.kappa_clip,
                   warmup_epochs=cfg.warmup_epochs)  # fmt: skip
    if cfg.method == "snr":
        return SpectralRegularized(beta=cfg.snr_beta)
    msg = f"Unknown method {cfg.method!r}; use 'standard', 'lmt' or 'snr'"
    raise ValueError(msg)


def _commit() -> str:
    try:
        here = Path(__file__).resolve().parent

        def git(*args):
            return subprocess.run(["git", *args], cwd=here, capture_output=True, text=True,
                                  timeout=10).stdout.strip()  # fmt: skip

        sha = git("rev-parse", "--short", "HEAD") or "unknown"
        dirty = git("status", "--porcelain", "--untracked-files=no", "--", ":/lipviz")
        return sha + (" (lipviz/ had uncommitted changes)" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def run_lmt(cfg: LMTConfig, out_dir=None, *, device=None, progress: bool = True) -> LMTResult:
    """Train, select on validation, certify the test split; see the module docstring."""
    out = Path(out_dir) if out_dir else None
    if out:
        write_json(out / "config.json", dataclasses.asdict(cfg))
    train = load_dataset(cfg.dataset, "train", seed=cfg.seed)
    val = load_dataset(cfg.dataset, "val", seed=cfg.seed)
    test = load_dataset(cfg.dataset, "test").subset(cfg.n_test)
    model = create(cfg.model, in_channels=train.x.shape[1], input_size=train.x.shape[-1],
                   seed=cfg.seed)  # fmt: skip
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    # a certified-training method is selected on validation certified accuracy; the standard
    # baseline on validation accuracy (what its users would do)
    select_on = "val_acc" if cfg.method == "standard" else "val_cert_acc"
    tcfg = TrainConfig(
        epochs=cfg.epochs, lr=cfg.lr, batch_size=cfg.batch_size, select_on=select_on,
        select_eps=cfg.select_eps, n_val_eval=cfg.n_val_eval, seed=cfg.seed,
    )  # fmt: skip
    trainer = Trainer(model.to(device), make_objective(cfg), tcfg, train.input_shape,
                      out_dir=out, progress=progress)  # fmt: skip
    fitted = trainer.fit(train, val)
    model = fitted.model.float().eval()
    cert_start = time.perf_counter()
    certifier = Certifier(model, test.input_shape, mode="sound")
    x, y = test.x.to(device), test.y.to(device)
    table = certified_accuracy(model, x, y, cfg.eps, certifier=certifier)
    table.insert(0, "dataset", test.label)
    table.insert(1, "method", cfg.method)
    cert = certifier(x)
    radius = cert.radius[cert.predicted == y].cpu()
    certify_s = time.perf_counter() - cert_start
    summary = {
        "dataset": test.label,
        "method": cfg.method,
        "model": cfg.model,
        "clean_accuracy": float(table.certified_accuracy.iloc[0]) if cfg.eps[0] == 0 else None,
        "certified_accuracy": dict(zip(map(str, cfg.eps), table.certified_accuracy, strict=True)),
        "certificate": f"{cert.form}, {'sound' if cert.sound else 'estimate'}",
        "lipschitz_bound": cert.lipschitz,
        "radius_quantiles_correct": {
            str(q): float(radius.quantile(q)) if len(radius) else 0.0 for q in (0.1, 0.5, 0.9)
        },
        "best_epoch": fitted.best_epoch,
        "selected_on": f"{select_on} (eps={cfg.select_eps}, {cfg.n_val_eval} val images)",
        "train_wall_time_s": fitted.wall_time_s,
        "certify_wall_time_s": certify_s,
        "wall_time_s": fitted.wall_time_s + certify_s,
        "device": torch.cuda.get_device_name(0) if str(device).startswith("cuda") else
        f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)",
        "commit": _commit(),
    }  # fmt: skip
    if out:
        table.to_csv(out / "certified.csv", index=False)
        write_json(out / "summary.json", summary)
    return LMTResult(cfg, model, fitted.history, table, summary, out)
