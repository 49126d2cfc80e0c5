"""The experiment plug-in interface and its registry (the third beside domains and methods).

An *experiment kind* turns one ``experiments.<name>`` block of config into jobs, table rows
and final outputs. Every kind is one object (usually a module) with:

``KIND: str``
    The value of ``experiments.<name>.kind``, matching ``[a-z][a-z0-9_]*``.
``SCHEMA: dict | None``
    JSON schema of the block (an object schema whose ``kind`` is ``{const: KIND}``); ``None``
    for the built-in kinds, whose schema is ``$defs/<KIND>_experiment`` of the workflow's
    schema (so the generated config reference documents them).
``STEP: str | None``
    The pipeline step that writes the experiment in one job: ``--params`` = the block
    without ``kind``, ``--seed`` = the plan's seed of the experiment, ``--input`` =
    :func:`inputs`, ``--output`` = ``OUTPUTS``. ``None`` for kinds whose tables and figures
    come from the generic ``experiment_table`` and ``figure`` rules (comparison, sweep,
    spectrum: they define ``expand`` and ``targets``).
``OUTPUTS: dict[str, str]``
    The step's outputs: name → path pattern under the results folder with ``{experiment}``
    (``"trace": "tables/{experiment}_trace.csv"``). One of them is
    ``tables/{experiment}.md``: the summary page collects every experiment's.
``TARGETS: tuple[str, ...]``, optional
    The outputs that are final targets of the workflow (default: every output).
``CAPTION: str``, optional
    The report caption of the outputs: a file under ``workflow/report`` or an absolute path
    (a plug-in's own); without it the report shows the outputs uncaptioned.
``REPORT: dict[str, str]``
    Output name → report label of the outputs the report shows
    (``{"table": TABLE_CSV, "html": TABLE_HTML, "figure": "figure"}``).
``SUBCATEGORY: str`` or ``subcategory(plan, name) -> str``
    The report subcategory of the outputs (``random memories``; a sequence's dataset).
``RESOURCES: dict``
    ``mem_mb`` and ``runtime`` of the step's job.
``expand(plan, name, block) -> ExperimentPlan``, optional
    The experiment's rows, paired differences and figures; registers the sample jobs it
    needs on ``plan`` (:func:`stochastic_attention.plan.add_dependencies`). Default: no rows
    and no sample jobs (the step computes everything itself).
``targets(plan, name) -> list[str]``, optional
    The final files of the experiment. Default: the ``TARGETS`` outputs.
``inputs(plan, name) -> dict[str, str]``, optional
    Input files of the step by name (a sequence's samples files). Default: none.
``check(name, block, config, schema)``, optional
    Checks beyond the schema (names that must exist); raises ``ConfigError``.

Built-in kinds are imported lazily (:data:`BUILTIN`); plug-ins call
:func:`register_experiment` (from a module named in ``plugins:``).
"""

from __future__ import annotations

from typing import Any

from ..errors import UserError
from ..registry import Registry

__all__ = [
    "BUILTIN",
    "DOCUMENT_REPORT",
    "DOCUMENT_TARGETS",
    "TABLE_CSV",
    "TABLE_HTML",
    "ExperimentError",
    "document_outputs",
    "experiment_kinds",
    "get_experiment",
    "register_experiment",
    "step_inputs",
    "subcategory",
    "targets",
]

# One label per report entry, so a table's HTML view and its CSV download stand side by side
# (two labels would fold them into a toggle).
TABLE_CSV = "table (CSV download)"
TABLE_HTML = "table"


def document_outputs(**extra: str) -> dict[str, str]:
    """The outputs of a kind whose step writes one table document and one figure (the
    synthetic kinds): ``table`` (CSV), ``markdown``, ``latex``, ``html``, ``figure``, and
    ``extra`` (name → path pattern)."""
    return {
        "table": "tables/{experiment}.csv",
        "markdown": "tables/{experiment}.md",
        "latex": "tables/{experiment}.tex",
        "html": "tables/{experiment}.html",
        **extra,
        "figure": "figures/{experiment}.png",
    }


DOCUMENT_TARGETS = ("table", "markdown", "html", "figure")
DOCUMENT_REPORT = {"table": TABLE_CSV, "html": TABLE_HTML, "figure": "figure"}
"""The final targets and report entries of :func:`document_outputs`."""

BUILTIN: dict[str, str] = {
    "comparison": "stochastic_attention.experiments.comparison",
    "sweep": "stochastic_attention.experiments.sweep",
    "spectrum": "stochastic_attention.experiments.spectrum",
    "sequence": "stochastic_attention.experiments.sequence",
    "temperature_spectrum": "stochastic_attention.experiments.temperature_spectrum",
    "convergence": "stochastic_attention.experiments.convergence",
    "phase_diagram": "stochastic_attention.experiments.phase_diagram",
    "critical_law": "stochastic_attention.experiments.critical_law",
}


class ExperimentError(UserError, ValueError):
    """An unknown experiment kind, or a kind that lacks part of the interface."""


REGISTRY = Registry("experiment kind", "KIND", BUILTIN, ExperimentError)


def register_experiment(kind: Any) -> Any:
    """Register an experiment kind object (or module) under its ``KIND``; returns it."""
    required = ("SCHEMA", "STEP", "OUTPUTS", "REPORT", "RESOURCES")
    name = REGISTRY.check(kind, required, see="experiments.base")
    if name not in BUILTIN and not isinstance(kind.SCHEMA, dict):
        raise ValueError(f"experiment kind {name!r}: a plug-in declares its SCHEMA (a dict)")
    REGISTRY.entries[name] = kind
    return kind


def experiment_kinds() -> list[str]:
    """Every known experiment kind: built-in and registered by plug-ins."""
    return REGISTRY.names()


def get_experiment(kind: str) -> Any:
    """The experiment kind object of ``kind`` (built-ins are imported on first use)."""
    return REGISTRY.get(kind)


def targets(kind: Any, plan: Any, name: str) -> list[str]:
    """The kind's ``targets``, else its ``TARGETS`` outputs (default: every output)."""
    own = getattr(kind, "targets", None)
    if own is not None:
        return own(plan, name)
    outputs = plan.step_outputs(name)
    return [outputs[output] for output in getattr(kind, "TARGETS", outputs)]


def step_inputs(kind: Any, plan: Any, name: str) -> dict[str, str]:
    """The kind's step ``inputs`` (default: none)."""
    own = getattr(kind, "inputs", None)
    return own(plan, name) if own is not None else {}


def subcategory(kind: Any, plan: Any, name: str) -> str:
    """The report subcategory of an experiment's step outputs."""
    own = getattr(kind, "subcategory", None)
    return own(plan, name) if own is not None else kind.SUBCATEGORY
