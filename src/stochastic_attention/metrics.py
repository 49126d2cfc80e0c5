"""Sample-quality metrics of SPEC §3, on the raw states (never re-normalised).

``samples`` has shape ``(d, S)`` (one sample per column), ``memory`` ``(d, K)``.
Standard errors come from groups of samples: the chain each sample came from for chain
samplers, consecutive groups of 5 otherwise; ``SE = std(group values, ddof=1) / sqrt(G)``.
Diversity comes in two forms: pooled ``D`` over all pairs of samples, and the within-chain
``D_within`` (:func:`diversity_within`), the mean of the groups' own D.

Beyond one run (SPEC §3): :func:`paired_difference` and :func:`paired_diversity_difference`
compare two methods that share their start draws group by group; :func:`replicate_spread`
gives the mean and SD of every metric across R replicates; :func:`frechet_diagonal` is the
Fréchet distance between diagonal Gaussians fitted to two sets; :func:`chain_diagnostics`
gives ArviZ's ESS and R-hat of per-chain traces.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .energy import energy

__all__ = [
    "PairedDifference",
    "SummaryMetrics",
    "chain_diagnostics",
    "consecutive_groups",
    "cosine_matrix",
    "diversity",
    "diversity_standard_error",
    "diversity_within",
    "frechet_diagonal",
    "frechet_diagonal_gaussians",
    "group_diversities",
    "grouped_standard_error",
    "max_cosine",
    "novelty",
    "paired_difference",
    "paired_diversity_difference",
    "replicate_spread",
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


def group_diversities(samples: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """The diversity D of each group's samples (one chain's kept snapshots, or 5 consecutive
    baseline samples): (G,), in the order of the sorted group ids."""
    groups = np.asarray(groups)
    return np.array([diversity(samples[:, groups == g]) for g in np.unique(groups)])


def diversity_standard_error(samples: np.ndarray, groups: np.ndarray) -> float:
    """SE of diversity from the diversity within each group."""
    _group_ids(groups)  # at least two groups
    within = group_diversities(samples, groups)
    return float(np.std(within, ddof=1) / np.sqrt(within.size))


def diversity_within(samples: np.ndarray, groups: np.ndarray) -> float:
    """Within-chain diversity ``D_within`` (SPEC §3): the mean over the SE's groups of each
    group's D. Its SE is :func:`diversity_standard_error` (the same G group values).

    Pooled D also counts pairs from different chains, so it is larger when chains sit in
    different basins; D_within sees only how far one chain moves (the reference's faces table
    reports it).
    """
    return float(np.mean(group_diversities(samples, groups)))


@dataclass(frozen=True)
class SummaryMetrics:
    """The table row of one method: means and chain-group standard errors."""

    n_samples: int
    novelty: float
    novelty_se: float
    diversity: float
    diversity_se: float
    diversity_within: float
    diversity_within_se: float
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
    """N, D (pooled), D_within, Ē (at ``beta``) and max-cos with their SEs for samples (d, S).

    ``groups`` (S,) are chain ids; ``None`` means consecutive groups of 5. ``diversity_se``
    and ``diversity_within_se`` are the same number: the SE of the group diversities, whose
    mean is ``diversity_within``.
    """
    samples = np.asarray(samples, dtype=np.float64)
    if samples.ndim != 2 or samples.shape[0] != memory.shape[0]:
        raise ValueError(f"samples must have shape ({memory.shape[0]}, S), got {samples.shape}")
    if not np.all(np.isfinite(samples)):
        raise ValueError("samples contain non-finite values")
    groups = consecutive_groups(samples.shape[1]) if groups is None else np.asarray(groups)
    best = max_cosine(samples, memory)
    energies = energy(memory, samples, beta)
    within = group_diversities(samples, groups)
    within_se = float(np.std(within, ddof=1) / np.sqrt(within.size))
    return SummaryMetrics(
        n_samples=int(samples.shape[1]),
        novelty=float(np.mean(1.0 - best)),
        novelty_se=grouped_standard_error(1.0 - best, groups),
        diversity=diversity(samples),
        diversity_se=within_se,
        diversity_within=float(np.mean(within)),
        diversity_within_se=within_se,
        energy=float(np.mean(energies)),
        energy_se=grouped_standard_error(energies, groups),
        max_cosine=float(np.mean(best)),
        max_cosine_se=grouped_standard_error(best, groups),
        fraction_negative_energy=float(np.mean(energies < 0)),
        beta=float(beta),
    )


# --------------------------------------------------------------------------------------------
# comparisons across methods and replicates


@dataclass(frozen=True)
class PairedDifference:
    """Difference A − B of one metric and its paired standard error over G matched groups."""

    difference: float
    se: float
    n_groups: int

    def as_dict(self) -> dict[str, float]:
        """Plain dict for JSON and tables."""
        return asdict(self)


def _matched_ids(
    groups_a: np.ndarray, groups_b: np.ndarray | None, n_a: int, n_b: int
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Index sets of the groups of A and of B, matched by rank of the sorted group ids."""
    groups_a = np.asarray(groups_a)
    groups_b = groups_a if groups_b is None else np.asarray(groups_b)
    if groups_a.shape != (n_a,) or groups_b.shape != (n_b,):
        raise ValueError(
            f"groups must have one id per sample: A has {n_a} samples and groups "
            f"{groups_a.shape}, B has {n_b} samples and groups {groups_b.shape}"
        )
    ids_a, ids_b = _group_ids(groups_a), _group_ids(groups_b)
    if len(ids_a) != len(ids_b):
        raise ValueError(
            f"paired groups differ in number: A has {len(ids_a)} groups, B has {len(ids_b)}; "
            "pair two runs that share the same start draw (same protocol and replicate)"
        )
    return ids_a, ids_b


