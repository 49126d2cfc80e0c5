"""Experiment kind ``critical_law``: β* of random unit memories against d at a fixed load
ratio, fitted to c·d^γ (:func:`stochastic_attention.synthetic.critical_law`)."""

from __future__ import annotations

from .base import TABLE_CSV, TABLE_HTML

KIND = "critical_law"
SCHEMA = None  # $defs/critical_law_experiment of the workflow's schema
STEP = "critical-law"
OUTPUTS = {
    "table": "tables/{experiment}.csv",
    "markdown": "tables/{experiment}.md",
    "latex": "tables/{experiment}.tex",
    "html": "tables/{experiment}.html",
    "figure": "figures/{experiment}.png",
    "fit": "tables/{experiment}_fit.csv",
    "curves": "tables/{experiment}_curves.csv",
}
TARGETS = ("table", "markdown", "html", "figure")
CAPTION = "critical_law.rst"
REPORT = {"table": TABLE_CSV, "html": TABLE_HTML, "figure": "figure"}
SUBCATEGORY = "random memories"
RESOURCES = {"mem_mb": 2000, "runtime": 20}

