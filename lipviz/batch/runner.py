"""Run a batch: each job executes its chapter notebook through papermill, as a dask task.

Folder layout of ``lipviz batch run NAME --out DIR``::

    DIR/batch.yaml          the batch file, as run
    DIR/manifest.json       each job's state, rewritten atomically by the drivers
    DIR/.locks/             one lock per job, and one per live driver (filelock, OS-level)
    DIR/<job-id>/input.ipynb, notebook.ipynb, job.log, runs/...   (the chapter's run folders)
    DIR/<job-id>/job.json      the spec of the job's latest attempt, with its identity
    DIR/<job-id>/running.json  while it runs (host, pid, start)
    DIR/<job-id>/error.json    a failed job's error and traceback
    DIR/<job-id>/summary.json  the result record, written last, atomically, with a checksum
    DIR/<job-id>@<identity>/   a superseded job folder: the result (or attempt) of another spec

The file system is the truth (:func:`lipviz.batch.job_state`, whose docstring lists the
states). A job runs only while its process holds the job's lock, and it checks its state again
once it holds it, so two drivers on one folder never run a job twice: the second skips the jobs
the first holds and runs the others. A job is ``done`` only when its result record is readable,
its checksum matches and it names the job's identity, the sha256 of its resolved spec (notebook
bytes, preset, parameters). Rerunning the command therefore skips done jobs without touching
them, reruns failed, interrupted and corrupt ones (training resumes from the run folder's
checkpoint, because the chapter's run folder is named after its config) and runs the pending
ones.

When the batch file or a notebook changes, a job whose folder holds a result (or an attempt) of
another identity is *stale*: before it runs again its folder is renamed
``DIR/<job-id>@<first 12 hex digits of the old identity>`` (``@unknown`` for records that name
none, with ``-2``, ``-3``... if taken), so the old result keeps its own notebook, run folders and
summary, and no result is ever relabelled or lost. A corrupt ``summary.json`` of the same
identity is renamed ``summary.json.corrupt-<time>`` before the job reruns in place.

Drivers with the same batch file (the same bytes) cooperate; a driver whose batch file differs
from that of a live driver on the same folder is refused (:class:`lipviz.batch.BatchError`),
since the two would supersede each other's jobs. Locks are ``flock`` locks: the operating system
releases them when their process dies, so the folder must live on a file system that supports
them (local disks and NFSv4 do).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import re
import socket
import time
import traceback
from pathlib import Path

from ..experiments.runs import commit, device_name
from .jobs import (
    LOCKS,
    RESULT,
    atomic_write,
    file_lock,
    folder_state,
    held_elsewhere,
    job_identity,
    job_lock,
    job_spec,
    job_state,
    primary_run,
    read_json,
    write_record,
)
from .spec import BatchError, BatchSpec, Job, load_batch

__all__ = ["run_batch", "run_job"]

_LOCK_WAIT_S = 2.0
"""How long a job waits for its lock: enough to ride over a status probe, far less than a job."""

_TRIES = 4
"""How often a job is sent to dask when workers die before it starts (a dead worker fails the
tasks queued on it too). A job whose own run killed its worker is failed at once: the local
cluster allows no retries (``distributed.scheduler.allowed-failures: 0``)."""


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _write_json(path: Path, obj) -> None:
    atomic_write(path, json.dumps(obj, indent=2, default=str).encode())


def _notebook_input(job: Job, folder: Path, notebook: bytes) -> Path:
    """The chapter as an ``.ipynb`` in the job folder (MyST chapters through jupytext), from
    the very bytes the job's identity hashes."""
    import jupytext

    target = folder / "input.ipynb"
    if job.chapter.suffix == ".ipynb":
        atomic_write(target, notebook)
    else:
        nb = jupytext.reads(notebook.decode(), fmt=job.chapter.suffix.lstrip("."))
        atomic_write(target, jupytext.writes(nb, fmt="ipynb").encode())
    return target


def _runs_of(folder: Path) -> list[dict]:
    """The finished experiment run folders a chapter wrote below ``folder/runs`` and
    ``folder/cache`` (:func:`lipviz.experiments.cached_run`)."""
    out = []
    found = [p for sub in ("runs", "cache") for p in sorted((folder / sub).glob("**/summary.json"))]
    for path in found:
        summary = read_json(path)
        if summary is not None:
            out.append({"folder": str(path.parent.relative_to(folder)), "summary": summary})
    return out


