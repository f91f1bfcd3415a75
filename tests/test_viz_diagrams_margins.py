"""The margins chapter's diagram helpers (lipviz.viz.diagrams) compute what they claim."""

import math

import matplotlib
import numpy as np
import pytest
import torch
from torch import nn

from lipviz import Certifier
from lipviz.models import create
from lipviz.viz import diagrams

matplotlib.use("Agg")


def _linear(rows, bias=None):
    lin = nn.Linear(2, len(rows), bias=bias is not None)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor(rows))
        if bias is not None:
            lin.bias.copy_(torch.tensor(bias))
    return nn.Sequential(lin)


def test_margin_along_ray_matches_the_closed_form_of_a_linear_model():
    # three classes, logits (x0, -x0, x1): the margin of class 0 at (1, 0) along u = (-1, 1)/sqrt2
    model = _linear([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]])
    s = np.linspace(-1.0, 2.0, 31)
    got = diagrams.margin_along_ray(model, [1.0, 0.0], [-3.0, 3.0], s)
    a = s / math.sqrt(2)
    x0, x1 = 1.0 - a, a
    want = x0 - np.maximum(-x0, x1)
    assert np.allclose(got, want, atol=1e-12)


@pytest.mark.parametrize("form", ["global", "pairwise"])
def test_lower_bound_is_zero_at_the_radius_and_below_the_margin(form):
    model = create("toy-mlp", hidden=16, depth=2, n_classes=3, seed=3).eval()
    cert = Certifier(model, (2,), form=form)
    gen = torch.Generator().manual_seed(0)
    for x in torch.randn(5, 2, generator=gen):
        radius = float(cert(x[None]).radius[0])
        # the bound vanishes exactly at the certified radius (the model's radius is rounded to
        # float32, hence the tolerance), is positive inside, and is linear in |s| on each piece
        assert abs(diagrams.margin_lower_bound(cert, x, [radius])[0]) < 1e-5
        inside = diagrams.margin_lower_bound(cert, x, [0.5 * radius, -0.5 * radius])
        assert (inside > 0).all() and inside[0] == inside[1]
        # soundness: below the true margin along random directions, for every |s|
        s = np.linspace(-3 * radius, 3 * radius, 61)
        for u in torch.randn(4, 2, generator=gen):
            margin = diagrams.margin_along_ray(model, x, u, s)
            bound = diagrams.margin_lower_bound(cert, x, s)
            assert (bound <= margin + 1e-6).all()


def test_pairwise_cone_is_never_below_the_global_one():
    model = create("toy-mlp", hidden=8, depth=1, n_classes=4, seed=1).eval()
    glob, pair = Certifier(model, (2,), form="global"), Certifier(model, (2,), form="pairwise")
    x, s = torch.tensor([0.3, -0.2]), np.linspace(0.0, 2.0, 21)
    lower_g = diagrams.margin_lower_bound(glob, x, s)
    lower_p = diagrams.margin_lower_bound(pair, x, s)
    assert (lower_p >= lower_g - 1e-12).all()


def test_zero_direction_is_refused():
    with pytest.raises(ValueError, match="direction"):
        diagrams.margin_along_ray(_linear([[1.0, 0.0], [0.0, 1.0]]), [0, 0], [0, 0], [0])


def test_plot_draws_both_cones_both_intervals_and_the_crossing():
    # logits (x0, -x0) + bias: the boundary is the line x0 = 0.25, the radius is exact
    model = _linear([[1.0, 0.0], [-1.0, 0.0]], bias=[-0.25, 0.25])
    ax = diagrams.plot_margin_cone(model, [1.0, 0.5])
    labels = [line.get_label() for line in ax.get_lines()]
    assert any(lab.startswith("certified interval (global)") for lab in labels)
    assert any(lab.startswith("certified interval (pairwise)") for lab in labels)
    assert any("cone" in lab for lab in labels)
    # the default direction points at the nearest change of class: the crossing is at 0.75
    (crossing,) = [line for line in ax.get_lines() if line.get_linestyle() == ":"]
    assert crossing.get_xdata()[0] == pytest.approx(0.75, abs=5e-3)
    interval = next(line for line in ax.get_lines() if "(pairwise)" in line.get_label())
    assert max(interval.get_xdata()) == pytest.approx(0.75, rel=1e-5)
    matplotlib.pyplot.close(ax.figure)


def test_largest_gap_slope_is_exact_for_linear_and_below_the_certificate_slope():
    model = _linear([[1.0, 2.0], [-2.0, 6.0]], bias=[0.5, -0.5])
    assert diagrams.largest_gap_slope(model, (-1, 1, -1, 1), resolution=7) == (
        pytest.approx(5.0, rel=1e-6)
    )
    net = create("toy-mlp", hidden=16, depth=2, seed=2).train()
    cert = Certifier(net, (2,), form="pairwise")
    found = diagrams.largest_gap_slope(net, (-2, 2, -2, 2), resolution=60)
    assert 0 < found <= cert.lipschitz * float(cert.row_dist[0, 1]) * (1 + 1e-6)
    assert net.training  # the mode is restored
