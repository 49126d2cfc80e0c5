"""Experiment kind ``critical_law``: β* of random unit memories against d at a fixed load
ratio, fitted to c·d^γ (:func:`stochastic_attention.thermodynamics.critical_law`)."""

from __future__ import annotations

from .base import DOCUMENT_REPORT, DOCUMENT_TARGETS, document_outputs

KIND = "critical_law"
SCHEMA = None  # $defs/critical_law_experiment of the workflow's schema
STEP = "critical-law"
OUTPUTS = document_outputs(
    fit="tables/{experiment}_fit.csv", curves="tables/{experiment}_curves.csv"
)
TARGETS = DOCUMENT_TARGETS
CAPTION = "critical_law.rst"
REPORT = DOCUMENT_REPORT
SUBCATEGORY = "random memories"
RESOURCES = {"mem_mb": 2000, "runtime": 20}

