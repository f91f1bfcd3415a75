"""Where data files live, what their hashes are, and how they are fetched.

Every file lipviz reads is listed in :data:`REGISTRY` with its official URL(s) and hash. Files are
looked up in one data directory (see :func:`data_dir`), laid out as ``<folder>/<file name>``.
A file that is present and has the right hash is used without any network access. A missing
file is downloaded with :mod:`pooch` (which checks the hash); when that is impossible the error
names the file, its expected hash and the folder to put it in.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "REGISTRY",
    "DataFileMissingError",
    "DataHashError",
    "RemoteFile",
    "data_dir",
    "fetch",
    "file_status",
    "offline",
    "verify",
]

logger = logging.getLogger(__name__)

ENV_VAR = "LIPVIZ_DATA_DIR"
OFFLINE_VAR = "LIPVIZ_OFFLINE"  # set to 1 (or true, yes): never touch the network


def offline() -> bool:
    """Whether downloads are forbidden: the environment variable ``LIPVIZ_OFFLINE`` is set.

    ``make book`` and the test that builds the book set it, so a build that would need the
    network fails at once with :class:`DataFileMissingError` instead of waiting on a download.

    Returns
    -------
    bool
        True for ``LIPVIZ_OFFLINE`` = ``1``, ``true`` or ``yes`` (any case).
    """
    return os.environ.get(OFFLINE_VAR, "").strip().lower() in {"1", "true", "yes"}


class DataFileMissingError(FileNotFoundError):
    """A data file is absent and could not be downloaded.

    Raised by :func:`fetch`; the message names the file, its expected hash and the folder to put
    it in.

    Parameters
    ----------
    *args
        As for :class:`FileNotFoundError`; lipviz passes one message string.
    """


class DataHashError(ValueError):
    """A data file is present but its content does not match the registered hash.

    Raised by :func:`verify` and :func:`fetch`.

    Parameters
    ----------
    *args
        As for :class:`ValueError`; lipviz passes one message string.
    """


@dataclass(frozen=True)
class RemoteFile:
    """One registered data file.

    Parameters
    ----------
    folder, fname : str
        The file is expected at ``data_dir() / folder / fname``.
    urls : tuple of str
        Official download locations, tried in order. Empty for files that have no public URL
        (they must be placed by hand).
    file_hash : str
        ``"alg:hexdigest"`` of the file as distributed (what a fresh download must match).
    content_hash : str or None, optional
        For ``.gz`` files: ``"alg:hexdigest"`` of the *decompressed* content. gzip streams are not
        reproducible, so a re-compressed copy with identical content is accepted.

    Attributes
    ----------
    relpath : str
        ``"<folder>/<fname>"``, the file's key in :data:`REGISTRY`.

    Examples
    --------
    >>> REGISTRY["mnist/t10k-labels-idx1-ubyte.gz"].relpath
    'mnist/t10k-labels-idx1-ubyte.gz'
    """

    folder: str
    fname: str
    urls: tuple[str, ...]
    file_hash: str
    content_hash: str | None = None

    @property
    def relpath(self) -> str:
        return f"{self.folder}/{self.fname}"


def _mnist_like(folder: str, bases: tuple[str, ...], hashes: dict[str, tuple[str, str | None]]):
    return {
        f"{folder}/{name}": RemoteFile(
            folder, name, tuple(b + name for b in bases), file_hash, content_hash
        )
        for name, (file_hash, content_hash) in hashes.items()
    }


_MNIST_BASES = (
    "https://yann.lecun.com/exdb/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",  # the mirror PyTorch uses
)
_FASHION_BASES = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
)
_CIFAR_BASE = "https://www.cs.toronto.edu/~kriz/"

#: Every data file lipviz knows, keyed by ``"<folder>/<file name>"``.
REGISTRY: dict[str, RemoteFile] = {
    **_mnist_like(
        "mnist",
        _MNIST_BASES,
        {
            "train-images-idx3-ubyte.gz": (
                "md5:f68b3c2dcbeaaa9fbdd348bbdeb94873",
                "sha256:ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            ),
            "train-labels-idx1-ubyte.gz": (
                "md5:d53e105ee54ea40749a09fcbcd1e9432",
                "sha256:65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            ),
            "t10k-images-idx3-ubyte.gz": (
                "md5:9fb629c4189551a2d022fa330f9573f3",
                "sha256:0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            ),
            "t10k-labels-idx1-ubyte.gz": (
                "md5:ec29112dd5afa0611ce80d1b7f02629c",
                "sha256:ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
            ),
        },
    ),
    **_mnist_like(
        "fashion-mnist",
        _FASHION_BASES,
        {
            "train-images-idx3-ubyte.gz": ("md5:8d4fb7e6c68d591d4c3dfef9ec88bf0d", None),
            "train-labels-idx1-ubyte.gz": ("md5:25c81989df183df01b3e8a0aad5dffbe", None),
            "t10k-images-idx3-ubyte.gz": ("md5:bef4ecab320f06d8554ea6380940ec79", None),
            "t10k-labels-idx1-ubyte.gz": ("md5:bb300cfdad3c16e7a12a480ee83cd310", None),
        },
    ),
    "cifar10/cifar-10-python.tar.gz": RemoteFile(
        "cifar10",
        "cifar-10-python.tar.gz",
        (_CIFAR_BASE + "cifar-10-python.tar.gz",),
        "md5:c58f30108f718f92721af3b95e74349a",
    ),
    "cifar100/cifar-100-python.tar.gz": RemoteFile(
        "cifar100",
        "cifar-100-python.tar.gz",
        (_CIFAR_BASE + "cifar-100-python.tar.gz",),
        "md5:eb9058c3a382ffc7106e4002c42a8d85",
    ),
    # Derived CIFAR-10 files with no public URL (see the project's data README): labels in the
    # official order, an exact-pixel subset, and a lossy JPEG q75 re-encoding of all images.
    "cifar10/cifar10_labels.npz": RemoteFile(
        "cifar10",
        "cifar10_labels.npz",
        (),
        "sha256:2adcb621b226054b45ea498e5151b50747ee667e75829c059844e7b78f6b5196",
    ),
    "cifar10/cifar10_exact_subset.npz": RemoteFile(
        "cifar10",
        "cifar10_exact_subset.npz",
        (),
        "sha256:581f5d3b87aaac63312e370fb532a836a67f0ecbf559772938f5ce01661f42ab",
    ),
    "cifar10/cifar10_jpeg_q75.npz": RemoteFile(
        "cifar10",
        "cifar10_jpeg_q75.npz",
        (),
        "sha256:6969207db5dddf4ace9b837306e20459dff527dcb61308ba63af48e9907f8baf",
    ),
}


def _source_checkout_data_dir() -> Path | None:
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file() and (root / "data").is_dir():
        return root / "data"
    return None


def data_dir() -> Path:
    """The folder lipviz reads data files from.

    In order: the environment variable ``LIPVIZ_DATA_DIR``; else ``data/`` of a source checkout;
    else the user cache folder (``pooch.os_cache("lipviz")``).

    Returns
    -------
    pathlib.Path
        The data folder (it need not exist yet).
    """
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return Path(env).expanduser().resolve()
    local = _source_checkout_data_dir()
    if local is not None:
        return local
    import pooch

    return Path(pooch.os_cache("lipviz"))


def _hash_file(path: Path, alg: str, decompress: bool) -> str:
    digest = hashlib.new(alg)
    opener = gzip.open if decompress else open
    with opener(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(spec: RemoteFile, path: Path) -> None:
    """Check a present file against its registered hash; raise :class:`DataHashError` if wrong.

    A ``.gz`` file with a registered content hash is checked on its decompressed content, so a
    re-compressed copy of the official data is accepted.

    Parameters
    ----------
    spec : RemoteFile
        The registered file.
    path : pathlib.Path
        The local file to check.

    Raises
    ------
    DataHashError
        If the file cannot be read or its hash differs from the registered one.
    """
    expected = spec.content_hash or spec.file_hash
    alg, want = expected.split(":", 1)
    try:
        got = _hash_file(path, alg, decompress=spec.content_hash is not None)
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        msg = f"Data file {path} could not be read ({err}); expected {expected}."
        raise DataHashError(msg) from err
    if got != want:
        what = "decompressed content" if spec.content_hash else "file"
        msg = (
            f"Data file {path} has the wrong hash: its {what} has {alg} {got}, "
            f"expected {want}. The file is corrupt or not the official one; delete it and "
            "fetch it again (or put the right file there)."
        )
        raise DataHashError(msg)


def _missing_message(spec: RemoteFile, folder: Path, errors: list[str]) -> str:
    lines = [
        f"Data file '{spec.fname}' is missing and could not be downloaded.",
        f"  put it in:     {folder}/",
        f"  expected hash: {spec.file_hash}"
        + (f" (decompressed content {spec.content_hash})" if spec.content_hash else ""),
    ]
    if spec.urls:
        lines.append("  official URLs: " + ", ".join(spec.urls))
    else:
        lines.append("  this file has no public download URL; copy it there by hand.")
    lines += [f"  tried: {e}" for e in errors]
    lines.append(f"  (set {ENV_VAR} to use another data folder)")
    return "\n".join(lines)


def fetch(relpath: str, *, root: Path | None = None, download: bool = True) -> Path:
    """Return the local path of a registered file, downloading it if needed and possible.

    Parameters
    ----------
    relpath : str
        A key of :data:`REGISTRY`, e.g. ``"mnist/t10k-labels-idx1-ubyte.gz"``.
    root : pathlib.Path, optional
        Data folder to use instead of :func:`data_dir`.
    download : bool
        If false, never touch the network. Ignored (no download) when :func:`offline`.

    Returns
    -------
    pathlib.Path
        The local file, present and with the registered hash.

    Raises
    ------
    KeyError
        For an unknown file (the message lists the known ones).
    DataHashError
        If the file is present but its hash is wrong.
    DataFileMissingError
        If the file is absent and cannot be downloaded (no network, no URL).
    """
    if relpath not in REGISTRY:
        msg = f"Unknown data file {relpath!r}. Known files: {', '.join(sorted(REGISTRY))}"
        raise KeyError(msg)
    spec = REGISTRY[relpath]
    folder = (root or data_dir()) / spec.folder
    path = folder / spec.fname
    if path.exists():
        verify(spec, path)
        return path
    errors: list[str] = []
    if offline():
        errors.append(f"{OFFLINE_VAR} is set: no download was tried")
    elif download:
        import pooch

        for url in spec.urls:
            try:
                got = pooch.retrieve(
                    url, known_hash=spec.file_hash, fname=spec.fname, path=folder, progressbar=True
                )
            except ValueError as err:  # pooch's hash mismatch on a fresh download
                raise DataHashError(str(err)) from err
            except Exception as err:  # noqa: BLE001 - any network/OS failure: try the next URL
                errors.append(f"{url}: {type(err).__name__}: {err}")
                logger.info("download of %s failed: %s", url, err)
                continue
            return Path(got)
    raise DataFileMissingError(_missing_message(spec, folder, errors))


def file_status(root: Path | None = None):
    """A DataFrame of every registered file: where it is expected and whether it is present.

    Parameters
    ----------
    root : pathlib.Path, optional
        Data folder to inspect instead of :func:`data_dir`.

    Returns
    -------
    pandas.DataFrame
        One row per entry of :data:`REGISTRY`, with columns ``file``, ``present``, ``path``,
        ``hash`` and ``downloadable``. Hashes are not checked (see :func:`verify`).
    """
    import pandas as pd

    base = root or data_dir()
    rows = []
    for key, spec in REGISTRY.items():
        path = base / spec.folder / spec.fname
        rows.append(
            {
                "file": key,
                "present": path.exists(),
                "path": str(path),
                "hash": spec.content_hash or spec.file_hash,
                "downloadable": bool(spec.urls),
            }
        )
    return pd.DataFrame(rows)
