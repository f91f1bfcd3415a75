"""Widgets: moving a control changes the figure in place; every explorer has a static fallback."""

import matplotlib
import numpy as np
import pytest
import torch
from torch import nn

import lipviz
from lipviz.layers import SOC
from lipviz.viz import compute, widgets

matplotlib.use("Agg")


@pytest.fixture(autouse=True, params=["live", "static"])
def mode(request, monkeypatch):
    """Every test runs live (ipywidgets) and static (the book build: no widget may be built)."""
    import ipywidgets

    built = []
    init = ipywidgets.Widget.__init__

    def counting_init(self, *args, **kwargs):
        built.append(type(self).__name__)
        init(self, *args, **kwargs)

    monkeypatch.setattr(ipywidgets.Widget, "__init__", counting_init)
    if request.param == "static":
        monkeypatch.setenv("LIPVIZ_STATIC", "1")
    else:
        monkeypatch.delenv("LIPVIZ_STATIC", raising=False)
    yield request.param
    if widgets.static_mode():  # (a test may leave static mode on purpose)
        assert built == [], f"static mode built widgets: {built}"


def _shape_x(fig, i=0):
    return fig.layout.shapes[i].x0


def _assert_drawn(result) -> None:
    """The static fallback drew data (lines, bars, scatters or images) on every axes."""
    axes = np.atleast_1d(result).ravel()
    for ax in axes:
        artists = [*ax.lines, *ax.patches, *ax.collections, *ax.images]
        assert artists, f"the static fallback left {ax} empty"


def test_power_iteration_explorer_moves_its_marker():
    conv = nn.Conv2d(2, 3, 3, padding=1)
    ex = widgets.PowerIterationExplorer(conv, (2, 5, 5), max_n_iter=20)
    figure_id = id(ex.figure)
    before = ex.figure.data[3].y[0]
    ex.controls["n_iter"].value = 20
    assert ex.figure.data[3].x[0] == 20 and ex.figure.data[3].y[0] > before
    assert id(ex.figure) == figure_id  # updated in place, not rebuilt
    assert "20 steps" in ex.readout.value
    _assert_drawn(ex.static())


def test_radius_histogram_explorer_moves_eps_and_recounts(linear_classifier):
    model, x, y, _ = linear_classifier
    radii = {"linear": compute.correct_radii(nn.Sequential(model), x, y)}
    ex = widgets.RadiusHistogramExplorer(radii, eps=0.0, max_eps=1.0)
    text0 = ex.readout.value
    ex.controls["eps"].value = 0.5
    assert _shape_x(ex.figure) == 0.5 and ex.readout.value != text0
    frac = float(np.mean(radii["linear"] > 0.5))
    assert f"{100 * frac:.1f}% certified" in ex.readout.value
    _assert_drawn(ex.static())


def test_accuracy_curve_explorer_toggles_kinds(trained_toy):
    x, y = trained_toy.train.x[:40], trained_toy.train.y[:40]
    table = compute.accuracy_vs_eps(trained_toy.model, x, y, [0.0, 0.2], steps=5, box=None)
    ex = widgets.AccuracyCurveExplorer({"toy": table})
    assert all(t.visible is not False for t in ex.figure.data)
    ex.controls["kinds"].value = ("certified",)
    assert [t.visible for t in ex.figure.data] == [False, False, True]
    ex.controls["eps"].value = 0.2
    assert _shape_x(ex.figure) == 0.2
    _assert_drawn(ex.static())


def test_soc_terms_explorer_updates_the_spectrum():
    torch.manual_seed(0)
    soc = SOC(2, 2, 3, bias=False, multiplier=1.0).double()
    ex = widgets.SOCTermsExplorer(soc, (2, 5, 5), max_terms=8)
    few = np.asarray(ex.figure.data[0].x)
    ex.controls["terms"].value = 8
    many = np.asarray(ex.figure.data[0].x)
    assert np.abs(many - 1).max() < np.abs(few - 1).max()  # closer to orthogonal
    bound = ex.table[ex.table.terms == 8].bound.iloc[0]
    assert many.max() <= bound * (1 + 1e-9)  # the circular spectrum obeys the sound bound too
    assert soc.eval_terms == 12  # restored
    _assert_drawn(ex.static())


def test_spectrum_explorer_switches_scale_and_compares_models():
    standard = lipviz.models.create("toy-mlp", hidden=8, depth=1, spectral=False)
    lipnet = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), lipviz.layers.LLN(8, 2))
    ex = widgets.SpectrumExplorer({"standard": standard, "LLN": lipnet}, (2,))
    assert len(ex.figure.data) == 2 and ex.figure.layout.yaxis.type == "log"
    ex.controls["scale"].value = "linear"
    assert ex.figure.layout.yaxis.type == "linear"
    _assert_drawn(ex.static())


