"""Metrics against hand-computed examples (SPEC §3)."""

import numpy as np
import pytest

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


def test_summary_rejects_bad_samples():
    memory = np.eye(3)
    with pytest.raises(ValueError, match="shape"):
        metrics.summarise(np.ones((4, 10)), memory, 1.0)
    with pytest.raises(ValueError, match="non-finite"):
        metrics.summarise(np.full((3, 10), np.nan), memory, 1.0)