def paired_difference(
    values_a: np.ndarray,
    values_b: np.ndarray,
    groups: np.ndarray,
    groups_b: np.ndarray | None = None,
) -> PairedDifference:
    """Mean difference ``mean(values_a) − mean(values_b)`` of per-sample values and its SE.

    ``values_a: (S_a,)``, ``values_b: (S_b,)``; ``groups: (S_a,)`` group ids of A (chain ids),
    ``groups_b: (S_b,)`` those of B (default: ``groups``). Group g of A (g-th smallest id) is
    paired with group g of B, the groups that share a start draw (common random numbers).
    ``SE = std(group-mean differences, ddof=1) / sqrt(G)``.
    """
    values_a = np.asarray(values_a, dtype=np.float64)
    values_b = np.asarray(values_b, dtype=np.float64)
    ids_a, ids_b = _matched_ids(groups, groups_b, values_a.size, values_b.size)
    diffs = np.array(
        [np.mean(values_a[i]) - np.mean(values_b[j]) for i, j in zip(ids_a, ids_b, strict=True)]
    )
    return PairedDifference(
        difference=float(np.mean(values_a) - np.mean(values_b)),
        se=float(np.std(diffs, ddof=1) / np.sqrt(diffs.size)),
        n_groups=int(diffs.size),
    )


def paired_diversity_difference(
    samples_a: np.ndarray,
    samples_b: np.ndarray,
    groups: np.ndarray,
    groups_b: np.ndarray | None = None,
) -> PairedDifference:
    """Diversity difference ``D(samples_a) − D(samples_b)`` (pooled, as in the tables) and its
    SE from the within-group diversity differences of the G paired groups.

    ``samples_a: (d, S_a)``, ``samples_b: (d, S_b)``; groups as in :func:`paired_difference`.
    """
    samples_a = np.asarray(samples_a, dtype=np.float64)
    samples_b = np.asarray(samples_b, dtype=np.float64)
    ids_a, ids_b = _matched_ids(groups, groups_b, samples_a.shape[1], samples_b.shape[1])
    diffs = np.array(
        [
            diversity(samples_a[:, i]) - diversity(samples_b[:, j])
            for i, j in zip(ids_a, ids_b, strict=True)
        ]
    )
    return PairedDifference(
        difference=diversity(samples_a) - diversity(samples_b),
        se=float(np.std(diffs, ddof=1) / np.sqrt(diffs.size)),
        n_groups=int(diffs.size),
    )


