"""Metrics against hand-computed examples (SPEC §3)."""

import numpy as np
import pytest
from scipy import stats as scipy_stats

from stochastic_attention import metrics


def test_novelty_and_max_cosine_by_hand():
    memory = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    samples = np.array([[2.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 3.0]])
    np.testing.assert_allclose(metrics.max_cosine(samples, memory), [1, 1 / np.sqrt(2), 0])
    np.testing.assert_allclose(metrics.novelty(samples, memory), [0, 1 - 1 / np.sqrt(2), 1])


def test_diversity_by_hand():
    samples = np.array([[1.0, 0.0, 1.0], [0.0, 5.0, 1.0]])
    expected = (1.0 + 2 * (1 - 1 / np.sqrt(2))) / 3
    assert metrics.diversity(samples) == pytest.approx(expected)
    assert metrics.diversity(np.ones((3, 4))) == pytest.approx(0.0)


def test_grouped_standard_error_by_hand():
    values = np.array([1.0, 3.0, 2.0, 6.0, 0.0, 0.0])
    groups = np.array([0, 0, 1, 1, 2, 2])  # group means 2, 4, 0
    expected = np.std([2.0, 4.0, 0.0], ddof=1) / np.sqrt(3)
    assert metrics.grouped_standard_error(values, groups) == pytest.approx(expected)
    np.testing.assert_array_equal(metrics.consecutive_groups(10), [0] * 5 + [1] * 5)
    with pytest.raises(ValueError, match="groups of 5"):
        metrics.consecutive_groups(7)


def test_summary_of_stored_patterns():
    rng = np.random.default_rng(0)
    memory = rng.standard_normal((20, 10))
    memory /= np.linalg.norm(memory, axis=0)
    samples = memory[:, np.arange(150) % 10]
    summary = metrics.summarise(samples, memory, beta=1e4)
    assert summary.novelty == pytest.approx(0.0, abs=1e-12)
    assert summary.novelty_se == pytest.approx(0.0, abs=1e-12)
    assert summary.energy == pytest.approx(-0.5, abs=1e-3)
    assert summary.max_cosine == pytest.approx(1.0)
    assert summary.fraction_negative_energy == 1.0
    cosines = memory.T @ memory
    pair_mean = np.mean(1 - cosines[np.triu_indices(10, 1)])
    assert 0 < summary.diversity < pair_mean  # repeated patterns lower the diversity
    assert summary.n_samples == 150


def test_within_chain_diversity_by_hand():
    """D_within = mean of each group's D; pooled D also counts pairs across groups."""
    e1, e2, e3 = np.eye(3)
    # group 0: two copies of e1 (D 0); group 1: e2 and e3 (D 1); group 2: e1, e2 (D 1)
    samples = np.stack([e1, e1, e2, e3, e1, e2], axis=1)
    groups = np.array([0, 0, 1, 1, 2, 2])
    np.testing.assert_allclose(metrics.group_diversities(samples, groups), [0.0, 1.0, 1.0])
    assert metrics.diversity_within(samples, groups) == pytest.approx(2 / 3)
    # pooled over the 15 pairs: equal pairs (e1,e1) ×3 and (e2,e2) ×1 give 0, the other 11 give 1
    assert metrics.diversity(samples) == pytest.approx(11 / 15)
    summary = metrics.summarise(samples, np.eye(3), beta=1.0, groups=groups)
    assert summary.diversity_within == pytest.approx(2 / 3)
    expected_se = np.std([0.0, 1.0, 1.0], ddof=1) / np.sqrt(3)
    assert summary.diversity_within_se == pytest.approx(expected_se)
    assert summary.diversity_se == pytest.approx(expected_se)  # the same group values
    assert summary.diversity == pytest.approx(11 / 15)


def test_within_chain_diversity_is_lower_when_chains_sit_in_different_basins():
    """Chains that each stay near their own pattern: D_within ≪ pooled D (the faces gap)."""
    rng = np.random.default_rng(1)
    memory = np.linalg.qr(rng.standard_normal((50, 10)))[0]  # 10 orthonormal patterns
    chains = np.repeat(np.arange(10), 5)
    samples = memory[:, chains] + 0.05 * rng.standard_normal((50, 50))
    summary = metrics.summarise(samples, memory, beta=10.0, groups=chains)
    assert summary.diversity_within < 0.2 * summary.diversity
    # one group holding everything: D_within equals pooled D
    one = metrics.diversity_within(samples, np.zeros(50, dtype=int))
    assert one == pytest.approx(metrics.diversity(samples))


