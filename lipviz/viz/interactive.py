"""plotly figures (interactive in the browser, no kernel needed; embedded in the built book)."""

from __future__ import annotations

__all__ = ["configure_plotly", "toy_gallery"]


def configure_plotly() -> None:
    """Render plotly figures live in JupyterLab and embedded, fully offline, in the built book.

    Each figure carries plotly's JSON mime bundle (used by JupyterLab) and an HTML rendering
    (used by the book). plotly.js is embedded once, by this call; unlike plotly's own notebook
    renderer, no MathJax is requested from a CDN.
    """
    import plotly.io as pio
    from IPython.display import HTML, display
    from plotly.io.base_renderers import PlotlyRenderer
    from plotly.offline import get_plotlyjs

    class _OfflineRenderer(PlotlyRenderer):
        def to_mimebundle(self, fig_dict):
            bundle = super().to_mimebundle(fig_dict)
            bundle["text/html"] = pio.to_html(
                fig_dict,
                include_plotlyjs=False,
                include_mathjax=False,
                full_html=False,
                default_width="100%",
            )
            return bundle

    pio.renderers["lipviz"] = _OfflineRenderer()
    pio.renderers.default = "lipviz"
    script = "<script>window.PlotlyConfig = {MathJaxConfig: 'local'};</script>"
    display(HTML(f"{script}<script>{get_plotlyjs()}</script>"))


def toy_gallery(names=("moons", "circles", "spirals", "slab"), n: int = 300, seed: int = 0):
    """A plotly figure with one scatter panel per 2-D toy dataset.

    Parameters
    ----------
    names : sequence of str
        Toy names for :func:`lipviz.data.make_toy`, one panel each, in order.
    n : int
        Points sampled per toy.
    seed : int
        Sampling seed, the same for every toy.

    Returns
    -------
    plotly.graph_objects.Figure
        One row of ``len(names)`` panels with equal axis scales, two scatter traces per panel
        (class 0 blue, class 1 red; one legend entry per class).
    """
    from plotly.subplots import make_subplots

    from ..data import make_toy

    fig = make_subplots(rows=1, cols=len(names), subplot_titles=list(names))
    for col, name in enumerate(names, start=1):
        ds = make_toy(name, n=n, seed=seed)
        for c in (0, 1):
            pts = ds.x[ds.y == c].numpy()
            fig.add_scatter(
                x=pts[:, 0],
                y=pts[:, 1],
                mode="markers",
                marker={"size": 4},
                name=f"class {c}",
                legendgroup=f"class {c}",
                showlegend=col == 1,
                marker_color=("#1f77b4", "#d62728")[c],
                row=1,
                col=col,
            )
        fig.update_yaxes(scaleanchor=f"x{col if col > 1 else ''}", row=1, col=col)
    fig.update_layout(height=330, margin={"l": 20, "r": 20, "t": 40, "b": 20})
    return fig
