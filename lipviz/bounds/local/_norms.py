r"""The factors of the local bound: norms :math:`\|D_{\text{out}} W D_{\text{in}}\|_2` of an
affine layer between the masks of the neurons that may vary (:mod:`lipviz.bounds.local`).

``sound`` mode uses guaranteed upper bounds: the exact masked singular value of a dense layer
(one symmetric eigenvalue problem per distinct mask) and, for a convolution, the smaller of
the FFT bound restricted to its active channels (Sedghi, Gupta and Long, ICLR 2019) and the
exact norm of the finite zero-padded convolution restricted to the channels active anywhere in
the batch (one eigenvalue problem of its Gram matrix, kept per weight and channel set).
``estimate`` mode uses power iteration on the masked operator, as Huang et al. (NeurIPS 2021)
do: a *lower* estimate.
"""

from __future__ import annotations

import hashlib
import math

import torch
from torch import nn

from ...functional import conv_norm_fft
from ..conv import conv_linear_op
from ..guards import current_weight
from ..rounding import gamma, round_up

__all__ = ["masked_norms"]


def _top_eigenvalue(gram: torch.Tensor, inner: int, frob2: float) -> tuple[float, float]:
    r"""The largest eigenvalue of ``gram`` and a rounding term: their sum bounds the largest
    eigenvalue of the exact Gram matrix that ``gram``
    approximates, in floating point.

    ``gram`` was formed by dot products of length ``inner`` (and at most one subtraction) from
    matrices whose squared Frobenius norms sum to ``frob2``: each entry is off by at most
    :math:`\gamma_{k+2}` times the matching entry of :math:`|A||A|^\top`, whose spectral norm
    is at most ``frob2``; the symmetric eigensolver is backward stable (its error is at most a
    small multiple of :math:`n u \|G\|_2`, Weyl). The term bounds both
    (:mod:`lipviz.bounds.rounding`).
    """
    n = gram.shape[0]
    top = float(torch.linalg.eigvalsh(gram)[-1])
    return max(top, 0.0), (gamma(2 * inner + 4) + gamma(4 * n + 8)) * frob2


def _dense_norms(weight: torch.Tensor, cols: torch.Tensor, rows: torch.Tensor | None):
    r"""Sound :math:`\|D_{\text{rows}} W D_{\text{cols}}\|_2` per input, float64.

    The largest eigenvalue of :math:`W_{R,C} W_{R,C}^\top`, the Gram matrix of the active rows
    :math:`R` and columns :math:`C` (the masks zero the others, which leaves every nonzero
    singular value of the submatrix), plus a rounding term (:func:`_top_eigenvalue`): the
    result is an upper bound in floating point, not only in exact arithmetic. When few columns
    are fixed it is computed as :math:`(W W^\top)_{R,R} - W_{R,F} W_{R,F}^\top` with :math:`F`
    the fixed columns (one Gram of the whole matrix, then a small update per mask), unless the
    fixed columns are so large that the subtraction would cancel (its rounding term, of the
    size of :math:`\|W_R\|_F^2`, would exceed a millionth of the result): then, and otherwise,
    from the submatrix, on its smaller side. ``cols``/``rows`` are (N, in)/(N, out) masks;
    equal masks are computed once."""
    w = weight.detach().double()
    n = len(cols)
    cols = cols.reshape(n, -1).bool()
    rows = (
        torch.ones(n, w.shape[0], dtype=torch.bool, device=cols.device)
        if rows is None
        else rows.reshape(n, -1).bool()
    )
    unique, inverse = torch.unique(torch.cat([cols, rows], dim=1), dim=0, return_inverse=True)
    values = torch.zeros(len(unique), dtype=torch.float64, device=cols.device)
    n_in, full, row_sq = cols.shape[1], None, (w * w).sum(1)
    for k, mask in enumerate(unique):
        c, r = mask[:n_in], mask[n_in:]
        n_c, n_r = int(c.sum()), int(r.sum())
        if n_c == 0 or n_r == 0:
            continue
        top = None
        if n_in - n_c < min(n_c, n_r):  # few fixed columns: downdate the whole Gram
            full = w @ w.T if full is None else full
            fixed = w[r][:, ~c]
            frob2 = float(row_sq[r].sum())
            top, slack = _top_eigenvalue(full[r][:, r] - fixed @ fixed.T, n_in, frob2)
            if slack > 1e-6 * top:  # (slack as _top_eigenvalue's)
                top = None  # cancellation: the rounding term dominates; use the submatrix
        if top is None:
            sub = w[r][:, c]
            gram = sub @ sub.T if n_r <= n_c else sub.T @ sub
            top, slack = _top_eigenvalue(gram, max(n_r, n_c), float((sub * sub).sum()))
        values[k] = top + slack
    return round_up(values.sqrt())[inverse]


