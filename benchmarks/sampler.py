"""Sampler benchmark at the E4 protocol size: library against a literal reference.

d = 784, K = 100 random unit patterns, C = 30 chains, T = 5000 steps (burn-in 2000, thin 100,
keep 5 → S = 150), α = 0.01, β = 2000. The library rows run what the pipeline's sample step
runs: the common start draw (``samplers.draw_starts``), then ``backends.run_chains``
(NumPy) and the kept snapshots; the reference follows the SPEC update rule literally, one
chain at a time, in the same process. Prints CPU times, ratios, and the E4 metrics of both
so that agreement within standard errors can be read off.

Then sampler efficiency as users compare samplers: the effective sample size of the energy
trace (ArviZ bulk ESS over the 30 chains' snapshots after burn-in, ``metrics.
chain_diagnostics``, as the tables' ESS column) per CPU-second of the run, for SA and MALA
at β 2000 and β 200.

    python benchmarks/sampler.py [--steps 5000] [--threads 1] [--repeats 3]
        [--skip-reference] [--skip-reference-mala]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

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
    parser.add_argument("--skip-reference", action="store_true", help="no per-chain reference")
    parser.add_argument("--skip-reference-mala", action="store_true")
    arguments = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(arguments.threads))
    from threadpoolctl import threadpool_limits

    threadpool_limits(arguments.threads)

    from stochastic_attention import backends, metrics, samplers
    from stochastic_attention import energy as en

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
    _, initial = samplers.draw_starts(memory, n_chains, 0.01, np.random.default_rng(1))
    record_steps = samplers.snapshot_steps(arguments.steps, burn_in, 100)
    positions = samplers.evenly_spaced_positions(record_steps.size, 5)

    def library(kernel, reduce=True, dtype="float64", at_beta=beta, at_memory=memory):
        """Fastest CPU time of ``--repeats`` identical runs, the run and its kept samples."""
        times = []
        start_states = initial
        if at_memory is not memory:  # the pipeline's start draw on that memory
            draw = np.random.default_rng(1)
            _, start_states = samplers.draw_starts(at_memory, n_chains, 0.01, draw)
        for _ in range(max(arguments.repeats, 1)):
            start = time.process_time()
            run = backends.run_chains(
                at_memory,
                start_states,
                kernel=kernel,
                beta=at_beta,
                alpha=alpha,
                rng=np.random.default_rng(2),
                record_steps=record_steps,
                reduce=reduce,
                dtype=dtype,
            )
            times.append(time.process_time() - start)
        return min(times), run, samplers.chain_major(run.records[positions])

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
    ula_time, ula, ula_samples = library("sa")
    sa64 = row("library SA (span, float64)", ula_time, ula_samples, groups)
    f32_time, _, f32_samples = library("sa", dtype="float32")
    sa32 = row("library SA (span, float32)", f32_time, f32_samples, groups)
    full_time, _, full_samples = library("sa", reduce=False)
    row("library SA (full d)", full_time, full_samples, groups)
    mala_time, mala, mala_samples = library("mala")
    m64 = row("library MALA (span, float64)", mala_time, mala_samples, groups)
    print(f"{'':<28} MALA acceptance {mala.acceptance.mean():.4f}")
    mala32_time, mala32, mala32_samples = library("mala", dtype="float32")
    m32 = row("library MALA (span, float32)", mala32_time, mala32_samples, groups)
    print(f"{'':<28} MALA acceptance {mala32.acceptance.mean():.4f}")
    literal_time, literal, literal_samples = library("mala", reduce=False)
    row("library MALA (literal d)", literal_time, literal_samples, groups)
    print(f"{'':<28} MALA acceptance {literal.acceptance.mean():.4f}")
    with_reference = not arguments.skip_reference
    with_reference_mala = with_reference and not arguments.skip_reference_mala
    if with_reference:
        ref_time, ref_samples, _ = reference(mala=False)
        row("reference SA (per chain)", ref_time, ref_samples, groups)
    if with_reference_mala:
        ref_mala_time, ref_mala_samples, rate = reference(mala=True)
        row("reference MALA (per chain)", ref_mala_time, ref_mala_samples, groups)
        print(f"{'':<28} MALA acceptance {rate:.4f}")
    print()
    if with_reference:
        print(f"SA speed-up over reference:          {ref_time / ula_time:6.1f}x  (goal ≥ 12x)")
    print(f"SA CPU time:                         {ula_time:6.2f} s (goal ≤ 1.2 s)")
    print(f"SA float32 / float64 time:           {f32_time / ula_time:6.2f}x")
    if with_reference:
        print(f"SA full-d speed-up over reference:   {ref_time / full_time:6.1f}x")
    print(f"MALA / SA time:                      {mala_time / ula_time:6.2f}x  (goal ≤ 1.5x)")
    print(f"MALA literal / MALA span time:       {literal_time / mala_time:6.2f}x")
    print(f"MALA float32 / float64 time:         {mala32_time / mala_time:6.2f}x")
    if with_reference_mala:
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

    def efficiency(run, at_memory, at_beta):
        """Bulk ESS and R-hat of the energy trace: every chain's snapshots after burn-in."""
        records = np.asarray(run.records)  # (R, d, C), every record after burn-in
        flat = records.transpose(1, 0, 2).reshape(d, -1)
        trace = en.energy(at_memory, flat, at_beta).reshape(records.shape[0], n_chains).T
        with warnings.catch_warnings():  # ArviZ warns when chains outnumber draws (short --steps)
            warnings.filterwarnings("ignore", "More chains", UserWarning)
            return metrics.chain_diagnostics(trace)

    print()
    split = 2 * n_chains * (record_steps.size // 2)  # bulk ESS splits every chain in two
    print(
        f"effective sample size of the energy trace per CPU-second ({n_chains} chains × "
        f"{record_steps.size} snapshots after burn-in {burn_in}, thin 100; float64, span;\n"
        f"ArviZ caps the bulk ESS at n·log10(n) = {split * np.log10(split):.0f} for n = {split})"
    )
    print(f"  {'memory':<14} {'sampler':<7} {'beta':>6} {'CPU s':>7} {'ESS':>7} {'R-hat':>6}"
          f" {'ESS / CPU s':>12}")  # fmt: skip
    timed = {("random", "sa", beta): (ula_time, ula), ("random", "mala", beta): (mala_time, mala)}
    for name, at_memory in (("random", memory), ("MNIST digit 3", mnist_digit3())):
        for at_beta in (beta, 200.0):
            for kernel in ("sa", "mala"):
                if (name, kernel, at_beta) not in timed:
                    seconds, run, _ = library(kernel, at_beta=at_beta, at_memory=at_memory)
                    timed[name, kernel, at_beta] = seconds, run
                seconds, run = timed[name, kernel, at_beta]
                found = efficiency(run, at_memory, at_beta)
                print(
                    f"  {name:<14} {kernel.upper():<7} {at_beta:6.0f} {seconds:7.2f} "
                    f"{found['ess']:7.1f} {found['rhat']:6.3f} {found['ess'] / seconds:12.1f}"
                )
    print(
        "  The same start draw and noise stream serve both β. The energy's fluctuations are\n"
        "  mostly those of the orthogonal AR(1) part (d − r = 684 of 784 directions), which\n"
        "  scale as 1/β rank for rank (on the random memory the β 200 trace is the β 2000 one\n"
        "  times 10 exactly), so this ESS hardly depends on β or the memory: per CPU-second it\n"
        "  ranks the samplers by their cost per step and MALA's few rejections."
    )


def mnist_digit3():
    """The E4 memory: the first 100 images of digit 3 of the offline MNIST source."""
    import tempfile
    from pathlib import Path

    from stochastic_attention.domains import mnist

    with tempfile.TemporaryDirectory() as folder:
        raw = Path(folder) / "mnist.npz"
        mnist.fetch({"kind": "offline"}, raw)
        return mnist.build_memory({"digit": 3, "n_patterns": 100}, raw).patterns

if __name__ == "__main__":
    main()
