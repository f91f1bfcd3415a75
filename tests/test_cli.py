"""The ``lipviz`` command line: bad input exits 2 with one clear line; list, status and report."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT

from lipviz.cli import main


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
    assert "--workers must be at least 1" in capsys.readouterr().err


def test_list_names_the_shipped_batches(capsys):
    assert main(["batch", "list"]) == 0
    out = capsys.readouterr().out
    assert "smoke: 12 jobs" in out and "papers:" in out


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
    proc = subprocess.run([sys.executable, "-m", "lipviz", "batch", "--help"],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 0 and "run" in proc.stdout and "report" in proc.stdout
