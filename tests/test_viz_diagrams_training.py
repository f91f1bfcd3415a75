"""The architecture, LMT-shift and CR-gradient diagrams compute what they draw."""

import math

import numpy as np
import torch
from torch.nn.functional import cross_entropy, one_hot

import lipviz
from lipviz.train import LMT, PowerIterationBound
from lipviz.viz import diagrams


def test_layer_shapes_of_lipconvnet_halve_the_resolution_at_each_strided_soc():
    model = lipviz.create_model("lipconvnet", depth=5, init_channels=4)
    shapes = diagrams.layer_shapes(model, (3, 32, 32))
    assert shapes[0] == ("input", (3, 32, 32)) and shapes[-1] == ("LLN", (10,))
    socs = [shape for name, shape in shapes if name == "SOC"]
    assert [s[1] for s in socs] == [16, 8, 4, 2, 1]
    assert model.training  # the mode is restored
    ax = diagrams.plot_architecture(model, (3, 32, 32))
    assert sum("space-to-depth" in t.get_text() for t in ax.texts) == 5


def test_lmt_shift_is_the_objectives_and_the_plot_says_whether_it_certifies():
    torch.manual_seed(0)
    model = lipviz.create_model("lmt-mnist")
    x = torch.rand(4, 1, 28, 28)
    y = torch.tensor([0, 1, 2, 3])
    lip = PowerIterationBound(model, (1, 28, 28)).eval()
    L, _ = lip()
    logits = model(x)
    shifted = torch.stack(
        [
            torch.from_numpy(
                diagrams.lmt_shifted_logits(
                    row.detach().numpy(), int(t), 0.7, math.sqrt(2) * float(L.detach())
                )
            )
            for row, t in zip(logits, y, strict=True)
        ]
    )
    by_hand = cross_entropy(logits + math.sqrt(2) * 0.7 * L * (1 - one_hot(y, 10)), y)
    loss, _ = LMT(c=0.7, form="global")(model, x, y, lip, epoch=10.0)
    assert torch.isclose(cross_entropy(shifted.float(), y), loss, atol=1e-5)
    assert torch.isclose(by_hand, loss, atol=1e-5)
    wins = diagrams.plot_lmt_shift([3.0, 1.0, 0.0], 0, 0.5, 2.0)
    loses = diagrams.plot_lmt_shift([3.0, 2.5, 0.0], 0, 0.5, 2.0)
    assert "certified" in wins.get_title() and "not certified" in loses.get_title()


def test_the_certificate_gradient_matches_finite_differences():
    f = np.array([1.5, 2.7, 0.3, 2.2])
    grad = diagrams.certificate_gradient(f, 1, 0.8, gamma=0.3)
    numeric = np.zeros_like(f)
    term = lambda v: -0.3 * max(0.0, (v[1] - max(np.delete(v, 1))) / (math.sqrt(2) * 0.8))  # noqa: E731
    for j in range(4):
        e = np.eye(4)[j] * 1e-6
        numeric[j] = (term(f + e) - term(f - e)) / 2e-6
    assert np.allclose(grad, numeric, atol=1e-6)
    assert np.count_nonzero(grad) == 2
    ax = diagrams.plot_certificate_gradient(f, 1, 0.8)
    assert "top two" in ax.get_title()
