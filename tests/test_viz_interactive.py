"""plotly figures (lipviz.viz.interactive)."""

from lipviz.viz import interactive


def test_toy_gallery_has_two_traces_per_toy():
    fig = interactive.toy_gallery(n=50)
    assert len(fig.data) == 8
    assert sum(len(tr.x) for tr in fig.data) == 4 * 50
