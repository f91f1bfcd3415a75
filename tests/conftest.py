"""Shared fixtures: seeds, real-data discovery, toy fixtures with known answers."""

from __future__ import annotations

import os
import random
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

os.environ.setdefault("MPLBACKEND", "Agg")

ROOT = Path(__file__).resolve().parents[1]


def _shared_data_dir() -> Path | None:
    env = os.environ.get("LIPVIZ_DATA_DIR", "").strip()
    for cand in ([Path(env)] if env else []) + [ROOT.parent / "shared" / "data"]:
        if (cand / "mnist" / "t10k-labels-idx1-ubyte.gz").exists():
            return cand.resolve()
    return None


SHARED_DATA = _shared_data_dir()


# --- the dense-Jacobian oracle every bound is tested against -----------------------------------


def dense_jacobian(f, x: torch.Tensor) -> torch.Tensor:
    """The Jacobian of ``f`` at one input ``x`` (no batch dimension), as an (out, in) matrix."""
    from torch.func import jacrev

    return jacrev(lambda v: f(v[None]).flatten())(x).reshape(-1, x.numel()).detach()


def jacobian_norm(f, x: torch.Tensor) -> float:
    """The exact l2 norm of the Jacobian of ``f`` at ``x`` (SVD in float64): a lower bound on
    the Lipschitz constant that every sound bound must dominate."""
    return float(torch.linalg.matrix_norm(dense_jacobian(f, x).double(), 2))


@pytest.fixture
def dense_jacobian_norm():
    """``norm(f, xs)``: the largest exact Jacobian norm of ``f`` over the inputs ``xs`` (N, ...)."""

    def norm(f, xs: torch.Tensor) -> float:
        return max(jacobian_norm(f, x) for x in xs)

    return norm


@pytest.fixture(autouse=True)
def _seed():
    random.seed(0)
    np.random.seed(0)  # noqa: NPY002 - seed the legacy global state too
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _close_figures():
    """Figures a test draws are closed after it, so none accumulate across the suite."""
    yield
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


@pytest.fixture(autouse=True)
def _restore_rule_registries():
    """Tests that register bound or composition rules for their own classes leave no trace."""
    from lipviz.bounds import registry

    tables = (
        registry._RULES,
        registry._COMPOSITES,
        registry._FUSIONS,
        registry._LOCAL_RULES,
        registry._PROPAGATION_RULES,
    )
    saved = [{k: dict(v) if isinstance(v, dict) else v for k, v in t.items()} for t in tables]
    yield
    for table, old in zip(tables, saved, strict=True):
        table.clear()
        table.update(old)


@pytest.fixture
def shared_data(monkeypatch) -> Path:
    """The folder with the real data files; the test is skipped (failed on CI) without it."""
    if SHARED_DATA is None:
        if os.environ.get("CI"):
            pytest.fail("CI must see the real data: set LIPVIZ_DATA_DIR (e.g. ../shared/data)")
        pytest.skip("real data not found: set LIPVIZ_DATA_DIR to run this test")
    monkeypatch.setenv("LIPVIZ_DATA_DIR", str(SHARED_DATA))
    return SHARED_DATA


@pytest.fixture
def chromium() -> str:
    """Path of a Chromium binary for Playwright; skipped (failed on CI) without one."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("CI must have chromium (.ci/run installs Debian's package)")
        pytest.skip("chromium not installed (apt-get install chromium)")
    return path


CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def slab():
    """The slab toy (known margin, Lipschitz constant and distances) and its reference model."""
    from lipviz.data import make_toy, slab_reference

    ds = make_toy("slab", n=200, gap=0.2, seed=0)
    ref = slab_reference(ds)
    model = torch.nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        model.weight.copy_(ref.weight)
    return ds, ref, model


@pytest.fixture(scope="session")
def trained_toy():
    """A toy MLP trained on moons (a few seconds), shared by the tests that need one."""
    import lipviz
    from lipviz.experiments import run_margins2d

    cfg = lipviz.resolve("margins2d", "smoke", epochs=25, n_show=30, n_directions=180)
    return run_margins2d(cfg, progress=False)


@pytest.fixture
def linear_classifier():
    """A 2-class linear model on R^4 with its exact distances to the decision boundary."""
    model = torch.nn.Linear(4, 2)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, 2.0, 0.0, -1.0], [-1.0, 0.0, 1.0, 1.0]]))
        model.bias.copy_(torch.tensor([0.2, -0.1]))
    x = torch.rand(30, 4)
    with torch.no_grad():
        y = model(x).argmax(1)
    w = (model.weight[0] - model.weight[1]).detach()
    b = float((model.bias[0] - model.bias[1]).detach())
    return model, x, y, ((x @ w + b).abs() / w.norm()).detach()
