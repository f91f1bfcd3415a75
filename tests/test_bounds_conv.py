"""Oracle tests for convolution, batch-norm, pooling and block rules: bound >= exact Jacobian
norm on small random instances, estimates converge to the exact value from below."""

import pytest
import torch
from conftest import jacobian_norm
from torch import nn
from torch.func import jacrev

from lipviz.bounds import layer_bound, lipschitz_bound
from lipviz.functional import conv_norm_fft, conv_singular_values_fft, reshaped_kernel_bounds
from lipviz.layers import Concat, GroupSort, MaxMin, Residual

jac_norm = jacobian_norm


def worst_jac(f, shape, n=20, scale=1.0):
    return max(jac_norm(f, scale * torch.randn(*shape, dtype=torch.float64)) for _ in range(n))


CONVS = [
    # (c_in, c_out, kernel, stride, padding, dilation, groups, n)
    (3, 4, 3, 1, 1, 1, 1, 6),
    (2, 4, 4, 2, 1, 1, 1, 7),
    (4, 4, 3, 1, 0, 2, 2, 8),
    (6, 6, 3, 2, 2, 2, 3, 9),
    (3, 8, 1, 1, 0, 1, 1, 5),
    (2, 3, 5, 3, 2, 1, 1, 8),
    (3, 3, 3, 1, "same", 1, 1, 6),
    (4, 2, (3, 1), (2, 1), (1, 0), 1, 2, 6),
]


@pytest.mark.parametrize("cfg", CONVS, ids=lambda c: "-".join(map(str, c)))
def test_conv_sound_bound_and_estimate_against_exact(cfg):
    c_in, c_out, k, s, p, d, g, n = cfg
    conv = nn.Conv2d(c_in, c_out, k, stride=s, padding=p, dilation=d, groups=g).double()
    exact = jac_norm(conv, torch.randn(c_in, n, n, dtype=torch.float64))
    sound = layer_bound(conv, (c_in, n, n), "sound")
    assert sound.sound and sound.value >= exact * (1 - 1e-9)
    for name, value in reshaped_kernel_bounds(conv.weight, s, d, g).items():
        assert value >= exact * (1 - 1e-9), name
    est = layer_bound(conv, (c_in, n, n), "estimate", n_iter=2000)
    assert not est.sound
    assert est.value <= exact * (1 + 1e-9)
    assert est.value == pytest.approx(exact, rel=1e-3)  # slow when top sigmas are close


def test_fft_is_exact_for_circular_convolution():
    conv = nn.Conv2d(2, 3, 3, padding=1, padding_mode="circular", bias=False).double()
    exact = jac_norm(conv, torch.randn(2, 6, 6, dtype=torch.float64))
    # circular padding on an n x n grid is exactly the circular convolution on that grid
    assert float(conv_singular_values_fft(conv.weight, (6, 6)).max()) == (
        pytest.approx(exact, rel=1e-9)
    )
    # ... and the layer's sound bound uses it (the folded circular bound, exact here)
    assert layer_bound(conv, (2, 6, 6)).value == pytest.approx(exact, rel=1e-9)


@pytest.mark.parametrize("padding_mode", ["circular", "reflect", "replicate"])
@pytest.mark.parametrize(
    "options",
    [
        {"padding": 1},
        {"padding": 2, "stride": 2},
        {"padding": (1, 2), "dilation": 2},
        {"padding": "same"},
        {"padding": 1, "groups": 2},
        {"padding": 3, "stride": (1, 2)},
    ],
)
def test_non_zero_padding_modes_are_bounded_soundly(padding_mode, options):
    torch.manual_seed(0)
    conv = nn.Conv2d(2, 4, 3, padding_mode=padding_mode, bias=False, **options).double()
    for shape in [(2, 6, 7), (2, 4, 5)]:
        if padding_mode == "reflect" and max(_pad(options)) >= min(shape[1:]):
            continue  # reflect padding needs padding < size (torch refuses it too)
        exact = jac_norm(conv, torch.randn(*shape, dtype=torch.float64))
        bound = layer_bound(conv, shape)
        assert bound.sound and bound.value >= exact * (1 - 1e-9), (bound, exact)
        assert layer_bound(conv, shape, "estimate", n_iter=300).value <= exact * (1 + 1e-9)


def _pad(options):
    pad = options["padding"]
    return (1, 1) if pad == "same" else (pad, pad) if isinstance(pad, int) else pad


def test_polyphase_stride_bound_is_tighter_than_stride_one():
    conv = nn.Conv2d(1, 16, 4, stride=2, padding=1, bias=False).double()
    exact = jac_norm(conv, torch.randn(1, 14, 14, dtype=torch.float64))
    strided = conv_norm_fft(conv.weight, (14, 14), padding=1, stride=2)
    unstrided = conv_norm_fft(conv.weight, (14, 14), padding=1)
    assert exact <= strided * (1 + 1e-9) < unstrided


def test_conv_shape_errors():
    conv = nn.Conv2d(3, 4, 3)
    with pytest.raises(ValueError, match="expects inputs"):
        layer_bound(conv, (2, 8, 8))
    with pytest.raises(ValueError, match="larger than the grid"):
        conv_singular_values_fft(conv.weight, (2, 2))