def test_lmt_explorer_and_point_explorer(trained_toy):
    model = trained_toy.model
    x, y = trained_toy.train.x[:60], trained_toy.train.y[:60]
    lmt = widgets.LMTMarginExplorer(model, x, y, max_c=0.5, n_grid=11)
    lmt.controls["c"].value = 0.25
    assert _shape_x(lmt.figure) == 0.25 and "c = 0.25" in lmt.readout.value
    _assert_drawn(lmt.static())
    point = widgets.PointCertificateExplorer(
        model, trained_toy.train.extent(), resolution=40, n_directions=90
    )
    radius_before = point.figure.layout.shapes[0].x1 - point.figure.layout.shapes[0].x0
    point.controls["x"].value = point.controls["x"].min + 0.1
    assert point.figure.data[1].x[0] == pytest.approx(point.controls["x"].value)
    radius_after = point.figure.layout.shapes[0].x1 - point.figure.layout.shapes[0].x0
    assert radius_after != pytest.approx(radius_before)
    assert point.state["certified_radius"] <= point.state["true_distance"] + 1e-6
    _assert_drawn(point.static())


def test_training_dashboard_follows_the_trainer():
    from lipviz.train import CrossEntropy, TrainConfig, Trainer

    train, val = lipviz.make_toy("moons", n=100, seed=0), lipviz.make_toy("moons", n=50, seed=1)
    dash = widgets.TrainingDashboard()
    model = lipviz.models.create("toy-mlp", hidden=8, depth=1, spectral=False)
    Trainer(
        model,
        CrossEntropy(),
        TrainConfig(epochs=3, lr=0.05),
        (2,),
        progress=False,
        callbacks=[dash],
    ).fit(train, val)
    assert list(dash.figure.data[0].x) == [1, 2, 3]
    assert "epoch 3" in dash.readout.value
    _assert_drawn(dash.static())


def test_show_uses_the_static_fallback_when_building_the_book(monkeypatch):
    monkeypatch.delenv("LIPVIZ_STATIC", raising=False)
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    ex = widgets.PowerIterationExplorer(nn.Linear(3, 2), (3,), max_n_iter=3)
    monkeypatch.setenv("LIPVIZ_STATIC", "1")
    widgets.show(ex)
    assert shown == []  # static: matplotlib only
    monkeypatch.delenv("LIPVIZ_STATIC")
    widgets.show(ex)
    assert shown == [ex.widget]


def test_local_bound_explorer_moves_eps_and_thresholds():
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Linear(2, 16),
        lipviz.ClippedReLU(16, 0.5),
        nn.Linear(16, 16),
        nn.ReLU(),
        nn.Linear(16, 2),
    ).eval()
    x = torch.rand(24, 2, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        y = net(x).argmax(1)
    ex = widgets.LocalBoundExplorer(net, x, y, eps_values=(0.01, 0.2), threshold_scales=(0.1, 1.0))
    small = list(ex.figure.data[0].y)
    ex.controls["eps"].value = 0.2
    large = list(ex.figure.data[0].y)
    assert sum(large) <= sum(small)  # a larger ball fixes fewer neurons
    assert "local bound" in ex.readout.value and "global" in ex.readout.value
    ex.controls["scale"].value = 0.1
    t = ex.table
    low, high = (t[(t.eps == 0.01) & (t.scale == s)].iloc[0] for s in (0.1, 1.0))
    assert low["fixed:1"] > high["fixed:1"]  # low thresholds saturate more clipped neurons
    assert list(ex.figure.data[0].y) == [100 * ex._row()[c] for c in ex.layers]
    for _, row in t.iterrows():  # local never above global, and certifies at least as much
        assert row.local_mean <= row["global"] * (1 + 1e-9)
        assert row.certified_local >= row.certified_global
    _assert_drawn(ex.static())


def test_static_mode_builds_plain_figures_and_observable_controls(monkeypatch):
    import plotly.graph_objects as go

    monkeypatch.setenv("LIPVIZ_STATIC", "1")
    ex = widgets.PowerIterationExplorer(nn.Linear(3, 2), (3,), max_n_iter=3)
    assert ex.widget is None and type(ex.figure) is go.Figure
    control = ex.controls["n_iter"]
    assert isinstance(control, widgets.StaticControl) and (control.min, control.max) == (1, 3)
    control.value = 3
    assert "3 steps" in ex.readout.value and ex.figure.data[3].x[0] == 3
    with pytest.raises(AttributeError, match="IntSlider"):
        _ = control.no_such_setting
