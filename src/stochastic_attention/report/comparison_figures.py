"""Drawing the comparison figures from plain data: sample grids, training curves, novelty
against diversity, nearest-neighbour pairs, energy histograms and per-chain energy traces.
(The figures a config names, which read a run's files, are :mod:`.experiment_figures`.)

One look (:mod:`.style`); every function takes plain arrays, tables or
:class:`~stochastic_attention.domains.base.Panel` objects and writes one file. Labels of
methods are the caller's (a learned baseline has no β, so the caller decides what to show); a
config ``title`` is shown above the informative default title, never instead of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib import ticker
from matplotlib.transforms import Bbox

from ..domains.base import Panel
from . import style as _style
from .style import save

__all__ = [
    "energy_histograms",
    "energy_traces",
    "image_grid",
    "nearest_neighbour_pairs",
    "nearest_patterns",
    "novelty_diversity",
    "sample_grids",
    "shared_limits",
    "training_curves",
]

_GAP_COLOUR = "#c9d3de"
_TEXT_FONT = 8.5
_MAX_LINE = 72


# ------------------------------------------------------------------------- sample grids


def image_grid(images: np.ndarray, rows: int = 4, cols: int = 4) -> np.ndarray:
    """Tile ``images`` (n, h, w) into one (rows·(h+1)−1, cols·(w+1)−1) array, NaN gaps."""
    n, height, width = images.shape
    canvas = np.full((rows * (height + 1) - 1, cols * (width + 1) - 1), np.nan)
    for index in range(min(n, rows * cols)):
        r, c = divmod(index, cols)
        canvas[
            r * (height + 1) : r * (height + 1) + height, c * (width + 1) : c * (width + 1) + width
        ] = images[index]
    return canvas


def shared_limits(arrays: Sequence[np.ndarray], quantile: float = 0.995) -> tuple[float, float]:
    """One intensity range for a set of panels: the (1 − q, q) quantiles of all their values
    pooled (robust to a few extreme pixels); widened to a unit-free ±1e-12 if constant."""
    finite = [np.ravel(a)[np.isfinite(np.ravel(a))] for a in arrays if np.size(a)]
    values = np.concatenate(finite) if finite else np.zeros(1)
    low, high = np.quantile(values, [1.0 - quantile, quantile])
    if high <= low:
        low, high = low - 1e-12, high + 1e-12
    return float(low), float(high)


def _as_panel(content: Panel | np.ndarray) -> Panel:
    if isinstance(content, Panel):
        return content
    images = np.asarray(content, dtype=float)
    if images.ndim != 3:
        raise ValueError(f"sample_grids: images must be (n, h, w), got shape {images.shape}")
    return Panel("image", images)


def _text_width(panel: Panel, extra: int = 0) -> float:
    longest = min(max((len(line) for line in panel.lines), default=10), _MAX_LINE) + extra
    return max(3.1, 0.62 * _TEXT_FONT / 72 * longest + 0.4)


def _draw_text(
    axis: plt.Axes, lines: Sequence[str], rows: int = 16, max_line: int = _MAX_LINE
) -> None:
    shown = [line if len(line) <= max_line else line[: max_line - 1] + "…" for line in lines[:rows]]
    axis.text(
        0.0, 1.0, "\n".join(shown), transform=axis.transAxes, va="top", ha="left",
        family="monospace", fontsize=_TEXT_FONT, linespacing=1.25,
    )  # fmt: skip


def sample_grids(
    panels: Sequence[tuple[str, Panel | np.ndarray]],
    path: Path | str,
    *,
    title: str = "",
    dataset: str = "",
    columns: int = 4,
    limits: tuple[float, float] | None = None,
    cmap: str = "gray_r",
) -> Path:
    """One panel per (label, content), in rows of ``columns``; returns ``path``.

    content: images (n, h, w) or a :class:`Panel` — ``image``: a 4×4 grid; ``text``: up to 16
    monospace lines; ``matrix``: a heat map of ``images[0]`` (rows, cols).

    **Intensity scale.** All image panels share ONE grey scale, so noise levels compare across
    panels: ``limits`` if given, else the 0.5 % and 99.5 % quantiles of the values of every
    image panel pooled (:func:`shared_limits`); values outside are clipped, and a colour bar
    shows the scale. Matrix panels share one symmetric blue–red scale of their own (±the
    99.5 % quantile of |value|). Labels are the caller's (e.g. no β for learned baselines).
    ``cmap``: the grey map of image panels (``gray_r``: ink on paper, digits; ``gray``:
    photographs such as faces).
    """
    items = [(label, _as_panel(content)) for label, content in panels]
    kinds = {panel.kind for _, panel in items}
    unknown = kinds - {"image", "text", "matrix"}
    if unknown:
        raise ValueError(f"sample_grids: unknown panel kind(s) {sorted(unknown)}")
    images = [p.images for _, p in items if p.kind == "image" and p.images is not None]
    matrices = [p.images for _, p in items if p.kind == "matrix" and p.images is not None]
    image_range = limits or (shared_limits(images) if images else (0.0, 1.0))
    matrix_scale = shared_limits([np.abs(m) for m in matrices])[1] if matrices else 1.0
    if "text" in kinds:
        columns = min(columns, 2)
    columns = max(1, min(columns, len(items)))
    n_rows = int(np.ceil(len(items) / columns))
    width = max((_text_width(p) for _, p in items if p.kind == "text"), default=3.0)
    with _style.styled():
        figure, axes = plt.subplots(
            n_rows,
            columns,
            figsize=(width * columns + 0.9, 3.25 * n_rows + 0.5),
            squeeze=False,
            layout="constrained",
        )
        grey = plt.get_cmap(cmap).with_extremes(bad=_GAP_COLOUR)
        image_mappable = matrix_mappable = None
        for axis in axes.ravel():
            axis.axis("off")
        for axis, (label, panel) in zip(axes.ravel(), items, strict=False):
            axis.set_title(label, fontsize=11)
            if panel.kind == "image":
                image_mappable = axis.imshow(
                    image_grid(panel.images), cmap=grey, vmin=image_range[0], vmax=image_range[1]
                )
            elif panel.kind == "matrix":
                matrix_mappable = axis.imshow(
                    panel.images[0], cmap="RdBu_r", vmin=-matrix_scale, vmax=matrix_scale,
                    aspect="auto",
                )  # fmt: skip
            else:
                _draw_text(axis, panel.lines)
        if image_mappable is not None:
            bar = figure.colorbar(image_mappable, ax=axes, shrink=0.6, aspect=30, pad=0.01)
            bar.set_label("intensity (one scale for all panels)")
        if matrix_mappable is not None:
            bar = figure.colorbar(matrix_mappable, ax=axes, shrink=0.6, aspect=30, pad=0.01)
            bar.set_label("value (one scale for all panels)")
        default = "Samples" + (f" on {dataset}" if dataset else "")
        figure.suptitle(_style.heading(default, title))
        return save(figure, path)


# ----------------------------------------------------------------------- training curves


def _ddpm_limits(values: np.ndarray) -> tuple[float, float]:
    """Linear limits around the bulk of DDPM loss curves ``(fits, epochs)`` (skipping the
    first 2 % epochs)."""
    values = np.atleast_2d(values)
    epochs = values.shape[1]
    bulk = values[:, max(1, epochs // 50) :] if epochs > 2 else values
    bulk = bulk[np.isfinite(bulk)]
    low, high = float(np.min(bulk)), float(np.quantile(bulk, 0.99))
    pad = max(0.08 * (high - low), 0.005)
    return low - pad, high + pad


def _span(values: np.ndarray) -> str:
    """``a`` for one value, ``a to b`` (min to max) for several."""
    low, high = float(np.min(values)), float(np.max(values))
    return f"{low:.4g}" if low == high else f"{low:.4g} to {high:.4g}"


def training_curves(
    histories: Mapping[str, Mapping[str, np.ndarray]],
    path: Path | str,
    *,
    title: str = "",
    datasets: Mapping[str, str] | str = "",
    labels: Mapping[str, str] | None = None,
    styles: Mapping[str, str] | None = None,
) -> Path:
    """Per-epoch losses of the learned baselines, one panel per model; returns ``path``.

    histories: model name → {curve name → values per epoch/iteration, ``(epochs,)`` for one
    fit or ``(fits, epochs)`` for one fit per replicate (NaN-padded)}: every fit is drawn, one
    colour per curve, and the legend gives the final value (its range over the fits);
    ``datasets``: the dataset each model trained on (one name for all, or per model), shown
    in its title; ``labels``: display names; ``styles``: each model's loss style
    (``methods.base.loss_style`` of its kind: ``gmm``, ``vae``, ``ddpm``; default
    ``model``). GMM: EM iterations from the second on (the first bound is far off and would
    flatten the rest; its value is noted). VAE: ``loss`` dashed on top of
    ``reconstruction``. DDPM: linear axis around the bulk, with the ε-MSE of predicting 0.
    Others: log axis when positive and spanning more than 20×. Integer epoch ticks.
    """
    names = list(histories) or ["(no learned baselines)"]
    with _style.styled():
        figure, axes = plt.subplots(
            1, len(names), figsize=(5.4 * len(names), 4.2), squeeze=False, layout="constrained"
        )
        for axis, name in zip(axes[0], names, strict=True):
            style = (styles or {}).get(name, "model")
            curves = {
                k: np.atleast_2d(np.asarray(v, dtype=float))
                for k, v in histories.get(name, {}).items()
            }  # each (fits, epochs)
            longest = max((c.shape[1] for c in curves.values()), default=0)
            fits = max((c.shape[0] for c in curves.values()), default=1)
            start = 2 if style == "gmm" and longest > 2 else 1
            notes, every = [], []
            for index, (key, rows) in enumerate(curves.items()):
                line_style = {"color": _style.colour(index), "lw": 1.8 if fits == 1 else 1.0}
                if style == "vae" and key == "loss":
                    line_style |= {"ls": "--", "lw": 1.4 if fits == 1 else 0.9, "zorder": 5,
                                   "color": "black"}  # fmt: skip
                finals, firsts = [], []
                for r, values in enumerate(rows):
                    values = values[np.isfinite(values)]  # NaN padding after EM stopped
                    if not values.size:
                        continue
                    epochs = np.arange(1, values.size + 1)
                    finals.append(values[-1])
                    firsts.append(values[0])
                    label = None
                    if r == len(rows) - 1:
                        label = f"{key} (final {_span(np.array(finals))})"
                    axis.plot(epochs[start - 1 :], values[start - 1 :], label=label,
                              **line_style)  # fmt: skip
                    every.append(values[start - 1 :])
                if start > 1 and firsts:
                    notes.append(f"{key} {_span(np.array(firsts))}")
            every = np.concatenate(every) if every else np.array([])
            if style == "ddpm" and every.size:
                axis.set_ylim(*_ddpm_limits(curves.get("loss", every)))
                axis.axhline(1.0, color="0.4", lw=1, ls=":", label="predicting ε = 0")
            elif every.size and np.all(every > 0) and every.max() > 20 * every.min():
                axis.set_yscale("log")
                _style.plain_log_ticks(axis, "y")
            axis.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
            x_label = "EM iteration" if style == "gmm" else "epoch"
            if notes:
                x_label += f" (iteration 1 not shown: {', '.join(notes)})"
            axis.set_xlabel(x_label)
            axis.set_ylabel(
                {"gmm": "negative lower bound (per sample)", "ddpm": "ε-prediction MSE"}.get(
                    style, "training loss"
                )
            )
            dataset = datasets if isinstance(datasets, str) else datasets.get(name, "")
            label = (labels or {}).get(name, name)
            together = f", {fits} fits" if fits > 1 else ""
            axis.set_title(
                f"{label}{together}" + (f", trained on {dataset}" if dataset else ""), fontsize=12
            )
            if curves:
                axis.legend(loc="best")
        figure.suptitle(_style.heading("Training curves of the learned baselines", title))
        return save(figure, path)


# ------------------------------------------------------------------ novelty vs diversity


# where a point's label may go, in points from the point: right above first, then around it
_LABEL_OFFSETS = (
    (6, 3, "left", "bottom"),
    (6, -3, "left", "top"),
    (-6, 3, "right", "bottom"),
    (-6, -3, "right", "top"),
    (6, 14, "left", "bottom"),
    (6, -14, "left", "top"),
    (-6, 14, "right", "bottom"),
    (-6, -14, "right", "top"),
)


def _annotate(axis, text, point, colour, offset):
    """``text`` at ``offset`` (dx, dy points, horizontal, vertical alignment) from ``point``."""
    dx, dy, horizontal, vertical = offset
    return axis.annotate(
        text, point, xytext=(dx, dy), textcoords="offset points", fontsize=10, color=colour,
        ha=horizontal, va=vertical,
    )  # fmt: skip


def _place_labels(axis, points, texts, colours) -> None:
    """Label each (x, y) point beside it, taking the first spot of :data:`_LABEL_OFFSETS`
    whose text box lies inside the axes and overlaps no marker and no label placed before
    (greedy; the first spot if none is free). Points that coincide (SA and MALA at the same
    β) get their labels on different sides."""
    figure = axis.figure
    figure.draw_without_rendering()  # final layout, so the boxes are where they will be drawn
    renderer = figure.canvas.get_renderer()
    pixels = axis.transData.transform(np.asarray(points, dtype=float).reshape(-1, 2))
    radius = 4.0 * figure.dpi / 72.0  # a marker of 7 points
    placed = [Bbox.from_extents(x - radius, y - radius, x + radius, y + radius) for x, y in pixels]
    frame = axis.get_window_extent(renderer)
    for point, text, colour in zip(points, texts, colours, strict=True):
        for offset in _LABEL_OFFSETS:
            label = _annotate(axis, text, point, colour, offset)
            box = label.get_window_extent(renderer)
            inside = frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0
            if inside and box.y1 <= frame.y1 and not any(box.overlaps(o) for o in placed):
                break
            label.remove()
        else:
            label = _annotate(axis, text, point, colour, _LABEL_OFFSETS[0])
            box = label.get_window_extent(renderer)
        placed.append(box)


def novelty_diversity(
    table: pd.DataFrame,
    path: Path | str,
    *,
    title: str = "",
    labels: Mapping[str, str] | None = None,
) -> Path:
    """Novelty N against diversity D, one point per method with ±SE bars in both directions.

    table: one row per method with ``method``, ``novelty``, ``diversity`` and optionally
    ``novelty_se``, ``diversity_se`` and ``dataset`` (one panel per dataset); ``labels`` maps
    method names to the text beside each point.
    """
    datasets = list(dict.fromkeys(table["dataset"])) if "dataset" in table else [""]
    with _style.styled():
        figure, axes = plt.subplots(
            1, len(datasets), figsize=(6.4 * len(datasets), 5.4), squeeze=False,
            layout="constrained",
        )  # fmt: skip
        for axis, dataset in zip(axes[0], datasets, strict=True):
            rows = table[table["dataset"] == dataset] if dataset else table
            for index, (_, row) in enumerate(rows.iterrows()):
                axis.errorbar(
                    row["novelty"],
                    row["diversity"],
                    xerr=row.get("novelty_se", np.nan),
                    yerr=row.get("diversity_se", np.nan),
                    fmt="o",
                    ms=7,
                    capsize=3,
                    color=_style.colour(index),
                )
            axis.margins(0.12)
            _place_labels(
                axis,
                list(zip(rows["novelty"], rows["diversity"], strict=True)),
                [(labels or {}).get(method, method) for method in rows["method"]],
                [_style.text_colour(index) for index in range(len(rows))],
            )
            axis.set_xlabel("novelty N = 1 − max-cos to the stored patterns")
            axis.set_ylabel("diversity D = mean pairwise (1 − cos)")
            axis.set_title(dataset or "all methods")
        default = "Novelty against diversity (bars: ±1 SE over chain groups)"
        figure.suptitle(_style.heading(default, title))
        return save(figure, path)


# ------------------------------------------------------------------ nearest neighbours


def nearest_patterns(samples: np.ndarray, memory: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For samples (d, n): the index (n,) of the stored pattern of memory (d, K) with the
    highest cosine, and that cosine (n,)."""
    unit_samples = samples / np.linalg.norm(samples, axis=0, keepdims=True)
    unit_memory = memory / np.linalg.norm(memory, axis=0, keepdims=True)
    cosines = unit_memory.T @ unit_samples
    index = np.argmax(cosines, axis=0)
    return index, cosines[index, np.arange(samples.shape[1])]


