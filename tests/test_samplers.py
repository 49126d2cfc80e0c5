"""Samplers against the Boltzmann target on systems small enough to integrate on a grid.

Every statistical test uses many independent chains in one matrix and keeps only the final
state of each chain, so the samples are i.i.d. and the KS / χ² p-values are exact for the
sampler's law. Seeds are fixed; thresholds are stated next to each test.
"""

import numpy as np
import pytest
from scipy import stats

from stochastic_attention import energy as en
from stochastic_attention import samplers

MEMORY_1D = np.array([[-1.0, 0.4, 1.0]])  # d = 1, K = 3 patterns
BETA_1D = 4.0


def grid_cdf_1d(memory: np.ndarray, beta: float):
    """CDF of p_β on a fine grid (trapezoid integration of exp(−βE))."""
    grid = np.linspace(-5, 5, 20001)
    log_density = -beta * en.energy(memory, grid[None, :], beta)
    density = np.exp(log_density - log_density.max())
    cumulative = np.concatenate([[0], np.cumsum(0.5 * (density[1:] + density[:-1]))])
    cumulative /= cumulative[-1]
    return lambda x: np.interp(x, grid, cumulative), grid, density / np.trapezoid(density, grid)


def final_states(memory, kernel, alpha, beta, n_chains, n_steps, seed, start=None):
    rng = np.random.default_rng(seed)
    d = memory.shape[0]
    initial = rng.standard_normal((d, n_chains)) if start is None else start
    run = samplers.run_chains(
        memory, initial, kernel=kernel, beta=beta, alpha=alpha, rng=rng, record_steps=[n_steps]
    )
    return run.records[0], run


def test_mala_at_large_step_hits_the_1d_target():
    cdf, *_ = grid_cdf_1d(MEMORY_1D, BETA_1D)
    states, run = final_states(MEMORY_1D, "mala", 0.5, BETA_1D, 4000, 400, seed=1)
    result = stats.kstest(states[0], cdf)
    assert result.pvalue > 0.01, result  # exact sampler: fails 1 % of seeds by chance
    assert 0.3 < run.acceptance.mean() < 0.99


def test_ula_at_small_step_hits_the_1d_target():
    cdf, *_ = grid_cdf_1d(MEMORY_1D, BETA_1D)
    states, _ = final_states(MEMORY_1D, "sa", 0.01, BETA_1D, 4000, 2000, seed=2)
    result = stats.kstest(states[0], cdf)
    assert result.pvalue > 0.01, result


def test_ula_bias_is_visible_at_large_step_and_shrinks_with_alpha():
    """ULA's stationary law is off by O(α): KS rejects at α = 0.5 and the distance shrinks.

    Measured KS distances with 40 000 chains: 0.029 (α 0.5), 0.011 (α 0.2), 0.005 (α 0.05);
    the sampling noise of the distance is ≈ 0.004.
    """
    cdf, *_ = grid_cdf_1d(MEMORY_1D, BETA_1D)
    results = [
        stats.kstest(
            final_states(MEMORY_1D, "sa", alpha, BETA_1D, 40000, n_steps, seed=3)[0][0], cdf
        )
        for alpha, n_steps in ((0.5, 200), (0.2, 400), (0.05, 1500))
    ]
    assert results[0].pvalue < 1e-6  # the check can fail: a biased sampler is caught
    assert results[0].statistic > results[1].statistic > results[2].statistic
    assert results[2].pvalue > 0.001


