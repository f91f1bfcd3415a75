"""Bound propagation (IBP, CROWN) against exact oracles: a MILP for l-inf boxes (scipy's HiGHS),
the triangle relaxation's LP, and the exact minimum over a disc of a 2-D network's linear
regions; a convolutional network against its dense twin; the input contract."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from torch import nn

from lipviz import Normalize
from lipviz.bounds.propagation import propagate_bounds
from lipviz.exact.regions import linear_regions


def _mlp(sizes, seed=0, scale=1.0):
    torch.manual_seed(seed)
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=False)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    net = nn.Sequential(*layers)
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(scale)
    return net


def _weights(net):
    return [
        (m.weight.double().detach().numpy(), m.bias.double().detach().numpy())
        for m in net
        if isinstance(m, nn.Linear)
    ]


def _relaxed_program(net, x0, eps, pre, row, integral):
    """min row . f(x) over the box |x - x0|_inf <= eps (in [0, 1]) as the big-M MILP of the
    ReLU network (integral=True: exact) or its LP relaxation (the triangle relaxation), with
    the pre-activation bounds ``pre`` (sound ones: then the MILP is exact)."""
    layers = _weights(net)
    d = len(x0)
    lo_x, hi_x = np.maximum(x0 - eps, 0.0), np.minimum(x0 + eps, 1.0)
    # variables: x, then per hidden layer (z, a, delta)
    sizes = [w.shape[0] for w, _ in layers[:-1]]
    n = d + 3 * sum(sizes)
    lb, ub = np.full(n, -np.inf), np.full(n, np.inf)
    lb[:d], ub[:d] = lo_x, hi_x
    rows, lo_c, hi_c, integrality = [], [], [], np.zeros(n)
    prev, off = np.arange(d), d
    for (w, b), size, (low, up) in zip(layers[:-1], sizes, pre, strict=True):
        z, a, delta = (
            off + np.arange(size),
            off + size + np.arange(size),
            off + 2 * size + np.arange(size),
        )
        off += 3 * size
        lb[z], ub[z] = low, up
        lb[delta], ub[delta] = 0.0, 1.0
        integrality[delta] = 1 if integral else 0
        for i in range(size):
            r = np.zeros(n)  # z_i = w_i . prev + b_i
            r[z[i]], r[prev] = 1.0, -w[i]
            rows.append(r), lo_c.append(b[i]), hi_c.append(b[i])
            if low[i] >= 0:  # active: a = z
                r = np.zeros(n)
                r[a[i]], r[z[i]] = 1.0, -1.0
                rows.append(r), lo_c.append(0.0), hi_c.append(0.0)
                lb[a[i]], ub[a[i]] = 0.0, max(up[i], 0.0)
            elif up[i] <= 0:  # inactive: a = 0
                lb[a[i]], ub[a[i]] = 0.0, 0.0
            else:  # a >= z, a >= 0, a <= z - l (1 - delta), a <= u delta
                lb[a[i]], ub[a[i]] = 0.0, up[i]
                r = np.zeros(n)
                r[a[i]], r[z[i]] = 1.0, -1.0
                rows.append(r), lo_c.append(0.0), hi_c.append(np.inf)
                r = np.zeros(n)
                r[a[i]], r[z[i]], r[delta[i]] = 1.0, -1.0, -low[i]
                rows.append(r), lo_c.append(-np.inf), hi_c.append(-low[i])
                r = np.zeros(n)
                r[a[i]], r[delta[i]] = 1.0, -up[i]
                rows.append(r), lo_c.append(-np.inf), hi_c.append(0.0)
        prev = a
    w, b = layers[-1]
    cost = np.zeros(n)
    cost[prev] = row @ w
    const = float(row @ b)
    constraints = LinearConstraint(np.array(rows), np.array(lo_c), np.array(hi_c))
    if integral:
        res = milp(cost, constraints=constraints, integrality=integrality, bounds=Bounds(lb, ub))
    else:
        a_ub = [r for r, h in zip(rows, hi_c, strict=True) if np.isfinite(h)]
        b_ub = [h for h in hi_c if np.isfinite(h)]
        a_ub += [-r for r, lo in zip(rows, lo_c, strict=True) if np.isfinite(lo)]
        b_ub += [-lo for lo in lo_c if np.isfinite(lo)]
        res = linprog(
            cost, A_ub=np.array(a_ub), b_ub=np.array(b_ub), bounds=list(zip(lb, ub, strict=True))
        )
    assert res.status == 0, res.message
    return float(res.fun) + const


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_linf_bounds_never_exceed_the_exact_milp_and_crown_never_the_triangle_lp(seed):
    net = _mlp([4, 8, 8, 3], seed=seed)
    x = torch.rand(4, 4, generator=torch.Generator().manual_seed(seed))
    eps = 0.15
    crown = propagate_bounds(net, x, eps, method="crown", norm=math.inf, box=(0, 1))
    ibp = propagate_bounds(net, x, eps, method="ibp", norm=math.inf, box=(0, 1))
    pre = [[(lo[n].numpy(), hi[n].numpy()) for lo, hi in crown.pre_activations] for n in range(4)]
    compared = 0
    for n in range(4):
        y = int(crown.target[n])
        for j in range(3):
            if j == y:
                continue
            row = np.zeros(3)
            row[y], row[j] = 1.0, -1.0
            exact = _relaxed_program(net, x[n].double().numpy(), eps, pre[n], row, integral=True)
            lp = _relaxed_program(net, x[n].double().numpy(), eps, pre[n], row, integral=False)
            assert lp <= exact + 1e-7
            assert float(crown.margins[n, j]) <= lp + 1e-7  # CROWN: a dual point of this LP
            assert float(ibp.margins[n, j]) <= float(crown.margins[n, j]) + 1e-12
            compared += 1
    assert compared == 8


def _disc_minimum(g, h, polygon, x0, eps):
    """min of g . x + h over polygon ∩ disc(x0, eps), or inf when they do not meet."""
    values = []
    inside = lambda p: float(np.linalg.norm(p - x0)) <= eps * (1 + 1e-12)  # noqa: E731
    verts = polygon
    for v in verts:
        if inside(v):
            values.append(g @ v + h)
    for a, b in zip(verts, np.roll(verts, -1, axis=0), strict=True):  # edges ∩ circle
        d, f = b - a, a - x0
        qa, qb, qc = d @ d, 2 * f @ d, f @ f - eps * eps
        disc = qb * qb - 4 * qa * qc
        if qa > 0 and disc >= 0:
            for t in ((-qb - math.sqrt(disc)) / (2 * qa), (-qb + math.sqrt(disc)) / (2 * qa)):
                if 0 <= t <= 1:
                    values.append(g @ (a + t * d) + h)
    if np.linalg.norm(g) > 0:  # the disc's own minimiser, if the polygon holds it
        p = x0 - eps * g / np.linalg.norm(g)
        edges = np.roll(verts, -1, axis=0) - verts
        cross = edges[:, 0] * (p - verts)[:, 1] - edges[:, 1] * (p - verts)[:, 0]
        if (cross >= -1e-12).all() or (cross <= 1e-12).all():
            values.append(g @ p + h)
    return min(values, default=math.inf)


@pytest.mark.parametrize("seed", [0, 1])
def test_l2_bounds_never_exceed_the_exact_minimum_over_the_disc(seed):
    """The exact minimum of each margin over disc ∩ [0, 1]^2 from the network's linear
    regions (it is affine on each polygon); IBP <= CROWN <= exact, and CROWN is tight enough
    to certify some inputs at a radius where IBP certifies fewer."""
    net = _mlp([2, 10, 10, 3], seed=seed, scale=2.0).double()
    regions = linear_regions(net, (0.0, 1.0, 0.0, 1.0))
    with torch.no_grad():
        centroids = torch.stack([p.mean(0) for p in regions.polygons])
        offsets = net(centroids) - torch.einsum("noi,ni->no", regions.jacobians, centroids)
    x = torch.rand(12, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    eps = 0.12
    crown = propagate_bounds(net, x, eps, box=(0, 1))
    ibp = propagate_bounds(net, x, eps, method="ibp", box=(0, 1))
    gaps = []
    for n in range(len(x)):
        y = int(crown.target[n])
        for j in range(3):
            if j == y:
                continue
            exact = min(
                _disc_minimum(
                    (jac[y] - jac[j]).numpy(),
                    float(off[y] - off[j]),
                    poly.numpy(),
                    x[n].numpy(),
                    eps,
                )
                for poly, jac, off in zip(regions.polygons, regions.jacobians, offsets, strict=True)
            )
            assert float(ibp.margins[n, j]) <= float(crown.margins[n, j]) + 1e-12
            assert float(crown.margins[n, j]) <= exact + 1e-9
            gaps.append(exact - float(crown.margins[n, j]))
    assert max(gaps) > 1e-3  # the relaxation is not exact here: the oracle can tell


def test_a_convolutional_network_is_bounded_as_its_dense_twin():
    """Normalize -> Conv2d -> ReLU -> Conv2d (stride 2) -> ReLU -> Flatten -> Linear against the
    same map written as Linear layers (the Jacobians of its affine blocks): equal bounds."""
    torch.manual_seed(0)
    conv = nn.Sequential(
        Normalize([0.3], [0.5]),
        nn.Conv2d(1, 3, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(3, 4, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(4 * 3 * 3, 3),
    ).double()
    blocks = [conv[0:2], conv[3:4], conv[5:7]]
    shapes = [(1, 6, 6), (3, 6, 6), (4, 3, 3)]
    dense = []
    for i, (block, shape) in enumerate(zip(blocks, shapes, strict=True)):
        zero = torch.zeros(1, *shape, dtype=torch.float64)
        bias = block(zero).flatten()
        jac = torch.autograd.functional.jacobian(
            lambda a, b=block, s=shape: b(a.view(1, *s)).flatten(), zero.flatten()
        )
        lin = nn.Linear(jac.shape[1], jac.shape[0]).double()
        with torch.no_grad():
            lin.weight.copy_(jac)
            lin.bias.copy_(bias)
        dense += [lin, nn.ReLU()] if i < 2 else [lin]
    twin = nn.Sequential(nn.Flatten(), *dense)
    x = torch.rand(5, 1, 6, 6, dtype=torch.float64)
    with torch.no_grad():
        assert torch.allclose(conv(x), twin(x), atol=1e-12)
    for method in ("ibp", "crown"):
        a = propagate_bounds(conv, x, 0.3, method=method, box=(0, 1))
        b = propagate_bounds(twin, x, 0.3, method=method, box=(0, 1))
        finite = torch.isfinite(a.margins)
        assert torch.allclose(a.margins[finite], b.margins[finite], atol=1e-9)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    eps=st.floats(0.0, 0.5),
    width=st.integers(1, 6),
    method=st.sampled_from(["ibp", "crown"]),
    norm=st.sampled_from([2, math.inf]),
)
def test_no_sampled_point_beats_a_bound(seed, eps, width, method, norm):
    """Fuzz: random networks, radii and inputs; every margin at random points of D (and its
    corners) stays above the propagated bound."""
    net = _mlp([3, width, width, 4], seed=seed, scale=1.5)
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(3, 3, generator=gen)
    bounds = propagate_bounds(net, x, eps, method=method, norm=norm, box=(0, 1))
    d = torch.randn(3, 256, 3, generator=gen, dtype=torch.float64)
    if norm == 2:
        d = (
            d
            / d.norm(dim=2, keepdim=True)
            * eps
            * torch.rand(3, 256, 1, generator=gen, dtype=torch.float64)
        )
    else:
        d = d.sign() * eps
    pts = (x.double()[:, None] + d).clamp(0, 1)
    with torch.no_grad():
        out = net.double()(pts)
    own = out.gather(2, bounds.target[:, None, None].expand(3, 256, 1))
    worst = (own - out).amin(1).scatter(1, bounds.target[:, None], math.inf)
    assert bool((bounds.margins <= worst + 1e-12).all())


def test_crown_is_tighter_than_ibp_and_certifies_more():
    net = _mlp([6, 20, 20, 3], seed=3, scale=2.0)
    x = torch.rand(40, 6, generator=torch.Generator().manual_seed(3))
    more = 0
    for eps in (0.05, 0.1, 0.2, 0.4):
        crown = propagate_bounds(net, x, eps)
        ibp = propagate_bounds(net, x, eps, method="ibp")
        assert bool((crown.margins >= ibp.margins).all())
        assert bool((crown.certified >= ibp.certified).all())
        more += int(crown.certified.sum() - ibp.certified.sum())
        assert all(0 <= f <= 1 for f in crown.unstable())
        assert sum(crown.unstable()) <= sum(ibp.unstable())
    assert more > 0


def test_a_tie_is_never_certified_and_nan_weights_certify_nothing():
    net = nn.Sequential(nn.Linear(2, 2))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0, 0.0], [-1.0, 0.0]]))
        net[0].bias.zero_()
    x = torch.tensor([[0.5, 0.5]])  # f_0 - f_1 = 1 and its gradient has norm 2: radius 0.5
    assert propagate_bounds(net, x, 0.4999).certified.tolist() == [True]
    assert propagate_bounds(net, x, 0.5).certified.tolist() == [False]
    with torch.no_grad():
        net[0].weight[0, 0] = math.nan
    assert propagate_bounds(net, x, 0.1).certified.tolist() == [False]


class _Doubled(nn.Linear):
    def forward(self, x):
        return 2 * super().forward(x)


class _Chain(nn.Sequential):
    def forward(self, x):
        return -super().forward(x)


@pytest.mark.parametrize(
    ("model", "x", "eps", "error", "match"),
    [
        (nn.Sequential(nn.Linear(2, 2), nn.Tanh(), nn.Linear(2, 2)), None, 0.1, TypeError, "Tanh"),
        (nn.Sequential(_Doubled(2, 2)), None, 0.1, TypeError, "_Doubled"),
        (_Chain(nn.Linear(2, 2)), None, 0.1, TypeError, "_Chain"),
        (nn.Sequential(nn.Linear(2, 2)), None, 36.0, ValueError, "input units"),
        (nn.Sequential(nn.Linear(2, 2)), torch.tensor([[math.nan, 0.0]]), 0.1, ValueError, "NaN"),
        (
            nn.Sequential(nn.Linear(2, 2)),
            torch.zeros(1, 2, dtype=torch.float64),
            0.1,
            ValueError,
            "float64",
        ),
        (nn.Sequential(nn.Linear(2, 2)), None, -0.1, ValueError, ">= 0"),
        (nn.Sequential(nn.Linear(2, 2), nn.ReLU()), None, 0.1, ValueError, "affine layer after"),
        (
            nn.Sequential(
                nn.Conv2d(1, 1, 3, padding_mode="reflect", padding=1), nn.Flatten(), nn.Linear(4, 2)
            ),
            torch.zeros(1, 1, 2, 2),
            0.1,
            ValueError,
            "zero padding",
        ),
        (nn.Sequential(nn.Conv2d(1, 1, 1)), torch.zeros(1, 1, 2, 2), 0.1, ValueError, "logits"),
    ],
)
def test_the_input_contract(model, x, eps, error, match):
    x = torch.full((1, 2), 0.5) if x is None else x
    with pytest.raises(error, match=match):
        propagate_bounds(model, x, eps)


def test_unknown_method_norm_and_target_are_refused():
    net = nn.Sequential(nn.Linear(2, 2))
    x = torch.full((1, 2), 0.5)
    with pytest.raises(ValueError, match="method"):
        propagate_bounds(net, x, 0.1, method="alpha-crown")
    with pytest.raises(ValueError, match="norm"):
        propagate_bounds(net, x, 0.1, norm=1)
    with pytest.raises(ValueError, match="target"):
        propagate_bounds(net, x, 0.1, target=torch.tensor([2]))
