"""What a batch folder holds: each job's state, and its results set against the papers.

A row describes what its job actually ran: preset and parameters come from the job's own result
record, never from the batch file. Only a ``done`` job (its record names the current spec's
identity) gets a verdict against the paper's number; a ``stale`` row still shows the old
result's numbers under its own preset and parameters, with the verdict ``not run``, because
the current spec has not run.
"""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

from .jobs import atomic_write, inspect_job, primary_run, read_json
from .spec import Expected, Job, load_batch

__all__ = [
    "BOOK_BUILD",
    "batch_report",
    "batch_status",
    "batch_table",
    "book_build_times",
    "runs_against_papers",
    "targets_table",
    "verdict",
]


BOOK_BUILD = "book-build.json"
"""The execution report a full build of the book writes into its ``results/`` folder."""


def book_build_times(results):
    """Each chapter's execution time in the last full build of the book, as a table.

    The build writes ``results/book-build.json`` when it has executed notebooks (the book's
    Sphinx extension ``_ext/execution_report.py`` reads myst-nb's measurements), so these times
    are measured, never typed.

    Parameters
    ----------
    results : str or Path
        The book's ``results/`` folder (:func:`lipviz.batch.published`).

    Returns
    -------
    table : pandas.DataFrame
        One row per executed page: ``page``, ``seconds``, ``succeeded``; the slowest first.
    build : dict
        The rest of the report: ``finished``, ``commit``, ``machine``, ``build_seconds`` (the
        whole Sphinx build) and ``executed_seconds`` (the sum of the pages' times).

    Raises
    ------
    FileNotFoundError
        If no build has written the report yet.
    ValueError
        If the file is not such a report.
    """
    import pandas as pd

    path = Path(results) / BOOK_BUILD
    if not path.is_file():
        msg = f"{path} is absent: build the book once (make book) to write it"
        raise FileNotFoundError(msg)
    report = read_json(path)
    if report is None or not isinstance(report.get("chapters"), dict):
        msg = f"{path} is not an execution report of the book (rebuild the book to rewrite it)"
        raise ValueError(msg)
    chapters = report.pop("chapters")
    table = pd.DataFrame(
        [{"page": page, **row} for page, row in chapters.items()],
        columns=["page", "seconds", "succeeded"],
    )
    table = table.sort_values("seconds", ascending=False, ignore_index=True)
    return table, report


def _batch_of(out: Path):
    if not (out / "batch.yaml").exists():
        msg = f"{out} is not a batch folder (no batch.yaml): run `lipviz batch run` into it first"
        raise FileNotFoundError(msg)
    return load_batch(out / "batch.yaml")


def batch_status(out_dir):
    """Each job's state: done, running, failed, interrupted, corrupt, stale or pending (see
    :func:`lipviz.batch.job_state`).

    Parameters
    ----------
    out_dir : str or Path
        A batch folder (``lipviz batch run ... --out DIR``).

    Returns
    -------
    pandas.DataFrame
        Columns ``job``, ``state``, ``wall_time_s`` (done, stale or failed jobs) and ``error``
        (a failed job's error, or what is wrong with a corrupt result record).

    Warns
    -----
    CorruptResultWarning
        For each corrupt result record, naming the file.
    """
    import pandas as pd

    out = Path(out_dir)
    rows = []
    for job in _batch_of(out).jobs:
        state, record, problem = inspect_job(out, job)
        failed = read_json(out / job.id / "error.json") if state == "failed" else None
        info = record or failed or {}
        error = problem or (failed or {}).get("error", "")
        rows.append(
            {"job": job.id, "state": state, "wall_time_s": info.get("wall_time_s"), "error": error}
        )
    return pd.DataFrame(rows, columns=["job", "state", "wall_time_s", "error"])


