"""Figures of the MNIST experiments beyond the baseline comparison (E7, E11–E14, E16, E17).

One look with :mod:`stochastic_attention.report.style` (its ``apply_style`` and ``save``):
matplotlib on the Agg backend, readable fonts, labelled axes with units, and the SNR
``sqrt(α β / 2d)`` next to every β. Each function takes plain arrays or a table (so a
figure can be redrawn from the CSV) and writes one file; the columns each table needs are in
the function's docstring.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..basins import NO_BASIN, basin_summary
from .style import apply_style, log_locator, plain_log_ticks, plain_number, save

__all__ = [
    "AXIS_LABELS",
    "basin_visits_figure",
    "beta_label",
    "max_cos_histogram",
    "scaling_figure",
    "snr_figure",
    "sweep_figure",
]

AXIS_LABELS: dict[str, str] = {
    "alpha": "step size α (dimensionless, log scale)",
    "beta": "inverse temperature β (dimensionless, log scale)",
    "K": "stored patterns K (count)",
    "n_heads": "heads H (count)",
    "rank": "components r (count)",
    "acceptance": "acceptance rate (fraction of steps)",
    "novelty": "novelty N = 1 − max-cos",
    "diversity": "diversity D (mean 1 − cos)",
    "energy": "mean energy Ē",
    "energy_delta": "ΔĒ",
    "max_cosine": "max-cos to stored patterns",
    "max_cos": "max-cos to stored patterns",
    "frechet": "diagonal Fréchet distance (pixel units²)",
}
_LOG_X = {"alpha", "beta", "K"}


def _snr(alpha: float, beta: float, d: float) -> float:
    return float(np.sqrt(alpha * beta / (2.0 * d)))


def beta_label(beta: float, alpha: float | None = None, d: int | None = None) -> str:
    """``"β = 2000 (SNR 0.113)"``; without α and d just ``"β = 2000"``."""
    if alpha is None or d is None:
        return f"β = {beta:g}"
    return f"β = {beta:g} (SNR {_snr(alpha, beta, d):.3f})"


def _count(n: int, noun: str) -> str:
    """``1 basin``, ``3 basins``, ``0 switches``."""
    plural = noun + ("es" if noun.endswith(("s", "sh", "ch", "x")) else "s")
    return f"{n} {noun if n == 1 else plural}"


# ------------------------------------------------------------------------------------ E7


def basin_visits_figure(
    steps: np.ndarray | Sequence[np.ndarray],
    nearest: Sequence[np.ndarray],
    cosine: Sequence[np.ndarray],
    path: Path | str,
    *,
    betas: Sequence[float],
    alpha: float,
    d: int,
    n_patterns: int | None = None,
    title: str = "Basin visits of one chain",
) -> Path:
    """E7: per β a column with the nearest stored pattern (top) and its cosine (bottom).

    ``steps`` (T,) is shared by every panel or given per panel; ``nearest[i]`` and
    ``cosine[i]`` (T,) come from :func:`basins.basin_visits` for ``betas[i]``. The column
    title gives β, its SNR, the number of distinct basins and of switches. Records outside
    every basin (index −1) are drawn in grey at −1.
    """
    apply_style()
    n_panels = len(betas)
    if not (len(nearest) == len(cosine) == n_panels) or n_panels == 0:
        raise ValueError("need one nearest and one cosine trace per β")
    per_panel = (
        list(steps) if len(steps) == n_panels and np.ndim(steps[0]) == 1 else [steps] * n_panels
    )
    figure, axes = plt.subplots(
        2,
        n_panels,
        figsize=(4.6 * n_panels, 6.0),
        sharex="col",
        squeeze=False,
        layout="constrained",
        gridspec_kw={"height_ratios": [1.3, 1.0]},
    )
    for column, beta in enumerate(betas):
        x = np.asarray(per_panel[column])
        index = np.asarray(nearest[column])
        best = np.asarray(cosine[column])
        if not (x.shape == index.shape == best.shape):
            raise ValueError(f"panel {column}: steps, nearest and cosine differ in length")
        summary = basin_summary(index)
        top, bottom = axes[0, column], axes[1, column]
        inside = index != NO_BASIN
        top.plot(x[inside], index[inside], ".", markersize=3, color="C0")
        if np.any(~inside):
            top.plot(x[~inside], index[~inside], ".", markersize=3, color="0.6", label="no basin")
            top.legend(loc="upper right")
        top.set_title(
            f"{beta_label(beta, alpha, d)}\n{_count(summary.n_distinct, 'basin')}, "
            f"{_count(summary.n_switches, 'switch')}",
            fontsize=11,
        )
        if n_patterns is not None:
            top.set_ylim(-1.5, n_patterns - 0.5)
        bottom.plot(x, best, lw=0.9, color="C1")
        bottom.set_ylim(min(0.0, float(np.min(best)) - 0.02), 1.0)
        bottom.set_xlabel("sampler step (count)")
        if column == 0:
            top.set_ylabel("nearest pattern (index)")
            bottom.set_ylabel("max-cos")
    figure.suptitle(title)
    save(figure, Path(path))
    return Path(path)


# ----------------------------------------------------------------------------- E11, E14, E16


def _add_snr_axis(axis: plt.Axes, x: str, values: np.ndarray, *, alpha, beta, d) -> None:
    """Top axis with the SNR when the swept parameter is α (β fixed) or β (α fixed)."""
    if d is None:
        return
    if x == "alpha" and beta is not None:
        scale, what = beta, f"α (β = {beta:g}, d = {d})"
    elif x == "beta" and alpha is not None:
        scale, what = alpha, f"β (α = {alpha:g}, d = {d})"
    else:
        return

    def forward(values):
        return np.sqrt(scale * np.clip(values, 1e-300, None) / (2.0 * d))

    def inverse(snr):
        return 2.0 * d * np.asarray(snr) ** 2 / scale

    top = axis.secondary_xaxis("top", functions=(forward, inverse))
    # ticks at (at most five of) the swept values, plainly formatted: no crowded log labels
    shown = np.unique(values[np.isfinite(values) & (values > 0)])
    shown = shown[np.unique(np.linspace(0, shown.size - 1, min(5, shown.size)).round().astype(int))]
    top.set_xticks(forward(shown), [f"{v:.3g}" for v in forward(shown)])
    top.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    top.set_xlabel(f"SNR = √(αβ/2d) at each {what}")


def sweep_figure(
    table: pd.DataFrame,
    x: str,
    metrics: Sequence[str],
    hue: str,
    path: Path | str,
    *,
    se_suffix: str = "_se",
    logx: bool | None = None,
    labels: Mapping[str, str] | None = None,
    alpha: float | None = None,
    beta: float | None = None,
    d: int | None = None,
    title: str | None = None,
    legend_title: str | None = None,
) -> Path:
    """One panel per metric against the swept parameter ``x``, one line per ``hue`` value.

    ``table`` has the columns ``x``, ``hue`` and, per metric ``m``, ``m`` and optionally
    ``m + se_suffix`` (drawn as ±1 SE bars). NaN values (e.g. the acceptance of ULA) are left
    out. ``logx`` defaults to log for α, β and K. Give ``beta`` and ``d`` when sweeping α
    (or ``alpha`` and ``d`` when sweeping β) to get the SNR on a top axis. ``labels`` maps
    column names (metrics, ``x``) to axis labels, overriding :data:`AXIS_LABELS`.
    ``legend_title`` defaults to ``hue``. A log x axis has plain-number ticks at the swept
    values (at most eight of them; 1-2-5 steps beyond).
    """
    apply_style()
    names = {**AXIS_LABELS, **(labels or {})}
    missing = [c for c in (x, hue, *metrics) if c not in table.columns]
    if missing:
        raise ValueError(f"sweep_figure: table lacks the columns {missing}")
    logx = x in _LOG_X if logx is None else logx
    figure, axes = plt.subplots(
        1, len(metrics), figsize=(4.8 * len(metrics), 4.6), squeeze=False, layout="constrained"
    )
    for axis, metric in zip(axes[0], metrics, strict=True):
        drawn = False
        for position, (group, rows) in enumerate(table.groupby(hue, sort=True)):
            rows = rows.sort_values(x)
            values = rows[metric].to_numpy(dtype=float)
            keep = np.isfinite(values)
            if not np.any(keep):
                continue
            se_column = metric + se_suffix
            errors = rows[se_column].to_numpy(dtype=float)[keep] if se_column in rows else None
            axis.errorbar(
                rows[x].to_numpy(dtype=float)[keep],
                values[keep],
                yerr=errors,
                marker="o",
                markersize=4,
                capsize=3,
                color=f"C{position}",
                label=str(group),
            )
            drawn = True
        swept = np.unique(table[x].to_numpy(dtype=float))
        if logx:
            axis.set_xscale("log")
            positive = swept[np.isfinite(swept) & (swept > 0)]
            plain_log_ticks(axis, "x", values=positive if 0 < positive.size <= 8 else None)
        elif swept.size <= 12:
            axis.set_xticks(swept, [f"{v:g}" for v in swept])  # e.g. H = 1, 2, 4, 5
        axis.set_xlabel(names.get(x, x))
        axis.set_ylabel(names.get(metric, metric.replace("_", " ")))
        _add_snr_axis(axis, x, table[x].to_numpy(float), alpha=alpha, beta=beta, d=d)
        if drawn:
            axis.legend(title=legend_title or hue)
        else:
            axis.text(0.5, 0.5, "no values", ha="center", va="center", transform=axis.transAxes)
    if title:
        figure.suptitle(title)
    save(figure, Path(path))
    return Path(path)


# ------------------------------------------------------------------------------------ E12


def max_cos_histogram(
    values_by_method: Mapping[str, np.ndarray],
    path: Path | str,
    *,
    bins: int = 40,
    beta: float | None = None,
    alpha: float | None = None,
    d: int | None = None,
    title: str = "Closeness to the stored patterns",
) -> Path:
    """E12: histograms of per-sample max-cos (one step outline per method, common bins).

    ``values_by_method`` maps a method name to its per-sample max-cos (S,); the dashed
    lines mark each method's mean. β (with its SNR when α and d are given) goes in the title.
    """
    apply_style()
    if not values_by_method:
        raise ValueError("max_cos_histogram needs at least one method")
    arrays = {name: np.asarray(v, dtype=float).ravel() for name, v in values_by_method.items()}
    every = np.concatenate(list(arrays.values()))
    low, high = float(np.min(every)), float(np.max(every))
    pad = max(1e-3, 0.02 * (high - low))
    edges = np.linspace(low - pad, high + pad, bins + 1)
    figure, axis = plt.subplots(figsize=(7.0, 4.4), layout="constrained")
    for position, (name, values) in enumerate(arrays.items()):
        color = f"C{position}"
        axis.hist(
            values,
            bins=edges,
            histtype="step",
            lw=1.6,
            color=color,
            label=f"{name} (mean {values.mean():.3f})",
        )
        axis.axvline(values.mean(), color=color, ls="--", lw=1.0)
    axis.set_xlabel("max-cos to the stored patterns (dimensionless)")
    axis.set_ylabel("samples (count)")
    axis.legend()
    axis.set_title(title if beta is None else f"{title}, {beta_label(beta, alpha, d)}")
    save(figure, Path(path))
    return Path(path)


# ------------------------------------------------------------------------------------ E13


def scaling_figure(
    table: pd.DataFrame,
    path: Path | str,
    *,
    alpha: float,
    d: int,
    labels: Mapping[str, str] | None = None,
    title: str = "Scaling with the number of stored patterns",
) -> Path:
    """E13: max-cos against K per method, training time and β against K.

    ``table`` columns: ``K``, ``method``, ``max_cos``, optional ``max_cos_se``, ``beta``
    (the sampler's β, NaN for learned baselines) and ``train_seconds`` (NaN for samplers).
    Left: max-cos per method (log K) with the training seconds of every method that has
    them on a right axis (dashed). Right: the β each sampler ran at against K, with the
    SNR on a right axis. ``labels`` renames methods in the legends.
    """
    apply_style()
    labels = dict(labels or {})
    needed = {"K", "method", "max_cos"}
    if not needed <= set(table.columns):
        raise ValueError(f"scaling_figure: table lacks the columns {sorted(needed - set(table))}")
    figure, (left, right) = plt.subplots(1, 2, figsize=(12.0, 5.4), layout="constrained")
    seconds_axis = None
    methods = list(dict.fromkeys(table["method"]))
    for position, method in enumerate(methods):
        rows = table[table["method"] == method].sort_values("K")
        name, color = labels.get(method, method), f"C{position}"
        errors = rows["max_cos_se"].to_numpy(float) if "max_cos_se" in rows else None
        left.errorbar(
            rows["K"], rows["max_cos"], yerr=errors, marker="o", capsize=3, color=color, label=name
        )
        if "train_seconds" in rows and np.any(np.isfinite(rows["train_seconds"].to_numpy(float))):
            if seconds_axis is None:
                seconds_axis = left.twinx()
                seconds_axis.set_ylabel("training time (s, dashed)")
            seconds_axis.plot(
                rows["K"],
                rows["train_seconds"],
                ls="--",
                marker="s",
                color=color,
                label=f"{name} training",
            )
        if "beta" in rows and np.any(np.isfinite(rows["beta"].to_numpy(float))):
            right.plot(rows["K"], rows["beta"], marker="o", color=color, label=name)
    sizes = np.unique(table["K"].to_numpy(float))
    ticks = sizes if sizes.size <= 8 else None
    left.set_xscale("log")
    plain_log_ticks(left, "x", values=ticks)
    left.set_xlabel(AXIS_LABELS["K"] + ", log scale")
    left.set_ylabel(AXIS_LABELS["max_cos"])
    handles, names = left.get_legend_handles_labels()
    if seconds_axis is not None:
        extra_handles, extra_names = seconds_axis.get_legend_handles_labels()
        handles, names = handles + extra_handles, names + extra_names
    # below the panel: a twin axis's lines are invisible to loc="best"
    left.legend(
        handles, names, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False
    )
    right.set_xscale("log")
    right.set_yscale("log")
    plain_log_ticks(right, "x", values=ticks)
    plain_log_ticks(right, "y")
    right.set_xlabel(AXIS_LABELS["K"] + ", log scale")
    right.set_ylabel("sampler β (dimensionless, log scale)")
    def to_snr(beta):
        return np.sqrt(alpha * np.clip(beta, 1e-300, None) / (2.0 * d))

    snr_axis = right.secondary_yaxis(
        "right", functions=(to_snr, lambda s: 2.0 * d * np.asarray(s) ** 2 / alpha)
    )
    snr_axis.yaxis.set_major_locator(log_locator(*to_snr(np.array(right.get_ylim()))))
    snr_axis.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(plain_number))
    snr_axis.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    snr_axis.set_ylabel(f"SNR = √(αβ/2d)  (α = {alpha:g}, d = {d})")
    if right.get_legend_handles_labels()[0]:
        right.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    figure.suptitle(title)
    save(figure, Path(path))
    return Path(path)


# ------------------------------------------------------------------------------------ E17


def snr_figure(
    table: pd.DataFrame,
    path: Path | str,
    *,
    alpha: float,
    title: str = "Sampling in r principal components",
) -> Path:
    """E17: max-cos against the SNR of the sampled space, one line per rank r.

    ``table`` columns: ``rank``, ``beta``, ``max_cos``, optional ``max_cos_se`` and ``snr``
    (default ``sqrt(α β / 2r)``: the noise lives in r dimensions). The marker shows β
    (the SNR is the x axis); colours are ranks. The dashed curve is the retrieval-regime law
    ``max-cos ≈ (1 + r/β)^(-1/2) = (1 + α / 2 SNR²)^(-1/2)``.
    """
    apply_style()
    needed = {"rank", "beta", "max_cos"}
    if not needed <= set(table.columns):
        raise ValueError(f"snr_figure: table lacks the columns {sorted(needed - set(table))}")
    table = table.copy()
    if "snr" not in table:
        table["snr"] = np.sqrt(alpha * table["beta"] / (2.0 * table["rank"]))
    figure, axis = plt.subplots(figsize=(7.4, 4.8), layout="constrained")
    markers = dict(zip(sorted(table["beta"].unique()), "osD^v<>p*h", strict=False))
    for position, (rank, rows) in enumerate(table.groupby("rank", sort=True)):
        rows = rows.sort_values("snr")
        color = f"C{position}"
        axis.plot(rows["snr"], rows["max_cos"], color=color, label=f"r = {int(rank)}")
        for _, point in rows.iterrows():
            error = point["max_cos_se"] if "max_cos_se" in rows else None
            axis.errorbar(
                point["snr"],
                point["max_cos"],
                yerr=error,
                capsize=3,
                color=color,
                marker=markers.get(point["beta"], "o"),
                markersize=6,
            )
    for beta, marker in markers.items():
        axis.plot([], [], ls="none", marker=marker, color="0.3", label=f"β = {beta:g}")
    low, high = float(table["snr"].min()), float(table["snr"].max())
    grid = np.geomspace(low / 1.5, high * 1.5, 200)
    axis.plot(
        grid,
        (1.0 + alpha / (2.0 * grid**2)) ** -0.5,
        ls="--",
        color="0.4",
        label="law (1 + α/2SNR²)^(-1/2)",
    )
    axis.set_xscale("log")
    plain_log_ticks(axis, "x")
    axis.set_xlabel(f"SNR = √(αβ/2r) in the sampled space (α = {alpha:g}; log scale)")
    axis.set_ylabel(AXIS_LABELS["max_cos"])
    axis.legend(loc="lower right")
    axis.set_title(title)
    save(figure, Path(path))
    return Path(path)
