"""Latency from a slider move to the updated figure, for each explorer (CPU-sized defaults).

A slider move runs the explorer's observer synchronously in the kernel: it recomputes what
changes and rewrites the FigureWidget inside one batch_update. The figure is measured from
setting the control value until the observer returns (the browser's re-render comes on top).
Target: under 200 ms per move.
"""

import time

import numpy as np
import torch
from torch import nn

import lipviz
from lipviz.layers import SOC
from lipviz.viz import compute, widgets


def move_ms(control, values, repeats=3):
    times = []
    for _ in range(repeats):
        for v in values:
            start = time.perf_counter()
            control.value = v
            times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times)), 1000 * float(np.max(times))


def main():
    torch.manual_seed(0)
    toy = lipviz.experiments.run_margins2d(lipviz.resolve("margins2d", "smoke"), progress=False)
    test = lipviz.load_dataset("mnist5k", "test").subset(200)
    lmt_model = lipviz.models.create("lmt-mnist").eval()
    lipnet = lipviz.models.create(
        "lipconvnet", in_channels=1, input_size=28, init_channels=8
    ).eval()
    radii = {
        "lmt-mnist": compute.correct_radii(lmt_model, test.x, test.y),
        "lipconvnet": compute.correct_radii(lipnet, test.x, test.y),
    }
    x, y = toy.train.x[:100], toy.train.y[:100]
    table = compute.accuracy_vs_eps(toy.model, x, y, [0.0, 0.1, 0.2, 0.3], steps=10, box=None)
    curves = {"toy": table}
    conv = next(m for m in lmt_model.modules() if isinstance(m, nn.Conv2d))
    cases = {
        "point_2d": (
            widgets.PointCertificateExplorer(toy.model, toy.train.extent()),
            "x",
            np.linspace(-1.0, 1.5, 8),
        ),
        "radius_histogram": (
            widgets.RadiusHistogramExplorer(radii, max_eps=1.0),
            "eps",
            np.linspace(0.05, 1.0, 8),
        ),
        "accuracy_vs_eps": (widgets.AccuracyCurveExplorer(curves), "eps", np.linspace(0.0, 0.3, 8)),
        "power_iteration": (
            widgets.PowerIterationExplorer(conv, (1, 10, 10), 40),
            "n_iter",
            range(2, 40, 5),
        ),
        "soc_terms": (
            widgets.SOCTermsExplorer(SOC(4, 4, 3, bias=False).double(), (4, 6, 6)),
            "terms",
            range(1, 13, 2),
        ),
        "lmt_c": (
            widgets.LMTMarginExplorer(lmt_model, test.x, test.y),
            "c",
            np.linspace(0.1, 2.0, 8),
        ),
        "spectrum_scale": (
            widgets.SpectrumExplorer({"lmt": lmt_model, "soc": lipnet}, (1, 28, 28)),
            "scale",
            ["linear", "log"],
        ),
    }
    for name, (explorer, control, values) in cases.items():
        median, worst = move_ms(explorer.controls[control], list(values))
        print(
            f"RESULT {name}.slider_to_figure_ms {median:.1f} ms median; max {worst:.1f} ms "
            f"(target < 200)"
        )


if __name__ == "__main__":
    main()
