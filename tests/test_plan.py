"""Config → jobs: the planning module, the composed schema and the common start draw."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import yaml

from stochastic_attention.config import ConfigError, prepare
from stochastic_attention.methods.chains import start_draw
from stochastic_attention.plan import build_plan, token

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow/schemas/config.schema.yaml"


def _config(**experiments) -> dict:
    base = {
        "seed": 1,
        "datasets": {"digits": {"domain": "synthetic", "d": 8, "n_patterns": 6}},
        "methods": {
            "sa": {"kind": "sa", "alpha": 0.01, "beta": 50},
            "mala": {"kind": "mala", "alpha": 0.01, "beta": 50},
            "bootstrap": {"kind": "bootstrap", "n_samples": 20, "energy_beta": 50},
        },
        "experiments": experiments,
    }
    return prepare(base, schema_path=SCHEMA)


def test_tokens_are_file_name_safe():
    assert token(0.005) == "0p005"
    assert token(2000.0) == "2000"
    assert token(-1e-3) == "m0p001"
    assert token({"critical": 5}) == "critical5"


def test_a_critical_rule_without_criterion_takes_the_configs_beta_criterion():
    """The default β* criterion lives in the schema (top-level ``beta_criterion``); the plan
    writes it into each {critical: c} of a sample job, after names are made (so derived
    names and table labels stay ``critical5``); a rule's own criterion wins."""
    experiments = {
        "spectrum": {"kind": "spectrum", "dataset": "digits", "method": "sa",
                     "betas": [{"critical": 5}, {"critical": 2, "criterion": "knee"}]},
        "comparison": {"kind": "comparison", "datasets": ["digits"], "methods": ["bootstrap"],
                       "energy_beta": {"critical": 1}},
    }  # fmt: skip
    plan = build_plan(_config(**experiments))
    assert plan.config["beta_criterion"] == "inflection"  # the schema's default
    rows = {row.method: row for row in plan.experiments["spectrum"].rows}
    assert set(rows) == {"sa__beta_critical5", "sa__beta_criterionkneecritical2"}
    assert plan.methods["sa__beta_critical5"]["beta"] == {"critical": 5}  # config untouched
    spec = plan.sample_spec("digits", "sa__beta_critical5")
    assert spec["beta"] == {"critical": 5, "criterion": "inflection"}
    own = plan.sample_spec("digits", "sa__beta_criterionkneecritical2")["beta"]
    assert own == {"critical": 2, "criterion": "knee"}
    baseline = plan.experiments["comparison"].rows[0].method
    assert plan.sample_spec("digits", baseline)["energy_beta"]["criterion"] == "inflection"
    base = {
        "seed": 1,
        "beta_criterion": "knee",
        "datasets": {"digits": {"domain": "synthetic", "d": 8, "n_patterns": 6}},
        "methods": {"sa": {"kind": "sa", "alpha": 0.01, "beta": {"critical": 5}}},
        "experiments": {},
    }
    knee = build_plan(prepare(base, schema_path=SCHEMA))
    assert knee.sample_spec("digits", "sa")["beta"] == {"critical": 5, "criterion": "knee"}


def test_a_sweep_makes_one_job_per_grid_point_and_method():
    config = _config(
        sweep={
            "kind": "sweep",
            "datasets": ["digits"],
            "methods": ["sa", "mala"],
            "sweep": {"method.alpha": [0.005, 0.01, 0.1], "dataset.n_patterns": [4, 6]},
            "paired": [["sa", "mala"]],
        }
    )
    plan = build_plan(config)
    experiment = plan.experiments["sweep"]
    assert len(experiment.rows) == 2 * 3 * 2
    # the value equal to the base (α 0.01, K 6) reuses the base job instead of a copy
    assert ("digits", "sa") in plan.jobs
    assert ("digits__n_patterns_4", "sa__alpha_0p005") in plan.jobs
    assert plan.datasets["digits__n_patterns_4"]["n_patterns"] == 4
    assert plan.methods["sa__alpha_0p1"]["alpha"] == 0.1
    assert len(plan.jobs) == 12
    assert len(experiment.paired) == 6
    assert all(a.labels == b.labels for a, b in experiment.paired)


