"""Principal-direction projections, PCA-space SA, multi-head SA and basin visits.

Sampling runs through the pipeline's own entry points: the common start draw of the sample
step (``steps.core.start_draw``) and the method plug-ins of ``methods.chains``; a
``pca_rank`` dataset is the memory ``pca_projection`` returns, sampled like any memory.
"""

import numpy as np
import pytest

from stochastic_attention import energy as en
from stochastic_attention import samplers
from stochastic_attention.basins import basin_summary, basin_visits, run_lengths
from stochastic_attention.domains.base import Memory
from stochastic_attention.methods.base import MethodSamples, RunContext, StartDraw, get_method
from stochastic_attention.methods.chains import start_draw
from stochastic_attention.metrics import max_cosine
from stochastic_attention.multihead import (
    combine_heads,
    head_memories,
    multihead_run,
    split_states,
)
from stochastic_attention.transforms import centred_pca_projection, full_rank, pca_projection
from workflow_utils import method_defaults


def unit_memory(d=40, k=12, seed=0):
    memory = np.random.default_rng(seed).standard_normal((d, k)) + 0.5
    return memory / np.linalg.norm(memory, axis=0)


PROTOCOL = {"kind": "multi_chain", "n_chains": 6, "n_steps": 300, "burn_in": 100, "thin": 20,
            "keep": 5, "init_noise": 0.01}  # fmt: skip


def starts(memory: np.ndarray, seed: int, **protocol) -> StartDraw:
    """The sample step's common start draw of one replicate."""
    return start_draw(memory, "multi_chain", PROTOCOL | protocol, [seed])


def run_method(kind: str, memory: np.ndarray, start: StartDraw, seed: int, **spec) -> MethodSamples:
    """One method plug-in of ``methods.chains`` on ``memory``, as the sample step runs it."""
    protocol = PROTOCOL | spec.pop("protocol", {})
    spec = {"kind": kind, "alpha": 0.02, "beta": 50.0, "protocol": "multi_chain",
            "protocol_params": protocol, **method_defaults(kind)} | spec  # fmt: skip
    context = RunContext(rng=np.random.default_rng(seed), seed=seed, start=start)
    return get_method(kind).run(Memory(memory, {"domain": "synthetic"}), spec, context)


# --------------------------------------------------------------------------- projections


def test_basis_is_orthonormal_and_reduced_is_the_projection():
    memory = unit_memory()
    reduced, basis = pca_projection(memory, 5)
    assert basis.shape == (40, 5) and reduced.shape == (5, 12)
    np.testing.assert_allclose(basis.T @ basis, np.eye(5), atol=1e-12)
    np.testing.assert_allclose(reduced, basis.T @ memory, atol=1e-12)
    # deterministic signs: the largest-magnitude entry of every direction is positive
    assert np.all(basis[np.argmax(np.abs(basis), axis=0), np.arange(5)] > 0)


@pytest.mark.parametrize("beta", [0.5, 20.0, 2000.0])
def test_full_rank_projection_reproduces_energy_and_attention(beta):
    memory = unit_memory()
    rank = full_rank(memory)
    assert rank == 12
    reduced, basis = pca_projection(memory)
    states = np.random.default_rng(1).standard_normal((40, 7))
    inside = basis @ (basis.T @ states)
    outside = states - inside
    # a state in the span: identical energy and attention
    np.testing.assert_allclose(
        en.energy(reduced, basis.T @ states, beta), en.energy(memory, inside, beta), atol=1e-12
    )
    # any state: identical attention; energy differs by exactly ½‖(I − P)ξ‖²
    np.testing.assert_allclose(
        en.attention(reduced, basis.T @ states, beta),
        en.attention(memory, states, beta),
        atol=1e-12,
    )
    np.testing.assert_allclose(
        en.energy(reduced, basis.T @ states, beta) + 0.5 * np.sum(outside**2, axis=0),
        en.energy(memory, states, beta),
        atol=1e-12,
    )
    np.testing.assert_allclose(basis @ reduced, memory, atol=1e-12)  # back to pixels


def test_lower_rank_moves_logits_within_the_documented_bound():
    memory = unit_memory()
    singular = np.linalg.svd(memory, compute_uv=False)
    states = np.random.default_rng(2).standard_normal((40, 50))
    beta = 30.0
    for rank in (3, 6, 11):
        reduced, basis = pca_projection(memory, rank)
        outside = np.linalg.norm(states - basis @ (basis.T @ states), axis=0)
        shift = np.abs(memory.T @ states - reduced.T @ (basis.T @ states)).max(axis=0)
        assert np.all(shift <= singular[rank] * outside + 1e-12)
        gap = (
            en.energy(memory, states, beta)
            - en.energy(reduced, basis.T @ states, beta)
            - 0.5 * outside**2
        )
        assert np.all(np.abs(gap) <= singular[rank] * outside + 1e-12)
        assert np.max(np.abs(gap)) > 1e-3  # below the rank the projection really changes E
        # the wells become shallower: reduced patterns are shorter than unit length, so the
        # energy at a pattern is ≤ −½‖P x_k‖² and nowhere below −½ max‖P x_k‖² − log K / β
        captured = np.sum(reduced**2, axis=0)
        assert np.all(captured < 1.0) and np.all(captured > 0.0)
        at_patterns = en.energy(reduced, reduced, beta)
        assert np.all(at_patterns <= -0.5 * captured + 1e-12)
        floor = -0.5 * captured.max() - np.log(12) / beta
        probes = np.hstack([reduced, 1.5 * np.random.default_rng(3).standard_normal((rank, 500))])
        assert en.energy(reduced, probes, beta).min() >= floor
        assert floor > -0.5 - np.log(12) / beta