@contextlib.contextmanager
def _environment(job: Job, threads: int | None):
    """The kernel's environment (inherited from this worker process), undone afterwards: a CPU
    job's ``CUDA_VISIBLE_DEVICES=""`` must not hide the GPU from the worker's next job."""
    saved = dict(os.environ)
    try:
        os.environ.setdefault("LIPVIZ_STATIC", "1")  # executed notebooks keep static figures
        if threads:
            for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
                os.environ[key] = str(threads)
        if job.device == "cpu":
            os.environ["CUDA_VISIBLE_DEVICES"] = ""
        else:
            import torch

            if not torch.cuda.is_available():
                msg = f"job {job.id!r} needs a GPU (device: cuda) and this worker has none"
                raise RuntimeError(msg)
            try:  # one GPU per worker: its index picks it (LocalCluster names workers 0..n-1)
                from distributed import get_worker

                name = get_worker().name
                if isinstance(name, int):
                    os.environ["CUDA_VISIBLE_DEVICES"] = str(name % torch.cuda.device_count())
            except ValueError:  # not inside a dask worker
                pass
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _folder_identity(folder: Path) -> str | None:
    """The identity of what a job folder holds: its result's, else its latest attempt's."""
    for name in (RESULT, "job.json", "running.json", "error.json"):
        info = read_json(folder / name)
        if info is not None and isinstance(info.get("identity"), str):
            return info["identity"]
    return None


def _set_aside(out: Path, job_id: str, old: str | None) -> Path:
    """Rename ``out/<job_id>`` to ``out/<job_id>@<old identity>`` (a free name); return it."""
    base = f"{job_id}@{old[:12] if old else 'unknown'}"
    target, n = out / base, 1
    while target.exists():
        n += 1
        target = out / f"{base}-{n}"
    (out / job_id).rename(target)
    return target


def _prepare(out: Path, job: Job, identity: str) -> str:
    """Make ``out/<job.id>`` ready for an attempt at ``identity`` (the caller holds the lock).

    Returns the folder's state before: ``done`` means there is nothing to run.
    """
    folder = out / job.id
    state, _, _ = folder_state(folder, identity)
    if state == "done" or not folder.exists():
        return state
    old = _folder_identity(folder)
    if (state == "stale" or old != identity) and any(folder.iterdir()):
        _set_aside(out, job.id, old)  # a result or attempt of another spec: kept, not reused
    elif state == "corrupt":
        stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S%f")
        (folder / RESULT).rename(folder / f"{RESULT}.corrupt-{stamp}")
    return state


def _record_failure(folder: Path, job: Job, identity, error: str, tb: str, **times) -> None:
    _write_json(
        folder / "error.json",
        {
            "job": job.id,
            "identity": identity,
            "error": error,
            "traceback": tb,
            "failed": _now(),
            **times,
        },
    )


def run_job(job: Job, out_dir, *, threads: int | None = None) -> str:
    """Execute one job into ``out_dir/<job.id>``, holding its lock (skipped when done).

    Parameters
    ----------
    job : Job
        The job.
    out_dir : str or Path
        The batch's output folder.
    threads : int, optional
        CPU threads of the notebook's kernel (``OMP_NUM_THREADS``).

    Returns
    -------
    str
        ``"done"``, ``"skipped"`` (done before), ``"busy"`` (another live process holds the
        job: it was not touched) or ``"failed"`` (see ``error.json``).
    """
    from filelock import Timeout

    out = Path(out_dir)
    lock = job_lock(out, job.id)
    try:
        lock.acquire(timeout=_LOCK_WAIT_S)
    except Timeout:
        return "busy"
    try:
        return _run_locked(job, out, threads)
    finally:
        lock.release()


