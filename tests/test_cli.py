"""The ``lipviz`` command line: bad input exits 2 with one clear line; list, status and report."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import ROOT

from lipviz.cli import main

QUICK = ROOT / "tests" / "fixtures" / "batch" / "quick.md"


def test_malformed_batch_file_is_a_clear_error(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("jobs:\n  - {id: a, chapter: 00_setup_and_tour, device: tpu}\n")
    assert main(["batch", "run", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "job 'a'.device" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_status_of_a_non_batch_folder_and_bad_workers(tmp_path, capsys):
    assert main(["batch", "status", str(tmp_path)]) == 2
    assert "not a batch folder" in capsys.readouterr().err
    assert main(["batch", "run", "smoke", "--out", str(tmp_path), "--workers", "0"]) == 2
    err = capsys.readouterr().err
    assert "--workers" in err and "at least 1" in err


def test_list_names_the_shipped_batches(capsys):
    assert main(["batch", "list"]) == 0
    out = capsys.readouterr().out
    assert "smoke: 16 jobs" in out and "papers:" in out


def test_status_and_report_of_a_batch_folder(tmp_path, capsys):
    fixture = ROOT / "tests" / "fixtures" / "batch" / "quick.md"
    (tmp_path / "batch.yaml").write_text(
        f"name: t\njobs:\n  - {{id: a, chapter: {fixture}, expected: {{metric: clean_accuracy,"
        " value: 0.9, source: s}}\n"
    )
    assert main(["batch", "status", str(tmp_path)]) == 0
    assert "pending" in capsys.readouterr().out
    assert main(["batch", "report", str(tmp_path)]) == 0
    assert "not run" in capsys.readouterr().out
    assert (tmp_path / "report.md").read_text().startswith("# Batch t")


def test_console_entry_point_and_python_m():
    proc = subprocess.run(
        [sys.executable, "-m", "lipviz", "batch", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0 and "run" in proc.stdout and "report" in proc.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["batch", "run", "smoke", "--out", "{tmp}/out", "--workers", "0"],
        ["batch", "run", "smoke", "--out", "{tmp}/out", "--workers", "two"],
        [
            "batch",
            "run",
            "smoke",
            "--out",
            "{tmp}/out",
            "--workers",
            "2",
            "--scheduler",
            "tcp://h:1",
        ],
        ["batch", "run", "smoke", "--out", "{tmp}/out", "--scheduler", "not-an-address"],
        ["batch", "run", "smoke", "--out", "{tmp}/out", "--jobs", "ch00-tour", "no-such-job"],
        ["batch", "run", "no-such-batch", "--out", "{tmp}/out"],
        ["batch", "run", "{tmp}/missing.yaml", "--out", "{tmp}/out"],
        ["batch", "run", "{tmp}/broken.yaml", "--out", "{tmp}/out"],
        ["batch", "run", "{tmp}/misspelt.yaml", "--out", "{tmp}/out"],
        ["batch", "run", "smoke", "--out", "{tmp}/a-file"],
        ["batch", "run", "smoke", "--out", "{tmp}/not-a-batch"],
        ["batch", "run", "smoke"],
        ["batch", "run", "smoke", "--out", "{tmp}/out", "--frobnicate"],
        ["batch", "frobnicate"],
        ["batch"],
        [],
        ["batch", "status", "{tmp}/nowhere"],
        ["batch", "status", "{tmp}/a-file"],
        ["batch", "report", "{tmp}/not-a-batch"],
    ],
    ids=lambda a: " ".join(a[:3] + a[4:]).replace("{tmp}/", "") or "nothing",
)
def test_every_bad_command_line_is_one_line_on_stderr_and_exit_2(tmp_path, capsys, args):
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "not-a-batch").mkdir()
    (tmp_path / "not-a-batch" / "notes.txt").write_text("mine")
    (tmp_path / "broken.yaml").write_text("jobs: [\n  - {id: a\n")
    (tmp_path / "misspelt.yaml").write_text(
        f"jobs:\n  - {{id: a, chapter: {QUICK}, parameters: {{acuracy: 0.4}}}}\n"
    )
    assert main([a.replace("{tmp}", str(tmp_path)) for a in args]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lipviz"), captured.err
    assert "Traceback" not in captured.err and captured.out == ""
    assert not (tmp_path / "out").exists()  # refused before anything was written
    assert sorted(p.name for p in (tmp_path / "not-a-batch").iterdir()) == ["notes.txt"]


def test_the_bad_values_are_named(tmp_path, capsys):
    misspelt = tmp_path / "misspelt.yaml"
    misspelt.write_text(f"jobs:\n  - {{id: a, chapter: {QUICK}, parameters: {{acuracy: 0.4}}}}\n")
    out = str(tmp_path / "out")
    for args, needle in [
        (
            ["run", str(misspelt), "--out", out],
            "job 'a'.parameters.acuracy: not a parameter of quick.md (did you mean 'accuracy'?",
        ),
        (["run", "smoke", "--out", out, "--jobs", "nope"], "no job 'nope' (jobs: ch00-tour,"),
        (["run", "smoke", "--out", out, "--scheduler", "nowhere"], "--scheduler 'nowhere' is not"),
        (["run", "smoke", "--out", str(misspelt)], f"--out {misspelt}: exists and is not a folder"),
    ]:
        assert main(["batch", *args]) == 2
        assert needle in capsys.readouterr().err
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        assert (
            main(["batch", "run", "smoke", "--out", out, "--scheduler", "tcp://127.0.0.1:9"]) == 2
        )
    err = capsys.readouterr().err
    assert err.startswith("lipviz: cannot reach the dask scheduler at tcp://127.0.0.1:9")
    assert not (tmp_path / "out").exists()


def test_status_names_a_corrupt_result_and_does_not_count_it_done(tmp_path, capsys):
    (tmp_path / "batch.yaml").write_text(f"name: t\njobs:\n  - {{id: a, chapter: {QUICK}}}\n")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "summary.json").write_text('{"job": "a", "state": "done", "runs": [')
    assert main(["batch", "status", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert "corrupt" in captured.out and "done" not in captured.out
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lipviz: warning: ")
    assert str(tmp_path / "a" / "summary.json") in lines[0] and "not valid JSON" in lines[0]


def test_data_status_and_fetch(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LIPVIZ_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LIPVIZ_OFFLINE", "1")
    assert main(["data", "status"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"data folder: {tmp_path}") and "t10k-images-idx3-ubyte.gz" in out
    assert main(["data", "fetch", "mnist5k"]) == 0
    assert "embedded" in capsys.readouterr().out
    assert main(["data", "fetch", "mnist"]) == 1  # offline and absent: one line, no traceback
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "LIPVIZ_OFFLINE is set" in err
    assert main(["data", "fetch", "mnits"]) == 2
    assert "unknown dataset 'mnits'" in capsys.readouterr().err
    assert main(["data"]) == 2


def test_version():
    out = subprocess.run(
        [sys.executable, "-m", "lipviz", "--version"], capture_output=True, text=True, check=True
    ).stdout
    import lipviz

    assert out.strip() == f"lipviz {lipviz.__version__}"


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """A finished LMT run folder on MNIST-5k (1 epoch, 100 test images)."""
    from lipviz.cli import main as experiments

    out = tmp_path_factory.mktemp("run") / "lmt"
    args = ["run", "lmt", "--out", str(out), "--set", "epochs=1", "n_test=100", "n_val_eval=50"]
    assert experiments(args) == 0
    return out


def test_certify_and_audit_a_run_folder(small_run, tmp_path, capsys):
    import json
    import shutil

    assert main(["certify", str(small_run)]) == 0  # the committed numbers, reproduced
    out = capsys.readouterr().out
    assert "on 100 images of MNIST-5k" in out and "False" not in out
    assert main(["certify", str(small_run), "--n", "20"]) == 0  # fewer images: shown, not judged
    assert "n/a" in capsys.readouterr().out
    assert main(["audit", str(small_run), "--n", "30", "--steps", "5", "--restarts", "1"]) == 0
    assert "violations inside certified radii" in capsys.readouterr().out

    edited = tmp_path / "edited"
    shutil.copytree(small_run, edited)
    summary = json.loads((edited / "summary.json").read_text())
    summary["certified_accuracy"]["0.5"] += 0.01  # a number the model does not give
    (edited / "summary.json").write_text(json.dumps(summary))
    assert main(["certify", str(edited)]) == 1
    (edited / "model.pt").unlink()
    assert main(["certify", str(edited)]) == 2
    assert "no model.pt" in capsys.readouterr().err
    assert main(["audit", str(tmp_path)]) == 2
    assert "not a finished run folder" in capsys.readouterr().err


def test_certify_and_audit_on_another_test_set_of_the_same_shape(small_run, capsys):
    """--dataset: a run certified on another dataset's test split (as a CIFAR-10 run trained on
    the JPEG re-encoding is on the exact subset), never judged against its own summary."""
    assert main(["certify", str(small_run), "--dataset", "cifar10-exact-subset"]) == 2
    assert "shape (3, 32, 32), the run's model takes (1, 28, 28)" in capsys.readouterr().err
    assert main(["audit", str(small_run), "--dataset", "mnist6k"]) == 2
    assert "unknown dataset 'mnist6k'" in capsys.readouterr().err


@pytest.mark.data
def test_certify_on_another_test_set_reports_without_judging(small_run, shared_data, capsys):
    assert main(["certify", str(small_run), "--dataset", "mnist", "--n", "20"]) == 0
    out = capsys.readouterr().out
    assert "on 20 images of MNIST" in out and "n/a" in out and "False" not in out


def test_certify_without_the_data_says_how_to_get_it(tmp_path, monkeypatch, capsys):
    from lipviz.batch import published

    monkeypatch.setenv("LIPVIZ_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LIPVIZ_OFFLINE", "1")
    assert main(["certify", str(published() / "lmt-full-c2.5")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "lipviz data fetch mnist" in err


@pytest.mark.data
def test_certify_and_audit_the_published_local_run(shared_data, capsys):
    from lipviz.batch import published

    run = str(published() / "locallip-mnist-24ep")
    assert main(["certify", run, "--n", "16"]) == 0
    assert "certified (local)" in capsys.readouterr().out
    assert main(["audit", run, "--n", "16", "--steps", "10", "--restarts", "1"]) == 0
    assert "0 broken by PGD" in capsys.readouterr().out


def test_batch_report_is_readable(tmp_path, capsys):
    import shutil

    from lipviz.batch import published

    shutil.copytree(published() / "batch-smoke", tmp_path / "smoke")
    assert main(["batch", "report", str(tmp_path / "smoke")]) == 0
    out = capsys.readouterr().out
    assert "NaN" not in out and "None" not in out and "nan" not in out
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["job", "state", "dataset"] and "verdict" in lines[0]
    assert len(lines) == 17 and all(line.split()[-1] == "value" for line in lines[1:])
    assert main(["batch", "status", str(tmp_path / "smoke")]) == 0
    assert "NaN" not in capsys.readouterr().out
