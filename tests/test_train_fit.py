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
