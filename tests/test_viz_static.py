"""Static matplotlib figures (lipviz.viz.static) draw what they claim."""

import numpy as np

from lipviz.viz import static


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
