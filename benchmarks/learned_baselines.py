"""Time the learned baselines: one fit, R separate fits and R fits trained together.

For the VAE and the DDPM (SPEC §4 architectures, d = 784, K ∈ ``--k``) it prints, in one run,
the wall and CPU seconds of

* ``one``: one fit with the plain ``nn.Module`` trainer (``fit``: what a job without refits
  ran before replicates were trained together);
* ``separate``: R such fits one after another (R seeds);
* ``batched``: the R fits trained together (``fit_replicates``: stacked weights, one batched
  product per layer, one Adam);
* ``ratio``: batched / one and separate / one, in wall and in CPU seconds (the cost of
  refitting every replicate; on a shared machine the CPU ratio is the steadier one);

with the model's FLOPs per epoch (dense layers only: forward, weight gradients and the input
gradients of every layer but the first) and the GFLOP/s each run achieved, so a ratio near R
reads as "compute-bound", not "overhead". GMM-PCA (EM, well under a second a fit) is timed
one fit and R separate fits. Random unit patterns stand in for MNIST: the cost does not
depend on the data. Examples::

    PYTHONPATH=src python benchmarks/learned_baselines.py                 # SPEC epochs
    PYTHONPATH=src python benchmarks/learned_baselines.py --epochs 0.1    # 10 % of them
    PYTHONPATH=src python benchmarks/learned_baselines.py --threads 1 2 --concurrent 2
    PYTHONPATH=src python benchmarks/learned_baselines.py --device cuda --threads 1
    PYTHONPATH=src python benchmarks/learned_baselines.py --compare-vmap --k 100

``--epochs f`` scales every model's epochs by f (the per-epoch cost is constant, so times
scale linearly and ratios do not change). ``--concurrent n`` runs n identical copies of the
measurement at once in separate processes (n jobs sharing the machine, as ``--cores`` does)
and prints each copy's lines. ``--compare-vmap`` instead times R fits per epoch with the
library's explicit ``baddbmm`` layers against ``torch.func`` (``stack_module_state`` and
``vmap`` over ``functional_call``), the other way to batch them. Run it on a quiet machine;
the load average is printed before and after.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import itertools
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from stochastic_attention.baselines import ddpm, gmm_pca, vae

__all__ = ["flops_per_epoch", "main"]


def _timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """Run ``fn``; return (result, wall seconds, process CPU seconds)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def _memory(d: int, k: int, seed: int) -> np.ndarray:
    """Random unit patterns, ``(d, K)``."""
    x = np.random.default_rng(seed).standard_normal((d, k))
    return x / np.linalg.norm(x, axis=0)


def _layers(name: str, d: int, params: Any) -> list[tuple[int, int]]:
    """(fan_in, fan_out) of every dense layer, input side first."""
    if name == "vae":
        body = [d, *params.hidden]
        encoder = list(itertools.pairwise(body))
        heads = [(body[-1], 2 * params.latent)]  # μ and log σ², as one count
        decoder = list(itertools.pairwise([params.latent, *reversed(body)]))
        return encoder + heads + decoder
    return list(itertools.pairwise([d + params.embedding, *params.hidden, d]))


def flops_per_epoch(name: str, d: int, k: int, params: Any) -> float:
    """Dense-layer FLOPs of one epoch of one fit on K patterns (every pattern once).

    Per pattern: forward Σ in·out multiply-adds, weight gradients the same again, input
    gradients for every layer but the first (the data need none); 2 FLOPs per multiply-add.
    """
    layers = _layers(name, d, params)
    macs = sum(i * o for i, o in layers)
    return 2.0 * k * (2 * macs + macs - layers[0][0] * layers[0][1])


def _params(name: str, scale: float, device: str) -> Any:
    base = vae.VaeParams() if name == "vae" else ddpm.DdpmParams()
    epochs = max(1, round(base.epochs * scale))
    return dataclasses.replace(base, epochs=epochs, device=device)


def _fit(module: Any, memory: np.ndarray, params: Any, what: str, seeds: list[int], threads: int):
    """The fits of one measurement: ``one`` (seed 0), ``separate`` (one ``fit`` per seed) or
    ``batched`` (``fit_replicates`` of every seed)."""
    if what == "batched":
        return module.fit_replicates(memory, params, seeds, threads=threads)
    chosen = seeds[:1] if what == "one" else seeds
    return [module.fit(memory, params, seed, threads=threads) for seed in chosen]


def _line(name: str, k: int, threads: int, what: str, wall: float, cpu: float, extra: str):
    load = os.getloadavg()[0]
    print(f"{name} {k} {threads} {what} {wall:.2f} {cpu:.2f} {load:.1f} {extra}", flush=True)


