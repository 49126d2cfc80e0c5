"""The thermodynamic experiments of SPEC §6 (E1–E3) and the critical-temperature law.

Each measures the Gibbs law ``p_β ∝ exp(−βE)`` of a synthetic memory: how attention
concentrates with β, how fast chains reach the law, where the load ratio K/d moves the
transition, and how β* grows with d.

Every function is pure: the memory comes from :func:`~stochastic_attention.domains.synthetic.
random_memory` and every random draw from a ``numpy.random.Generator`` that is passed in or
derived from an int ``seed``. Results are tidy ``pandas.DataFrame`` tables (one row per cell)
plus small frozen dataclasses; figures live in :mod:`stochastic_attention.report.
thermodynamics_figures`.

* :func:`temperature_spectrum` (E1): one SA chain per β, all β in one batched run.
* :func:`convergence` (E2): pooled ULA chains against a long MALA reference chain and against
  the exact law of E (:func:`exact_energy_distribution`).
* :func:`load_ratio_cell` / :func:`phase_diagram` (E3): concentration C over (K/d, β).
* :func:`critical_law`: β* against d at a fixed load ratio, fitted to ``c·d^γ``.

A useful identity: ``exp(−βE(ξ)) = Σ_k exp(β‖x_k‖²/2) · exp(−β‖ξ − x_k‖²/2)``, so
the target ``p_β`` is exactly a mixture of Gaussians ``N(x_k, I/β)`` with weights
``∝ exp(β‖x_k‖²/2)`` (uniform for unit patterns). :func:`exact_samples` draws from it i.i.d.;
:func:`exact_energy_distribution` integrates the law of ``E`` numerically.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import pandas as pd
from scipy import stats

from . import energy as en
from . import samplers
from .domains.synthetic import random_memory
from .metrics import max_cosine
from .samplers import run_chains

__all__ = [
    "BATCHING_MODES",
    "PROBE_SETS",
    "ConvergenceResult",
    "CriticalLawResult",
    "ExactEnergy",
    "SpectrumResult",
    "attention_statistics",
    "convergence",
    "critical_law",
    "exact_energy_distribution",
    "exact_samples",
    "fit_power_law",
    "law_verdict",
    "load_ratio_cell",
    "log_betas",
    "phase_diagram",
    "slope_band",
    "temperature_spectrum",
    "transition_beta",
]

BATCHING_MODES: tuple[str, ...] = ("datasets", "loop")
PROBE_SETS: tuple[str, ...] = ("patterns", "random")


# ------------------------------------------------------------------------------ helpers


def _generator(seed: int | Sequence[int] | np.random.Generator) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def log_betas(beta_min: float, beta_max: float, n_betas: int) -> np.ndarray:
    """``n_betas`` log-spaced inverse temperatures from ``beta_min`` to ``beta_max``: (B,)."""
    en.check_beta(beta_min)
    en.check_beta(beta_max)
    if not beta_min < beta_max or n_betas < 2:
        raise ValueError(
            f"need beta_min < beta_max and n_betas ≥ 2, got {beta_min}, {beta_max}, {n_betas}"
        )
    return np.logspace(np.log10(beta_min), np.log10(beta_max), int(n_betas))


def attention_statistics(
    memory: np.ndarray, states: np.ndarray, betas: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Attention entropy H (nats) and energy E of each state at its own β.

    memory: (d, K); states: (d, C); betas: (C,). Returns ``(entropy, energy)``, each (C,).
    """
    similarities = memory.T @ states
    weights, lse = en.attention_parts(similarities, betas)
    entropy = np.maximum(lse - betas * np.einsum("kc,kc->c", weights, similarities), 0.0)
    energies = 0.5 * np.einsum("dc,dc->c", states, states) - lse / betas
    return entropy, energies


def _flatten_records(records: np.ndarray) -> np.ndarray:
    """(R, d, C) records → (d, R·C) states, record-major (state r·C + c)."""
    n_records, d, n_chains = records.shape
    return records.transpose(1, 0, 2).reshape(d, n_records * n_chains)


def transition_beta(betas: np.ndarray, values: np.ndarray, level: float = 0.5) -> float:
    """β where ``values`` first crosses ``level``, interpolated linearly in log β.

    ``values`` (B,) over increasing ``betas`` (B,) may fall (H/log K) or rise (C); NaN when
    the curve never crosses.
    """
    betas, values = np.asarray(betas, float), np.asarray(values, float)
    above = values >= level
    changes = np.flatnonzero(above[1:] != above[:-1])
    if changes.size == 0:
        return float("nan")
    i = int(changes[0])
    y0, y1 = values[i], values[i + 1]
    fraction = 0.5 if y1 == y0 else (level - y0) / (y1 - y0)
    log_beta = np.log(betas[i]) + fraction * (np.log(betas[i + 1]) - np.log(betas[i]))
    return float(np.exp(log_beta))


