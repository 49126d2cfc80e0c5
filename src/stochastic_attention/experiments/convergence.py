"""Experiment kind ``convergence``: ULA chains from random starts against a long MALA chain
and the exact law (SPEC §6 E2; :func:`stochastic_attention.synthetic.convergence`)."""

from __future__ import annotations

from .base import TABLE_CSV, TABLE_HTML

KIND = "convergence"
SCHEMA = None  # $defs/convergence_experiment of the workflow's schema
STEP = "convergence"
OUTPUTS = {
    "table": "tables/{experiment}.csv",
    "markdown": "tables/{experiment}.md",
    "latex": "tables/{experiment}.tex",
    "html": "tables/{experiment}.html",
    "figure": "figures/{experiment}.png",
    "trace": "tables/{experiment}_trace.csv",
}
TARGETS = ("table", "markdown", "html", "figure")
CAPTION = "convergence.rst"
REPORT = {"table": TABLE_CSV, "html": TABLE_HTML, "figure": "figure"}
SUBCATEGORY = "random memories"
RESOURCES = {"mem_mb": 1500, "runtime": 15}

