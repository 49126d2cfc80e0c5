"""Experiment kind ``convergence``: ULA chains from random starts against a long MALA chain
and the exact law (SPEC §6 E2; :func:`stochastic_attention.thermodynamics.convergence`)."""

from __future__ import annotations

from .base import DOCUMENT_REPORT, DOCUMENT_TARGETS, document_outputs

KIND = "convergence"
SCHEMA = None  # $defs/convergence_experiment of the workflow's schema
STEP = "convergence"
OUTPUTS = document_outputs(trace="tables/{experiment}_trace.csv")
TARGETS = DOCUMENT_TARGETS
CAPTION = "convergence.rst"
REPORT = DOCUMENT_REPORT
SUBCATEGORY = "random memories"
RESOURCES = {"mem_mb": 1500, "runtime": 15}

