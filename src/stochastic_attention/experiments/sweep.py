"""Experiment kind ``sweep``: the methods on the datasets at every point of a grid of
``dataset.<key>``/``method.<key>`` values: one derived dataset or method per value, one
table row per dataset × point × method."""

from __future__ import annotations

from ..plan import ExperimentPlan, Plan, expand_rows, grid
from .comparison import CAPTION, OUTPUTS, REPORT, RESOURCES, STEP, SUBCATEGORY, targets

__all__ = ["CAPTION", "OUTPUTS", "REPORT", "RESOURCES", "STEP", "SUBCATEGORY", "targets"]

KIND = "sweep"
SCHEMA = None  # $defs/sweep_experiment


def expand(plan: Plan, name: str, block: dict) -> ExperimentPlan:
    points = grid(block["sweep"])
    return expand_rows(plan, name, block, block["datasets"], block["methods"], points)


def check(name: str, block: dict, config: dict, schema: dict) -> None:
    """The row checks, and every swept point validated as a written block would be."""
    from ..config import check_rows_experiment, check_sweep_points

    check_rows_experiment(name, block, config)
    check_sweep_points(name, block, config, schema)
