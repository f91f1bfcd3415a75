"""What every experiment shares: its run folder, training, and the final sound certification."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import numbers
import os
import platform
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..attacks import pgd_l2
from ..certify import Certifier, certified_accuracy
from ..data import load_dataset
from ..locks import folder_lock
from ..state import eval_mode
from ..train import TrainConfig, Trainer, distributed
from .registry import experiment_of

__all__ = [
    "RESUMABLE_FIELDS",
    "RunResult",
    "commit",
    "device_name",
    "load_splits",
    "pgd_accuracy",
    "refuse_nan",
    "run_folder",
    "save_model",
    "train_and_certify",
    "write_json",
]


@dataclass(eq=False)
class RunResult:
    """A finished run: config, selected model, history, certified table, summary, folder.

    Attributes
    ----------
    config : dataclass
        The experiment's config (e.g. :class:`~lipviz.config.LMTConfig`).
    model : nn.Module
        The selected model, float32, in eval mode.
    history : pandas.DataFrame
        One row per training epoch (:attr:`lipviz.train.FitResult.history`).
    certified : pandas.DataFrame
        Certified accuracy on the test split: columns ``dataset``, ``method``, ``eps``,
        ``certified_accuracy`` and ``kind``, one row per ε of the config.
    summary : dict or None
        What ``summary.json`` holds: accuracies, certificate, Lipschitz bound, radius
        quantiles, selection, wall times, device, world size and commit (None on the ranks
        other than 0 under ``torchrun``).
    out_dir : Path or None
        The run folder, if any.
    """

    config: object
    model: nn.Module
    history: object
    certified: object
    summary: dict | None
    out_dir: Path | None


def write_json(path: Path, obj) -> None:
    """Write ``obj`` as indented JSON, atomically (a temporary file renamed into place).

    Parameters
    ----------
    path : Path
        The file; its folder is created if needed.
    obj : object
        JSON-serialisable (other values are written with ``str``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=str))
    tmp.replace(path)


def refuse_nan(values, where: str) -> None:
    """Raise a :class:`FloatingPointError` if ``values`` holds a NaN anywhere.

    A run's summary is checked before it is written: a NaN accuracy, bound or radius means
    the run went wrong, and must fail loudly rather than be published.

    Parameters
    ----------
    values : dict, list, tuple or number
        Nested containers of numbers (strings and None are skipped).
    where : str
        What they are, for the message (e.g. ``"runs/lmt/summary.json"``).

    Raises
    ------
    FloatingPointError
        Naming the first NaN entry, e.g. ``certified_accuracy.0.5``.

    Examples
    --------
    >>> refuse_nan({"clean_accuracy": 0.9, "certified_accuracy": {"0.5": float("nan")}}, "run")
    Traceback (most recent call last):
    ...
    FloatingPointError: run: certified_accuracy.0.5 is NaN; nothing was written
    """

    def walk(value, key):
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{key}.{k}" if key else str(k))
        elif isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                walk(v, f"{key}[{i}]")
        elif isinstance(value, numbers.Real) and math.isnan(float(value)):
            msg = f"{where}: {key} is NaN; nothing was written"
            raise FloatingPointError(msg)

    walk(values, "")


#: the fields of an experiment's config that only shape the final evaluation (and its epochs
#: and milestones, which the training config's own rules govern): a run folder may be resumed
#: with them changed
RESUMABLE_FIELDS = ("n_test", "eps", "estimate_n_iter", "epochs", "lr_milestones")


def load_splits(cfg) -> tuple:
    """The three splits every image runner uses, loaded from ``cfg``.

    Model selection uses ``val`` only; the test split is certified once, at the end.

    Parameters
    ----------
    cfg : LMTConfig, SOCConfig or LocalLipConfig
        Uses ``dataset``, ``seed`` (the train/val split) and ``n_test``.

    Returns
    -------
    tuple of ImageDataset
        ``(train, val, test)``: the train and validation splits of ``cfg.dataset`` (seeded by
        ``cfg.seed``) and its first ``cfg.n_test`` test examples.
    """
    train = load_dataset(cfg.dataset, "train", seed=cfg.seed)
    val = load_dataset(cfg.dataset, "val", seed=cfg.seed)
    return train, val, load_dataset(cfg.dataset, "test").subset(cfg.n_test)