def test_summary_rejects_bad_samples():
    memory = np.eye(3)
    with pytest.raises(ValueError, match="shape"):
        metrics.summarise(np.ones((4, 10)), memory, 1.0)
    with pytest.raises(ValueError, match="non-finite"):
        metrics.summarise(np.full((3, 10), np.nan), memory, 1.0)


# --- paired differences (SPEC §3) --------------------------------------------------------------


def test_paired_difference_by_hand():
    a = np.array([1.0, 3.0, 2.0, 6.0, 0.0, 0.0])  # group means 2, 4, 0
    b = np.array([0.0, 0.0, 1.0, 1.0, 1.0, 0.0])  # group means 0, 1, 0.5
    groups = np.array([0, 0, 1, 1, 2, 2])
    result = metrics.paired_difference(a, b, groups)
    assert result.difference == pytest.approx(2.0 - 0.5)
    assert result.se == pytest.approx(np.std([2.0, 3.0, -0.5], ddof=1) / np.sqrt(3))
    assert result.n_groups == 3
    # B grouped differently (consecutive triples vs chain ids 7, 8): paired by sorted id
    other = metrics.paired_difference(
        np.array([1.0, 1.0, 5.0, 5.0]),
        np.array([0.0, 0.0, 0.0, 2.0, 2.0, 2.0]),
        np.array([7, 7, 8, 8]),
        groups_b=np.array([0, 0, 0, 1, 1, 1]),
    )
    assert other.difference == pytest.approx(3.0 - 1.0)
    assert other.se == pytest.approx(np.std([1.0, 3.0], ddof=1) / np.sqrt(2))
    with pytest.raises(ValueError, match="differ in number"):
        metrics.paired_difference(a, b, groups, groups_b=np.array([0, 0, 0, 1, 1, 1]))


def test_paired_difference_removes_shared_start_effects():
    # 30 groups whose values share a large start effect: the paired SE sees only the noise.
    rng = np.random.default_rng(0)
    start = np.repeat(rng.normal(0.0, 1.0, 30), 5)
    groups = np.repeat(np.arange(30), 5)
    a = start + 0.2 + rng.normal(0.0, 0.01, 150)
    b = start + rng.normal(0.0, 0.01, 150)
    paired = metrics.paired_difference(a, b, groups)
    unpaired = np.hypot(
        metrics.grouped_standard_error(a, groups), metrics.grouped_standard_error(b, groups)
    )
    assert paired.difference == pytest.approx(0.2, abs=0.01)
    assert paired.se < unpaired / 20


def test_paired_diversity_difference_by_hand():
    e1, e2, e3 = np.eye(3)
    a = np.stack([e1, e2, e1, e1], axis=1)  # group 0 diversity 1, group 1 diversity 0
    b = np.stack([e1, e1, e2, e3], axis=1)  # group 0 diversity 0, group 1 diversity 1
    groups = np.array([0, 0, 1, 1])
    result = metrics.paired_diversity_difference(a, b, groups)
    assert result.difference == pytest.approx(metrics.diversity(a) - metrics.diversity(b))
    assert result.difference == pytest.approx(3 / 6 - 5 / 6)
    assert result.se == pytest.approx(np.std([1.0, -1.0], ddof=1) / np.sqrt(2))
    same = metrics.paired_diversity_difference(a, a, groups)
    assert same.difference == 0.0 and same.se == 0.0


# --- replicate spread ------------------------------------------------------------------------


def _summary(novelty: float, diversity: float) -> metrics.SummaryMetrics:
    return metrics.SummaryMetrics(
        n_samples=150,
        novelty=novelty,
        novelty_se=0.01,
        diversity=diversity,
        diversity_se=0.02,
        diversity_within=diversity / 2,
        diversity_within_se=0.02,
        energy=-0.4,
        energy_se=0.001,
        max_cosine=1 - novelty,
        max_cosine_se=0.01,
        fraction_negative_energy=1.0,
        beta=200.0,
    )


def test_replicate_spread_by_hand():
    runs = [_summary(0.1, 0.5), _summary(0.2, 0.7), _summary(0.3, 0.3)]
    spread = metrics.replicate_spread(runs)
    assert spread["n_replicates"] == 3
    assert spread["novelty"] == pytest.approx(0.2)
    assert spread["novelty_replicate_sd"] == pytest.approx(0.1)
    assert spread["diversity"] == pytest.approx(0.5)
    assert spread["diversity_replicate_sd"] == pytest.approx(0.2)
    assert spread["max_cosine"] == pytest.approx(0.8)
    assert spread["energy_replicate_sd"] == pytest.approx(0.0, abs=1e-15)
    fields = {f for f in runs[0].as_dict()}
    assert fields <= set(spread) and {f"{f}_replicate_sd" for f in fields} <= set(spread)
    assert spread == metrics.replicate_spread([r.as_dict() for r in runs])
    single = metrics.replicate_spread(runs[:1])
    assert single["novelty"] == 0.1 and np.isnan(single["novelty_replicate_sd"])
    with pytest.raises(ValueError, match="at least one"):
        metrics.replicate_spread([])


