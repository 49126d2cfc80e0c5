"""A new domain, a new method kind and a new figure are one module plus config: a toy plug-in,
end to end.

The plug-in module is written by the test into a scratch folder (nothing in the library
knows it), named under ``plugins:`` in a config, and the real workflow runs a comparison
experiment on it: memory, samples of the toy method, SA and bootstrap, metrics, table, the
sample grid and the plug-in's own figure, with its caption in the report. A second case
shows that the toy domain's own ``DATASET_SCHEMA`` rejects a typo before any job runs.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from workflow_utils import REPO, clean_snakemake, copy_workflow

pytestmark = pytest.mark.slow

PLUGIN = textwrap.dedent(
    '''
    """A toy domain (cosine waves), a toy method (noisy stored patterns) and a toy figure."""

    from __future__ import annotations

    import numpy as np

    from stochastic_attention.domains.base import Memory, Panel, register_domain, unit_columns
    from stochastic_attention.methods.base import MethodSamples, register_method
    from stochastic_attention.metrics import consecutive_groups
    from stochastic_attention.report.figure_registry import register_figure


    class ToyDomain:
        """Pattern k is cos(2π(k+1)t/d) + 1.5 on d = 16 points, shown as 4×4 images."""

        NAME = "toy"
        SOURCE_SCHEMA = None  # nothing to fetch
        DATASET_SCHEMA = {
            "type": "object",
            "properties": {"n_waves": {"type": "integer", "minimum": 2, "maximum": 12}},
            "required": ["n_waves"],
        }

        def build_memory(self, params, raw):
            t = np.arange(16.0)
            k = np.arange(1, params["n_waves"] + 1)
            waves = np.cos(2 * np.pi * np.outer(t, k) / 16) + 1.5  # (d 16, K)
            return Memory(unit_columns(waves, "toy"), {"d": 16, "n_waves": params["n_waves"]})

        def panel(self, states, memory):
            states = np.asarray(states).reshape(16, -1)
            return Panel("image", images=states.T.reshape(-1, 4, 4))


    class ToyNoise:
        """A stored pattern plus N(0, sigma² I): a training-free baseline."""

        KIND = "toy_noise"
        CATEGORY = "simple"
        PARAMS_SCHEMA = {"sigma": {"type": "number", "exclusiveMinimum": 0}}
        DOMAINS = None

        def run(self, memory, spec, context):
            n = spec["n_samples"]
            picks = context.rng.integers(memory.n_patterns, size=n)
            noise = spec.get("sigma", 0.05) * context.rng.standard_normal((memory.d, n))
            samples = memory.patterns[:, picks] + noise
            return MethodSamples(samples, consecutive_groups(n))


    @register_figure("toy_profile", caption="Each method's mean sample, one line per method.")
    def toy_profile(inputs, path):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        figure, axis = plt.subplots()
        for row in inputs.rows:
            axis.plot(inputs.samples(row).mean(axis=1), label=inputs.label(row))
        axis.legend()
        figure.savefig(path)
        plt.close(figure)


    register_domain(ToyDomain())
    register_method(ToyNoise())
    '''
)


def toy_config(results: str = "results") -> dict:
    """A comparison of the toy method, SA and bootstrap on one toy dataset (tiny sizes)."""
    return {
        "seed": 11,
        "results_dir": results,
        "plugins": ["toy_plugin"],
        "datasets": {"waves": {"domain": "toy", "n_waves": 8}},
        "protocols": {
            "multi_chain": {"n_chains": 4, "n_steps": 200, "burn_in": 100, "thin": 20, "keep": 5}
        },
        "methods": {
            "noisy": {"kind": "toy_noise", "sigma": 0.05, "energy_beta": 50, "n_samples": 20},
            "sa": {"kind": "sa", "alpha": 0.01, "beta": 50, "label": "SA"},
            "bootstrap": {"kind": "bootstrap", "energy_beta": 50, "n_samples": 20},
        },
        "experiments": {
            "toy_comparison": {
                "kind": "comparison",
                "title": "toy plug-in",
                "datasets": ["waves"],
                "methods": ["noisy", "sa", "bootstrap"],
                "figures": ["sample_grids", "toy_profile"],
            }
        },
    }


@pytest.fixture
def toy_workdir(tmp_path) -> tuple[Path, Path]:
    """A scratch workflow copy and a plug-in folder holding ``toy_plugin.py``."""
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "toy_plugin.py").write_text(PLUGIN)
    return copy_workflow(tmp_path / "work"), plugins


def _write(workdir: Path, config: dict) -> str:
    path = workdir / "config" / "toy.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return "config/toy.yaml"


def test_toy_domain_and_method_from_a_plugin_run_through_the_workflow(toy_workdir):
    workdir, plugins = toy_workdir
    configfile = _write(workdir, toy_config())
    clean_snakemake(workdir, ["--cores", "2", "--configfile", configfile], pythonpath=[plugins])

    table = pd.read_csv(workdir / "results/tables/toy_comparison.csv")
    assert list(table["method"]) == ["noisy", "SA", "bootstrap"]
    assert (table["dataset"] == "waves").all()
    rows = table.set_index("method")
    assert rows.loc["bootstrap", "novelty"] == pytest.approx(0.0, abs=1e-12)
    assert rows.loc["noisy", "novelty"] > 0  # noise moves samples off the stored patterns
    assert np.isfinite(rows["novelty"]).all() and np.isfinite(rows["diversity"]).all()
    grid = workdir / "results/figures/toy_comparison/waves/sample_grids.png"
    assert grid.stat().st_size > 1000
    profile = workdir / "results/figures/toy_comparison/waves/toy_profile.png"
    assert profile.read_bytes().startswith(b"\x89PNG")
    arguments = ["--configfile", configfile, "--report", "results/report.html"]
    clean_snakemake(workdir, arguments, pythonpath=[plugins])
    report = (workdir / "results/report.html").read_text()
    assert "mean sample, one line per method." in report  # the plug-in figure's caption
    memory = np.load(workdir / "results/memory/toy/waves.npz")
    assert memory["memory"].shape == (16, 8)
    metadata = json.loads(str(memory["metadata"]))
    assert metadata["domain"] == "toy" and metadata["params"]["n_waves"] == 8
    samples = np.load(workdir / "results/samples/toy/waves/noisy.npz")
    assert samples["samples"].shape == (16, 20)
    provenance = json.loads(
        (workdir / "results/samples/toy/waves/noisy.npz.provenance.json").read_text()
    )
    assert provenance["params"]["kind"] == "toy_noise" and provenance["params"]["sigma"] == 0.05


@pytest.mark.parametrize(
    ("section", "name", "key", "typo", "words"),
    [
        ("datasets", "waves", "n_waves", "n_wave", ["datasets.waves", "'n_wave' was unexpected"]),
        ("methods", "noisy", "sigma", "sigmaa", ["methods.noisy", "'sigmaa' was unexpected"]),
    ],
    ids=["domain-key", "method-key"],
)
def test_plugin_schemas_reject_a_typo_before_any_job_runs(
    toy_workdir, section, name, key, typo, words
):
    workdir, plugins = toy_workdir
    config = toy_config()
    block = config[section][name]
    block[typo] = block.pop(key)
    configfile = _write(workdir, config)
    result = clean_snakemake(
        workdir, ["--cores", "1", "--configfile", configfile], pythonpath=[plugins], check=False
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "Invalid config" in output
    for word in words:
        assert word in output
    assert not (workdir / "results").exists()  # no job ran


def test_a_plugin_that_cannot_be_imported_is_named(toy_workdir):
    workdir, _ = toy_workdir
    configfile = _write(workdir, toy_config() | {"plugins": ["toy_plugin_missing"]})
    result = clean_snakemake(workdir, ["-n", "--configfile", configfile], check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "plugins: cannot import 'toy_plugin_missing'" in output
    assert "PYTHONPATH" in output


def test_the_plugin_registers_into_the_library_registries(toy_workdir, monkeypatch):
    """The same module, imported in-process, is a Domain, a MethodKind and a Figure of the
    registries."""
    from stochastic_attention.config import compose_schema, load_plugins
    from stochastic_attention.domains import base as domains
    from stochastic_attention.domains.base import Domain, get_domain
    from stochastic_attention.methods import base as methods
    from stochastic_attention.methods.base import MethodKind, get_method
    from stochastic_attention.report import figure_registry as figures

    _, plugins = toy_workdir
    monkeypatch.syspath_prepend(str(plugins))
    # registries of their own, so the toy kinds do not leak into other tests
    monkeypatch.setattr(domains.REGISTRY, "entries", dict(domains.REGISTRY.entries))
    monkeypatch.setattr(methods.REGISTRY, "entries", dict(methods.REGISTRY.entries))
    figures.figure_names()  # the built-in figures register on import: import them first
    monkeypatch.setattr(figures, "_REGISTERED", dict(figures._REGISTERED))
    monkeypatch.delitem(sys.modules, "toy_plugin", raising=False)
    load_plugins(["toy_plugin"])
    assert isinstance(get_domain("toy"), Domain)
    assert isinstance(get_method("toy_noise"), MethodKind)
    assert figures.get_figure("toy_profile").function.__module__ == "toy_plugin"
    assert figures.captions()["toy_profile"].startswith("Each method's mean sample")
    schema = compose_schema(REPO / "workflow/schemas/config.schema.yaml")
    datasets = schema["properties"]["datasets"]["additionalProperties"]
    assert "toy" in datasets["properties"]["domain"]["enum"]


def test_an_unknown_figure_name_is_refused_before_any_job_runs():
    """Figures are chosen by name; a typo is a config error, not a failed figure job."""
    from stochastic_attention.config import ConfigError, prepare

    config = toy_config()
    config["plugins"] = []
    del config["methods"]["noisy"]
    config["datasets"] = {"tiny": {"domain": "synthetic", "d": 8, "n_patterns": 4}}
    config["experiments"]["toy_comparison"] |= {
        "datasets": ["tiny"],
        "methods": ["sa", "bootstrap"],
        "figures": ["sample_grids", "sample_grid"],
    }
    with pytest.raises(ConfigError) as error:
        prepare(config, schema_path=REPO / "workflow/schemas/config.schema.yaml")
    message = str(error.value)
    assert "experiments.toy_comparison.figures: unknown figure 'sample_grid'" in message
    assert "sample_grids" in message and "figure_registry" in message


# --- a new experiment kind: one module plus config ------------------------------------------

EXPERIMENT_PLUGIN = textwrap.dedent(
    '''
    """A toy experiment kind: the norm of every stored pattern of one dataset, one step
    (no CAPTION: the report shows its table uncaptioned)."""

    from __future__ import annotations

    import pandas as pd

    from stochastic_attention.cli import step
    from stochastic_attention.domains.base import load_memory_file
    from stochastic_attention.experiments.base import TABLE_CSV, register_experiment

    KIND = "pattern_norms"
    SCHEMA = {
        "type": "object",
        "additionalProperties": False,
        "required": ["kind", "dataset"],
        "properties": {
            "kind": {"const": "pattern_norms"},
            "title": {"type": "string"},
            "dataset": {"type": "string"},
            "scale": {"type": "number", "exclusiveMinimum": 0, "default": 1.0},
        },
    }
    STEP = "pattern-norms"
    OUTPUTS = {"csv": "tables/{experiment}.csv", "md": "tables/{experiment}.md"}
    REPORT = {"csv": TABLE_CSV}
    SUBCATEGORY = "pattern norms"
    RESOURCES = {"mem_mb": 500, "runtime": 5}


    def inputs(plan, name):
        return {"memory": plan.memory_path(plan.experiments[name].config["dataset"])}


    @step("pattern-norms")
    def pattern_norms(params, inputs, outputs, seed, threads):
        memory = load_memory_file(inputs["memory"])
        norms = params["scale"] * (memory.patterns**2).sum(axis=0) ** 0.5
        table = pd.DataFrame({"pattern": range(norms.size), "norm": norms})
        table.to_csv(outputs["csv"], index=False)
        outputs["md"].write_text(f"# {params.get('title', 'norms')}\\n\\n{len(table)} rows\\n")


    register_experiment(__import__(__name__))
    '''
)


def norms_config() -> dict:
    return {
        "seed": 3,
        "plugins": ["toy_experiment"],
        "datasets": {"random": {"domain": "synthetic", "d": 8, "n_patterns": 6}},
        "methods": {"sa": {"kind": "sa", "alpha": 0.01, "beta": 50}},
        "experiments": {"norms": {"kind": "pattern_norms", "dataset": "random", "scale": 2.0}},
    }


def test_toy_experiment_kind_from_a_plugin_runs_through_the_workflow(tmp_path):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "toy_experiment.py").write_text(EXPERIMENT_PLUGIN)
    workdir = copy_workflow(tmp_path / "work")
    configfile = _write(workdir, norms_config())
    clean_snakemake(workdir, ["--cores", "1", "--configfile", configfile], pythonpath=[plugins])

    table = pd.read_csv(workdir / "results/tables/norms.csv")
    memory = np.load(workdir / "results/memory/synthetic/random.npz")["memory"]
    np.testing.assert_allclose(table["norm"], 2.0 * np.linalg.norm(memory, axis=0))
    assert "6 rows" in (workdir / "results/summary.md").read_text()  # its md in the summary
    provenance = json.loads((workdir / "results/tables/norms.csv.provenance.json").read_text())
    assert provenance["step"] == "pattern-norms" and provenance["params"]["scale"] == 2.0

    config = norms_config()
    config["experiments"]["norms"]["scael"] = 1.0  # the kind's SCHEMA refuses a typo
    result = clean_snakemake(
        workdir, ["-n", "--configfile", _write(workdir, config)], pythonpath=[plugins], check=False
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "experiments.norms" in output and "'scael' was unexpected" in output


def test_every_registry_checks_names_and_interfaces_the_same_way():
    """Domains, method kinds and experiment kinds share one Registry: a bad name, a missing
    attribute and an unknown name are refused with the same messages in each family."""
    from stochastic_attention.domains.base import DomainError, register_domain
    from stochastic_attention.experiments.base import ExperimentError, register_experiment
    from stochastic_attention.methods.base import MethodError, get_method, register_method

    class BadName:
        NAME = KIND = "Bad-Name"

    for register in (register_domain, register_method, register_experiment):
        with pytest.raises(ValueError, match=r"needs a (NAME|KIND) matching"):
            register(BadName)

    class Bare:
        NAME = KIND = "bare"
        CATEGORY = "simple"

    with pytest.raises(ValueError, match=r"domain 'bare' lacks SOURCE_SCHEMA, DATASET_SCHEMA"):
        register_domain(Bare)
    with pytest.raises(ValueError, match=r"method kind 'bare' lacks PARAMS_SCHEMA, run"):
        register_method(Bare)
    with pytest.raises(ValueError, match=r"experiment kind 'bare' lacks SCHEMA, STEP"):
        register_experiment(Bare)
    with pytest.raises(MethodError, match=r"unknown method kind 'nope'; known method kinds: .*sa"):
        get_method("nope")
    from stochastic_attention.domains.base import get_domain
    from stochastic_attention.experiments.base import get_experiment

    with pytest.raises(DomainError, match=r"unknown domain 'nope'; known domains: .*mnist"):
        get_domain("nope")
    with pytest.raises(ExperimentError, match=r"known experiment kinds: .*comparison"):
        get_experiment("nope")