def save_model(path, model: nn.Module, cfg, input_shape) -> None:
    """Save a run's selected weights (float32, CPU) with what rebuilds them, atomically.

    Parameters
    ----------
    path : str or Path
        The file (``model.pt`` in a run folder).
    model : nn.Module
        The selected model.
    cfg : dataclass
        The experiment's config (its builder rebuilds the architecture).
    input_shape : tuple of int
        ``(C, H, W)`` of the dataset.
    """
    path = Path(path)
    state = {
        k: v.detach().float().cpu() if v.is_floating_point() else v.cpu()
        for k, v in model.state_dict().items()
    }
    blob = {"experiment": experiment_of(cfg).name, "input_shape": list(input_shape), "state": state}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(blob, tmp)
    tmp.replace(path)


def commit() -> str:
    """The git commit of the source tree, flagged when ``lipviz/`` has uncommitted changes.

    Returns
    -------
    str
        The short hash, followed by ``" (lipviz/ had uncommitted changes)"`` when tracked files
        under ``lipviz/`` differ from it; ``"unknown"`` outside a git checkout.
    """
    here = Path(__file__).resolve().parent
    try:

        def git(*args):
            return subprocess.run(
                ["git", *args], cwd=here, capture_output=True, text=True, timeout=10
            ).stdout.strip()

        sha = git("rev-parse", "--short", "HEAD") or "unknown"
        dirty = git("status", "--porcelain", "--untracked-files=no", "--", ":/lipviz")
        return sha + (" (lipviz/ had uncommitted changes)" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def device_name(device) -> str:
    """A readable name for the device of a run, for its summary.

    Parameters
    ----------
    device : str or torch.device
        ``"cuda..."`` gives the name of CUDA device 0; anything else, the CPU's.

    Returns
    -------
    str
        E.g. ``"NVIDIA H200"`` or ``"CPU (x86_64, 16 threads)"``.
    """
    if str(device).startswith("cuda"):
        return torch.cuda.get_device_name(0)
    cpu = platform.processor() or platform.machine()
    return f"CPU ({cpu}, {torch.get_num_threads()} threads)"


def train_and_certify(
    cfg,
    model,
    objective,
    tcfg: TrainConfig,
    data: tuple,
    *,
    method: str,
    out_dir=None,
    device=None,
    progress=True,
    certificate: str = "global",
    run_id: str | None = None,
) -> RunResult:
    """Train (resuming from ``out_dir``), select on validation, certify the test split once.

    ``data`` is ``(train, val, test)``; ``cfg`` must have ``eps`` and ``model`` fields.

    The selected model is converted to float32 and certified on the test split with a sound
    bound (:class:`lipviz.Certifier`, form ``"auto"``). With ``out_dir`` the folder receives
    ``config.json`` (first), the trainer's ``checkpoint.pt`` and ``metrics.csv``, then
    ``model.pt`` (the selected weights, which :func:`lipviz.experiments.load_run` rebuilds),
    ``certified.csv`` and ``summary.json`` (last: a folder holding it is a finished run).

    A folder holding a checkpoint is resumed only by the same run: the checkpoint (read as
    plain data, its schema checked) must have been written under the same training config
    (or one it extends) and the same experiment config, up to the fields that only shape the
    evaluation (:data:`RESUMABLE_FIELDS`). A refused folder is left untouched. When a run
    continues under a changed config (an extended run), the folder's ``summary.json`` is
    removed before the new ``config.json`` is written, so it never describes another config.
    A NaN anywhere in the summary fails the run (:func:`refuse_nan`) before any result is
    written.

    Parameters
    ----------
    cfg : dataclass
        The experiment's config, written to ``config.json``; ``cfg.eps`` (sequence of float)
        are the radii to certify (clean accuracy is reported when the first is 0) and
        ``cfg.model`` is the model's name.
    model : nn.Module
        Maps inputs ``(B, *input_shape)`` to logits ``(B, C)``.
    objective : callable
        The training objective (:mod:`lipviz.train.objectives`).
    tcfg : TrainConfig
        Optimiser, schedule and selection settings.
    data : tuple
        ``(train, val, test)`` datasets with ``x`` ``(N, ...)``, ``y`` ``(N,)`` and
        ``input_shape``; ``test`` also has ``label``.
    method : str
        The method's name in the table and summary.
    out_dir : str or Path, optional
        The run folder; a run already there is resumed from its checkpoint.
    device : str, optional
        Default: ``"cuda"`` when available, else ``"cpu"``.
    progress : bool, default True
        Show progress bars.
    certificate : {"global", "local"}, default "global"
        ``local``: the table holds the sound local certificates of
        :func:`lipviz.local_certified` (Huang et al., NeurIPS 2021); the summary adds the
        power-iteration estimates (not certificates) and the global certificates beside them.
    run_id : str, optional
        The id written into the run's ``summary.json`` (``run_id``), by which a batch job
        finds it; default the name of ``out_dir``.

    Returns
    -------
    RunResult
        The config, the selected model, the training history, the certified-accuracy table,
        the summary and the run folder.

    Raises
    ------
    lipviz.train.checkpoints.CheckpointError
        If ``out_dir`` holds a checkpoint this run cannot resume (unsafe, malformed, or
        another run's); nothing in the folder is changed.
    lipviz.locks.FolderBusyError
        If another process is running in ``out_dir`` (it holds the folder's lock).
    FloatingPointError
        If training diverged or the summary holds a NaN.
    """
    main = not distributed.setup() or distributed.rank() == 0
    out = Path(out_dir) if out_dir else None
    # one process per run folder: a second run on it is refused, never interleaved
    with folder_lock(out) if out and main else contextlib.nullcontext():
        return _train_and_certify(
            cfg,
            model,
            objective,
            tcfg,
            data,
            method=method,
            out=out,
            device=device,
            progress=progress,
            certificate=certificate,
            main=main,
            run_id=run_id,
        )


def _train_and_certify(
    cfg, model, objective, tcfg, data, *, method, out, device, progress, certificate, main, run_id
) -> RunResult:
    train, val, test = data
    code = commit()  # the code that runs now (HEAD may move before the run ends)
    device = distributed.device_for(device)
    config = dataclasses.asdict(cfg)
    run_config = {k: v for k, v in config.items() if k not in RESUMABLE_FIELDS}
    run_config["experiment"] = experiment_of(cfg).name
    trainer = Trainer(
        model.to(device),
        objective,
        tcfg,
        train.input_shape,
        out_dir=out,
        progress=progress,
        run_config=run_config,
    )
    trainer.resume()  # refuse a folder that is not this run's before writing anything there
    if out and main:
        _write_config(out, config)
    fitted = trainer.fit(train, val)
    if not main:  # under torchrun, rank 0 alone certifies and writes the results
        return RunResult(cfg, fitted.model.float().eval(), fitted.history, None, None, out)
    model = fitted.model.float().eval()  # certification always in float32 or wider
    start = time.perf_counter()
    certifier = Certifier(model, test.input_shape, mode="sound")
    x, y = test.x.to(device), test.y.to(device)
    extra = {}
    if certificate == "local":
        table = certified_accuracy(model, x, y, cfg.eps, method="local")
        estimate = {
            "method": "local",
            "mode": "estimate",
            "n_iter": getattr(cfg, "estimate_n_iter", 100),
        }
        for key, kw in (
            ("certified_accuracy_estimate", estimate),
            ("certified_accuracy_global", {"certifier": certifier}),
        ):
            other = certified_accuracy(model, x, y, cfg.eps, **kw)
            extra[key] = dict(zip(map(str, cfg.eps), other.certified_accuracy, strict=True))
        extra["pgd_accuracy"] = pgd_accuracy(model, x, y, cfg.eps)
    else:
        table = certified_accuracy(model, x, y, cfg.eps, certifier=certifier)
    table.insert(0, "dataset", test.label)
    table.insert(1, "method", method)
    cert = certifier(x)
    radius = cert.radius[cert.predicted == y].cpu()
    certify_s = time.perf_counter() - start
    summary = {
        "run_id": run_id or (out.name if out else None),
        "experiment": experiment_of(cfg).name,
        "dataset": test.label,
        "method": method,
        "model": cfg.model,
        "clean_accuracy": float(table.certified_accuracy.iloc[0]) if cfg.eps[0] == 0 else None,
        "certified_accuracy": dict(zip(map(str, cfg.eps), table.certified_accuracy, strict=True)),
        "certificate": "local (box and ball), sound"
        if certificate == "local"
        else f"{cert.form}, {'sound' if cert.sound else 'estimate'}",
        **extra,
        "lipschitz_bound": cert.lipschitz,
        "radius_quantiles_correct": {
            str(q): float(radius.quantile(q)) if len(radius) else 0.0 for q in (0.1, 0.5, 0.9)
        },
        "best_epoch": fitted.best_epoch,
        "selected_on": f"{tcfg.select_on} (eps={tcfg.select_eps}, {tcfg.n_val_eval} val images)",
        "train_wall_time_s": fitted.wall_time_s,
        "certify_wall_time_s": certify_s,
        "wall_time_s": fitted.wall_time_s + certify_s,
        "device": device_name(device),
        "world_size": distributed.world_size(),
        "commit": code,
    }
    if certificate == "local":  # the radii above are the global certificate's
        summary["global_radius_quantiles_correct"] = summary.pop("radius_quantiles_correct")
    refuse_nan(summary, str(out / "summary.json") if out else "the run's summary")
    if out:
        save_model(out / "model.pt", model, cfg, test.input_shape)
        tmp = out / f".certified.csv.{os.getpid()}.tmp"
        table.to_csv(tmp, index=False)
        tmp.replace(out / "certified.csv")
        write_json(out / "summary.json", summary)
    return RunResult(cfg, model, fitted.history, table, summary, out)


def _write_config(out: Path, config: dict) -> None:
    """Write ``config.json``; when it replaces another config (an extended run), first remove
    ``summary.json``, which described the run under the old one."""
    path = out / "config.json"
    if path.exists():
        try:
            old = json.loads(path.read_text())
        except ValueError:
            old = None
        if old != json.loads(json.dumps(config, default=str)):
            (out / "summary.json").unlink(missing_ok=True)
    write_json(path, config)


def pgd_accuracy(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps, *, steps: int = 50
) -> dict:
    """Empirical robust accuracy under :func:`lipviz.attacks.pgd_l2` at each ε (an upper bound
    on the robust accuracy that every certified accuracy must stay below).

    Parameters
    ----------
    model : nn.Module
        The classifier (inputs in [0, 1]).
    x, y : Tensor
        Inputs ``(N, ...)`` and labels ``(N,)``.
    eps : sequence of float
        Radii (input units); at 0 the clean accuracy.
    steps : int
        PGD steps (one restart from the input).

    Returns
    -------
    dict
        ``{str(eps): accuracy}``.
    """
    with eval_mode(model), torch.no_grad():
        correct = (model(x).argmax(1) == y).cpu()
    out = {}
    for e in eps:
        robust = correct.clone()
        idx = correct.nonzero().flatten()
        if float(e) > 0 and len(idx):
            attack = pgd_l2(model, x[idx], y[idx], float(e), steps=steps)
            robust[idx] = ~attack.success.cpu()
        out[str(e)] = float(robust.double().mean())
    return out


def run_folder(base, cfg) -> str:
    """``base`` plus a short hash of ``cfg``: a changed config gets a new folder (notebooks).

    Parameters
    ----------
    base : str or Path
        The folder name without the hash.
    cfg : dataclass
        Its JSON form (sorted keys) is hashed with SHA-1.

    Returns
    -------
    str
        ``f"{base}-{hash}"`` with the first 8 hex digits of the hash.

    Examples
    --------
    >>> from lipviz.config import LMTConfig
    >>> run_folder("runs/lmt", LMTConfig()) == run_folder("runs/lmt", LMTConfig())
    True
    >>> run_folder("runs/lmt", LMTConfig()) == run_folder("runs/lmt", LMTConfig(epochs=1))
    False
    """
    import hashlib
    import json

    blob = json.dumps(dataclasses.asdict(cfg), sort_keys=True, default=str).encode()
    return f"{base}-{hashlib.sha1(blob).hexdigest()[:8]}"
