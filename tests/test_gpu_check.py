"""scripts/gpu-check: the prepared GPU call, rehearsed on the CPU at a tiny size."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _script():
    path = ROOT / "scripts" / "gpu-check"
    loader = importlib.machinery.SourceFileLoader("gpu_check", str(path))
    spec = importlib.util.spec_from_loader("gpu_check", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_what_travels_is_the_tracked_tree_without_ignored_files():
    files = dict((name, size) for size, name in _script().travelling_files())
    assert files["pyproject.toml"] == (ROOT / "pyproject.toml").stat().st_size
    assert not any(name.startswith((".venv/", ".git/", "book/_build/")) for name in files)


def test_stash_moves_the_largest_book_weights_aside_until_the_tree_fits_and_back(tmp_path):
    script = _script()
    for name, size in [("book/a/model.pt", 600), ("book/b.pt", 300), ("lipviz/x.pt", 900)]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"w" * size)
    (tmp_path / ".gitignore").write_text(".gpu-stash/\n")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "add", "."], cwd=tmp_path, check=True)

    def total():
        return sum(size for size, _ in script.travelling_files(tmp_path))

    before = total()
    assert script.stash(tmp_path, limit=before - 100) == ["book/a/model.pt"]  # largest first
    assert total() == before - 600 and not (tmp_path / "book/a/model.pt").exists()
    assert script.stash(tmp_path, limit=1000) == ["book/b.pt"]  # never lipviz/
    assert total() == before - 900
    (tmp_path / "book/b.pt").write_bytes(b"w" * 300)  # restored by git meanwhile
    assert script.unstash(tmp_path) == ["book/a/model.pt"]
    assert total() == before and not (tmp_path / ".gpu-stash").exists()


@pytest.mark.slow  # two processes training two epochs of 4,577 images: 1 to 2 minutes on 2 cores
def test_the_tiny_rehearsal_times_trains_stops_and_resumes(shared_data, tmp_path):
    """The CPU rehearsal of the device call: timings, a run stopped after its first epoch and
    resumed from the checkpoint to its end, everything written to the output folder."""
    out, run = tmp_path / "out", tmp_path / "run"
    argv = ["run", "--tiny", "--data", str(shared_data), "--out", str(out), "--run-dir", str(run)]
    assert _script().main(argv) == 0
    names = {p.name for p in out.iterdir()}
    assert names == {
        "provenance.json",
        "timings.json",
        "metrics.csv",
        "config.json",
        "summary.json",
        "train.log",
    }
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["run"]["resumed"] is True
    assert [c["stopped_after_epochs"] for c in provenance["run"]["chunks"]] == [1, 2]
    timings = json.loads((out / "timings.json").read_text())
    assert len(timings) == 3 and timings["lipconvnet5_w2_3_steps"]["steps_timed"] == 3
    assert all(v > 0 for k, v in timings.items() if k.startswith("soc_"))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["dataset"] == "CIFAR-10 (exact 6,102-image subset)"
