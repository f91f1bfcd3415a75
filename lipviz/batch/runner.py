"""Run a batch: each job executes its chapter notebook through papermill, as a dask task.

Folder layout of ``lipviz batch run NAME --out DIR``::

    DIR/batch.yaml          the batch file, as run
    DIR/manifest.json       each job's state, rewritten atomically by the driver
    DIR/<job-id>/input.ipynb, notebook.ipynb, job.log, runs/...   (the chapter's run folders)
    DIR/<job-id>/running.json  while it runs (host, pid, start)
    DIR/<job-id>/error.json    a failed job's error and traceback
    DIR/<job-id>/summary.json  written last: a folder holding it is a finished job

The file system is the truth (:func:`job_state`): rerunning the command skips finished jobs
without touching them, reruns failed and interrupted ones (training resumes from the run
folder's checkpoint, because the chapter's run folder is named after its config) and runs the
pending ones.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import socket
import time
import traceback
from pathlib import Path

from ..experiments.runs import commit, device_name, write_json
from .spec import BatchSpec, Job, load_batch

__all__ = ["job_state", "run_batch", "run_job"]

STATES = ("done", "running", "failed", "interrupted", "pending")


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _alive(pid: int) -> bool:
    """Whether process ``pid`` of this host still runs (a zombie does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def job_state(out_dir, job_id: str) -> str:
    """A job's state, read from its folder.

    ``done`` (``summary.json``), ``running`` (``running.json`` of a live process, or of another
    host), ``interrupted`` (``running.json`` of a process that is gone), ``failed``
    (``error.json``) or ``pending``.

    Parameters
    ----------
    out_dir : str or Path
        The batch's output folder.
    job_id : str
        The job's id.

    Returns
    -------
    str
        One of :data:`STATES`.

    Examples
    --------
    >>> job_state("no/such/batch", "job")
    'pending'
    """
    folder = Path(out_dir) / job_id
    if (folder / "summary.json").exists():
        return "done"
    running = folder / "running.json"
    if running.exists():
        try:
            info = json.loads(running.read_text())
        except (OSError, ValueError):
            return "interrupted"
        if info.get("host") != socket.gethostname() or _alive(int(info.get("pid", -1))):
            return "running"
        return "interrupted"
    if (folder / "error.json").exists():
        return "failed"
    return "pending"


def _notebook_input(job: Job, folder: Path) -> Path:
    """The chapter as an ``.ipynb`` in the job folder (MyST chapters through jupytext)."""
    import jupytext

    target = folder / "input.ipynb"
    tmp = folder / f".input.{os.getpid()}.tmp"
    if job.chapter.suffix == ".ipynb":
        shutil.copyfile(job.chapter, tmp)
    else:
        tmp.write_text(jupytext.writes(jupytext.read(job.chapter), fmt="ipynb"))
    tmp.replace(target)
    return target


def _runs_of(folder: Path) -> list[dict]:
    """The finished experiment run folders a chapter wrote below ``folder/runs``."""
    out = []
    for path in sorted((folder / "runs").glob("**/summary.json")):
        try:
            summary = json.loads(path.read_text())
        except ValueError:
            continue
        out.append({"folder": str(path.parent.relative_to(folder)), "summary": summary})
    return out


def _primary(job: Job, runs: list[dict]) -> dict | None:
    """The run the job is judged by: the first whose method contains ``job.method``."""
    for run in runs:
        if job.method is None or job.method in str(run["summary"].get("method", "")):
            return run
    return None


def _environment(job: Job, threads: int | None) -> None:
    """Set the kernel's environment (inherited from this worker process)."""
    os.environ.setdefault("LIPVIZ_STATIC", "1")  # executed notebooks keep static figures
    if threads:
        for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[key] = str(threads)
    if job.device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
        return
    import torch

    if not torch.cuda.is_available():
        msg = f"job {job.id!r} needs a GPU (device: cuda) and this worker has none"
        raise RuntimeError(msg)
    try:  # one GPU per worker: the worker's index picks it (LocalCluster names workers 0..n-1)
        from distributed import get_worker

        name = get_worker().name
        if isinstance(name, int):
            os.environ["CUDA_VISIBLE_DEVICES"] = str(name % torch.cuda.device_count())
    except ValueError:  # not inside a dask worker
        pass


def run_job(job: Job, out_dir, *, threads: int | None = None) -> str:
    """Execute one job into ``out_dir/<job.id>`` (skipped when already finished).

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
        ``"done"``, ``"skipped"`` (finished before) or ``"failed"`` (see ``error.json``).
    """
    folder = Path(out_dir) / job.id
    if (folder / "summary.json").exists():
        return "skipped"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "error.json").unlink(missing_ok=True)
    started, start, code = _now(), time.perf_counter(), commit()
    write_json(folder / "running.json",
               {"host": socket.gethostname(), "pid": os.getpid(), "started": started})  # fmt: skip
    try:
        import papermill as pm

        _environment(job, threads)
        source = _notebook_input(job, folder)
        params = {"preset": job.preset, **job.parameters}
        extra = {"execution_timeout": job.timeout_s} if job.timeout_s else {}
        with open(folder / "job.log", "a") as log:
            log.write(f"--- {started} {job.id}: {job.chapter.name} {params}\n")
            log.flush()
            pm.execute_notebook(str(source), str(folder / "notebook.ipynb"), parameters=params,
                                kernel_name="python3", cwd=str(folder), progress_bar=False,
                                log_output=False, stdout_file=log, stderr_file=log,
                                **extra)  # fmt: skip
        runs = _runs_of(folder)
        primary = _primary(job, runs)
        device = "cuda" if job.device == "cuda" else "cpu"
        summary = {
            "job": job.id, "chapter": job.chapter.name, "preset": job.preset,
            "parameters": job.parameters, "state": "done", "started": started,
            "finished": _now(), "wall_time_s": time.perf_counter() - start,
            "device": device_name(device), "host": socket.gethostname(), "commit": code,
            "world_size": 1, "runs": runs,
            "result": None if primary is None else primary["folder"],
        }  # fmt: skip
        write_json(folder / "summary.json", summary)  # last: the job is finished
        return "done"
    except BaseException as err:  # noqa: BLE001  (recorded, then the other jobs go on)
        write_json(folder / "error.json", {
            "job": job.id, "error": f"{type(err).__name__}: {err}",
            "traceback": traceback.format_exc(), "started": started, "failed": _now(),
            "wall_time_s": time.perf_counter() - start,
        })  # fmt: skip
        if isinstance(err, KeyboardInterrupt):
            raise
        return "failed"
    finally:
        (folder / "running.json").unlink(missing_ok=True)


