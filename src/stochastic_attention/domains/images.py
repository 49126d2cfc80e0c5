"""The ``images`` domain: a memory from a folder of PNG/JPEG files (SPEC §5, DESIGN domains).

Dataset keys (besides ``domain``)::

    path: <folder>            # relative paths are relative to the working directory
    size: [h, w]              # every image is resized to h×w, so d = h·w
    n_patterns: K             # optional; default every image in the folder
    selection: first          # or random: which K files (random: seeded from the config)
    grey: rec709              # colour → grey: rec709 (rgb2gray) | rec601 (Pillow "L") | mean
    anti_aliasing: true       # false: resize without the smoothing (the reference's)

The images are the ``*.png``, ``*.jpg`` and ``*.jpeg`` files directly in the folder (suffix
case ignored, hidden files and sub-folders skipped) in sorted name order; the first K are
read (or K drawn at random, kept in name order). Every image is turned to grayscale whatever
its mode (L, LA, P, RGB, RGBA, CMYK, 16-bit grey; colour by ``grey``, alpha dropped), resized
to ``size`` with ``skimage.transform.resize`` (anti-aliased unless ``anti_aliasing: false``;
:mod:`._imaging` says what each option changes), flattened row-major and unit-normalised:
``memory: (h·w, K)``. A missing folder, a folder without images, fewer than K images, an
unreadable or corrupt file, or a mode with no grey conversion raise a DomainError naming the
folder or file. The metadata records the file names, each file's sha256, original size and
mode, the distinct original sizes and ``image_shape`` = size.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._imaging import (
    GREY_CONVERSIONS,
    MAX_SIDE,
    SELECTIONS,
    check_size,
    image_panel,
    images_to_memory,
    list_images,
    read_grayscale,
    resize,
    select_files,
    sha256_bytes,
)
from .base import DomainError, Memory, Panel

__all__ = [
    "DATASET_SCHEMA",
    "GREY_OPTION",
    "GRID_CMAP",
    "IMAGE_OPTIONS",
    "NAME",
    "SOURCE_SCHEMA",
    "build_memory",
    "dataset_files",
    "dataset_inputs",
    "image_options",
    "panel",
    "read_folder",
]

NAME = "images"
SOURCE_SCHEMA = None
IMAGE_OPTIONS: dict = {
    "selection": {
        "enum": list(SELECTIONS),
        "default": "first",
        "description": "which K images become the memory: the first K in name order, or K "
        "drawn at random (seeded from the config's seed and the dataset name)",
    },
    "anti_aliasing": {
        "type": "boolean",
        "default": True,
        "description": "smooth before shrinking (skimage resize anti_aliasing); false "
        "resizes as the reference does, keeping fine detail and its aliasing",
    },
}
"""Dataset keys shared with the ``faces`` domain."""
GREY_OPTION: dict = {
    "enum": list(GREY_CONVERSIONS),
    "default": "rec709",
    "description": "colour → grey: rec709 (scikit-image rgb2gray, 0.2125/0.7154/0.0721), "
    "rec601 (Pillow convert('L'), 0.299/0.587/0.114, 8-bit) or mean ((R+G+B)/3)",
}
GRID_CMAP = "gray"  # photographs: high values light (report.comparison_figures.sample_grids cmap)
DATASET_SCHEMA: dict = {
    "type": "object",
    "properties": {
        "path": {
            "type": "string",
            "description": "folder of PNG/JPEG images (relative to the working directory)",
        },
        "size": {
            "type": "array",
            "items": {"type": "integer", "minimum": 1, "maximum": MAX_SIDE},
            "minItems": 2,
            "maxItems": 2,
            "description": "[height, width] every image is resized to (d = height·width)",
        },
        "n_patterns": {
            "type": "integer",
            "minimum": 1,
            "description": "K: the first K images in sorted name order (default: all)",
        },
        "grey": GREY_OPTION,
        **IMAGE_OPTIONS,
    },
    "required": ["path", "size"],
}


def read_folder(
    folder: Path | str,
    n_patterns: int | None,
    what: str,
    *,
    grey: str = "rec709",
    selection: str = "first",
    seed: int | None = None,
) -> tuple[list[np.ndarray], list[dict]]:
    """``n_patterns`` (all if None) images of ``folder`` in grey at original size: the first
    in name order, or drawn at random from ``seed`` (``selection``, see
    :func:`._imaging.select_files`); ``grey`` is the colour conversion.

    Returns (images: list of (h_i, w_i) float64 in [0, 1], records: one dict per image with
    ``name``, ``sha256``, ``size`` [h, w] and ``mode``).
    """
    folder = Path(folder).expanduser()
    files = list_images(folder, what)
    if n_patterns is not None:
        if len(files) < n_patterns:
            raise DomainError(
                f"{what}: image folder {folder} holds {len(files)} images, fewer than "
                f"n_patterns={n_patterns}; lower n_patterns or add images"
            )
        files = [files[i] for i in select_files(len(files), n_patterns, selection, seed)]
    images, records = [], []
    for path in files:
        pixels, mode, data = read_grayscale(path, what, grey)
        images.append(pixels)
        records.append(
            {
                "name": path.name,
                "sha256": sha256_bytes(data),
                "size": list(pixels.shape),
                "mode": mode,
            }
        )
    return images, records


def _n_patterns(params: dict, what: str) -> int | None:
    value = params.get("n_patterns")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise DomainError(f"{what}: n_patterns must be a positive integer, got {value!r}")
    return int(value)


def _path(params: dict, key: str, what: str) -> Path:
    value = params.get(key)
    if not isinstance(value, str | Path) or not str(value):
        raise DomainError(f"{what}: the dataset needs {key}: <folder of PNG/JPEG images>")
    return Path(value).expanduser()


def image_options(params: dict) -> dict:
    """The dataset's ``selection`` and ``anti_aliasing`` (defaults from :data:`IMAGE_OPTIONS`)."""
    return {key: params.get(key, spec["default"]) for key, spec in IMAGE_OPTIONS.items()}


