"""Local Lipschitz bounds (lipviz.bounds.local) and local certificates against oracles: dense
Jacobians at sampled points of each ball, sampled pairs, the global bound, PGD."""

import math

import pytest
import torch
from conftest import jacobian_norm
from torch import nn

import lipviz
from lipviz.bounds.local import local_walk
from lipviz.layers import ClippedMaxMin, ClippedReLU, MaxMin


def _ball_samples(x, eps, n, gen):
    d = torch.randn((n, *x.shape), generator=gen, dtype=x.dtype)
    d = d / d.flatten(1).norm(dim=1).view(-1, *([1] * x.dim()))
    r = torch.rand(n, generator=gen, dtype=x.dtype) ** (1 / x.numel())
    return x + eps * r.view(-1, *([1] * x.dim())) * d


def _dense_net():
    torch.manual_seed(0)
    return nn.Sequential(
        lipviz.Normalize([0.5] * 4, [0.25, 0.5, 0.5, 1.0]),
        nn.Linear(4, 16),
        nn.ReLU(),
        nn.Linear(16, 16),
        ClippedReLU(16, 0.8),
        nn.Linear(16, 8),
        MaxMin(),
        nn.Linear(8, 3),
    )


def _conv_net():
    torch.manual_seed(1)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        ClippedMaxMin((4, 6, 6), 0.3, -0.3),
        nn.Conv2d(4, 4, 4, stride=2, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(36, 3),
    )


@pytest.mark.parametrize(
    ("make", "shape", "eps"), [(_dense_net, (4,), 0.1), (_conv_net, (1, 6, 6), 0.2)]
)
def test_sound_local_bound_dominates_jacobians_and_pairs_in_the_ball(make, shape, eps):
    net = make().eval()
    gen = torch.Generator().manual_seed(0)
    x = torch.rand((5, *shape), generator=gen)
    local = lipviz.local_lipschitz_bound(net, x, eps)
    glob = lipviz.lipschitz_bound(net, shape).value
    assert local.sound and local.values.shape == (5,)
    assert (local.values <= glob * (1 + 1e-9)).all()  # never above the global bound
    for i in range(len(x)):
        pts = _ball_samples(x[i], eps, 30, gen)
        worst = max(jacobian_norm(net, p) for p in pts)
        assert worst <= local.values[i] * (1 + 1e-6)
        with torch.no_grad():
            out = net(pts)
        dist = (pts[:, None] - pts[None]).flatten(2).norm(dim=2)
        ratio = (out[:, None] - out[None]).norm(dim=2) / dist.clamp_min(1e-12)
        assert ratio.max() <= local.values[i] * (1 + 1e-6)
    estimate = lipviz.local_lipschitz_bound(net, x, eps, "estimate", n_iter=200)
    assert not estimate.sound
    assert (estimate.values <= local.values * (1 + 1e-6)).all()


def test_cached_conv_factors_follow_in_place_weight_changes():
    from lipviz.bounds.local import _norms as local_norms

    net = _conv_net().eval()
    x = torch.rand((3, 1, 6, 6), generator=torch.Generator().manual_seed(0))
    before = lipviz.local_lipschitz_bound(net, x, 0.2).values
    with torch.no_grad():
        net[0].weight.mul_(2.0)  # the same tensor, new values: a new cache key
    after = lipviz.local_lipschitz_bound(net, x, 0.2).values
    local_norms._FFT_NORMS.clear()
    assert torch.equal(after, lipviz.local_lipschitz_bound(net, x, 0.2).values)
    assert not torch.allclose(after, before)


def test_neurons_called_fixed_never_change_on_the_ball():
    net = _dense_net().eval()
    gen = torch.Generator().manual_seed(1)
    x, eps = torch.rand((6, 4), generator=gen), 0.15
    _, _, st = local_walk(net, x, eps)
    relu_varies = st.fixed[0]["varies"]  # after net[2]
    assert (~relu_varies).any()  # the test must see fixed neurons
    for i in range(len(x)):
        pts = _ball_samples(x[i], eps, 200, gen)
        with torch.no_grad():
            centre, h = net[:3](x[i : i + 1]), net[:3](pts)
        fixed = ~relu_varies[i]
        assert torch.equal(h[:, fixed], centre[:, fixed].expand(len(pts), -1))


