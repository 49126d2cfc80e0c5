"""Time the learned baselines (VAE, DDPM, GMM-PCA) at the SPEC sizes: K = 100, d = 784.

Prints wall and CPU seconds (process CPU time, all threads) for training and for drawing
``--samples`` samples, per thread count. Random unit patterns stand in for MNIST; the cost
does not depend on the data. Run one timing at a time on a quiet machine, e.g.

    .venv/bin/python benchmarks/learned_baselines.py --threads 1 2
    .venv/bin/python benchmarks/learned_baselines.py --vae-epochs 200 --ddpm-epochs 200
    .venv/bin/python benchmarks/learned_baselines.py --device cuda --threads 1

The ``extra`` column shows each fit's final training loss (VAE reconstruction, DDPM plateau,
GMM EM iterations), so a timing of an underfit model is visible as such.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from stochastic_attention.baselines import ddpm, gmm_pca, vae

__all__ = ["main"]


def _timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """Run ``fn``; return (result, wall seconds, process CPU seconds)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def _memory(d: int, k: int, seed: int) -> np.ndarray:
    """Random unit patterns, ``(d, K)``."""
    x = np.random.default_rng(seed).standard_normal((d, k))
    return x / np.linalg.norm(x, axis=0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--d", type=int, default=784)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--vae-epochs", type=int, default=4000)
    parser.add_argument("--ddpm-epochs", type=int, default=5000)
    parser.add_argument("--samples", type=int, default=150)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="cpu")
    parser.add_argument(
        "--only", choices=["vae", "ddpm", "gmm"], nargs="+", default=["gmm", "vae", "ddpm"]
    )
    args = parser.parse_args(argv)
    memory = _memory(args.d, args.k, seed=0)
    fits = {
        "gmm": lambda t: gmm_pca.fit(memory, gmm_pca.GmmPcaParams(), seed=0, threads=t),
        "vae": lambda t: vae.fit(
            memory, vae.VaeParams(epochs=args.vae_epochs, device=args.device), seed=0, threads=t
        ),
        "ddpm": lambda t: ddpm.fit(
            memory, ddpm.DdpmParams(epochs=args.ddpm_epochs, device=args.device), seed=0, threads=t
        ),
    }
    # warm-up: first-call costs (and CUDA start-up) untimed
    vae.fit(memory, vae.VaeParams(epochs=5, device=args.device), seed=0)
    ddpm.fit(memory, ddpm.DdpmParams(epochs=5, device=args.device), seed=0)
    print(
        f"d={args.d} K={args.k} cpus={os.cpu_count()} device={args.device} "
        f"loadavg={os.getloadavg()}",
        flush=True,
    )
    print(
        "method threads epochs train_wall_s train_cpu_s sample_wall_s sample_cpu_s load1 extra",
        flush=True,
    )
    for name in args.only:
        for threads in args.threads:
            fitted, wall, cpu = _timed(lambda name=name, threads=threads: fits[name](threads))
            _, s_wall, s_cpu = _timed(
                lambda f=fitted: f.sample(args.samples, np.random.default_rng(1))
            )
            epochs = len(next(iter(fitted.history.values())))
            extra = {
                "ddpm": lambda f: f"plateau={f.loss_plateau:.3f}",
                "vae": lambda f: f"reconstruction={f.final_reconstruction:.5f}",
                "gmm": lambda f: f"em_iterations={f.n_iter}",
            }[name](fitted)
            load = os.getloadavg()[0]
            print(
                f"{name} {threads} {epochs} {wall:.1f} {cpu:.1f} {s_wall:.2f} {s_cpu:.2f} "
                f"{load:.2f} {extra}",
                flush=True,
            )
    print(f"loadavg_after={os.getloadavg()}", flush=True)


if __name__ == "__main__":
    main()
