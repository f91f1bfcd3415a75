"""Batch files: YAML lists of chapter notebooks to execute with papermill, validated on load.

A batch file::

    name: smoke
    description: every chapter's smoke run
    defaults: {preset: smoke, device: cpu}
    jobs:
      - id: lmt-mnist
        chapter: 03_lipschitz_margin_training
        parameters: {methods: lmt}
        run: chapter-lmt/full-long-lmt
        expected: {metric: certified_accuracy, eps: 1.58, value: 0.4055, tolerance: 0.02,
                   source: "BCP README (NeurIPS 2020), LMT row", verified: true}

Every error names the file, the job and the field. A job's id names its folder in the batch's
output folder, so it is a plain folder name (no path separator, not hidden) and none of the
files the batch writes there (``batch.yaml``, ``manifest.json``, ``report.*``); ids are unique
ignoring case. A job's parameters must be assigned in its notebook's ``parameters`` cell (the
cell papermill injects after): a misspelt one is refused with the close matches, before any job
starts.
"""

from __future__ import annotations

import ast
import difflib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "BatchError",
    "BatchSpec",
    "Expected",
    "Job",
    "book_root",
    "load_batch",
    "published",
    "shipped_batches",
]

SHIPPED = Path(__file__).parent / "files"
"""The batch files shipped with lipviz (``smoke``, ``papers``)."""

BOOK_ENV = "LIPVIZ_BOOK_DIR"
"""The environment variable naming the book's folder, for a lipviz installed from a wheel."""


def book_root() -> Path:
    """The book's folder, whose chapters a batch file names: ``$LIPVIZ_BOOK_DIR`` when set, else
    the ``book/`` of the source checkout lipviz runs from.

    An installed lipviz (a wheel in ``site-packages``) ships no chapters: point
    ``LIPVIZ_BOOK_DIR`` (or ``lipviz batch run --book DIR``) at a checkout's ``book/``, or name
    notebooks by path in the batch file.

    Returns
    -------
    Path
        A folder holding the book's ``_toc.yml``.

    Raises
    ------
    FileNotFoundError
        When ``LIPVIZ_BOOK_DIR`` names no book, or it is unset and lipviz runs outside a
        checkout; the message says what to set.

    Examples
    --------
    >>> (book_root() / "_toc.yml").is_file()
    True
    """
    configured = os.environ.get(BOOK_ENV)
    if configured:
        path = Path(configured).expanduser()
        if not (path / "_toc.yml").is_file():
            msg = f"{BOOK_ENV}={configured} is not a lipviz book folder (it has no _toc.yml)"
            raise FileNotFoundError(msg)
        return path
    path = Path(__file__).resolve().parents[2] / "book"
    if (path / "_toc.yml").is_file():
        return path
    msg = (
        "lipviz runs outside a source checkout, so it has no book: set "
        f"{BOOK_ENV} (or lipviz batch run --book DIR) to the book/ folder of a lipviz checkout, "
        "or name notebooks by path in the batch file"
    )
    raise FileNotFoundError(msg)


_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_RESERVED = ("batch.yaml", "manifest.json", "report.csv", "report.md", "report.png")
"""Files the runner and the report write at the top of a batch folder: no job may be called so."""
_METRICS = ("clean_accuracy", "certified_accuracy", "pgd_accuracy")
_JOB_FIELDS = {
    "id",
    "chapter",
    "preset",
    "parameters",
    "device",
    "run",
    "expected",
    "timeout_s",
    "priority",
    "note",
}
_EXPECTED_FIELDS = {"metric", "eps", "value", "tolerance", "source", "verified"}


class BatchError(ValueError):
    """A malformed batch file.

    Parameters
    ----------
    message : str
        What is wrong, naming the file, the job and the field.
    """


@dataclass(frozen=True)
class Expected:
    """A published number a job is set against.

    Attributes
    ----------
    metric : str
        ``clean_accuracy``, ``certified_accuracy`` or ``pgd_accuracy`` (fractions in [0, 1]).
    value : float
        The published value, as a fraction.
    tolerance : float
        How far below (as a fraction) still counts as reproduced.
    source : str
        Where the number comes from.
    eps : float or None
        The radius (input units) for certified and PGD accuracy.
    verified : bool
        False for numbers recalled but not found in a primary source.
    """

    metric: str
    value: float
    tolerance: float
    source: str
    eps: float | None = None
    verified: bool = True