def test_locally_certified_points_resist_pgd_and_beat_the_global_radius():
    net = _dense_net().eval()
    gen = torch.Generator().manual_seed(2)
    x = torch.rand((40, 4), generator=gen)
    radii = lipviz.local_certified_radius(net, x, eps_max=1.0, steps=10)
    glob = lipviz.certified_radius(net, x)
    assert radii.sound and radii.form == "local"
    assert (radii.radius >= glob.radius * (1 - 1e-6)).sum() >= 0.9 * len(x)
    ok = radii.radius > 0
    assert ok.any()
    with torch.no_grad():
        pred = net(x).argmax(1)
    attack = lipviz.pgd_l2(
        net, x[ok], pred[ok], radii.radius[ok].float(), steps=100, restarts=3, box=None
    )
    assert not attack.success.any()
    # walks in chunks certify exactly what one walk over the batch certifies
    eps = torch.linspace(0.01, 0.5, len(x))
    whole = lipviz.local_certified(net, x, eps, batch_size=len(x))
    assert torch.equal(lipviz.local_certified(net, x, eps, batch_size=7), whole)


def test_certified_accuracy_with_the_local_method():
    net = _dense_net().eval()
    x = torch.rand(20, 4, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        y = net(x).argmax(1)
    table = lipviz.certified_accuracy(net, x, y, [0.0, 0.01, 0.05], method="local")
    assert list(table.columns) == ["eps", "certified_accuracy", "kind"]
    acc = table.certified_accuracy.tolist()
    assert acc[0] == 1.0 and acc[0] >= acc[1] >= acc[2]
    assert table.kind.iloc[0] == "certified (local)"


def test_bad_input_gets_a_clear_error():
    net = _dense_net().eval()
    x = torch.rand(3, 4)
    with pytest.raises(ValueError, match="eps"):
        lipviz.local_lipschitz_bound(net, x, -0.1)
    with pytest.raises(ValueError, match="input units"):
        lipviz.local_lipschitz_bound(net, x, 36.0)
    with pytest.raises(ValueError, match="mode"):
        lipviz.local_lipschitz_bound(net, x, 0.1, mode="exact")
    with pytest.raises(TypeError, match="No local bound rule for Tanh"):
        lipviz.local_lipschitz_bound(nn.Sequential(nn.Linear(4, 3), nn.Tanh()), x, 0.1)
    block = nn.Sequential(lipviz.Residual(nn.Linear(4, 4)), nn.Linear(4, 2))
    with pytest.raises(TypeError, match="branches"):
        lipviz.local_lipschitz_bound(block, x, 0.1)
    with pytest.raises(ValueError, match=r"nn\.Linear"):
        lipviz.local_certified(nn.Sequential(nn.Linear(4, 3), nn.ReLU()), x, 0.1)


def test_clipped_activations_are_1_lipschitz_and_export_plain(dense_jacobian_norm):
    act = ClippedReLU(6, 0.5)
    x = torch.randn(20, 6, dtype=torch.float64)
    assert dense_jacobian_norm(act.double(), x) <= 1.0
    assert lipviz.layer_bound(act, (6,)).value == 1.0
    mm = ClippedMaxMin(6, 0.4, -0.4).double()
    assert dense_jacobian_norm(mm, x) <= 1.0 + 1e-12
    assert lipviz.to_plain(nn.Sequential(act, mm))[1] is not mm  # a copy, plain
    act.theta.data.fill_(-1.0)
    act.project_()
    assert (act.theta >= 0).all()
    with pytest.raises(ValueError, match="even"):
        ClippedMaxMin(5)


def test_sound_local_bound_dominates_the_exact_constant_on_the_disc():
    from lipviz.exact import ball_lipschitz

    torch.manual_seed(3)
    net = nn.Sequential(
        nn.Linear(2, 12), nn.ReLU(), nn.Linear(12, 12), nn.ReLU(), nn.Linear(12, 3)
    ).double()
    glob = lipviz.lipschitz_bound(net, (2,)).value
    x = torch.tensor([[0.3, -0.2], [1.5, 1.0], [-2.0, 0.5]], dtype=torch.float64)
    smallest = None
    for eps in (0.05, 0.3, 1.0):
        local = lipviz.local_lipschitz_bound(net, x, eps).values
        smallest = local if smallest is None else smallest
        for i in range(len(x)):
            exact = ball_lipschitz(net, x[i], eps)
            assert 0 < exact <= local[i] * (1 + 1e-9) and local[i] <= glob * (1 + 1e-9)
    # on small discs most neurons are fixed: the masks must cut the bound well below the
    # global one (0.24-0.49 against 1.59 here; the exact constants are 0.06-0.19)
    assert (smallest < 0.5 * glob).all()


def test_training_walk_skips_the_first_ibp_pass_without_changing_the_loss():
    # a training walk on the input ball's own box takes the ball's box after the first layer
    # (||w||_2 <= ||w||_1); a traced walk makes the full IBP pass: same boxes, same gradients
    from lipviz.bounds.local import local_walk

    model = lipviz.create_model("4c3f", activation="clipped-relu", normalize=None).double()
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(4, 1, 28, 28, generator=gen, dtype=torch.float64)
    results = []
    for trace in (False, True):
        _, _, st = local_walk(model, x, 0.5, mode="estimate", n_iter=2, grad=True, trace=trace)
        total = st.lo.sum() + st.hi.sum() + st.mu.sum()
        results.append(
            (st.lo.detach(), st.hi.detach(), torch.autograd.grad(total, list(model.parameters())))
        )
    (lo_a, hi_a, g_a), (lo_b, hi_b, g_b) = results
    assert torch.allclose(lo_a, lo_b, atol=1e-10) and torch.allclose(hi_a, hi_b, atol=1e-10)
    for a, b in zip(g_a, g_b, strict=True):
        assert torch.allclose(a, b, atol=1e-8, rtol=1e-6)


def test_float32_estimates_start_where_float64_ones_do():
    # certification walks iterate their estimates in float32 from float64 start vectors: the
    # same estimate as a float64 iteration, up to float32 rounding
    from lipviz.bounds.local import masked_norms

    conv = nn.Conv2d(3, 8, 3, stride=2, padding=1).double()
    gen = torch.Generator().manual_seed(0)
    cols = torch.rand(5, 3, 9, 9, generator=gen) > 0.3
    rows = torch.rand(5, 8, 5, 5, generator=gen) > 0.3
    args = (conv, (3, 9, 9), cols, rows)
    exact, _ = masked_norms(*args, sound=False, dtype=torch.float64, n_iter=3)
    fast, _ = masked_norms(
        *args, sound=False, dtype=torch.float32, n_iter=3, start_dtype=torch.float64
    )
    drawn, _ = masked_norms(*args, sound=False, dtype=torch.float32, n_iter=3)
    assert fast.dtype == torch.float32
    assert torch.allclose(fast.double(), exact, rtol=1e-5)
    sound, _ = masked_norms(*args, sound=True)
    assert (fast.double() <= sound * (1 + 1e-5)).all()
    # 3 steps are far from converged: a start drawn in float32 lands elsewhere
    assert not torch.allclose(drawn.double(), exact, rtol=1e-3)


def _dense_matrix(op, in_shape) -> torch.Tensor:
    n = math.prod(in_shape)
    return op(torch.eye(n, dtype=torch.float64).view(n, *in_shape)).flatten(1).T  # (out, in)


@pytest.mark.parametrize("stride", [1, 2])
def test_sound_conv_factors_bound_the_exact_masked_norm_and_reach_it_on_channels(stride):
    """The sound conv factor against the SVD of the dense masked matrix: never below it under
    element masks, and equal to it (up to its rounding term) when the masks are whole
    channels, where the FFT bound alone is looser (boundary effects of the finite grid)."""
    from lipviz.bounds.conv import conv_linear_op
    from lipviz.bounds.local import masked_norms
    from lipviz.functional import conv_norm_fft

    gen = torch.Generator().manual_seed(stride)
    conv = nn.Conv2d(3, 4, 3, stride=stride, padding=1).double()
    with torch.no_grad():
        conv.weight.copy_(torch.randn(conv.weight.shape, generator=gen, dtype=torch.float64))
    in_shape = (3, 6, 6)
    out_shape = conv(torch.zeros(1, *in_shape, dtype=torch.float64)).shape[1:]
    matrix = _dense_matrix(conv_linear_op(conv, conv.weight.detach()), in_shape)
    cols = torch.rand((5, *in_shape), generator=gen) < 0.7  # element masks, one per input
    rows = torch.rand((5, *out_shape), generator=gen) < 0.7
    cols[0, 1], rows[0, 2] = False, False  # whole channels off in the first input
    sound, method = masked_norms(conv, in_shape, cols, rows, sound=True)
    assert "exact" in method
    for i in range(5):
        sub = matrix[rows[i].flatten()][:, cols[i].flatten()]
        exact = torch.linalg.matrix_norm(sub, ord=2)
        assert float(sound[i]) >= float(exact)
    # channel masks: the factor is the exact norm of the restricted convolution (new weights:
    # a set inside one already computed for the same weights would reuse that set's norm)
    with torch.no_grad():
        conv.weight.mul_(1.5)
    matrix = matrix * 1.5
    c_in, c_out = torch.tensor([True, False, True]), torch.tensor([True, True, False, True])
    cols = c_in[:, None, None].expand(in_shape)[None].clone()
    rows = c_out[:, None, None].expand(out_shape)[None].clone()
    sound, _ = masked_norms(conv, in_shape, cols, rows, sound=True)
    exact = torch.linalg.matrix_norm(matrix[rows[0].flatten()][:, cols[0].flatten()], ord=2)
    assert float(exact) <= float(sound[0]) <= float(exact) * (1 + 1e-9)
    kernel = conv.weight.detach() * c_out[:, None, None, None] * c_in[None, :, None, None]
    fft = conv_norm_fft(kernel, in_shape[1:], conv.padding, conv.dilation, 1, conv.stride)
    assert float(fft) > float(exact) * (1 + 1e-3)  # what the exact norm gains here


def test_fft_only_conv_factors_stay_sound_and_never_below_the_exact_ones(monkeypatch):
    """``exact_convs=False`` (a training run's validation) skips the eigenproblems: its conv
    factors are the channel-masked FFT bounds, above the dense masked norm and the default
    factors, and a ball it certifies the default walk certifies too."""
    from lipviz.bounds.conv import conv_linear_op
    from lipviz.bounds.local import _norms as local_norms
    from lipviz.bounds.local import masked_norms

    gen = torch.Generator().manual_seed(3)
    conv = nn.Conv2d(3, 4, 3, padding=1).double()
    with torch.no_grad():
        conv.weight.copy_(torch.randn(conv.weight.shape, generator=gen, dtype=torch.float64))
    in_shape = (3, 6, 6)
    matrix = _dense_matrix(conv_linear_op(conv, conv.weight.detach()), in_shape)
    cols = torch.rand((4, *in_shape), generator=gen) < 0.7
    rows = torch.rand((4, 4, 6, 6), generator=gen) < 0.7
    exact, _ = masked_norms(conv, in_shape, cols, rows, sound=True)

    def no_eigenproblem(*args):
        raise AssertionError("an eigenproblem was solved")

    monkeypatch.setattr(local_norms, "_conv_gram_norm", no_eigenproblem)
    fft, method = masked_norms(conv, in_shape, cols, rows, sound=True, exact_convs=False)
    assert method == "FFT on the active channels"
    for i in range(4):
        dense = torch.linalg.matrix_norm(matrix[rows[i].flatten()][:, cols[i].flatten()], ord=2)
        assert float(fft[i]) >= float(exact[i]) >= float(dense)
    net = _conv_net().eval()
    x = torch.rand((16, 1, 6, 6), generator=gen)
    fast = lipviz.local_certified(net, x, 0.05, exact_convs=False)
    monkeypatch.undo()
    assert not (fast & ~lipviz.local_certified(net, x, 0.05)).any()