# --- Fréchet distance of diagonal Gaussians ----------------------------------------------------


def test_frechet_diagonal_gaussians_formula():
    mean_a, sd_a = np.array([0.0, 1.0, -2.0]), np.array([1.0, 2.0, 0.5])
    mean_b, sd_b = np.array([1.0, 1.0, 0.0]), np.array([3.0, 2.0, 1.0])
    expected = (1 + 0 + 4) + (4 + 0 + 0.25)
    value = metrics.frechet_diagonal_gaussians(mean_a, sd_a**2, mean_b, sd_b**2)
    assert value == pytest.approx(expected)
    # In 1-D it is the squared 2-Wasserstein distance: ∫ (F_a⁻¹(u) − F_b⁻¹(u))² du.
    u = (np.arange(200_000) + 0.5) / 200_000
    q = scipy_stats.norm.ppf(u)
    w2 = np.mean(((mean_a[0] + sd_a[0] * q) - (mean_b[0] + sd_b[0] * q)) ** 2)
    assert w2 == pytest.approx(
        metrics.frechet_diagonal_gaussians(mean_a[:1], sd_a[:1] ** 2, mean_b[:1], sd_b[:1] ** 2),
        rel=1e-4,
    )


def test_frechet_diagonal_matches_the_analytic_value_for_large_samples():
    rng = np.random.default_rng(0)
    mean_a, sd_a = np.array([0.0, 1.0, -2.0]), np.array([1.0, 2.0, 0.5])
    mean_b, sd_b = np.array([1.0, 1.0, 0.0]), np.array([3.0, 2.0, 1.0])
    a = mean_a[:, None] + sd_a[:, None] * rng.standard_normal((3, 200_000))
    b = mean_b[:, None] + sd_b[:, None] * rng.standard_normal((3, 100_000))
    assert metrics.frechet_diagonal(a, b) == pytest.approx(9.25, rel=0.01)
    assert metrics.frechet_diagonal(a, a) == 0.0
    small = rng.standard_normal((2, 3))
    by_hand = np.sum((small.mean(1) - a[:2].mean(1)) ** 2) + np.sum(
        (small.std(1, ddof=1) - a[:2].std(1, ddof=1)) ** 2
    )
    assert metrics.frechet_diagonal(small, a[:2]) == pytest.approx(by_hand)
    with pytest.raises(ValueError, match="same d"):
        metrics.frechet_diagonal(a, b[:2])


# --- chain diagnostics (ArviZ) -----------------------------------------------------------------


def test_chain_diagnostics_iid_chains():
    values = np.random.default_rng(0).standard_normal((4, 1000))
    result = metrics.chain_diagnostics(values)
    assert result["rhat"] == pytest.approx(1.0, abs=0.01)
    assert 0.85 * 4000 < result["ess"] < 1.15 * 4000


def test_chain_diagnostics_autocorrelated_chains():
    # AR(1) with φ = 0.9: integrated autocorrelation time (1 + φ)/(1 − φ) = 19.
    rng = np.random.default_rng(1)
    phi, n = 0.9, 20_000
    noise = rng.standard_normal((4, n)) * np.sqrt(1 - phi**2)
    values = np.empty((4, n))
    values[:, 0] = rng.standard_normal(4)
    for t in range(1, n):
        values[:, t] = phi * values[:, t - 1] + noise[:, t]
    result = metrics.chain_diagnostics(values)
    assert 0.75 * 4 * n / 19 < result["ess"] < 1.25 * 4 * n / 19
    assert result["rhat"] == pytest.approx(1.0, abs=0.02)


def test_chain_diagnostics_separated_chains():
    values = np.random.default_rng(2).standard_normal((4, 500)) + np.arange(4)[:, None] * 3.0
    result = metrics.chain_diagnostics(values)
    assert result["rhat"] > 2.0
    assert result["ess"] < 100
    with pytest.raises(ValueError, match="C ≥ 2"):
        metrics.chain_diagnostics(values[:1])
