"""Figures with one look: matplotlib on the Agg backend, readable fonts, labelled axes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

__all__ = ["image_grid", "sample_grids", "save", "style", "training_curves"]

STYLE = {
    "figure.dpi": 110,
    "savefig.dpi": 130,
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "legend.fontsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def style() -> None:
    """Apply the project's matplotlib style."""
    plt.rcParams.update(STYLE)


def save(figure: plt.Figure, path: Path) -> None:
    """Save ``figure`` to ``path`` (format from the suffix; PNG needs no metadata date)."""
    path = Path(path)
    metadata = {"Software": None} if path.suffix.lower() == ".png" else {"CreationDate": None}
    figure.savefig(
        path, bbox_inches="tight", format=path.suffix.lstrip(".") or "png", metadata=metadata
    )
    plt.close(figure)


def image_grid(images: np.ndarray, rows: int = 4, cols: int = 4) -> np.ndarray:
    """Tile ``images`` (n, h, w) into one (rows·(h+1), cols·(w+1)) array with 1-px gaps."""
    n, height, width = images.shape
    canvas = np.full((rows * (height + 1) - 1, cols * (width + 1) - 1), np.nan)
    for index in range(min(n, rows * cols)):
        r, c = divmod(index, cols)
        canvas[
            r * (height + 1) : r * (height + 1) + height, c * (width + 1) : c * (width + 1) + width
        ] = images[index]
    return canvas


def sample_grids(
    panels: Sequence[tuple[str, np.ndarray]],
    path: Path,
    *,
    title: str,
    columns: int = 4,
    cmap: str = "gray_r",
) -> None:
    """One 4×4 grid of images per panel (label, images (n, h, w)), panels in rows of four.

    Each image is scaled to its own range so that shapes, not contrast, are compared.
    ``cmap`` "gray_r" draws high values dark (MNIST ink on paper); photographs such as faces
    need "gray" (high values light), else they show as negatives.
    """
    style()
    n_rows = int(np.ceil(len(panels) / columns))
    figure, axes = plt.subplots(
        n_rows, columns, figsize=(3.1 * columns, 3.4 * n_rows), squeeze=False
    )
    for axis in axes.ravel():
        axis.axis("off")
    for axis, (label, images) in zip(axes.ravel(), panels, strict=False):
        low = images.min(axis=(1, 2), keepdims=True)
        high = images.max(axis=(1, 2), keepdims=True)
        scaled = (images - low) / np.where(high > low, high - low, 1.0)
        axis.imshow(image_grid(scaled), cmap=cmap, interpolation="nearest")
        axis.set_title(label, fontsize=10)
    figure.suptitle(title)
    save(figure, path)


def training_curves(histories: dict[str, dict[str, np.ndarray]], path: Path, *, title: str) -> None:
    """Per-epoch losses of the learned baselines, one panel per model, log-scaled loss."""
    style()
    names = list(histories) or ["(no learned baselines)"]
    figure, axes = plt.subplots(
        1, len(names), figsize=(5.4 * len(names), 4.0), squeeze=False, layout="constrained"
    )
    for axis, name in zip(axes[0], names, strict=True):
        for key, values in histories.get(name, {}).items():
            positive = np.asarray(values, dtype=float)
            if positive.size and np.all(positive > 0):
                axis.semilogy(np.arange(1, positive.size + 1), positive, label=key)
            else:
                axis.plot(np.arange(1, positive.size + 1), positive, label=key)
        axis.set_xlabel("EM iteration" if name.startswith("gmm") else "epoch")
        axis.set_ylabel("negative lower bound" if name.startswith("gmm") else "training loss")
        axis.set_title(name)
        if histories.get(name):
            axis.legend()
    figure.suptitle(title)
    save(figure, path)