def test_a_spectrum_and_experiment_level_baseline_keys():
    config = _config(
        spectrum={"kind": "spectrum", "dataset": "digits", "method": "sa", "betas": [5, 50]},
        comparison={
            "kind": "comparison",
            "datasets": ["digits"],
            "methods": ["bootstrap", "sa"],
            "energy_beta": 7,
            "n_samples": 30,
        },
    )
    plan = build_plan(config)
    assert {row.method for row in plan.experiments["spectrum"].rows} == {"sa__beta_5", "sa"}
    rows = plan.experiments["comparison"].rows
    assert [row.method for row in rows] == ["bootstrap__energy_beta_7__n_samples_30", "sa"]
    assert all(path.startswith("results/") for path in plan.targets())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c["methods"]["sa"].update(alpah=1), "alpah"),
        (lambda c: c["methods"].update({"a__b": {"kind": "bootstrap", "n_samples": 10}}), "a__b"),
        (lambda c: c["datasets"]["digits"].update(dimension=3), "dimension"),
        (lambda c: c.update(results_dir="../elsewhere"), "results_dir"),
        (lambda c: c.setdefault("protocols", {}).update(
            multi_chain={"n_steps": 100, "burn_in": 200}), "burn_in"),
        (lambda c: c["experiments"].update(
            x={"kind": "comparison", "datasets": ["digits"], "methods": ["nope"]}), "nope"),
    ],
)
def test_bad_configs_name_the_key(change, message):
    config = {
        "seed": 1,
        "datasets": {"digits": {"domain": "synthetic", "d": 8, "n_patterns": 6}},
        "methods": {"sa": {"kind": "sa", "alpha": 0.01, "beta": 50}},
        "experiments": {},
    }
    change(config)
    with pytest.raises(ConfigError, match=message):
        prepare(config, schema_path=SCHEMA)


def test_start_draws_depend_on_dataset_protocol_and_replicate_only():
    memory = np.linalg.qr(np.random.default_rng(0).standard_normal((10, 6)))[0]
    options = {"n_chains": 4, "init_noise": 0.01}
    first = start_draw(memory, "multi_chain", options, [11, 12])
    again = start_draw(memory, "multi_chain", options, [11, 12])
    np.testing.assert_array_equal(first.initial_states, again.initial_states)
    assert first.initial_states.shape == (10, 8)
    # the two replicates are independent draws
    assert not np.array_equal(first.initial_states[:, :4], first.initial_states[:, 4:])
    np.testing.assert_allclose(first.initial_states, memory[:, first.start_patterns], atol=0.1)


def test_the_default_and_smoke_configs_plan(tmp_path):
    for name in ("config.yaml", "smoke.yaml"):
        config = yaml.safe_load((REPO / "config" / name).read_text())
        plan = build_plan(prepare(copy.deepcopy(config), schema_path=SCHEMA))
        names = {name for dataset, method in plan.jobs for name in (dataset, method)}
        assert all(n.replace("_", "").isalnum() for n in names)
        assert len(plan.experiments) == len(config["experiments"])


def test_the_plan_derives_every_seed_of_a_sample_job_once():
    """Start seeds depend on dataset, protocol and replicate only (every sampler of a dataset
    starts alike); method seeds on dataset, method and replicate, replicate 0 the job seed."""
    config = _config(E=dict(kind="comparison", datasets=["digits"], methods=["sa", "mala"]))
    config["replicates"] = 3
    plan = build_plan(config)
    sa, mala = plan.sample_spec("digits", "sa"), plan.sample_spec("digits", "mala")
    assert sa["seeds"]["start"] == mala["seeds"]["start"]
    assert len(set(sa["seeds"]["start"])) == 3
    assert sa["seeds"]["method"][0] == plan.seed("digits", "sa")
    assert len(set(sa["seeds"]["method"] + mala["seeds"]["method"])) == 6
    assert "start" not in plan.sample_spec("digits", "bootstrap")["seeds"]  # no chains
    assert "seed" not in sa  # nothing left for the step to derive again