@dataclass(frozen=True)
class Job:
    """One chapter notebook with its papermill parameters.

    Attributes
    ----------
    id : str
        The job's folder name below the batch's output folder.
    chapter : Path
        The notebook (a MyST ``.md`` of the book, or an ``.ipynb``).
    preset : str
        Injected as the notebook's ``preset`` parameter.
    parameters : dict
        Further papermill parameters (plain values).
    device : str
        ``"cpu"`` or ``"cuda"`` (a cuda job takes one GPU: the dask resource ``GPU``).
    run : str or None
        The id of the run the job is judged by, among the run folders its notebook wrote: the
        ``run_id`` the experiment's runner wrote into that run's ``summary.json`` (the name a
        chapter gives :func:`~lipviz.experiments.cached_run`, or the ``run_id`` it passes a
        runner). Matched exactly; None judges the job by its first run.
    expected : Expected or None
        The paper's number, if any.
    timeout_s : float or None
        Per-cell timeout of the execution.
    priority : int
        Default 0. Jobs are submitted to dask in order of decreasing priority, each with it as
        its task priority, so when there are more jobs than workers the higher ones start
        first. Giving the longest jobs the highest priorities keeps a long job from running
        alone at the end of a batch.
    note : str
        Free text shown in the report.
    """

    id: str
    chapter: Path
    preset: str = "smoke"
    parameters: dict = field(default_factory=dict)
    device: str = "cpu"
    run: str | None = None
    expected: Expected | None = None
    timeout_s: float | None = None
    priority: int = 0
    note: str = ""


@dataclass(frozen=True)
class BatchSpec:
    """A validated batch file.

    Attributes
    ----------
    name : str
        The batch's name.
    jobs : tuple of Job
        Its jobs, in file order (ids unique).
    source : Path
        The file it was read from.
    description : str
        Free text.
    """

    name: str
    jobs: tuple
    source: Path
    description: str = ""

    def job(self, job_id: str) -> Job:
        """The job called ``job_id``.

        Parameters
        ----------
        job_id : str
            A job's id.

        Returns
        -------
        Job
            The job.
        """
        for job in self.jobs:
            if job.id == job_id:
                return job
        msg = f"{self.source}: no job {job_id!r} (jobs: {', '.join(j.id for j in self.jobs)})"
        raise KeyError(msg)


def shipped_batches() -> list[str]:
    """The names of the batch files shipped with lipviz.

    Returns
    -------
    list of str
        E.g. ``["papers", "smoke"]``.

    Examples
    --------
    >>> "smoke" in shipped_batches()
    True
    """
    return sorted(p.stem for p in SHIPPED.glob("*.yaml"))


def published(folder="results") -> Path:
    """A folder of committed results: ``folder`` itself when it exists (relative to the current
    directory), else the book's (``book/results``), wherever the notebook runs.

    Parameters
    ----------
    folder : str or Path, default "results"
        The folder as a chapter names it.

    Returns
    -------
    Path
        An existing folder.

    Raises
    ------
    FileNotFoundError
        If neither exists.

    Examples
    --------
    >>> published().name
    'results'
    """
    path = Path(folder)
    if path.is_dir():
        return path
    book = book_root()
    if (book / path).is_dir():
        return book / path
    msg = f"no results folder {path} here or in {book}"
    raise FileNotFoundError(msg)


def _fail(where: str, msg: str):
    msg_0 = f"{where}: {msg}"
    raise BatchError(msg_0)


def _plain(value) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


def _expected(raw, where: str) -> Expected:
    if not isinstance(raw, dict):
        _fail(where, f"must be a mapping, got {type(raw).__name__}")
    unknown = set(raw) - _EXPECTED_FIELDS
    if unknown:
        _fail(
            f"{where}.{sorted(unknown)[0]}", f"unknown field (allowed: {sorted(_EXPECTED_FIELDS)})"
        )
    for key in ("metric", "value", "source"):
        if key not in raw:
            _fail(f"{where}.{key}", "missing")
    if raw["metric"] not in _METRICS:
        _fail(f"{where}.metric", f"must be one of {_METRICS}, got {raw['metric']!r}")
    numbers = {k: raw.get(k) for k in ("value", "tolerance", "eps")}
    for key, value in numbers.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            _fail(f"{where}.{key}", f"must be a number, got {value!r}")
    if not 0.0 <= raw["value"] <= 1.0:
        _fail(f"{where}.value", f"accuracies are fractions in [0, 1], got {raw['value']}")
    if raw["metric"] != "clean_accuracy" and raw.get("eps") is None:
        _fail(f"{where}.eps", f"{raw['metric']} needs the radius eps")
    return Expected(
        metric=raw["metric"],
        value=float(raw["value"]),
        tolerance=float(raw.get("tolerance", 0.01)),
        source=str(raw["source"]),
        eps=None if raw.get("eps") is None else float(raw["eps"]),
        verified=bool(raw.get("verified", True)),
    )


