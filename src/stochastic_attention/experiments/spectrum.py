"""Experiment kind ``spectrum``: one sampler on one dataset at every β of ``betas``
(a temperature spectrum on real data): one derived method per β."""

from __future__ import annotations

from ..plan import ExperimentPlan, Plan, expand_rows
from .comparison import CAPTION, OUTPUTS, REPORT, RESOURCES, STEP, SUBCATEGORY, targets

__all__ = ["CAPTION", "OUTPUTS", "REPORT", "RESOURCES", "STEP", "SUBCATEGORY", "targets"]

KIND = "spectrum"
SCHEMA = None  # $defs/spectrum_experiment


def expand(plan: Plan, name: str, block: dict) -> ExperimentPlan:
    points = [[("method.beta", beta)] for beta in block["betas"]]
    return expand_rows(plan, name, block, [block["dataset"]], [block["method"]], points)


def check(name: str, block: dict, config: dict, schema: dict) -> None:
    """The row checks, and every swept point validated as a written block would be."""
    from ..config import check_rows_experiment, check_sweep_points

    check_rows_experiment(name, block, config)
    check_sweep_points(name, block, config, schema)
