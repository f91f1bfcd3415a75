"""The training loop (validation-based selection) and the preset configs."""

import dataclasses

import pytest
import torch

from lipviz.config import Margins2DConfig, resolve
from lipviz.data import make_toy
from lipviz.models import available, create
from lipviz.train import fit
from lipviz.viz import compute


def test_fit_selects_the_best_validation_epoch():
    train = make_toy("moons", n=200, seed=0)
    val = make_toy("moons", n=100, seed=1)
    model = create("toy-mlp", hidden=16, depth=1, spectral=False)
    res = fit(model, train, val, epochs=8, lr=0.05, temperature=1.0, progress=False)
    h = res.history
    assert {"epoch", "loss", "train_acc", "val_acc", "lipschitz"} <= set(h.columns)
    assert len(h) == 8
    assert res.best_epoch == int(h.epoch[h.val_acc.idxmax()])
    with torch.no_grad():
        acc = float((res.model(val.x).argmax(1) == val.y).float().mean())
    assert acc == pytest.approx(h.val_acc.max())
    assert not res.model.training


def test_fit_rejects_bad_arguments():
    ds = make_toy("moons", n=20)
    model = create("toy-mlp", hidden=4, depth=1)
    with pytest.raises(ValueError, match="epochs"):
        fit(model, ds, ds, epochs=0)
    with pytest.raises(ValueError, match="temperature"):
        fit(model, ds, ds, epochs=1, temperature=0.0)


def test_models_registry():
    assert "toy-mlp" in available()
    with pytest.raises(ValueError, match="Available"):
        create("resnet-9000")
    with pytest.raises(ValueError, match="depth"):
        create("toy-mlp", depth=0)


def test_presets_are_frozen_and_resolvable():
    smoke = resolve("margins2d")
    assert smoke == Margins2DConfig.SMOKE
    assert resolve("margins2d", "full") == Margins2DConfig.FULL
    assert resolve("margins2d", "smoke", epochs=None) == smoke  # None keeps the preset
    with pytest.raises(dataclasses.FrozenInstanceError):
        smoke.epochs = 3
    with pytest.raises(ValueError, match="preset"):
        resolve("margins2d", "huge")
    with pytest.raises(ValueError, match="Unknown Margins2DConfig fields"):
        resolve("margins2d", epoch=3)
    with pytest.raises(ValueError, match="experiment"):
        resolve("nope")


def test_margins2d_experiment_has_no_violations(trained_toy):
    t = trained_toy.table
    assert {"certified_radius", "true_distance", "ratio"} <= set(t.columns)
    assert (t.certified_radius <= t.true_distance + 1e-6).all()
    assert trained_toy.bound.sound
    summary = compute.tightness_summary(t)
    assert int(summary.violations.iloc[0]) == 0
    assert 0 < summary.ratio_median.iloc[0] <= 1


def test_mixed_precision_trains_and_certifies_in_fp32():
    from lipviz.certify import Certifier
    from lipviz.train import CrossEntropy, TrainConfig, Trainer

    train, val = make_toy("moons", n=200, seed=0), make_toy("moons", n=100, seed=1)
    model = create("toy-mlp", hidden=16, depth=1, spectral=False)
    seen = []
    cfg = TrainConfig(epochs=3, lr=0.05, amp="bf16")
    res = Trainer(model, CrossEntropy(), cfg, (2,), progress=False, callbacks=[seen.append]).fit(
        train, val
    )
    assert [len(rows) for rows in seen] == [1, 2, 3]  # the callback saw every epoch
    assert res.history.loss.notna().all() and res.history.val_acc.iloc[-1] > 0.6
    assert all(p.dtype == torch.float32 for p in res.model.parameters())
    cert = Certifier(res.model, (2,))
    outside = cert(val.x)
    with torch.autocast("cpu", torch.bfloat16):  # inside an autocast region: still fp32
        inside = cert(val.x)
        low_input = cert(val.x.bfloat16())
    assert torch.equal(outside.radius, inside.radius)
    assert low_input.radius.dtype == torch.float32
    cert.model = res.model.half()
    with pytest.raises(ValueError, match="fp32"):
        cert(val.x)
    with pytest.raises(ValueError, match="amp"):
        Trainer(model, CrossEntropy(), TrainConfig(amp="fp8"), (2,))