def _chapter(name, where: str, base: Path) -> Path:
    if not isinstance(name, str) or not name:
        _fail(where, f"must be a chapter name or a notebook path, got {name!r}")
    if name.endswith((".md", ".ipynb")):
        path = Path(name) if Path(name).is_absolute() else base / name
    else:
        try:
            book = book_root()
        except FileNotFoundError as err:
            _fail(where, f"chapter {name!r}: {err}")
        path = book / f"{name}.md"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in path.parent.glob("[0-9]*.md")))
        _fail(where, f"no notebook {path} (book chapters: {known})")
    return path


_PARAMETER_CACHE: dict = {}


def notebook_parameters(path) -> tuple[str, ...] | None:
    """The names assigned in a notebook's ``parameters`` cell (the cell tagged ``parameters``).

    Parameters
    ----------
    path : str or Path
        A notebook: a MyST ``.md`` (read with jupytext) or an ``.ipynb``.

    Returns
    -------
    tuple of str or None
        The names, sorted; None when the notebook has no ``parameters`` cell.

    Raises
    ------
    BatchError
        When the notebook cannot be read or its ``parameters`` cell is not Python.

    Examples
    --------
    >>> "preset" in notebook_parameters(book_root() / "00_setup_and_tour.md")
    True
    """
    path = Path(path)
    try:
        stat = path.stat()
        key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
        if key in _PARAMETER_CACHE:
            return _PARAMETER_CACHE[key]
        import jupytext

        cells = jupytext.read(path).cells
    except Exception as err:  # noqa: BLE001  (jupytext raises many kinds)
        msg = f"cannot read notebook {path}: {type(err).__name__}: {err}"
        raise BatchError(msg) from None
    tagged = [
        c for c in cells if c.cell_type == "code" and "parameters" in c.metadata.get("tags", [])
    ]
    names = None
    if tagged:
        source = "\n".join(
            line
            for line in tagged[0].source.splitlines()
            if not line.lstrip().startswith(("%", "!"))
        )
        try:
            tree = ast.parse(source)
        except SyntaxError as err:
            msg = f"{path}: its parameters cell is not Python ({err.msg}, line {err.lineno})"
            raise BatchError(msg) from None
        found = set()
        for node in tree.body:
            targets = (
                node.targets
                if isinstance(node, ast.Assign)
                else ([node.target] if isinstance(node, ast.AnnAssign) else [])
            )
            for target in targets:
                found |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
        names = tuple(sorted(found))
    _PARAMETER_CACHE[key] = names
    return names


def _check_parameters(params: dict, chapter: Path, where: str) -> None:
    """Refuse parameters that the notebook's parameters cell does not assign."""
    if not params:
        return
    known = notebook_parameters(chapter)
    if known is None:
        key = sorted(params)[0]
        _fail(
            f"{where}.parameters.{key}",
            f"{chapter.name} has no cell tagged 'parameters' to inject parameters after",
        )
    for key in sorted(params):
        if key not in known:
            close = difflib.get_close_matches(key, known, n=3)
            hint = f"did you mean {' or '.join(map(repr, close))}? " if close else ""
            _fail(
                f"{where}.parameters.{key}",
                f"not a parameter of {chapter.name} ({hint}its parameters cell assigns "
                f"{', '.join(known) or 'nothing'})",
            )


def _check_id(job_id, where: str) -> None:
    if not isinstance(job_id, str) or not _ID.match(job_id):
        _fail(
            f"{where}.id",
            "must be a folder name of at most 100 letters, digits, '.', '_' "
            f"and '-', starting with a letter or digit, got {job_id!r}",
        )
    if job_id.lower() in _RESERVED:
        _fail(
            f"{where}.id",
            f"{job_id!r} is a file the batch writes into its output folder "
            f"({', '.join(_RESERVED)}): pick another id",
        )


