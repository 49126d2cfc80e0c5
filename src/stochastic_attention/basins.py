"""Basin visits along a chain (SPEC §6 E7): which stored pattern is nearest, step by step.

``states`` has shape ``(d, T)`` (one recorded state per column, in time order) and
``memory`` ``(d, K)``. The basin of a state is the stored pattern of largest cosine; with a
``threshold`` a state whose largest cosine falls below it belongs to no basin (index −1),
which keeps a chain wandering far from every pattern from counting as visits.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .metrics import cosine_matrix

__all__ = ["BasinSummary", "basin_summary", "basin_visits", "run_lengths"]

NO_BASIN = -1


def basin_visits(
    states: np.ndarray, memory: np.ndarray, *, threshold: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest stored pattern (T,) int and its cosine (T,) for each state (d, T).

    Ties go to the lowest pattern index. With ``threshold``, states whose largest cosine is
    below it get index −1 (no basin); the cosine is reported either way.
    """
    states = np.asarray(states, dtype=np.float64)
    if states.ndim != 2 or states.shape[0] != memory.shape[0]:
        raise ValueError(
            f"states must have shape ({memory.shape[0]}, T) to match the memory, got {states.shape}"
        )
    cosines = cosine_matrix(states, np.asarray(memory, dtype=np.float64))  # (T, K)
    nearest = np.argmax(cosines, axis=1).astype(np.int64)
    best = cosines[np.arange(cosines.shape[0]), nearest]
    if threshold is not None:
        nearest = np.where(best >= threshold, nearest, NO_BASIN)
    return nearest, best


def run_lengths(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Labels (n_runs,) and lengths (n_runs,) of the runs of equal consecutive labels (T,)."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.size == 0:
        raise ValueError("labels must be a non-empty 1-D array")
    change = np.flatnonzero(labels[1:] != labels[:-1]) + 1
    bounds = np.concatenate([[0], change, [labels.size]])
    return labels[bounds[:-1]], np.diff(bounds)


@dataclass(frozen=True)
class BasinSummary:
    """How a chain moved between basins; dwell times in steps (records × ``step``)."""

    n_records: int
    n_distinct: int  # distinct stored patterns visited (−1 excluded)
    n_switches: int  # consecutive records with a different label (to or from −1 included)
    fraction_unassigned: float  # share of records in no basin (0 without a threshold)
    mean_dwell: float  # mean length of the runs in a basin (NaN if there are none)
    median_dwell: float
    max_dwell: float
    final_dwell_censored: float  # length of the last run, cut off by the end of the chain

    def as_dict(self) -> dict[str, float]:
        """Plain dict for JSON and tables."""
        return asdict(self)


def basin_summary(nearest: np.ndarray, *, step: int = 1) -> BasinSummary:
    """Distinct basins, switches and dwell times of a basin sequence (T,) from :func:`basin_visits`.

    ``step`` is the number of sampler steps between records (the thinning), so dwell times
    come out in sampler steps. Dwell statistics use every run in a basin, including the last
    one, which the end of the chain cuts short (its length is reported separately).
    """
    if step < 1:
        raise ValueError(f"step must be ≥ 1, got {step}")
    labels, lengths = run_lengths(nearest)
    in_basin = labels != NO_BASIN
    dwell = lengths[in_basin] * step
    return BasinSummary(
        n_records=int(np.asarray(nearest).size),
        n_distinct=int(np.unique(labels[in_basin]).size),
        n_switches=int(labels.size - 1),
        fraction_unassigned=float(np.mean(np.asarray(nearest) == NO_BASIN)),
        mean_dwell=float(np.mean(dwell)) if dwell.size else float("nan"),
        median_dwell=float(np.median(dwell)) if dwell.size else float("nan"),
        max_dwell=float(np.max(dwell)) if dwell.size else float("nan"),
        final_dwell_censored=float(lengths[-1] * step),
    )