def _bn(c, seed=0):
    torch.manual_seed(seed)
    bn = nn.BatchNorm2d(c).double()
    with torch.no_grad():
        bn.weight.uniform_(-2, 2)
        bn.running_var.uniform_(0.1, 2)
        bn.running_mean.uniform_(-1, 1)
    return bn.eval()


def test_batchnorm_eval_bound_is_exact():
    bn = _bn(4)
    exact = jac_norm(bn, torch.randn(4, 3, 3, dtype=torch.float64))
    assert layer_bound(bn, (4, 3, 3)).value == pytest.approx(exact, rel=1e-9)
    bn1 = nn.BatchNorm1d(5, track_running_stats=False)
    with pytest.raises(ValueError, match="running statistics"):
        layer_bound(bn1, (5,))


def test_conv_bn_fused_is_sound_and_tighter_than_the_product():
    conv = nn.Conv2d(3, 4, 3, padding=1).double()
    bn = _bn(4, seed=1)
    model = nn.Sequential(conv, bn)
    exact = jac_norm(model.eval(), torch.randn(3, 6, 6, dtype=torch.float64))
    bound = lipschitz_bound(model, (3, 6, 6))
    product = layer_bound(conv, (3, 6, 6)).value * layer_bound(bn, (4, 6, 6)).value
    assert len(bound.table) == 1 and "fused" in bound.table.method[0]
    assert exact <= bound.value * (1 + 1e-9)
    assert bound.value < product


POOLS = [
    nn.MaxPool2d(2),
    nn.MaxPool2d(3, stride=1, padding=1),
    nn.MaxPool2d(3, stride=2),
    nn.MaxPool2d(2, stride=1, dilation=2),
    nn.AvgPool2d(2),
    nn.AvgPool2d(3, stride=1, padding=1),
    nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
    nn.AvgPool2d(3, stride=2, ceil_mode=True),
    nn.AdaptiveAvgPool2d(1),
]


@pytest.mark.parametrize("pool", POOLS, ids=repr)
def test_pooling_bounds_dominate_jacobians_and_pairs(pool):
    shape = (2, 7, 7)
    bound = layer_bound(pool, shape).value
    assert worst_jac(pool, shape) <= bound * (1 + 1e-9)
    x1 = torch.randn(500, *shape, dtype=torch.float64)
    x2 = x1 + 0.3 * torch.randn_like(x1)
    ratio = (pool(x1) - pool(x2)).flatten(1).norm(dim=1) / (x1 - x2).flatten(1).norm(dim=1)
    assert float(ratio.max()) <= bound * (1 + 1e-9)


def test_maxpool_overlap_bound_is_attained():
    """A stride-1 3x3 max-pool can copy one input into 9 outputs: sqrt(9) is tight."""
    pool = nn.MaxPool2d(3, stride=1, padding=1)
    x = torch.zeros(1, 7, 7, dtype=torch.float64)
    x[0, 3, 3] = 1.0
    assert jac_norm(pool, x) == pytest.approx(3.0)
    assert layer_bound(pool, (1, 7, 7)).value == pytest.approx(3.0)


@pytest.mark.parametrize("act", [MaxMin(), GroupSort(3), GroupSort(2)], ids=repr)
def test_groupsort_is_one_lipschitz_and_norm_preserving(act):
    assert layer_bound(act, (6, 2, 2)).value == 1.0
    x = torch.randn(6, 2, 2, dtype=torch.float64)
    jac = jacrev(lambda v: act(v[None]).flatten())(x).reshape(24, 24)
    sv = torch.linalg.svdvals(jac)
    assert torch.allclose(sv, torch.ones_like(sv))  # a permutation: gradient-norm-preserving


def test_residual_and_concat_blocks():
    torch.manual_seed(0)
    block = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1),
        Residual(nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 1))),
        Concat(nn.Conv2d(4, 2, 3, padding=1), nn.AvgPool2d(3, stride=1, padding=1)),
        nn.Flatten(),
        nn.Linear(6 * 5 * 5, 3),
    ).double()
    bound = lipschitz_bound(block, (2, 5, 5))
    assert bound.sound
    assert worst_jac(block, (2, 5, 5), n=10) <= bound.value
    t = bound.table
    res = t[t.type == "Residual"].bound.iloc[0]
    branch = t[t.layer.str.startswith("1.branch")].bound.prod()
    assert res == pytest.approx(branch + 1.0)
    cat = t[t.type == "Concat"].bound.iloc[0]
    inner = t[t.layer.str.startswith("2.")].bound.tolist()
    assert cat == pytest.approx(sum(v * v for v in inner) ** 0.5)
    assert bound.value == pytest.approx(t[t.depth == 0].bound.prod())


def test_lmt_style_network_estimate_below_sound():
    model = nn.Sequential(
        nn.Conv2d(1, 4, 4, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(4, 8, 4, stride=2, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(8 * 3 * 3, 10),
    )
    sound = lipschitz_bound(model, (1, 12, 12))
    est = lipschitz_bound(model, (1, 12, 12), mode="estimate", n_iter=200)
    assert est.value <= sound.value
    x1, x2 = torch.rand(300, 1, 12, 12), torch.rand(300, 1, 12, 12)
    with torch.no_grad():
        ratio = (model(x1) - model(x2)).norm(dim=1) / (x1 - x2).flatten(1).norm(dim=1)
    assert float(ratio.max()) <= sound.value