def _job(raw, where: str, defaults: dict, base: Path) -> Job:
    if not isinstance(raw, dict):
        _fail(where, f"must be a mapping, got {type(raw).__name__}")
    raw = {**defaults, **raw}
    if isinstance(raw.get("id"), str) and _ID.match(raw["id"]):
        where = f"job {raw['id']!r}"
    unknown = set(raw) - _JOB_FIELDS
    if unknown:
        _fail(f"{where}.{sorted(unknown)[0]}", f"unknown field (allowed: {sorted(_JOB_FIELDS)})")
    for key in ("id", "chapter"):
        if key not in raw:
            _fail(f"{where}.{key}", "missing")
    _check_id(raw["id"], where)
    where = f"job {raw['id']!r}"
    params = raw.get("parameters") or {}
    if not isinstance(params, dict):
        _fail(f"{where}.parameters", f"must be a mapping, got {type(params).__name__}")
    for key, value in params.items():
        if not _plain(value):
            _fail(f"{where}.parameters.{key}", f"must be a plain value, got {value!r}")
    if "preset" in params:
        _fail(f"{where}.parameters.preset", "set the job's preset field instead")
    if raw.get("device", "cpu") not in ("cpu", "cuda"):
        _fail(f"{where}.device", f"must be 'cpu' or 'cuda', got {raw['device']!r}")
    if not isinstance(raw.get("preset", "smoke"), str):
        _fail(f"{where}.preset", f"must be a string, got {raw['preset']!r}")
    timeout = raw.get("timeout_s")
    if timeout is not None and (not isinstance(timeout, (int, float)) or timeout <= 0):
        _fail(f"{where}.timeout_s", f"must be a positive number, got {timeout!r}")
    priority = raw.get("priority", 0)
    if not isinstance(priority, int) or isinstance(priority, bool):
        _fail(f"{where}.priority", f"must be an integer, got {priority!r}")
    run = raw.get("run")
    if run is not None and (not isinstance(run, str) or not run):
        _fail(f"{where}.run", f"must be a run id (a non-empty string), got {run!r}")
    expected = raw.get("expected")
    chapter = _chapter(raw["chapter"], f"{where}.chapter", base)
    _check_parameters(params, chapter, where)
    return Job(
        id=raw["id"],
        chapter=chapter,
        preset=raw.get("preset", "smoke"),
        parameters=dict(params),
        device=raw.get("device", "cpu"),
        run=run,
        expected=None if expected is None else _expected(expected, f"{where}.expected"),
        timeout_s=None if timeout is None else float(timeout),
        priority=priority,
        note=str(raw.get("note", "")),
    )


def load_batch(name_or_path) -> BatchSpec:
    """Read and validate a batch file: a shipped name (``"smoke"``, ``"papers"``) or a path.

    Parameters
    ----------
    name_or_path : str or Path
        A name from :func:`shipped_batches` or a YAML file.

    Returns
    -------
    BatchSpec
        The validated batch.

    Raises
    ------
    BatchError
        For a missing file, invalid YAML or any invalid field; the message names the file,
        the job and the field.

    Examples
    --------
    >>> spec = load_batch("smoke")
    >>> spec.name, all(job.preset == "smoke" for job in spec.jobs)
    ('smoke', True)
    """
    import yaml

    path = Path(name_or_path)
    if not path.suffix and not path.exists():
        path = SHIPPED / f"{name_or_path}.yaml"
        if not path.exists():
            msg = f"no batch file {name_or_path!r}: give a path or one of {shipped_batches()}"
            raise BatchError(msg)
    if not path.exists():
        msg_0 = f"{path}: no such batch file"
        raise BatchError(msg_0)
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        msg_0 = f"{path}: not valid YAML: {err}"
        raise BatchError(msg_0) from err
    if not isinstance(raw, dict):
        msg_0 = f"{path}: must be a mapping with a 'jobs' list"
        raise BatchError(msg_0)
    unknown = set(raw) - {"name", "description", "defaults", "jobs"}
    if unknown:
        msg_0 = f"{path}: unknown top-level field {sorted(unknown)[0]!r}"
        raise BatchError(msg_0)
    jobs_raw = raw.get("jobs")
    if not isinstance(jobs_raw, list) or not jobs_raw:
        msg_0 = f"{path}: 'jobs' must be a non-empty list"
        raise BatchError(msg_0)
    defaults = raw.get("defaults") or {}
    if not isinstance(defaults, dict):
        msg_0 = f"{path}: 'defaults' must be a mapping"
        raise BatchError(msg_0)
    jobs = []
    try:
        for i, job in enumerate(jobs_raw):
            jobs.append(_job(job, f"job #{i + 1}", defaults, path.parent))
    except BatchError as err:
        msg_0 = f"{path}: {err}"
        raise BatchError(msg_0) from None
    seen: dict = {}
    for job in jobs:  # folders: two ids that differ only in case collide on macOS and Windows
        other = seen.setdefault(job.id.lower(), job.id)
        if other != job.id or sum(j.id == job.id for j in jobs) > 1:
            same = "" if other == job.id else f" (as {other!r}: ids are compared ignoring case)"
            msg_0 = f"{path}: job {job.id!r}: id used twice{same}"
            raise BatchError(msg_0)
    return BatchSpec(
        name=str(raw.get("name", path.stem)),
        jobs=tuple(jobs),
        source=path,
        description=str(raw.get("description", "")),
    )