def test_mala_and_ula_hit_a_2d_target_chi_square():
    """d = 2, K = 3 patterns on the unit circle: χ² on 6×6 bins over the bulk of the mass."""
    angles = np.array([0.0, 2.2, 4.0])
    memory = np.stack([np.cos(angles), np.sin(angles)])
    beta = 3.0
    axis = np.linspace(-4, 4, 801)
    xx, yy = np.meshgrid(axis, axis, indexing="ij")
    points = np.stack([xx.ravel(), yy.ravel()])
    weight = np.exp(-beta * en.energy(memory, points, beta)).reshape(xx.shape)
    weight /= weight.sum()
    edges = np.linspace(-2.4, 2.4, 7)
    inner = (axis[:-1] + axis[1:]) / 2  # weight per cell, binned by cell centre
    cell = weight[:-1, :-1] + weight[1:, :-1] + weight[:-1, 1:] + weight[1:, 1:]
    cell /= cell.sum()
    centres_x, centres_y = np.meshgrid(inner, inner, indexing="ij")
    expected_mass, _, _ = np.histogram2d(
        centres_x.ravel(),
        centres_y.ravel(),
        bins=[np.r_[-np.inf, edges[1:-1], np.inf]] * 2,
        weights=cell.ravel(),
    )
    for kernel, alpha, n_steps in (("mala", 0.4, 400), ("sa", 0.01, 2000)):
        states, _ = final_states(memory, kernel, alpha, beta, 6000, n_steps, seed=4)
        observed, _, _ = np.histogram2d(
            states[0], states[1], bins=[np.r_[-np.inf, edges[1:-1], np.inf]] * 2
        )
        expected = expected_mass * states.shape[1]
        result = stats.chisquare(observed.ravel(), expected.ravel())
        assert result.pvalue > 0.001, (kernel, result)


def test_reduced_ula_has_the_law_of_the_literal_update():
    """The span/orthogonal split is exact: both paths give the same stationary moments."""
    rng = np.random.default_rng(5)
    memory = rng.standard_normal((12, 3))
    memory /= np.linalg.norm(memory, axis=0)
    alpha, beta, n_chains = 0.05, 6.0, 3000
    start = np.repeat(memory[:, :1], n_chains, axis=1)
    outcomes = {}
    for reduce in (True, False):
        run = samplers.run_chains(
            memory,
            start,
            kernel="sa",
            beta=beta,
            alpha=alpha,
            rng=np.random.default_rng(6),
            record_steps=[300, 600],
            reduce=reduce,
        )
        outcomes[reduce] = run.records
    basis = np.linalg.qr(memory)[0]
    # orthogonal part: exact stationary variance of the AR(1) per coordinate, 9 coordinates
    variance = (2 * alpha / beta) / (1 - (1 - alpha) ** 2)
    for records in outcomes.values():
        orthogonal = records[-1] - basis @ (basis.T @ records[-1])
        norms = np.sum(orthogonal**2, axis=0)
        assert np.mean(norms) == pytest.approx(9 * variance, rel=0.05)
        # consecutive records 300 steps apart: the AR(1) correlation (1−α)^300 ≈ 0
    energies = {k: en.energy(memory, v[-1], beta) for k, v in outcomes.items()}
    result = stats.ks_2samp(energies[True], energies[False])
    assert result.pvalue > 0.001, result


def test_mala_acceptance_at_alpha_001_on_mnist_sized_memory():
    rng = np.random.default_rng(7)
    memory = rng.standard_normal((784, 100))
    memory /= np.linalg.norm(memory, axis=0)
    sample_set = samplers.multi_chain(
        memory,
        kernel="mala",
        beta=2000,
        alpha=0.01,
        rng=rng,
        n_chains=10,
        n_steps=400,
        burn_in=200,
        thin=100,
        keep=2,
        init_noise=0.01,
    )
    assert sample_set.overall_acceptance >= 0.97
    assert sample_set.acceptance.shape == (10,)


