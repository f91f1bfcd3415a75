"""Certificates by bound propagation: radii by bisection that attacks never break, the same
input contract as the other certificates, and certified accuracy with method="ibp"/"crown"."""

import pytest
import torch
from torch import nn

import lipviz
from lipviz import certified_accuracy, propagation_certified, propagation_certified_radius


def _net(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3)
    )


def test_pgd_never_flips_a_point_inside_its_crown_radius():
    net = _net()
    x = torch.rand(24, 4, generator=torch.Generator().manual_seed(0))
    cert = propagation_certified_radius(net, x, 0.5, steps=10)
    assert cert.form == "crown" and cert.sound and cert.kind == "certified"
    radius = cert.radius
    keep = radius > 0
    assert int(keep.sum()) >= 10
    attack = lipviz.pgd_l2(net, x[keep], cert.predicted[keep], radius[keep], steps=100, restarts=3)
    assert not bool(attack.success.any())
    # the radii are certificates: each is certified again directly
    assert bool(propagation_certified(net, x[keep], radius[keep].double()).all())


def test_crown_radii_are_at_least_ibp_radii_and_never_above_an_attack():
    net = _net(1)
    x = torch.rand(16, 4, generator=torch.Generator().manual_seed(1))
    crown = propagation_certified_radius(net, x, 0.5, steps=10)
    ibp = propagation_certified_radius(net, x, 0.5, method="ibp", steps=10)
    assert bool((crown.radius >= ibp.radius - 0.5 / 2**10).all())
    found = lipviz.minimal_l2(net, x, crown.predicted)
    assert bool((crown.radius <= found.distance + 1e-6).all())


def test_certified_accuracy_by_propagation():
    net = _net(2)
    x = torch.rand(30, 4, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        y = net(x).argmax(1)
    y[:5] = (y[:5] + 1) % 3  # five wrong labels: never certified
    eps = [0.0, 0.02, 0.1]
    crown = certified_accuracy(net, x, y, eps, method="crown")
    ibp = certified_accuracy(net, x, y, eps, method="ibp")
    assert crown["certified_accuracy"].iloc[0] == pytest.approx(25 / 30)
    assert (crown["certified_accuracy"] >= ibp["certified_accuracy"]).all()
    assert crown["certified_accuracy"].is_monotonic_decreasing
    assert set(crown["kind"]) == {"certified (crown)"}
    with pytest.raises(ValueError, match="no estimate mode"):
        certified_accuracy(net, x, y, eps, method="crown", mode="estimate")
    with pytest.raises(ValueError, match="method must be one of"):
        certified_accuracy(net, x, y, eps, method="milp")


@pytest.mark.parametrize(
    ("x", "eps", "match"),
    [
        (torch.full((2, 4), 0.5), 36.0, "input units"),
        (torch.full((2, 4), 0.5, dtype=torch.float64), 0.1, "float64"),
        (torch.tensor([[0.5, 0.5, 0.5, float("inf")]]), 0.1, "NaN or inf"),
        (torch.full((2, 4), 2.0), 0.1, "outside the box"),
        (torch.full((2, 4), 0.5), [0.1, 0.2, 0.3], "one value per input"),
    ],
)
def test_the_certificate_refuses_what_it_cannot_hold_for(x, eps, match):
    with pytest.raises(ValueError, match=match):
        propagation_certified(_net(), x, eps, box=(0, 1))


def test_radius_arguments_are_checked():
    x = torch.full((1, 4), 0.5)
    with pytest.raises(ValueError, match="eps_max"):
        propagation_certified_radius(_net(), x, float("nan"))
    with pytest.raises(ValueError, match="steps"):
        propagation_certified_radius(_net(), x, 0.5, steps=-1)