def slope_band(critical: en.CriticalTemperature, fraction: float = 0.5) -> tuple[float, float]:
    """The transition band: the β range around β* where ``β·Var_a(e)`` ≥ ``fraction`` × max.

    The full width at ``fraction`` of the maximum of the entropy-loss curve of
    :func:`energy.critical_beta`, interpolated in log β; the grid ends if the curve stays high.
    """
    betas, curve = critical.betas, critical.mean_slope_magnitude
    peak = int(np.argmax(curve))
    level = fraction * curve[peak]
    log_b = np.log(betas)

    def edge(indices: range) -> float:
        previous = peak
        for i in indices:
            if curve[i] < level:
                t = (level - curve[i]) / (curve[previous] - curve[i])
                return float(np.exp(log_b[i] + t * (log_b[previous] - log_b[i])))
            previous = i
        return float(betas[previous])

    return edge(range(peak - 1, -1, -1)), edge(range(peak + 1, betas.size))


# ----------------------------------------------------------------------------- E1


@dataclass(frozen=True)
class SpectrumResult:
    """E1: per-β summary of one chain per β, with the library's β* of the same memory."""

    table: pd.DataFrame
    """One row per β: SNR, max-cos and H/log K (mean, std, 10/50/90 % quantiles), Ē, C."""
    critical: en.CriticalTemperature
    """β* of the memory (probes: the stored patterns), both criteria."""
    band: tuple[float, float]
    """Transition band: half-maximum width of the entropy-loss curve around β*."""
    beta_empirical: float
    """β where the mean H/log K of the chains crosses 0.5 (NaN when it never does)."""
    memory: np.ndarray
    """The memory (d, K)."""
    wall_seconds: float

    def summary(self) -> dict[str, float]:
        """Scalars for provenance records and report text."""
        return {
            "beta_star": self.critical.beta_star,
            "beta_knee": self.critical.beta_knee,
            "band_low": self.band[0],
            "band_high": self.band[1],
            "beta_empirical": self.beta_empirical,
            "sqrt_d": self.critical.sqrt_d,
            "sampling_seconds": self.wall_seconds,
        }


def _summarise_by_chain(values: np.ndarray, prefix: str) -> dict[str, np.ndarray]:
    """Mean, std and quantiles over snapshots of values (R, C) → columns of length C."""
    q10, q50, q90 = np.quantile(values, [0.1, 0.5, 0.9], axis=0)
    return {
        f"{prefix}_mean": values.mean(axis=0),
        f"{prefix}_std": values.std(axis=0, ddof=1) if values.shape[0] > 1 else 0 * q50,
        f"{prefix}_q10": q10,
        f"{prefix}_q50": q50,
        f"{prefix}_q90": q90,
    }


def _sweep(
    memory: np.ndarray,
    betas: np.ndarray,
    *,
    alpha: float,
    n_steps: int,
    burn_in: int,
    thin: int,
    init_noise: float,
    start_pattern: int,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, float]:
    """One SA chain per β from one stored pattern: the E1 table and the sampling seconds."""
    d, n_patterns = memory.shape
    if n_patterns < 2:
        raise ValueError("a temperature sweep needs at least two stored patterns (H/log K)")
    if not 0 <= start_pattern < n_patterns:
        raise ValueError(f"start_pattern {start_pattern} is not a column of the memory")
    initial = memory[:, [start_pattern] * betas.size]
    initial = initial + init_noise * rng.standard_normal(initial.shape)
    run = run_chains(
        memory,
        initial,
        kernel="sa",
        beta=betas,
        alpha=alpha,
        rng=rng,
        record_steps=samplers.snapshot_steps(n_steps, burn_in, thin),
    )
    n_records = run.records.shape[0]
    states = _flatten_records(run.records)
    entropy, energies = attention_statistics(memory, states, np.tile(betas, n_records))
    ratio = (entropy / np.log(n_patterns)).reshape(n_records, betas.size)
    cosines = max_cosine(states, memory).reshape(n_records, betas.size)
    table = pd.DataFrame(
        {
            "beta": betas,
            "snr": [en.snr(alpha, b, d) for b in betas],
            **_summarise_by_chain(cosines, "max_cos"),
            **_summarise_by_chain(ratio, "entropy_ratio"),
            "concentration_mean": 1.0 - ratio.mean(axis=0),
            "energy_mean": energies.reshape(n_records, betas.size).mean(axis=0),
            "max_cos_sanity_law": (1.0 + d / betas) ** -0.5,
            "n_snapshots": n_records,
            "d": d,
            "n_patterns": n_patterns,
            "alpha": alpha,
        }
    )
    return table, run.wall_seconds


