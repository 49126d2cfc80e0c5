"""Figures of the data experiments by name: ``figures: [...]`` in an experiment's config.

Each figure function takes a :class:`FigureInputs` (the memory, and per table row of one
dataset its label, samples and metrics) and writes one PNG. A new figure is one function
registered in :data:`FIGURES` plus its name in a config.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..domains.base import Memory, get_domain, load_memory_file

__all__ = ["FIGURES", "FigureInputs", "draw"]


@dataclass
class FigureInputs:
    """What a figure of one experiment and one dataset may show."""

    experiment: str
    dataset: str
    title: str
    memory: Memory
    rows: list[dict[str, Any]]  # per row: label, swept values, samples dict, metrics dict
    swept: list[str]

    @property
    def domain(self) -> Any:
        return get_domain(self.memory.metadata["domain"])


def _row_label(row: dict, swept: list[str]) -> str:
    parts = [row["label"]]
    for key in swept:
        value = row[key]
        parts.append(f"{key} {value:g}" if isinstance(value, float | int) else f"{key} {value}")
    return ", ".join(parts)


def _spread(n_available: int, n: int = 16) -> np.ndarray:
    return np.unique(np.linspace(0, n_available - 1, n).round().astype(int))


def sample_grids(inputs: FigureInputs, path: Path) -> None:
    """16 samples per row beside 16 stored patterns, decoded by the domain."""
    from . import figures

    domain = inputs.domain
    memory = inputs.memory
    stored = memory.memory[:, _spread(memory.n_patterns)]
    panels = [("stored patterns", domain.panel(stored, memory))]
    for row in inputs.rows:
        samples = row["samples"]["samples"]
        first = samples[:, row["samples"].get("replicate", np.zeros(samples.shape[1])) == 0]
        shown = domain.panel(first[:, _spread(first.shape[1])], memory)
        panels.append((_row_label(row, inputs.swept), shown))
    images = [(label, panel.images) for label, panel in panels if panel.images is not None]
    figures.sample_grids(images, path, title=f"{inputs.title}: samples on {inputs.dataset}")


def training(inputs: FigureInputs, path: Path) -> None:
    """Per-epoch training losses of the learned baselines."""
    from . import figures

    histories, trained_on = {}, {}
    for row in inputs.rows:
        losses = {k.removeprefix("loss_"): v for k, v in row["samples"].items()
                  if k.startswith("loss_")}
        if losses:
            histories[row["label"]] = losses
            trained_on[row["label"]] = row["metrics"].get("train_dataset") or inputs.dataset
    figures.training_curves(histories, path, title=f"{inputs.title}: training losses")


def novelty_diversity(inputs: FigureInputs, path: Path) -> None:
    """Novelty against diversity, one point per row, with SE bars."""
    points = [
        (_row_label(row, inputs.swept), row["metrics"]["novelty"], row["metrics"]["novelty_se"],
         row["metrics"]["diversity"], row["metrics"]["diversity_se"])
        for row in inputs.rows
    ]
    _novelty_diversity(points, path, title=f"{inputs.title}: {inputs.dataset}")


def sweep(inputs: FigureInputs, path: Path) -> None:
    """Metrics against the first swept parameter, one line per method."""
    _sweep_lines(inputs.rows, inputs.swept, path, title=f"{inputs.title}: {inputs.dataset}")


def _novelty_diversity(points: list[tuple], path: Path, *, title: str) -> None:
    from . import figures

    figures.style()
    plt = figures.plt
    figure, axis = plt.subplots(figsize=(7, 5.5), layout="constrained")
    for label, novelty, novelty_se, diversity, diversity_se in points:
        axis.errorbar(novelty, diversity, xerr=novelty_se, yerr=diversity_se, fmt="o", ms=6)
        axis.annotate(label, (novelty, diversity), textcoords="offset points", xytext=(5, 4),
                      fontsize=9)
    axis.set_xlabel("novelty N = 1 − max-cos to the memory")
    axis.set_ylabel("diversity D = mean pairwise (1 − cos)")
    axis.set_title(title)
    figures.save(figure, path)


def _sweep_lines(rows: list[dict], swept: list[str], path: Path, *, title: str) -> None:
    from . import figures

    figures.style()
    plt = figures.plt
    x = swept[0] if swept else None
    shown = ["novelty", "diversity", "max_cosine"]
    if any(row["metrics"].get("acceptance") is not None for row in rows):
        shown.append("acceptance")
    figure, axes = plt.subplots(1, len(shown), figsize=(4.2 * len(shown), 4), layout="constrained")
    groups: dict[str, list[dict]] = {}
    for row in rows:
        key = ", ".join([row["label"], *(f"{k} {row[k]}" for k in swept[1:])])
        groups.setdefault(key, []).append(row)
    for axis, metric in zip(np.atleast_1d(axes), shown, strict=True):
        for label, members in groups.items():
            xs = [m[x] if x and not isinstance(m[x], dict) else i for i, m in enumerate(members)]
            ys = [m["metrics"].get(metric) for m in members]
            if any(y is None for y in ys):
                continue
            errors = [m["metrics"].get(f"{metric}_se") or 0.0 for m in members]
            axis.errorbar(xs, ys, yerr=errors, marker="o", label=label, capsize=2)
        if x and all(isinstance(m[x], int | float) and m[x] > 0 for m in rows):
            axis.set_xscale("log")
        axis.set_xlabel(x or "row")
        axis.set_ylabel(metric)
    np.atleast_1d(axes)[0].legend(fontsize=8)
    figure.suptitle(title)
    figures.save(figure, path)


FIGURES: dict[str, Callable[[FigureInputs, Path], None]] = {
    "sample_grids": sample_grids,
    "training": training,
    "novelty_diversity": novelty_diversity,
    "sweep": sweep,
    "spectrum": sweep,
}


def draw(params: dict, inputs: dict[str, Path], path: Path) -> None:
    """Load what the figure ``params["figure"]`` needs and draw it at ``path``."""
    from ..steps.core import load_samples

    name = params["figure"]
    if name not in FIGURES:
        raise ValueError(f"unknown figure {name!r}; known figures: {', '.join(FIGURES)}")
    rows = []
    for i, row in enumerate(params["rows"]):
        rows.append(
            row
            | {
                "label": params["labels"].get(row["_method"], row["method"]),
                "samples": load_samples(inputs[f"samples{i}"]),
                "metrics": json.loads(inputs[f"metrics{i}"].read_text()),
            }
        )
    swept = [k for k in (params["rows"][0] if params["rows"] else {})
             if not k.startswith("_") and k not in ("dataset", "method")]
    FIGURES[name](
        FigureInputs(
            experiment=params["experiment"],
            dataset=params["dataset"],
            title=params.get("title") or params["experiment"],
            memory=load_memory_file(inputs["memory"]),
            rows=rows,
            swept=swept,
        ),
        path,
    )