_FFT_NORMS: dict = {}


def _fft_slack(conv: nn.Conv2d, in_shape, kernel: torch.Tensor) -> float:
    r"""A bound on the rounding error of the FFT bound of ``kernel`` in float64.

    On a grid of :math:`N` points, each Fourier coefficient of a kernel slice is off by at most
    :math:`c \log_2 N\, u \sqrt N \|k\|_F` (the FFT is normwise stable), so every
    frequency's :math:`c_{out} \times c_{in}` block is off by at most that times :math:`\|K\|_F`
    in Frobenius norm; its singular value solver adds a backward error of the same kind. The
    grid is bounded by the input, the dilated kernel and the stride on each side.
    """
    kh, kw = kernel.shape[-2:]
    (dh, dw), (sh, sw) = conv.dilation, conv.stride
    grid = (in_shape[1] + dh * kh + sh) * (in_shape[2] + dw * kw + sw)
    ops = 8 * (math.log2(grid) + conv.in_channels + conv.out_channels) + 16
    return gamma(int(ops)) * math.sqrt(grid) * float(kernel.norm())


def _conv_norms(conv: nn.Conv2d, in_shape, cols, rows, exact_convs: bool = True):
    r"""Sound :math:`\|D_{\text{rows}} C D_{\text{cols}}\|_2` per input: at most the norm of the
    convolution restricted to the input channels with an active entry (when ``groups == 1``)
    and the output channels with an active row (:math:`D \le P` for those channel projections
    :math:`P`, and :math:`\|P_o C P_i\|` is the convolution with the other channels' kernel
    zeroed), bounded by the FFT bound on the padded grid (Sedghi, Gupta and Long, ICLR 2019).

    The bound depends only on the kernel's values, the geometry and the two channel sets, so
    it is computed once per distinct key and kept (a bounded cache keyed by a digest of the
    kernel's bytes: a changed weight is a new key). With ``exact_convs`` the exact norm of the
    finite convolution on the batch's channels (:func:`_conv_gram_norm`) is min'd in; without,
    the FFT bound alone is used (sound, and no eigenproblem: a training run's validation)."""
    w = current_weight(conv).detach().double()
    digest = hashlib.blake2b(w.cpu().numpy().tobytes(), digest_size=16).digest()
    geometry = (
        digest,
        tuple(w.shape),
        tuple(in_shape),
        conv.padding,
        conv.dilation,
        conv.groups,
        conv.stride,
    )
    n = len(cols)
    c_in = cols.reshape(n, conv.in_channels, -1).any(2)
    c_out = (
        rows.reshape(n, conv.out_channels, -1).any(2)
        if rows is not None
        else torch.ones(n, conv.out_channels, dtype=torch.bool, device=cols.device)
    )
    # one exact bound for the whole batch: every input's masks lie inside the union's channels
    exact = (
        _conv_gram_norm(conv, in_shape, w, c_in.any(0), c_out.any(0), geometry)
        if exact_convs
        else None
    )
    values = []
    for i in range(n):
        key = (*geometry, c_in[i].cpu().numpy().tobytes(), c_out[i].cpu().numpy().tobytes())
        if key not in _FFT_NORMS:
            k = w * c_out[i].double()[:, None, None, None]
            if conv.groups == 1:  # grouped kernels index their inputs per group: keep them all
                k = k * c_in[i].double()[None, :, None, None]
            if len(_FFT_NORMS) >= 256:
                _FFT_NORMS.clear()
            value = conv_norm_fft(
                k, in_shape[1:], conv.padding, conv.dilation, conv.groups, conv.stride
            )
            _FFT_NORMS[key] = float(round_up(torch.tensor(value + _fft_slack(conv, in_shape, k))))
        values.append(_FFT_NORMS[key] if exact is None else min(_FFT_NORMS[key], exact))
    return torch.tensor(values, dtype=torch.float64, device=cols.device)