def temperature_spectrum(
    *,
    d: int,
    n_patterns: int,
    beta_min: float,
    beta_max: float,
    n_betas: int,
    alpha: float,
    n_steps: int,
    burn_in: int,
    thin: int,
    init_noise: float,
    start_pattern: int,
    seed: int | np.random.Generator = 0,
    memory: np.ndarray | None = None,
) -> SpectrumResult:
    """E1: one SA chain per β (all β in one batched ``run_chains`` call).

    Every chain starts at stored pattern ``start_pattern`` plus ``N(0, init_noise² I)``;
    snapshots every ``thin`` steps after ``burn_in`` give the spread across samples. Without
    ``memory`` a random unit memory (d, n_patterns) is drawn from the generator first. β* of
    the memory comes from :func:`energy.critical_beta` (probes: every stored pattern).
    """
    rng = _generator(seed)
    if memory is None:
        memory = random_memory(d, n_patterns, rng)
    betas = log_betas(beta_min, beta_max, n_betas)
    table, seconds = _sweep(
        memory,
        betas,
        alpha=alpha,
        n_steps=n_steps,
        burn_in=burn_in,
        thin=thin,
        init_noise=init_noise,
        start_pattern=start_pattern,
        rng=rng,
    )
    critical = en.critical_beta(memory)
    return SpectrumResult(
        table=table,
        critical=critical,
        band=slope_band(critical),
        beta_empirical=transition_beta(betas, table["entropy_ratio_mean"].to_numpy()),
        memory=memory,
        wall_seconds=seconds,
    )


# ----------------------------------------------------------------------------- E2


def exact_samples(
    memory: np.ndarray, beta: float, n_samples: int, rng: np.random.Generator
) -> np.ndarray:
    """I.i.d. draws from ``p_β ∝ exp(−βE)``: the Gaussian mixture ``Σ_k w_k N(x_k, I/β)``.

    ``w_k ∝ exp(β‖x_k‖²/2)``. Returns (d, n_samples).
    """
    beta = en.check_beta(beta)
    half_sq_norms = 0.5 * np.einsum("dk,dk->k", memory, memory)
    weights = en.attention_parts(half_sq_norms[:, None], beta)[0][:, 0]
    components = rng.choice(memory.shape[1], size=n_samples, p=weights)
    noise = rng.standard_normal((memory.shape[0], n_samples)) / np.sqrt(beta)
    return memory[:, components] + noise


@dataclass(frozen=True)
class ExactEnergy:
    """The law of ``E(ξ)`` under ``p_β``, by numerical integration (quadrature in the span)."""

    energies: np.ndarray
    """Grid of energy values (G,)."""
    pdf: np.ndarray
    """Density of E on the grid (G,)."""
    cdf: np.ndarray
    """Distribution function of E on the grid (G,)."""
    mean: float
    variance: float
    norm_mean: float
    """E‖ξ‖."""
    norm_variance: float
    """Var‖ξ‖."""
    rank: int
    """Dimension r of the integrated part (the span of the memory)."""
    grid_points: int
    """Grid points per axis of the r-dimensional quadrature."""

    def cdf_at(self, values: np.ndarray) -> np.ndarray:
        """The distribution function at arbitrary energies (linear interpolation)."""
        return np.interp(values, self.energies, self.cdf, left=0.0, right=1.0)


