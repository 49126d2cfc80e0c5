"""Synthetic experiments E1–E3 and the critical-temperature law, at reduced sizes.

Sizes are stated per test; the whole file runs in well under a minute on one thread.
Thresholds come from measurements quoted next to them.
"""

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import stochastic_attention.steps.thermodynamics  # noqa: F401  (registers the steps)
from stochastic_attention import cli
from stochastic_attention import energy as en
from stochastic_attention import thermodynamics as th
from stochastic_attention.domains.synthetic import random_memory
from workflow_utils import experiment_defaults


@pytest.fixture
def run_step():
    """``cli.run_step`` (it imports only the step module it needs)."""
    return cli.run_step


# ------------------------------------------------------------------------------ domain


def test_random_memory_is_seeded_and_unit_norm():
    first, again = random_memory(32, 5, 1), random_memory(32, 5, 1)
    assert first.shape == (32, 5)
    np.testing.assert_allclose(np.linalg.norm(first, axis=0), 1.0)
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, random_memory(32, 5, 2))
    with pytest.raises(ValueError, match="n_patterns"):
        random_memory(4, 0, 1)


# ------------------------------------------------------------------------- exact law


def test_exact_energy_law_matches_iid_draws_from_the_gaussian_mixture():
    """d 8, K 4, β 5: quadrature (32⁴ grid) against 100 000 i.i.d. exact draws.

    The draws are independent, so the KS p-value is exact (fails 0.1 % of seeds by chance).
    """
    memory = random_memory(8, 4, 3)
    exact = th.exact_energy_distribution(memory, 5.0, grid_points=32)
    assert exact is not None and exact.rank == 4
    samples = th.exact_samples(memory, 5.0, 100_000, np.random.default_rng(4))
    energies = en.energy(memory, samples, 5.0)
    assert stats.kstest(energies, exact.cdf_at).pvalue > 0.001
    se = energies.std() / np.sqrt(energies.size)
    assert abs(energies.mean() - exact.mean) < 4 * se
    assert energies.var() == pytest.approx(exact.variance, rel=0.02)
    norms = np.linalg.norm(samples, axis=0)
    assert norms.mean() == pytest.approx(exact.norm_mean, abs=0.005)
    assert norms.var() == pytest.approx(exact.norm_variance, rel=0.03)


def test_exact_energy_law_is_skipped_when_the_span_is_too_large():
    assert th.exact_energy_distribution(random_memory(64, 16, 0), 5.0) is None


# ---------------------------------------------------------------------------------- E1


def test_e1_spectrum_runs_all_betas_in_one_batch_and_follows_the_retrieval_law():
    """d 32, K 8, 9 β in [1e-2, 1e3], T 2000, burn-in 500."""
    result = th.temperature_spectrum(
        **experiment_defaults("temperature_spectrum", th.temperature_spectrum)
        | {"d": 32, "n_patterns": 8, "n_betas": 9, "n_steps": 2000, "burn_in": 500},
        seed=1,
    )
    table = result.table
    assert len(table) == 9 and (table["n_snapshots"] == 15).all()
    assert table["entropy_ratio_mean"].iloc[0] > 0.95  # uniform attention at β = 0.01
    assert table["entropy_ratio_mean"].iloc[-1] < 0.01  # one pattern at β = 1000
    # retrieval regime: max-cos ≈ (1 + d/β)^(−½) (measured within 0.001 at β = 1000, seeds 0–2)
    assert table["max_cos_mean"].iloc[-1] == pytest.approx(
        table["max_cos_sanity_law"].iloc[-1], abs=0.03
    )
    low, high = result.band
    assert low < result.critical.beta_star < high


# ---------------------------------------------------------------------------------- E2

E2_REDUCED = {
    **experiment_defaults("convergence", th.convergence),
    "n_steps": 6000,
    "burn_in": 1000,
    "reference_chains": 4,
    "reference_steps": 10_000,
    "reference_burn_in": 2000,
    "exact_grid_points": 32,
}


def test_e2_ks_is_small_for_ula_and_large_for_a_wrong_beta():
    """d 8, K 4, β 5, ULA α 0.01: 8 chains × T 6000 (burn-in 1000) against 4 MALA chains
    × T 10 000 (burn-in 2000).

    Measured over seeds 0–7: KS(ULA, reference) 0.013–0.035; the same chains at β = 10
    (mis-set by 2×, energies still evaluated at β = 5) give 0.47–0.50. Thresholds: < 0.08
    and > 0.3, so the check catches a wrong sampler.
    """
    good = th.convergence(seed=5, **E2_REDUCED)
    wrong = th.convergence(seed=5, sampler_beta=10.0, **E2_REDUCED)
    good_row = good.table.set_index("sample_set").loc["ula_pooled"]
    wrong_row = wrong.table.set_index("sample_set").loc["ula_pooled"]
    assert good_row["ks_vs_reference"] < 0.08
    assert good_row["ks_vs_exact"] < 0.08
    assert wrong_row["ks_vs_reference"] > 0.3
    assert wrong_row["ks_vs_exact"] > 0.3
    assert abs(good_row["energy_mean_diff"]) < 0.05 < abs(wrong_row["energy_mean_diff"])
    assert 0.8 < good.reference_acceptance < 1.0
    # random starts (E ≈ 4 for ‖ξ‖² ≈ 8) are far from equilibrium in the first window
    assert good.trace["ks_vs_reference"].iloc[0] > 0.3
    assert set(good.table["sample_set"]) >= {"ula_chain0", "ula_pooled", "reference", "exact"}