_GRAM_NORMS: dict = {}

#: the largest Gram matrix (its side) whose eigenvalues a sound conv factor computes
GRAM_LIMIT = 8192


def _conv_gram_norm(conv: nn.Conv2d, in_shape, weight, c_in, c_out, digest) -> float | None:
    r"""The exact norm of the finite zero-padded convolution restricted to the input channels
    ``c_in`` and output channels ``c_out`` (bool, 1-D), rounded up: the largest eigenvalue of
    its Gram matrix on the smaller side plus a rounding term (:func:`_top_eigenvalue`).

    The Gram matrix :math:`P_o C P_i C^\top P_o` (or :math:`P_i C^\top P_o C P_i`) is built
    column by column with the convolution and its adjoint on unit vectors: :math:`C^\top e_j`
    is a copy of kernel entries (exact), and each entry of :math:`C (C^\top e_j)` is a dot
    product of at most :math:`c_{\text{in}} k_h k_w` terms (the adjoint's of at most
    :math:`c_{\text{out}} k_h k_w`), all bounded by :math:`|C||C|^\top`, whose norm is at most
    :math:`\|C\|_F^2 \le H_{\text{out}} W_{\text{out}} \|K\|_F^2`. None when the smaller side
    exceeds :data:`GRAM_LIMIT` (the FFT bound is used alone). Kept per weight digest and
    geometry: a request whose channels lie inside a computed set reuses that set's norm (the
    norm of a restriction is never larger); otherwise the norm is computed for the union of
    the request and every set seen, so that few are ever computed for one weight (the price:
    a superset's norm, slightly above the request's own)."""
    c_in, c_out = c_in.cpu(), c_out.cpu()
    seen = _GRAM_NORMS.setdefault((digest, tuple(in_shape)), [])
    for sup_in, sup_out, sup_norm in seen:  # a superset's norm bounds every subset's
        if bool((sup_in >= c_in).all()) and bool((sup_out >= c_out).all()):
            return sup_norm
    for sup_in, sup_out, _ in seen:  # grow to the union of the sets seen: few recomputations
        c_in, c_out = c_in | sup_in, c_out | sup_out
    w = weight * c_out.to(weight.device, weight.dtype)[:, None, None, None]
    if conv.groups == 1:
        w = w * c_in.to(weight.device, weight.dtype)[None, :, None, None]
    op = conv_linear_op(conv, w)
    adjoint = _adjoint(conv, w, tuple(in_shape))
    out_shape = op(torch.zeros(1, *in_shape, dtype=w.dtype, device=w.device)).shape[1:]
    hw_in, hw_out = math.prod(in_shape[1:]), math.prod(out_shape[1:])
    side_out, side_in = int(c_out.sum()) * hw_out, int(c_in.sum()) * hw_in
    if conv.groups != 1:
        side_in = in_shape[0] * hw_in
    value: float | None = None
    if 0 < min(side_out, side_in) <= GRAM_LIMIT:
        rows_side = side_out <= side_in
        channels = c_out if rows_side else (c_in if conv.groups == 1 else torch.ones_like(c_in))
        shape = out_shape if rows_side else torch.Size(in_shape)
        there = torch.zeros(shape, dtype=torch.bool, device=w.device)
        there[channels.to(w.device)] = True
        index = there.flatten().nonzero()[:, 0]
        there_op = (lambda v: adjoint(v)) if rows_side else op
        back_op = op if rows_side else adjoint
        columns = []
        for start in range(0, len(index), 256):
            part = index[start : start + 256]
            unit = torch.zeros(len(part), shape.numel(), dtype=w.dtype, device=w.device)
            unit[torch.arange(len(part)), part] = 1.0
            back = back_op(there_op(unit.view(-1, *shape))).flatten(1)
            columns.append(back[:, index])
        gram = torch.cat(columns)
        gram = (gram + gram.T) / 2  # exact symmetrisation of two equally rounded copies
        inner = max(conv.in_channels // conv.groups, conv.out_channels) * math.prod(
            conv.kernel_size
        )
        frob2 = float((w * w).sum()) * max(hw_out, hw_in)
        top, slack = _top_eigenvalue(gram, inner, frob2)
        value = float(round_up(torch.tensor(top + slack, dtype=torch.float64).sqrt()))
    if len(_GRAM_NORMS) >= 64:
        _GRAM_NORMS.clear()
    _GRAM_NORMS.setdefault((digest, tuple(in_shape)), []).append((c_in, c_out, value))
    return value


