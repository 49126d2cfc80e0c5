"""The claims table: exact figures and verdicts, check-time errors, and the smoke run's table."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from stochastic_attention import claims as cl
from stochastic_attention.config import ConfigError, prepare
from stochastic_attention.plan import build_plan
from workflow_utils import experiment_defaults

REPO = Path(__file__).resolve().parents[1]


def _smoke() -> dict:
    return yaml.safe_load((REPO / "config/smoke.yaml").read_text())


def _plan(config: dict):
    return build_plan(prepare(config, schema_path=REPO / "workflow/schemas/config.schema.yaml"))


def _record(**metrics) -> dict:
    return {"method": "m", "category": "sampler", "replicates": 4, **metrics}


# ------------------------------------------------------------------------- figures


def test_ratio_has_the_delta_method_se():
    a, b = cl.Estimate(0.3, 0.01, "r"), cl.Estimate(0.1, 0.002, "r")
    ratio = cl.combine("ratio", a, b)
    assert ratio.value == pytest.approx(3.0)
    assert ratio.se == pytest.approx(3.0 * math.sqrt((0.01 / 0.3) ** 2 + (0.002 / 0.1) ** 2))
    difference = cl.combine("difference", a, b)
    assert difference.value == pytest.approx(0.2)
    assert difference.se == pytest.approx(math.hypot(0.01, 0.002))


def test_ratio_with_a_zero_denominator_is_not_measurable():
    ratio = cl.combine("ratio", cl.Estimate(0.3, 0.01), cl.Estimate(0.0, 0.0))
    assert ratio.missing and "denominator" in ratio.note


def test_verdicts_follow_the_two_se_rule_exactly():
    estimate = cl.Estimate(3.0, 0.1)
    assert cl.decide(estimate, "at_least", 3.2) == cl.HOLDS  # 3 + 0.2 reaches 3.2
    assert cl.decide(estimate, "at_least", 3.2001) == cl.NOT_HOLDS
    assert cl.decide(estimate, "at_most", 2.8) == cl.HOLDS
    assert cl.decide(estimate, "at_most", 2.7999) == cl.NOT_HOLDS
    assert cl.decide(estimate, "matches", 3.199) == cl.HOLDS
    assert cl.decide(estimate, "matches", 3.201) == cl.NOT_HOLDS
    assert cl.decide(estimate, "matches", 2.801) == cl.HOLDS
    assert cl.decide(estimate, "matches", 2.7) == cl.NOT_HOLDS
    assert cl.decide(estimate, "matches", 2.7, tolerance=0.3) == cl.HOLDS
    assert cl.decide(cl.Estimate(3.0), "matches", 3.0) == cl.NOT_MEASURABLE  # no SE
    assert cl.decide(cl.Estimate(3.0), "at_least", 2.9) == cl.HOLDS  # no SE: direct
    assert cl.decide(cl.Estimate(float("nan"), 0.1), "at_least", 1) == cl.NOT_MEASURABLE


def test_claim_z_is_two_for_one_line_and_bonferroni_for_more():
    assert cl.claim_z(1) == pytest.approx(2.0)
    from scipy import stats

    assert cl.claim_z(3) == pytest.approx(stats.norm.isf(2 * stats.norm.sf(2.0) / 6))
    assert cl.claim_z(3) > cl.claim_z(2) > 2.0


def test_replicate_se_is_the_sd_over_replicates_over_root_r():
    record = _record(novelty=0.5, novelty_sd_rep=0.02, novelty_se=0.3)
    estimate = cl.DataRows.estimate(record, "novelty", "record")
    assert (estimate.value, estimate.se) == (0.5, pytest.approx(0.01))
    assert "R = 4" in estimate.source
    single = cl.DataRows.estimate({"replicates": 1, "novelty": 0.5, "novelty_se": 0.03},
                                  "novelty", "record")  # fmt: skip
    assert single.se == 0.03 and "chain groups" in single.source


def test_paired_rows_use_the_se_of_the_paired_difference():
    record = {"novelty_diff": 0.001, "novelty_diff_se": 0.0004}
    estimate = cl.DataRows.estimate(record, "novelty", "paired")
    assert (estimate.value, estimate.se) == (0.001, 0.0004)
    claim = {"figure": "paired_difference", "comparison": "matches", "threshold": 0}
    row = cl.RowRef("E4", (("dataset", "d"), ("method", "a − b")), "p.json", "paired")
    result = cl.evaluate_line(claim, cl.Line("c", "novelty", row), {"p.json": record})
    assert result.verdict == cl.NOT_HOLDS  # 0.001 > 2 × 0.0004


def _ratio_claim(**extra) -> dict:
    return {"figure": "ratio", "comparison": "at_least", "threshold": 2.6, **extra}


def _rows():
    first = cl.RowRef("E4", (("dataset", "d"), ("method", "sa")), "a.json")
    second = cl.RowRef("E4", (("dataset", "d"), ("method", "vae")), "b.json")
    return first, second


def test_a_ratio_line_with_known_ses():
    first, second = _rows()
    records = {
        "a.json": _record(novelty=0.30, novelty_sd_rep=0.02),  # SE 0.01
        "b.json": _record(novelty=0.12, novelty_sd_rep=0.004),  # SE 0.002
    }
    result = cl.evaluate_line(_ratio_claim(), cl.Line("c", "novelty", first, second), records)
    assert result.estimate.value == pytest.approx(2.5)
    se = 2.5 * math.hypot(0.01 / 0.30, 0.002 / 0.12)
    assert result.estimate.se == pytest.approx(se)
    assert result.verdict == (cl.HOLDS if 2.5 + 2 * se >= 2.6 else cl.NOT_HOLDS) == cl.HOLDS
    strict = cl.evaluate_line(_ratio_claim(threshold=2.5 + 2 * se + 1e-6),
                              cl.Line("c", "novelty", first, second), records)  # fmt: skip
    assert strict.verdict == cl.NOT_HOLDS


def test_a_missing_row_or_value_is_not_measurable():
    first, second = _rows()
    absent = cl.RowRef("E5", (("method", "vae"),), None, missing="E5 has no method vae")
    records = {"a.json": _record(novelty=0.3, novelty_sd_rep=0.02)}
    result = cl.evaluate_line(_ratio_claim(), cl.Line("c", "novelty", first, absent), records)
    assert result.verdict == cl.NOT_MEASURABLE and "E5 has no method vae" in result.notes
    records["b.json"] = _record(diversity=0.4)  # no novelty in the record
    result = cl.evaluate_line(_ratio_claim(), cl.Line("c", "novelty", first, second), records)
    assert result.verdict == cl.NOT_MEASURABLE


def test_matched_on_decides_whether_the_comparison_is_measurable():
    first, second = _rows()
    records = {
        "a.json": _record(composition_kl=0.01, composition_kl_sd_rep=0.002,
                          novelty=0.40, novelty_sd_rep=0.02),
        "b.json": _record(composition_kl=0.10, composition_kl_sd_rep=0.01,
                          novelty=0.41, novelty_sd_rep=0.02),
    }  # fmt: skip
    claim = _ratio_claim(threshold=6.9, matched_on=["novelty"])
    line = cl.Line("c", "composition_kl", second, first)  # VAE's KL / SA's KL = 10
    assert cl.evaluate_line(claim, line, records).verdict == cl.HOLDS
    records["b.json"]["novelty"] = 0.6  # 0.2 apart, SE of the gap 0.014
    result = cl.evaluate_line(claim, line, records)
    assert result.verdict == cl.NOT_MEASURABLE
    assert any("novelty not matched" in note for note in result.notes)


def test_a_law_threshold_is_computed_per_row():
    row = cl.RowRef("E4", (("dataset", "d"), ("method", "sa")), "a.json")
    law = (1 + 0.01 / (2 * 0.113**2)) ** -0.5
    record = _record(alpha=0.01, snr=0.113, max_cosine=law + 0.001, max_cosine_sd_rep=0.002)
    claim = {"figure": "value", "comparison": "matches", "threshold": {"law": "retrieval_max_cos"}}
    result = cl.evaluate_line(claim, cl.Line("c", "max_cosine", row), {"a.json": record})
    assert result.threshold == pytest.approx(law)
    assert result.verdict == cl.HOLDS  # 0.001 within 2 × 0.001


def test_a_claim_holds_when_every_line_holds_at_the_bonferroni_z():
    rows = [cl.RowRef("E14", (("beta", b),), f"{b}.json", "paired") for b in (200, 500, 1000)]
    records = {f"{b}.json": {"novelty_diff": 0.0, "novelty_diff_se": 0.01} for b in (500, 1000)}
    records["200.json"] = {"novelty_diff": 0.021, "novelty_diff_se": 0.01}  # 2.1 SE
    claim = {"figure": "paired_difference", "comparison": "matches", "threshold": 0}
    results = [cl.evaluate_line(claim, cl.Line("c", "novelty", r), records) for r in rows]
    assert [r.verdict for r in results] == [cl.NOT_HOLDS, cl.HOLDS, cl.HOLDS]
    assert cl.claim_verdict(claim, results) == (cl.HOLDS, pytest.approx(cl.claim_z(3)))
    records["200.json"]["novelty_diff"] = 0.03  # 3 SE: beyond z_3 ≈ 2.43
    results = [cl.evaluate_line(claim, cl.Line("c", "novelty", r), records) for r in rows]
    assert cl.claim_verdict(claim, results)[0] == cl.NOT_HOLDS


def test_a_table_row_reads_its_csv_row_and_se():
    table = pd.DataFrame(
        {"series": ["real", "SA (MALA) sequence"], "outside_g": [0.4, 0.02],
         "outside_g_se": [0.007, 0.007]}
    )  # fmt: skip
    row = cl.RowRef("E9_sequence", (("series", "SA (MALA) sequence"),), "t.csv", "table")
    claim = {"figure": "value", "comparison": "at_most", "threshold": 0.01}
    result = cl.evaluate_line(claim, cl.Line("c", "outside_g", row), {"t.csv": table})
    assert (result.estimate.value, result.estimate.se) == (0.02, 0.007)
    assert result.verdict == cl.HOLDS  # 0.02 − 0.014 ≤ 0.01
    assert "white noise" in result.estimate.source


def test_evaluate_and_write(tmp_path):
    first, second = _rows()
    claims = {"c": {"statement": "SA is 2.6× more novel", **_ratio_claim(), "metric": "novelty"}}
    records = {
        "a.json": _record(novelty=0.30, novelty_sd_rep=0.02),
        "b.json": _record(novelty=0.12, novelty_sd_rep=0.004, category="learned", method="vae"),
    }
    lines = [cl.Line("c", "novelty", first, second)]
    summary, details = cl.evaluate(claims, lines, records, refits={"vae": False})
    assert summary.loc[0, "verdict"] == cl.HOLDS
    assert summary.loc[0, "lines (each at 2 SE)"] == "1: 1 hold"
    assert details.loc[0, "estimate"] == pytest.approx(2.5)
    assert "vae: SD from draws of one fit" in details.loc[0, "note"]
    outputs = {s: tmp_path / f"claims.{s}" for s in ("csv", "md", "tex", "html")}
    cl.write(summary, details, outputs, cl.TITLE)
    # a record that says how it was fitted wins over the config: 5 fits → no note; 1 → note
    for fits, noted in ((5, False), (1, True)):
        records["b.json"] |= {"fits": fits, "replicates": 5}
        _, again = cl.evaluate(claims, lines, records, refits={"vae": True})
        assert ("vae: SD from draws of one fit" in str(again.loc[0, "note"])) is noted
    assert pd.read_csv(outputs["csv"])["verdict"].tolist() == [cl.HOLDS]
    markdown = outputs["md"].read_text()
    assert "Verdict rule" in markdown and "2.500 ± 0.093" in markdown
    # a line round-trips through the step's JSON params
    assert cl.Line.from_dict(lines[0].as_dict()) == lines[0]


# ------------------------------------------------------------------- planning, checks


def test_the_smoke_claims_plan_into_lines_with_their_files():
    plan = _plan(_smoke())
    lines = cl.plan_lines(plan)
    assert {line.claim for line in lines} == set(plan.config["claims"])
    novelty = [line for line in lines if line.claim == "sa_more_novel_than_vae"]
    assert [line.first.text() for line in novelty] == [
        "E4 mnist_digit3 sa_generation",
        "E5 mnist_digit1 sa_generation",
        "E5 mnist_digit8 sa_generation",
    ]
    assert novelty[0].second.path.endswith("mnist_digit3/vae.json")
    assert novelty[1].second.path is None  # the smoke E5 has no VAE: not measurable
    paired = [line for line in lines if line.claim == "mala_matches_sa_generation"]
    assert {line.first.path for line in paired} == {
        plan.paired_path("mnist_digit3", "sa_generation", "mala_generation"),
        plan.paired_path("mnist_digit3", "sa_generation__beta_500", "mala_generation__beta_500"),
    }
    ddpm = [line for line in lines if line.claim == "ddpm_is_noise"]
    assert [dict(line.first.key)["n_patterns"] for line in ddpm] == [20, 40]
    assert [line.first.key[2:] == line.second.key[2:] for line in ddpm] == [True, True]
    assert set(cl.input_paths(lines)) <= {*plan.targets(), *_metric_paths(plan)}


def _metric_paths(plan) -> set[str]:
    paths = set()
    for experiment in plan.experiments.values():
        paths |= {plan.metrics_path(r.dataset, r.method) for r in experiment.rows}
        paths |= {plan.paired_path(a.dataset, a.method, b.method) for a, b in experiment.paired}
    paths |= {f"{plan.results}/tables/{n}_fit.csv" for n in plan.experiments}
    return paths


def test_the_plan_targets_the_claims_table_and_the_summary_includes_it():
    plan = _plan(_smoke())
    assert f"{plan.results}/tables/claims.html" in plan.targets()
    assert next(iter(plan.table_markdowns())) == "claims"
    config = _smoke()
    del config["claims"]
    plan = _plan(config)
    assert not any("claims" in path for path in plan.targets())


def _bad(change) -> str:
    config = _smoke()
    change(config)
    with pytest.raises(ConfigError) as error:
        _plan(config)
    return str(error.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c["claims"]["ddpm_is_noise"]["first"].update(experiment="E99"),
         "claims.ddpm_is_noise.first.experiment: unknown experiment 'E99'"),
        (lambda c: c["claims"]["ddpm_is_noise"]["first"].update(method="ddmp"),
         "claims.ddpm_is_noise.first.method: unknown method 'ddmp'"),
        (lambda c: c["claims"]["ddpm_is_noise"].update(metric="max_cos"),
         "claims.ddpm_is_noise.metric: E13's table has no 'max_cos'"),
        (lambda c: c["claims"]["protein_composition_kl"].update(metric="kl"),
         "add it to experiments.E8.columns"),
        (lambda c: c["claims"]["snr_rule_generation"]["second"].update(where={"alpha": 0.01}),
         "E14 does not sweep 'alpha' (swept: beta)"),
        (lambda c: c["claims"]["snr_rule_generation"]["second"].update(where={"beta": 700}),
         "E14 has no row with beta 700 (it has beta: 200, 500)"),
        (lambda c: c["claims"]["mala_matches_sa_retrieval"].update(metric="seq_identity"),
         "paired differences exist for novelty, diversity, energy, max_cosine"),
        (lambda c: c["claims"]["finance_returns_white"]["first"].update(where={"series": "SA"}),
         "E9_sequence has no series 'SA'"),
        (lambda c: c["claims"]["beta_star_sqrt_d"].update(second={"experiment": "E1"}),
         "a value figure reads one row; drop second"),
        (lambda c: c["claims"]["ddpm_is_noise"].update(comparison="greater"),
         "config error at claims.ddpm_is_noise.comparison: 'greater' is not one of"),
        (lambda c: c["claims"]["ddpm_is_noise"].update(treshold=0),
         "'treshold' was unexpected"),
        (lambda c: c["claims"]["ddpm_is_noise"]["first"].update(experiment="E1"),
         "claims cannot read 'E1' (kind temperature_spectrum)"),
        (lambda c: c["experiments"].update(claims=copy.deepcopy(c["experiments"]["E4"])),
         "experiments.claims: the name 'claims' is the claims table's"),
    ],
)  # fmt: skip
def test_a_bad_claim_fails_at_check_time_naming_it(change, message):
    assert message in _bad(change)


def test_rows_that_cannot_be_paired_are_refused():
    def change(config):
        second = {"experiment": "E14", "method": "sa_generation"}
        config["claims"]["ddpm_is_noise"]["second"] = second

    assert "cannot pair rows of first and second" in _bad(change)


def test_critical_law_estimators_are_the_experiments_own_names():
    from stochastic_attention.thermodynamics import critical_law

    block = {"probe_sets": ["patterns", "random"], "sweep": True}
    result = critical_law(
        **experiment_defaults("critical_law", critical_law)
        | dict(dims=[8, 16], load_ratio=0.5, n_probes=4, n_grid=11, n_betas=3, n_steps=60,
               burn_in=20, thin=10),
        seed=np.random.default_rng(0),
    )  # fmt: skip
    assert cl._critical_law_estimators(block) == result.fits["estimator"].tolist()
    assert cl._critical_law_estimators({"probe_sets": ["random"], "sweep": False}) == [
        "steepest (random)", "knee (random)"]  # fmt: skip


def test_the_default_config_carries_every_claim_of_the_paper():
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    lines = cl.plan_lines(_plan(config))
    assert {line.claim for line in lines} >= {
        "sa_more_novel_than_vae", "sa_more_diverse_than_vae", "mala_matches_sa_retrieval",
        "mala_matches_sa_generation", "protein_composition_kl", "ddpm_is_noise",
        "beta_star_sqrt_d", "snr_rule_retrieval", "finance_returns_white",
        "finance_no_volatility_clustering",
    }  # fmt: skip
    assert all(line.first.path for line in lines)  # every row exists in the default config
    assert all(line.second.path for line in lines if line.second is not None)


# ---------------------------------------------------------------------- the smoke run


@pytest.mark.slow
def test_the_smoke_run_writes_the_claims_table(smoke_workdir):
    tables = smoke_workdir / "results/smoke/tables"
    details = pd.read_csv(tables / "claims.csv")
    config = _smoke()
    assert set(details["claim"]) == set(config["claims"])
    assert set(details["verdict"]) <= {cl.HOLDS, cl.NOT_HOLDS, cl.NOT_MEASURABLE}
    novelty = details[details["claim"] == "sa_more_novel_than_vae"]
    e5 = novelty[novelty["rows"].str.startswith("E5")]
    assert (e5["verdict"] == cl.NOT_MEASURABLE).all()  # no VAE in the smoke E5
    measured = details[details["verdict"] != cl.NOT_MEASURABLE]
    assert np.isfinite(measured["estimate"]).all()
    assert "Verdict rule" in (tables / "claims.html").read_text()
    summary = (smoke_workdir / "results/smoke/summary.md").read_text()
    assert summary.index(cl.TITLE) < summary.index("E4")
