"""A randomized soundness fuzzer (Hypothesis): random architectures from every supported layer,
composite and option, each checked against exact references.

On every draw that lipviz accepts:

- the sound bound is >= the exact Jacobian norm at random points and >= the ratio
  ||f(a) - f(b)|| / ||a - b|| of random pairs;
- no certified radius exceeds the distance a minimal-norm attack (DDN) finds, and PGD inside
  a certified radius never changes the prediction;
- no call changes a module's mode, a parameter, a buffer or the inputs.

Some draws carry something lipviz must refuse (a forward hook, an unknown pre-hook, an
unregistered layer, a subclass overriding ``forward``, a broadcasting residual, an in-place
operation aliasing a shortcut, concatenation along the batch): those must raise a clear error.

``make test`` runs a fast, derandomized profile; ``pytest -m slow -k fuzz -s`` runs the long one
(``LIPVIZ_FUZZ_EXAMPLES``, default 5000) and prints how many models it tried.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field

import pytest
import torch
from conftest import jacobian_norm
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn.utils import parametrizations

import lipviz
from lipviz.layers import LLN, SOC, Concat, GroupSort, Householder, Householder2, MaxMin, Residual

REFUSALS = ["hook", "prehook", "unknown", "override", "broadcast", "inplace", "batchdim"]
DENSE_OPS = ["linear", "act", "bn", "normalize", "residual", "concat", "shared", "gnp"]
CONV_OPS = [
    "conv",
    "conv",
    "act",
    "bn",
    "avgpool",
    "maxpool",
    "adaptive",
    "zeropad",
    "soc",
    "normalize",
    "residual",
    "concat",
    "gnp",
]


class QuietLinear(nn.Linear):
    """A subclass that computes exactly what nn.Linear computes (accepted)."""

    def extra_repr(self) -> str:
        return "quiet"


class DoubledLinear(nn.Linear):
    """A subclass that overrides forward without a rule of its own (refused)."""

    def forward(self, x):
        return 2 * super().forward(x)


@dataclass
class Draw:
    """A model under construction and what was drawn (for Hypothesis' failure report)."""

    data: object
    gen: torch.Generator
    layers: list = field(default_factory=list)
    log: list = field(default_factory=list)
    linears: dict = field(default_factory=dict)  # (in, out) -> a Linear, for weight sharing

    def pick(self, label, strategy):
        value = self.data.draw(strategy, label=label)
        self.log.append((label, value))
        if isinstance(value, str):
            event(f"{label}: {value}")  # coverage, shown by --hypothesis-show-statistics
        return value

    def randn(self, *shape, scale=1.0):
        return scale * torch.randn(*shape, generator=self.gen)

    def rand(self, *shape, low=0.0, high=1.0):
        return low + (high - low) * torch.rand(*shape, generator=self.gen)


def _randomize(d: Draw, module: nn.Module) -> nn.Module:
    """Random weights of random scale, and random running statistics (eval-mode BN)."""
    scale = d.pick("weight scale", st.sampled_from([0.3, 1.0, 2.0]))
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith("theta"):
                p.copy_(d.rand(*p.shape, high=6.28))
            else:
                p.copy_(d.randn(*p.shape, scale=scale / max(1, p[0].numel()) ** 0.5))
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.running_mean.copy_(d.randn(module.num_features))
            module.running_var.copy_(d.rand(module.num_features, low=0.1, high=2.0))
    return module


def _activation(d: Draw, c: int) -> nn.Module:
    kind = d.pick(
        "activation",
        st.sampled_from(
            [
                "relu",
                "leaky",
                "tanh",
                "sigmoid",
                "hardtanh",
                "elu",
                "softplus",
                "identity",
                "dropout",
            ]
        ),
    )
    return {
        "relu": lambda: nn.ReLU(),
        "leaky": lambda: nn.LeakyReLU(d.pick("slope", st.sampled_from([0.1, -0.5, 3.0]))),
        "tanh": nn.Tanh,
        "sigmoid": nn.Sigmoid,
        "hardtanh": lambda: nn.Hardtanh(-0.5, 2.0),
        "elu": lambda: nn.ELU(d.pick("alpha", st.sampled_from([0.5, 1.0, 2.0]))),
        "softplus": lambda: nn.Softplus(beta=2.0),
        "identity": nn.Identity,
        "dropout": lambda: nn.Dropout(0.3),
    }[kind]()


def _gnp(d: Draw, c: int) -> nn.Module:
    if c % 2:
        return nn.ReLU()
    kind = d.pick("gnp", st.sampled_from(["maxmin", "groupsort", "hh1", "hh2"]))
    if kind == "groupsort" and c % 4 == 0:
        return GroupSort(4)
    if kind == "hh1":
        return _randomize(d, Householder(c))
    if kind == "hh2":
        return _randomize(d, Householder2(c))
    return MaxMin()


CHANNELWISE = ("act", "gnp", "bn", "normalize")


def _channelwise(d: Draw, op: str, c: int, batch_norm: type) -> nn.Module:
    """A shape-preserving layer over ``c`` features or channels (dim 1)."""
    if op == "act":
        return _activation(d, c)
    if op == "gnp":
        return _gnp(d, c)
    if op == "bn":
        return _randomize(d, batch_norm(c))
    return lipviz.Normalize(d.randn(c).tolist(), d.rand(c, low=0.2, high=1.0).tolist())


def _linear(d: Draw, n_in: int, n_out: int) -> nn.Module:
    kind = d.pick(
        "linear kind",
        st.sampled_from(
            ["plain", "plain", "quiet", "spectral", "orthogonal", "legacy-spectral", "weight-norm"]
        ),
    )
    lin = _randomize(d, (QuietLinear if kind == "quiet" else nn.Linear)(n_in, n_out))
    if kind == "spectral":
        lin = parametrizations.spectral_norm(lin)
    elif kind == "orthogonal":
        lin = parametrizations.orthogonal(lin)
    elif kind == "legacy-spectral":
        lin = nn.utils.spectral_norm(lin)
    elif kind == "weight-norm":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            lin = nn.utils.weight_norm(lin)
    return lin


def _dense_block(d: Draw, n: int) -> tuple[nn.Module, int]:
    op = d.pick("dense op", st.sampled_from(DENSE_OPS))
    if op == "linear":
        m = d.pick("features", st.sampled_from([2, 3, 4, 6]))
        lin = _linear(d, n, m)
        d.linears[(n, m)] = lin
        return lin, m
    if op == "shared" and (n, n) in d.linears:  # weight tying: the same instance again
        return d.linears[(n, n)], n
    if op in CHANNELWISE:
        return _channelwise(d, op, n, nn.BatchNorm1d), n
    if op == "residual":
        branch = nn.Sequential(_linear(d, n, n), _activation(d, n))
        shortcut = d.pick("shortcut", st.sampled_from(["identity", "linear"]))
        return Residual(branch, _linear(d, n, n) if shortcut == "linear" else None), n
    if op == "concat":
        a, b = d.pick("concat widths", st.tuples(st.integers(1, 3), st.integers(1, 3)))
        return Concat(_linear(d, n, a), nn.Sequential(_linear(d, n, b), nn.Tanh())), a + b
    return nn.Identity(), n


def _conv_block(d: Draw, shape: tuple[int, int, int]) -> tuple[nn.Module, tuple[int, int, int]]:
    c, h, w = shape
    side = min(h, w)
    op = d.pick("conv op", st.sampled_from(CONV_OPS))
    if op == "conv" or (op in ("avgpool", "maxpool", "soc") and side < 3):
        k = d.pick("kernel", st.sampled_from([1, 2, 3]))
        k = min(k, side)
        stride = d.pick("stride", st.sampled_from([1, 1, 2]))
        dilation = d.pick("dilation", st.sampled_from([1, 1, 2]))
        if dilation * (k - 1) + 1 > side:
            dilation = 1
        mode = d.pick(
            "padding mode", st.sampled_from(["zeros", "zeros", "circular", "reflect", "replicate"])
        )
        pad = d.pick("padding", st.sampled_from([0, 1, 2, "same"]))
        if pad == "same" and stride != 1:
            pad = 1
        widest = dilation * (k - 1) if pad == "same" else pad  # torch's limits on the sides
        if mode in ("reflect", "circular") and widest >= side:
            pad = 0
        groups = 2 if c % 2 == 0 and d.pick("grouped", st.booleans()) else 1
        c_out = groups * d.pick("out channels per group", st.sampled_from([1, 2, 3]))
        conv = _randomize(
            d, nn.Conv2d(c, c_out, k, stride, pad, dilation, groups, padding_mode=mode)
        )
        param = d.pick("conv param", st.sampled_from(["none", "none", "spectral", "legacy"]))
        if param == "spectral":
            conv = parametrizations.spectral_norm(conv)
        elif param == "legacy":
            conv = nn.utils.spectral_norm(conv)
        out = conv(torch.zeros(1, c, h, w)).shape[1:]
        return conv, tuple(out)
    if op in CHANNELWISE:
        return _channelwise(d, op, c, nn.BatchNorm2d), shape
    if op in ("avgpool", "maxpool"):
        k = d.pick("pool kernel", st.integers(2, min(3, side)))
        stride = d.pick("pool stride", st.sampled_from([None, 1, 2]))
        pad = d.pick("pool padding", st.integers(0, k // 2))
        ceil = d.pick("ceil_mode", st.booleans())
        if op == "avgpool":
            include = d.pick("count_include_pad", st.booleans())
            override = d.pick("divisor_override", st.sampled_from([None, None, 2, 5]))
            pool = nn.AvgPool2d(k, stride, pad, ceil, include, override)
        else:
            dil = d.pick("pool dilation", st.sampled_from([1, 2]))
            if dil * (k - 1) + 1 > side + 2 * pad or pad > (dil * (k - 1) + 1) // 2:
                dil = 1
            pool = nn.MaxPool2d(k, stride, pad, dil, ceil_mode=ceil)
        return pool, tuple(pool(torch.zeros(1, c, h, w)).shape[1:])
    if op == "adaptive":
        oh, ow = d.pick("adaptive size", st.tuples(st.integers(1, h), st.integers(1, w)))
        return nn.AdaptiveAvgPool2d((oh, ow)), (c, oh, ow)
    if op == "zeropad":
        pads = d.pick("zero pads", st.tuples(*[st.integers(0, 1)] * 4))
        return nn.ZeroPad2d(pads), (c, h + pads[2] + pads[3], w + pads[0] + pads[1])
    if op == "soc":
        stride = 2 if h % 2 == 0 and w % 2 == 0 and d.pick("soc stride 2", st.booleans()) else 1
        c_out = d.pick("soc channels", st.sampled_from([c, 2, 4]))
        soc = SOC(c, c_out, 3 if side >= 3 else 1, stride=stride, init_n_iter=30)
        with torch.no_grad():
            soc.weight.copy_(d.randn(*soc.weight.shape))
        soc.train()(torch.zeros(1, c, h, w))  # one training step: scaled for the new weights
        return soc.eval(), (c_out, h // stride, w // stride)
    if op == "residual":
        conv = _randomize(d, nn.Conv2d(c, c, 3, padding=1))
        return Residual(nn.Sequential(conv, nn.ReLU())), shape
    if op == "concat":
        a = _randomize(d, nn.Conv2d(c, 2, 1))
        b = nn.Sequential(_randomize(d, nn.Conv2d(c, 1, 3, padding=1)), nn.Tanh())
        return Concat(a, b), (3, h, w)
    return nn.Identity(), shape


def _refusal(d: Draw, kind: str, shape) -> nn.Module:
    """A module lipviz must refuse, for inputs of ``shape``."""
    n = shape[0]
    if kind == "hook":
        m = nn.Identity()
        m.register_forward_hook(lambda mod, i, o: 3 * o)
        return m
    if kind == "prehook":
        m = nn.ReLU()
        m.register_forward_pre_hook(lambda mod, i: (3 * i[0],))
        return m
    if kind == "unknown":
        return nn.GELU()
    if kind == "override":
        return nn.Sequential(nn.Flatten(), DoubledLinear(int(torch.tensor(shape).prod()), n))
    if kind == "broadcast":  # a branch whose output broadcasts against the shortcut's
        if len(shape) == 3 and shape[1] * shape[2] > 1:
            return Residual(nn.AdaptiveAvgPool2d(1))
        if len(shape) == 3:
            return Residual(nn.Conv2d(n, 1 if n > 1 else 2, 1))
        return Residual(nn.Linear(n, 1 if n > 1 else 2))
    if kind == "inplace":
        return Residual(nn.Sequential(nn.LeakyReLU(3.0, inplace=True)))
    return Concat(nn.Identity(), nn.Identity(), dim=0)


def build(d: Draw):
    """(model, input shape, expected refusal or None)."""
    conv = d.pick("domain", st.sampled_from(["dense", "conv"])) == "conv"
    shape = (
        (
            d.pick("channels", st.sampled_from([1, 2, 4])),
            *d.pick("size", st.tuples(st.integers(3, 6), st.integers(3, 6))),
        )
        if conv
        else (d.pick("features", st.integers(2, 5)),)
    )
    in_shape, layers = shape, []
    refuse = d.pick("refusal", st.sampled_from([None] * 14 + REFUSALS))
    at = d.pick("refusal position", st.integers(0, 3))
    for i in range(d.pick("depth", st.integers(1, 4))):
        if refuse is not None and i == at:
            layers.append(_refusal(d, refuse, shape))
        if conv:
            layer, shape = _conv_block(d, shape)
        else:
            layer, width = _dense_block(d, shape[0])
            shape = (width,)
        layers.append(layer)
    if refuse is not None and at >= len(layers):
        layers.append(_refusal(d, refuse, shape))
    if conv:
        layers.append(nn.Flatten())
        shape = (int(torch.tensor(shape).prod()),)
    classes = d.pick("classes", st.integers(2, 4))
    last = d.pick("last layer", st.sampled_from(["linear", "lln"]))
    layers.append(
        _randomize(d, LLN(shape[0], classes)) if last == "lln" else _linear(d, shape[0], classes)
    )
    model = nn.Sequential(*layers)
    if d.pick("dtype", st.sampled_from(["float32", "float64"])) == "float64":
        model = model.double()
    return model.eval(), in_shape, refuse


def _snapshot(model, x):
    return (
        [(k, v.detach().clone()) for k, v in model.state_dict().items()],
        [m.training for m in model.modules()],
        x.clone(),
    )


def _same(a, b) -> bool:
    return (
        [k for k, _ in a[0]] == [k for k, _ in b[0]]
        and all(torch.equal(u, v) for (_, u), (_, v) in zip(a[0], b[0], strict=True))
        and a[1] == b[1]
        and torch.equal(a[2], b[2])
    )


_jacobian_norm = jacobian_norm


TRIED = {"accepted": 0, "refused": 0}


def check_draw(data) -> None:
    with warnings.catch_warnings():  # torch's performance note, printed once per process
        warnings.filterwarnings("ignore", message="Using padding='same'", category=UserWarning)
        _check_draw(data)


def _check_draw(data) -> None:
    d = Draw(data, torch.Generator().manual_seed(data.draw(st.integers(0, 2**16), label="seed")))
    model, shape, refuse = build(d)
    dtype = next(model.parameters()).dtype
    x = d.rand(4, *shape).to(dtype)
    if refuse is not None:
        with pytest.raises((TypeError, ValueError, RuntimeError)) as err:
            lipviz.lipschitz_bound(model, shape)
        assert len(str(err.value)) > 40  # a sentence that says what to do, not a bare failure
        TRIED["refused"] += 1
        return
    check_model(model, shape, x, d.gen)
    TRIED["accepted"] += 1


def check_model(model: nn.Module, shape, x: torch.Tensor, gen: torch.Generator) -> None:
    """Every soundness property of one accepted model (AssertionError on a violation)."""
    before = _snapshot(model, x)
    bound = lipviz.lipschitz_bound(model, shape)
    assert bound.sound
    dtype = x.dtype
    rel = 1e-4 if dtype == torch.float32 else 1e-9  # rounding of the forward pass
    with torch.no_grad():
        for distance in (1e-2, 1.0):  # random pairs, near and far
            a = x + torch.randn(x.shape, generator=gen).to(dtype)
            b = a + distance * torch.randn(x.shape, generator=gen).to(dtype)
            fa, fb = model(a), model(b)
            gap = (a - b).flatten(1).norm(dim=1)
            ratio = (fa - fb).flatten(1).norm(dim=1) / gap
            slack = rel * (1 + fa.flatten(1).norm(dim=1)) / gap  # rounding in f(a) - f(b)
            assert bool((ratio <= bound.value * (1 + rel) + slack).all()), (ratio, bound.table)
    for i in range(2):
        assert _jacobian_norm(model, x[i]) <= bound.value * (1 + rel), bound.table
    cert = lipviz.certified_radius(model, x)
    radius = cert.radius.double().clamp(max=1e3)
    attack = lipviz.attacks.minimal_l2(model, x, cert.predicted, steps=60, box=None)
    found = attack.distance.double()
    assert bool((radius <= found * (1 + 10 * rel) + 1e-6).all()), (radius, found, bound.table)
    inside = (radius * 0.999).to(dtype)
    pgd = lipviz.attacks.pgd_l2(model, x, cert.predicted, inside, steps=20, box=None)
    assert not pgd.success.any(), (radius, bound.table)
    assert _same(before, _snapshot(model, x))


def test_the_checks_catch_an_unsound_rule():
    """The fuzzer can fail: a rule that under-states a layer is caught by the checks."""
    from lipviz.bounds import LayerBound, register_bound

    class Triple(nn.Module):
        def forward(self, x):
            return 3 * x

    register_bound(Triple)(lambda m, ctx: LayerBound(1.0, "wrong on purpose", True))
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 3), Triple(), nn.Linear(3, 2)).eval()
    with pytest.raises(AssertionError):
        check_model(model, (3,), torch.rand(4, 3), torch.Generator().manual_seed(0))
    model[1] = nn.Identity()  # the same model without the lie passes
    check_model(model, (3,), torch.rand(4, 3), torch.Generator().manual_seed(0))


SETTINGS = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
    "database": None,
}


@settings(max_examples=100, derandomize=True, **SETTINGS)
@given(data=st.data())
def test_fuzz_soundness_fast(data):
    check_draw(data)


@pytest.mark.slow
@settings(max_examples=int(os.environ.get("LIPVIZ_FUZZ_EXAMPLES", "5000")), **SETTINGS)
@given(data=st.data())
def test_fuzz_soundness_long(data):
    check_draw(data)


@pytest.mark.slow
def test_fuzz_report():
    """Run after the long fuzzer (same session) to print how many models it tried."""
    print(f"\nfuzzer: {TRIED['accepted']} accepted models checked, {TRIED['refused']} refused")
