"""The Local-Lip chapter's diagram helpers (lipviz.viz.diagrams) find and draw what they
claim: two neurons on which different boxes win, and an intersection that encloses the ball."""

import numpy as np
import pytest
import torch
from torch import nn

from lipviz.viz import compute, diagrams


def _net(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 2)
    ).double()


def test_contrasting_example_picks_one_neuron_per_winning_box():
    net = _net()
    points = torch.randn(20, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    n, (j, k) = diagrams.contrasting_example(net, points, 0.3, layer=2)
    geom = compute.box_and_ball(net, points[n], 0.3, layer=2, neurons=(j, k))
    ibp = geom["ibp"][1] - geom["ibp"][0]
    ball = geom["ball"][1] - geom["ball"][0]
    assert ibp[0] < ball[0] and ball[1] < ibp[1]
    # the intersection is strictly smaller than each box, and it still holds every image
    box = geom["box"][1] - geom["box"][0]
    assert (box <= np.minimum(ibp, ball) + 1e-12).all()
    assert box[0] < ball[0] and box[1] < ibp[1]
    lo, hi = geom["box"]
    assert ((geom["samples"] >= lo - 1e-9) & (geom["samples"] <= hi + 1e-9)).all()


def test_contrasting_example_refuses_non_affine_layers_and_uniform_winners():
    net = _net()
    x = torch.zeros(1, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match="nn.Linear"):
        diagrams.contrasting_example(net, x, 0.1, layer=1)
    # on the first layer the ball's box is exact: IBP never wins there
    with pytest.raises(ValueError, match="every neuron"):
        diagrams.contrasting_example(net, x, 0.1, layer=0)


def test_plot_enclosures_draws_the_three_boxes_and_the_samples():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    net = _net()
    geom = compute.box_and_ball(
        net, torch.zeros(2, dtype=torch.float64), 0.3, layer=2, n_samples=50
    )
    ax = diagrams.plot_enclosures(geom)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:3] == ["box ∩ ball (used)", "IBP box", "ball's box"]
    assert len(ax.patches) == 3 and len(ax.collections[0].get_offsets()) == 50
    assert min(t.get_fontsize() for t in ax.get_legend().get_texts()) >= 9
    plt.close(ax.figure)
