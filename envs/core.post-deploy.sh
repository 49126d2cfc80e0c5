#!/usr/bin/env bash
# Snakemake runs this once, inside the freshly created conda environment, from the workflow's
# working directory (the repository root): install the project so that the rules'
# `stochastic-attention` command exists. --no-deps: the environment file pins the dependencies.
set -euo pipefail
python -m pip install --no-deps "${STOCHASTIC_ATTENTION_SOURCE:-.}"
