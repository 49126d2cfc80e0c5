"""Figures of the thermodynamic experiments (E1–E3, critical-temperature law), one per function.

Each function takes the tables of :mod:`stochastic_attention.thermodynamics` (so a figure can be
redrawn from the CSV files) and writes one PNG in the look of :mod:`.style`: readable fonts,
labelled axes with units, the SNR next to every β axis, plain-number ticks. A config
``title`` is shown above the informative default title, never instead of it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from . import style

__all__ = [
    "STYLE",
    "convergence_figure",
    "critical_law_figure",
    "phase_diagram_figure",
    "temperature_spectrum_figure",
]

STYLE = style.STYLE
_BETA_LABEL = style.BETA_LABEL
_snr_axis = style.snr_axis
_save = style.save


def temperature_spectrum_figure(
    table: pd.DataFrame,
    path: Path | str,
    *,
    beta_star: float,
    beta_knee: float,
    band: tuple[float, float],
    beta_empirical: float | None = None,
    title: str | None = None,
) -> Path:
    """E1: max-cos (left axis) and H/log K (right axis) against β, with 10–90 % bands.

    ``table`` is :attr:`SpectrumResult.table`; the grey band is the half-maximum width of
    the entropy-loss curve around β*, the vertical lines β* (steepest), the knee and the
    empirical H/log K = 0.5 crossing.
    """
    alpha, d = float(table["alpha"].iloc[0]), int(table["d"].iloc[0])
    n_patterns = int(table["n_patterns"].iloc[0])
    beta = table["beta"].to_numpy()
    with style.styled():
        figure, left = plt.subplots(figsize=(9, 5.5))
        right = left.twinx()
        right.grid(False)
        left.axvspan(*band, color="0.85", zorder=0, label="transition band (half max of β·Var)")
        left.axvline(beta_star, color="k", lw=1.5, label=f"β* steepest = {beta_star:.3g}")
        left.axvline(beta_knee, color="k", lw=1.2, ls="--", label=f"β* knee = {beta_knee:.3g}")
        if beta_empirical is not None and np.isfinite(beta_empirical):
            left.axvline(
                beta_empirical,
                color="tab:purple",
                lw=1.2,
                ls=":",
                label=f"chains: H/log K = ½ at β = {beta_empirical:.3g}",
            )
        left.fill_between(
            beta, table["max_cos_q10"], table["max_cos_q90"], color="tab:blue", alpha=0.2
        )
        left.plot(beta, table["max_cos_mean"], "o-", color="tab:blue", label="max-cos (mean)")
        left.plot(
            beta,
            table["max_cos_sanity_law"],
            color="tab:blue",
            lw=1,
            ls="--",
            alpha=0.7,
            label="retrieval law (1 + d/β)^(−½)",
        )
        right.fill_between(
            beta,
            table["entropy_ratio_q10"],
            table["entropy_ratio_q90"],
            color="tab:red",
            alpha=0.2,
        )
        right.plot(
            beta, table["entropy_ratio_mean"], "s-", color="tab:red", label="H / log K (mean)"
        )
        left.set_xscale("log")
        left.set_xlabel(_BETA_LABEL)
        left.set_ylabel("max-cos to stored patterns (cosine)", color="tab:blue")
        right.set_ylabel("attention entropy H / log K (fraction)", color="tab:red")
        left.set_ylim(0, 1.02)
        right.set_ylim(0, 1.02)
        _snr_axis(left, alpha, d)
        handles = left.get_legend_handles_labels()
        extra = right.get_legend_handles_labels()
        left.legend(
            handles[0] + extra[0],
            handles[1] + extra[1],
            loc="upper center",
            bbox_to_anchor=(0.5, -0.13),
            ncol=2,
            frameon=False,
        )
        style.plain_log_ticks(left, "x")
        n_snapshots = int(table["n_snapshots"].iloc[0])
        left.set_title(
            style.heading(
                f"E1 temperature spectrum: d = {d}, K = {n_patterns}, one SA chain per β\n"
                f"(shaded: 10–90 % over {n_snapshots} snapshots per chain)",
                title,
            )
        )
        return _save(figure, path)


def convergence_figure(
    ula_energies: np.ndarray,
    reference_energies: np.ndarray,
    table: pd.DataFrame,
    trace: pd.DataFrame,
    path: Path | str,
    *,
    burn_in: int,
    exact: tuple[np.ndarray, np.ndarray] | None = None,
    title: str | None = None,
) -> Path:
    """E2: energy densities of the pooled ULA chains, the MALA reference and the exact law.

    ``ula_energies`` (C, S) post-burn-in energies per chain; ``reference_energies`` (S_ref,);
    ``table`` / ``trace`` from :class:`ConvergenceResult`; ``exact`` = (energy grid, density).
    KS statistics and moment differences are printed on the figure.
    """
    rows = table.set_index("sample_set")
    pooled, reference = rows.loc["ula_pooled"], rows.loc["reference"]
    beta = float(table["beta"].iloc[0])
    with style.styled():
        figure, (density, history) = plt.subplots(
            1, 2, figsize=(13, 5.2), gridspec_kw={"width_ratios": [1.4, 1]}
        )
        pooled_values = np.ravel(ula_energies)
        low, high = np.quantile(np.r_[pooled_values, reference_energies], [0.0005, 0.9995])
        bins = np.linspace(low, high, 70)
        density.hist(
            pooled_values,
            bins=bins,
            density=True,
            histtype="step",
            lw=2,
            color="tab:blue",
            label=f"ULA, {ula_energies.shape[0]} chains pooled (α = {pooled['alpha']:g})",
        )
        density.hist(
            reference_energies,
            bins=bins,
            density=True,
            histtype="step",
            lw=2,
            color="tab:orange",
            label=f"MALA reference (α = {reference['alpha']:g}, "
            f"acceptance {reference['acceptance']:.2f})",
        )
        if exact is not None:
            grid, pdf = exact
            inside = (grid >= low) & (grid <= high)
            density.plot(grid[inside], pdf[inside], color="k", lw=1.3, label="exact (quadrature)")
        lines = [
            f"KS(ULA, reference) = {pooled['ks_vs_reference']:.4f}",
            f"KS(ULA, exact) = {pooled['ks_vs_exact']:.4f}",
            f"KS(reference, exact) = {reference['ks_vs_exact']:.4f}",
            "ULA − reference:",
            f"  Δ mean E = {pooled['energy_mean_diff']:+.4f}",
            f"  Δ var E = {pooled['energy_var_diff']:+.4f}",
            f"  Δ mean ‖ξ‖ = {pooled['norm_mean_diff']:+.4f}",
            f"  Δ var ‖ξ‖ = {pooled['norm_var_diff']:+.4f}",
        ]
        density.text(
            0.98,
            0.55,
            "\n".join(lines),
            transform=density.transAxes,
            ha="right",
            va="center",
            family="monospace",
            fontsize=10,
            bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.9},
        )
        density.set_xlabel(f"energy E(ξ) at β = {beta:g} (dimensionless)")
        density.set_ylabel("probability density (1 / energy unit)")
        density.set_title("energy densities after burn-in")
        density.legend(loc="upper right")
        ends = trace["step_end"]
        history.plot(ends, trace["ks_vs_reference"], "o-", label="KS vs MALA reference")
        if trace["ks_vs_exact"].notna().any():
            history.plot(ends, trace["ks_vs_exact"], "s--", label="KS vs exact law")
        history.axvspan(trace["step_end"].iloc[0] / 2, burn_in, color="0.85", label="burn-in")
        history.set_xscale("log")
        style.plain_log_ticks(history, "x")
        history.set_xlabel("ULA step at the end of the window (log scale)")
        history.set_ylabel("KS statistic (dimensionless)")
        history.set_title("pooled chains in doubling windows of steps")
        history.set_ylim(0, 1.02)
        history.legend()
        d_text = rows.loc["exact", "sampler"] if "exact" in rows.index else "no exact law"
        figure.suptitle(
            style.heading(
                f"E2 convergence: ULA from random starts against a long MALA chain, β = {beta:g}"
                f"\n(exact law of E: {d_text} × Gamma law of the orthogonal complement)",
                title,
            )
        )
        figure.tight_layout()
        return _save(figure, path)


def _edges(centres: np.ndarray, log: bool) -> np.ndarray:
    values = np.log(centres) if log else np.asarray(centres, float)
    middle = 0.5 * (values[1:] + values[:-1])
    edges = np.r_[2 * values[0] - middle[0], middle, 2 * values[-1] - middle[-1]]
    return np.exp(edges) if log else edges


def phase_diagram_figure(
    table: pd.DataFrame,
    contour: pd.DataFrame,
    path: Path | str,
    *,
    alpha: float,
    level: float = 0.5,
    title: str | None = None,
) -> Path:
    """E3: heatmap of the mean concentration C over (K/d, β) with the C = ``level`` contour."""
    grid = table.pivot(index="load_ratio", columns="beta", values="concentration")
    ratios, betas = grid.index.to_numpy(float), grid.columns.to_numpy(float)
    d = int(table["d"].iloc[0])
    n_datasets = int(table["n_datasets"].min())
    with style.styled():
        figure, axis = plt.subplots(figsize=(10, 6))
        mesh = axis.pcolormesh(
            _edges(betas, True),
            _edges(ratios, True),
            grid.to_numpy(),
            cmap="viridis",
            vmin=0,
            vmax=1,
            shading="flat",
        )
        colorbar = figure.colorbar(mesh, ax=axis, pad=0.02)
        colorbar.set_label("concentration C = 1 − H / log K")
        axis.plot(
            contour["beta_at_level"],
            contour["load_ratio"],
            "w^-",
            ms=6,
            lw=2,
            label=f"C = {level:g} contour (▲: crossing per row, interpolated in log β)",
        )
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel(_BETA_LABEL)
        axis.set_ylabel("load ratio K / d (log scale)")
        axis.set_yticks(ratios)
        axis.set_yticklabels(
            [
                f"{r:g} (K={k})"
                for r, k in zip(
                    ratios, table.groupby("load_ratio")["n_patterns"].first(), strict=True
                )
            ]
        )
        axis.minorticks_off()
        axis.legend(loc="lower right", facecolor="0.3", labelcolor="white", framealpha=0.8)
        _snr_axis(axis, alpha, d)
        style.plain_log_ticks(axis, "x")
        axis.set_title(
            style.heading(
                f"E3 load-ratio phase diagram: d = {d}, mean C over {n_datasets} random memories",
                title,
            )
        )
        return _save(figure, path)


def _fit_label(fit: pd.Series) -> str:
    label = (
        f"c = {fit['c_sqrt']:.3g} (×/÷ {fit['c_sqrt_spread']:.2f}); "
        f"free fit γ = {fit['exponent']:.2f} ± {fit['exponent_se']:.2f}"
    )
    if fit.get("c_sqrt_d_log_k_spread", np.inf) < fit["c_sqrt_spread"]:
        label += f"; β* ≈ {fit['c_sqrt_d_log_k']:.3g}·√(d log K)"
    return label


def critical_law_figure(
    table: pd.DataFrame,
    fits: pd.DataFrame,
    path: Path | str,
    *,
    verdict: str | None = None,
    title: str | None = None,
) -> Path:
    """β*/√d against d for every estimator (legend: c of β* = c·√d and the free exponent γ),
    and β* against log K with the linear fits ``a + b log K``."""
    markers: dict[str, str] = {}
    marker_cycle = iter("osD^vP*X")
    styles: Callable[[str], str] = lambda name: markers.setdefault(name, next(marker_cycle))  # noqa: E731
    load_ratio = float(table["load_ratio"].iloc[0])
    fit_rows = fits.set_index("estimator")
    with style.styled():
        figure, (scaled, by_log_k) = plt.subplots(1, 2, figsize=(14, 7))
        for name, group in table.groupby("estimator", sort=False):
            fit = fit_rows.loc[name]
            (line,) = scaled.plot(
                group["d"],
                group["beta_over_sqrt_d"],
                marker=styles(name),
                ls="-",
                label=f"{name}: {_fit_label(fit)}",
            )
            dims = np.geomspace(group["d"].min(), group["d"].max(), 50)
            scaled.plot(
                dims,
                fit["prefactor"] * dims ** (fit["exponent"] - 0.5),
                color=line.get_color(),
                ls=":",
                lw=1,
            )
            if not name.endswith("(random)"):
                log_k = np.log(group["n_patterns"].to_numpy(float))
                by_log_k.plot(
                    log_k,
                    group["beta"],
                    marker=styles(name),
                    ls="none",
                    color=line.get_color(),
                    label=f"{name}: β* ≈ {fit['log_k_intercept']:.2f} + "
                    f"{fit['log_k_slope']:.2f}·log K",
                )
                span = np.linspace(log_k.min(), log_k.max(), 20)
                by_log_k.plot(
                    span,
                    fit["log_k_intercept"] + fit["log_k_slope"] * span,
                    color=line.get_color(),
                    lw=1,
                )
        scaled.set_xscale("log", base=2)
        scaled.set_yscale("log")
        scaled.set_xlabel("dimension d (log scale)")
        scaled.set_ylabel("β* / √d (dimensionless, log scale)")
        scaled.set_title("β*/√d: flat if β* ∝ √d (dotted: free fit a·d^γ)")
        style.plain_log_ticks(scaled, "x", table["d"].unique())
        style.plain_log_ticks(scaled, "y")
        scaled.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=1, frameon=False)
        by_log_k.set_xlabel("log K (K = number of stored patterns)")
        by_log_k.set_ylabel("β* (dimensionless)")
        by_log_k.set_title("pattern probes and chains: β* against log K")
        by_log_k.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=1, frameon=False)
        default = f"Critical inverse temperature of random unit memories, K/d = {load_ratio:g}"
        figure.suptitle(style.heading(default + (f"\n{verdict}" if verdict else ""), title))
        figure.tight_layout()
        return _save(figure, path)
