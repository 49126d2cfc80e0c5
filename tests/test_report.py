"""The Snakemake report: captions rendered from the config, every table readable as HTML.

Captions (workflow/report/*.rst) are Jinja templates that Snakemake renders with
``snakemake.config`` and ``snakemake.wildcards``; here they are rendered the same way with a
strict Jinja environment (an undefined name fails) and the smoke config, and the report of a
real smoke run is opened and checked for every experiment's HTML table and figures.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from workflow_utils import REPO, snakemake

CAPTIONS = REPO / "workflow" / "report"
STALE_PHRASES = ("30 chain groups", "d 64, K 16", "eight ULA chains", "48⁴", "{{", "{%")


def _config(name: str = "smoke.yaml") -> dict:
    """A config as the Snakefile holds it: validated, defaults filled, config files named."""
    from stochastic_attention.config import prepare
    from stochastic_attention.report.figure_registry import captions

    config = yaml.safe_load((REPO / "config" / name).read_text())
    prepare(config, schema_path=REPO / "workflow/schemas/config.schema.yaml")
    config["_config_files"] = [f"config/{name}"]
    config["_figure_captions"] = captions()
    return config


def _caption_cases(config: dict) -> list[tuple[str, dict | None]]:
    """(caption file, wildcards) of every report entry the config makes."""
    from stochastic_attention.experiments.base import get_experiment
    from stochastic_attention.plan import build_plan

    plan = build_plan(config)
    cases: list[tuple[str, dict | None]] = [("workflow.rst", None)]
    for name, experiment in plan.experiments.items():
        kind = get_experiment(experiment.kind)
        if getattr(kind, "CAPTION", None):  # its table (and step outputs)
            cases.append((kind.CAPTION, {"experiment": name}))
        cases += [
            ("figure.rst", {"experiment": name, "dataset": dataset, "figure": figure})
            for figure, dataset in experiment.figures
        ]
    if config.get("claims"):
        cases.append(("claims.rst", None))
    return cases


def _render(caption: str, config: dict, wildcards: dict | None) -> str:
    """A caption as Snakemake renders it (same Jinja options), but undefined names fail."""
    from jinja2 import Environment, StrictUndefined

    environment = Environment(trim_blocks=True, lstrip_blocks=True, undefined=StrictUndefined)
    job = SimpleNamespace(config=config, wildcards=SimpleNamespace(**(wildcards or {})))
    template = environment.from_string((CAPTIONS / caption).read_text())
    return template.render(snakemake=job, categories={}, files=[])


def _html(rst: str) -> str:
    """reStructuredText → HTML body as the report does it; any docutils warning fails."""
    from docutils.core import publish_parts

    return publish_parts(
        rst, writer="html", settings_overrides={"halt_level": 2, "report_level": 2}
    )["body"]


@pytest.fixture(scope="module")
def smoke_captions():
    config = _config()
    return {
        (caption, tuple(sorted((wildcards or {}).items()))): _render(caption, config, wildcards)
        for caption, wildcards in _caption_cases(config)
    }


def _caption(captions: dict, caption: str, **wildcards) -> str:
    """A rendered caption with its line breaks and runs of spaces as single spaces."""
    return " ".join(captions[(caption, tuple(sorted(wildcards.items())))].split())


def test_every_caption_file_is_used_by_a_rule_and_rendered():
    """Captions named in the rule files (report_entry) or by an experiment kind (CAPTION)."""
    from stochastic_attention.experiments.base import experiment_kinds, get_experiment

    used = {getattr(get_experiment(kind), "CAPTION", None) for kind in experiment_kinds()} - {None}
    for rules in (REPO / "workflow" / "rules").glob("*.smk"):
        used |= set(re.findall(r'"([a-z_]+\.rst)"', rules.read_text()))
    files = {path.name for path in CAPTIONS.glob("*.rst")}
    assert used | {"workflow.rst"} == files
    rendered = {caption for caption, _ in _caption_cases(_config())}
    assert rendered == files


def test_every_caption_renders_with_the_smoke_config(smoke_captions):
    for (caption, wildcards), text in smoke_captions.items():
        assert text.strip(), (caption, wildcards)
        for phrase in STALE_PHRASES:
            assert phrase not in text, (caption, wildcards, phrase)
        _html(text)  # valid reStructuredText


@pytest.mark.parametrize("name", ["config.yaml", "paper.yaml"])
def test_every_caption_is_valid_rst_with_the_default_and_paper_configs(name):
    """Settings the smoke config does not use (E9's sequence without n_days) render too."""
    config = _config(name)
    for caption, wildcards in _caption_cases(config):
        text = _render(caption, config, wildcards)
        assert text.strip(), (caption, wildcards)
        _html(text)


def test_captions_state_the_smoke_settings(smoke_captions):
    c = smoke_captions
    e1 = _caption(c, "temperature_spectrum.rst", experiment="E1")
    assert all(s in e1 for s in ("E1 (smoke)", "K = 4", "d = 16", "9 values", "600 steps"))
    e2 = _caption(c, "convergence.rst", experiment="E2")
    assert all(s in e2 for s in ("d = 8", "4 ULA chains", "1000 steps", "2 long", "24^4"))
    e3 = _caption(c, "phase_diagram.rst", experiment="E3")
    assert all(s in e3 for s in ("d = 16", "0.25, 0.5, 1.0", "2 random memories", "5 log-spaced"))
    law = _caption(c, "critical_law.rst", experiment="critical_law")
    assert "{16, 32, 64}" in law and "K/d = 0.25" in law
    e4 = _caption(c, "experiment_table.rst", experiment="E4")
    assert "10 chains × 5 snapshots, 400 steps, burn-in 200" in e4
    assert "``mnist_digit3``: mnist, digit 3, n_patterns 20" in e4
    assert "``sa_generation`` (\"SA\"): sa, α 0.01, β 200" in e4
    assert "``sa_retrieval`` − ``mala_retrieval``" in e4
    e13 = _caption(c, "experiment_table.rst", experiment="E13")
    assert "β 1·β*" in e13 and "``dataset.n_patterns`` over 20, 40" in e13
    e9 = _caption(c, "experiment_table.rst", experiment="E9")
    assert "10 chains × 10 snapshots" in e9  # its own protocol, finance_pool
    figure = _caption(c, "figure.rst", experiment="E13", dataset="mnist_digit3", figure="scaling")
    assert "E13 (smoke): scaling with K" in figure and "number of stored patterns K" in figure
    sequence = _caption(c, "sequence.rst", experiment="E9_sequence")
    assert all(s in sequence for s in ("``sp500``", "60", "20 steps", "β = 12"))
    workflow = _caption(c, "workflow.rst")
    assert "``config/smoke.yaml``" in workflow and "``results/smoke/``" in workflow
    assert "10 chains of 5" in workflow
    assert "E9 (smoke): warm-start sequence." in sequence  # the title is not repeated
    law_title = "**Critical-temperature law (smoke).**"
    assert law.startswith(law_title)


def test_captions_follow_the_config_they_are_rendered_with():
    config = _config("config.yaml")
    e1 = " ".join(_render("temperature_spectrum.rst", config, {"experiment": "E1"}).split())
    d, k = config["experiments"]["E1"]["d"], config["experiments"]["E1"]["n_patterns"]
    assert f"d = {d}" in e1 and f"K = {k}" in e1
    workflow = " ".join(_render("workflow.rst", config, None).split())
    chains = config["protocols"]["multi_chain"]["n_chains"]
    assert f"{chains} chains of" in workflow and "``config/config.yaml``" in workflow


# ------------------------------------------------------------- the built smoke report


def _entries(html: str) -> tuple[dict, dict]:
    """The report's ``results`` (path → entry) and ``categories`` (category → subcategory →
    paths) as embedded in its scripts."""
    results = re.search(r"^\s*var results = (\{.*\});\s*$", html, re.M)
    categories = re.search(r"^\s*var categories = (\{.*\});\s*$", html, re.M)
    assert results and categories, "the report lacks its results/categories data"
    return json.loads(results.group(1)), json.loads(categories.group(1))


def _content(entry: dict) -> bytes:
    """The embedded file of a report entry (a base64 data URI)."""
    return base64.b64decode(entry["data_uri"].split("base64,", 1)[1])


@pytest.fixture(scope="module")
def smoke_report(smoke_workdir):
    report = Path("results/smoke/report.html")
    snakemake(smoke_workdir, "--configfile", "config/smoke.yaml", "--report", str(report))
    html = (smoke_workdir / report).read_text()
    results, categories = _entries(html)
    return SimpleNamespace(html=html, results=results, categories=categories)


def _place(categories: dict, path: str) -> tuple[str, str]:
    for category, subcategories in categories.items():
        for subcategory, paths in subcategories.items():
            if path in paths:
                return category, subcategory
    raise AssertionError(f"{path} is in no report category")


@pytest.mark.slow
def test_smoke_report_shows_every_table_and_figure(smoke_report):
    from stochastic_attention.experiments.base import get_experiment
    from stochastic_attention.plan import build_plan

    config = _config()
    plan = build_plan(config)
    results, categories = smoke_report.results, smoke_report.categories
    for name, experiment in plan.experiments.items():
        tables = f"{plan.results}/tables/{name}"
        html_table, csv_table = f"{tables}.html", f"{tables}.csv"
        entry = results[html_table]
        assert entry["mime_type"] == "text/html", name  # shown in the report's viewer
        assert b"<table" in _content(entry), name
        assert entry["labels"] == {"result": "table"}
        assert results[csv_table]["labels"] == {"result": "table (CSV download)"}
        assert _place(categories, html_table) == _place(categories, csv_table)
        assert _place(categories, html_table)[0] == name
        assert entry["caption"].strip(), name
        title = config["experiments"][name].get("title", name)
        assert title.split(":")[0] in entry["caption"], name
        if get_experiment(experiment.kind).STEP is None:  # the generic figure rule's
            figures = [(plan.figure_path(name, f, d), d) for f, d in experiment.figures]
        else:
            figures = [(plan.step_outputs(name)["figure"], None)]
        for path, dataset in figures:
            entry = results[path]
            assert entry["mime_type"] == "image/png", path
            assert _content(entry).startswith(b"\x89PNG"), path
            category, subcategory = _place(categories, path)
            assert category == name
            if dataset is not None:
                assert subcategory == dataset
    assert "config/smoke.yaml" in smoke_report.html  # the report names its config


def test_the_claims_caption_states_the_rule_and_lists_the_claims(smoke_captions):
    text = _caption(smoke_captions, "claims.rst")
    assert "Bonferroni-widened z" in text and "2 replicate(s)" in text
    assert "``ddpm_is_noise``: DDPM fails at every K tested" in text
    assert "matches retrieval_max_cos" in text