_STARTS: dict = {}


def iteration_dtype(dtype: torch.dtype, device: torch.device) -> torch.dtype:
    """The dtype of a *training* walk's power iterations (no gradients): bfloat16 where its
    convolutions are fast (CUDA, or a CPU with AVX-512 BF16: about half fp32's time), else
    ``dtype``. Only the direction is iterated: the factor itself, :math:`\\|D_r A D_c u\\|`, is
    computed in ``dtype`` with gradients, and certificates never use this path.

    Parameters
    ----------
    dtype : torch.dtype
        The walk's dtype.
    device : torch.device
        Where the walk runs.

    Returns
    -------
    torch.dtype
    """
    if dtype != torch.float32:
        return dtype
    if device.type == "cuda":
        return torch.bfloat16
    fast = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    return torch.bfloat16 if device.type == "cpu" and fast is not None and fast() else dtype


def _start_vectors(shape, dtype, device, start_dtype=None) -> torch.Tensor:
    """Gaussian start vectors from seed 0, drawn in ``start_dtype`` (default ``dtype``) and
    cast to ``dtype`` (the same every call, so cached: one per shape)."""
    key = (tuple(shape), dtype, start_dtype, str(device))
    if key not in _STARTS:
        if len(_STARTS) > 16:  # O(batch) memory: keep a few shapes only
            _STARTS.clear()
        gen = torch.Generator().manual_seed(0)
        draw = torch.randn(shape, generator=gen, dtype=start_dtype or dtype)
        _STARTS[key] = draw.to(device=device, dtype=dtype)
    return _STARTS[key]


def _top_vector(
    op, adjoint, in_shape, dtype, device, n_iter: int = 30, start_dtype=None
) -> torch.Tensor:
    """The top right singular vector of the unmasked operator, by power iteration on a batch
    of one (cheap next to the batch's iterations); no state is kept between calls."""
    u = _start_vectors((1, *in_shape), dtype, device, start_dtype)
    with torch.no_grad():
        for _ in range(n_iter):
            u = adjoint(op(u / u.norm().clamp_min(1e-30)))
    return u / u.norm().clamp_min(1e-30)


def _unit(u: torch.Tensor) -> torch.Tensor:
    return u / u.flatten(1).norm(dim=1).clamp_min(1e-30).view(-1, *([1] * (u.dim() - 1)))


def _power_norms(
    op,
    adjoint,
    in_shape,
    cols,
    rows,
    n_iter: int,
    dtype=torch.float64,
    grad_op=None,
    start_dtype=None,
    grad_dtype=None,
):
    """Power-iteration estimates of :math:`\\|D_r A D_c\\|` per input (a lower estimate).

    The iterations start from the unmasked operator's top singular vector (a stateless warm
    start, :func:`_top_vector`) plus a little of a fixed Gaussian vector, masked per input: with
    few neurons fixed it is nearly the masked operator's, and no vector is stored per training
    example. Each step is :math:`u \\leftarrow D_c A^\\top D_r A u` (``adjoint`` is
    :math:`A^\\top`; :math:`u` stays in the support of :math:`D_c`), without gradients. With
    ``grad_op`` (training), the returned :math:`\\|D_r A D_c u\\|` is computed with ``grad_op``,
    differentiable in the weights, from the final (detached) unit vectors (cast to
    ``grad_dtype``): memory O(batch).
    """
    cols = cols.to(dtype)
    rows = rows.to(dtype) if rows is not None else None
    noise = _start_vectors((len(cols), *in_shape), dtype, cols.device, start_dtype)
    with torch.no_grad():
        top = _top_vector(op, adjoint, in_shape, dtype, cols.device, start_dtype=start_dtype)
        u = (top + 0.1 * noise / noise[0].norm()) * cols
        for _ in range(max(n_iter, 1)):
            y = op(_unit(u))
            if rows is not None:
                y.mul_(rows)
            sigma = y.flatten(1).norm(dim=1)
            u = adjoint(y).mul_(cols)
    if grad_op is not None:
        u = u.to(grad_dtype) if grad_dtype is not None else u
        rows = rows.to(u.dtype) if rows is not None else None
        y = grad_op(_unit(u))  # u is in the support of D_c
        sigma = (y * rows if rows is not None else y).flatten(1).norm(dim=1)
    return sigma


