"""This workflow used from another one as a Snakemake module, as catalog workflows are deployed.

``snakedeploy deploy-workflow`` writes a ``workflow/Snakefile`` that declares the workflow as a
``module`` with the deploying folder's own ``config/config.yaml`` and takes every rule with
``use rule * from``. The test writes that file in a scratch folder, pointing at this
checkout's Snakefile by local path, and runs one small comparison (memory, samples, metrics,
table, a figure) and the report there. Paths inside the workflow (the library, the schema,
captions) must follow the module's folder, not the deploying one: with an empty
``PYTHONPATH`` and this checkout not installed in the scratch folder, the Snakemake process
and every job must import the library from this checkout.
"""

from __future__ import annotations

import json
import re
import textwrap

import pandas as pd
import pytest
import yaml

from workflow_utils import REPO, _run_snakemake, clean_environment

pytestmark = pytest.mark.slow

DEPLOYED = textwrap.dedent(
    """
    import sys

    from snakemake.utils import min_version


    min_version("9.0")


    configfile: "config/config.yaml"


    module stochastic_attention:
        snakefile:
            "{snakefile}"
        config:
            config


    use rule * from stochastic_attention


    # which library the Snakemake process and a job import (the module put it on their paths)
    import stochastic_attention as library


    rule library_paths:
        output:
            "library.txt",
        params:
            process=library.__file__,
            python=sys.executable,
        shell:
            "{{params.python}} -c 'import stochastic_attention as s; print(s.__file__)'"
            " > {{output}}; echo {{params.process}} >> {{output}}"
    """
)

CONFIG = {
    "seed": 5,
    "datasets": {"tiny": {"domain": "synthetic", "d": 8, "n_patterns": 6}},
    "protocols": {
        "multi_chain": {"n_chains": 4, "n_steps": 200, "burn_in": 100, "thin": 20, "keep": 5}
    },
    "methods": {
        "sa": {"kind": "sa", "alpha": 0.01, "beta": 50, "label": "SA"},
        "bootstrap": {"kind": "bootstrap", "energy_beta": 50, "n_samples": 20},
    },
    "experiments": {
        "tiny_comparison": {
            "kind": "comparison",
            "title": "used as a module",
            "datasets": ["tiny"],
            "methods": ["sa", "bootstrap"],
            "figures": ["novelty_diversity"],
        }
    },
}


def test_the_workflow_runs_as_a_module_of_another_workflow(tmp_path):
    deploy = tmp_path / "deploy"
    (deploy / "workflow").mkdir(parents=True)
    (deploy / "config").mkdir()
    (deploy / "workflow/Snakefile").write_text(DEPLOYED.format(snakefile=REPO / "Snakefile"))
    (deploy / "config/config.yaml").write_text(yaml.safe_dump(CONFIG, sort_keys=False))
    env = clean_environment() | {"PYTHONPATH": ""}  # the library only from the module's path
    table = "results/tables/tiny_comparison.csv"
    figure = "results/figures/tiny_comparison/tiny/novelty_diversity.png"
    targets = [table, figure, "library.txt"]
    _run_snakemake(deploy, ["--cores", "2", *targets], env, check=True, timeout=600)

    rows = pd.read_csv(deploy / table).set_index("method")
    assert list(rows.index) == ["SA", "bootstrap"]
    assert rows.loc["bootstrap", "novelty"] == pytest.approx(0.0, abs=1e-12)
    assert (deploy / figure).read_bytes().startswith(b"\x89PNG")
    job_library, process_library = (deploy / "library.txt").read_text().split()
    here = str(REPO / "src" / "stochastic_attention" / "__init__.py")
    assert (job_library, process_library) == (here, here)
    assert not (REPO / "results" / "tables" / "tiny_comparison.csv").exists()

    report = deploy / "report.html"
    _run_snakemake(deploy, ["--report", str(report), *targets], env, check=True, timeout=300)
    html = report.read_text()
    results = json.loads(re.search(r"^\s*var results = (\{.*\});\s*$", html, re.M).group(1))
    caption = " ".join(results[figure]["caption"].split())  # rendered from the module's files
    assert "used as a module" in caption
    assert "one point per method with ±1 SE bars" in caption  # from the figure registry
    assert "used as a module" in results[table]["caption"]
    assert "config/config.yaml" in html  # the deploying folder's config, named by the report