# ---------------------------------------------------------------------------------- E3


@pytest.mark.parametrize("load_ratio", [0.5, 2.0])  # K < d (span reduction) and K ≥ d
def test_batched_datasets_kernel_samples_the_target(load_ratio):
    """d 4, K 2 or 8, β 3, two datasets × 3000 independent chains, final state after 1500
    steps at α 0.02: KS of the energies against the exact law per dataset (i.i.d. samples,
    p-value exact up to ULA's O(α) bias, which is below this sample size's resolution)."""
    d, beta = 4, 3.0
    rng = np.random.default_rng(11)
    memories = np.stack([random_memory(d, round(load_ratio * d), rng) for _ in range(2)])
    initial = rng.standard_normal((2, d, 3000))
    records = th._ula_datasets(memories, initial, np.full(3000, beta), 0.02, rng, np.array([1500]))
    for b in range(2):
        exact = th.exact_energy_distribution(memories[b], beta, grid_points=40)
        energies = en.energy(memories[b], records[0, b], beta)
        assert stats.kstest(energies, exact.cdf_at).pvalue > 0.001


E3_REDUCED = {
    **experiment_defaults("phase_diagram", th.load_ratio_cell),
    "d": 16,
    "beta_min": 1e-3,
    "beta_max": 100.0,
    "n_betas": 10,
    "n_datasets": 3,
    "n_steps": 2000,
    "burn_in": 500,
    "thin": 50,
}


@pytest.mark.parametrize("load_ratio", [0.25, 1.0, 2.0])
def test_e3_cell_is_monotone_in_beta_and_vanishes_as_beta_goes_to_zero(load_ratio):
    """d 16 (K 4, 16, 32), 10 β in [1e-3, 100], 3 datasets, T 2000, burn-in 500.

    Mean C over datasets could dip by sampling noise between neighbouring β; measured over
    seeds 0–3 it never does (smallest step +0.0003). The tolerance for a dip is 0.03.
    """
    cell = th.load_ratio_cell(load_ratio, seed=3, **E3_REDUCED)
    assert len(cell) == 30
    curve = cell.groupby("beta")["concentration_mean"].mean().to_numpy()
    assert np.all(np.diff(curve) > -0.03), curve
    assert curve[0] < 0.01  # β = 1e-3: attention is uniform
    assert curve[-1] > 0.9  # β = 100: one pattern


def test_e3_batching_modes_agree_and_seeds_reproduce():
    """The batched-datasets kernel and the per-dataset run_chains loop sample the same law:
    mean C per β agree within 0.1 (same memories and starts, different noise; measured
    largest gaps 0.027–0.052 over seeds 0–3, at the transition). Same seed, same table."""
    kwargs = E3_REDUCED | {"n_datasets": 4}
    batched = th.load_ratio_cell(0.5, seed=8, **kwargs | {"batching": "datasets"})
    looped = th.load_ratio_cell(0.5, seed=8, **kwargs | {"batching": "loop"})
    a = batched.groupby("beta")["concentration_mean"].mean()
    b = looped.groupby("beta")["concentration_mean"].mean()
    assert np.max(np.abs(a - b)) < 0.1
    pd.testing.assert_frame_equal(batched, th.load_ratio_cell(0.5, seed=8, **kwargs))  # default
    with pytest.raises(ValueError, match="batching"):
        th.load_ratio_cell(0.5, **kwargs | {"batching": "stack"})


def test_phase_diagram_averages_datasets_and_finds_the_contour():
    cells = pd.DataFrame(
        {
            "load_ratio": 0.5,
            "n_patterns": 8,
            "d": 16,
            "dataset": [0, 0, 0, 1, 1, 1],
            "beta": [1.0, 10.0, 100.0] * 2,
            "snr": 0.0,
            "concentration_mean": [0.1, 0.4, 0.9, 0.1, 0.6, 0.9],
            "max_cos_mean": 0.5,
        }
    )
    table, contour = th.phase_diagram(cells, level=0.5)
    np.testing.assert_allclose(table["concentration"], [0.1, 0.5, 0.9])
    assert contour["beta_at_level"].iloc[0] == pytest.approx(10.0)


