"""Visualisation: compute functions against known answers; static figures draw what they claim."""

import numpy as np
import pandas as pd
import pytest

from lipviz.viz import compute, interactive, static


def test_tightness_summary_counts_violations():
    t = pd.DataFrame(
        {"certified_radius": [0.5, 1.2, 0.0, 0.3], "true_distance": [1.0, 1.0, 2.0, np.inf]}
    )
    s = compute.tightness_summary(t).iloc[0]
    assert s.points == 4
    assert s.violations == 1
    assert s.certified_fraction == 0.75
    assert s.ratio_median == 0.5


def test_static_margins_figure(trained_toy):
    import matplotlib.pyplot as plt

    ax = static.plot_margins2d(trained_toy, resolution=50)
    n_points = len(trained_toy.table)
    assert len(ax.patches) >= n_points  # one certified disc per point (plus true-distance circles)
    radii = sorted(p.radius for p in ax.patches[::2])
    assert np.allclose(radii, sorted(trained_toy.table.certified_radius))
    plt.close("all")


def test_tightness_and_image_figures(trained_toy):
    import matplotlib.pyplot as plt

    import lipviz

    ax = static.plot_tightness(trained_toy.table)
    assert len(ax.collections[0].get_offsets()) == len(trained_toy.table)
    fig = static.plot_image_grid(lipviz.load_dataset("mnist5k", "val"), n=6, ncols=3)
    assert sum(bool(a.images) for a in fig.axes) == 6
    plt.close("all")


def test_toy_gallery_has_two_traces_per_toy():
    fig = interactive.toy_gallery(n=50)
    assert len(fig.data) == 8
    assert sum(len(tr.x) for tr in fig.data) == 4 * 50


def test_gradient_norm_decay_known_answers():
    from torch import nn

    from lipviz.layers import MaxMin

    t = compute.gradient_norm_decay({"relu": lambda w: nn.ReLU(), "maxmin": lambda w: MaxMin()},
                                    depth=6, width=16, n=128)  # fmt: skip
    maxmin = t[t.activation == "maxmin"].grad_norm
    relu = t[t.activation == "relu"].grad_norm.to_numpy()
    assert np.allclose(maxmin, 1.0, atol=1e-5)  # orthogonal layers + GNP activation
    assert (np.diff(relu) < 0).all() and relu[-1] < 0.3  # about sqrt(1/2) per layer


def test_last_layer_certificates_and_the_topk_trap():
    import torch

    import lipviz
    from lipviz.auditing import last_layer_certificates, lln_topk_trap

    model, x = lln_topk_trap(n_classes=20, top_k=9)
    t = last_layer_certificates(model, x, top_k=9)
    # a linear classifier: the all-class pairwise certificate is the exact boundary distance
    assert t.pairwise.iloc[0] == pytest.approx(0.25, rel=1e-9)
    assert t.top_k_overestimates.iloc[0] and t.top_k.iloc[0] > 2 * t.pairwise.iloc[0]
    assert t["global"].iloc[0] <= t.pairwise.iloc[0]
    # the top-k "radius" is broken by an attack; the all-class one is not
    y = torch.tensor(t.predicted.values)
    inside_topk = lipviz.attacks.pgd_l2(model, x, y, eps=0.9 * t.top_k.iloc[0], box=None)
    inside_sound = lipviz.attacks.pgd_l2(model, x, y, eps=0.99 * t.pairwise.iloc[0], box=None)
    assert bool(inside_topk.success[0]) and not bool(inside_sound.success[0])
    # with every class among the top k the two coincide
    full = last_layer_certificates(model, x, top_k=19)
    assert not full.top_k_overestimates.any()
    with pytest.raises(ValueError, match="top_k"):
        lln_topk_trap(n_classes=5, top_k=4)
