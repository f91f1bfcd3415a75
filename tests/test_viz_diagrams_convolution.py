"""The convolution diagrams (lipviz.viz.diagrams) and the arguments they draw."""

import numpy as np
import pytest
import torch
from torch import nn

from lipviz.exact import exact_operator_norm
from lipviz.functional import conv_singular_values_fft, polyphase_kernel
from lipviz.viz import diagrams as dc


@pytest.mark.parametrize(("n", "k", "p"), [(5, 3, 1), (6, 4, 1), (4, 5, 2), (7, 3, 0)])
def test_padded_grid_reads_agree_on_the_padded_grid_only(n, k, p):
    true, circ = dc.padded_grid_reads(n, k, p, n + 2 * p)
    assert np.array_equal(true, circ)  # no wrap: the padded conv is the circular one, cropped
    if p and k <= n:
        true, circ = dc.padded_grid_reads(n, k, p, n)
        assert (true != circ).any()  # on the unpadded grid the border taps wrap onto pixels
        assert ((true == -1) & (circ >= 0)).any()


def test_padded_grid_reads_match_a_real_convolution():
    """The circular convolution on the padded grid, cropped, is the zero-padded convolution."""
    torch.manual_seed(0)
    n, k, p = 5, 3, 1
    conv = nn.Conv2d(2, 3, k, padding=p, bias=False).double()
    x = torch.randn(1, 2, n, n, dtype=torch.float64)
    big = nn.functional.pad(x, (p, p, p, p))  # embedding in the (n+2p) grid
    circular = nn.functional.conv2d(
        nn.functional.pad(big, (0, k - 1, 0, k - 1), "circular"), conv.weight
    )
    assert torch.allclose(circular[..., : n + 2 * p - k + 1, : n + 2 * p - k + 1], conv(x))


def test_padded_grid_reads_rejects_a_kernel_that_does_not_fit():
    with pytest.raises(ValueError, match="does not fit"):
        dc.padded_grid_reads(3, 5, 0, 3)


def test_polyphase_components_is_a_permutation_and_turns_strides_into_stride_one():
    torch.manual_seed(0)
    x = torch.randn(3, 8, 8, dtype=torch.float64)
    parts = dc.polyphase_components(x.numpy(), 2)
    assert parts.shape == (12, 4, 4)
    assert sorted(parts.ravel().tolist()) == sorted(x.numpy().ravel().tolist())
    w = torch.randn(5, 3, 4, 4, dtype=torch.float64)
    strided = nn.functional.conv2d(x[None], w, stride=2)
    poly = nn.functional.conv2d(torch.from_numpy(parts)[None], polyphase_kernel(w, 2))
    assert torch.allclose(strided, poly)


def test_polyphase_fft_is_the_exact_norm_of_the_strided_circular_convolution():
    torch.manual_seed(1)
    n, s = 6, 2
    w = torch.randn(2, 2, 3, 3, dtype=torch.float64)

    class StridedCircular(nn.Module):
        def forward(self, z):
            wrapped = nn.functional.pad(z, (0, 2, 0, 2), "circular")
            return nn.functional.conv2d(wrapped, w, stride=s)

    exact = exact_operator_norm(StridedCircular(), (2, n, n))
    fft = float(conv_singular_values_fft(polyphase_kernel(w, s), (n // s, n // s)).max())
    assert abs(exact - fft) < 1e-9


def test_polyphase_components_rejects_bad_shapes():
    with pytest.raises(ValueError, match="multiples"):
        dc.polyphase_components(np.zeros((1, 5, 4)), 2)


def test_diagrams_draw_the_grids():
    import matplotlib.pyplot as plt

    axes = dc.plot_padded_grid(5, 3, 1)
    assert len(axes) == 2
    assert len(axes[0].patches) == 25  # the 5x5 unpadded grid
    assert len(axes[1].patches) == 49 + 2 + 1  # the 7x7 grid, two windows, the input frame
    red = [p for p in axes[0].patches if p.get_facecolor()[:3] == (214 / 255, 39 / 255, 40 / 255)]
    assert len(red) == 5  # the wrapped row and column of the top-left 3x3 window
    axes = dc.plot_polyphase(6, 2)
    assert len(axes[0].patches) == 36 and len(axes[1].patches) == 36
    with pytest.raises(ValueError):
        dc.plot_polyphase(5, 2)
    plt.close("all")
