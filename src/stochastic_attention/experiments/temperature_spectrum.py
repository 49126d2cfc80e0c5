"""Experiment kind ``temperature_spectrum``: one SA chain per β on a random unit memory
(SPEC §6 E1; :func:`stochastic_attention.thermodynamics.temperature_spectrum`)."""

from __future__ import annotations

from .base import DOCUMENT_REPORT, DOCUMENT_TARGETS, document_outputs

KIND = "temperature_spectrum"
SCHEMA = None  # $defs/temperature_spectrum_experiment of the workflow's schema
STEP = "temperature-spectrum"
OUTPUTS = document_outputs()
TARGETS = DOCUMENT_TARGETS
CAPTION = "temperature_spectrum.rst"
REPORT = DOCUMENT_REPORT
SUBCATEGORY = "random memories"
RESOURCES = {"mem_mb": 1000, "runtime": 10}

