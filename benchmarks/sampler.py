"""Sampler benchmark at the E4 protocol size: library against a literal reference.

d = 784, K = 100 random unit patterns, C = 30 chains, T = 5000 steps (burn-in 2000, thin 100,
keep 5 → S = 150), α = 0.01, β = 2000. The reference follows the SPEC update rule literally,
one chain at a time, in the same process. Prints wall times, ratios, and the E4 metrics of
both so that agreement within standard errors can be read off.

    python benchmarks/sampler.py [--steps 5000] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def reference_chain(memory, start, beta, alpha, n_steps, record_steps, rng, mala=False):
    """One chain, one step at a time, exactly as SPEC §2 writes the updates."""

    def energy(x):
        scaled = beta * (memory.T @ x)
        top = scaled.max()
        return 0.5 * x @ x - (top + np.log(np.sum(np.exp(scaled - top)))) / beta

    def drift(x):
        scaled = beta * (memory.T @ x)
        weights = np.exp(scaled - scaled.max())
        return (1 - alpha) * x + alpha * memory @ (weights / weights.sum())

    x, records, accepted = start.copy(), [], 0
    for step in range(1, n_steps + 1):
        noise = rng.standard_normal(x.size)
        proposal = drift(x) + np.sqrt(2 * alpha / beta) * noise
        if mala:
            log_ratio = -beta * (energy(proposal) - energy(x)) - beta / (4 * alpha) * (
                np.sum((x - drift(proposal)) ** 2) - np.sum((proposal - drift(x)) ** 2)
            )
            if np.log(rng.random()) < min(0.0, log_ratio):
                x, accepted = proposal, accepted + 1
        else:
            x = proposal
        if step in record_steps:
            records.append(x.copy())
    return np.array(records).T, accepted / n_steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3, help="library rows: fastest of n")
    parser.add_argument("--skip-reference-mala", action="store_true")
    arguments = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(arguments.threads))
    from threadpoolctl import threadpool_limits

    threadpool_limits(arguments.threads)

    from stochastic_attention import metrics, samplers

    d, k, n_chains, beta, alpha = 784, 100, 30, 2000.0, 0.01
    burn_in = int(0.4 * arguments.steps)
    if samplers.snapshot_steps(arguments.steps, burn_in, 100).size < 5:
        parser.error(
            f"--steps {arguments.steps} leaves fewer than 5 snapshots (one every 100 steps "
            "after a 40 % burn-in); use --steps 900 or more"
        )
    rng = np.random.default_rng(0)
    memory = rng.standard_normal((d, k))
    memory /= np.linalg.norm(memory, axis=0)
    protocol = {
        "n_chains": n_chains,
        "n_steps": arguments.steps,
        "burn_in": burn_in,
        "thin": 100,
        "keep": 5,
    }

    def library(kernel, reduce=True, dtype=np.float64):
        times = []
        for _ in range(max(arguments.repeats, 1)):
            start = time.process_time()
            result = samplers.multi_chain(
                memory,
                kernel=kernel,
                beta=beta,
                alpha=alpha,
                rng=np.random.default_rng(1),
                reduce=reduce,
                dtype=dtype,
                **protocol,
            )
            times.append(time.process_time() - start)
        return min(times), result

    def reference(mala):
        start = time.process_time()
        rng = np.random.default_rng(2)
        starts = rng.choice(k, n_chains, replace=False)
        snapshot = np.arange(burn_in + 100, arguments.steps + 1, 100)
        keep = set(snapshot[samplers.evenly_spaced_positions(snapshot.size, 5)].tolist())
        columns, rates = [], []
        for chain in range(n_chains):
            initial = memory[:, starts[chain]] + 0.01 * rng.standard_normal(d)
            records, rate = reference_chain(
                memory, initial, beta, alpha, arguments.steps, keep, rng, mala
            )
            columns.append(records)
            rates.append(rate)
        return time.process_time() - start, np.concatenate(columns, axis=1), np.mean(rates)

    def row(name, seconds, samples, groups):
        summary = metrics.summarise(samples, memory, beta, groups)
        print(
            f"{name:<28} {seconds:8.2f} s   N {summary.novelty:.4f} ± {summary.novelty_se:.4f}"
            f"   D {summary.diversity:.4f} ± {summary.diversity_se:.4f}"
            f"   E {summary.energy:.4f} ± {summary.energy_se:.4f}"
        )
        return summary

    groups = np.repeat(np.arange(n_chains), 5)
    print(
        f"E4 protocol: d={d} K={k} C={n_chains} T={arguments.steps} beta={beta} alpha={alpha}"
        f" threads={arguments.threads}"
    )
    print(
        "times are CPU seconds of this process (robust to other load on the machine);"
        f" library rows: the fastest of {max(arguments.repeats, 1)} runs"
    )
    ula_time, ula = library("sa")
    sa64 = row("library SA (span, float64)", ula_time, ula.samples, ula.chain_ids)
    f32_time, f32 = library("sa", dtype=np.float32)
    sa32 = row("library SA (span, float32)", f32_time, f32.samples, f32.chain_ids)
    full_time, full = library("sa", reduce=False)
    row("library SA (full d)", full_time, full.samples, full.chain_ids)
    mala_time, mala = library("mala")
    m64 = row("library MALA (span, float64)", mala_time, mala.samples, mala.chain_ids)
    print(f"{'':<28} MALA acceptance {mala.overall_acceptance:.4f}")
    mala32_time, mala32 = library("mala", dtype=np.float32)
    m32 = row("library MALA (span, float32)", mala32_time, mala32.samples, mala32.chain_ids)
    print(f"{'':<28} MALA acceptance {mala32.overall_acceptance:.4f}")
    literal_time, literal = library("mala", reduce=False)
    row("library MALA (literal d)", literal_time, literal.samples, literal.chain_ids)
    print(f"{'':<28} MALA acceptance {literal.overall_acceptance:.4f}")
    ref_time, ref_samples, _ = reference(mala=False)
    row("reference SA (per chain)", ref_time, ref_samples, groups)
    if not arguments.skip_reference_mala:
        ref_mala_time, ref_mala_samples, rate = reference(mala=True)
        row("reference MALA (per chain)", ref_mala_time, ref_mala_samples, groups)
        print(f"{'':<28} MALA acceptance {rate:.4f}")
    print()
    print(f"SA speed-up over reference:          {ref_time / ula_time:6.1f}x  (goal ≥ 12x)")
    print(f"SA CPU time:                         {ula_time:6.2f} s (goal ≤ 1.2 s)")
    print(f"SA float32 / float64 time:           {f32_time / ula_time:6.2f}x")
    print(f"SA full-d speed-up over reference:   {ref_time / full_time:6.1f}x")
    print(f"MALA / SA time:                      {mala_time / ula_time:6.2f}x  (goal ≤ 1.5x)")
    print(f"MALA literal / MALA span time:       {literal_time / mala_time:6.2f}x")
    print(f"MALA float32 / float64 time:         {mala32_time / mala_time:6.2f}x")
    if not arguments.skip_reference_mala:
        print(f"MALA speed-up over reference MALA:   {ref_mala_time / mala_time:6.1f}x")
    for name, (a, b) in {"SA": (sa64, sa32), "MALA": (m64, m32)}.items():
        shifts = [
            (getattr(b, key) - getattr(a, key)) / getattr(a, f"{key}_se")
            for key in ("novelty", "diversity", "energy")
        ]
        print(
            f"{name} float32 − float64 in SEs (N, D, E): "
            + ", ".join(f"{x:+.2f}" for x in shifts)
            + "  (different random streams: |shift| ≲ 2–3 expected)"
        )


if __name__ == "__main__":
    main()
