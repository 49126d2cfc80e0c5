"""The ``faces`` domain (SPEC §5, E10): K grayscale face images resized to h×w, unit columns.

Sources (``sources.faces``):

* ``{kind: offline}`` (default): scikit-image's ``skimage.data.lfw_subset()``, bundled with
  the package (no network): 200 crops of 25×25 from Labeled Faces in the Wild, float64 in
  [0, 1]. Its docstring says the first 100 are faces and the last 100 non-face background
  crops of the same photos, and viewing them confirms it, so only the first 100 are kept.
* ``{kind: folder, path: <folder>, grey: rec709}``: every PNG/JPEG in a folder (sorted by
  name), read the way the ``images`` domain reads them (alpha dropped; colour to grey by
  ``grey``: rec709, rec601 = Pillow's ``convert("L")``, or mean; see :mod:`._imaging`); sizes
  may differ. The offline faces are grey already, so ``grey`` changes nothing there.

:func:`fetch` writes one ``.npz``: ``images`` (n, H, W) float32 grey values (image i in its
top-left ``shapes[i]`` corner, zeros elsewhere, H and W the largest height and width),
``shapes`` (n, 2) int64 original sizes and ``names`` (n,) str. :func:`build_memory` takes K
faces (the first K, or ``selection: random``: K drawn from a seed derived from the config's
seed and the dataset name, kept in source order), resizes them from their original size to
``size`` (default 64×64, so d = 4096) with ``skimage.transform.resize`` (anti-aliased unless
``anti_aliasing: false``, the reference's resize; it matters only when shrinking, e.g. faces
larger than 64×64, not for the 25×25 offline crops), flattens them row-major and
unit-normalises: ``memory: (h·w, K)``.
"""

from __future__ import annotations

from importlib import metadata as package_metadata
from pathlib import Path

import numpy as np

from ..arrays import read_npz
from ._imaging import (
    check_size,
    image_panel,
    images_to_memory,
    resize,
    select_files,
    sha256_bytes,
)
from .base import DomainError, Memory, Panel
from .images import GREY_OPTION, IMAGE_OPTIONS, image_options, read_folder

__all__ = [
    "DATASET_SCHEMA",
    "DEFAULT_SIZE",
    "GRID_CMAP",
    "NAME",
    "N_OFFLINE_FACES",
    "SOURCE_SCHEMA",
    "build_memory",
    "fetch",
    "load",
    "panel",
]

NAME = "faces"
N_OFFLINE_FACES = 100  # lfw_subset(): images 0–99 are faces, 100–199 background crops
DEFAULT_SIZE: tuple[int, int] = (64, 64)
DEFAULT_N_PATTERNS = 100
GRID_CMAP = "gray"  # photographs: high values light (report.comparison_figures.sample_grids cmap)
SOURCE_SCHEMA: dict = {
    "type": "object",
    "properties": {
        "kind": {
            "enum": ["offline", "folder"],
            "default": "offline",
            "description": "offline: scikit-image's 100 LFW face crops (25×25); folder: "
            "every PNG/JPEG in path",
        },
        "path": {
            "type": "string",
            "description": "folder of face images (kind folder; relative to the working directory)",
        },
        "grey": GREY_OPTION,
    },
    "additionalProperties": False,
    "if": {"properties": {"kind": {"const": "folder"}}, "required": ["kind"]},
    "then": {"required": ["path"]},
}
DATASET_SCHEMA: dict = {
    "type": "object",
    "properties": {
        "size": {
            "type": "array",
            "items": {"type": "integer", "minimum": 1},
            "minItems": 2,
            "maxItems": 2,
            "default": list(DEFAULT_SIZE),
            "description": "[height, width] every face is resized to (d = height·width)",
        },
        "n_patterns": {
            "type": "integer",
            "minimum": 1,
            "default": DEFAULT_N_PATTERNS,
            "description": "K: the first K faces of the source (or K at random: selection)",
        },
        **IMAGE_OPTIONS,
    },
    "required": [],
}


def _offline() -> tuple[list[np.ndarray], list[str], dict]:
    """The 100 face crops of ``skimage.data.lfw_subset()`` with their provenance."""
    from skimage import data

    subset = np.asarray(data.lfw_subset(), dtype=np.float64)
    if subset.ndim != 3 or subset.shape[0] < N_OFFLINE_FACES:
        raise DomainError(
            f"faces: skimage.data.lfw_subset() returned shape {subset.shape}, expected "
            "(200, 25, 25); reinstall scikit-image or use a folder source"
        )
    faces = subset[:N_OFFLINE_FACES]
    provenance = {
        "package": "scikit-image",
        "package_version": package_metadata.version("scikit-image"),
        "function": "skimage.data.lfw_subset",
        "n_available": int(subset.shape[0]),
        "selection": f"the first {N_OFFLINE_FACES} (faces; the rest are background crops)",
        "lfw_subset_sha256": sha256_bytes(np.ascontiguousarray(subset, dtype="<f8").tobytes()),
    }
    names = [f"lfw_subset[{i}]" for i in range(N_OFFLINE_FACES)]
    return list(faces), names, provenance


