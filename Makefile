# Two entry points: `make run` (the full default pipeline, offline) and `make test`.
# Both create .venv with Python 3.11 and install the pinned requirements first.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
CORES ?= 8
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: run report test lint benchmark clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)

$(VENV)/.installed: $(BIN)/activate requirements.txt requirements-dev.txt pyproject.toml
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

run: $(VENV)/.installed
	snakemake --cores $(CORES) --profile profiles/local
	snakemake --report results/report.html
	@echo "Report: results/report.html (open it in a browser); tables in results/tables/"

test: $(VENV)/.installed
	ruff check src tests benchmarks
	pytest

benchmark: $(VENV)/.installed
	python benchmarks/sampler.py

clean:
	rm -rf results .snakemake
