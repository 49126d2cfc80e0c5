"""Sample-quality metrics of SPEC §3, on the raw states (never re-normalised).

``samples`` has shape ``(d, S)`` (one sample per column), ``memory`` ``(d, K)``.
Standard errors come from groups of samples: the chain each sample came from for chain
samplers, consecutive groups of 5 otherwise; ``SE = std(group values, ddof=1) / sqrt(G)``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .energy import energy

__all__ = [
    "SummaryMetrics",
    "consecutive_groups",
    "cosine_matrix",
    "diversity",
    "diversity_standard_error",
    "grouped_standard_error",
    "max_cosine",
    "novelty",
    "summarise",
]


def _unit_columns(values: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(values, axis=0)
    if np.any(norms == 0):
        raise ValueError("cosine similarity is undefined for a zero vector")
    return values / norms


def cosine_matrix(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Cosines between the columns of ``first`` (d, m) and ``second`` (d, n): (m, n)."""
    return _unit_columns(first).T @ _unit_columns(second)


def max_cosine(samples: np.ndarray, memory: np.ndarray) -> np.ndarray:
    """``max_k cos(ξ̂, x_k)`` per sample: (S,)."""
    return cosine_matrix(samples, memory).max(axis=1)


def novelty(samples: np.ndarray, memory: np.ndarray) -> np.ndarray:
    """``N = 1 − max_k cos(ξ̂, x_k)`` per sample: (S,)."""
    return 1.0 - max_cosine(samples, memory)


def diversity(samples: np.ndarray) -> float:
    """``D = mean over pairs i < j of (1 − cos(ξ̂_i, ξ̂_j))``."""
    n = samples.shape[1]
    if n < 2:
        raise ValueError("diversity needs at least two samples")
    cosines = cosine_matrix(samples, samples)
    upper = np.triu_indices(n, k=1)
    return float(np.mean(1.0 - cosines[upper]))


def consecutive_groups(n_samples: int, group_size: int = 5) -> np.ndarray:
    """Group ids 0,0,0,0,0,1,… for samples that do not come from chains: (S,)."""
    if n_samples % group_size:
        raise ValueError(f"{n_samples} samples do not split into groups of {group_size}")
    return np.arange(n_samples) // group_size


def _group_ids(groups: np.ndarray) -> list[np.ndarray]:
    groups = np.asarray(groups)
    ids = [np.flatnonzero(groups == g) for g in np.unique(groups)]
    if len(ids) < 2:
        raise ValueError("a standard error needs at least two groups")
    return ids


def grouped_standard_error(values: np.ndarray, groups: np.ndarray) -> float:
    """SE of the mean of per-sample ``values`` (S,) from the means of the groups (S,)."""
    ids = _group_ids(groups)
    group_means = np.array([np.mean(values[i]) for i in ids])
    return float(np.std(group_means, ddof=1) / np.sqrt(len(ids)))


def diversity_standard_error(samples: np.ndarray, groups: np.ndarray) -> float:
    """SE of diversity from the diversity within each group."""
    ids = _group_ids(groups)
    within = np.array([diversity(samples[:, i]) for i in ids])
    return float(np.std(within, ddof=1) / np.sqrt(len(ids)))


@dataclass(frozen=True)
class SummaryMetrics:
    """The table row of one method: means and chain-group standard errors."""

    n_samples: int
    novelty: float
    novelty_se: float
    diversity: float
    diversity_se: float
    energy: float
    energy_se: float
    max_cosine: float
    max_cosine_se: float
    fraction_negative_energy: float
    beta: float

    def as_dict(self) -> dict[str, float]:
        """Plain dict for JSON and tables."""
        return asdict(self)


def summarise(
    samples: np.ndarray, memory: np.ndarray, beta: float, groups: np.ndarray | None = None
) -> SummaryMetrics:
    """N, D, Ē (at ``beta``) and max-cos with their SEs for samples (d, S).

    ``groups`` (S,) are chain ids; ``None`` means consecutive groups of 5.
    """
    samples = np.asarray(samples, dtype=np.float64)
    if samples.ndim != 2 or samples.shape[0] != memory.shape[0]:
        raise ValueError(f"samples must have shape ({memory.shape[0]}, S), got {samples.shape}")
    if not np.all(np.isfinite(samples)):
        raise ValueError("samples contain non-finite values")
    groups = consecutive_groups(samples.shape[1]) if groups is None else np.asarray(groups)
    best = max_cosine(samples, memory)
    energies = energy(memory, samples, beta)
    return SummaryMetrics(
        n_samples=int(samples.shape[1]),
        novelty=float(np.mean(1.0 - best)),
        novelty_se=grouped_standard_error(1.0 - best, groups),
        diversity=diversity(samples),
        diversity_se=diversity_standard_error(samples, groups),
        energy=float(np.mean(energies)),
        energy_se=grouped_standard_error(energies, groups),
        max_cosine=float(np.mean(best)),
        max_cosine_se=grouped_standard_error(best, groups),
        fraction_negative_energy=float(np.mean(energies < 0)),
        beta=float(beta),
    )