def _folder(source: dict) -> tuple[list[np.ndarray], list[str], dict]:
    """Every image of the folder ``source["path"]`` in grey at its original size."""
    path = source.get("path")
    if not path:
        raise DomainError("faces: a folder source needs path: <folder of PNG/JPEG faces>")
    images, records = read_folder(
        path, None, "faces source", grey=source.get("grey", GREY_OPTION["default"])
    )
    provenance = {
        "path": str(path),
        "grey": source.get("grey", GREY_OPTION["default"]),
        "files": records,
    }
    return images, [r["name"] for r in records], provenance


def fetch(source: dict | None, out_path: Path | str) -> dict:
    """Write the faces of ``source`` to the ``.npz`` ``out_path``; return provenance.

    The npz holds ``images`` (n, H, W) float32 (image i in ``[:h_i, :w_i]``, zero padding),
    ``shapes`` (n, 2) int64 and ``names`` (n,) str.
    """
    source = dict(source or {"kind": "offline"})
    kind = source.get("kind", "offline")
    if kind == "offline":
        images, names, extra = _offline()
    elif kind == "folder":
        images, names, extra = _folder(source)
    else:
        raise DomainError(f"faces: unknown source kind {kind!r}; use offline or folder")
    shapes = np.array([image.shape for image in images], dtype=np.int64)
    stack = np.zeros((len(images), *shapes.max(axis=0)), dtype=np.float32)
    for i, image in enumerate(images):
        stack[i, : image.shape[0], : image.shape[1]] = image
    with open(out_path, "wb") as handle:
        np.savez(handle, images=stack, shapes=shapes, names=np.array(names, dtype=str))
    return {
        "domain": NAME,
        "kind": kind,
        **extra,
        "count": len(images),
        "original_sizes": [list(s) for s in sorted({tuple(s) for s in shapes.tolist()})],
        "arrays_sha256": sha256_bytes(stack.tobytes() + shapes.astype("<i8").tobytes()),
    }


def load(raw: Path | str) -> tuple[list[np.ndarray], list[str]]:
    """Read a file written by :func:`fetch` → (images at original size, names)."""
    data = read_npz(raw, ("images", "shapes", "names"), "faces raw data")
    images = [
        data["images"][i, :h, :w].astype(np.float64) for i, (h, w) in enumerate(data["shapes"])
    ]
    return images, [str(name) for name in data["names"]]


def build_memory(params: dict, raw: Path | None) -> Memory:
    """Memory (h·w, K) of K faces of the fetched ``raw`` file (first, or random from
    ``params["selection_seed"]``) resized to ``size``."""
    if raw is None:
        raise DomainError("faces: build_memory needs the file written by fetch")
    size = check_size(params.get("size", list(DEFAULT_SIZE)), "faces dataset size")
    n_patterns = params.get("n_patterns", DEFAULT_N_PATTERNS)
    if (
        isinstance(n_patterns, bool)
        or not isinstance(n_patterns, int | np.integer)
        or (n_patterns < 1)
    ):
        raise DomainError(f"faces: n_patterns must be a positive integer, got {n_patterns!r}")
    images, names = load(raw)
    if len(images) < n_patterns:
        raise DomainError(
            f"faces: the source holds {len(images)} faces, fewer than n_patterns={n_patterns}; "
            "lower n_patterns or use a folder source with more images"
        )
    options = image_options(params)
    picks = select_files(
        len(images), int(n_patterns), options["selection"], params.get("selection_seed")
    )
    chosen = [images[i] for i in picks]
    resized = [resize(image, size, options["anti_aliasing"]) for image in chosen]
    memory = images_to_memory(resized, f"faces {raw}")
    metadata = {
        "domain": NAME,
        "image_shape": list(size),
        "d": memory.shape[0],
        "n_patterns": memory.shape[1],
        **options,
        "original_sizes": [list(s) for s in sorted({image.shape for image in chosen})],
        "names": [names[i] for i in picks],
    }
    return Memory(memory, metadata)


def panel(states: np.ndarray, memory: Memory) -> Panel:
    """States (d, n) → images (n, h, w) at the dataset's ``size``."""
    return image_panel(states, memory.metadata["image_shape"])
