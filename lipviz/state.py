"""Model state guards: evaluate without changing modes, and detect a model edited since a bound.

A bound or a certificate is a statement about the model *as it was when it was computed*. These
helpers keep that promise: :func:`eval_mode` switches every module to eval and restores each
module's own flag afterwards (restoring only the top-level flag would put every child in the
parent's mode), and :func:`state_digest` fingerprints every parameter and buffer exactly, so a
:class:`~lipviz.Certifier` can refuse to use a bound computed for other weights.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator

import torch
from torch import nn

__all__ = ["eval_mode", "frozen", "seeded", "state_digest"]


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put every module of ``model`` in eval mode; restore each module's own flag on exit.

    Only the ``training`` flags are set (``train()``/``eval()`` are not called, so a custom
    override with side effects does not run); parameters and buffers are untouched.

    Parameters
    ----------
    model : nn.Module
        The module whose submodules (itself included) are switched to eval mode.

    Yields
    ------
    nn.Module
        ``model`` itself, in eval mode inside the block.

    Examples
    --------
    >>> net = nn.Sequential(nn.Linear(2, 2), nn.Dropout()).train()
    >>> net[1].eval()  # a mixed state must come back as it was
    Dropout(p=0.5, inplace=False)
    >>> with eval_mode(net):
    ...     net.training, net[0].training
    (False, False)
    >>> net.training, net[0].training, net[1].training
    (True, True, False)
    """
    flags = [(m, m.training) for m in model.modules()]
    try:
        for m, _ in flags:
            m.training = False  # the flag only: a custom train() may have side effects
        yield model
    finally:
        for m, flag in flags:
            m.training = flag


@contextlib.contextmanager
def frozen(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode, and no gradient into the parameters (``requires_grad`` restored on exit).

    For attacks and searches that differentiate with respect to the *inputs*: the model's
    ``.grad`` fields stay as they were, even when a third-party attack calls ``backward()``.

    Parameters
    ----------
    model : nn.Module
        The module to freeze; its modes (as :func:`eval_mode`) and each parameter's
        ``requires_grad`` flag are restored on exit.

    Yields
    ------
    nn.Module
        ``model`` itself, in eval mode and with ``requires_grad=False`` inside the block.

    Examples
    --------
    >>> lin = nn.Linear(2, 1)
    >>> x = torch.ones(1, 2, requires_grad=True)
    >>> with frozen(lin):
    ...     lin(x).sum().backward()
    >>> lin.weight.grad is None, x.grad is not None, lin.weight.requires_grad
    (True, True, True)
    """
    params = [(p, p.requires_grad) for p in model.parameters()]
    with eval_mode(model):
        try:
            for p, _ in params:
                p.requires_grad_(False)
            yield model
        finally:
            for p, flag in params:
                p.requires_grad_(flag)


def state_digest(model: nn.Module) -> str:
    """An exact fingerprint (BLAKE2b) of every parameter and buffer of ``model``, by name.

    Two models with the same digest compute the same function (same architecture assumed), so
    a bound stamped with the digest can be checked against the model it is used with. Tensors
    are hashed byte for byte, whatever their dtype or device.

    Parameters
    ----------
    model : nn.Module
        The module; every parameter and buffer is hashed with its name, dtype and shape
        (a shared tensor once per name).

    Returns
    -------
    str
        32 hexadecimal characters (a 16-byte BLAKE2b digest).

    Examples
    --------
    >>> lin = nn.Linear(2, 2)
    >>> before = state_digest(lin)
    >>> _ = lin.weight.data.mul_(2)  # an edit that autograd's version counter does not see
    >>> state_digest(lin) == before
    False
    """
    h = hashlib.blake2b(digest_size=16)
    tensors = list(model.named_parameters(remove_duplicate=False))
    tensors += list(model.named_buffers(remove_duplicate=False))
    for name, t in tensors:
        if t is None:
            continue
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        data = t.detach().contiguous().view(-1).view(torch.uint8).cpu()
        h.update(data.numpy().tobytes())
    return h.hexdigest()


@contextlib.contextmanager
def seeded(seed: int, device: torch.device | str | None = None) -> Iterator[None]:
    """Run a block with torch's global RNG seeded to ``seed``; the caller's RNG is restored.

    The caller's RNG state (CPU, and ``device``'s if it is a CUDA device) is restored on exit.

    Model builders use it so that ``create(name, seed=s)`` gives the same weights as seeding and
    building would, without reseeding the caller's random stream.

    Parameters
    ----------
    seed : int
        The seed of the block.
    device : torch.device or str, optional
        A CUDA device whose RNG the block also uses (seeded and restored).

    Yields
    ------
    None

    Examples
    --------
    >>> torch.manual_seed(1)
    <torch._C.Generator object at ...>
    >>> with seeded(0):
    ...     a = torch.rand(1)
    >>> b = torch.rand(1)  # the caller's stream, as if the block had not run
    >>> _ = torch.manual_seed(1)
    >>> bool(torch.equal(b, torch.rand(1)))
    True
    """
    device = torch.device(device) if device is not None else torch.device("cpu")
    cuda = device.type == "cuda"
    devices = []
    if cuda:
        devices = [device.index if device.index is not None else torch.cuda.current_device()]
    with torch.random.fork_rng(devices=devices):
        torch.default_generator.manual_seed(seed)
        if cuda:
            torch.cuda.manual_seed(seed)
        yield
