"""Experiment kind ``temperature_spectrum``: one SA chain per β on a random unit memory
(SPEC §6 E1; :func:`stochastic_attention.synthetic.temperature_spectrum`)."""

from __future__ import annotations

from .base import TABLE_CSV, TABLE_HTML

KIND = "temperature_spectrum"
SCHEMA = None  # $defs/temperature_spectrum_experiment of the workflow's schema
STEP = "temperature-spectrum"
OUTPUTS = {
    "table": "tables/{experiment}.csv",
    "markdown": "tables/{experiment}.md",
    "latex": "tables/{experiment}.tex",
    "html": "tables/{experiment}.html",
    "figure": "figures/{experiment}.png",
}
TARGETS = ("table", "markdown", "html", "figure")
CAPTION = "temperature_spectrum.rst"
REPORT = {"table": TABLE_CSV, "html": TABLE_HTML, "figure": "figure"}
SUBCATEGORY = "random memories"
RESOURCES = {"mem_mb": 1000, "runtime": 10}

