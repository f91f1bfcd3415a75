"""lipviz.viz.compute and static: the box and ball of a layer, the first layer's fixed
neurons and the local against the global radii, checked against samples and exact distances."""

import matplotlib
import numpy as np
import pytest
import torch
from torch import nn

from lipviz.viz import compute, static

matplotlib.use("Agg")


@pytest.fixture
def relu_net():
    torch.manual_seed(3)
    return nn.Sequential(
        nn.Linear(2, 12), nn.ReLU(), nn.Linear(12, 12), nn.ReLU(), nn.Linear(12, 3)
    ).double()


def test_box_and_ball_contain_every_sampled_image(relu_net):
    x = torch.tensor([0.3, -0.2], dtype=torch.float64)
    geom = compute.box_and_ball(relu_net, x, 0.3, layer=2, neurons=(0, 5), n_samples=3000)
    lo, hi = geom["box"]
    assert np.allclose(lo, np.maximum(geom["ibp"][0], geom["ball"][0]))
    assert np.allclose(hi, np.minimum(geom["ibp"][1], geom["ball"][1]))
    s = geom["samples"]
    assert s.shape == (3000, 2) and (s >= lo - 1e-9).all() and (s <= hi + 1e-9).all()
    width = hi - lo
    assert (width <= geom["ibp"][1] - geom["ibp"][0]).all()
    assert (width <= geom["ball"][1] - geom["ball"][0]).all()
    gains = []  # over the whole layer, the ball's box cuts some IBP intervals
    for j in range(0, 12, 2):
        g = compute.box_and_ball(relu_net, x, 0.3, layer=2, neurons=(j, j + 1), n_samples=1)
        gains.append((g["ibp"][1] - g["ibp"][0]) - (g["box"][1] - g["box"][0]))
    assert np.concatenate(gains).max() > 1e-3
    with pytest.raises(ValueError, match="pick an nn.Linear"):
        compute.box_and_ball(relu_net, x, 0.3, layer=1)


def test_first_layer_status_marks_exactly_the_neurons_dead_on_the_disc(relu_net):
    x, eps = torch.tensor([0.3, -0.2], dtype=torch.float64), 0.3
    status = compute.first_layer_status(relu_net, x, eps)
    w, b = relu_net[0].weight.detach(), relu_net[0].bias.detach()
    top = (w @ x + b + eps * w.norm(dim=1)).numpy()  # exact maximum over the disc
    assert status.fixed.tolist() == (top <= 0).tolist()
    assert np.allclose(status.hi, top)
    with pytest.raises(ValueError, match="nn.Linear first"):
        compute.first_layer_status(nn.Sequential(nn.ReLU(), relu_net), x, eps)


def test_local_and_global_radii_stay_below_the_true_distance(relu_net):
    pts = torch.tensor([[0.3, -0.2], [1.5, 1.0], [-0.5, 0.4]], dtype=torch.float64)
    table = compute.local_vs_global_radii(relu_net, pts, eps_max=1.0, true_distance=True)
    assert list(table.columns) == [
        "predicted",
        "global",
        "local",
        "local_estimate",
        "true_distance",
    ]
    assert (table["local"] <= table.true_distance + 1e-6).all()
    assert (table["global"] <= table.true_distance + 1e-6).all()
    assert (table["local"] <= table.local_estimate + 1e-9).all()
    ax = static.plot_local_vs_global(relu_net, pts, table, (-2, 2, -2, 2), resolution=40)
    assert len(ax.patches) == 2 * len(pts)


def test_static_figures_draw(relu_net):
    x = torch.tensor([0.3, -0.2], dtype=torch.float64)
    status = compute.first_layer_status(relu_net, x, 0.3)
    ax = static.plot_input_ball(relu_net, x, 0.3, status, (-2, 2, -2, 2), resolution=40)
    assert len(ax.lines) >= len(status) and ax.patches
    geom = compute.box_and_ball(relu_net, x, 0.3, layer=2, n_samples=100)
    ax = static.plot_box_and_ball(geom)
    assert len(ax.patches) == 3 and ax.collections