def dataset_inputs(params: dict) -> dict[str, str]:
    """The folder the memory reads (so the workflow rebuilds it when the folder changes)."""
    return {"folder": str(params["path"])}


def dataset_files(params: dict) -> list[Path]:
    """The image files the memory reads (their content digest re-runs it after an edit in
    place, which leaves the folder's own mtime alone); the folder itself if it is unreadable
    (the memory job then names the problem)."""
    try:
        files = list_images(Path(params["path"]).expanduser(), "images dataset")
    except DomainError:
        return [Path(params["path"])]
    count = params.get("n_patterns")
    if image_options(params)["selection"] != "first":  # a random K: digest every candidate
        return files
    return files[:count] if isinstance(count, int) and count > 0 else files


def build_memory(params: dict, raw: Path | None = None) -> Memory:
    """Memory (h·w, K) of K images of ``params["path"]`` (first, or random from
    ``params["selection_seed"]``) resized to ``size``."""
    what = "images dataset"
    folder = _path(params, "path", what)
    size = check_size(params.get("size"), f"{what} size")
    options = image_options(params)
    images, records = read_folder(
        folder, _n_patterns(params, what), what, grey=params.get("grey", "rec709"),
        selection=options["selection"], seed=params.get("selection_seed"),
    )  # fmt: skip
    resized = [resize(image, size, options["anti_aliasing"]) for image in images]
    memory = images_to_memory(resized, f"{what} {folder}")
    metadata = {
        "domain": NAME,
        "path": str(params["path"]),
        "grey": params.get("grey", "rec709"),
        **options,
        "image_shape": list(size),
        "d": memory.shape[0],
        "n_patterns": memory.shape[1],
        "original_sizes": sorted({tuple(r["size"]) for r in records}),
        "files": records,
    }
    metadata["original_sizes"] = [list(s) for s in metadata["original_sizes"]]
    return Memory(memory, metadata)


def panel(states: np.ndarray, memory: Memory) -> Panel:
    """States (d, n) → images (n, h, w) at the dataset's ``size``."""
    return image_panel(states, memory.metadata["image_shape"])
