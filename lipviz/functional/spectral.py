r"""Spectral norms of matrices and linear operators: exact (SVD) and power-iteration
estimates (lower bounds)."""

from __future__ import annotations

import torch

__all__ = [
    "operator_power_iteration",
    "power_iteration",
    "spectral_norm_exact",
]


def spectral_norm_exact(weight: torch.Tensor) -> torch.Tensor:
    r"""Largest singular value of a matrix, exactly (float64, up to rounding).

    .. math:: \|W\|_2 = \sigma_{\max}(W) = \sqrt{\lambda_{\max}(W W^\top)}

    Computed from the symmetric eigenvalues of the smaller Gram matrix, which is much faster
    than an SVD of a wide matrix and exact up to float64 rounding (relative error ~1e-15).

    Parameters
    ----------
    weight : Tensor
        Shape ``(m, n)``, any real floating dtype and device; detached and cast to float64.

    Returns
    -------
    Tensor
        0-dim float64 tensor on ``weight``'s device: :math:`\sigma_{\max}(W) \ge 0`.

    Raises
    ------
    ValueError
        If ``weight`` is not 2-D.

    Examples
    --------
    >>> float(spectral_norm_exact(torch.diag(torch.tensor([3.0, 1.0]))))
    3.0
    """
    if weight.dim() != 2:
        msg = f"expected a matrix, got a tensor of shape {tuple(weight.shape)}"
        raise ValueError(msg)
    w = weight.detach().double()
    gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
    return torch.linalg.eigvalsh(gram)[-1].clamp_min(0.0).sqrt()


def power_iteration(
    weight: torch.Tensor, n_iter: int = 20, u: torch.Tensor | None = None, eps: float = 1e-12
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Estimate :math:`\sigma_{\max}(W)` by power iteration on :math:`W^\top W`.

    .. math::
        u_{k+1} = \frac{W^\top W u_k}{\|W^\top W u_k\|}, \qquad
        \hat\sigma = \|W u_K\| \le \sigma_{\max}(W)

    Returns ``(sigma, u)`` with ``sigma = ||W u||`` for the final unit vector ``u`` (in the input
    space). The estimate is a Rayleigh quotient, so it never exceeds the true value: it is an
    **under-estimate**, never a certificate by itself. It is the estimator spectral
    normalisation uses (Miyato et al., ICLR 2018), here run for ``n_iter`` steps from a given
    or fixed start instead of one step per training iteration.

    Parameters
    ----------
    weight : Tensor
        Shape ``(m, n)``; detached (no gradient flows through the estimate).
    n_iter : int
        Number of power-iteration steps.
    u : Tensor, optional
        Shape ``(n,)``, the starting vector (normalised here). Default: a standard normal vector
        from a CPU generator seeded with 0, so results are deterministic and the global RNG is
        untouched.
    eps : float
        Floor of the norms divided by (avoids division by zero).

    Returns
    -------
    sigma : Tensor
        0-dim, in ``weight``'s dtype: :math:`\|W u\|`, an under-estimate of
        :math:`\sigma_{\max}(W)`.
    u : Tensor
        Shape ``(n,)``, the final unit vector (reusable as the next call's start).

    Raises
    ------
    ValueError
        If ``weight`` is not 2-D.

    Examples
    --------
    >>> sigma, _ = power_iteration(torch.diag(torch.tensor([3.0, 1.0])), n_iter=50)
    >>> round(float(sigma), 4)
    3.0
    """
    if weight.dim() != 2:
        msg = f"expected a matrix, got a tensor of shape {tuple(weight.shape)}"
        raise ValueError(msg)
    w = weight.detach()
    if u is None:
        gen = torch.Generator(device="cpu").manual_seed(0)
        u = torch.randn(w.shape[1], generator=gen, dtype=w.dtype).to(w.device)
    u = u / u.norm().clamp_min(eps)
    for _ in range(n_iter):
        v = w @ u
        u = w.T @ v
        u = u / u.norm().clamp_min(eps)
    return (w @ u).norm(), u


def operator_power_iteration(
    op, input_shape, n_iter: int = 50, u: torch.Tensor | None = None, dtype=torch.float64
) -> tuple[float, torch.Tensor]:
    r"""Power iteration on :math:`A^\top A` for a linear map given as a function ``op``.

    :math:`A^\top v` is obtained by autograd, so any linear module (convolution with any stride,
    padding, dilation or groups) works without hand-written transposes. Returns
    ``(sigma, u)``; ``sigma`` is an **under-estimate** of the norm.

    .. math:: u_{k+1} = \frac{A^\top A u_k}{\|A^\top A u_k\|}, \qquad
        \hat\sigma = \|A u_K\| \le \|A\|_2

    Parameters
    ----------
    op : callable
        A linear map, differentiable by autograd, taking a tensor of shape
        ``(1, *input_shape)`` (e.g. ``lambda v: F.conv2d(v, w, stride=2)``).
    input_shape : tuple of int
        The input shape without the batch dimension, e.g. ``(C, H, W)``.
    n_iter : int
        Number of power-iteration steps.
    u : Tensor, optional
        Shape ``(1, *input_shape)``, the starting vector (normalised here). Default: a standard
        normal tensor from a generator seeded with 0 (deterministic; the global RNG is
        untouched).
    dtype : torch.dtype
        Dtype of the default start; ``op`` must accept it.

    Returns
    -------
    sigma : float
        :math:`\|A u\|`, an under-estimate of :math:`\|A\|_2`.
    u : Tensor
        Shape ``(1, *input_shape)``, the final unit vector (detached).
    """
    if u is None:
        gen = torch.Generator().manual_seed(0)
        u = torch.randn((1, *input_shape), generator=gen, dtype=dtype)
    u = u / u.norm()
    with torch.enable_grad():  # A^T v by autograd, even inside no_grad()
        for _ in range(n_iter):
            x = u.detach().requires_grad_(True)
            y = op(x)
            (g,) = torch.autograd.grad(y, x, grad_outputs=y.detach())
            u = g / g.norm().clamp_min(1e-30)
    with torch.no_grad():
        return float(op(u).norm()), u.detach()


# --- margins and certificates --------------------------------------------------------------------
