"""Batches on a real dask LocalCluster with papermill: a failing job is recorded while the other
finishes, reruns skip finished jobs untouched, a SIGKILL mid-run loses nothing, and the report
sets results against the expected numbers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import ROOT

from lipviz.batch import batch_report, batch_status, job_state, load_batch, run_batch

FIXTURES = ROOT / "tests" / "fixtures" / "batch"


def _batch(tmp_path, jobs: str):
    path = tmp_path / "tiny.yaml"
    path.write_text(f"name: tiny\njobs:\n{jobs}")
    return path


def test_two_jobs_one_fails_the_other_finishes_and_reruns_skip_it(tmp_path):
    path = _batch(tmp_path, (
        f"  - {{id: good, chapter: {FIXTURES / 'quick.md'}, parameters: {{accuracy: 0.42}},\n"
        "     expected: {metric: certified_accuracy, eps: 1.0, value: 0.4, tolerance: 0.05,"
        " source: a test}}\n"
        f"  - {{id: bad, chapter: {FIXTURES / 'fails.md'}}}\n"
    ))  # fmt: skip
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
    path = _batch(tmp_path, "".join(
        f"  - {{id: {name}, chapter: {quick}, priority: {priority}}}\n"
        for name, priority in (("low", 0), ("high", 5), ("middle", 1))
    ))  # fmt: skip
    out = tmp_path / "out"
    run_batch(path, out, workers=1, progress=False)
    finished = sorted(("low", "high", "middle"),
                      key=lambda j: (out / j / "summary.json").stat().st_mtime_ns)  # fmt: skip
    assert finished == ["high", "middle", "low"]


def test_sigkill_mid_batch_then_rerun_finishes_without_touching_finished_jobs(tmp_path):
    path = _batch(tmp_path, (
        f"  - {{id: first, chapter: {FIXTURES / 'quick.md'}}}\n"
        f"  - {{id: slow, chapter: {FIXTURES / 'quick.md'}, parameters: {{sleep: 60.0}}}}\n"
    ))  # fmt: skip
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "lipviz", "batch", "run", str(path), "--out", str(out),
           "--workers", "2", "--no-progress"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=tmp_path, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
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
    path = _batch(tmp_path, (
        f"  - {{id: needs-gpu, chapter: {FIXTURES / 'quick.md'}, device: cuda,\n"
        "     expected: {metric: clean_accuracy, value: 0.9, source: a test}}\n"
    ))  # fmt: skip
    status = run_batch(path, tmp_path / "out", workers=1, progress=False)
    assert list(status.state) == ["failed"] and "needs a GPU" in status.error[0]
    assert batch_report(tmp_path / "out", figure=False).verdict[0] == "not run"
