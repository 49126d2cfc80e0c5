"""Image helpers shared by the image domains (``images``, ``faces``, ``array``, ``mnist``).

* :func:`read_grayscale` — one PNG/JPEG file → (h, w) float64 in [0, 1], whatever its mode
  (L, LA, P, RGB, RGBA, CMYK, 16-bit grey, …): colour goes through scikit-image's
  ``rgb2gray``, alpha is dropped.
* :func:`resize` — (h, w) → ``size`` with ``skimage.transform.resize(anti_aliasing=True)``.
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
    "IMAGE_SUFFIXES",
    "MAX_SIDE",
    "check_size",
    "image_panel",
    "images_to_memory",
    "list_images",
    "read_grayscale",
    "resize",
    "sha256_bytes",
    "square_shape",
    "states_to_images",
]

IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg")
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


def _pixels(image, path: Path, what: str) -> np.ndarray:
    """A loaded Pillow image → (h, w) float64 grey values in [0, 1] (alpha dropped)."""
    from skimage.color import rgb2gray

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
        return rgb2gray(array[..., :3])
    raise DomainError(
        f"{what}: image {path} has the mode {mode!r}, which cannot be converted to grayscale; "
        "save it as an 8-bit grey, RGB or RGBA PNG/JPEG"
    )


def read_grayscale(path: Path, what: str) -> tuple[np.ndarray, str, bytes]:
    """Read one image file → (grey (h, w) float64 in [0, 1], original mode, file bytes).

    A missing, unreadable or corrupt file, or a mode that has no grey conversion, raises a
    DomainError naming the file.
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
            grey = _pixels(image, path, what)
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
    if grey.ndim != 2 or min(grey.shape) < 1:
        raise DomainError(
            f"{what}: image {path} decodes to shape {grey.shape}, not (height, width); "
            "save it as a single-frame PNG/JPEG"
        )
    return grey, mode, data


def resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``image`` (h, w) → (size[0], size[1]) float64, anti-aliased (unchanged if equal)."""
    from skimage.transform import resize as skimage_resize

    image = np.asarray(image, dtype=np.float64)
    if image.shape == tuple(size):
        return image.copy()
    return skimage_resize(image, tuple(size), anti_aliasing=True)


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