def _run_locked(job: Job, out: Path, threads: int | None) -> str:
    folder = out / job.id
    started, start, identity = _now(), time.perf_counter(), None
    try:
        notebook = job.chapter.read_bytes()
        identity = job_identity(job, notebook)
        if _prepare(out, job, identity) == "done":
            return "skipped"
        folder.mkdir(parents=True, exist_ok=True)
        spec = job_spec(job, hashlib.sha256(notebook).hexdigest())
        _write_json(
            folder / "job.json",
            {"job": job.id, "identity": identity, "spec": spec, "started": started},
        )
        (folder / "error.json").unlink(missing_ok=True)
        _write_json(
            folder / "running.json",
            {
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "started": started,
                "identity": identity,
            },
        )
    except Exception as err:  # noqa: BLE001  (recorded, then the other jobs go on)
        folder.mkdir(parents=True, exist_ok=True)
        _record_failure(
            folder,
            job,
            identity,
            f"{type(err).__name__}: {err}",
            traceback.format_exc(),
            started=started,
        )
        return "failed"
    code = commit()
    try:
        import papermill as pm

        with _environment(job, threads):
            source = _notebook_input(job, folder, notebook)
            params = {"preset": job.preset, **job.parameters}
            extra = {"execution_timeout": job.timeout_s} if job.timeout_s else {}
            with open(folder / "job.log", "a") as log:
                log.write(f"--- {started} {job.id}: {job.chapter.name} {params}\n")
                log.flush()
                pm.execute_notebook(
                    str(source),
                    str(folder / "notebook.ipynb"),
                    parameters=params,
                    kernel_name="python3",
                    cwd=str(folder),
                    progress_bar=False,
                    log_output=False,
                    stdout_file=log,
                    stderr_file=log,
                    **extra,
                )
        runs = _runs_of(folder)
        primary = primary_run(job, runs)
        device = "cuda" if job.device == "cuda" else "cpu"
        summary = {
            "job": job.id,
            "identity": identity,
            "spec": spec,
            "chapter": job.chapter.name,
            "preset": job.preset,
            "parameters": job.parameters,
            "state": "done",
            "started": started,
            "finished": _now(),
            "wall_time_s": time.perf_counter() - start,
            "device": device_name(device),
            "host": socket.gethostname(),
            "commit": code,
            "world_size": 1,
            "runs": runs,
            "result": None if primary is None else primary["folder"],
        }
        write_record(folder / RESULT, summary)  # last: the job is done
        return "done"
    except BaseException as err:  # noqa: BLE001  (recorded, then the other jobs go on)
        _record_failure(
            folder,
            job,
            identity,
            f"{type(err).__name__}: {err}",
            traceback.format_exc(),
            started=started,
            wall_time_s=time.perf_counter() - start,
        )
        if isinstance(err, KeyboardInterrupt):
            raise
        return "failed"
    finally:
        (folder / "running.json").unlink(missing_ok=True)


def _driver_failure(out: Path, job: Job, error: str) -> None:
    """Record a failure the driver saw (a dead worker, no GPU) unless the job is held or done."""
    from filelock import Timeout

    lock = job_lock(out, job.id)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return
    try:
        identity = job_identity(job)
        if _prepare(out, job, identity) == "done":
            return
        folder = out / job.id
        folder.mkdir(parents=True, exist_ok=True)
        _record_failure(folder, job, identity, error, "")
        (folder / "running.json").unlink(missing_ok=True)
    finally:
        lock.release()


def _attempt_mark(out: Path, job_id: str):
    """What tells one attempt of a job from the next: its ``job.json`` (rewritten by each)."""
    try:
        stat = (out / job_id / "job.json").stat()
    except OSError:
        return None
    return stat.st_ino, stat.st_mtime_ns


def _manifest(spec: BatchSpec, out: Path) -> dict:
    return {
        "batch": spec.name,
        "source": str(spec.source),
        "updated": _now(),
        "jobs": {job.id: job_state(out, job) for job in spec.jobs},
    }


def _client(workers: int, scheduler: str | None, gpus: int):
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            return Client(scheduler), None
        except OSError as err:
            msg = f"cannot reach the dask scheduler at {scheduler}: {err}"
            raise BatchError(msg) from None
    resources = {"GPU": 1} if gpus else None
    # no dashboard, and the scheduler's HTTP server (metrics) on a free port: a second driver
    # on this machine would otherwise find 8787 taken and warn
    import dask

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            scheduler_kwargs={"dashboard_address": ":0"},
            resources=resources,
        )
    return Client(cluster), cluster


