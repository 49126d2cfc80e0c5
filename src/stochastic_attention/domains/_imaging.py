"""Image helpers shared by the image domains (``images``, ``faces``, ``array``, ``mnist``).

* :func:`read_grayscale` — one PNG/JPEG file → (h, w) float64 in [0, 1], whatever its mode
  (L, LA, P, RGB, RGBA, CMYK, 16-bit grey, …); alpha is dropped and colour becomes grey by
  one of :data:`GREY_CONVERSIONS`:

  - ``rec709`` (default): scikit-image's ``rgb2gray``, ``0.2125 R + 0.7154 G + 0.0721 B``
    (ITU-R BT.709 luma of the linear-light weights), full float precision;
  - ``rec601``: Pillow's ``Image.convert("L")``, ``L = 0.299 R + 0.587 G + 0.114 B``
    (ITU-R 601-2 luma) rounded to 8 bits, what a script using Pillow gets;
  - ``mean``: the plain mean ``(R + G + B) / 3``.

  Grey images are the same under all three; a colour image's grey levels shift (green
  weighs 0.72 in rec709, 0.59 in rec601, 0.33 in the mean).
* :func:`resize` — (h, w) → ``size`` with ``skimage.transform.resize`` (bilinear), by default
  anti-aliased: when shrinking, a Gaussian of σ = (scale − 1)/2 smooths the image first.
  ``anti_aliasing=False`` samples the bilinear interpolant at the new pixel centres without
  it, as the reference does: ``skimage.transform.resize(image, size, anti_aliasing=False)``,
  the same bilinear sampling at pixel centres as OpenCV's ``cv2.resize(...,
  interpolation=cv2.INTER_LINEAR)`` and ``torch.nn.functional.interpolate(mode="bilinear",
  antialias=False)``. (Pillow's
  ``Image.resize`` widens its filter when shrinking, so it is an anti-aliased resize.) When
  shrinking, no anti-aliasing keeps more of the fine detail and its aliasing, so stored
  faces differ more from each other (higher D); enlarging is the same either way.
* :func:`select_files` — which K of n files or faces become the memory: the ``first`` K, or
  K drawn at ``random`` without replacement from a seed (kept in file order).
* :func:`images_to_memory` — n images (h, w) → unit columns (h·w, n), row-major.
* :func:`states_to_images` / :func:`image_panel` — states (d, n) → images (n, h, w) / a
  :class:`~.base.Panel` for sample grids.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .base import DomainError, Panel, unit_columns

__all__ = [
    "GREY_CONVERSIONS",
    "IMAGE_SUFFIXES",
    "MAX_SIDE",
    "SELECTIONS",
    "check_size",
    "image_panel",
    "images_to_memory",
    "list_images",
    "read_grayscale",
    "resize",
    "select_files",
    "sha256_bytes",
    "square_shape",
    "states_to_images",
]

IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg")
GREY_CONVERSIONS: tuple[str, ...] = ("rec709", "rec601", "mean")
SELECTIONS: tuple[str, ...] = ("first", "random")
MAX_SIDE = 2048
"""Largest height or width of a resized image: d = h·w ≤ 2048² ≈ 4.2 million, whose memory
at K = 100 already takes 3.4 GB (a larger size would first fail as an out-of-memory error)."""
_GREY_MODES = {"1", "L", "I", "F", "I;16", "I;16L", "I;16B", "I;16N"}
_GREY_ALPHA_MODES = {"LA", "La"}
_RGB_MODES = {"RGB", "RGBA", "RGBa", "RGBX"}
_CONVERTIBLE_MODES = {"P", "PA", "CMYK", "YCbCr"}  # Pillow turns these into RGB(A) exactly
_FULL_SCALE = {
    "1": 1.0,
    "L": 255.0,
    "LA": 255.0,
    "La": 255.0,
    "I;16": 65535.0,
    "I;16L": 65535.0,
    "I;16B": 65535.0,
    "I;16N": 65535.0,
}


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def check_size(value: object, what: str) -> tuple[int, int]:
    """``value`` as an image size ``(h, w)`` of two positive integers, else a DomainError."""
    if (
        isinstance(value, str | bytes)
        or not isinstance(value, Sequence)
        or len(value) != 2
        or not all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in value)
        or min(value) < 1
    ):
        raise DomainError(f"{what} must be [height, width], two positive integers; got {value!r}")
    if max(value) > MAX_SIDE:
        raise DomainError(
            f"{what} {list(map(int, value))} is too large: height and width may be at most "
            f"{MAX_SIDE} (d = h·w floats per pattern); choose a smaller size"
        )
    return int(value[0]), int(value[1])


def square_shape(d: int) -> tuple[int, int] | None:
    """``(s, s)`` when ``d = s²``, else ``None``."""
    side = math.isqrt(int(d))
    return (side, side) if side * side == d else None


def list_images(folder: Path, what: str) -> list[Path]:
    """The PNG/JPEG files directly in ``folder``, sorted by name (hidden files skipped)."""
    folder = Path(folder)
    if not folder.is_dir():
        problem = "is not a folder" if folder.exists() else "does not exist"
        raise DomainError(
            f"{what}: image folder {folder} {problem}; set path to a folder of PNG/JPEG files "
            "(a relative path is relative to the working directory)"
        )
    files = sorted(
        (
            p
            for p in folder.iterdir()
            if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".") and p.is_file()
        ),
        key=lambda p: p.name,
    )
    if not files:
        raise DomainError(
            f"{what}: image folder {folder} holds no images (looked for "
            f"{', '.join('*' + s for s in IMAGE_SUFFIXES)}); put PNG or JPEG files in it"
        )
    return files


def _colour_to_grey(image, array: np.ndarray, grey: str) -> np.ndarray:
    """An 8-bit RGB(A) Pillow image and its array (h, w, ≥3) → grey (h, w) in [0, 1]."""
    from skimage.color import rgb2gray

    if grey == "rec709":
        return rgb2gray(array[..., :3])
    if grey == "rec601":
        return np.asarray(image.convert("L"), dtype=np.float64) / 255.0
    if grey == "mean":
        return array[..., :3].astype(np.float64).mean(axis=-1) / 255.0
    raise DomainError(f"grey must be one of {', '.join(GREY_CONVERSIONS)}, got {grey!r}")


def _pixels(image, path: Path, what: str, grey: str = "rec709") -> np.ndarray:
    """A loaded Pillow image → (h, w) float64 grey values in [0, 1] (alpha dropped)."""
    mode = image.mode
    if mode in _CONVERTIBLE_MODES:
        image = image.convert("RGBA" if mode in {"P", "PA"} else "RGB")
        mode = image.mode
    array = np.asarray(image)
    if mode in _GREY_MODES:
        grey = array.astype(np.float64)
        if mode in _FULL_SCALE:
            return grey / _FULL_SCALE[mode]
        high = float(np.max(grey)) if grey.size else 0.0  # "I" / "F": no fixed full scale
        return grey / high if high > 0 else grey
    if mode in _GREY_ALPHA_MODES:
        return array[..., 0].astype(np.float64) / 255.0
    if mode in _RGB_MODES:
        return _colour_to_grey(image, array, grey)
    raise DomainError(
        f"{what}: image {path} has the mode {mode!r}, which cannot be converted to grayscale; "
        "save it as an 8-bit grey, RGB or RGBA PNG/JPEG"
    )


def read_grayscale(
    path: Path, what: str, grey: str = "rec709"
) -> tuple[np.ndarray, str, bytes]:
    """Read one image file → (grey (h, w) float64 in [0, 1], original mode, file bytes).

    ``grey`` is the colour conversion (:data:`GREY_CONVERSIONS`). A missing, unreadable or
    corrupt file, or a mode that has no grey conversion, raises a DomainError naming the file.
    """
    import io

    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise DomainError(f"{what}: cannot read image {path} ({error.strerror})") from None
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            mode = image.mode
            pixels = _pixels(image, path, what, grey)
    except DomainError:
        raise
    except (
        UnidentifiedImageError,
        OSError,
        ValueError,
        SyntaxError,
        Image.DecompressionBombError,
    ) as error:
        raise DomainError(
            f"{what}: image {path} is unreadable or corrupt ({error}); replace or remove it"
        ) from None
    if pixels.ndim != 2 or min(pixels.shape) < 1:
        raise DomainError(
            f"{what}: image {path} decodes to shape {pixels.shape}, not (height, width); "
            "save it as a single-frame PNG/JPEG"
        )
    return pixels, mode, data


def resize(
    image: np.ndarray, size: tuple[int, int], anti_aliasing: bool = True
) -> np.ndarray:
    """``image`` (h, w) → (size[0], size[1]) float64, bilinear, anti-aliased when shrinking
    unless ``anti_aliasing`` is false (the module docstring names the equivalent calls);
    unchanged if the size is equal."""
    from skimage.transform import resize as skimage_resize

    image = np.asarray(image, dtype=np.float64)
    if image.shape == tuple(size):
        return image.copy()
    return skimage_resize(image, tuple(size), anti_aliasing=bool(anti_aliasing))


def select_files(
    n_available: int, n_patterns: int, selection: str = "first", seed: int | None = None
) -> np.ndarray:
    """Indices (K,) of the K of ``n_available`` items that become the memory, ascending.

    ``first``: 0 … K−1. ``random``: K distinct indices drawn from ``seed`` (the workflow
    derives it from the config's seed and the dataset's name, so a run is reproducible and
    two datasets draw independently), sorted so the memory keeps file order.
    """
    if selection == "first":
        return np.arange(n_patterns)
    if selection != "random":
        raise DomainError(f"selection must be one of {', '.join(SELECTIONS)}, got {selection!r}")
    if seed is None:
        raise DomainError(
            "selection random needs a seed (selection_seed; the workflow derives it from "
            "the config's seed and the dataset name)"
        )
    rng = np.random.default_rng(int(seed))
    return np.sort(rng.choice(n_available, size=n_patterns, replace=False))


def images_to_memory(images: Sequence[np.ndarray] | np.ndarray, what: str) -> np.ndarray:
    """n images of one shape (h, w) → memory (h·w, n): row-major pixels, unit columns."""
    stack = np.stack([np.asarray(image, dtype=np.float64) for image in images])
    return unit_columns(stack.reshape(stack.shape[0], -1).T, what)


def states_to_images(states: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """States (d, n) (or one state (d,)) → images (n, h, w), row-major; needs d = h·w."""
    states = np.asarray(states, dtype=np.float64)
    if states.ndim == 1:
        states = states[:, None]
    height, width = (int(v) for v in shape)
    if states.ndim != 2 or states.shape[0] != height * width:
        raise ValueError(
            f"states of shape {states.shape} cannot be shown as {height}×{width} images "
            f"(need ({height * width}, n))"
        )
    return states.T.reshape(-1, height, width)


def image_panel(states: np.ndarray, shape: Sequence[int]) -> Panel:
    """States (d, n) → ``Panel(kind="image", images (n, h, w))``."""
    return Panel(kind="image", images=states_to_images(states, shape))
