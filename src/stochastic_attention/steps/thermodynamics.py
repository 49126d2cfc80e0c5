"""Pipeline steps of the thermodynamic experiment kinds: ``temperature-spectrum``,
``convergence``, ``phase-diagram-cell``, ``phase-diagram`` and ``critical-law``.

Parameters are the keyword arguments of the library functions in
:mod:`stochastic_attention.thermodynamics`, every one given (the experiment's block, its defaults
from the schema: the functions hold none), plus ``title``; an unknown key is a
``ValueError`` naming it. Outputs are named: ``table`` (CSV) and
``figure`` (PNG) are required; ``markdown``, ``latex`` and ``html`` (text and tables as one
document, :func:`stochastic_attention.report.tables.write_document`) and the extra tables
listed per step are written when named.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import thermodynamics as th
from ..cli import step

__all__: list[str] = []


def _figures():
    """The figure module, imported on demand (matplotlib costs ~1 s of start-up per job)."""
    from ..report import thermodynamics_figures

    return thermodynamics_figures


_NOT_PARAMS = {"seed", "memory"}


def _allowed(function: Callable[..., Any], extra: Iterable[str] = ()) -> set[str]:
    names = {
        name
        for name, parameter in inspect.signature(function).parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY and name not in _NOT_PARAMS
    }
    return names | set(extra)


def _check_params(name: str, params: dict, allowed: set[str]) -> None:
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise ValueError(
            f"step {name}: unknown parameter(s) {', '.join(map(repr, unknown))}; "
            f"allowed: {', '.join(sorted(allowed))}"
        )


def _check_outputs(name: str, outputs: dict[str, Path], required: set[str], optional: set[str]):
    missing = sorted(required - set(outputs))
    unknown = sorted(set(outputs) - required - optional)
    if missing or unknown:
        raise ValueError(
            f"step {name}: outputs must name {sorted(required)} (optional {sorted(optional)}); "
            f"missing {missing}, unknown {unknown}"
        )


def _pick(params: dict, function: Callable[..., Any]) -> dict:
    allowed = _allowed(function)
    return {key: value for key, value in params.items() if key in allowed}


def _write_documents(outputs: dict[str, Path], heading: str, sections: list[tuple[str, Any]]):
    """The ``markdown``, ``latex`` and ``html`` outputs, if requested: text and tables in order
    (one writer, :func:`stochastic_attention.report.tables.write_document`)."""
    if not {"markdown", "latex", "html"} & set(outputs):
        return
    from ..report.tables import write_document

    write_document(
        heading,
        sections,
        markdown_path=outputs.get("markdown"),
        latex_path=outputs.get("latex"),
        html_path=outputs.get("html"),
    )


def _write_csv(table: pd.DataFrame, path: Path) -> None:
    table.to_csv(path, index=False)


# --------------------------------------------------------------------------------- E1


@step("temperature-spectrum")
def temperature_spectrum(
    params: dict, inputs: dict[str, Path], outputs: dict[str, Path], seed: int, threads: int
):
    """E1 temperature spectrum → table, figure (and markdown, latex, html).

    params: the keyword arguments of ``thermodynamics.temperature_spectrum`` (d, n_patterns,
    beta_min, beta_max, n_betas, alpha, n_steps, burn_in, thin, init_noise, start_pattern)
    and ``title``. inputs: none. outputs: ``table``, ``figure``; optional ``markdown``,
    ``latex``, ``html``.
    """
    _check_params("temperature-spectrum", params, _allowed(th.temperature_spectrum, {"title"}))
    _check_outputs(
        "temperature-spectrum", outputs, {"table", "figure"}, {"markdown", "latex", "html"}
    )
    result = th.temperature_spectrum(
        **_pick(params, th.temperature_spectrum), seed=np.random.default_rng(seed)
    )
    _write_csv(result.table, outputs["table"])
    _figures().temperature_spectrum_figure(
        result.table,
        outputs["figure"],
        beta_star=result.critical.beta_star,
        beta_knee=result.critical.beta_knee,
        band=result.band,
        beta_empirical=result.beta_empirical,
        title=params.get("title"),
    )
    summary = result.summary()
    shown = result.table[
        [
            "beta",
            "snr",
            "max_cos_mean",
            "max_cos_std",
            "entropy_ratio_mean",
            "entropy_ratio_std",
            "concentration_mean",
            "energy_mean",
            "max_cos_sanity_law",
        ]
    ]
    _write_documents(
        outputs,
        params.get("title", "E1: temperature spectrum"),
        [
            (
                "",
                f"β* (steepest entropy loss) = {summary['beta_star']:.4g}, knee = "
                f"{summary['beta_knee']:.4g}, transition band {summary['band_low']:.4g}–"
                f"{summary['band_high']:.4g}; chains cross H/log K = 0.5 at β = "
                f"{summary['beta_empirical']:.4g}; √d = {summary['sqrt_d']:.4g}. Means and "
                "standard deviations over the snapshots of one chain per β.",
            ),
            ("", shown),
        ],
    )
    return summary


# --------------------------------------------------------------------------------- E2


@step("convergence")
def convergence(
    params: dict, inputs: dict[str, Path], outputs: dict[str, Path], seed: int, threads: int
):
    """E2 convergence → table, figure (and markdown, latex, html, trace).

    params: the keyword arguments of ``thermodynamics.convergence`` (d, n_patterns, beta,
    sampler_beta, alpha, n_chains, n_steps, burn_in, thin, init_scale, reference_*, window,
    exact_grid_points) and ``title``. inputs: none. outputs: ``table``, ``figure``; optional
    ``markdown``, ``latex``, ``html``, ``trace``.
    """
    _check_params("convergence", params, _allowed(th.convergence, {"title"}))
    _check_outputs(
        "convergence", outputs, {"table", "figure"}, {"markdown", "latex", "html", "trace"}
    )
    result = th.convergence(**_pick(params, th.convergence), seed=np.random.default_rng(seed))
    _write_csv(result.table, outputs["table"])
    if "trace" in outputs:
        _write_csv(result.trace, outputs["trace"])
    _figures().convergence_figure(
        result.ula_energies,
        result.reference_energies,
        result.table,
        result.trace,
        outputs["figure"],
        burn_in=result.burn_in,
        exact=None if result.exact is None else (result.exact.energies, result.exact.pdf),
        title=params.get("title"),
    )
    shown = result.table.drop(columns=["beta"])
    note = (
        "The exact law of E is integrated numerically: p_β factorises into the span of the "
        "memory (rank r, a grid quadrature) and its orthogonal complement (½‖z‖² ~ "
        "Gamma((d−r)/2, 1/β) exactly). KS values are distances between sample sets "
        "(thinned chains are autocorrelated, so no p-values). `*_diff` = value − reference."
        if result.exact is not None
        else "The span of the memory is too large for a grid: the long MALA chain is the "
        "only reference."
    )
    _write_documents(
        outputs,
        params.get("title", "E2: convergence"),
        [("", note), ("", shown), ("KS of the pooled ULA chains along the run", result.trace)],
    )
    return result.summary()


# --------------------------------------------------------------------------------- E3


@step("phase-diagram-cell")
def phase_diagram_cell(
    params: dict, inputs: dict[str, Path], outputs: dict[str, Path], seed: int, threads: int
):
    """E3, one load ratio → ``cell`` (CSV, one row per dataset × β).

    params: ``load_ratio`` and the keyword arguments of ``thermodynamics.load_ratio_cell`` (d,
    beta_min, beta_max, n_betas, n_datasets, alpha, n_steps, burn_in, thin, init_noise,
    batching). inputs: none. outputs: ``cell``.
    """
    allowed = _allowed(th.load_ratio_cell, {"load_ratio"})
    _check_params("phase-diagram-cell", params, allowed)
    _check_outputs("phase-diagram-cell", outputs, {"cell"}, set())
    if "load_ratio" not in params:
        raise ValueError("step phase-diagram-cell: parameter 'load_ratio' is required")
    cell = th.load_ratio_cell(
        float(params["load_ratio"]), **_pick(params, th.load_ratio_cell), seed=int(seed)
    )
    _write_csv(cell, outputs["cell"])
    return {"n_patterns": int(cell["n_patterns"].iloc[0]), "rows": len(cell)}


@step("phase-diagram")
def phase_diagram(
    params: dict, inputs: dict[str, Path], outputs: dict[str, Path], seed: int, threads: int
):
    """E3 cells (inputs ``cell0``, ``cell1``, …) → table, figure (+ markdown, latex, html, contour).
    """
    allowed = _allowed(th.load_ratio_cell, {"load_ratios", "contour_level", "title"})
    _check_params("phase-diagram", params, allowed)
    _check_outputs(
        "phase-diagram", outputs, {"table", "figure"}, {"markdown", "latex", "html", "contour"}
    )
    expected_names = [f"cell{i}" for i in range(len(inputs))]
    if not inputs or sorted(inputs) != sorted(expected_names):
        raise ValueError(
            f"step phase-diagram: inputs must be cell0, cell1, …; got {sorted(inputs)}"
        )
    names = expected_names
    cells = pd.concat([pd.read_csv(inputs[k]) for k in names], ignore_index=True)
    if "load_ratios" in params:
        expected = sorted(float(r) for r in params["load_ratios"])
        found = sorted(cells["load_ratio"].unique())
        if len(expected) != len(found) or not np.allclose(expected, found):
            raise ValueError(
                f"step phase-diagram: the cells hold load ratios {found}, the config lists "
                f"{expected}"
            )
    level = float(params["contour_level"])  # the block's, its default from the schema
    table, contour = th.phase_diagram(cells, level=level)
    _write_csv(table, outputs["table"])
    if "contour" in outputs:
        _write_csv(contour, outputs["contour"])
    alpha = float(params["alpha"])  # the cells' α (the block's, its default from the schema)
    _figures().phase_diagram_figure(
        table, contour, outputs["figure"], alpha=alpha, level=level, title=params.get("title")
    )
    wide = table.pivot(index="load_ratio", columns="beta", values="concentration")
    wide.columns = [f"β={b:.3g}" for b in wide.columns]
    _write_documents(
        outputs,
        params.get("title", "E3: load-ratio phase diagram"),
        [
            (f"β where C crosses {level:g}", contour),
            ("Mean concentration C (rows: K/d)", wide.reset_index()),
        ],
    )
    return {"cells": len(names), "contour": contour["beta_at_level"].round(4).tolist()}


# ----------------------------------------------------------------------- critical law


@step("critical-law")
def critical_law(
    params: dict, inputs: dict[str, Path], outputs: dict[str, Path], seed: int, threads: int
):
    """β* against d → table, figure (and markdown, latex, html, fit, curves).

    params: the keyword arguments of ``thermodynamics.critical_law`` (dims, load_ratio, n_probes,
    probe_sets, n_grid, sweep, beta_min, beta_max, n_betas, alpha, n_steps, burn_in, thin,
    level) and ``title``. inputs: none. outputs: ``table``, ``figure``; optional ``markdown``,
    ``latex``, ``html``, ``fit``, ``curves``.
    """
    _check_params("critical-law", params, _allowed(th.critical_law, {"title"}))
    _check_outputs(
        "critical-law", outputs, {"table", "figure"}, {"markdown", "latex", "html", "fit", "curves"}
    )
    kwargs = _pick(params, th.critical_law)
    result = th.critical_law(**kwargs, seed=np.random.default_rng(seed))
    load_ratio = float(result.table["load_ratio"].iloc[0])
    headline, details = th.law_verdict(result.fits, load_ratio)
    _write_csv(result.table, outputs["table"])
    if "fit" in outputs:
        _write_csv(result.fits, outputs["fit"])
    if "curves" in outputs:
        _write_csv(result.curves, outputs["curves"])
    _figures().critical_law_figure(
        result.table,
        result.fits,
        outputs["figure"],
        verdict=headline,
        title=params.get("title"),
    )
    wide = result.table.pivot(index=["d", "n_patterns"], columns="estimator", values="beta")
    _write_documents(
        outputs,
        params.get("title", "Critical inverse temperature against dimension"),
        [
            ("Verdict", f"{headline}. {details}"),
            ("β* by estimator", wide.reset_index()),
            ("Fits", result.fits),
        ],
    )
    return {"verdict": f"{headline}. {details}", "fits": result.fits.to_dict(orient="records")}
