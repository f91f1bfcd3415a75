"""Read run folders (``summary.json``, ``certified.csv``, ``metrics.csv``) into tables."""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["load_run", "runs_table"]


def load_run(folder) -> dict:
    """The files of one run folder: ``summary`` (dict), ``certified`` and ``metrics`` (DataFrames,
    or None when absent)."""
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
    """One row per finished run folder: dataset, method, clean and certified accuracies,
    certificate form, device, wall time and commit (missing folders are skipped)."""
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
