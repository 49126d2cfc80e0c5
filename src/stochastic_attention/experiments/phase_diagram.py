"""Experiment kind ``phase_diagram``: concentration C over (K/d, β) on random unit memories
(SPEC §6 E3): one ``phase-diagram-cell`` job per load ratio (the ``phase_diagram_cell`` rule),
then this kind's step joins the cells into the table, the contour and the figure."""

from __future__ import annotations

from ..plan import Plan
from .base import DOCUMENT_REPORT, DOCUMENT_TARGETS, document_outputs

KIND = "phase_diagram"
SCHEMA = None  # $defs/phase_diagram_experiment of the workflow's schema
STEP = "phase-diagram"
OUTPUTS = document_outputs(contour="tables/{experiment}_contour.csv")
TARGETS = DOCUMENT_TARGETS
CAPTION = "phase_diagram.rst"
REPORT = DOCUMENT_REPORT
SUBCATEGORY = "random memories"
RESOURCES = {"mem_mb": 1000, "runtime": 10}


def load_ratios(plan: Plan, name: str) -> list[str]:
    """The load ratios as the cells' wildcard values ('0.05', '1', …): one job each."""
    return [f"{float(r):g}" for r in plan.experiments[name].config["load_ratios"]]


def inputs(plan: Plan, name: str) -> dict[str, str]:
    """One cell table per load ratio, ``cell0``, ``cell1``, … in config order."""
    return {
        f"cell{i}": f"{plan.results}/synthetic/{name}/load_ratio_{ratio}.csv"
        for i, ratio in enumerate(load_ratios(plan, name))
    }
