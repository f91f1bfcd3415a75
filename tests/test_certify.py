"""Certificates: known answers on the slab, NaN handling, and the 2-D boundary oracle."""

import math

import pytest
import torch
from torch import nn

from lipviz import certified_accuracy, certified_radius, lipschitz_bound, margins
from lipviz.exact.planar import boundary_distance


def test_slab_certificate_is_exact(slab):
    ds, ref, model = slab
    cert = certified_radius(model, ds.x)
    assert cert.sound and cert.kind == "certified"
    assert cert.lipschitz == pytest.approx(1 / math.sqrt(2))
    assert torch.allclose(cert.radius, ref.distance, atol=1e-5)
    assert float(cert.radius.min()) >= ref.margin - 1e-5


def test_nan_and_inf_logits_are_never_certified():
    class Broken(nn.Module):
        """Elementwise: NaN for a large first coordinate, inf for a large second one."""

        def forward(self, x):
            nan, inf = torch.full_like(x, float("nan")), torch.full_like(x, float("inf"))
            out = torch.where((x[:, :1] > 50) & (torch.arange(2) == 0), nan, x)
            return torch.where((x[:, 1:] > 50) & (torch.arange(2) == 1), inf, out)

    model = nn.Sequential(nn.Identity(), Broken())
    from lipviz.bounds import LayerBound, register_bound

    register_bound(Broken)(lambda m, ctx: LayerBound(1.0, "test", True))
    x = torch.tensor([[100.0, 0.0], [0.0, 100.0], [1.0, 2.0], [3.0, 1.0]])
    cert = certified_radius(model, x)
    assert cert.radius[:2].tolist() == [0.0, 0.0]
    assert (cert.radius[2:] > 0).all()
    assert torch.isfinite(cert.radius).all()


def test_margins_against_brute_force():
    logits = torch.randn(50, 7)
    y = torch.randint(0, 7, (50,))
    for labels in (None, y):
        target = logits.argmax(1) if labels is None else labels
        brute = torch.tensor(
            [
                logits[i, target[i]] - max(logits[i, j] for j in range(7) if j != target[i])
                for i in range(50)
            ]
        )
        assert torch.allclose(margins(logits, labels), brute)


def test_certified_radius_never_exceeds_true_distance(trained_toy):
    model, x = trained_toy.model, trained_toy.shown.x
    cert = certified_radius(model, x)
    dist, closest = boundary_distance(model, x, n_directions=720)
    assert (cert.radius <= dist + 1e-5).all()
    # the points realising the distances really have another prediction
    with torch.no_grad():
        ok = torch.isfinite(dist)
        assert (model(closest[ok]).argmax(1) != cert.predicted[ok]).all()


def test_random_perturbations_inside_the_radius_never_flip(trained_toy):
    model, x = trained_toy.model, trained_toy.shown.x
    cert = certified_radius(model, x)
    dirs = torch.nn.functional.normalize(torch.randn(len(x), 2000, 2), dim=-1)
    scale = cert.radius[:, None, None] * 0.999 * torch.rand(len(x), 2000, 1).sqrt()
    with torch.no_grad():
        pred = model((x[:, None] + scale * dirs).reshape(-1, 2)).argmax(1).view(len(x), -1)
    assert (pred == cert.predicted[:, None]).all()


def test_certified_accuracy_table(slab):
    ds, ref, model = slab
    table = certified_accuracy(model, ds.x, ds.y, [0.0, 0.1, 0.2, 0.5, 10.0])
    assert list(table.columns) == ["eps", "certified_accuracy", "kind"]
    acc = table.certified_accuracy.tolist()
    assert acc[0] == 1.0 and acc[1] == 1.0 and acc[2] == 1.0  # margin >= gap = 0.2
    assert acc[3] == pytest.approx(float((ref.distance >= 0.5).float().mean()))
    assert acc[4] == 0.0
    assert acc == sorted(acc, reverse=True)


def test_estimate_radii_are_labelled(slab):
    ds, _, _ = slab
    model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))
    cert = certified_radius(model, ds.x, mode="estimate")
    assert not cert.sound and "estimate" in cert.kind


def test_bad_inputs(slab):
    ds, _, model = slab
    with pytest.raises(ValueError, match="eps"):
        certified_accuracy(model, ds.x, ds.y, [-0.1])
    with pytest.raises(ValueError, match="eps"):
        certified_accuracy(model, ds.x, ds.y, [float("nan")])
    with pytest.raises(ValueError, match="labels must have shape"):
        certified_accuracy(model, ds.x, ds.y[:-1], [0.1])
    with pytest.raises(ValueError, match="batched"):
        certified_radius(model, ds.x[0])
    with pytest.raises(ValueError, match="computed for inputs"):
        certified_radius(model, ds.x, bound=_bound_for(model))
    with pytest.raises(TypeError, match="LipschitzBound"):
        certified_radius(model, ds.x, bound=1.0)
    with pytest.raises(ValueError, match="logits"):
        margins(torch.randn(5))


def _bound_for(model):
    wide = nn.Sequential(nn.Linear(4, 2))
    return lipschitz_bound(wide, (4,))
