"""2-D exact geometry: boundary distances against closed forms."""

import pytest
import torch
from torch import nn

from lipviz.exact.planar import boundary_distance, decision_grid


def test_boundary_distance_of_a_linear_classifier_is_the_closed_form():
    model = nn.Linear(2, 2)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, -2.0], [-0.5, 1.0]]))
        model.bias.copy_(torch.tensor([0.3, -0.1]))
    x = torch.rand(20, 2) * 2 - 1
    w = model.weight[0] - model.weight[1]
    b = model.bias[0] - model.bias[1]
    exact = ((x @ w + b).abs() / w.norm()).detach()
    dist, closest = boundary_distance(model, x, n_directions=3600, r_max=5.0)
    # rays every 0.1 degree: exact up to 1 - cos(0.05 deg) (~4e-7), plus the bisection error
    assert torch.all(dist >= exact - 1e-5)
    assert torch.allclose(dist, exact, rtol=1e-4, atol=1e-5)
    with torch.no_grad():
        assert (model(closest).argmax(1) != model(x).argmax(1)).all()


def test_no_boundary_within_reach_is_inf():
    model = nn.Linear(2, 2)
    with torch.no_grad():
        model.weight.zero_()
        model.bias.copy_(torch.tensor([1.0, 0.0]))
    dist, closest = boundary_distance(model, torch.zeros(3, 2), n_directions=16, r_max=1.0)
    assert torch.isinf(dist).all() and torch.isnan(closest).all()


def test_decision_grid_shapes():
    xs, ys, pred, margin = decision_grid(nn.Linear(2, 3), (-1, 1, -2, 2), resolution=17)
    assert xs.shape == (17,) and pred.shape == (17, 17) and margin.shape == (17, 17)
    assert (margin >= 0).all()


def test_bad_shape():
    with pytest.raises(ValueError, match="2-D"):
        boundary_distance(nn.Linear(3, 2), torch.zeros(4, 3))