def replicate_spread(
    per_replicate: Sequence[SummaryMetrics | Mapping[str, Any]],
) -> dict[str, float]:
    """Mean and SD (``ddof = 1``) across R replicates of every numeric field of the summaries.

    Returns ``{"n_replicates": R, "<field>": mean, "<field>_replicate_sd": sd, …}`` for every
    field (``novelty``, ``novelty_se``, ``diversity``, …). With R = 1 every SD is NaN
    (undefined); fields that are not numbers are skipped.
    """
    rows = [r.as_dict() if dataclasses.is_dataclass(r) else dict(r) for r in per_replicate]
    if not rows:
        raise ValueError("replicate_spread needs at least one replicate")
    out: dict[str, float] = {"n_replicates": len(rows)}
    for name, first in rows[0].items():
        if isinstance(first, bool) or not isinstance(first, int | float | np.number):
            continue
        try:
            values = np.array([float(row[name]) for row in rows])
        except KeyError as exc:
            raise ValueError(f"replicate_spread: a replicate lacks the field {name!r}") from exc
        out[name] = float(np.mean(values))
        out[f"{name}_replicate_sd"] = (
            float(np.std(values, ddof=1)) if values.size > 1 else float("nan")
        )
    return out


# --------------------------------------------------------------------------------------------
# distribution distance


def frechet_diagonal_gaussians(
    mean_a: np.ndarray, var_a: np.ndarray, mean_b: np.ndarray, var_b: np.ndarray
) -> float:
    """Fréchet (2-Wasserstein²) distance of ``N(mean_a, diag var_a)`` and
    ``N(mean_b, diag var_b)``: ``‖μ_a − μ_b‖² + Σ (σ_a − σ_b)²``. All arguments ``(d,)``."""
    mean_a, var_a, mean_b, var_b = (
        np.asarray(v, dtype=np.float64) for v in (mean_a, var_a, mean_b, var_b)
    )
    if np.any(var_a < 0) or np.any(var_b < 0):
        raise ValueError("variances must be ≥ 0")
    return float(np.sum((mean_a - mean_b) ** 2) + np.sum((np.sqrt(var_a) - np.sqrt(var_b)) ** 2))


def frechet_diagonal(samples: np.ndarray, reference: np.ndarray) -> float:
    """Fréchet distance between diagonal Gaussians fitted to ``samples: (d, S)`` and
    ``reference: (d, K)`` (per-coordinate mean and variance with ``ddof = 1``, as FID does).

    ``‖μ_s − μ_r‖² + Σ_i (σ_s,i − σ_r,i)²``; 0 for identical sets.
    """
    samples = np.asarray(samples, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    if samples.ndim != 2 or reference.ndim != 2 or samples.shape[0] != reference.shape[0]:
        raise ValueError(
            f"frechet_diagonal needs samples (d, S) and reference (d, K) with the same d, got "
            f"{samples.shape} and {reference.shape}"
        )
    if samples.shape[1] < 2 or reference.shape[1] < 2:
        raise ValueError("frechet_diagonal needs at least two columns in each set")
    if not (np.all(np.isfinite(samples)) and np.all(np.isfinite(reference))):
        raise ValueError("frechet_diagonal: non-finite values")
    return frechet_diagonal_gaussians(
        samples.mean(axis=1),
        samples.var(axis=1, ddof=1),
        reference.mean(axis=1),
        reference.var(axis=1, ddof=1),
    )


# --------------------------------------------------------------------------------------------
# chain diagnostics


def chain_diagnostics(values: np.ndarray) -> dict[str, float]:
    """ArviZ's bulk ESS and rank-normalised split R-hat of per-chain traces ``values: (C, n)``
    (C chains, n draws each, e.g. each chain's energy after burn-in).

    Returns ``{"ess": …, "rhat": …}``. Needs C ≥ 2 chains and n ≥ 4 draws; constant traces give
    NaN (ArviZ's answer: nothing to estimate).
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.shape[0] < 2 or values.shape[1] < 4:
        raise ValueError(
            f"chain_diagnostics needs values (C, n) with C ≥ 2 chains and n ≥ 4 draws, got "
            f"shape {values.shape}"
        )
    if not np.all(np.isfinite(values)):
        raise ValueError("chain_diagnostics: traces contain non-finite values")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # arviz 0.x announces its 1.0 API
        import arviz

        data = arviz.convert_to_dataset({"trace": values})  # dims (chain, draw)
        ess = arviz.ess(data, method="bulk")
        rhat = arviz.rhat(data)
    return {"ess": float(ess["trace"].values), "rhat": float(rhat["trace"].values)}
