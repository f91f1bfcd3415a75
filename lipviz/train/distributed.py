"""Data-parallel training under ``torchrun``: one process per device, a
:class:`~torch.nn.parallel.DistributedDataParallel` model, each rank's share of the epoch's
batches, and rank 0 alone writing checkpoints, logs and certificates.

Each global batch is the one a single process would draw (the same seeded permutation, split
across ranks), and the gradients are averaged over equal shares, so two processes train the
same model as one, up to floating-point rounding.
"""

from __future__ import annotations

import os

import torch
from torch import distributed as dist

__all__ = [
    "all_sum",
    "device_for",
    "distributed_loader",
    "epoch_permutation",
    "rank",
    "setup",
    "world_size",
]


def setup() -> bool:
    """Join the process group that ``torchrun`` describes (``WORLD_SIZE`` > 1), once.

    The backend is NCCL on CUDA, gloo on CPU.

    Returns
    -------
    bool
        True when this process is one of several.
    """
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size() > 1
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend)
    return True


def world_size() -> int:
    """The number of training processes (1 outside ``torchrun``).

    Returns
    -------
    int
        The world size.
    """
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    """This process's rank (0 outside ``torchrun``).

    Returns
    -------
    int
        The rank.
    """
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def device_for(device=None) -> torch.device:
    """The device of this process: ``device`` if given, else its own GPU (``LOCAL_RANK``) when
    CUDA is available, else the CPU.

    Parameters
    ----------
    device : str or torch.device, optional
        An explicit device (``"cuda"`` means this process's GPU under ``torchrun``).

    Returns
    -------
    torch.device
        The device.
    """
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(device)
    if device.type == "cuda" and device.index is None and world_size() > 1:
        device = torch.device("cuda", local)
    return device


def epoch_permutation(n: int, seed: int) -> torch.Tensor:
    """The order in which :meth:`lipviz.data.TensorDataset.loader` (``shuffle=True``) visits
    ``n`` examples: a DataLoader draws its base seed from the generator, then its sampler's
    ``randperm``.

    Parameters
    ----------
    n : int
        Dataset size.
    seed : int
        The loader's seed.

    Returns
    -------
    Tensor
        A permutation of ``range(n)``.

    Examples
    --------
    >>> from torch.utils.data import DataLoader, TensorDataset
    >>> gen = torch.Generator().manual_seed(3)
    >>> order = [int(i) for (b,) in DataLoader(TensorDataset(torch.arange(9)), 4, shuffle=True,
    ...                                        generator=gen) for i in b]
    >>> order == epoch_permutation(9, 3).tolist()
    True
    """
    gen = torch.Generator().manual_seed(seed)
    torch.empty((), dtype=torch.int64).random_(generator=gen)  # the loader's base seed
    return torch.randperm(n, generator=gen)


def distributed_loader(dataset, batch_size: int, seed: int):
    """This rank's share of every global batch of ``batch_size``.

    The epoch's order is the single process's (:func:`epoch_permutation`); rank ``r`` takes
    every ``world``-th index, as :class:`~torch.utils.data.distributed.DistributedSampler`
    splits its permutation, so at every step the ranks' batches together form the single
    process's batch. (``DistributedSampler`` itself draws another permutation, so one process
    and several would not see the same batches.)

    Parameters
    ----------
    dataset : lipviz.data.TensorDataset
        The training split (its size must be a multiple of the world size: no example is
        repeated or dropped).
    batch_size : int
        The global batch size (a multiple of the world size).
    seed : int
        The epoch's seed.

    Returns
    -------
    torch.utils.data.DataLoader
        Batches of ``batch_size // world`` examples.

    Raises
    ------
    ValueError
        If the batch or the dataset does not split evenly over the ranks.
    """
    from torch.utils.data import DataLoader, TensorDataset

    world = world_size()
    if batch_size % world or len(dataset) % world:
        msg = (
            f"batch size {batch_size} and training set size {len(dataset)} must be multiples "
            f"of the world size {world}, so that every rank gets an equal share"
        )
        raise ValueError(msg)
    mine = epoch_permutation(len(dataset), seed)[rank() :: world].tolist()
    return DataLoader(
        TensorDataset(dataset.x, dataset.y), batch_size=batch_size // world, sampler=mine
    )


def all_sum(values) -> list[float]:
    """Sums over the ranks (the values themselves outside ``torchrun``).

    Parameters
    ----------
    values : sequence of float
        This rank's numbers.

    Returns
    -------
    list of float
        Their sums over all ranks.
    """
    if world_size() == 1:
        return [float(v) for v in values]
    t = torch.tensor([float(v) for v in values], dtype=torch.float64)
    if dist.get_backend() == "nccl":
        t = t.to(device_for("cuda"))
    dist.all_reduce(t)
    return t.tolist()