def _measure(args: argparse.Namespace) -> None:
    seeds = list(range(args.replicates))
    print(
        f"pid={os.getpid()} d={args.d} replicates={args.replicates} epochs_scale={args.epochs} "
        f"cpus={os.cpu_count()} device={args.device} loadavg={os.getloadavg()}",
        flush=True,
    )
    print("model K threads what wall_s cpu_s load1 extra", flush=True)
    for k, threads in itertools.product(args.k, args.threads):
        memory = _memory(args.d, k, seed=0)
        for name in [n for n in ("vae", "ddpm") if n in args.only]:
            module = vae if name == "vae" else ddpm
            params = _params(name, args.epochs, args.device)
            epochs = params.epochs if name == "vae" else ddpm.training_epochs(params, k)
            flops = flops_per_epoch(name, args.d, k, params) * epochs
            module.fit(memory, dataclasses.replace(params, epochs=2), seed=0, threads=threads)
            walls, cpus = {}, {}
            for what in args.what:
                count = 1 if what == "one" else len(seeds)
                fits, wall, cpu = _timed(
                    functools.partial(_fit, module, memory, params, what, seeds, threads)
                )
                walls[what], cpus[what] = wall, cpu
                final = np.mean([f.history["loss"][-1] for f in fits])
                extra = (
                    f"epochs={epochs} gflop={count * flops / 1e9:.0f} "
                    f"gflop_per_s_wall={count * flops / wall / 1e9:.1f} "
                    f"gflop_per_s_cpu={count * flops / cpu / 1e9:.1f} final_loss={final:.4g}"
                )
                _line(name, k, threads, what, wall, cpu, extra)
            if "one" not in walls or len(walls) < 2:
                continue
            extra = " ".join(
                f"{what}/one_{clock}={times[what] / times['one']:.2f}"
                for clock, times in (("wall", walls), ("cpu", cpus))
                for what in ("batched", "separate")
                if what in times
            )
            _line(name, k, threads, "ratio", 0.0, 0.0, f"{extra} (R={len(seeds)})")
        if "gmm" in args.only:
            for what in ("one", "separate"):
                gmm = functools.partial(
                    _fit, gmm_pca, memory, gmm_pca.GmmPcaParams(), what, seeds, threads
                )
                fits, wall, cpu = _timed(gmm)
                iterations = [f.n_iter for f in fits]
                _line("gmm", k, threads, what, wall, cpu, f"em_iterations={iterations}")
    print(f"loadavg_after={os.getloadavg()}", flush=True)


def _vmap_epochs(name: str, memory: np.ndarray, params: Any, seeds: list[int]) -> None:
    """``params.epochs`` full-batch epochs of R fits with ``torch.func``: the nets stacked by
    ``stack_module_state`` and the loss ``vmap``-ed over ``functional_call`` of the module
    (the alternative to the library's explicit ``baddbmm`` layers), same draws per replicate."""
    import copy

    import torch
    from torch.func import functional_call, stack_module_state, vmap

    from stochastic_attention.baselines import _common

    x = torch.as_tensor(memory.T, dtype=torch.float32).contiguous()
    gens = _common.replicate_generators(seeds)
    net_cls = vae.VaeNet if name == "vae" else ddpm.DdpmNet
    nets = [net_cls(memory.shape[0], params, gen) for gen in gens]
    weights, buffers = stack_module_state(nets)
    base = copy.deepcopy(nets[0]).to("meta")
    optimiser = torch.optim.Adam(list(weights.values()), lr=params.lr, fused=True)
    if name == "ddpm":
        sched = ddpm.NoiseSchedule.linear(params.steps, params.beta_start, params.beta_end)

    def vae_loss(w, b, eps):
        def part(module: str, value):
            prefix = f"{module}."
            own = {k.removeprefix(prefix): v for k, v in w.items() if k.startswith(prefix)}
            return functional_call(getattr(base, module), own, (value,))

        h = part("encoder", x)
        mu, logvar = part("mu", h), part("logvar", h)
        out = part("decoder", mu + torch.exp(0.5 * logvar) * eps)
        x_hat = out / (torch.linalg.vector_norm(out, dim=1, keepdim=True) + vae.OUTPUT_EPS)
        return (x - x_hat).square().sum(dim=1).mean()

    def ddpm_loss(w, b, t, eps):
        ab = sched.alpha_bar[t][:, None]
        x_t = torch.sqrt(ab) * x + torch.sqrt(1.0 - ab) * eps
        return (functional_call(base, (w, b), (x_t, t)) - eps).square().mean()

    for _ in range(params.epochs):
        if name == "vae":
            eps = torch.stack([torch.randn((x.shape[0], params.latent), generator=g) for g in gens])
            loss = vmap(vae_loss)(weights, buffers, eps)
        else:
            draws = [
                (torch.randint(0, params.steps, (x.shape[0],), generator=g),
                 torch.randn(x.shape, generator=g))
                for g in gens
            ]  # fmt: skip
            t, eps = torch.stack([d[0] for d in draws]), torch.stack([d[1] for d in draws])
            loss = vmap(ddpm_loss)(weights, buffers, t, eps)
        optimiser.zero_grad(set_to_none=True)
        loss.sum().backward()
        optimiser.step()


