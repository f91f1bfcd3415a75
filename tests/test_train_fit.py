"""lipviz.train.fit: validation-split model selection and argument errors."""

import pytest
import torch

from lipviz.data import make_toy
from lipviz.models import create
from lipviz.train import fit


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


def test_fit_refuses_values_that_would_give_nan_or_nothing():
    ds = make_toy("moons", n=20)
    model = create("toy-mlp", hidden=4, depth=1)
    with pytest.raises(ValueError, match=r"TrainConfig\.lr must be finite and > 0, got 0.0"):
        fit(model, ds, ds, epochs=1, lr=0.0)
    with pytest.raises(ValueError, match=r"TrainConfig\.batch_size must be >= 1"):
        fit(model, ds, ds, epochs=1, batch_size=0)
    with pytest.raises(ValueError, match="temperature must be finite"):
        fit(model, ds, ds, epochs=1, temperature=float("inf"))
    empty = type(ds)(ds.x[:0], ds.y[:0], ds.name, ds.params)
    with pytest.raises(ValueError, match="must not be empty"):
        fit(model, ds, empty, epochs=1, progress=False)
