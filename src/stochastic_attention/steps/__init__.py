"""Pipeline steps for the console command; importing a module registers its steps.

Only the module that holds the requested step is imported, so a job does not pay for
importing pandas and scipy.stats when it does not use them.
"""

from importlib import import_module

STEP_MODULES = {
    "fetch": "core",
    "memory": "core",
    "sample": "core",
    "metrics": "core",
    "paired": "core",
    "experiment-table": "core",
    "figure": "core",
    "summary": "core",
    "claims": "core",
    "sequence": "sequence",
    "export": "core",
    "temperature-spectrum": "thermodynamics",
    "convergence": "thermodynamics",
    "phase-diagram-cell": "thermodynamics",
    "phase-diagram": "thermodynamics",
    "critical-law": "thermodynamics",
}


def load(name: str | None = None) -> None:
    """Register the step ``name`` (every step when ``None`` or unknown)."""
    modules = {STEP_MODULES[name]} if name in STEP_MODULES else set(STEP_MODULES.values())
    for module in sorted(modules):
        import_module(f"{__name__}.{module}")