def _check_scheduler(scheduler: str) -> None:
    from distributed.comm import parse_address
    from distributed.comm.addressing import parse_host_port

    try:
        _, location = parse_address(scheduler)
        parse_host_port(location)
    except (ValueError, TypeError) as err:
        msg = f"--scheduler {scheduler!r} is not a dask scheduler address (tcp://HOST:PORT): {err}"
        raise BatchError(msg) from None


@contextlib.contextmanager
def _driver(out: Path, spec: BatchSpec, text: bytes):
    """Register this driver on ``out`` and write ``out/batch.yaml``; refuse when a live driver
    runs a different batch file there. Each driver holds ``.locks/driver-*.lock`` while it runs;
    the registry is read and written under ``.locks/drivers.lock``."""
    from filelock import Timeout

    locks = out / LOCKS
    locks.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(text).hexdigest()
    host = re.sub(r"[^A-Za-z0-9_.-]", "_", socket.gethostname())
    me = locks / f"driver-{host}-{os.getpid()}-{time.time_ns()}"
    mine = file_lock(me.with_suffix(".lock"))
    mine.acquire(timeout=0)
    try:
        registry = file_lock(locks / "drivers.lock")
        try:
            registry.acquire(timeout=60)
        except Timeout:
            msg = f"{out}: another lipviz batch run has held {registry.lock_file} for a minute"
            raise BatchError(msg) from None
        try:
            for other in sorted(locks.glob("driver-*.lock")):
                info = other.with_suffix(".json")
                if other == me.with_suffix(".lock"):
                    continue
                if not held_elsewhere(other):  # its driver is gone
                    info.unlink(missing_ok=True)
                    other.unlink(missing_ok=True)
                    continue
                theirs = read_json(info)
                if theirs is not None and theirs.get("batch_sha256") != digest:
                    msg = (
                        f"{out}: another lipviz batch run (pid {theirs.get('pid')} on "
                        f"{theirs.get('host')}, since {theirs.get('started')}) is running "
                        f"a different batch file ({theirs.get('source')}) there; wait for it "
                        "to finish or pick another --out"
                    )
                    raise BatchError(msg)
            _write_json(
                me.with_suffix(".json"),
                {
                    "pid": os.getpid(),
                    "host": host,
                    "started": _now(),
                    "source": str(spec.source),
                    "batch_sha256": digest,
                },
            )
            atomic_write(out / "batch.yaml", text)
        finally:
            registry.release()
        yield
    finally:
        me.with_suffix(".json").unlink(missing_ok=True)
        mine.release()
        me.with_suffix(".lock").unlink(missing_ok=True)


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        msg = f"--out {out}: exists and is not a folder"
        raise BatchError(msg)
    if out.is_dir() and not (out / "batch.yaml").exists():
        stray = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
        if stray:
            msg = (
                f"--out {out}: holds {stray[0]!r} and no batch.yaml; give a new or empty "
                "folder, or a batch folder to continue"
            )
            raise BatchError(msg)


