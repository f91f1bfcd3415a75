"""plotly figures (interactive in the browser, no kernel needed; embedded in the built book)."""

from __future__ import annotations

__all__ = ["configure_plotly", "toy_gallery"]


def configure_plotly() -> None:
    """Render plotly figures both live in JupyterLab and embedded (offline) in the built book."""
    import plotly.io as pio

    pio.renderers.default = "plotly_mimetype+notebook"


def toy_gallery(names=("moons", "circles", "spirals", "slab"), n: int = 300, seed: int = 0):
    """A plotly figure with one scatter panel per 2-D toy dataset."""
    from plotly.subplots import make_subplots

    from ..data import make_toy

    fig = make_subplots(rows=1, cols=len(names), subplot_titles=list(names))
    for col, name in enumerate(names, start=1):
        ds = make_toy(name, n=n, seed=seed)
        for c in (0, 1):
            pts = ds.x[ds.y == c].numpy()
            fig.add_scatter(
                x=pts[:, 0], y=pts[:, 1], mode="markers", marker={"size": 4},
                name=f"class {c}", legendgroup=f"class {c}", showlegend=col == 1,
                marker_color=("#1f77b4", "#d62728")[c], row=1, col=col,
            )  # fmt: skip
        fig.update_yaxes(scaleanchor=f"x{col if col > 1 else ''}", row=1, col=col)
    fig.update_layout(height=330, margin={"l": 20, "r": 20, "t": 40, "b": 20})
    return fig
