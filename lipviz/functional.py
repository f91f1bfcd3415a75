"""Pure tensor functions used by the bounds and layers (no modules, no state)."""

from __future__ import annotations

import torch

__all__ = ["power_iteration", "spectral_norm_exact"]


def spectral_norm_exact(weight: torch.Tensor) -> torch.Tensor:
    r"""Largest singular value of a matrix, by SVD in float64 (a sound value, up to rounding).

    .. math:: \|W\|_2 = \sigma_{\max}(W)

    Examples
    --------
    >>> float(spectral_norm_exact(torch.diag(torch.tensor([3.0, 1.0]))))
    3.0
    """
    if weight.dim() != 2:
        msg = f"expected a matrix, got a tensor of shape {tuple(weight.shape)}"
        raise ValueError(msg)
    return torch.linalg.matrix_norm(weight.detach().double(), ord=2)


def power_iteration(
    weight: torch.Tensor, n_iter: int = 20, u: torch.Tensor | None = None, eps: float = 1e-12
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Estimate :math:`\sigma_{\max}(W)` by power iteration on :math:`W^\top W`.

    Returns ``(sigma, u)`` with ``sigma = ||W u||`` for the final unit vector ``u`` (in the input
    space). The estimate is a Rayleigh quotient, so it never exceeds the true value: it is an
    **under-estimate**, never a certificate by itself.

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
