"""Experiment kind ``sequence``: warm-start MALA through the finance memory's days against the
real series and the baselines' simulated paths (SPEC §2, E9; the ``sequence`` step,
:mod:`stochastic_attention.steps.sequence`)."""

from __future__ import annotations

from ..plan import ExperimentPlan, Plan, Row, add_dependencies
from .base import TABLE_CSV, TABLE_HTML

KIND = "sequence"
SCHEMA = None  # $defs/sequence_experiment of the workflow's schema
STEP = "sequence"
OUTPUTS = {
    "csv": "tables/{experiment}.csv",
    "md": "tables/{experiment}.md",
    "tex": "tables/{experiment}.tex",
    "html": "tables/{experiment}.html",
    "figure": "figures/{experiment}.png",
}
CAPTION = "sequence.rst"
REPORT = {"csv": TABLE_CSV, "html": TABLE_HTML, "figure": "figure: autocorrelations"}
RESOURCES = {"mem_mb": 2000, "runtime": 30}


def expand(plan: Plan, name: str, block: dict) -> ExperimentPlan:
    """A row per baseline whose samples give a path (sample jobs on the sequence's dataset)."""
    result = ExperimentPlan(name, KIND, block)
    for method in block["methods"]:
        add_dependencies(plan, block["dataset"], method)
        result.rows.append(Row(block["dataset"], method))
    return result


def inputs(plan: Plan, name: str) -> dict[str, str]:
    """The memory and each baseline's samples file (named by the method)."""
    experiment = plan.experiments[name]
    found = {"memory": plan.memory_path(experiment.config["dataset"])}
    for row in experiment.rows:
        found[row.method] = plan.samples_path(row.dataset, row.method)
    return found


def subcategory(plan: Plan, name: str) -> str:
    """The report subcategory: the sequence's dataset."""
    return plan.experiments[name].config["dataset"]
