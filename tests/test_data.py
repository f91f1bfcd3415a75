"""Data layer: registry hashes, offline behaviour, errors, shapes, splits, the JPEG CIFAR-10 set."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import io
import pickle
import shutil
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

import lipviz
from lipviz.data import (
    REGISTRY,
    DataFileMissingError,
    DataHashError,
    Normalize,
    RemoteFile,
    data_dir,
    fetch,
    load_dataset,
    make_toy,
    slab_reference,
)
from lipviz.data import datasets as datasets_mod
from lipviz.data import registry as registry_mod

MNIST_LABELS = "mnist/t10k-labels-idx1-ubyte.gz"
UNREACHABLE = "http://127.0.0.1:9/"  # the discard port: connection refused at once


# --- registry ---------------------------------------------------------------------------------


def test_registry_entries_are_well_formed():
    for key, spec in REGISTRY.items():
        assert key == spec.relpath
        alg, digest = spec.file_hash.split(":")
        assert alg in ("md5", "sha256")
        assert len(digest) == {"md5": 32, "sha256": 64}[alg]
        assert all(u.startswith(("http://", "https://")) for u in spec.urls)
    for folder in ("mnist", "fashion-mnist"):
        names = [k for k in REGISTRY if k.startswith(folder + "/")]
        assert len(names) == 4
    # official sources
    assert (
        REGISTRY["cifar10/cifar-10-python.tar.gz"]
        .urls[0]
        .startswith("https://www.cs.toronto.edu/~kriz/")
    )
    assert (
        REGISTRY["cifar100/cifar-100-python.tar.gz"].file_hash
        == "md5:eb9058c3a382ffc7106e4002c42a8d85"
    )
    assert REGISTRY[MNIST_LABELS].file_hash == "md5:ec29112dd5afa0611ce80d1b7f02629c"


def test_data_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("LIPVIZ_DATA_DIR", str(tmp_path))
    assert data_dir() == tmp_path.resolve()
    monkeypatch.delenv("LIPVIZ_DATA_DIR")
    checkout = Path(registry_mod.__file__).resolve().parents[2] / "data"
    assert data_dir() == checkout  # tests run from a source checkout
    monkeypatch.setattr(registry_mod, "_source_checkout_data_dir", lambda: None)
    assert "lipviz" in str(data_dir())  # the user cache folder


def _no_network(monkeypatch):
    import pooch

    def refuse(*args, **kwargs):
        raise AssertionError("the network must not be touched")

    monkeypatch.setattr(pooch, "retrieve", refuse)


@pytest.mark.data
def test_present_file_with_right_hash_is_used_offline(shared_data, monkeypatch):
    _no_network(monkeypatch)
    for key in REGISTRY:
        if key.startswith(("mnist/", "cifar10/cifar10_")):
            assert fetch(key) == shared_data / key


@pytest.mark.data
def test_mnist_is_checked_on_decompressed_content(shared_data, tmp_path, monkeypatch):
    _no_network(monkeypatch)
    src = shared_data / MNIST_LABELS
    content = gzip.decompress(src.read_bytes())
    (tmp_path / "mnist").mkdir()
    dst = tmp_path / MNIST_LABELS
    # a different gzip stream with identical content is accepted ...
    dst.write_bytes(gzip.compress(content, compresslevel=1, mtime=123))
    assert hashlib.md5(dst.read_bytes()).hexdigest() != REGISTRY[MNIST_LABELS].file_hash[4:]
    assert fetch(MNIST_LABELS, root=tmp_path) == dst
    # ... one flipped byte of content is rejected, with the expected hash in the message
    bad = bytearray(content)
    bad[100] ^= 1
    dst.write_bytes(gzip.compress(bytes(bad)))
    with pytest.raises(DataHashError, match="ff7bcfd416de"):
        fetch(MNIST_LABELS, root=tmp_path)


def test_wrong_hash_is_rejected(tmp_path):
    (tmp_path / "cifar10").mkdir()
    (tmp_path / "cifar10" / "cifar10_labels.npz").write_bytes(b"not the labels")
    with pytest.raises(DataHashError, match="wrong hash"):
        fetch("cifar10/cifar10_labels.npz", root=tmp_path)
    (tmp_path / "mnist").mkdir()
    (tmp_path / MNIST_LABELS).write_bytes(b"not gzip at all")
    with pytest.raises(DataHashError):
        fetch(MNIST_LABELS, root=tmp_path)


def test_missing_file_without_network_names_file_hash_and_folder(tmp_path, monkeypatch):
    spec = REGISTRY[MNIST_LABELS]
    offline = RemoteFile(
        spec.folder, spec.fname, (UNREACHABLE + spec.fname,), spec.file_hash, spec.content_hash
    )
    monkeypatch.setitem(REGISTRY, MNIST_LABELS, offline)
    with pytest.raises(DataFileMissingError) as info:
        fetch(MNIST_LABELS, root=tmp_path)
    msg = str(info.value)
    assert "t10k-labels-idx1-ubyte.gz" in msg
    assert "ec29112dd5afa0611ce80d1b7f02629c" in msg
    assert str(tmp_path / "mnist") in msg
    assert isinstance(info.value, FileNotFoundError)


def test_file_without_url_says_to_copy_it(tmp_path):
    with pytest.raises(DataFileMissingError, match="no public download URL"):
        fetch("cifar10/cifar10_jpeg_q75.npz", root=tmp_path)


def test_unknown_file_and_dataset_errors():
    with pytest.raises(KeyError, match="Known files"):
        fetch("mnist/nope.gz")
    with pytest.raises(ValueError, match="Available"):
        load_dataset("imagenet")
    with pytest.raises(ValueError, match="split"):
        load_dataset("mnist5k", "validation")


@pytest.fixture
def local_server(tmp_path):
    """An HTTP server on 127.0.0.1 serving tmp_path/'srv'."""
    root = tmp_path / "srv"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_download_is_hash_checked(local_server, tmp_path, monkeypatch):
    import logging

    logging.getLogger("pooch").setLevel(logging.ERROR)
    root, url = local_server
    payload = b"pretend this is an official archive"
    (root / "file.bin").write_bytes(payload)
    good = RemoteFile(
        "demo",
        "file.bin",
        (UNREACHABLE + "file.bin", url + "file.bin"),
        "md5:" + hashlib.md5(payload).hexdigest(),
    )
    monkeypatch.setitem(REGISTRY, "demo/file.bin", good)
    dest = tmp_path / "data"
    # the first (unreachable) URL fails, the second is downloaded and verified
    assert fetch("demo/file.bin", root=dest).read_bytes() == payload
    bad = RemoteFile("demo2", "file.bin", (url + "file.bin",), "md5:" + "0" * 32)
    monkeypatch.setitem(REGISTRY, "demo2/file.bin", bad)
    with pytest.raises(DataHashError):
        fetch("demo2/file.bin", root=dest)


# --- datasets ---------------------------------------------------------------------------------


def test_mnist5k_splits_are_deterministic_disjoint_and_in_unit_range():
    train, val, test = (load_dataset("mnist5k", s) for s in ("train", "val", "test"))
    full = load_dataset("mnist5k", "train+val")
    assert (len(train), len(val), len(test), len(full)) == (3600, 400, 1000, 4000)
    assert train.x.shape[1:] == (1, 28, 28) and train.x.dtype == torch.float32
    assert float(train.x.min()) == 0.0 and float(train.x.max()) == 1.0
    assert torch.equal(load_dataset("mnist5k", "val").x, val.x)
    tr_idx, va_idx = lipviz.data.split_indices(4000, 0.1, seed=0)
    assert not set(tr_idx) & set(va_idx) and set(tr_idx) | set(va_idx) == set(range(4000))
    assert torch.equal(full.x[torch.as_tensor(va_idx)], val.x)
    assert torch.equal(full.x[torch.as_tensor(tr_idx)], train.x)
    assert set(train.y.tolist()) == set(range(10))
    other = load_dataset("mnist5k", "val", seed=1)
    assert not torch.equal(other.x, val.x)


@pytest.mark.data
def test_mnist_shapes_and_labels(shared_data):
    train, val, test = (load_dataset("mnist", s) for s in ("train", "val", "test"))
    assert (len(train), len(val), len(test)) == (54000, 6000, 10000)
    assert test.x.shape == (10000, 1, 28, 28)
    assert torch.bincount(test.y).tolist()[:2] == [980, 1135]  # the official test set
    assert test.label == "MNIST"


@pytest.mark.data
def test_cifar10_exact_subset(shared_data):
    ds = load_dataset("cifar10-exact-subset", "test")
    assert ds.x.shape == (1017, 3, 32, 32)
    assert ds.classes[0] == "airplane"
    assert "exact" in ds.label


@pytest.mark.data
def test_cifar10_jpeg_decodes_and_matches_exact_subset(shared_data):
    with np.load(shared_data / "cifar10" / "cifar10_exact_subset.npz") as z:
        idx = np.r_[z["train_idx"][:300], 50000 + z["test_idx"][:300]]
        exact = np.concatenate([z["x_train"][:300], z["x_test"][:300]]).transpose(0, 3, 1, 2)
        labels = np.r_[z["y_train"][:300], z["y_test"][:300]]
    x, y = lipviz.data.decode_cifar10_jpeg(idx)
    assert x.shape == (600, 3, 32, 32) and x.dtype == np.uint8
    np.testing.assert_array_equal(y, labels)
    err = np.abs(x.astype(float) - exact.astype(float)).mean()
    assert 2.0 < err < 10.0  # lossy: about 5.8/255 on average, never identical
    with np.load(shared_data / "cifar10" / "cifar10_labels.npz") as z:
        np.testing.assert_array_equal(y[:300], z["y_train"][idx[:300]])


@pytest.mark.data
def test_cifar10_jpeg_dataset_is_labelled(shared_data, monkeypatch):
    fake = (np.zeros((60000, 3, 32, 32), np.uint8), np.zeros(60000, np.int64))
    monkeypatch.setattr(datasets_mod, "decode_cifar10_jpeg", lambda: fake)
    monkeypatch.setattr(datasets_mod, "_CACHE", {})
    ds = load_dataset("cifar10-jpeg", "test")
    assert ds.label == "CIFAR-10 (JPEG q75 re-encoding)"
    assert len(ds) == 10000


def test_cifar_tarball_reader(tmp_path, monkeypatch):
    """The official CIFAR-10 tar.gz layout (python pickles), built small."""
    buf = io.BytesIO()
    rng = np.random.default_rng(0)
    batches = {}
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            batch = {
                "data": rng.integers(0, 256, (4, 3072), dtype=np.uint8),
                "labels": [0, 1, 2, 9],
            }
            batches[name] = batch
            blob = pickle.dumps(batch)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    (tmp_path / "cifar10").mkdir()
    path = tmp_path / "cifar10" / "cifar-10-python.tar.gz"
    path.write_bytes(buf.getvalue())
    key = "cifar10/cifar-10-python.tar.gz"
    spec = REGISTRY[key]
    digest = "md5:" + hashlib.md5(buf.getvalue()).hexdigest()
    monkeypatch.setitem(REGISTRY, key, RemoteFile(spec.folder, spec.fname, spec.urls, digest))
    monkeypatch.setenv("LIPVIZ_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(datasets_mod, "_CACHE", {})
    ds = load_dataset("cifar10", "test")
    assert ds.x.shape == (4, 3, 32, 32) and ds.y.tolist() == [0, 1, 2, 9]
    expected = batches["test_batch"]["data"].reshape(4, 3, 32, 32) / 255.0
    assert torch.allclose(ds.x, torch.as_tensor(expected, dtype=torch.float32))
    assert len(load_dataset("cifar10", "train+val")) == 20


def test_missing_cifar100_without_network(tmp_path, monkeypatch):
    key = "cifar100/cifar-100-python.tar.gz"
    spec = REGISTRY[key]
    monkeypatch.setitem(
        REGISTRY, key, RemoteFile(spec.folder, spec.fname, (UNREACHABLE,), spec.file_hash)
    )
    monkeypatch.setenv("LIPVIZ_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(datasets_mod, "_CACHE", {})
    with pytest.raises(DataFileMissingError, match="cifar-100-python.tar.gz"):
        load_dataset("cifar100", "test")


# --- toys and Normalize -----------------------------------------------------------------------


@pytest.mark.parametrize("name", lipviz.data.available_toys())
def test_toys(name):
    ds = make_toy(name, n=101, seed=3)
    assert ds.x.shape == (101, 2) and ds.x.dtype == torch.float32
    assert set(ds.y.tolist()) == {0, 1}
    assert torch.equal(make_toy(name, n=101, seed=3).x, ds.x)


def test_slab_closed_form():
    ds = make_toy("slab", n=500, gap=0.25, angle=0.3)
    ref = slab_reference(ds)
    assert float(ref.distance.min()) >= 0.25 - 1e-6
    assert torch.equal((ds.x @ ref.w > 0).long(), ds.y)
    assert abs(float(torch.linalg.matrix_norm(ref.weight, 2)) - ref.lipschitz) < 1e-6
    with pytest.raises(ValueError, match="noise"):
        make_toy("slab", noise=0.1)


def test_normalize_layer_and_its_bound():
    norm = Normalize([0.5, 0.2, 0.1], [0.25, 0.5, 0.2])
    assert norm.lipschitz_bound() == pytest.approx(5.0)  # 1 / min std
    x = torch.rand(2, 3, 4, 4)
    expected = (x - torch.tensor([0.5, 0.2, 0.1]).view(1, 3, 1, 1)) / torch.tensor(
        [0.25, 0.5, 0.2]
    ).view(1, 3, 1, 1)
    assert torch.allclose(norm(x), expected)
    jac = torch.autograd.functional.jacobian(
        lambda v: norm(v.view(1, 3, 1, 1)).flatten(), torch.rand(3)
    )
    assert float(torch.linalg.matrix_norm(jac, 2)) == pytest.approx(norm.lipschitz_bound())
    with pytest.raises(ValueError, match="positive"):
        Normalize([0.0], [0.0])
    with pytest.raises(ValueError, match="expects"):
        norm(torch.rand(2, 1, 4, 4))
    with pytest.raises(ValueError, match="values"):
        Normalize([0.0, 1.0], [1.0])


def test_file_status_lists_every_file(tmp_path):
    table = lipviz.data.file_status(tmp_path)
    assert set(table.file) == set(REGISTRY)
    assert not table.present.any()
    shutil.rmtree(tmp_path)


def test_offline_forbids_every_download(tmp_path, monkeypatch):
    _no_network(monkeypatch)
    monkeypatch.setenv("LIPVIZ_OFFLINE", "1")
    assert registry_mod.offline()
    with pytest.raises(DataFileMissingError, match="LIPVIZ_OFFLINE is set"):
        fetch(MNIST_LABELS, root=tmp_path)
    monkeypatch.setenv("LIPVIZ_OFFLINE", "no")
    assert not registry_mod.offline()


def test_missing_data_names_the_absent_files_and_how_to_get_them(tmp_path, monkeypatch):
    _no_network(monkeypatch)
    monkeypatch.setenv("LIPVIZ_DATA_DIR", str(tmp_path))
    text = lipviz.data.missing_data("mnist")
    assert "MNIST is not in the data folder" in text
    assert "mnist/t10k-images-idx3-ubyte.gz" in text and "lipviz data fetch mnist" in text
    assert str(tmp_path) not in text  # a sentence for a page: no machine path
    assert "by hand" in lipviz.data.missing_data("cifar10-jpeg")  # no public URL
    assert lipviz.data.missing_data("mnist5k") is None  # embedded
    assert lipviz.data.fetch_dataset("mnist5k") == []
    (tmp_path / "mnist").mkdir()
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        (tmp_path / "mnist" / name).write_bytes(b"")
    text = lipviz.data.missing_data("mnist")
    assert "train-images" not in text and "t10k-labels-idx1-ubyte.gz" in text
    for bad in (lipviz.data.missing_data, lipviz.data.fetch_dataset):
        with pytest.raises(ValueError, match="Unknown dataset"):
            bad("mnist-10")


@pytest.mark.data
def test_missing_data_is_none_when_every_file_is_there(shared_data, monkeypatch):
    _no_network(monkeypatch)
    for name in ("mnist", "cifar10-jpeg", "cifar10-exact-subset"):
        assert lipviz.data.missing_data(name) is None
    assert lipviz.data.fetch_dataset("mnist")[0].parent == shared_data / "mnist"


def test_every_dataset_names_registered_files():
    for name, spec in datasets_mod._DATASETS.items():
        assert set(spec.files) <= set(REGISTRY), name
        assert bool(spec.files) != spec.offline, name  # embedded sets alone read no file
