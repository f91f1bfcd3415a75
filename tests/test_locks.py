"""lipviz.locks: one process per folder; a dead holder never blocks."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from lipviz.cli import main as experiments_main
from lipviz.locks import FolderBusyError, folder_lock

HOLD = """
import sys, time
from lipviz.locks import folder_lock
lock = folder_lock(sys.argv[1])
print("held", flush=True)
time.sleep(60)
"""


@pytest.fixture
def holder(tmp_path):
    """A live process holding the lock of ``tmp_path / "run"``."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path / "run")], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "held"
    yield proc
    proc.kill()
    proc.wait()
    proc.stdout.close()


def test_a_live_holder_keeps_the_folder_and_a_dead_one_frees_it(tmp_path, holder):
    with pytest.raises(FolderBusyError, match="in use by another lipviz process"):
        folder_lock(tmp_path / "run")
    holder.kill()  # SIGKILL: no cleanup runs, the operating system frees the lock
    holder.wait()
    deadline = time.monotonic() + 10
    while True:
        try:
            folder_lock(tmp_path / "run").release()
            break
        except FolderBusyError:
            assert time.monotonic() < deadline
            time.sleep(0.1)


def test_a_second_run_on_a_busy_folder_is_one_line_and_exit_2(tmp_path, holder, capsys):
    out = tmp_path / "run"
    status = experiments_main(["run", "margins2d", "--out", str(out), "--set", "epochs=1"])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and "in use by another lipviz process" in err
    assert not out.exists()  # nothing was written into it
