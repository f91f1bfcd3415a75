"""The diagram helpers of the GNP and LLN chapters (lipviz.viz.diagrams) compute and draw
what they claim."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from lipviz.certify import last_layer_certificates, lln_topk_trap
from lipviz.layers import LLN, Householder
from lipviz.viz import diagrams


def test_householder_pair_matches_the_layer_and_is_an_isometry():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(200, 2))
    for theta in (0.3, 1.1, math.pi / 2, 2.9):
        layer = Householder(2, theta=theta).double()
        with torch.no_grad():
            expected = layer(torch.as_tensor(z)).numpy()
        out = diagrams.householder_pair(z, theta)
        assert np.allclose(out, expected, atol=1e-6)  # the layer stores theta in float32
        assert np.allclose(np.linalg.norm(out, axis=1), np.linalg.norm(z, axis=1))
        # 1-Lipschitz on random pairs of points
        a, b = z[:100], z[100:]
        fa, fb = out[:100], out[100:]
        assert (np.linalg.norm(fa - fb, axis=1) <= np.linalg.norm(a - b, axis=1) + 1e-12).all()
    # a single point, and the (min, max) of the pair at theta = pi/2
    assert np.allclose(diagrams.householder_pair([3.0, 1.0], math.pi / 2), [1.0, 3.0])


def test_decision_regions_layout_and_mode():
    net = nn.Linear(2, 2)
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[0.0, 1.0], [0.0, -1.0]]))
        net.bias.zero_()
    net.train()
    regions = diagrams.decision_regions(net, (-1, 1, -1, 1), resolution=5)
    assert regions.shape == (5, 5)
    assert (regions[0] == 1).all() and (regions[-1] == 0).all()  # y = -1 first (origin lower)
    assert net.training


def test_plot_helpers_draw_the_balls_and_the_map():
    import matplotlib.pyplot as plt
    from matplotlib.patches import Circle

    model, x = lln_topk_trap()
    certs = last_layer_certificates(model, x)
    radii = {"all classes": float(certs.pairwise[0]), "top-9": float(certs.top_k[0])}
    ax = diagrams.plot_certified_balls(model, x, radii, (-0.3, 2.3, -1.3, 1.3), resolution=60)
    circles = [p for p in ax.patches if isinstance(p, Circle)]
    assert [c.get_label() for c in circles] == list(radii)
    assert np.allclose([c.get_radius() for c in circles], list(radii.values()))
    ax = diagrams.plot_householder_pair(1.1)
    labels = [line.get_label() for line in ax.get_lines()]
    assert "segment $[a, b]$" in labels and r"its image $\varphi([a, b])$" in labels
    plt.close("all")


def test_lln_pair_distances_are_the_chords_of_the_layers_unit_rows():

    layer = LLN(2, 5)
    free = layer.parametrizations.weight.original.detach().numpy()
    geom = diagrams.lln_pair_distances(free, 1)
    assert np.allclose(geom["rows"], layer.weight.detach().numpy(), atol=1e-6)
    assert np.allclose(geom["distances"], 2 * np.sin(geom["angles"] / 2))
    assert geom["distances"][1] == 0
    with pytest.raises(ValueError, match="nonzero"):
        diagrams.lln_pair_distances([[1.0, 0.0], [0.0, 0.0]], 0)


def test_plot_lln_rows_labels_every_chord():
    import matplotlib.pyplot as plt

    w = [[2.0, 0.3], [1.2, 1.0], [-0.4, 1.5], [-1.0, -0.6]]
    ax = diagrams.plot_lln_rows(w, target=0)
    dashed = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert len(dashed) == 3
    labels = {t.get_text() for t in ax.texts}
    expected = diagrams.lln_pair_distances(w, 0)["distances"][1:]
    assert {f"{d:.2f}" for d in expected} <= labels
    with pytest.raises(ValueError, match="2-D"):
        diagrams.plot_lln_rows(np.ones((3, 4)))
    plt.close("all")