def nearest_neighbour_pairs(
    samples: Panel | np.ndarray,
    neighbours: Panel | np.ndarray,
    cosines: Sequence[float],
    path: Path | str,
    *,
    title: str = "",
    label: str = "sample",
    limits: tuple[float, float] | None = None,
) -> Path:
    """A few samples, each beside its nearest stored pattern, with the cosine in the title.

    samples, neighbours: images (n, h, w) or image/text :class:`Panel` objects of the same
    n (e.g. from :func:`nearest_patterns`); cosines (n,). Images: one column per pair (sample
    above, neighbour below), one grey scale for all (:func:`shared_limits` unless
    ``limits``). Text: each pair as two monospace lines.
    """
    sample_panel, neighbour_panel = _as_panel(samples), _as_panel(neighbours)
    if sample_panel.kind != neighbour_panel.kind or sample_panel.kind == "matrix":
        raise ValueError(
            "nearest_neighbour_pairs: samples and neighbours must both be image or both text "
            f"panels, got {sample_panel.kind} and {neighbour_panel.kind}"
        )
    cosines = list(cosines)
    default = f"{label}: each sample beside its nearest stored pattern (cosine above the pair)"
    with _style.styled():
        if sample_panel.kind == "text":
            n = len(cosines)
            figure, axis = plt.subplots(
                figsize=(_text_width(sample_panel, 11) + 0.5, 0.55 * n + 0.8)
            )
            axis.axis("off")
            lines = []
            for i, cosine in enumerate(cosines):
                lines += [f"#{i + 1}  cos = {cosine:.3f}", "  sample : " + sample_panel.lines[i],
                          "  nearest: " + neighbour_panel.lines[i], ""]  # fmt: skip
            _draw_text(axis, lines, rows=len(lines), max_line=_MAX_LINE + 11)
        else:
            n = len(cosines)
            low, high = limits or shared_limits([sample_panel.images, neighbour_panel.images])
            figure, axes = plt.subplots(
                2, n, figsize=(1.7 * n + 1.2, 3.9), squeeze=False, layout="constrained"
            )
            for i, cosine in enumerate(cosines):
                top, bottom = axes[0, i], axes[1, i]
                shown = top.imshow(sample_panel.images[i], cmap="gray_r", vmin=low, vmax=high)
                bottom.imshow(neighbour_panel.images[i], cmap="gray_r", vmin=low, vmax=high)
                top.set_title(f"cos = {cosine:.3f}", fontsize=11)
                for axis in (top, bottom):
                    axis.set_xticks([])
                    axis.set_yticks([])
                    axis.grid(False)
            axes[0, 0].set_ylabel(label)
            axes[1, 0].set_ylabel("nearest stored")
            figure.colorbar(shown, ax=axes, shrink=0.7, pad=0.02).set_label("intensity")
        figure.suptitle(_style.heading(default, title))
        return save(figure, path)


