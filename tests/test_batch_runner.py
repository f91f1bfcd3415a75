"""Batches on a real dask LocalCluster with papermill: a failing job is recorded while the other
finishes, reruns skip finished jobs untouched, a SIGKILL mid-run loses nothing, two drivers on
one folder never run a job twice, a corrupt result is not done, an edited batch file reruns what
changed without relabelling the old result, and the report sets results against the expected
numbers."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest
from conftest import ROOT

from lipviz.batch import (
    BatchError,
    batch_report,
    batch_status,
    job_state,
    load_batch,
    run_batch,
    run_job,
)

FIXTURES = ROOT / "tests" / "fixtures" / "batch"

# A job that imports nothing heavy: it logs each execution (pid) to ``log``, waits for the file
# ``wait_for`` (or for a second execution to show up in the log), then writes a run folder.
COUNTER = """---
jupytext:
  text_representation: {extension: .md, format_name: myst}
kernelspec: {display_name: Python 3, language: python, name: python3}
---

```{code-cell} ipython3
:tags: [parameters]
preset = "smoke"
accuracy = 0.5
log = ""
wait_for = ""
```

```{code-cell} ipython3
import json, os, pathlib, time

if log:
    with open(log, "a") as fh:
        fh.write(f"{os.getpid()}\\n")
deadline = time.monotonic() + 60
while wait_for and not os.path.exists(wait_for) and time.monotonic() < deadline:
    if log and len(pathlib.Path(log).read_text().split()) > 1:
        break  # a second execution started: no need to wait
    time.sleep(0.1)
pathlib.Path("runs/quick").mkdir(parents=True, exist_ok=True)
pathlib.Path("runs/quick/summary.json").write_text(json.dumps({
    "dataset": "toy", "method": f"quick ({preset})", "model": "none", "clean_accuracy": 1.0,
    "certified_accuracy": {"0.0": 1.0, "1.0": accuracy}}))
```
"""


def _batch(tmp_path, jobs: str, name: str = "tiny.yaml"):
    path = tmp_path / name
    path.write_text(f"name: tiny\njobs:\n{jobs}")
    return path


def _counter(tmp_path):
    path = tmp_path / "counter.md"
    path.write_text(COUNTER)
    return path


def _runs(log) -> int:
    return len(log.read_text().split()) if log.exists() else 0


def test_two_jobs_one_fails_the_other_finishes_and_reruns_skip_it(tmp_path):
    path = _batch(
        tmp_path,
        (
            f"  - {{id: good, chapter: {FIXTURES / 'quick.md'}, parameters: {{accuracy: 0.42}},\n"
            "     expected: {metric: certified_accuracy, eps: 1.0, value: 0.4, tolerance: 0.05,"
            " source: a test}}\n"
            f"  - {{id: bad, chapter: {FIXTURES / 'fails.md'}}}\n"
        ),
    )
    out = tmp_path / "out"
    environ = dict(os.environ)
    status = run_batch(path, out, workers=2, progress=False)
    assert dict(os.environ) == environ  # dask's LocalCluster sets OMP_NUM_THREADS=1: undone
    assert dict(zip(status.job, status.state, strict=True)) == {"good": "done", "bad": "failed"}
    error = json.loads((out / "bad" / "error.json").read_text())
    assert "this job fails on purpose" in error["error"] + error["traceback"]
    summary = json.loads((out / "good" / "summary.json").read_text())
    assert summary["result"] == "runs/quick" and summary["runs"][0]["summary"]["method"] == (
        "quick (smoke)"
    )  # the parameters were injected
    assert (out / "good" / "notebook.ipynb").exists() and not (
        out / "good" / "running.json"
    ).exists()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["jobs"] == {"good": "done", "bad": "failed"}

    report = batch_report(out).set_index("job")
    assert report.loc["good", "certified"] == 0.42 and report.loc["good", "verdict"] == "reproduced"
    assert (
        report.loc["bad", "verdict"] == "no paper value" and report.loc["bad", "state"] == "failed"
    )
    for name in ("report.csv", "report.md", "report.png"):
        assert (out / name).stat().st_size > 0

    before = {p: p.stat().st_mtime_ns for p in (out / "good").rglob("*")}
    again = run_batch(path, out, workers=1, progress=False)  # retries only the failed job
    assert {p: p.stat().st_mtime_ns for p in (out / "good").rglob("*")} == before
    assert list(again.state) == ["done", "failed"]


def test_one_worker_runs_the_highest_priority_first(tmp_path):
    quick = FIXTURES / "quick.md"
    path = _batch(
        tmp_path,
        "".join(
            f"  - {{id: {name}, chapter: {quick}, priority: {priority}}}\n"
            for name, priority in (("low", 0), ("high", 5), ("middle", 1))
        ),
    )
    out = tmp_path / "out"
    run_batch(path, out, workers=1, progress=False)
    finished = sorted(
        ("low", "high", "middle"), key=lambda j: (out / j / "summary.json").stat().st_mtime_ns
    )
    assert finished == ["high", "middle", "low"]


def test_sigkill_mid_batch_then_rerun_finishes_without_touching_finished_jobs(tmp_path):
    path = _batch(
        tmp_path,
        (
            f"  - {{id: first, chapter: {FIXTURES / 'quick.md'}}}\n"
            f"  - {{id: slow, chapter: {FIXTURES / 'quick.md'}, parameters: {{sleep: 60.0}}}}\n"
        ),
    )
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "lipviz",
        "batch",
        "run",
        str(path),
        "--out",
        str(out),
        "--workers",
        "2",
        "--no-progress",
    ]
    proc = subprocess.Popen(
        cmd,
        cwd=tmp_path,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if job_state(out, "first") == "done" and (out / "slow" / "notebook.ipynb").exists():
            break
        time.sleep(0.5)
    else:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail("the batch did not start both jobs within 120 s")
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver, the workers and the kernels at once
    proc.wait()
    deadline = time.monotonic() + 20
    while job_state(out, "slow") == "running" and time.monotonic() < deadline:
        time.sleep(0.2)  # the worker's exit may take a moment to show
    assert job_state(out, "slow") == "interrupted"
    assert json.loads((out / "manifest.json").read_text())["batch"] == "tiny"  # still whole
    first = {p: p.stat().st_mtime_ns for p in (out / "first").rglob("*")}

    spec = load_batch(out / "batch.yaml")
    fast = spec.jobs[1].parameters | {"sleep": 0.0}
    (out / "batch.yaml").write_text(path.read_text().replace("sleep: 60.0", "sleep: 0.0"))
    assert fast == {"sleep": 0.0}
    status = run_batch(out / "batch.yaml", out, workers=1, progress=False)
    assert list(status.state) == ["done", "done"]
    assert {p: p.stat().st_mtime_ns for p in (out / "first").rglob("*")} == first


def test_status_of_a_folder_that_is_not_a_batch(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a batch folder"):
        batch_status(tmp_path)


def test_a_gpu_job_without_a_gpu_is_reported_not_run(tmp_path):
    pytest.importorskip("torch")
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    path = _batch(
        tmp_path,
        (
            f"  - {{id: needs-gpu, chapter: {FIXTURES / 'quick.md'}, device: cuda,\n"
            "     expected: {metric: clean_accuracy, value: 0.9, source: a test}}\n"
        ),
    )
    status = run_batch(path, tmp_path / "out", workers=1, progress=False)
    assert list(status.state) == ["failed"] and "needs a GPU" in status.error[0]
    assert batch_report(tmp_path / "out", figure=False).verdict[0] == "not run"


def test_a_second_driver_skips_the_job_a_live_driver_holds_and_runs_the_others(tmp_path):
    counter, log, go = _counter(tmp_path), tmp_path / "slow.log", tmp_path / "go"
    jobs = (
        f"  - {{id: slow, chapter: {counter}, parameters: {{log: '{log}', wait_for: '{go}'}}}}\n"
        f"  - {{id: other, chapter: {counter}}}\n"
    )
    path = _batch(tmp_path, jobs)
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "lipviz",
        "batch",
        "run",
        str(path),
        "--out",
        str(out),
        "--workers",
        "1",
        "--jobs",
        "slow",
        "--no-progress",
    ]
    err = tmp_path / "first.err"
    with open(err, "w") as fh:
        first = subprocess.Popen(cmd, cwd=tmp_path, start_new_session=True, stdout=fh, stderr=fh)
    try:
        deadline = time.monotonic() + 120
        while _runs(log) < 1 and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _runs(log) == 1, "the first driver did not start its job"
        assert job_state(out, "slow") == "running"
        status = run_batch(path, out, workers=1, progress=False)  # the same file: cooperates
        assert dict(zip(status.job, status.state, strict=True)) == {
            "slow": "running",
            "other": "done",
        }
        edited = _batch(
            tmp_path,
            jobs.replace("{id: other, chapter", "{id: other2, chapter"),
            name="edited.yaml",
        )
        with pytest.raises(BatchError, match="different batch file"):
            run_batch(edited, out, workers=1, progress=False)  # would supersede its jobs
        go.touch()
        assert first.wait(timeout=120) == 0, err.read_text()[-2000:]
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait()
    assert _runs(log) == 1  # the held job ran once, in the first driver only
    assert job_state(out, "slow") == "done"
    assert (out / "slow" / "job.log").read_text().count("--- ") == 1
    assert list(batch_status(out).state) == ["done", "done"]


def _corrupt_variants(text: str):
    yield text[: len(text) // 2]  # truncated: not JSON
    yield text.replace('": 0.5', '": 0.9')  # valid JSON, one number changed
    yield "[]"


def test_a_corrupt_result_is_not_done_is_named_and_reruns(tmp_path):
    counter, log = _counter(tmp_path), tmp_path / "a.log"
    path = _batch(
        tmp_path,
        (
            f"  - {{id: a, chapter: {counter}, parameters: {{log: '{log}'}},\n"
            "     expected: {metric: certified_accuracy, eps: 1.0, value: 0.5, source: a test}}\n"
        ),
    )
    out = tmp_path / "out"
    out.mkdir()
    shutil.copy(path, out / "batch.yaml")
    job = load_batch(path).jobs[0]
    environ = dict(os.environ)
    assert run_job(job, out) == "done" and _runs(log) == 1
    summary = out / "a" / "summary.json"
    named = re.escape(str(summary))
    for n, damaged in enumerate(_corrupt_variants(summary.read_text()), start=2):
        assert damaged != summary.read_text()
        summary.write_text(damaged)
        with pytest.warns(RuntimeWarning, match=named):
            assert job_state(out, "a") == "corrupt"
        with pytest.warns(RuntimeWarning, match=named):
            row = batch_report(out, figure=False).iloc[0]
        assert (row.state, row.verdict, row.certified) == ("corrupt", "not run", None)
        with pytest.warns(RuntimeWarning, match=named):
            assert run_job(job, out) == "done"  # rerun, not skipped
        assert _runs(log) == n and job_state(out, "a") == "done"
    assert batch_report(out, figure=False).verdict[0] == "reproduced"
    kept = sorted((out / "a").glob("summary.json.corrupt-*"))
    assert [p.read_text()[:2] for p in kept][-1] == "[]"  # the damaged records are kept aside
    assert len(kept) == 3
    assert dict(os.environ) == environ  # the jobs' CUDA_VISIBLE_DEVICES="" did not leak


def test_an_edited_batch_file_reruns_what_changed_and_never_relabels_a_result(tmp_path):
    counter, log = _counter(tmp_path), tmp_path / "runs.log"

    def batch_file(preset: str) -> str:
        return (
            f"name: t\njobs:\n  - {{id: a, chapter: {counter}, preset: {preset},\n"
            f"     parameters: {{accuracy: 0.42, log: '{log}'}},\n"
            "     expected: {metric: certified_accuracy, eps: 1.0, value: 0.4, tolerance: 0.05,"
            " source: a test}}\n"
            f"  - {{id: b, chapter: {counter}, parameters: {{log: '{log}'}}}}\n"
        )

    out = tmp_path / "out"
    out.mkdir()
    (out / "batch.yaml").write_text(batch_file("smoke"))
    for job in load_batch(out / "batch.yaml").jobs:
        assert run_job(job, out) == "done"
    row = batch_report(out, figure=False).set_index("job").loc["a"]
    assert (row.state, row.preset, row.verdict) == ("done", "smoke", "reproduced")

    (out / "batch.yaml").write_text(batch_file("full"))  # job a changes, job b does not
    report = batch_report(out, figure=False).set_index("job")
    a = report.loc["a"]
    assert (a.state, a.preset, a.verdict, a.ours) == ("stale", "smoke", "not run", None)
    assert a.method == "quick (smoke)" and json.loads(a.parameters)["accuracy"] == 0.42
    assert report.loc["b", "state"] == "done"
    assert job_state(out, "a") == "stale"

    old = json.loads((out / "a" / "summary.json").read_text())
    new = load_batch(out / "batch.yaml")
    assert run_job(new.job("b"), out) == "skipped"
    assert run_job(new.job("a"), out) == "done"
    assert _runs(log) == 3
    row = batch_report(out, figure=False).set_index("job").loc["a"]
    assert (row.state, row.preset, row.method, row.verdict) == (
        "done",
        "full",
        "quick (full)",
        "reproduced",
    )
    kept = out / f"a@{old['identity'][:12]}"  # the old result, whole, under its own identity
    assert json.loads((kept / "summary.json").read_text()) == old
    assert (kept / "notebook.ipynb").exists() and (kept / "runs" / "quick").is_dir()
    assert (
        old["preset"] == "smoke"
        and old["identity"] != json.loads((out / "a" / "summary.json").read_text())["identity"]
    )


def test_a_job_that_kills_its_worker_fails_alone(tmp_path):
    crash = tmp_path / "crash.md"
    crash.write_text(
        COUNTER.replace(
            "import json, os, pathlib, time",
            "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)",
        )
    )
    path = _batch(
        tmp_path,
        (
            f"  - {{id: crash, chapter: {crash}, priority: 1}}\n"
            f"  - {{id: after, chapter: {_counter(tmp_path)}}}\n"
        ),
    )
    status = run_batch(path, tmp_path / "out", workers=1, progress=False)  # one worker: both
    assert dict(zip(status.job, status.state, strict=True)) == {"crash": "failed", "after": "done"}
    assert "KilledWorker" in status.set_index("job").loc["crash", "error"]


def _wait_for(predicate, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_a_batch_runs_on_a_real_dask_scheduler_and_worker_started_as_processes(tmp_path):
    """``--scheduler ADDRESS``: the jobs run on a ``dask worker`` process of a ``dask scheduler``
    process, as on a real cluster (not an in-process LocalCluster)."""
    from distributed import Client

    dask = shutil.which("dask", path=os.path.dirname(sys.executable)) or "dask"
    info = tmp_path / "scheduler.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    scheduler = subprocess.Popen(
        [dask, "scheduler", "--scheduler-file", str(info), "--port", "0", "--no-dashboard"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    worker = None
    try:
        _wait_for(info.exists, "the scheduler file")
        _wait_for(lambda: "address" in info.read_text(), "the scheduler's address")
        address = json.loads(info.read_text())["address"]
        worker = subprocess.Popen(
            [dask, "worker", address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        with Client(address, timeout=30) as client:
            client.wait_for_workers(1, timeout=60)
            worker_pids = set(client.run(os.getpid).values())
        path = _batch(tmp_path, f"  - {{id: q, chapter: {FIXTURES / 'quick.md'}}}\n")
        out = tmp_path / "out"
        status = run_batch(path, out, scheduler=address, progress=False)
        assert dict(zip(status.job, status.state, strict=True)) == {"q": "done"}
        record = json.loads((out / "q" / "summary.json").read_text())
        assert record["runs"][0]["summary"]["run_id"] == "quick"
        assert worker_pids and os.getpid() not in worker_pids  # another process ran it
        assert worker.poll() is None and scheduler.poll() is None  # both still serve
    finally:
        for proc in (worker, scheduler):
            if proc is not None:
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()


def test_the_batch_runs_from_an_installed_wheel_outside_the_checkout(tmp_path):
    """A wheel installed away from the checkout has no book: ``lipviz batch run`` says how to
    point it at one (one line, exit 2), and with ``--book DIR`` it runs that book's chapters."""
    src = tmp_path / "src"
    shutil.copytree(
        ROOT / "lipviz", src / "lipviz", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    pip = [sys.executable, "-m", "pip", "-q"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "wheel"), "."],
        cwd=src,
        check=True,
        capture_output=True,
    )
    wheel = next((tmp_path / "wheel").glob("lipviz-*.whl"))
    site = tmp_path / "site"
    subprocess.run(
        [*pip, "install", "--no-deps", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "OMP_NUM_THREADS": "1"}
    env.pop("LIPVIZ_BOOK_DIR", None)

    def lipviz(*args):
        return subprocess.run(
            [sys.executable, "-m", "lipviz", *args],
            cwd=elsewhere,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    where = subprocess.run(
        [sys.executable, "-c", "import lipviz; print(lipviz.__file__)"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(str(site))  # the installed copy, not the checkout
    no_book = lipviz("batch", "run", "smoke", "--out", "out")
    assert no_book.returncode == 2 and no_book.stderr.count("\n") == 1, no_book.stderr
    assert "LIPVIZ_BOOK_DIR" in no_book.stderr and "--book" in no_book.stderr
    book = tmp_path / "book"
    book.mkdir()
    (book / "_toc.yml").write_text("format: jb-book\nroot: 99_quick\n")
    shutil.copy(FIXTURES / "quick.md", book / "99_quick.md")
    (elsewhere / "tiny.yaml").write_text("name: tiny\njobs:\n  - {id: q, chapter: 99_quick}\n")
    ran = lipviz("batch", "run", "tiny.yaml", "--out", "out", "--workers", "1", "--book", str(book))
    assert ran.returncode == 0, ran.stderr[-2000:]
    record = json.loads((elsewhere / "out" / "q" / "summary.json").read_text())
    assert record["runs"][0]["summary"]["run_id"] == "quick"