def exact_energy_distribution(
    memory: np.ndarray,
    beta: float,
    *,
    grid_points: int = 64,
    max_points: float = 3e7,
    n_bins: int = 4000,
) -> ExactEnergy | None:
    """Law of ``E`` under ``p_β`` by quadrature, or ``None`` when the span is too large.

    With ``ξ = Q y + z`` (``Q`` a basis of the memory's span, rank r) the target factorises:
    ``z ~ N(0, I/β)`` on the (d − r)-dimensional complement, so ``½‖z‖² ~ Gamma((d−r)/2,
    scale 1/β)`` exactly, and ``E = E_y(y) + ½‖z‖²`` with ``E_y = ½‖y‖² − β⁻¹ lse(β Rᵀy)``.
    ``y`` is integrated on a ``grid_points``ʳ grid (spacing ≈ 0.25/√β, so the Riemann sum of
    the smooth Gaussian-mixture density is accurate far below sampling noise); the weighted
    histogram of ``E_y`` is convolved with the Gamma law. Means and variances are computed
    from the grid directly (no binning). ``None`` when ``grid_points^r > max_points`` even
    after lowering ``grid_points`` to 24.
    """
    beta = en.check_beta(beta)
    memory = np.asarray(memory, dtype=np.float64)
    d, n_patterns = memory.shape
    basis, reduced = en.span_basis(memory)
    rank = basis.shape[1]
    n = min(int(grid_points), int(max_points ** (1.0 / rank)))
    if n < 24:
        return None
    sq_norms = np.einsum("rk,rk->k", reduced, reduced)
    half = float(np.sqrt(sq_norms.max())) + 8.0 / np.sqrt(beta)
    axis = np.linspace(-half, half, n)
    rest = (
        np.stack([g.ravel() for g in np.meshgrid(*([axis] * (rank - 1)), indexing="ij")])
        if rank > 1
        else np.zeros((0, 1))
    )
    e_low = -0.5 * sq_norms.max() - np.log(n_patterns) / beta  # E_y ≥ e_low everywhere
    e_high = e_low + (60.0 + rank) / beta
    edges = np.linspace(e_low, e_high, n_bins + 1)
    q_high = (half**2) * rank
    q_edges = np.linspace(0.0, q_high, n_bins + 1)
    mass = np.zeros(n_bins)
    q_mass = np.zeros(n_bins)
    sums = np.zeros(5)  # Σw, Σw E, Σw E², Σw q   (q = ‖y‖²), Σw q²
    for first in axis:
        points = np.vstack([np.full((1, rest.shape[1]), first), rest])  # (r, n^(r−1))
        _, lse = en.attention_parts(reduced.T @ points, beta, overwrite=True)
        q = np.einsum("rp,rp->p", points, points)
        e_y = 0.5 * q - lse / beta
        w = np.exp(-beta * (e_y - e_low))
        mass += np.histogram(e_y, bins=edges, weights=w)[0]
        q_mass += np.histogram(q, bins=q_edges, weights=w)[0]
        sums += [w.sum(), w @ e_y, w @ e_y**2, w @ q, w @ q**2]
    total = sums[0]
    mean_y, second_y = sums[1] / total, sums[2] / total
    mass /= mass.sum()
    q_mass /= q_mass.sum()
    width = edges[1] - edges[0]
    shape_z = 0.5 * (d - rank)
    if shape_z > 0:
        gamma = stats.gamma(shape_z, scale=1.0 / beta)
        n_tail = int(np.ceil(gamma.ppf(1 - 1e-12) / width)) + 1
        kernel = np.diff(gamma.cdf((np.arange(n_tail + 1) - 0.5).clip(0) * width))
        law = np.convolve(mass, kernel)
    else:
        law = mass
    centres = e_low + (np.arange(law.size) + 0.5) * width
    cdf = np.cumsum(law)
    # ‖ξ‖ moments: ‖ξ‖² = q + S with S = ‖z‖² ~ Gamma((d−r)/2, scale 2/β) independent of y.
    q_centres = 0.5 * (q_edges[1:] + q_edges[:-1])
    if shape_z > 0:
        nodes = stats.gamma(shape_z, scale=2.0 / beta).ppf((np.arange(2000) + 0.5) / 2000)
        root_mean = np.sqrt(q_centres[:, None] + nodes[None, :]).mean(axis=1)
        mean_s = 2.0 * shape_z / beta
    else:
        root_mean, mean_s = np.sqrt(q_centres), 0.0
    norm_mean = float(q_mass @ root_mean)
    norm_square = sums[3] / total + mean_s
    return ExactEnergy(
        energies=centres,
        pdf=law / width,
        cdf=cdf / cdf[-1],
        mean=float(mean_y + shape_z / beta),
        variance=float(second_y - mean_y**2 + shape_z / beta**2),
        norm_mean=norm_mean,
        norm_variance=float(norm_square - norm_mean**2),
        rank=rank,
        grid_points=n,
    )


@dataclass(frozen=True)
class ConvergenceResult:
    """E2: ULA chains from random starts against a long MALA reference and the exact law."""

    table: pd.DataFrame
    """One row per sample set (each ULA chain, pooled ULA, reference, exact law)."""
    trace: pd.DataFrame
    """KS of the pooled ULA snapshots in doubling windows along the run (burn-in included)."""
    ula_energies: np.ndarray
    """Post-burn-in energies at the target β, (n_chains, S_chain)."""
    reference_energies: np.ndarray
    """Post-burn-in energies of the reference chain(s), pooled (S_ref,)."""
    exact: ExactEnergy | None
    reference_acceptance: float
    beta: float
    sampler_beta: float
    burn_in: int

    def summary(self) -> dict[str, float]:
        """Scalars for provenance records and report text."""
        pooled = self.table.set_index("sample_set").loc["ula_pooled"]
        return {
            "ks_vs_reference": float(pooled["ks_vs_reference"]),
            "ks_vs_exact": float(pooled["ks_vs_exact"]),
            "reference_acceptance": self.reference_acceptance,
        }


def _moments(energies: np.ndarray, norms: np.ndarray) -> dict[str, float]:
    return {
        "energy_mean": float(np.mean(energies)),
        "energy_var": float(np.var(energies, ddof=1)),
        "norm_mean": float(np.mean(norms)),
        "norm_var": float(np.var(norms, ddof=1)),
    }


def _doubling_windows(n_records: int, first: int) -> list[tuple[int, int]]:
    """Record index windows [0, w), [w, 2w), [2w, 4w), … covering all ``n_records``."""
    edges = [0, first]
    while edges[-1] < n_records:
        edges.append(2 * edges[-1])
    edges = [min(edge, n_records) for edge in edges]
    return [(a, b) for a, b in pairwise(edges) if b > a]