def test_retrieval_regime_follows_the_sanity_law():
    """Noise part ‖·‖² ≈ d/β, so max-cos ≈ (1 + d/β)^(−1/2) at β = 2000, d = 784."""
    rng = np.random.default_rng(8)
    memory = rng.standard_normal((784, 100))
    memory /= np.linalg.norm(memory, axis=0)
    sample_set = samplers.multi_chain(
        memory,
        kernel="sa",
        beta=2000,
        alpha=0.01,
        rng=rng,
        n_chains=30,
        n_steps=1500,
        burn_in=1000,
        thin=100,
        keep=5,
        init_noise=0.01,
    )
    cosines = memory.T @ (sample_set.samples / np.linalg.norm(sample_set.samples, axis=0))
    assert np.mean(cosines.max(axis=0)) == pytest.approx((1 + 784 / 2000) ** -0.5, abs=0.01)
    # each chain stays in the basin of the pattern it started from
    np.testing.assert_array_equal(
        np.argmax(cosines, axis=0), np.repeat(sample_set.start_patterns, 5)
    )


def test_protocol_shapes_and_positions():
    assert list(samplers.evenly_spaced_positions(30, 5) + 1) == [1, 8, 16, 23, 30]
    memory = np.eye(6)[:, :4]
    rng = np.random.default_rng(9)
    multi = samplers.multi_chain(
        memory,
        kernel="sa",
        beta=5,
        alpha=0.1,
        rng=rng,
        n_chains=4,
        n_steps=500,
        burn_in=200,
        thin=10,
        keep=5,
        init_noise=0.01,
    )
    assert multi.samples.shape == (6, 20)
    assert sorted(multi.start_patterns) == [0, 1, 2, 3]  # without replacement
    assert list(multi.steps[:5]) == [210, 280, 360, 430, 500]
    np.testing.assert_array_equal(multi.chain_ids, np.repeat(np.arange(4), 5))
    single = samplers.single_chain(
        memory, kernel="mala", beta=5, alpha=0.1, rng=rng, n_steps=1000, burn_in=200, thin=100,
        start_pattern=0, init_noise=0.01,
    )
    assert single.samples.shape == (6, 8) and single.acceptance.shape == (1,)
    sequence = samplers.warm_start_sequence(
        memory, beta=5, alpha=0.1, rng=rng, n_days=7, inner_steps=20
    )
    assert sequence.samples.shape == (6, 7)
    assert list(sequence.steps) == [20 * t for t in range(1, 8)]


def test_per_chain_beta_vector():
    memory = np.eye(4)[:, :2]
    betas = np.array([0.5, 5000.0])
    run = samplers.run_chains(
        memory,
        memory,
        kernel="sa",
        beta=betas,
        alpha=0.05,
        rng=np.random.default_rng(0),
        record_steps=[500],
    )
    cosines = memory.T @ (run.records[0] / np.linalg.norm(run.records[0], axis=0))
    assert cosines.max(axis=0)[1] > 0.99  # cold chain retrieves its pattern
    assert cosines.max(axis=0)[0] < 0.9  # hot chain wanders


@pytest.mark.parametrize("kernel", ["sa", "mala"])
def test_same_seed_same_numbers(kernel):
    memory = np.random.default_rng(0).standard_normal((30, 8))
    runs = [
        samplers.multi_chain(
            memory,
            kernel=kernel,
            beta=10,
            alpha=0.05,
            rng=np.random.default_rng(42),
            n_chains=6,
            n_steps=300,
            burn_in=100,
            thin=20,
            keep=5,
            init_noise=0.01,
        )
        for _ in range(2)
    ]
    np.testing.assert_array_equal(runs[0].samples, runs[1].samples)
    other = samplers.multi_chain(
        memory,
        kernel=kernel,
        beta=10,
        alpha=0.05,
        rng=np.random.default_rng(43),
        n_chains=6,
        n_steps=300,
        burn_in=100,
        thin=20,
        keep=5,
        init_noise=0.01,
    )
    assert not np.array_equal(runs[0].samples, other.samples)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"alpha": 0.0}, "alpha"),
        ({"alpha": 1.0}, "alpha"),
        ({"beta": 0.0}, "beta"),
        ({"beta": np.nan}, "beta"),
        ({"kernel": "hmc"}, "kernel"),
    ],
)
def test_invalid_parameters_are_rejected(kwargs, message):
    arguments = {"kernel": "sa", "beta": 1.0, "alpha": 0.1} | kwargs
    with pytest.raises(ValueError, match=message):
        samplers.run_chains(
            np.eye(3), np.eye(3), rng=np.random.default_rng(0), record_steps=[5], **arguments
        )