def test_centred_projection_round_trip():
    memory = unit_memory()
    reduced, basis, mean = centred_pca_projection(memory)
    assert basis.shape == (40, 11)  # K − 1 directions carry variance
    np.testing.assert_allclose(mean, memory.mean(axis=1))
    np.testing.assert_allclose(mean[:, None] + basis @ reduced, memory, atol=1e-12)
    np.testing.assert_allclose(reduced.sum(axis=1), 0.0, atol=1e-12)  # centred coordinates


def test_rank_errors_name_the_limit():
    memory = unit_memory()
    with pytest.raises(ValueError, match=r"1\.\.12"):
        pca_projection(memory, 13)
    with pytest.raises(ValueError, match=r"1\.\.11"):
        centred_pca_projection(memory, 12)
    with pytest.raises(ValueError, match="integer"):
        pca_projection(memory, 2.5)


def test_pca_space_sa_at_full_rank_matches_full_space_sa_in_law():
    """The pipeline's pca_rank path: SA on ``pca_projection``'s memory from the same seeds.

    Same start patterns (the start draw picks patterns before noise); max-cos of the lifted
    samples ≈ (1 + r/β)^(-1/2) against (1 + d/β)^(-1/2) in the full space.
    """
    memory = unit_memory(d=200, k=10, seed=3)
    beta = 400.0
    full = run_method("sa", memory, starts(memory, 5), 5, beta=beta, alpha=0.05)
    reduced, basis = pca_projection(memory)
    projected = run_method("sa", reduced, starts(reduced, 5), 5, beta=beta, alpha=0.05)
    np.testing.assert_array_equal(
        full.arrays["start_patterns"], projected.arrays["start_patterns"]
    )
    lifted = basis @ projected.samples
    assert projected.samples.shape == (10, 30) and lifted.shape == (200, 30)
    assert "acceptance" not in projected.arrays
    cos_full = np.mean(max_cosine(full.samples, memory))
    cos_projected = np.mean(max_cosine(lifted, memory))
    assert cos_full == pytest.approx((1 + 200 / beta) ** -0.5, abs=0.02)
    assert cos_projected == pytest.approx((1 + 10 / beta) ** -0.5, abs=0.01)
    # lifted samples lie in the span of the memory
    np.testing.assert_allclose(basis @ (basis.T @ lifted), lifted, atol=1e-10)


# ----------------------------------------------------------------------------- multi-head


def test_heads_are_orthogonal_contiguous_pieces_of_the_whole():
    memory = unit_memory()
    split = head_memories(memory, 4)
    assert split.ranks == (3, 3, 3, 2)
    reduced, basis, _ = centred_pca_projection(memory)
    np.testing.assert_allclose(np.hstack([h.basis for h in split.heads]), basis, atol=1e-12)
    np.testing.assert_allclose(np.vstack([h.memory for h in split.heads]), reduced, atol=1e-12)
    for i, first in enumerate(split.heads):
        for j, second in enumerate(split.heads):
            expected = np.eye(first.basis.shape[1]) if i == j else 0.0
            np.testing.assert_allclose(first.basis.T @ second.basis, expected, atol=1e-12)
    # coordinates split and sum back: the memory is rebuilt exactly
    np.testing.assert_allclose(
        combine_heads(split_states(memory, split), split), memory, atol=1e-12
    )
    # variance decreases from head to head
    variances = [np.sum(h.memory**2) for h in split.heads]
    assert variances == sorted(variances, reverse=True)


def test_head_errors():
    memory = unit_memory()
    with pytest.raises(ValueError, match="exceeds the 11 principal directions"):
        head_memories(memory, 12)
    with pytest.raises(ValueError, match="positive integer"):
        head_memories(memory, 0)


def _one_head_and_centred_sa(kernel: str, seed: int) -> tuple[MethodSamples, MethodSamples]:
    """``multihead_sa`` with one head, and ``kernel`` on the centred projection from the
    head's own start ``Bᵀ(ξ₀ − m)``, lifted back to the pixels."""
    memory = unit_memory()
    start = starts(memory, seed)
    heads = run_method("multihead_sa", memory, start, seed, n_heads=1, head_kernel=kernel)
    reduced, basis, mean = centred_pca_projection(memory)
    centred = basis.T @ (start.initial_states - mean[:, None])
    plain = run_method(kernel, reduced, StartDraw(start.start_patterns, centred), seed)
    lifted = MethodSamples(mean[:, None] + basis @ plain.samples, plain.groups, plain.arrays)
    return heads, lifted


