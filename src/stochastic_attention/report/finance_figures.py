"""E9 figures: QQ plots, correlation scatter, tail survival and ACF panels of returns.

Inputs are returns ``(d, n)`` (tickers × days or samples): ``real`` = the raw memory ``M``,
``generated`` = ``{method label: decoded returns}`` in the order to draw.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from scipy import stats

from ..domains import finance_metrics as fm
from .style import apply_style, plt, save

__all__ = ["acf_panels", "correlation_scatter", "qq_plots", "tail_survival_curves"]


def _colours(n: int) -> list:
    return [plt.get_cmap("tab10")(i % 10) for i in range(n)]


def qq_plots(
    real: np.ndarray,
    generated: Mapping[str, np.ndarray],
    tickers: Sequence[str],
    path: Path,
    *,
    show: Sequence[str] | None = None,
    title: str = "QQ plots after the per-ticker affine correction",
) -> None:
    """One panel per ticker (default the first four): generated vs real quantiles, both
    standardised to the real ticker's mean and sd (the KS test's correction), y = x dashed."""
    apply_style()
    names = list(tickers)
    show = list(show or names[:4])
    figure, axes = plt.subplots(
        1, len(show), figsize=(3.4 * len(show) + 1.6, 3.9), squeeze=False, layout="constrained"
    )
    levels = np.linspace(0.001, 0.999, 250)  # tails visible
    for axis, ticker in zip(axes[0], show, strict=True):
        row = names.index(ticker)
        r = real[row]
        z_real = np.quantile((r - r.mean()) / r.std(ddof=1), levels)
        for colour, (label, returns) in zip(
            _colours(len(generated)), generated.items(), strict=True
        ):
            matched = fm.affine_match(real[[row]], returns[[row]])[0]
            z_gen = np.quantile((matched - r.mean()) / r.std(ddof=1), levels)
            axis.plot(z_real, z_gen, ".", ms=3, color=colour, label=label)
        low, high = z_real.min(), z_real.max()
        axis.plot([low, high], [low, high], "k--", lw=0.8)
        axis.set_title(ticker)
        axis.set_xlabel("real quantile (sd units)")
    axes[0, 0].set_ylabel("generated quantile (sd units)")
    handles, labels = axes[0, -1].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside right upper", markerscale=3)  # off the data
    figure.suptitle(title)
    save(figure, path)


def correlation_scatter(
    real: np.ndarray, generated: Mapping[str, np.ndarray], path: Path, *, title: str = ""
) -> None:
    """Per method: pairwise ticker correlations, generated against real, with the relative
    Frobenius error in the panel title."""
    apply_style()
    upper = np.triu_indices(real.shape[0], k=1)
    c_real = np.corrcoef(real)[upper]
    figure, axes = plt.subplots(
        1, len(generated), figsize=(3.3 * len(generated), 3.9), squeeze=False, sharey=True,
        layout="constrained",
    )  # fmt: skip
    for axis, colour, (label, returns) in zip(
        axes[0], _colours(len(generated)), generated.items(), strict=True
    ):
        axis.plot(c_real, np.corrcoef(returns)[upper], ".", ms=4, color=colour)
        axis.plot([-0.2, 1], [-0.2, 1], "k--", lw=0.8)
        axis.set_xlim(-0.2, 1)
        axis.set_ylim(-0.2, 1)
        axis.set_title(f"{label}\nrel. Frobenius {fm.correlation_frobenius(real, returns):.3f}")
        axis.set_xlabel("real correlation")
    axes[0, 0].set_ylabel("generated correlation")
    figure.suptitle(title or "Ticker-pair correlations")
    save(figure, path)


def tail_survival_curves(
    real: np.ndarray,
    generated: Mapping[str, np.ndarray],
    path: Path,
    *,
    max_sd: float = 8.0,
    title: str = "Loss tail of the equal-weight portfolio",
) -> None:
    """``P(−z > x)`` of the standardised equal-weight portfolio return, log scale."""
    apply_style()
    thresholds = np.linspace(0.0, max_sd, 161)
    figure, axis = plt.subplots(figsize=(5.5, 4))
    axis.semilogy(thresholds, fm.tail_survival(real, thresholds), "k-", lw=2, label="real")
    for colour, (label, returns) in zip(_colours(len(generated)), generated.items(), strict=True):
        survival = fm.tail_survival(returns, thresholds)
        axis.semilogy(
            thresholds, np.where(survival > 0, survival, np.nan), color=colour, label=label
        )
    axis.semilogy(thresholds, stats.norm.sf(thresholds), ":", color="grey", lw=1, label="Gaussian")
    axis.set_xlabel("loss threshold x (portfolio sd)")
    axis.set_ylabel("P(loss > x)")
    axis.set_ylim(1e-4, 1)
    axis.legend()
    axis.set_title(title)
    save(figure, path)


def acf_panels(
    sequences: Mapping[str, np.ndarray],
    path: Path,
    *,
    lags: int = 20,
    level: float = 0.01,
    title: str = "Autocorrelation of returns g and squared returns g²",
) -> None:
    """Rows g and g², one column per sequence (real first): mean ACF over tickers (bars),
    the per-ticker range (shaded) and the white-noise band at ``level`` (dashed)."""
    apply_style()
    figure, axes = plt.subplots(
        2, len(sequences), figsize=(3.2 * len(sequences), 5.6), squeeze=False, sharey="row"
    )
    lag_axis = np.arange(1, lags + 1)
    for column, (label, series) in enumerate(sequences.items()):
        result = fm.sequence_acf(series, lags=lags, level=level)
        for row, (name, values) in enumerate((("g", result.acf_g), ("g²", result.acf_g2))):
            axis = axes[row, column]
            axis.fill_between(
                lag_axis, values.min(axis=0), values.max(axis=0), color="C0", alpha=0.2, lw=0
            )
            axis.bar(lag_axis, values.mean(axis=0), color="C0", width=0.7)
            for sign in (-1, 1):
                axis.axhline(sign * result.band, color="C3", ls="--", lw=0.9)
            axis.axhline(0, color="k", lw=0.6)
            if row == 0:
                axis.set_title(f"{label} (T = {series.shape[1]})")
            if row == 1:
                axis.set_xlabel("lag (days)")
            if column == 0:
                axis.set_ylabel(f"ACF of {name}")
    figure.suptitle(f"{title}; dashed: {100 * (1 - level):.0f} % white-noise band")
    save(figure, path)
