"""Data-parallel training under torchrun (gloo, 2 CPU processes) trains the same model as one
process, and only rank 0 writes the run folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
import torch
from conftest import ROOT, SHARED_DATA

from lipviz.cli import main as cli
from lipviz.train import LocalLip, TrainConfig, Trainer, distributed

SETTINGS = ["epochs=1", "n_test=60", "n_val_eval=50"]


@pytest.mark.skipif(SHARED_DATA is None, reason="needs the MNIST files")
def test_torchrun_two_processes_train_the_same_lmt_model_as_one(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    assert cli(["run", "lmt", "--out", str(one), "--set", *SETTINGS]) == 0
    torchrun = shutil.which("torchrun", path=os.path.dirname(sys.executable))
    launcher = [torchrun] if torchrun else [sys.executable, "-m", "torch.distributed.run"]
    cmd = [
        *launcher,
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "lipviz",
        "run",
        "lmt",
        "--out",
        str(two),
        "--set",
        *SETTINGS,
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "LIPVIZ_DATA_DIR": str(SHARED_DATA)}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    a = torch.load(one / "model.pt", weights_only=True)["state"]
    b = torch.load(two / "model.pt", weights_only=True)["state"]
    assert a.keys() == b.keys()
    for key in a:  # 72 Adam steps: float32 rounding of the gradient sums, about 1e-5 here
        # (one step moves a weight by up to lr = 1e-3; other batches would differ by ~1e-2)
        assert torch.allclose(a[key], b[key], rtol=1e-4, atol=1e-4), key
    s1 = json.loads((one / "summary.json").read_text())
    s2 = json.loads((two / "summary.json").read_text())
    assert (s1["world_size"], s2["world_size"]) == (1, 2)
    for eps, acc in s1["certified_accuracy"].items():  # at most one of 60 images flips
        assert abs(s2["certified_accuracy"][eps] - acc) <= 1 / 60 + 1e-6
    assert proc.stdout.count('"world_size": 2') == 1  # rank 0 alone reports


def test_outside_torchrun_nothing_is_distributed():
    assert (distributed.world_size(), distributed.rank()) == (1, 0)
    assert distributed.all_sum([1.5, 2]) == [1.5, 2.0]
    assert distributed.device_for("cpu") == torch.device("cpu")


def test_local_lip_refuses_torchrun(monkeypatch):
    monkeypatch.setattr(distributed, "setup", lambda: True)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))
    with pytest.raises(ValueError, match="train it in one process"):
        Trainer(model, LocalLip(eps=0.1), TrainConfig(epochs=1), (1, 2, 2))