def _compare_vmap(args: argparse.Namespace) -> None:
    """CPU ms per epoch of R fits: explicit stacked ``baddbmm`` against ``torch.func.vmap``,
    alternating, three rounds (K = the first ``--k``, ``--vmap-epochs`` epochs each)."""
    import torch

    seeds = list(range(args.replicates))
    k = args.k[0]
    memory = _memory(args.d, k, seed=0)
    print(f"vmap comparison: K={k} R={len(seeds)} threads={args.threads[0]} "
          f"loadavg={os.getloadavg()}", flush=True)  # fmt: skip
    torch.set_num_threads(args.threads[0])
    for name in [n for n in ("vae", "ddpm") if n in args.only]:  # warm-up, untimed
        warm = dataclasses.replace(_params(name, 1.0, "cpu"), epochs=2)
        _vmap_epochs(name, memory, warm, seeds)
        (vae if name == "vae" else ddpm).fit_replicates(memory, warm, seeds)
    for round_ in range(3):
        for name in [n for n in ("vae", "ddpm") if n in args.only]:
            module = vae if name == "vae" else ddpm
            params = dataclasses.replace(_params(name, 1.0, "cpu"), epochs=args.vmap_epochs)
            if name == "ddpm":
                params = dataclasses.replace(params, epoch_scaling="none")
            times = {}
            for how in ("baddbmm", "vmap"):
                if how == "vmap":
                    run = functools.partial(_vmap_epochs, name, memory, params, seeds)
                else:
                    run = functools.partial(
                        module.fit_replicates, memory, params, seeds, threads=args.threads[0]
                    )
                times[how] = _timed(run)[2] / params.epochs * 1e3
            print(f"round {round_} {name}: baddbmm {times['baddbmm']:.1f} ms/epoch, vmap "
                  f"{times['vmap']:.1f} ms/epoch, vmap/baddbmm "
                  f"{times['vmap'] / times['baddbmm']:.2f}", flush=True)  # fmt: skip


def _concurrent(argv: Sequence[str], copies: int) -> None:
    """Run ``copies`` copies of this benchmark at once (``argv`` ends in ``--concurrent 1``)."""
    command = [sys.executable, __file__, *argv]
    print(f"running {copies} copies at once: {' '.join(command[1:])}", flush=True)
    start = time.perf_counter()
    procs = [
        subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(copies)
    ]
    outputs = [proc.communicate()[0] for proc in procs]
    for index, (proc, output) in enumerate(zip(procs, outputs, strict=True)):
        print(f"--- copy {index} (exit {proc.returncode})\n{output}", end="", flush=True)
    print(f"all copies: {time.perf_counter() - start:.1f} s wall", flush=True)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--d", type=int, default=784)
    parser.add_argument("--k", type=int, nargs="+", default=[100, 500])
    parser.add_argument("--replicates", type=int, default=5)
    parser.add_argument(
        "--epochs", type=float, default=1.0, help="scale of the SPEC epochs (1 = SPEC)"
    )
    parser.add_argument("--threads", type=int, nargs="+", default=[1])
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="cpu")
    parser.add_argument(
        "--only", choices=["vae", "ddpm", "gmm"], nargs="+", default=["vae", "ddpm", "gmm"]
    )
    parser.add_argument(
        "--what", choices=["one", "separate", "batched"], nargs="+",
        default=["one", "separate", "batched"], help="which fits to time",
    )  # fmt: skip
    parser.add_argument("--concurrent", type=int, default=1, help="copies run at once")
    parser.add_argument(
        "--compare-vmap", action="store_true", help="time torch.func.vmap against baddbmm only"
    )
    parser.add_argument("--vmap-epochs", type=int, default=40)
    args = parser.parse_args(argv)
    if args.compare_vmap:
        _compare_vmap(args)
    elif args.concurrent > 1:
        _concurrent([*argv, "--concurrent", "1"], args.concurrent)  # the last one counts
    else:
        _measure(args)


if __name__ == "__main__":
    main()
