"""The pairwise last-layer certificate: brute force over all classes, never below the global
form, sound against PGD on a trained model, and degenerate rows."""

import math

import pytest
import torch
from torch import nn

from lipviz import certified_radius, lipschitz_bound
from lipviz.attacks import pgd_l2
from lipviz.certify import Certifier


def mlp(n_classes=7, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, n_classes))


def test_pairwise_matches_brute_force_over_all_classes():
    model = mlp().eval()
    x = torch.randn(40, 5)
    cert = certified_radius(model, x, form="pairwise")
    assert cert.form == "pairwise" and cert.sound
    prefix = lipschitz_bound(model[:-1], (5,)).value
    w = model[-1].weight.detach()
    with torch.no_grad():
        logits = model(x)
    for i in range(len(x)):
        t = int(logits[i].argmax())
        brute = min(
            float(logits[i, t] - logits[i, j]) / (prefix * float((w[t] - w[j]).norm()))
            for j in range(7)
            if j != t
        )
        assert float(cert.radius[i]) == pytest.approx(brute, rel=1e-5)


def test_pairwise_is_never_below_global():
    model = mlp(seed=3).eval()
    x = torch.randn(200, 5)
    pair = certified_radius(model, x, form="pairwise").radius
    glob = certified_radius(model, x, form="global").radius
    assert (pair >= glob * (1 - 1e-5)).all()
    assert certified_radius(model, x).form == "pairwise"  # auto picks it


def test_identical_rows_never_divide_by_zero():
    model = nn.Sequential(nn.Linear(2, 3))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, 0.0], [1.0, 0.0], [-1.0, 0.0]]))
        model[0].bias.copy_(torch.tensor([0.5, 0.0, 0.0]))
    x = torch.tensor([[1.0, 0.0]])
    cert = certified_radius(model, x, form="pairwise")
    # class 0 beats class 1 everywhere (same row, larger bias): only class 2 limits the radius
    assert float(cert.radius[0]) == pytest.approx((1.5 - (-1.0)) / 2.0)
    assert torch.isfinite(cert.radius).all()


@pytest.mark.parametrize("form", ["global", "pairwise"])
def test_pgd_never_succeeds_inside_the_certified_radius(trained_toy, form):
    model, x = trained_toy.model, trained_toy.shown.x
    cert = certified_radius(model, x, form=form)
    y = cert.predicted
    ok = cert.radius > 1e-3
    attack = pgd_l2(model, x[ok], y[ok], cert.radius[ok] * 0.999, steps=100, restarts=5, box=None)
    assert not attack.success.any()
    assert (attack.distance <= cert.radius[ok] * 0.999 + 1e-6).all()
    # ...while just outside the true distance, some points do flip: the attack is not toothless
    from lipviz.exact.planar import boundary_distance

    dist, _ = boundary_distance(model, x[ok], n_directions=360)
    outside = pgd_l2(model, x[ok], y[ok], dist * 1.05, steps=100, restarts=3, box=None)
    assert outside.success.float().mean() > 0.5


def test_certifier_reuses_bounds_and_checks_shapes():
    model = mlp().eval()
    cert = Certifier(model, (5,))
    assert cert.form == "pairwise"
    assert torch.equal(
        cert(torch.zeros(3, 5)).radius, certified_radius(model, torch.zeros(3, 5)).radius
    )
    with pytest.raises(ValueError, match="built for inputs"):
        cert(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="form"):
        Certifier(model, (5,), form="local")
    with pytest.raises(ValueError, match="pairwise"):
        Certifier(nn.Sequential(nn.Linear(5, 3), nn.ReLU()), (5,), form="pairwise")
    assert math.isfinite(cert.lipschitz)