def test_one_head_equals_sa_on_the_centred_subspace():
    heads, plain = _one_head_and_centred_sa("sa", 7)
    np.testing.assert_allclose(heads.samples, plain.samples, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(heads.groups, plain.groups)
    for key in ("start_patterns", "chains", "steps"):
        np.testing.assert_array_equal(heads.arrays[key], plain.arrays[key])


def test_one_head_mala_equals_mala_on_the_centred_subspace():
    heads, plain = _one_head_and_centred_sa("mala", 8)
    np.testing.assert_allclose(heads.samples, plain.samples, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(heads.arrays["acceptance"], plain.arrays["acceptance"])
    assert 0 < heads.arrays["acceptance"].mean() < 1


def test_multihead_starts_share_full_space_draws_and_sum_to_the_pattern():
    memory = unit_memory()
    split = head_memories(memory, 3)
    start = starts(memory, 9)
    full = run_method("sa", memory, start, 9)
    heads = run_method("multihead_sa", memory, start, 9, n_heads=3)
    np.testing.assert_array_equal(heads.arrays["start_patterns"], full.arrays["start_patterns"])
    # before any step, the summed head coordinates of a stored pattern are the pattern
    patterns = memory[:, heads.arrays["start_patterns"]]
    np.testing.assert_allclose(
        combine_heads(split_states(patterns, split), split), patterns, atol=1e-12
    )
    assert heads.samples.shape == (40, 30)
    assert "acceptance" not in heads.arrays


def test_each_head_retrieves_a_pattern_of_its_own_at_low_temperature():
    """At large β each head's coordinates sit on some stored pattern's coordinates in that head.

    The heads choose independently (a head's own logits decide), so the summed sample can
    combine the head coordinates of different patterns; here they do for some chains.
    """
    memory = unit_memory(d=60, k=8, seed=4)
    split = head_memories(memory, 2)
    run = run_method(
        "multihead_sa", memory, starts(memory, 3, n_chains=8), 3, n_heads=2, beta=1e5,
        alpha=0.05, protocol={"n_chains": 8},
    )  # fmt: skip
    chosen = []
    for head, coordinates in zip(split.heads, split_states(run.samples, split), strict=True):
        distances = np.linalg.norm(coordinates[:, :, None] - head.memory[:, None, :], axis=0)
        assert np.all(distances.min(axis=1) < 0.02)
        chosen.append(distances.argmin(axis=1))
    assert np.any(chosen[0] != chosen[1])


# ---------------------------------------------------------------------------------- basins


def test_basin_visits_and_summary():
    memory = np.eye(4)
    path = [0, 0, 0, 2, 2, 0, 1, 1, 1, 1]
    states = memory[:, path] * 2.0 + 0.01
    nearest, cosine = basin_visits(states, memory)
    np.testing.assert_array_equal(nearest, path)
    assert np.all(cosine > 0.99)
    summary = basin_summary(nearest, step=100)
    assert summary.n_distinct == 3
    assert summary.n_switches == 3
    assert summary.mean_dwell == pytest.approx(250.0)  # runs 3, 2, 1, 4 records
    assert summary.max_dwell == 400.0 and summary.final_dwell_censored == 400.0
    assert summary.fraction_unassigned == 0.0


def test_basin_threshold_marks_far_states():
    memory = np.eye(3)
    states = np.array([[1.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 1.0, 1.0]])
    nearest, cosine = basin_visits(states, memory, threshold=0.9)
    np.testing.assert_array_equal(nearest, [0, -1, 2])
    np.testing.assert_allclose(cosine, [1.0, 1 / np.sqrt(3), 1.0])
    summary = basin_summary(nearest)
    assert summary.n_distinct == 2 and summary.n_switches == 2
    assert summary.fraction_unassigned == pytest.approx(1 / 3)


def test_run_lengths():
    labels, lengths = run_lengths(np.array([5, 5, 1, 5]))
    np.testing.assert_array_equal(labels, [5, 1, 5])
    np.testing.assert_array_equal(lengths, [2, 1, 1])


def test_multihead_run_takes_a_common_start_draw():
    """multihead_run (what ``multihead_sa`` runs) accepts given starts, like run_chains."""
    memory = unit_memory()
    rng = np.random.default_rng(11)
    _, initial = samplers.draw_starts(memory, 4, 0.01, rng)
    steps = [10, 20, 30]
    run = multihead_run(
        memory,
        initial,
        n_heads=2,
        kernel="mala",
        beta=50.0,
        alpha=0.02,
        rng=np.random.default_rng(1),
        record_steps=steps,
        rank=None,
    )
    assert run.records.shape == (3, 40, 4)
    np.testing.assert_array_equal(run.record_steps, steps)
    assert run.acceptance.shape == (4,) and np.all((run.acceptance > 0) & (run.acceptance <= 1))
    with pytest.raises(ValueError, match=r"\(40, C\)"):
        multihead_run(
            memory, initial[:5], n_heads=2, beta=50.0, alpha=0.02, rng=rng, record_steps=steps,
            kernel="sa", rank=None,
        )  # fmt: skip