def verdict(ours: float | None, expected: Expected | None) -> str:
    """Our number against the paper's.

    Parameters
    ----------
    ours : float or None
        Our value (a fraction), None when the job has not run.
    expected : Expected or None
        The paper's value and tolerance.

    Returns
    -------
    str
        ``"no paper value"``, ``"not run"``, ``"above"`` (better by more than the tolerance),
        ``"reproduced"`` (within it) or ``"below"``.

    Examples
    --------
    >>> e = Expected("certified_accuracy", 0.4055, 0.02, "BCP README", eps=1.58)
    >>> verdict(0.39, e), verdict(0.36, e), verdict(0.45, e), verdict(None, e)
    ('reproduced', 'below', 'above', 'not run')
    """
    if expected is None:
        return "no paper value"
    if ours is None:
        return "not run"
    if ours > expected.value + expected.tolerance:
        return "above"
    if ours >= expected.value - expected.tolerance:
        return "reproduced"
    return "below"


def _at(table: dict | None, eps: float | None):
    """The entry of ``{"<eps>": value}`` at ``eps`` (the largest radius when eps is None)."""
    if not table:
        return eps, None
    keys = {float(k): v for k, v in table.items()}
    if eps is None:
        eps = max(keys)
    match = [k for k in keys if abs(k - eps) <= 1e-6 * max(1.0, abs(eps))]
    return (eps, keys[match[0]]) if match else (eps, None)


def _parameters_text(parameters) -> str | None:
    return None if parameters is None else json.dumps(parameters, sort_keys=True)


def _row(job: Job, state: str, record: dict | None) -> dict:
    """One report row. ``record`` is the job's result record (``done`` or ``stale``): it gives
    the numbers and the labels of what ran; the batch file gives the paper's number, and the
    run it is judged by (``run``)."""
    runs = (record or {}).get("runs") or []
    primary = primary_run(job, runs) if record else None
    run = primary["summary"] if primary else {}
    exp = job.expected
    eps = exp.eps if exp is not None else None
    eps, certified = _at(run.get("certified_accuracy"), eps)
    _, pgd = _at(run.get("pgd_accuracy"), eps)
    ours = None
    if exp is not None and run and state == "done":
        ours = {
            "clean_accuracy": run.get("clean_accuracy"),
            "certified_accuracy": certified,
            "pgd_accuracy": pgd,
        }[exp.metric]
    if record is None:  # nothing ran: the labels of what will run
        preset, parameters = job.preset, job.parameters
    else:  # what ran, from its own record (None when the record does not say)
        preset, parameters = record.get("preset"), record.get("parameters")
    source = "" if exp is None else exp.source + ("" if exp.verified else " (unverified)")
    return {
        "job": job.id,
        "state": state,
        "dataset": run.get("dataset"),
        "method": run.get("method"),
        "model": run.get("model"),
        "preset": preset,
        "parameters": _parameters_text(parameters),
        "eps": eps,
        "clean": run.get("clean_accuracy"),
        "certified": certified,
        "pgd": pgd,
        "certificate": run.get("certificate"),
        "wall_time_s": None if record is None else record.get("wall_time_s"),
        "device": None if record is None else record.get("device"),
        "commit": None if record is None else record.get("commit"),
        "paper_metric": None if exp is None else exp.metric,
        "paper": None if exp is None else exp.value,
        "ours": ours,
        "verdict": verdict(ours, exp) if state == "done" or exp is None else "not run",
        "source": source,
        "note": job.note,
    }


def _atomic_write(path: Path, text: str) -> None:
    atomic_write(path, text.encode())


def batch_table(out_dir):
    """One row per job of a batch folder, set against the paper's number (nothing written).

    Parameters
    ----------
    out_dir : str or Path
        A batch folder.

    Returns
    -------
    pandas.DataFrame
        As :func:`batch_report`.
    """
    import pandas as pd

    out = Path(out_dir)
    rows = []
    for job in _batch_of(out).jobs:
        state, record, _ = inspect_job(out, job)
        rows.append(_row(job, state, record))
    return pd.DataFrame(rows)