def run_batch(
    batch,
    out_dir,
    *,
    workers: int = 2,
    scheduler: str | None = None,
    only=None,
    progress: bool = True,
):
    """Run a batch's unfinished jobs in parallel on dask and return their states.

    The embedded default is a dask ``LocalCluster`` of ``workers`` processes on this machine;
    ``scheduler="tcp://HOST:8786"`` submits to an existing dask cluster instead (for SLURM or
    PBS, start one with dask-jobqueue). A ``device: cuda`` job takes one GPU: the dask worker
    resource ``GPU``. Jobs another live driver holds are left to it; a job that fails, or
    whose worker dies, is recorded as failed while the others go on.

    Parameters
    ----------
    batch : str, Path or BatchSpec
        A shipped batch name, a batch file or a loaded spec.
    out_dir : str or Path
        The output folder (created); a batch already there continues where it stopped.
    workers : int, default 2
        Worker processes of the local cluster (each runs one notebook at a time, with
        ``cores // workers`` CPU threads).
    scheduler : str, optional
        Address of an existing dask scheduler.
    only : iterable of str, optional
        Run only these job ids.
    progress : bool, default True
        A tqdm bar over jobs.

    Returns
    -------
    pandas.DataFrame
        One row per job: ``job`` and ``state`` (:func:`lipviz.batch.batch_status`).

    Raises
    ------
    BatchError
        For a bad argument (checked before anything is written), or when a live driver runs a
        different batch file in ``out_dir``.
    KeyError
        For an id in ``only`` that is not a job of the batch.
    """
    from .report import batch_status

    spec = batch if isinstance(batch, BatchSpec) else load_batch(batch)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        msg = f"--workers must be at least 1, got {workers!r}"
        raise BatchError(msg)
    if scheduler is not None:
        _check_scheduler(scheduler)
    only = None if only is None else list(only)
    if only is not None:
        missing = sorted(set(only) - {j.id for j in spec.jobs})
        if missing:
            msg = (
                f"{spec.source}: no job {missing[0]!r} (jobs: {', '.join(j.id for j in spec.jobs)})"
            )
            raise KeyError(msg)
    selected = [j for j in spec.jobs if only is None or j.id in set(only)]
    out = Path(out_dir)
    _check_out(out)
    try:
        text = spec.source.read_bytes()
    except OSError as err:
        msg = f"{spec.source}: cannot read the batch file ({err.strerror or err})"
        raise BatchError(msg) from None
    client = None if scheduler is None else _client(workers, scheduler, 0)[0]  # reachable?
    try:
        out.mkdir(parents=True, exist_ok=True)
        with _driver(out, spec, text):
            todo = [j for j in selected if job_state(out, j) not in ("done", "running")]
            _write_json(out / "manifest.json", _manifest(spec, out))
            if todo:
                _run_todo(spec, out, todo, workers, client, progress)
    finally:
        if client is not None:
            client.close()
    return batch_status(out)


def _run_todo(spec, out: Path, todo: list, workers: int, client, progress: bool) -> None:
    """Submit ``todo`` to dask (``client``, or a new local cluster when None) and record each
    outcome; the caller holds the driver's place."""
    import torch
    from distributed import as_completed
    from tqdm.auto import tqdm

    gpus = torch.cuda.device_count()
    environ = dict(os.environ)  # a LocalCluster sets OMP_NUM_THREADS=1 and more in this process
    external, cluster = client is not None, None
    if client is None:
        client, cluster = _client(workers, None, gpus)
    try:
        offered = {
            k
            for w in client.scheduler_info()["workers"].values()
            for k, v in (w.get("resources") or {}).items()
            if v
        }
        threads = None if external else max(1, (os.cpu_count() or 1) // max(workers, 1))
        futures, marks = {}, {}

        def submit(job: Job):
            resources = {"GPU": 1} if job.device == "cuda" else None
            marks.setdefault(job.id, []).append(_attempt_mark(out, job.id))
            future = client.submit(
                run_job,
                job,
                str(out.resolve()),
                threads=threads,
                resources=resources,
                pure=False,
                priority=job.priority,
                key=f"lipviz-{job.id}-{time.time_ns()}",
            )
            futures[future] = job
            return future

        # highest priority first: a free worker starts the first task it is sent, so dask's
        # priorities alone only order the tasks that wait
        for job in sorted(todo, key=lambda j: -j.priority):
            if job.device == "cuda" and "GPU" not in offered:
                reason = "RuntimeError: needs a GPU (device: cuda); no dask worker offers one"
                _driver_failure(out, job, reason)
                continue
            submit(job)
        _write_json(out / "manifest.json", _manifest(spec, out))
        bar = tqdm(total=len(futures), desc=f"batch {spec.name}", unit="job", disable=not progress)
        done = as_completed(list(futures))
        for future in done:
            job = futures.pop(future)
            try:
                future.result()
            except Exception as err:  # noqa: BLE001  (a dead worker: the other jobs go on)
                # dask fails every task a dying worker held, queued ones too: a job that did
                # not start (no new attempt in its folder) is sent again; the one that ran failed
                started = _attempt_mark(out, job.id) != marks[job.id][-1]
                if not started and len(marks[job.id]) < _TRIES:
                    done.add(submit(job))
                    continue
                _driver_failure(out, job, f"{type(err).__name__}: {err}")
            _write_json(out / "manifest.json", _manifest(spec, out))
            bar.update()
        bar.close()
    finally:
        if cluster is not None:
            client.close()
            cluster.close()
        os.environ.clear()  # later subprocesses (kernels, builds) get the caller's threads
        os.environ.update(environ)