# ------------------------------------------------------------------------- critical law


def test_fit_power_law_recovers_sqrt_d():
    dims = np.array([16, 64, 256, 1024])
    fit = th.fit_power_law(dims, 0.7 * np.sqrt(dims))
    assert fit["c_sqrt"] == pytest.approx(0.7)
    assert fit["exponent"] == pytest.approx(0.5)
    assert fit["exponent_se"] == pytest.approx(0.0, abs=1e-9)


def test_transition_beta_interpolates_in_log_beta():
    betas = np.array([1.0, 10.0, 100.0])
    assert th.transition_beta(betas, np.array([1.0, 0.75, 0.25])) == pytest.approx(np.sqrt(1000))
    assert np.isnan(th.transition_beta(betas, np.array([1.0, 0.9, 0.8])))


def test_critical_beta_grows_with_d():
    """d ∈ {16, 64, 256}, K/d 0.25, 64 probes; sweeps 15 β in [0.1, 100], T 1500, burn-in 500.

    Measured (seed 2): every estimator increases with d; β*(patterns) ≈ log K + 0.5 and
    β*(random probes)/√d grows like √(log K).
    """
    reduced = dict(dims=(16, 64, 256), n_probes=64, n_grid=81, beta_min=0.1, beta_max=100.0,
                   n_betas=15, n_steps=1500, burn_in=500)  # fmt: skip
    result = th.critical_law(**experiment_defaults("critical_law", th.critical_law) | reduced,
                             seed=2)  # fmt: skip
    wide = result.table.pivot(index="d", columns="estimator", values="beta")
    for name in ("steepest (patterns)", "knee (patterns)", "steepest (random)", "knee (random)"):
        assert np.all(np.diff(wide[name].to_numpy()) > 0), (name, wide[name])
    assert wide["empirical"].iloc[-1] > wide["empirical"].iloc[0]
    fits = result.fits.set_index("estimator")
    assert fits.loc["steepest (patterns)", "exponent"] < 0.4  # slower than √d
    assert fits.loc["steepest (random)", "exponent"] > 0.5  # √d times a growing factor
    headline, details = th.law_verdict(result.fits, 0.25)
    assert "does not hold" in headline and "log K" in details


# -------------------------------------------------------------------------------- steps


def test_e1_step_writes_exactly_its_outputs_and_rejects_unknown_params(run_step, tmp_path):
    outputs = {
        name: tmp_path / f"E1.{ext}"
        for name, ext in (("table", "csv"), ("markdown", "md"), ("latex", "tex"), ("figure", "png"))
    }
    params = experiment_defaults("temperature_spectrum", th.temperature_spectrum)
    params |= {"d": 16, "n_patterns": 4, "n_betas": 5, "n_steps": 400, "burn_in": 100}
    record = run_step("temperature-spectrum", params, {}, outputs, seed=1)
    assert pd.read_csv(outputs["table"]).shape[0] == 5
    assert outputs["markdown"].read_text().startswith("# E1")
    latex = outputs["latex"].read_text()
    assert latex.startswith("% E1") and latex.count("\\begin{tabular}") == 1
    assert "max\\_cos\\_mean" in latex and "max_cos" not in latex
    assert outputs["figure"].read_bytes()[:4] == b"\x89PNG"
    assert json.loads((tmp_path / "E1.csv.provenance.json").read_text())["seed"] == 1
    assert record["beta_star"] > 0
    with pytest.raises(ValueError, match="'n_beta'"):
        run_step("temperature-spectrum", {"n_beta": 5}, {}, outputs, seed=1)


def test_e3_steps_roundtrip(run_step, tmp_path):
    params = experiment_defaults("phase_diagram", th.load_ratio_cell)
    params |= {"d": 8, "n_betas": 4, "n_datasets": 2, "n_steps": 300, "burn_in": 100, "thin": 50}
    inputs = {}
    for i, ratio in enumerate((0.5, 1.0)):
        inputs[f"cell{i}"] = tmp_path / f"cell_{ratio}.csv"
        cell = {"cell": inputs[f"cell{i}"]}
        run_step("phase-diagram-cell", params | {"load_ratio": ratio}, {}, cell, 4)
    outputs = {"table": tmp_path / "E3.csv", "figure": tmp_path / "E3.png"}
    aggregate = params | {"load_ratios": [0.5, 1.0], "contour_level": 0.5}
    run_step("phase-diagram", aggregate, inputs, outputs, seed=4)
    table = pd.read_csv(outputs["table"])
    assert sorted(table["load_ratio"].unique()) == [0.5, 1.0] and len(table) == 8
    with pytest.raises(ValueError, match="load ratios"):
        run_step("phase-diagram", {"load_ratios": [0.5, 2.0]}, inputs, outputs, seed=4)
