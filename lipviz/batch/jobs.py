"""A batch job's state, read from its folder: its identity, its result record (written atomically
with a checksum) and its lock. The runner and the report both read jobs through this module.

A job's **identity** is the sha256 of its resolved spec: the notebook's bytes, its preset and its
parameters (:func:`job_identity`). Its result record ``OUT/<job-id>/summary.json`` stores the
identity, the spec it ran and a sha256 of its own canonical payload (:func:`write_record`).

The states (:data:`STATES`), checked in this order:

``running``
    Another live process holds the job's lock (``OUT/.locks/<job-id>.lock``, an OS-level
    ``flock`` through :mod:`filelock`: the operating system releases it when its process dies,
    so a dead driver never blocks a job, and a live one is never robbed of it).
``done``
    The result record is readable, its checksum matches and its identity is the job's.
``stale``
    A readable result of another spec (the batch file or the notebook changed since it ran, or
    the record predates identities): kept and shown under its own labels, never counted as a
    result of the current spec.
``corrupt``
    A result record that cannot be read, is not JSON or fails its checksum (a warning names
    the file).
``interrupted``
    An attempt started (``running.json``) and its process is gone.
``failed``
    The last attempt failed (``error.json``).
``pending``
    Nothing yet.

Only ``done`` is done: every other state is run again by ``lipviz batch run``, except
``running``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import secrets
import warnings
from pathlib import Path

from ..locks import file_lock
from .spec import BatchError, Job, load_batch

__all__ = [
    "STATES",
    "CorruptResultWarning",
    "job_identity",
    "job_state",
    "read_record",
    "write_record",
]

STATES = ("done", "running", "failed", "interrupted", "corrupt", "stale", "pending")
"""The states of a job, as :func:`job_state` names them."""

RESULT = "summary.json"
"""A finished job's result record, in its folder."""

FORMAT = "lipviz-batch-result/1"
"""The ``format`` field of a result record (records without it predate checksums)."""

LOCKS = ".locks"
"""The folder of the batch's lock files (hidden: no job id can be hidden)."""

TOP_LEVEL = ("batch.yaml", "manifest.json", "report.csv", "report.md", "report.png", LOCKS)
"""What the runner and the report write at the top of a batch folder (besides job folders and
the ``<job-id>@<identity>`` folders of superseded results)."""

_IDENTITY_SCHEME = 1
_DIGESTS: dict = {}


def canonical(obj) -> bytes:
    """The canonical JSON bytes of ``obj`` (sorted keys, no spaces): what checksums hash.

    Parameters
    ----------
    obj : object
        JSON-serialisable (plain values, lists and dicts with string keys).

    Returns
    -------
    bytes
        UTF-8 JSON.

    Examples
    --------
    >>> canonical({"b": 1, "a": [1.5, None]})
    b'{"a":[1.5,null],"b":1}'
    """
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def notebook_digest(path) -> str:
    """The sha256 of a notebook file's bytes (cached while its size and mtime stay the same).

    Parameters
    ----------
    path : str or Path
        The notebook.

    Returns
    -------
    str
        64 hex digits.
    """
    path = Path(path)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    if key not in _DIGESTS:
        _DIGESTS[key] = _sha256(path.read_bytes())
    return _DIGESTS[key]


def _identity(notebook_sha256: str, preset: str, parameters: dict) -> str:
    spec = {
        "scheme": _IDENTITY_SCHEME,
        "notebook_sha256": notebook_sha256,
        "preset": preset,
        "parameters": parameters,
    }
    return _sha256(canonical(spec))


def job_identity(job: Job, notebook: bytes | None = None) -> str:
    """A job's identity: the sha256 of its resolved spec (notebook bytes, preset, parameters).

    The batch file's other fields (``method``, ``expected``, ``priority``, ``note``...) select
    and judge a result but do not change what runs, so they are not part of it.

    Parameters
    ----------
    job : Job
        The job.
    notebook : bytes, optional
        The notebook's bytes (read from ``job.chapter`` when omitted).

    Returns
    -------
    str
        64 hex digits.

    Examples
    --------
    >>> from lipviz.batch import load_batch
    >>> smoke = load_batch("smoke")
    >>> a, b = smoke.jobs[0], smoke.jobs[1]
    >>> len(job_identity(a)), job_identity(a) == job_identity(a), job_identity(a) == job_identity(b)
    (64, True, False)
    """
    digest = notebook_digest(job.chapter) if notebook is None else _sha256(notebook)
    return _identity(digest, job.preset, dict(job.parameters))