def _manifest(spec: BatchSpec, out: Path) -> dict:
    return {
        "batch": spec.name, "source": str(spec.source), "updated": _now(),
        "jobs": {job.id: job_state(out, job.id) for job in spec.jobs},
    }  # fmt: skip


def _client(workers: int, scheduler: str | None, gpus: int):
    from distributed import Client, LocalCluster

    if scheduler:
        return Client(scheduler), None
    resources = {"GPU": 1} if gpus else None
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           dashboard_address=None, resources=resources)  # fmt: skip
    return Client(cluster), cluster


def run_batch(batch, out_dir, *, workers: int = 2, scheduler: str | None = None,
              only=None, progress: bool = True):  # fmt: skip
    """Run a batch's unfinished jobs in parallel on dask and return their states.

    The embedded default is a dask ``LocalCluster`` of ``workers`` processes on this machine;
    ``scheduler="tcp://HOST:8786"`` submits to an existing dask cluster instead (for SLURM or
    PBS, start one with dask-jobqueue). A ``device: cuda`` job takes one GPU: the dask worker
    resource ``GPU``.

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
    """
    from distributed import as_completed
    from tqdm.auto import tqdm

    from .report import batch_status

    spec = batch if isinstance(batch, BatchSpec) else load_batch(batch)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f".batch.yaml.{os.getpid()}.tmp"
    shutil.copyfile(spec.source, tmp)
    tmp.replace(out / "batch.yaml")
    selected = [j for j in spec.jobs if only is None or j.id in set(only)]
    if only is not None and len(selected) != len(set(only)):
        missing = sorted(set(only) - {j.id for j in spec.jobs})
        msg = f"{spec.source}: no job {missing[0]!r} (jobs: {', '.join(j.id for j in spec.jobs)})"
        raise KeyError(msg)
    todo = [j for j in selected if job_state(out, j.id) != "done"]
    write_json(out / "manifest.json", _manifest(spec, out))
    if not todo:
        return batch_status(out)
    import torch

    gpus = torch.cuda.device_count()
    environ = dict(os.environ)  # a LocalCluster sets OMP_NUM_THREADS=1 and more in this process
    client, cluster = _client(workers, scheduler, gpus)
    try:
        offered = {k for w in client.scheduler_info()["workers"].values()
                   for k, v in (w.get("resources") or {}).items() if v}  # fmt: skip
        threads = max(1, (os.cpu_count() or 1) // max(workers, 1)) if not scheduler else None
        futures = []
        # highest priority first: a free worker starts the first task it is sent, so dask's
        # priorities alone only order the tasks that wait
        for job in sorted(todo, key=lambda j: -j.priority):
            if job.device == "cuda" and "GPU" not in offered:
                reason = "RuntimeError: needs a GPU (device: cuda); no dask worker offers one"
                err = {"job": job.id, "error": reason, "traceback": "", "failed": _now()}
                write_json(out / job.id / "error.json", err)
                continue
            resources = {"GPU": 1} if job.device == "cuda" else None
            futures.append(client.submit(run_job, job, str(out.resolve()), threads=threads,
                                         resources=resources, pure=False,
                                         priority=job.priority,
                                         key=f"lipviz-{job.id}-{time.time_ns()}"))  # fmt: skip
        write_json(out / "manifest.json", _manifest(spec, out))
        bar = tqdm(total=len(futures), desc=f"batch {spec.name}", unit="job", disable=not progress)
        for future in as_completed(futures):
            future.result()
            write_json(out / "manifest.json", _manifest(spec, out))
            bar.update()
        bar.close()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
        os.environ.clear()  # later subprocesses (kernels, builds) get the caller's threads
        os.environ.update(environ)
    return batch_status(out)
