"""E10 sanity numbers for the faces memory (offline LFW faces at 64×64: d 4096, K 100).

Prints the SNR-rule β (the MNIST retrieval SNR 0.113 carried to this d), the critical β*
(energy.critical_beta, both criteria), and the wall time of the default multi-chain protocol
(30 chains, 5000 steps) for SA and MALA at the SNR-rule β, with the acceptance, novelty and
max-cos of the samples. Threads are set before NumPy is imported.

    python benchmarks/faces.py [--threads 1] [--steps 5000] [--grid out.png]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--grid", type=Path, default=None, help="write a sample grid PNG here")
    args = parser.parse_args()
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(args.threads)

    import numpy as np

    from stochastic_attention import energy, metrics, samplers
    from stochastic_attention.domains import faces

    alpha, snr_mnist = 0.01, 0.113
    with tempfile.TemporaryDirectory() as folder:
        raw = Path(folder) / "faces.npz"
        faces.fetch({"kind": "offline"}, raw)
        memory = faces.build_memory({"size": [64, 64], "n_patterns": 100}, raw)
    X = memory.patterns
    d, n_patterns = X.shape
    beta = energy.beta_from_snr(snr_mnist, alpha, d)
    critical = energy.critical_beta(X)
    print(
        f"faces memory: d {d}, K {n_patterns}, unit columns "
        f"{np.allclose(np.linalg.norm(X, axis=0), 1)}"
    )
    print(f"SNR rule: beta = 2·d·{snr_mnist}²/alpha = {beta:.1f} (alpha {alpha})")
    print(
        f"critical beta* = {critical.beta_star:.2f} (SNR* {critical.snr_star(alpha, d):.4f}), "
        f"knee {critical.beta_knee:.2f}, sqrt(d) = {critical.sqrt_d:.1f}; "
        f"SNR-rule beta / beta* = {beta / critical.beta_star:.0f}"
    )
    cosines = X.T @ X
    off = cosines[~np.eye(n_patterns, dtype=bool)]
    print(f"pairwise cosines of stored faces: mean {off.mean():.3f}, max {off.max():.3f}")
    grids = [("stored faces", faces.panel(X[:, :16], memory).images)]
    for kernel in ("sa", "mala"):
        start = time.perf_counter()
        result = samplers.multi_chain(
            X,
            kernel=kernel,
            beta=beta,
            alpha=alpha,
            rng=np.random.default_rng(0),
            n_steps=args.steps,
            burn_in=min(2000, args.steps // 2),
            n_chains=30, thin=100, keep=5, init_noise=0.01,
        )
        seconds = time.perf_counter() - start
        accept = result.overall_acceptance
        print(
            f"{kernel}: {seconds:.2f} s for 30 chains × {args.steps} steps "
            f"({args.threads} thread(s)); acceptance "
            f"{'-' if accept is None else f'{accept:.4f}'}; "
            f"mean max-cos {metrics.max_cosine(result.samples, X).mean():.4f} "
            f"(sanity law (1 + d/beta)^-1/2 = {(1 + d / beta) ** -0.5:.4f}); "
            f"diversity {metrics.diversity(result.samples):.4f}"
        )
        one_per_chain = result.samples[:, ::5][:, :16]
        grids.append((f"{kernel.upper()} β {beta:.0f}", faces.panel(one_per_chain, memory).images))
    if args.grid is not None:
        from stochastic_attention.report.comparison_figures import sample_grids

        sample_grids(grids, args.grid, title=f"faces, d {d}, K {n_patterns}", cmap="gray")
        print(f"wrote {args.grid}")


if __name__ == "__main__":
    main()
