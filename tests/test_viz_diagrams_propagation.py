"""The triangle relaxation diagram computes what it draws: valid lines, the hull's area and
CROWN's choice of the lower line (the one lipviz.bounds.propagation uses)."""

import numpy as np
import pytest

from lipviz.viz import diagrams


@pytest.mark.parametrize(("lo", "hi"), [(-1.0, 2.0), (-3.0, 0.5), (-1.0, 1.0)])
def test_the_lines_bound_the_relu_and_crown_takes_the_smaller_region(lo, hi):
    r = diagrams.relu_relaxation(lo, hi)
    z = np.linspace(lo, hi, 1001)
    relu = np.maximum(z, 0)
    upper = r["upper_slope"] * z + r["upper_intercept"]
    assert (upper >= relu - 1e-12).all()
    assert np.isclose(upper[0], 0) and np.isclose(upper[-1], hi)  # the chord of the hull
    for alpha in (0.0, 1.0, r["alpha"]):
        assert (alpha * z <= relu + 1e-12).all()
    # areas by numerical integration of the gaps
    step = z[1] - z[0]
    assert np.isclose(np.trapezoid(upper - relu, dx=step), r["hull_area"], rtol=1e-4)
    assert np.isclose(np.trapezoid(upper, dx=step), r["area_alpha0"], rtol=1e-4)
    assert np.isclose(np.trapezoid(upper - z, dx=step), r["area_alpha1"], rtol=1e-4)
    chosen = r["area_alpha1"] if r["alpha"] else r["area_alpha0"]
    assert chosen == min(r["area_alpha0"], r["area_alpha1"])


def test_a_stable_neuron_is_refused_and_the_figure_draws():
    with pytest.raises(ValueError, match="lo < 0 < hi"):
        diagrams.relu_relaxation(0.5, 2.0)
    ax = diagrams.plot_relu_relaxation(-1.0, 2.0)
    assert len(ax.get_lines()) >= 4 and "CROWN" in " ".join(
        t.get_text() for t in ax.get_legend().get_texts()
    )