def test_non_finite_or_misshaped_input_is_rejected():
    with pytest.raises(ValueError, match="non-finite"):
        samplers.run_chains(
            np.eye(3),
            np.full((3, 2), np.nan),
            kernel="sa",
            beta=1,
            alpha=0.1,
            rng=np.random.default_rng(0),
            record_steps=[5],
        )
    with pytest.raises(ValueError, match="shape"):
        samplers.run_chains(
            np.eye(3),
            np.ones((4, 2)),
            kernel="sa",
            beta=1,
            alpha=0.1,
            rng=np.random.default_rng(0),
            record_steps=[5],
        )


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_diverging_chain_names_chain_step_alpha_and_beta():
    memory = np.array([[1e200, 0.0], [0.0, 1.0]])
    states = np.array([[0.0, 1e200], [1.0, 0.0]])
    with pytest.raises(samplers.SamplerDivergedError, match=r"chain 1 .*step 1 .*alpha=0.1"):
        samplers.run_chains(
            memory,
            states,
            kernel="sa",
            beta=2.0,
            alpha=0.1,
            rng=np.random.default_rng(0),
            record_steps=[5],
        )


def test_span_mala_step_is_the_literal_step_on_matched_draws():
    """ξ = Q y + c u + ρ v: with e, g, χ² read off the literal noise, one span step gives the
    literal step's log ratio, decision, energy and ‖z*‖ (the derivation, checked exactly)."""
    rng = np.random.default_rng(11)
    d, n_chains, beta, alpha = 9, 6, 4.0, 0.2
    memory = rng.standard_normal((d, 3))
    basis, reduced = en.span_basis(memory)
    complement = np.linalg.svd(memory, full_matrices=True)[0][:, 3:]  # (d, 6)
    u = complement @ rng.standard_normal((6, n_chains))
    v = complement @ rng.standard_normal((6, n_chains))
    u /= np.linalg.norm(u, axis=0)
    v -= u * np.sum(u * v, axis=0)
    v /= np.linalg.norm(v, axis=0)
    span = reduced[:, [0, 1, 2, 0, 1, 2]] + 0.3 * rng.standard_normal((3, n_chains))
    along, across = 0.4 * rng.random(n_chains), 0.4 * rng.random(n_chains)
    states = basis @ span + u * along + v * across
    noise, log_uniform = rng.standard_normal((d, n_chains)), np.log(rng.random(n_chains))
    orthogonal_noise = noise - basis @ (basis.T @ noise)
    e, g = np.sum(orthogonal_noise * u, axis=0), np.sum(orthogonal_noise * v, axis=0)
    chi_square = np.sum((orthogonal_noise - u * e - v * g) ** 2, axis=0)
    literal, literal_info = samplers.mala_step(
        memory, samplers.mala_init(memory, states, beta, alpha), noise, log_uniform, beta, alpha
    )
    memory_in_frame = samplers.frame_memory(reduced)
    frame = np.vstack([span, along])
    state = samplers.mala_span_init(memory_in_frame, frame, beta, alpha, across)
    np.testing.assert_allclose(
        samplers.span_state_energy(state, beta, alpha), en.energy(memory, states, beta)
    )
    frame_noise = np.vstack([basis.T @ noise, e])
    new, info = samplers.mala_span_step(
        memory_in_frame, state, frame_noise, g, chi_square, log_uniform, beta, alpha
    )
    assert 0 < info.accepted.sum() < n_chains  # both branches of the selection ran
    np.testing.assert_allclose(info.log_ratio, literal_info.log_ratio, rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(info.accepted, literal_info.accepted)
    np.testing.assert_allclose(basis @ new.frame[:-1], basis @ (basis.T @ literal.states))
    z_sq = new.frame[-1] ** 2 + new.across**2
    literal_z = literal.states - basis @ (basis.T @ literal.states)
    np.testing.assert_allclose(z_sq, np.sum(literal_z**2, axis=0), rtol=1e-10)
    np.testing.assert_allclose(
        samplers.span_state_energy(new, beta, alpha), literal.energy, rtol=1e-10
    )


def _span_versus_literal_pvalues(seed: int = 12) -> dict[str, float]:
    """d 8, K 2 (complement m = 6), β 2, α 0.3, 4000 independent chains recorded at steps 20
    and 25: two-sample p-values of span-reduced against literal MALA for the acceptance,
    the energy, ‖ξ‖, ‖z‖ and the inner product ⟨z₂₀, z₂₅⟩ of successive snapshots."""
    rng = np.random.default_rng(seed)
    memory = rng.standard_normal((8, 2))
    memory /= np.linalg.norm(memory, axis=0)
    basis, _ = en.span_basis(memory)
    start = memory[:, rng.integers(2, size=4000)] + 0.5 * rng.standard_normal((8, 4000))
    runs = {
        reduce: samplers.run_chains(
            memory,
            start,
            kernel="mala",
            beta=2.0,
            alpha=0.3,
            rng=np.random.default_rng(seed + int(reduce)),
            record_steps=[20, 25],
            reduce=reduce,
        )
        for reduce in (True, False)
    }
    values = {}
    for reduce, run in runs.items():
        last = run.records[-1]
        z = run.records - basis @ (basis.T @ run.records)
        values[reduce] = {
            "energy": en.energy(memory, last, 2.0),
            "norm": np.linalg.norm(last, axis=0),
            "z_norm": np.linalg.norm(z[-1], axis=0),
            "z_inner": np.sum(z[0] * z[1], axis=0),
        }
    pvalues = {
        name: stats.ks_2samp(values[True][name], values[False][name]).pvalue
        for name in values[True]
    }
    rates = [run.acceptance for run in runs.values()]  # per chain, 25 Bernoulli each
    se = np.sqrt(rates[0].var() / rates[0].size + rates[1].var() / rates[1].size)
    pvalues["acceptance"] = 2 * stats.norm.sf(abs(rates[0].mean() - rates[1].mean()) / se)
    return pvalues


def test_span_mala_has_the_law_of_the_literal_mala():
    pvalues = _span_versus_literal_pvalues()
    assert min(pvalues.values()) > 0.001, pvalues


@pytest.mark.parametrize("n_patterns", [3, 4], ids=["m2", "m1"])
def test_span_mala_keeps_the_law_when_the_complement_is_one_or_two_dimensional(n_patterns):
    """d 5 with K 4 (no room for the lazy direction v: ρ stays 0) or K 3 (no χ² part)."""
    rng = np.random.default_rng(3)
    memory = rng.standard_normal((5, n_patterns))
    memory /= np.linalg.norm(memory, axis=0)
    start = memory[:, rng.integers(n_patterns, size=4000)] + 0.5 * rng.standard_normal((5, 4000))
    values, rates = {}, {}
    for reduce in (True, False):
        run = samplers.run_chains(
            memory, start, kernel="mala", beta=2.0, alpha=0.3,
            rng=np.random.default_rng(7 + reduce), record_steps=[20, 25], reduce=reduce,
        )  # fmt: skip
        values[reduce] = (
            en.energy(memory, run.records[-1], 2.0),
            np.sum(run.records[0] * run.records[1], axis=0),
        )
        rates[reduce] = run.acceptance  # per chain; a stray ρ shows here first
    for span, literal in zip(values[True], values[False], strict=True):
        assert stats.ks_2samp(span, literal).pvalue > 0.001
    se = np.sqrt(rates[True].var() / rates[True].size + rates[False].var() / 4000)
    assert abs(rates[True].mean() - rates[False].mean()) < 3.5 * se


@pytest.mark.parametrize(
    "broken",
    [
        # the ½ρ² energy term of the lazy part dropped from the log ratio
        ("_lazy_coefficient", lambda beta, alpha: 0.25 * alpha * beta - 0.5 * beta),
        # one degree of freedom too many in the rest of the orthogonal noise
        ("_chi_square_dof", lambda m: m - 1),
    ],
    ids=["no-z-energy", "chi2-dof"],
)
def test_span_mala_comparison_detects_a_wrong_term(monkeypatch, broken):
    """The comparison above is sharp enough to catch each of these mistakes."""
    monkeypatch.setattr(samplers, *broken)
    pvalues = _span_versus_literal_pvalues()
    assert min(pvalues.values()) < 1e-4, pvalues


def test_span_mala_comparison_detects_a_wrong_lazy_direction(monkeypatch):
    """v drawn without excluding u (not uniform on the right sphere): ⟨z₂₀, z₂₅⟩ is off."""
    original = samplers._Engine._uniform_directions
    monkeypatch.setattr(
        samplers._Engine,
        "_uniform_directions",
        lambda self, basis, exclude=None: original(self, basis),
    )
    pvalues = _span_versus_literal_pvalues()
    assert pvalues["z_inner"] < 1e-4 or pvalues["z_norm"] < 1e-4, pvalues


@pytest.mark.parametrize("kernel", ["sa", "mala"])
def test_float32_runs_in_float32_and_hits_the_1d_target(kernel):
    cdf, *_ = grid_cdf_1d(MEMORY_1D, BETA_1D)
    rng = np.random.default_rng(13)
    run = samplers.run_chains(
        MEMORY_1D,
        rng.standard_normal((1, 4000)),
        kernel=kernel,
        beta=BETA_1D,
        alpha=0.01 if kernel == "sa" else 0.5,
        rng=rng,
        record_steps=[2000 if kernel == "sa" else 400],
        dtype=np.float32,
    )
    assert run.records.dtype == np.float32
    assert stats.kstest(run.records[0, 0].astype(float), cdf).pvalue > 0.01


def test_shared_start_gives_common_random_numbers():
    memory = np.random.default_rng(0).standard_normal((30, 8))
    start = samplers.draw_starts(memory, 6, 0.01, np.random.default_rng(1))
    protocol = {
        "beta": 10,
        "alpha": 0.05,
        "n_chains": 6,
        "n_steps": 300,
        "burn_in": 100,
        "thin": 20,
        "keep": 5,
        "init_noise": 0.01,
    }
    default = samplers.multi_chain(memory, kernel="sa", rng=np.random.default_rng(1), **protocol)
    sa = samplers.multi_chain(
        memory, kernel="sa", rng=np.random.default_rng(1), start=start, **protocol
    )
    mala = samplers.multi_chain(
        memory, kernel="mala", rng=np.random.default_rng(2), start=start, **protocol
    )
    np.testing.assert_array_equal(sa.start_patterns, start[0])
    np.testing.assert_array_equal(mala.start_patterns, start[0])
    assert sa.samples.shape == default.samples.shape
    np.testing.assert_array_equal(default.start_patterns, start[0])  # default draw is the same


def test_batched_run_matches_per_memory_law_and_shapes():
    rng = np.random.default_rng(14)
    memories = rng.standard_normal((2, 6, 3))
    run = samplers.run_chains(
        memories,
        memories[:, :, [0, 1]],
        kernel="mala",
        beta=np.array([2.0, 3.0]),
        alpha=0.1,
        rng=rng,
        record_steps=[5, 10],
    )
    assert run.records.shape == (2, 2, 6, 2) and run.acceptance.shape == (2, 2)