# ------------------------------------------------------------------- energy diagnostics


def energy_histograms(
    energies: Mapping[str, np.ndarray],
    path: Path | str,
    *,
    beta: float,
    title: str = "",
    bins: int = 60,
) -> Path:
    """Overlaid step histograms (density) of the sample energies per method at one β.

    energies: label → energies (S,) of that method's samples, all evaluated with ``beta``;
    one set of bins over the pooled range; the legend gives each mean Ē.
    """
    pooled = np.concatenate([np.ravel(v) for v in energies.values()]) if energies else [0.0]
    edges = np.linspace(np.min(pooled), np.max(pooled), bins + 1)
    if edges[-1] <= edges[0]:
        edges = np.linspace(edges[0] - 0.5, edges[0] + 0.5, bins + 1)
    with _style.styled():
        figure, axis = plt.subplots(figsize=(8.5, 5), layout="constrained")
        for index, (label, values) in enumerate(energies.items()):
            values = np.ravel(values)
            axis.hist(
                values, bins=edges, density=True, histtype="step", lw=2,
                color=_style.colour(index), ls=_style.line_style(index),
                label=f"{label} (Ē = {values.mean():.4g})",
            )  # fmt: skip
        axis.set_xlabel(f"energy E(ξ) at β = {beta:g} (dimensionless)")
        axis.set_ylabel("probability density (1 / energy unit)")
        axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        default = f"Sample energies per method at β = {beta:g}"
        axis.set_title(_style.heading(default, title))
        return save(figure, path)