def _adjoint(module, weight, in_shape):
    """:math:`A^\\top` of the linear part of ``module`` (zero-padded convolutions, as the local
    rules require; other paddings through autograd)."""
    if isinstance(module, nn.Linear):
        return lambda v: nn.functional.linear(v, weight.t())
    if module.padding_mode == "zeros" and not isinstance(module.padding, str):
        return lambda v: torch.nn.grad.conv2d_input(
            (len(v), *in_shape),
            weight,
            v,
            module.stride,
            module.padding,
            module.dilation,
            module.groups,
        )
    op = conv_linear_op(module, weight)

    def adjoint(v):
        with torch.enable_grad():
            u = torch.zeros((len(v), *in_shape), dtype=v.dtype, device=v.device, requires_grad=True)
            (g,) = torch.autograd.grad(op(u), u, grad_outputs=v)
        return g

    return adjoint


def masked_norms(
    module,
    in_shape,
    cols,
    rows,
    *,
    sound: bool,
    dtype=torch.float64,
    n_iter: int = 2,
    grad: bool = False,
    start_dtype=None,
    exact_convs: bool = True,
):
    """The masked operator norm of an affine module, per input, and how it was computed.

    Parameters
    ----------
    module : nn.Linear or nn.Conv2d
        The affine layer.
    in_shape : tuple of int
        Its input shape, without the batch dimension.
    cols : Tensor
        Bool, shape ``(N, *in_shape)``: the input neurons that may vary.
    rows : Tensor or None
        Bool, shape ``(N, *out_shape)``: the output neurons that may vary, or None (all).
    sound : bool
        Guaranteed upper bounds (True) or power-iteration estimates (False).
    dtype : torch.dtype
        The estimates' dtype (the sound values are float64).
    n_iter : int
        Power-iteration steps of an estimate.
    grad : bool
        Estimates differentiable in the weights (training).
    start_dtype : torch.dtype, optional
        The dtype the start vectors are drawn in (default ``dtype``): float64 start vectors
        cast to float32 make a float32 estimate start where a float64 one would.
    exact_convs : bool, default True
        Sound convolution factors also use the exact norm on the batch's channels (one
        eigenproblem per weight); False keeps the channel-masked FFT bound alone.

    Returns
    -------
    tuple
        ``(values, method)``: a tensor of shape ``(N,)`` and a description of the method.
    """
    if sound:
        if isinstance(module, nn.Linear):
            return _dense_norms(current_weight(module), cols, rows), "exact masked SVD"
        if not exact_convs:
            return _conv_norms(module, in_shape, cols, rows, False), "FFT on the active channels"
        return (
            _conv_norms(module, in_shape, cols, rows),
            "min(FFT bound on the active channels, exact norm on the batch's channels)",
        )
    w = current_weight(module)
    it_dtype = iteration_dtype(dtype, cols.device) if grad else dtype
    ops = []
    for weight in (w.detach().to(it_dtype), w.to(dtype)):
        if isinstance(module, nn.Linear):
            ops.append(lambda v, weight=weight: nn.functional.linear(v, weight))
        else:
            ops.append(conv_linear_op(module, weight))
    adjoint = _adjoint(module, w.detach().to(it_dtype), tuple(in_shape))
    norms = _power_norms(
        ops[0],
        adjoint,
        in_shape,
        cols,
        rows,
        n_iter,
        it_dtype,
        ops[1] if grad else None,
        start_dtype,
        grad_dtype=dtype,
    )
    return norms, f"power iteration on the masked operator ({n_iter} steps)"
