"""Identities and golden values of the energy module (SPEC §1)."""

import numpy as np
import pytest

from stochastic_attention import energy as en


def random_memory(d: int, k: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    memory = rng.standard_normal((d, k))
    return memory / np.linalg.norm(memory, axis=0)


def test_stored_unit_pattern_has_energy_minus_half_at_large_beta():
    memory = random_memory(64, 16)
    values = en.energy(memory, memory, beta=1e4)
    np.testing.assert_allclose(values, -0.5, atol=1e-3)


def test_gradient_matches_finite_differences():
    memory = random_memory(8, 5, seed=1)
    rng = np.random.default_rng(2)
    states = 0.5 * rng.standard_normal((8, 3))
    beta, step = 3.0, 1e-6
    analytic = en.gradient(memory, states, beta)
    numeric = np.empty_like(states)
    for i in range(8):
        bump = np.zeros((8, 1))
        bump[i] = step
        numeric[i] = (
            en.energy(memory, states + bump, beta) - en.energy(memory, states - bump, beta)
        ) / (2 * step)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


def test_entropy_slope_matches_finite_differences():
    memory = random_memory(16, 6, seed=3)
    states = memory[:, :4] + 0.2 * np.random.default_rng(4).standard_normal((16, 4))
    for beta in (0.5, 5.0, 40.0):
        step = 1e-5 * beta
        numeric = (
            en.attention_entropy(memory, states, beta + step)
            - en.attention_entropy(memory, states, beta - step)
        ) / (2 * step)
        np.testing.assert_allclose(
            en.entropy_slope(memory, states, beta), numeric, rtol=1e-5, atol=1e-9
        )


def test_attention_sums_to_one_and_retrieval_is_weighted_memory():
    memory = random_memory(10, 4)
    states = np.random.default_rng(5).standard_normal((10, 7))
    weights = en.attention(memory, states, 2.0)
    np.testing.assert_allclose(weights.sum(axis=0), 1.0)
    np.testing.assert_allclose(en.retrieval(memory, states, 2.0), memory @ weights)
    np.testing.assert_allclose(en.gradient(memory, states, 2.0), states - memory @ weights)


def test_entropy_limits_and_concentration():
    memory = random_memory(32, 8)
    tiny = en.attention_entropy(memory, memory, 1e-8)
    np.testing.assert_allclose(tiny, np.log(8), rtol=1e-6)
    np.testing.assert_allclose(en.concentration(memory, memory, 1e-8), 0.0, atol=1e-6)
    np.testing.assert_allclose(en.concentration(memory, memory, 1e5), 1.0, atol=1e-6)


def test_single_state_gives_scalar_shapes():
    memory = random_memory(6, 3)
    assert np.ndim(en.energy(memory, memory[:, 0], 2.0)) == 0
    assert en.attention(memory, memory[:, 0], 2.0).shape == (3,)
    assert en.gradient(memory, memory[:, 0], 2.0).shape == (6,)


@pytest.mark.parametrize("beta", [1e-3, 1.0, 1e3, 1e5])
def test_numerically_safe_for_large_beta_and_far_states(beta):
    memory = random_memory(20, 10)
    far = 1e4 * np.random.default_rng(6).standard_normal((20, 5))
    for states in (memory, far, -far):
        values = en.energy(memory, states, beta)
        assert np.all(np.isfinite(values))
        assert np.all(np.isfinite(en.attention_entropy(memory, states, beta)))
        assert np.all(np.isfinite(en.entropy_slope(memory, states, beta)))
        assert np.all(np.isfinite(en.gradient(memory, states, beta)))
    # far from the memory the log-sum-exp is dominated by the best logit
    expected = 0.5 * np.sum(far**2, axis=0) - (memory.T @ far).max(axis=0)
    np.testing.assert_allclose(en.energy(memory, far, 1e5), expected, rtol=1e-9)


@pytest.mark.parametrize("beta", [1.0, 2000.0, 1e5])
def test_attention_parts_match_scipy_for_logits_spread_far_below_the_top(beta):
    """The exp floor (−600) changes nothing a float64 sum or product can see: weights and
    log-sum-exp agree with SciPy's to rounding, even with most logits thousands below the
    top; a floor near the top (say −6) would fail here."""
    from scipy import special

    similarities = np.random.default_rng(5).uniform(-1.0, 1.0, (200, 7))
    weights, lse = en.attention_parts(similarities, beta)
    scaled = beta * similarities
    np.testing.assert_allclose(weights, special.softmax(scaled, axis=0), rtol=1e-12, atol=1e-250)
    np.testing.assert_allclose(lse, special.logsumexp(scaled, axis=0), rtol=1e-14)
    np.testing.assert_allclose(weights.sum(axis=0), 1.0, rtol=1e-14)


def test_snr_round_trip_and_regularity():
    assert en.snr(0.01, 2000, 784) == pytest.approx(0.1129, abs=1e-4)
    assert en.beta_from_snr(en.snr(0.01, 2000, 784), 0.01, 784) == pytest.approx(2000)
    memory = random_memory(16, 4)
    sigma = np.linalg.svd(memory, compute_uv=False)[0]
    assert en.spectral_norm(memory) == pytest.approx(sigma)
    assert en.lipschitz_constant(memory, 3.0) == pytest.approx(1 + 3 * sigma**2 / 2)
    assert en.is_convex(memory, 1.9 / sigma**2)
    assert not en.is_convex(memory, 2.1 / sigma**2)


@pytest.mark.parametrize("beta", [0.0, -1.0, np.nan, np.inf])
def test_invalid_beta_is_rejected(beta):
    with pytest.raises(ValueError, match="beta"):
        en.energy(random_memory(4, 2), np.zeros(4), beta)


def test_shape_mismatch_is_rejected():
    with pytest.raises(ValueError, match="dimension"):
        en.energy(random_memory(4, 2), np.zeros((5, 1)), 1.0)


def test_critical_beta_is_the_steepest_entropy_loss():
    memory = random_memory(64, 16, seed=7)
    result = en.critical_beta(memory)
    # the refined β* beats every grid point and sits between its grid neighbours
    refined = np.mean(-en.entropy_slope(memory, memory, result.beta_star))
    assert refined >= result.mean_slope_magnitude.max() - 1e-12
    best = np.argmax(result.mean_slope_magnitude)
    assert result.betas[best - 1] <= result.beta_star <= result.betas[best + 1]
    # for random patterns the transition sits at a few times sqrt(d), not orders away
    assert 0.3 * result.sqrt_d < result.beta_star < 30 * result.sqrt_d
    assert 0.1 * result.beta_star < result.beta_knee < 10 * result.beta_star
    # entropy falls through the transition
    assert result.mean_entropy[0] > result.mean_entropy[-1]
    assert result.snr_star(0.01, 64) == pytest.approx(en.snr(0.01, result.beta_star, 64))


def test_critical_beta_by_criterion():
    result = en.critical_beta(random_memory(64, 16, seed=7))
    assert en.CRITERIA == ("inflection", "knee")
    assert result.by_criterion() == result.beta_star
    assert result.by_criterion("knee") == result.beta_knee
    # the knee of H against log β comes before the steepest loss in β (H bends first)
    assert result.beta_knee < result.beta_star
    with pytest.raises(ValueError, match="unknown β\\* criterion"):
        result.by_criterion("steepest")
