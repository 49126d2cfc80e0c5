"""Sampler backends side by side: NumPy, torch on the CPU, torch on a GPU when present.

Cases (C = 30 chains, α = 0.01, β = 2000, random unit patterns, records every 100 steps
after a 40 % burn-in as in the E4 protocol):

* ``e4``     d = 784,  K = 100  (SA and span MALA in r = 100 coordinates)
* ``k3500``  d = 784,  K = 3500 (full rank: literal updates)
* ``d4096``  d = 4096, K = 1000 (SA and span MALA in r = 1000 coordinates)

Each row is one ``run_chains`` call (setup such as the SVD included; the fastest of
``--repeats``), timed after a short warm-up of the same backend (CUDA context, kernels),
with the speed-up of that row over NumPy in the same process and the mean max-cos of the
last record (agreement within noise shows the backends sample the same law; the torch rows
use torch's own draws). NumPy runs in float64 and float32 (``samplers.run_chains(dtype=)``).

    python benchmarks/backends.py [--steps 5000] [--big-steps 1000] [--threads 1]
        [--cases e4 k3500 d4096] [--kernels sa mala] [--repeats 1] [--no-cuda]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

CASES = {"e4": (784, 100), "k3500": (784, 3500), "d4096": (4096, 1000)}


def run_once(target, record_steps, seed):
    """One ``backends.run_chains`` call; ``target`` = (memory, initial, backend, device,
    dtype, kernel args)."""
    from stochastic_attention import backends

    memory, initial, backend, device, dtype, common = target
    return backends.run_chains(
        memory,
        initial,
        rng=np.random.default_rng(seed),
        record_steps=record_steps,
        backend=backend,
        device=device,
        dtype=dtype,
        **common,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5000, help="T of the e4 case")
    parser.add_argument("--big-steps", type=int, default=1000, help="T of k3500 and d4096")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--kernels", nargs="+", default=["sa", "mala"], choices=["sa", "mala"])
    parser.add_argument("--repeats", type=int, default=1, help="report the fastest of n")
    parser.add_argument("--no-cuda", action="store_true", help="skip the GPU rows")
    arguments = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(arguments.threads))
    import torch
    from threadpoolctl import threadpool_limits

    threadpool_limits(arguments.threads)
    torch.set_num_threads(arguments.threads)

    from stochastic_attention import samplers

    targets = [
        ("numpy float64", "numpy", "cpu", "float64"),
        ("numpy float32", "numpy", "cpu", "float32"),
        ("torch cpu float64", "torch", "cpu", "float64"),
        ("torch cpu float32", "torch", "cpu", "float32"),
    ]
    if torch.cuda.is_available() and not arguments.no_cuda:
        name = torch.cuda.get_device_name()
        targets += [(f"cuda float64 ({name})", "torch", "cuda", "float64")]
        targets += [(f"cuda float32 ({name})", "torch", "cuda", "float32")]
    print(
        f"threads={arguments.threads} torch={torch.__version__} "
        f"cuda={'yes' if torch.cuda.is_available() else 'no'} cpus={os.cpu_count()} "
        f"load={os.getloadavg()[0]:.1f}"
    )
    n_chains, beta, alpha = 30, 2000.0, 0.01
    for case in arguments.cases:
        d, k = CASES[case]
        n_steps = arguments.steps if case == "e4" else arguments.big_steps
        rng = np.random.default_rng(0)
        memory = rng.standard_normal((d, k))
        memory /= np.linalg.norm(memory, axis=0)
        starts = rng.choice(k, n_chains, replace=False)
        initial = memory[:, starts] + 0.01 * rng.standard_normal((d, n_chains))
        record_steps = samplers.snapshot_steps(n_steps, int(0.4 * n_steps), 100)
        print(f"\n{case}: d={d} K={k} C={n_chains} T={n_steps} beta={beta} alpha={alpha}")
        for kernel in arguments.kernels:
            common = {"kernel": kernel, "beta": beta, "alpha": alpha}
            reference = None
            for label, backend, device, dtype in targets:
                target = (memory, initial, backend, device, dtype, common)
                run_once(target, [20], 99)  # warm-up: CUDA context, kernel caches
                seconds = np.inf
                for _ in range(arguments.repeats):
                    start = time.perf_counter()
                    result = run_once(target, record_steps, 1)
                    seconds = min(seconds, time.perf_counter() - start)
                reference = seconds if reference is None else reference
                final = result.records[-1]
                max_cos = (memory.T @ (final / np.linalg.norm(final, axis=0))).max(axis=0)
                accept = result.acceptance
                extra = "" if accept is None else f"  acc {accept.mean():.3f}"
                print(
                    f"  {kernel:<4} {label:<40} {seconds:8.2f} s  "
                    f"{1e3 * seconds / n_steps:7.2f} ms/step  ×{reference / seconds:5.2f} vs numpy"
                    f"  max-cos {max_cos.astype(float).mean():.4f}{extra}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