def targets_table(batch="papers"):
    """The published numbers a batch is set against, one row per job that has one.

    Parameters
    ----------
    batch : str or Path, default "papers"
        A shipped batch name or a batch file.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``job``; columns ``chapter`` (the notebook's stem), ``metric``, ``eps``,
        ``paper`` (the published value, a fraction), ``tolerance``, ``verified`` and
        ``source``.

    Examples
    --------
    >>> t = targets_table("papers")
    >>> round(float(t.loc["lmt-mnist", "paper"]), 4), t.loc["lmt-mnist", "metric"]
    (0.4055, 'certified_accuracy')
    """
    import pandas as pd

    rows = [
        {
            "job": j.id,
            "chapter": j.chapter.stem,
            "metric": j.expected.metric,
            "eps": j.expected.eps,
            "paper": j.expected.value,
            "tolerance": j.expected.tolerance,
            "verified": j.expected.verified,
            "source": j.expected.source,
        }
        for j in load_batch(batch).jobs
        if j.expected is not None
    ]
    return pd.DataFrame(rows).set_index("job")


def runs_against_papers(runs: dict, batch="papers"):
    """Finished run folders set against the rows of a batch file (runs made outside a batch,
    e.g. shortened schedules on a CPU).

    Parameters
    ----------
    runs : dict
        ``{job id: run folder}``; the job gives the paper's number, the folder our result.
    batch : str or Path, default "papers"
        The batch file whose jobs hold the papers' numbers.

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`batch_report`; ``preset`` names the run folder instead (its
        ``config.json`` holds the schedule), and jobs without a folder are "not run".
    """
    import pandas as pd

    spec = load_batch(batch)
    rows = []
    for job in spec.jobs:
        folder = runs.get(job.id)
        summary = read_json(Path(folder) / "summary.json") if folder else None
        if summary is None:
            rows.append(_row(job, "pending", None))
            continue
        wrapped = {
            "runs": [{"folder": ".", "summary": summary}],
            "result": ".",
            **{k: summary.get(k) for k in ("wall_time_s", "device", "commit")},
        }
        # the folder the caller pairs with the job is its run, whatever id it carries
        row = _row(dataclasses.replace(job, run=None), "done", wrapped)
        row["preset"], row["parameters"] = f"run folder {Path(folder).name}", None
        rows.append(row)
    unknown = set(runs) - {job.id for job in spec.jobs}
    if unknown:
        msg = f"{spec.source}: no job {sorted(unknown)[0]!r} to set a run against"
        raise KeyError(msg)
    return pd.DataFrame(rows)


def batch_report(out_dir, *, figure: bool = True):
    """One row per job, set against the paper's number; written as CSV, Markdown and a figure.

    Parameters
    ----------
    out_dir : str or Path
        A batch folder.
    figure : bool, default True
        Also draw ``report.png``: our numbers beside the papers' (jobs with a paper value).

    Returns
    -------
    pandas.DataFrame
        Columns ``job``, ``state``, ``dataset``, ``method``, ``model``, ``preset`` and
        ``parameters`` (of what ran, from the job's result record; ``parameters`` as JSON),
        ``eps``, ``clean``, ``certified``, ``pgd`` (fractions), ``certificate``,
        ``wall_time_s``, ``device``, ``commit``, ``paper_metric``, ``paper``, ``ours``,
        ``verdict`` (only a ``done`` job is judged), ``source`` and ``note``. The files
        ``report.csv``, ``report.md`` (and ``report.png``) are written atomically into the
        batch folder.

    Warns
    -----
    CorruptResultWarning
        For each corrupt result record, naming the file.
    """
    import pandas as pd

    out = Path(out_dir)
    spec = _batch_of(out)
    table = batch_table(out)
    _atomic_write(out / "report.csv", table.to_csv(index=False))
    shown = table.drop(columns=["commit", "note"]).copy()
    for col in ("clean", "certified", "pgd", "paper", "ours"):
        shown[col] = shown[col].map(lambda v: "" if v is None or pd.isna(v) else f"{100 * v:.2f}")
    shown["wall_time_s"] = shown["wall_time_s"].map(
        lambda v: "" if v is None or pd.isna(v) else f"{v:.0f}"
    )
    header = f"# Batch {spec.name}: results against the papers\n\nAccuracies in %.\n\n"
    _atomic_write(out / "report.md", header + shown.to_markdown(index=False) + "\n")
    if figure:
        from ..viz.static import plot_reproduction

        fig = plot_reproduction(table)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
        atomic_write(out / "report.png", buffer.getvalue())
        import matplotlib.pyplot as plt

        plt.close(fig)
    return table
