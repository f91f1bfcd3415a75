"""Read run folders (``summary.json``, ``certified.csv``, ``metrics.csv``) into tables."""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["load_run", "runs_table"]


def load_run(folder) -> dict:
    """The files of one run folder, read into a dict.

    ``summary`` (dict), ``certified`` and ``metrics`` (DataFrames, or None when absent).

    Parameters
    ----------
    folder : str or Path
        A run folder holding ``summary.json`` (and ``certified.csv``, ``metrics.csv``).

    Returns
    -------
    dict
        ``{"summary": dict, "certified": DataFrame or None, "metrics": DataFrame or None}``.

    Raises
    ------
    FileNotFoundError
        If the folder has no ``summary.json`` (not a finished run).
    """
    import pandas as pd

    folder = Path(folder)
    if not (folder / "summary.json").exists():
        msg = f"{folder} is not a finished run folder (no summary.json)"
        raise FileNotFoundError(msg)
    out = {"summary": json.loads((folder / "summary.json").read_text())}
    for name in ("certified", "metrics"):
        path = folder / f"{name}.csv"
        out[name] = pd.read_csv(path) if path.exists() else None
    return out


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
            s = load_run(folder)["summary"]
        except FileNotFoundError:
            continue
        row = {"run": Path(folder).name, "dataset": s["dataset"], "method": s["method"]}
        row |= {f"ε={k}": v for k, v in s["certified_accuracy"].items()}
        row |= {k: s.get(k) for k in ("certificate", "device", "wall_time_s", "commit")}
        rows.append(row)
    return pd.DataFrame(rows)
