"""Read run folders (``config.json``, ``model.pt``, ``summary.json``, ``certified.csv``,
``metrics.csv``) back: a published run is a model any reader can re-certify and attack."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from .registry import EXPERIMENTS

__all__ = ["LoadedRun", "load_run", "runs_table"]


@dataclass(eq=False)
class LoadedRun:
    """A finished run folder, read back.

    Attributes
    ----------
    folder : Path
        The run folder.
    config : dataclass or None
        The experiment's config (e.g. :class:`~lipviz.config.LMTConfig`), rebuilt from
        ``config.json``; None when the folder does not say which experiment wrote it.
    summary : dict
        ``summary.json``.
    certified : pandas.DataFrame or None
        ``certified.csv``.
    metrics : pandas.DataFrame or None
        ``metrics.csv`` (one row per training epoch).
    model : nn.Module or None
        The selected model in eval mode (float32, CPU) when the folder holds ``model.pt``.
    """

    folder: Path
    config: object
    summary: dict
    certified: object
    metrics: object
    model: object


def _builders() -> dict:
    """The model builder of every registered experiment that publishes models, by name."""
    return {n: e.build_model for n, e in EXPERIMENTS.items() if e.build_model is not None}


def _config(folder: Path, experiment: str | None):
    path = folder / "config.json"
    if not path.exists():
        return None, experiment
    raw = json.loads(path.read_text())
    if experiment is None:  # older folders: the config class whose fields these are
        match = [
            n
            for n, e in EXPERIMENTS.items()  # fields added later take their defaults
            if set(raw) <= {f.name for f in dataclasses.fields(e.config)}
        ]
        experiment = match[0] if len(match) == 1 else None
    if experiment is None:
        return None, None
    cls = EXPERIMENTS[experiment].config
    names = {f.name for f in dataclasses.fields(cls)}
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items() if k in names}
    try:
        return cls(**values), experiment
    except ValueError as err:  # the config's own checks
        msg = f"{path}: {err}"
        raise ValueError(msg) from None


def _read_model(path: Path, experiment: str | None) -> dict:
    """``model.pt`` as plain data (``weights_only=True``), its schema checked: ``experiment``
    (a registered experiment that builds models), ``input_shape`` (a list of ints >= 1) and
    ``state`` (a state dict of tensors)."""
    import pickle

    import torch

    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        msg = f"{path} holds more than tensors and plain data, so it was refused unread"
        raise ValueError(msg) from None
    except (RuntimeError, EOFError, OSError) as err:
        msg = f"{path} is not a readable model file ({type(err).__name__})"
        raise ValueError(msg) from err
    what = None
    if not isinstance(blob, dict) or set(blob) != {"experiment", "input_shape", "state"}:
        what = "not a dict of experiment, input_shape and state"
    elif blob["experiment"] not in _builders():
        what = f"experiment {blob['experiment']!r} is not one of {sorted(_builders())}"
    elif experiment is not None and blob["experiment"] != experiment:
        what = f"experiment {blob['experiment']!r}, but summary.json says {experiment!r}"
    elif not (
        isinstance(blob["input_shape"], (list, tuple))
        and blob["input_shape"]
        and all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in blob["input_shape"]
        )
    ):
        what = f"input_shape {blob['input_shape']!r} is not a list of sizes"
    elif not (
        isinstance(blob["state"], dict)
        and all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in blob["state"].items()
        )
    ):
        what = "state is not a state dict of tensors"
    if what is not None:
        msg = f"{path} is not a lipviz model file: {what}"
        raise ValueError(msg)
    return blob


def load_run(folder, *, model: bool = True) -> LoadedRun:
    """A finished run folder: its config, summary, tables and (when saved) its model.

    Parameters
    ----------
    folder : str or Path
        A run folder holding ``summary.json`` (a finished run).
    model : bool, default True
        Rebuild the model from ``model.pt`` (the experiment's ``build_model`` and the saved
        weights).

    Returns
    -------
    LoadedRun
        ``.model`` is in eval mode, or None when the folder has no ``model.pt``.

    Raises
    ------
    FileNotFoundError
        If the folder has no ``summary.json`` (not a finished run).
    ValueError
        If ``config.json`` fails its config's checks, or ``model.pt`` is not plain data of the
        expected schema (it is read with ``weights_only=True``); the message names the file.

    Examples
    --------
    >>> from lipviz.batch import published
    >>> run = load_run(published() / "lmt-full")
    >>> run.summary["method"], run.config.epochs, run.model  # a folder without model.pt
    ('lmt', 20, None)
    """
    import pandas as pd

    folder = Path(folder)
    if not (folder / "summary.json").exists():
        msg = f"{folder} is not a finished run folder (no summary.json)"
        raise FileNotFoundError(msg)
    summary = json.loads((folder / "summary.json").read_text())
    cfg, experiment = _config(folder, summary.get("experiment"))
    tables = {}
    for name in ("certified", "metrics"):
        path = folder / f"{name}.csv"
        tables[name] = pd.read_csv(path) if path.exists() else None
    net = None
    if model and (folder / "model.pt").exists():
        blob = _read_model(folder / "model.pt", experiment)
        if cfg is None:
            msg = f"{folder}: model.pt is there but config.json does not rebuild the model"
            raise ValueError(msg)
        net = _builders()[blob["experiment"]](cfg, tuple(blob["input_shape"]))
        try:
            net.load_state_dict(blob["state"])
        except RuntimeError as err:
            first = str(err).strip().splitlines()[0]
            msg = f"{folder / 'model.pt'} does not fit the model config.json describes: {first}"
            raise ValueError(msg) from err
        net = net.float().eval()
    return LoadedRun(folder, cfg, summary, tables["certified"], tables["metrics"], net)


def runs_table(folders) -> object:
    """A table of finished runs, one row per run folder.

    Each row: dataset, method, clean and certified accuracies, certificate form, device, wall
    time and commit (missing folders are skipped).

    Parameters
    ----------
    folders : iterable of str or Path
        Run folders; those without ``summary.json`` are skipped.

    Returns
    -------
    pandas.DataFrame
        Columns ``run`` (the folder's name), ``dataset``, ``method``, one ``ε=<eps>`` column
        per certified radius, ``certificate``, ``device``, ``wall_time_s`` and ``commit``.

    Examples
    --------
    >>> len(runs_table(["no/such/run"]))
    0
    """
    import pandas as pd

    rows = []
    for folder in folders:
        try:
            s = load_run(folder, model=False).summary
        except FileNotFoundError:
            continue
        row = {"run": Path(folder).name, "dataset": s["dataset"], "method": s["method"]}
        row |= {f"ε={k}": v for k, v in s["certified_accuracy"].items()}
        row |= {k: s.get(k) for k in ("certificate", "device", "wall_time_s", "commit")}
        rows.append(row)
    return pd.DataFrame(rows)