def energy_traces(
    energies: np.ndarray,
    steps: np.ndarray,
    path: Path | str,
    *,
    beta: float,
    burn_in: int | None = None,
    title: str = "",
    label: str = "",
) -> Path:
    """Energy of every chain along the run (sampler diagnostic).

    energies: (C, n_snapshots) energy per chain at the snapshots ``steps`` (n_snapshots,);
    thin line per chain, the median over chains in black, the burn-in shaded.
    """
    energies = np.atleast_2d(np.asarray(energies, dtype=float))
    steps = np.asarray(steps)
    if energies.shape[1] != steps.size:
        raise ValueError(
            f"energy_traces: energies {energies.shape} need one column per step ({steps.size})"
        )
    with _style.styled():
        figure, axis = plt.subplots(figsize=(9, 5), layout="constrained")
        colours = plt.get_cmap("viridis")(np.linspace(0, 0.9, energies.shape[0]))
        for chain, colour in zip(energies, colours, strict=True):
            axis.plot(steps, chain, lw=0.8, alpha=0.6, color=colour)
        median = np.median(energies, axis=0)
        axis.plot(steps, median, color="black", lw=2, label="median over chains")
        if burn_in:
            axis.axvspan(steps.min(), burn_in, color="0.85", zorder=0, label="burn-in (dropped)")
        axis.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
        axis.set_xlabel("sampler step")
        axis.set_ylabel(f"energy E(ξ) at β = {beta:g} (dimensionless)")
        axis.legend(loc="upper right")
        default = f"Energy per chain, {energies.shape[0]} chains" + (f", {label}" if label else "")
        axis.set_title(_style.heading(default, title))
        return save(figure, path)
