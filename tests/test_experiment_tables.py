"""Comparison tables: pooled and within-chain D side by side, β* with its criterion and both
values, the protein decodings, and the definitions printed above the tables."""

from __future__ import annotations

import math

import pandas as pd

from stochastic_attention.report import experiment_tables


def _record(method: str, **extra) -> dict:
    record = {
        "dataset": "protein_rrm", "method": method, "category": "sampler", "beta": 9.5,
        "snr": 0.03, "energy_beta": 9.5, "n_samples": 300, "replicates": 2,
        "novelty": 0.6, "novelty_se": 0.01, "novelty_sd_rep": 0.002,
        "diversity": 0.99, "diversity_se": 0.007, "diversity_sd_rep": 0.001,
        "diversity_within": 0.42, "diversity_within_se": 0.007, "diversity_within_sd_rep": 0.01,
        "energy": -0.1, "energy_se": 0.005, "energy_sd_rep": 0.006,
        "max_cosine": 0.4, "max_cosine_se": 0.01, "max_cosine_sd_rep": 0.002,
    }
    return record | extra


def _params(columns: list[str]) -> dict:
    rows = [{"dataset": "protein_rrm", "method": "sa", "_method": "sa"},
            {"dataset": "protein_rrm", "method": "vae", "_method": "vae"}]
    return {"experiment": "E8", "rows": rows, "columns": columns, "paired": [],
            "labels": {"sa": "SA (2β*)"}}


def test_within_chain_diversity_stands_beside_pooled_diversity():
    table, _ = experiment_tables.build(_params([]), [_record("sa"), _record("vae")], [])
    columns = list(table.columns)
    assert columns.index("diversity_within") == columns.index("diversity_sd_rep") + 1
    assert table["diversity_within"].tolist() == [0.42, 0.42]
    assert {"diversity_within_se", "diversity_within_sd_rep"} <= set(columns)


def test_beta_star_brings_its_criterion_and_both_values():
    records = [
        _record("sa", beta_star=3.9, beta_criterion="knee", beta_star_inflection=4.74,
                beta_star_knee=3.9),
        _record("vae"),  # no critical β: empty cells
    ]
    table, _ = experiment_tables.build(_params(["seq_identity", "beta_star"]), records, [])
    columns = list(table.columns)
    start = columns.index("beta_star")
    assert columns[start:start + 4] == experiment_tables.BETA_STAR
    assert table.loc[0, "beta_criterion"] == "knee"
    assert (table.loc[0, "beta_star_inflection"], table.loc[0, "beta_star_knee"]) == (4.74, 3.9)
    assert math.isnan(table.loc[1, "beta_star_knee"])


def test_paired_table_has_the_within_chain_difference_when_recorded():
    params = _params([]) | {"paired": [{"first": {"dataset": "protein_rrm", "method": "sa",
                                                  "_method": "sa"},
                                        "second": {"dataset": "protein_rrm", "method": "vae",
                                                   "_method": "vae"}}]}
    pair = {f"{key}_diff{suffix}": 0.1 for key in ("novelty", "diversity", "energy",
                                                    "max_cosine") for suffix in ("", "_se")}
    _, paired = experiment_tables.build(params, [_record("sa"), _record("vae")], [pair])
    assert math.isnan(paired.loc[0, "diversity_within"])  # an older paired record
    pair |= {"diversity_within_diff": -0.004, "diversity_within_diff_se": 0.0038}
    _, paired = experiment_tables.build(params, [_record("sa"), _record("vae")], [pair])
    assert paired.loc[0, "diversity_within"] == -0.004


def test_notes_name_the_definitions_used(tmp_path):
    records = [_record("sa", beta_criterion="knee", decoding="reference"), _record("vae")]
    notes = experiment_tables.notes(records)
    assert any("D_within" in line for line in notes)
    assert any("β* criterion: knee" in line for line in notes)
    decoding = next(line for line in notes if "decoding" in line)
    assert "decoding reference in the unsuffixed columns" in decoding
    assert "suffixed _scaled" in decoding and "floor" in decoding
    assert len(experiment_tables.notes([_record("sa")])) == 1  # only the D note
    outputs = {key: tmp_path / f"E8.{key}" for key in ("csv", "md", "tex", "html")}
    table, paired = experiment_tables.build(_params([]), records, [])
    experiment_tables.write({"experiment": "E8"}, table, paired, outputs, notes)
    markdown = outputs["md"].read_text()
    assert markdown.index("β* criterion: knee") < markdown.index("| dataset |")
    assert "D_within (within-chain)" in markdown
    assert pd.read_csv(outputs["csv"]).shape == table.shape  # the CSV holds only the table
