"""The exact maximum of a linear function over a ball ∩ box (lipviz.functional.ball_box),
against brute-force maximisers: an exhaustive enumeration of the candidate points in 2-D, and
the primal point of the dual (feasible, and of the same value) in higher dimensions."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from lipviz.functional import ball_box_dual, ball_box_value


def _brute_2d(c, lo, hi, rho) -> float:
    """max c.d over {|d| <= rho} ∩ [lo, hi] in 2-D, by enumeration: the optimum is a box
    corner in the ball, a crossing of a box edge with the circle, or the circle's own
    maximiser rho c/|c| when it lies in the box."""
    cands = [(0.0, 0.0)]
    cands += [(x, y) for x in (lo[0], hi[0]) for y in (lo[1], hi[1])]
    for k, v in itertools.product((0, 1), (lo, hi)):  # edge d_k = v[k] meets the circle
        rest = rho * rho - v[k] ** 2
        if rest >= 0:
            for s in (math.sqrt(rest), -math.sqrt(rest)):
                p = [0.0, 0.0]
                p[k], p[1 - k] = v[k], s
                cands.append(tuple(p))
    n = math.hypot(*c)
    if n > 0:
        cands.append((rho * c[0] / n, rho * c[1] / n))
    best = -math.inf
    for p in cands:
        inside = p[0] ** 2 + p[1] ** 2 <= rho * rho * (1 + 1e-12) + 1e-300
        inbox = all(lo[i] - 1e-12 <= p[i] <= hi[i] + 1e-12 for i in range(2))
        if inside and inbox:
            best = max(best, c[0] * p[0] + c[1] * p[1])
    return best


def _random_problem(gen, n, d, dtype=torch.float64):
    c = torch.randn(n, d, generator=gen, dtype=dtype)
    lo = -torch.rand(n, d, generator=gen, dtype=dtype) * 2
    hi = torch.rand(n, d, generator=gen, dtype=dtype) * 2
    rho = torch.rand(n, generator=gen, dtype=dtype) * 2 + 1e-3
    return c, lo, hi, rho


def test_the_dual_is_the_brute_force_maximum_in_2d():
    gen = torch.Generator().manual_seed(0)
    c, lo, hi, rho = _random_problem(gen, 500, 2)
    c[::7, 0] = 0.0  # a zero coefficient
    hi[::5, 1] = 0.0  # a side of the box on the centre
    lam = ball_box_dual(c, lo, hi, rho)
    value, _ = ball_box_value(c, lo, hi, rho, lam)
    for i in range(len(c)):
        brute = _brute_2d(c[i].tolist(), lo[i].tolist(), hi[i].tolist(), float(rho[i]))
        assert float(value[i]) >= brute - 1e-12  # sound
        assert float(value[i]) <= brute + 1e-9  # and exact


def test_every_lambda_bounds_the_maximum_and_the_best_beats_ball_and_box():
    gen = torch.Generator().manual_seed(1)
    c, lo, hi, rho = _random_problem(gen, 200, 2)
    brute = torch.tensor(
        [
            _brute_2d(c[i].tolist(), lo[i].tolist(), hi[i].tolist(), float(rho[i]))
            for i in range(200)
        ],
        dtype=torch.float64,
    )
    for scale in (1e-6, 0.1, 1.0, 10.0, 1e6):  # weak duality: any lambda > 0
        lam = torch.full((200,), scale, dtype=torch.float64)
        assert (ball_box_value(c, lo, hi, rho, lam)[0] >= brute - 1e-12).all()
    best = ball_box_value(c, lo, hi, rho, ball_box_dual(c, lo, hi, rho))[0]
    ball = rho * c.norm(dim=1)
    box = torch.maximum(c * lo, c * hi).sum(1)
    assert (best <= torch.minimum(ball, box) + 1e-12).all()
    assert (best < torch.minimum(ball, box) - 1e-3).sum() > 20  # strictly tighter, often


@pytest.mark.parametrize("d", [3, 10, 512])
def test_the_primal_point_of_the_dual_is_feasible_and_reaches_the_bound(d):
    """Strong duality, checked: d(lambda*) is feasible and c.d(lambda*) equals g(lambda*), so no
    feasible point does better (any feasible value <= max <= g)."""
    gen = torch.Generator().manual_seed(d)
    c, lo, hi, rho = _random_problem(gen, 64, d)
    rho = rho * math.sqrt(d) / 3  # a ball that cuts the box
    lam = ball_box_dual(c, lo, hi, rho)
    value, _ = ball_box_value(c, lo, hi, rho, lam)
    point = torch.minimum(torch.maximum(c / lam[:, None], lo), hi)
    inside = point.norm(dim=1) <= rho * (1 + 1e-9)
    corner_in_ball = torch.where(c > 0, hi, lo).norm(dim=1) <= rho
    assert (inside | corner_in_ball).all()
    reached = (c * point).sum(1)
    assert torch.allclose(reached, value, rtol=1e-9, atol=1e-9)
    # no random feasible point beats it
    for _ in range(20):
        u = torch.randn(64, d, generator=gen, dtype=torch.float64)
        u = torch.minimum(torch.maximum(u, lo), hi)
        u = u * (rho / u.norm(dim=1).clamp_min(1e-30)).clamp(max=1.0)[:, None]
        assert ((c * u).sum(1) <= value + 1e-9).all()


def test_edge_cases_zero_radius_box_inside_ball_zero_vector_float32():
    c = torch.tensor([[1.0, -2.0]], dtype=torch.float64)
    lo = torch.tensor([[-0.1, -0.1]], dtype=torch.float64)
    hi = torch.tensor([[0.1, 0.1]], dtype=torch.float64)
    for rho, expected in ((0.0, 0.0), (10.0, 0.1 + 0.2)):  # no room; the box's corner wins
        r = torch.tensor([rho], dtype=torch.float64)
        value = ball_box_value(c, lo, hi, r, ball_box_dual(c, lo, hi, r))[0]
        assert abs(float(value) - expected) < 1e-9
    zero = torch.zeros(1, 2, dtype=torch.float64)
    r = torch.tensor([1.0], dtype=torch.float64)
    assert abs(float(ball_box_value(zero, lo, hi, r, ball_box_dual(zero, lo, hi, r))[0])) < 1e-9
    c32 = torch.randn(8, 5, 40)  # the training shape (batch, classes, features), float32
    lo32, hi32 = -torch.rand(8, 1, 40), torch.rand(8, 1, 40)
    r32 = torch.rand(8, 1) + 0.1
    lam = ball_box_dual(c32, lo32, hi32, r32)
    assert lam.dtype == torch.float32 and torch.isfinite(lam).all() and (lam > 0).all()
    value, _ = ball_box_value(c32, lo32, hi32, r32, lam)
    exact, _ = ball_box_value(
        c32.double(),
        lo32.double(),
        hi32.double(),
        r32.double(),
        ball_box_dual(c32.double(), lo32.double(), hi32.double(), r32.double()),
    )
    assert torch.allclose(value.double(), exact, rtol=1e-4, atol=1e-5)
