# Two entry points: `make run` (the full default pipeline, offline) and `make test`.
# Both create .venv with Python 3.11 and install the pinned requirements first.
#   make report [CONFIG=config/smoke.yaml REPORT=results/smoke/report.html]  the HTML report
#   make lint    ruff, snakefmt --check and snakemake --lint (make test runs it first)
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
CORES ?= 8
CONFIG ?= config/config.yaml
REPORT ?= results/report.html
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: run report test lint benchmark clean system-deps

# Debian packages the offline data sources need: hmmer-examples ships the Pfam RRM_1 seed
# alignment (protein domain). Installed when missing and we are root; otherwise the protein
# fetch step says which package to install and how to use a local alignment instead.
RRM_SEED := /usr/share/doc/hmmer/examples/testsuite/RRM_1.sto.gz
system-deps:
	@if [ ! -f $(RRM_SEED) ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		(apt-get update -qq && apt-get install -y -qq hmmer-examples) >/dev/null \
		|| echo "warning: could not install hmmer-examples (protein offline source)"; fi

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)

$(VENV)/.installed: $(BIN)/activate requirements.txt requirements-dev.txt pyproject.toml
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

run: $(VENV)/.installed system-deps
	snakemake --cores $(CORES) --profile profiles/local --configfile $(CONFIG)
	$(MAKE) report
	@echo "Tables in results/tables/ (CSV, Markdown, LaTeX, HTML)"

report: $(VENV)/.installed
	snakemake --configfile $(CONFIG) --report $(REPORT)
	@echo "Report: $(REPORT) (open it in a browser)"

lint: $(VENV)/.installed
	ruff check src tests benchmarks scripts
	snakefmt --line-length 100 --check Snakefile workflow/
	snakemake --lint --configfile $(CONFIG)

test: lint system-deps
	pytest

benchmark: $(VENV)/.installed
	python benchmarks/sampler.py

clean:
	rm -rf results .snakemake
