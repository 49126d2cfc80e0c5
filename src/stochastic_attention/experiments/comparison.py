"""Experiment kind ``comparison``: every method on every dataset, one table row each.

The generic ``experiment_table`` and ``figure`` rules make its table and figures (so it has
no ``STEP``); ``sweep`` and ``spectrum`` share these declarations."""

from __future__ import annotations

from ..plan import ExperimentPlan, Plan, expand_rows

KIND = "comparison"
SCHEMA = None  # $defs/comparison_experiment of the workflow's schema
STEP = None  # tables and figures: the generic rules
OUTPUTS: dict[str, str] = {}
CAPTION = "experiment_table.rst"
REPORT: dict[str, str] = {}
SUBCATEGORY = ""
RESOURCES: dict[str, int] = {}


def expand(plan: Plan, name: str, block: dict) -> ExperimentPlan:
    return expand_rows(plan, name, block, block["datasets"], block["methods"], [[]])


def targets(plan: Plan, name: str) -> list[str]:
    return plan.row_targets(name)


def check(name: str, block: dict, config: dict, schema: dict) -> None:
    from ..config import check_rows_experiment

    check_rows_experiment(name, block, config)