def convergence(
    *,
    d: int,
    n_patterns: int,
    beta: float,
    alpha: float,
    n_chains: int,
    n_steps: int,
    burn_in: int,
    thin: int,
    init_scale: float,
    sampler_beta: float | None = None,
    reference_alpha: float,
    reference_chains: int,
    reference_steps: int,
    reference_burn_in: int,
    reference_thin: int,
    window: int,
    exact_grid_points: int,
    seed: int | np.random.Generator = 0,
    memory: np.ndarray | None = None,
) -> ConvergenceResult:
    """E2: ``n_chains`` ULA chains from ``N(0, init_scale² I)`` against a MALA reference.

    Energies are evaluated at the target ``beta``; ``sampler_beta`` (default ``beta``) is the
    β the ULA chains actually use, so a deliberately wrong sampler can be built. The reference
    is MALA (exact for any step size; ``reference_alpha`` only sets its mixing speed) started
    at stored patterns. ``ks_vs_reference`` is ``scipy.stats.ks_2samp``'s statistic,
    ``ks_vs_exact`` the one-sample KS distance to :func:`exact_energy_distribution` (a
    distance only: thinned chain samples are autocorrelated, so p-values would be too small).
    Snapshots every ``thin`` steps from the start (burn-in included) also feed the trace: KS
    of the pooled chains in doubling windows ``[0, window)``, ``[window, 2·window)``, ….
    """
    rng = _generator(seed)
    if memory is None:
        memory = random_memory(d, n_patterns, rng)
    d, n_patterns = memory.shape
    beta = en.check_beta(beta)
    sampler_beta = beta if sampler_beta is None else en.check_beta(sampler_beta)
    if window % thin or window < thin:
        raise ValueError(f"window ({window}) must be a positive multiple of thin ({thin})")

    ula_steps = np.arange(thin, n_steps + 1, thin)
    ula = run_chains(
        memory,
        init_scale * rng.standard_normal((d, n_chains)),
        kernel="sa",
        beta=sampler_beta,
        alpha=alpha,
        rng=rng,
        record_steps=ula_steps,
    )
    starts = rng.choice(n_patterns, size=reference_chains, replace=reference_chains > n_patterns)
    reference = run_chains(
        memory,
        memory[:, starts],
        kernel="mala",
        beta=beta,
        alpha=reference_alpha,
        rng=rng,
        record_steps=samplers.snapshot_steps(reference_steps, reference_burn_in, reference_thin),
    )
    n_records = ula_steps.size
    all_states = _flatten_records(ula.records)
    ula_energy = en.energy(memory, all_states, beta).reshape(n_records, n_chains)
    ula_norm = np.linalg.norm(all_states, axis=0).reshape(n_records, n_chains)
    kept = ula_steps > burn_in
    ref_states = _flatten_records(reference.records)
    ref_energy = en.energy(memory, ref_states, beta)
    ref_norm = np.linalg.norm(ref_states, axis=0)
    exact = exact_energy_distribution(memory, beta, grid_points=exact_grid_points)

    def ks_exact(values: np.ndarray) -> float:
        return float("nan") if exact is None else float(stats.kstest(values, exact.cdf_at)[0])

    reference_row = _moments(ref_energy, ref_norm)
    rows = []
    sets = [(f"ula_chain{c}", [c]) for c in range(n_chains)] + [
        ("ula_pooled", list(range(n_chains)))
    ]
    for name, chains in sets:
        energies = ula_energy[kept][:, chains].ravel()
        norms = ula_norm[kept][:, chains].ravel()
        row = {"sample_set": name, "sampler": "sa", "n_chains": len(chains)}
        row |= {"n_samples": energies.size, "beta_sampler": sampler_beta, "alpha": alpha}
        row |= _moments(energies, norms)
        row |= {f"{k}_diff": row[k] - reference_row[k] for k in reference_row}
        row["ks_vs_reference"] = float(stats.ks_2samp(energies, ref_energy).statistic)
        row["ks_vs_exact"] = ks_exact(energies)
        rows.append(row)
    rows.append(
        {
            "sample_set": "reference",
            "sampler": "mala",
            "n_chains": reference_chains,
            "n_samples": ref_energy.size,
            "beta_sampler": beta,
            "alpha": reference_alpha,
            **reference_row,
            "ks_vs_exact": ks_exact(ref_energy),
            "acceptance": float(np.mean(reference.acceptance)),
        }
    )
    if exact is not None:
        exact_row = {
            "energy_mean": exact.mean,
            "energy_var": exact.variance,
            "norm_mean": exact.norm_mean,
            "norm_var": exact.norm_variance,
        }
        rows.append(
            {
                "sample_set": "exact",
                "sampler": f"quadrature (rank {exact.rank}, {exact.grid_points}^{exact.rank})",
                "beta_sampler": beta,
                **exact_row,
                **{f"{k}_diff": exact_row[k] - reference_row[k] for k in reference_row},
            }
        )
    table = pd.DataFrame(rows)
    table.insert(1, "beta", beta)

    trace_rows = []
    for first, last in _doubling_windows(n_records, window // thin):
        energies = ula_energy[first:last].ravel()
        trace_rows.append(
            {
                "step_start": int(ula_steps[first] - thin),
                "step_end": int(ula_steps[last - 1]),
                "n_samples": energies.size,
                "ks_vs_reference": float(stats.ks_2samp(energies, ref_energy).statistic),
                "ks_vs_exact": ks_exact(energies),
                "energy_mean": float(energies.mean()),
            }
        )
    return ConvergenceResult(
        table=table,
        trace=pd.DataFrame(trace_rows),
        ula_energies=ula_energy[kept].T.copy(),
        reference_energies=ref_energy,
        exact=exact,
        reference_acceptance=float(np.mean(reference.acceptance)),
        beta=beta,
        sampler_beta=sampler_beta,
        burn_in=burn_in,
    )


# ----------------------------------------------------------------------------- E3


def _ula_datasets(
    memories: np.ndarray,
    initial: np.ndarray,
    betas: np.ndarray,
    alpha: float,
    rng: np.random.Generator,
    record_steps: np.ndarray,
) -> np.ndarray:
    """SA for B datasets at once: memories (B, d, K), states (B, d, C), betas (C,).

    The batched form of :func:`samplers.run_chains` (span-reduced per dataset when K < d).
    Returns records (R, B, d, C).
    """
    return run_chains(
        memories, initial, kernel="sa", beta=betas, alpha=alpha, rng=rng, record_steps=record_steps
    ).records


def load_ratio_cell(
    load_ratio: float,
    *,
    d: int,
    beta_min: float,
    beta_max: float,
    n_betas: int,
    n_datasets: int,
    alpha: float,
    n_steps: int,
    burn_in: int,
    thin: int,
    init_noise: float,
    batching: str,
    seed: int | np.random.Generator = 0,
) -> pd.DataFrame:
    """E3, one load ratio: concentration C for every (dataset, β) of K = round(ratio·d).

    Every dataset is a fresh random unit memory; each of its ``n_betas`` chains starts at a
    random stored pattern + noise. ``batching="datasets"`` advances all datasets × β as one
    batched computation (:func:`_ula_datasets`); ``"loop"`` runs one ``run_chains`` call per
    dataset with all β batched. With an int ``seed`` the streams are derived from
    ``(seed, K)``, so every load ratio gets its own. Returns one row per (dataset, β) with
    the mean and std over snapshots of C, H/log K and max-cos.
    """
    n_patterns = round(float(load_ratio) * d)
    if n_patterns < 2:
        raise ValueError(f"load ratio {load_ratio} at d={d} gives K={n_patterns} < 2 patterns")
    if batching not in BATCHING_MODES:
        raise ValueError(f"unknown batching {batching!r}; choose one of {BATCHING_MODES}")
    rng = (
        seed if isinstance(seed, np.random.Generator) else np.random.default_rng([seed, n_patterns])
    )
    betas = log_betas(beta_min, beta_max, n_betas)
    steps = samplers.snapshot_steps(n_steps, burn_in, thin)
    streams = rng.spawn(n_datasets)
    memories = np.stack([random_memory(d, n_patterns, s) for s in streams])
    starts = np.stack([s.integers(n_patterns, size=betas.size) for s in streams])
    initial = np.stack([memories[b][:, starts[b]] for b in range(n_datasets)])
    initial = initial + init_noise * np.stack([s.standard_normal((d, betas.size)) for s in streams])
    if batching == "datasets":
        records = _ula_datasets(memories, initial, betas, alpha, rng, steps)
    else:
        records = np.stack(
            [
                run_chains(
                    memories[b],
                    initial[b],
                    kernel="sa",
                    beta=betas,
                    alpha=alpha,
                    rng=streams[b],
                    record_steps=steps,
                ).records
                for b in range(n_datasets)
            ],
            axis=1,
        )
    rows = []
    n_records = steps.size
    for b in range(n_datasets):
        states = _flatten_records(records[:, b])
        entropy, _ = attention_statistics(memories[b], states, np.tile(betas, n_records))
        ratio = (entropy / np.log(n_patterns)).reshape(n_records, betas.size)
        cosines = max_cosine(states, memories[b]).reshape(n_records, betas.size)
        rows.append(
            pd.DataFrame(
                {
                    "load_ratio": float(load_ratio),
                    "n_patterns": n_patterns,
                    "d": d,
                    "dataset": b,
                    "beta": betas,
                    "snr": [en.snr(alpha, beta, d) for beta in betas],
                    "concentration_mean": 1.0 - ratio.mean(axis=0),
                    "concentration_std": ratio.std(axis=0, ddof=1),
                    "entropy_ratio_mean": ratio.mean(axis=0),
                    "max_cos_mean": cosines.mean(axis=0),
                    "n_snapshots": n_records,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def phase_diagram(cells: pd.DataFrame, level: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """E3 aggregate: mean C per (load ratio, β) over datasets, and the C = level contour.

    ``cells`` is the concatenation of :func:`load_ratio_cell` tables. Returns ``(table,
    contour)``: table has one row per (load_ratio, beta) with ``concentration`` (mean over
    datasets), its standard error across datasets and the mean max-cos; contour has one row
    per load ratio with the β where C crosses ``level`` (NaN if it never does).
    """
    grouped = cells.groupby(["load_ratio", "n_patterns", "d", "beta"], as_index=False)
    table = grouped.agg(
        snr=("snr", "first"),
        concentration=("concentration_mean", "mean"),
        concentration_sd=("concentration_mean", "std"),
        n_datasets=("dataset", "nunique"),
        max_cos=("max_cos_mean", "mean"),
    )
    table["concentration_se"] = table["concentration_sd"] / np.sqrt(table["n_datasets"])
    table = table.drop(columns="concentration_sd").sort_values(["load_ratio", "beta"])
    contour = [
        {
            "load_ratio": ratio,
            "n_patterns": int(group["n_patterns"].iloc[0]),
            "beta_at_level": transition_beta(
                group["beta"].to_numpy(), group["concentration"].to_numpy(), level
            ),
            "level": level,
        }
        for ratio, group in table.groupby("load_ratio")
    ]
    return table.reset_index(drop=True), pd.DataFrame(contour)


# ------------------------------------------------------------------ critical-temperature law


@dataclass(frozen=True)
class CriticalLawResult:
    """β* against d: the per-d estimates and the power-law fits."""

    table: pd.DataFrame
    """One row per (d, estimator): β, β/√d."""
    fits: pd.DataFrame
    """One row per estimator: c of β = c·√d, and the free fit β = a·d^γ with γ's SE."""
    curves: pd.DataFrame
    """Mean H/log K of the E1-style sweeps, one row per (d, β)."""


def fit_power_law(dims: np.ndarray, values: np.ndarray) -> dict[str, float]:
    """Least squares in log space: ``c`` of ``β = c·√d`` and the free ``β = a·d^γ``.

    Returns c, its geometric spread factor, a, γ, γ's standard error and the R² of the free
    fit. Non-finite values are dropped (NaN result with fewer than 2 points).
    """
    dims, values = np.asarray(dims, float), np.asarray(values, float)
    keep = np.isfinite(values) & (values > 0)
    x, y = np.log(dims[keep]), np.log(values[keep])
    out = {"n_points": int(keep.sum())}
    if x.size < 2:
        return out | dict.fromkeys(
            ("c_sqrt", "c_sqrt_spread", "prefactor", "exponent", "exponent_se", "r_squared"),
            float("nan"),
        )
    residual = y - 0.5 * x
    out["c_sqrt"] = float(np.exp(residual.mean()))
    out["c_sqrt_spread"] = float(np.exp(residual.std(ddof=1))) if x.size > 1 else float("nan")
    slope, intercept = np.polyfit(x, y, 1)
    predicted = intercept + slope * x
    ss_res = float(np.sum((y - predicted) ** 2))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    out["prefactor"] = float(np.exp(intercept))
    out["exponent"] = float(slope)
    out["exponent_se"] = (
        float(np.sqrt(ss_res / (x.size - 2) / np.sum((x - x.mean()) ** 2)))
        if x.size > 2
        else float("nan")
    )
    out["r_squared"] = 1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan")
    return out


def _fit_log_k(dims: pd.Series, n_patterns: pd.Series, values: pd.Series) -> dict[str, float]:
    """Two alternatives to √d: ``β = a + b·log K`` and ``β = c·sqrt(d log K)``.

    ``*_spread`` is the geometric spread of the data around each model, ``exp(std(log
    residual ratio))``, comparable with ``c_sqrt_spread`` of the √d law.
    """
    dims, log_k, values = (np.asarray(v, float) for v in (dims, np.log(n_patterns), values))
    keep = np.isfinite(values) & (values > 0)
    names = ("log_k_intercept", "log_k_slope", "log_k_spread")
    names += ("c_sqrt_d_log_k", "c_sqrt_d_log_k_spread")
    if keep.sum() < 3:
        return dict.fromkeys(names, float("nan"))
    dims, log_k, values = dims[keep], log_k[keep], values[keep]
    slope, intercept = np.polyfit(log_k, values, 1)
    predicted = intercept + slope * log_k
    linear_spread = (
        float(np.exp(np.std(np.log(values / predicted), ddof=1)))
        if np.all(predicted > 0)
        else float("nan")
    )
    ratio = np.log(values / np.sqrt(dims * log_k))
    return dict(
        zip(
            names,
            (
                float(intercept),
                float(slope),
                linear_spread,
                float(np.exp(ratio.mean())),
                float(np.exp(ratio.std(ddof=1))),
            ),
            strict=True,
        )
    )


def _critical_of(memory: np.ndarray, probes: np.ndarray, n_grid: int) -> en.CriticalTemperature:
    """:func:`energy.critical_beta` computed in the span of the memory (same numbers).

    The logits ``memoryᵀ probe`` equal ``Rᵀ (Qᵀ probe)`` for ``memory = Q R``; with K ≤ d
    this shrinks every grid evaluation from d to K rows.
    """
    if memory.shape[1] < memory.shape[0]:
        basis, reduced = en.span_basis(memory)
        return en.critical_beta(reduced, basis.T @ probes, n_grid=n_grid)
    return en.critical_beta(memory, probes, n_grid=n_grid)


def critical_law(
    *,
    dims: Sequence[int],
    load_ratio: float,
    n_probes: int,
    probe_sets: Sequence[str],
    n_grid: int,
    sweep: bool,
    beta_min: float,
    beta_max: float,
    n_betas: int,
    alpha: float,
    n_steps: int,
    burn_in: int,
    thin: int,
    level: float,
    seed: int | np.random.Generator = 0,
) -> CriticalLawResult:
    """β* of random unit memories (d, K = round(load_ratio·d)) for each d, and fits to √d.

    Estimators per d: ``steepest`` and ``knee`` (:func:`energy.critical_beta`) for each probe
    set — ``patterns`` (up to ``n_probes`` stored patterns, the SPEC default probes) and
    ``random`` (``n_probes`` random unit vectors independent of the memory) — and, with
    ``sweep``, ``empirical``: the β where the mean H/log K of an E1-style sweep (one SA chain
    per β, :func:`temperature_spectrum`'s protocol) crosses ``level``.
    """
    unknown = set(probe_sets) - set(PROBE_SETS)
    if unknown:
        raise ValueError(f"unknown probe set(s) {sorted(unknown)}; choose from {PROBE_SETS}")
    rng = _generator(seed)
    rows, curves = [], []
    for d, stream in zip(dims, rng.spawn(len(dims)), strict=True):
        n_patterns = round(load_ratio * d)
        if n_patterns < 2:
            raise ValueError(f"load ratio {load_ratio} at d={d} gives fewer than 2 patterns")
        memory = random_memory(d, n_patterns, stream)
        base = {"d": int(d), "n_patterns": n_patterns, "load_ratio": load_ratio}
        for probe_set in probe_sets:
            if probe_set == "patterns":
                chosen = np.sort(stream.choice(n_patterns, min(n_probes, n_patterns), False))
                probes = memory[:, chosen]
            else:
                probes = random_memory(d, n_probes, stream)
            critical = _critical_of(memory, probes, n_grid)
            for estimator, value in (
                ("steepest", critical.beta_star),
                ("knee", critical.beta_knee),
            ):
                rows.append(base | {"estimator": f"{estimator} ({probe_set})", "beta": value})
        if sweep:
            sweep_table, _ = _sweep(
                memory,
                log_betas(beta_min, beta_max, n_betas),
                alpha=alpha,
                n_steps=n_steps,
                burn_in=burn_in,
                thin=thin,
                init_noise=0.01,
                start_pattern=0,
                rng=stream,
            )
            curve = sweep_table[["beta", "entropy_ratio_mean", "max_cos_mean"]].assign(**base)
            curves.append(curve)
            value = transition_beta(curve["beta"].to_numpy(), curve["entropy_ratio_mean"], level)
            rows.append(base | {"estimator": "empirical", "beta": value})
    table = pd.DataFrame(rows)
    table["sqrt_d"] = np.sqrt(table["d"])
    table["beta_over_sqrt_d"] = table["beta"] / table["sqrt_d"]
    table["log_k"] = np.log(table["n_patterns"])
    fits = pd.DataFrame(
        [
            {"estimator": name}
            | fit_power_law(group["d"], group["beta"])
            | _fit_log_k(group["d"], group["n_patterns"], group["beta"])
            for name, group in table.groupby("estimator", sort=False)
        ]
    )
    fits["consistent_with_sqrt_d"] = (fits["exponent"] - 0.5).abs() <= np.maximum(
        0.05, 2 * fits["exponent_se"]
    )
    return CriticalLawResult(
        table=table,
        fits=fits,
        curves=pd.concat(curves, ignore_index=True) if curves else pd.DataFrame(),
    )


def law_verdict(fits: pd.DataFrame, load_ratio: float) -> tuple[str, str]:
    """Whether β* ∝ √d holds: a headline, and per estimator γ and the best-fitting law.

    The laws: ``c·√d``, ``a + b·log K`` and ``c·√(d log K)``; "best" is the smallest
    geometric spread of the data around the law.
    """
    parts = []
    for fit in fits.itertuples():
        laws = {
            f"{fit.c_sqrt:.3g}·√d": fit.c_sqrt_spread,
            f"{fit.log_k_intercept:.2f} + {fit.log_k_slope:.2f}·log K": fit.log_k_spread,
            f"{fit.c_sqrt_d_log_k:.3g}·√(d log K)": fit.c_sqrt_d_log_k_spread,
        }
        finite = {law: spread for law, spread in laws.items() if np.isfinite(spread)}
        best = f", closest law β* ≈ {min(finite, key=finite.get)}" if finite else ""
        status = "consistent with √d" if fit.consistent_with_sqrt_d else "not √d"
        parts.append(
            f"{fit.estimator}: γ = {fit.exponent:.2f} ± {fit.exponent_se:.2f} ({status}){best}"
        )
    consistent = fits["consistent_with_sqrt_d"]
    if consistent.all():
        head = "β* ∝ √d holds (every estimator consistent)"
    elif not consistent.any():
        head = "β* ∝ √d does not hold"
    else:
        head = "β* ∝ √d does not hold for every estimator"
    return f"{head} at K/d = {load_ratio:g}", "Free fit β* = a·d^γ: " + "; ".join(parts) + "."
