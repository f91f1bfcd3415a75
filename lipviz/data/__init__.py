"""Real, hash-checked datasets (pooch registry), embedded offline sets, 2-D toys and Normalize."""

from .datasets import (
    ImageDataset,
    available_datasets,
    decode_cifar10_jpeg,
    fetch_dataset,
    load_dataset,
    missing_data,
    split_indices,
)
from .registry import (
    REGISTRY,
    DataFileMissingError,
    DataHashError,
    RemoteFile,
    data_dir,
    fetch,
    file_status,
)
from .toys import ToyDataset, available_toys, make_toy, slab_reference
from .transforms import CIFAR10_MEAN, CIFAR10_STD, MNIST_MEAN, MNIST_STD, Normalize

__all__ = [
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "MNIST_MEAN",
    "MNIST_STD",
    "REGISTRY",
    "DataFileMissingError",
    "DataHashError",
    "ImageDataset",
    "Normalize",
    "RemoteFile",
    "ToyDataset",
    "available_datasets",
    "available_toys",
    "data_dir",
    "decode_cifar10_jpeg",
    "fetch",
    "fetch_dataset",
    "file_status",
    "load_dataset",
    "make_toy",
    "missing_data",
    "slab_reference",
    "split_indices",
]