def job_spec(job: Job, notebook_sha256: str) -> dict:
    """The resolved spec a result record stores: what ran, and what it was set against."""
    expected = None if job.expected is None else dataclasses.asdict(job.expected)
    return {
        "chapter": job.chapter.name,
        "notebook_sha256": notebook_sha256,
        "preset": job.preset,
        "parameters": dict(job.parameters),
        "device": job.device,
        "run": job.run,
        "expected": expected,
        "timeout_s": job.timeout_s,
    }


# --- atomic writes and result records --------------------------------------------------------


def atomic_write(path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: a uniquely named temporary file in the same folder,
    flushed to disk, then renamed into place (readers see the old file or the new, never part).

    Parameters
    ----------
    path : str or Path
        The file; its folder is created if needed.
    data : bytes
        The content.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_record(path, payload: dict) -> dict:
    """Write a result record atomically, with ``format`` and the ``sha256`` of its payload.

    Parameters
    ----------
    path : str or Path
        The file (a job's ``summary.json``).
    payload : dict
        JSON-serialisable fields (other values are written with ``str``).

    Returns
    -------
    dict
        The record as written (the payload as JSON reads it back, ``format`` and ``sha256``).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     written = write_record(Path(tmp) / "r.json", {"job": "a", "value": 0.5})
    ...     read = read_record(Path(tmp) / "r.json")
    >>> read == (written, None), written["format"], len(written["sha256"])
    (True, 'lipviz-batch-result/1', 64)
    """
    body = json.loads(json.dumps(payload, default=str))
    body.pop("sha256", None)
    body["format"] = FORMAT
    record = {**body, "sha256": _sha256(canonical(body))}
    atomic_write(path, json.dumps(record, indent=2).encode())
    return record


def read_record(path) -> tuple[dict | None, str | None]:
    """Read and verify a result record.

    Parameters
    ----------
    path : str or Path
        The file.

    Returns
    -------
    record : dict or None
        The record (with its ``sha256``); None when it cannot be used.
    problem : str or None
        Why it cannot be used (unreadable, not JSON, no or a wrong checksum); None when it can.
        A record without ``format`` and ``sha256`` (written before checksums) is returned with
        no problem: it has no identity either, so it is never ``done``.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = Path(tmp) / "r.json"
    ...     _ = write_record(path, {"value": 0.5})
    ...     _ = path.write_text(path.read_text().replace("0.5", "0.9"))
    ...     read_record(path)
    (None, 'checksum mismatch: the file was edited or damaged after it was written')
    """
    try:
        record = json.loads(Path(path).read_bytes())
    except OSError as err:
        return None, f"unreadable ({err.strerror or err})"
    except ValueError as err:  # JSONDecodeError, UnicodeDecodeError
        return None, f"not valid JSON ({err})"
    if not isinstance(record, dict):
        return None, f"not a JSON object (a {type(record).__name__})"
    if "format" not in record and "sha256" not in record:
        return record, None  # written before checksums: readable, but it names no identity
    if not isinstance(record.get("sha256"), str):
        return None, "no checksum (sha256)"
    body = {k: v for k, v in record.items() if k != "sha256"}
    if _sha256(canonical(body)) != record["sha256"]:
        return None, "checksum mismatch: the file was edited or damaged after it was written"
    return record, None


def read_json(path) -> dict | None:
    """A JSON object from ``path``, or None when missing or unreadable (informational files)."""
    try:
        obj = json.loads(Path(path).read_bytes())
    except (OSError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


# --- locks -----------------------------------------------------------------------------------


def job_lock(out_dir, job_id: str):
    """The lock of job ``job_id`` (not acquired): an OS-level lock released when its process dies.

    Parameters
    ----------
    out_dir : str or Path
        The batch folder.
    job_id : str
        The job's id.

    Returns
    -------
    filelock.FileLock
        ``OUT/.locks/<job-id>.lock``; the file stays after release (deleting a lock file would
        let two processes hold two different files).
    """
    path = Path(out_dir) / LOCKS / f"{job_id}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    return file_lock(path)


def held_elsewhere(lock_path) -> bool:
    """Whether another holder (a live process, or another lock object) holds ``lock_path``.

    Parameters
    ----------
    lock_path : str or Path
        A lock file; a missing one is not held (it is created on acquisition).

    Returns
    -------
    bool
        True when a non-blocking acquisition fails.
    """
    from filelock import Timeout

    path = Path(lock_path)
    if not path.exists():
        return False
    probe = file_lock(path)
    try:
        probe.acquire(timeout=0)
    except Timeout:
        return True
    except OSError:  # e.g. a read-only copy of a batch folder: no one runs jobs there
        return False
    probe.release()
    return False


# --- state -----------------------------------------------------------------------------------


class CorruptResultWarning(RuntimeWarning):
    """A job's result record cannot be used (unreadable, not JSON, a wrong checksum): the job
    counts as not done, and a rerun runs it again.

    Parameters
    ----------
    message : str
        The record's path and what is wrong with it.
    """


def _warn_corrupt(path: Path, problem: str) -> None:
    msg = f"{path}: {problem}; the job counts as not done and a rerun runs it again"
    warnings.warn(msg, CorruptResultWarning, stacklevel=3)


def folder_state(folder: Path, identity: str | None, *, warn: bool = True):
    """A job's state from its folder's files alone (its lock is not looked at).

    Parameters
    ----------
    folder : Path
        ``OUT/<job-id>``.
    identity : str or None
        The current spec's identity; None to accept any identity (a record without one is
        still never ``done``).
    warn : bool, default True
        Warn (:class:`CorruptResultWarning`) about a corrupt result record, naming the file.

    Returns
    -------
    state : str
        ``done``, ``stale``, ``corrupt``, ``interrupted``, ``failed`` or ``pending``.
    record : dict or None
        The result record, for ``done`` and ``stale``.
    problem : str
        Why a record is corrupt ("" otherwise).
    """
    path = folder / RESULT
    if path.exists():
        record, problem = read_record(path)
        if problem is not None:
            if warn:
                _warn_corrupt(path, problem)
            return "corrupt", None, problem
        stored = record.get("identity")
        if stored is not None and identity in (None, stored):
            return "done", record, ""
        return "stale", record, ""
    if (folder / "running.json").exists():
        return "interrupted", None, ""
    if (folder / "error.json").exists():
        return "failed", None, ""
    return "pending", None, ""


def _resolve(out: Path, job) -> tuple[str, str | None]:
    """A job's id and current identity (from ``out/batch.yaml`` when given only an id)."""
    if isinstance(job, Job):
        return job.id, job_identity(job)
    if (out / "batch.yaml").exists():
        try:
            return job, job_identity(load_batch(out / "batch.yaml").job(job))
        except (BatchError, KeyError, OSError):
            pass
    return job, None


def inspect_job(out_dir, job, *, warn: bool = True):
    """A job's state with its result record: :func:`folder_state`, and ``running`` first.

    Parameters
    ----------
    out_dir : str or Path
        The batch folder.
    job : Job or str
        The job, or its id (its spec is then read from ``out_dir/batch.yaml``).
    warn : bool, default True
        Warn about a corrupt result record.

    Returns
    -------
    tuple
        ``(state, record, problem)`` as :func:`folder_state`.
    """
    out = Path(out_dir)
    job_id, identity = _resolve(out, job)
    state = folder_state(out / job_id, identity, warn=warn)
    if held_elsewhere(out / LOCKS / f"{job_id}.lock"):
        return ("running", *state[1:])
    return state


def job_state(out_dir, job) -> str:
    """A job's state, read from its folder and its lock (see the module's text).

    Parameters
    ----------
    out_dir : str or Path
        The batch's output folder.
    job : Job or str
        The job, or its id: its spec (for its identity) is then read from the folder's
        ``batch.yaml``; without one, any result with a valid checksum and an identity counts as
        done.

    Returns
    -------
    str
        One of :data:`STATES`.

    Warns
    -----
    CorruptResultWarning
        For a corrupt result record (its path is in the message).

    Examples
    --------
    >>> job_state("no/such/batch", "job")
    'pending'
    """
    return inspect_job(out_dir, job)[0]


def primary_run(job: Job, runs: list[dict]) -> dict | None:
    """The run a job is judged by: the one whose ``run_id`` is ``job.run`` (the first run when
    the job names none).

    The runner writes ``run_id`` into each run's ``summary.json``; the match is exact, so two
    runs whose methods share a name (chapter 7's three LipConvnets) are never confused.

    Parameters
    ----------
    job : Job
        The job (its ``run`` selects).
    runs : list of dict
        ``{"folder": ..., "summary": {...}}`` of each run folder the job wrote.

    Returns
    -------
    dict or None
        The selected run; None when none matches.
    """
    for run in runs:
        summary = run.get("summary") if isinstance(run, dict) else None
        if not isinstance(summary, dict):
            continue
        if job.run is None or summary.get("run_id") == job.run:
            return run
    return None
