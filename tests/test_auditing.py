"""Audit, minimal-norm attack, tightness and empirical Lipschitz bounds; exact 2-D regions."""

import math

import pytest
import torch
from torch import nn

import lipviz
from lipviz import auditing as audit_mod
from lipviz.attacks import minimal_l2
from lipviz.auditing import audit, empirical_lipschitz, tightness
from lipviz.exact.regions import linear_regions


def test_minimal_norm_attack_finds_the_closed_form_distance(linear_classifier):
    model, x, y, exact = linear_classifier
    res = minimal_l2(model, x, y, steps=200, box=None)
    assert res.success.all()
    assert (res.distance >= exact * (1 - 1e-4)).all()  # a real adversarial: never below the truth
    assert (res.distance <= exact * 1.02).all()


def test_empirical_lipschitz_of_a_linear_map_is_its_norm(linear_classifier):
    model, x, _, _ = linear_classifier
    found = empirical_lipschitz(model, x[:8], steps=20)
    norm = float(torch.linalg.matrix_norm(model.weight.detach(), 2))
    assert found["jacobian"] == pytest.approx(norm, rel=1e-4)
    assert found["pairs"] == pytest.approx(norm, rel=1e-3)


def test_tightness_on_the_toy(trained_toy):
    frame = tightness(trained_toy.model, trained_toy.shown.x, trained_toy.shown.y, box=None)
    assert frame.attrs["summary"]["violations"] == 0
    ok = frame.attack_distance < math.inf
    assert (frame.certified_radius[ok] <= frame.attack_distance[ok] * (1 + 1e-6)).all()
    assert 0 < frame.attrs["summary"]["median_ratio"] <= 1
    assert {"local_estimate", "ratio", "correct"} <= set(frame.columns)


@pytest.fixture(scope="module")
def smoke_lmt():
    cfg = lipviz.resolve("lmt", "smoke", epochs=2, n_test=200, n_val_eval=200)
    result = lipviz.experiments.run_lmt(cfg, progress=False)
    test = lipviz.load_dataset("mnist5k", "test").subset(150)
    return result.model, test


def test_audit_of_a_smoke_trained_lmt_model_reports_no_violation(smoke_lmt):
    model, test = smoke_lmt
    report = audit(model, test.x, test.y, restarts=3, steps=50, lipschitz_steps=10)
    assert report.certified > 20
    assert report.violations == 0
    assert report.passed
    assert max(report.lipschitz_found.values()) <= report.lipschitz_claimed
    text = repr(report)
    assert "violations inside certified radii" in text and "PASS" in text
    assert "<table" in report._repr_html_()


def test_audit_catches_an_unsound_certificate(smoke_lmt, monkeypatch):
    """Inflate every radius 20x (as an under-estimated Lipschitz constant would): the audit
    must then find violations and fail."""
    model, test = smoke_lmt
    real = audit_mod.Certifier

    class Overconfident(real):
        def __call__(self, x, batch_size=4096):
            cert = super().__call__(x, batch_size)
            return type(cert)(
                cert.radius * 20,
                cert.predicted,
                cert.margin,
                cert.lipschitz / 20,
                cert.sound,
                cert.form,
            )

    monkeypatch.setattr(audit_mod, "Certifier", Overconfident)
    report = audit(model, test.x, test.y, restarts=1, steps=30, lipschitz_steps=5)
    assert report.violations > 0
    assert not report.passed


def test_audit_errors(linear_classifier):
    model, x, y, _ = linear_classifier
    with pytest.raises(ValueError, match="fraction"):
        audit(model, x, y, fraction=1.5)
    with pytest.raises(ValueError, match="labels must have shape"):
        audit(model, x, y[:-1])
    with pytest.raises(ValueError, match="labels must have shape"):
        audit(model, x, y[:, None])


def test_linear_regions_are_exact():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 6), nn.ReLU(), nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))
    regions = linear_regions(net, (-2, 2, -2, 2))
    total = sum(lipviz.exact.regions._area(p) for p in regions.polygons)
    assert total == pytest.approx(16.0)
    x = torch.rand(3000, 2) * 4 - 2
    jac = torch.func.vmap(torch.func.jacrev(net))(x).detach()
    sampled = float(torch.linalg.matrix_norm(jac, 2).max())
    assert sampled <= regions.lipschitz * (1 + 1e-9)
    assert sampled >= 0.9 * regions.lipschitz  # dense sampling gets close to the exact value
    assert regions.lipschitz <= lipviz.lipschitz_bound(net, (2,)).value


def test_one_hidden_layer_region_count():
    torch.manual_seed(1)
    h = 5
    net = nn.Sequential(nn.Linear(2, h), nn.ReLU(), nn.Linear(h, 2))
    regions = linear_regions(net, (-50, 50, -50, 50))
    assert len(regions) <= 1 + h + h * (h - 1) // 2  # cells of an arrangement of h lines
    with pytest.raises(TypeError, match="supports"):
        linear_regions(nn.Sequential(nn.Linear(2, 2), nn.Tanh()))
    with pytest.raises(ValueError, match="2-D"):
        linear_regions(nn.Sequential(nn.Linear(3, 2)))


def test_last_layer_certificates_and_the_topk_trap():
    import torch

    import lipviz
    from lipviz.certify import last_layer_certificates, lln_topk_trap

    model, x = lln_topk_trap(n_classes=20, top_k=9)
    t = last_layer_certificates(model, x, top_k=9)
    # a linear classifier: the all-class pairwise certificate is the exact boundary distance
    assert t.pairwise.iloc[0] == pytest.approx(0.25, rel=1e-9)
    assert t.top_k_overestimates.iloc[0] and t.top_k.iloc[0] > 2 * t.pairwise.iloc[0]
    assert t["global"].iloc[0] <= t.pairwise.iloc[0]
    # the top-k "radius" is broken by an attack; the all-class one is not
    y = torch.tensor(t.predicted.values)
    inside_topk = lipviz.attacks.pgd_l2(model, x, y, eps=0.9 * t.top_k.iloc[0], box=None)
    inside_sound = lipviz.attacks.pgd_l2(model, x, y, eps=0.99 * t.pairwise.iloc[0], box=None)
    assert bool(inside_topk.success[0]) and not bool(inside_sound.success[0])
    # with every class among the top k the two coincide
    full = last_layer_certificates(model, x, top_k=19)
    assert not full.top_k_overestimates.any()
    with pytest.raises(ValueError, match="top_k"):
        lln_topk_trap(n_classes=5, top_k=4)
