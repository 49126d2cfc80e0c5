"""What a job needs: predicted wall time and peak memory from its size, and the request.

A cluster executor (``profiles/slurm``) submits every job with the ``runtime`` (minutes) and
``mem_mb`` its rule declares; the rules take both from :func:`job_request`, so a K 3500
sampler asks for more than a K 100 one and a retried job asks for more than its first try.

The model is a handful of cost terms, each a count of the work the job does times a
constant measured on this project's development machine (one core of a shared 2-core VM,
single-threaded NumPy/torch: ``benchmarks/paper_scale.py`` for the paper profile's largest
jobs, the default profile's own ``benchmark:`` files for the small ones; the measurements
are kept as data in ``tests/test_resources.py``, which checks every prediction within 2×).
A sample job's model is the one its method kind declares (``COST_MODEL``, read by
:func:`stochastic_attention.methods.base.cost_model`; samplers default to ``chains``, every
other kind to ``small``):

* **chains** (``sa``, ``mala``, ``multihead_sa``): ``steps · (overhead + c · r·K·C)`` with
  ``C`` every chain of every replicate (they advance as one matrix), ``r = min(d, K)`` (the
  span reduction runs the step in the memory's span when K < d) and ``c`` per kernel and
  dtype; plus ``c* · K²`` when a β is a multiple of the memory's β* (the β grid over the
  K × K similarities), plus the start-up (imports, loading, writing).
* **ddpm / vae**: every replicate trains (``refit_replicates``, batched but still R times
  the arithmetic): ``R · epochs · N · F · c`` with ``F`` the network's weights (multiply-adds
  per pattern) and ``N`` the training patterns, plus ``R · epochs · batches`` optimiser steps
  of overhead, plus drawing (DDPM: T denoising passes).
* **memory**: start-up plus the memory's bytes (loading and normalising the raw images);
  **metrics**: start-up plus ``S · K · d`` (every sample against every pattern).
* **small** and every other rule: a small constant.

Peak memory is a start-up footprint (the Python process with NumPy, or with torch) plus the
arrays the job holds at once (memory, records, K × K similarities for β*, training data).

The memory's shape is needed before the memory exists (Snakemake evaluates resources when
it builds the job list), so :func:`memory_shape` *estimates* ``(d, K)`` from the dataset's
config: exact for MNIST, synthetic, faces and images (size × patterns, PCA rank), the
domain's typical size for protein and finance, and a generous default for a user's array
file (whose shape only its file knows). An estimate that is too small costs one retry: the
request grows with ``attempt`` (runtime ×2 per retry, memory ×1.5).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Estimate",
    "Request",
    "estimate_job",
    "job_request",
    "learned_estimate",
    "memory_shape",
    "plan_estimate",
    "request",
    "sampler_estimate",
]

# ---------------------------------------------------------------- calibration constants
# Seconds and MB on one core of the development machine (see the module docstring).
STARTUP_SECONDS = 3.0  # interpreter, library imports, loading and writing small files
TORCH_STARTUP_SECONDS = 6.0  # the same with torch imported (learned baselines, torch backend)
STEP_OVERHEAD_SECONDS = 6e-5  # per sampler step: Python and small-array work, any size
# seconds per multiply-add of one product r·K·C in a step (both products and MALA's extra
# energy are inside the constant), by kernel and dtype
STEP_SECONDS_PER_MAC = {
    ("sa", "float64"): 1.8e-10,  # MALA's / 1.3 (the ratio of the default profile's jobs)
    ("mala", "float64"): 2.3e-10,  # MALA d 4096, K 1000: 40 s CPU
    ("sa", "float32"): 1.0e-10,  # SA d 4096, K 1000, float32: 20 s CPU
    ("mala", "float32"): 1.3e-10,  # SA float32 × 1.3
}
CRITICAL_SECONDS_PER_ENTRY = 5e-6  # β*: the β grid over the K × K similarities, per entry
TRAIN_SECONDS_PER_MAC = 1.2e-10  # forward + backward of one weight for one pattern (DDPM K 100)
TRAIN_STEP_OVERHEAD_SECONDS = 2e-3  # one optimiser step of the (batched) model
DRAW_SECONDS_PER_MAC = 1e-10  # forward pass of one weight for one drawn sample
METRICS_SECONDS_PER_MAC = 1e-9  # max-cos and diversity: every sample against every pattern
MEMORY_SECONDS_PER_BYTE = 5e-8  # building a memory: reading, scaling, normalising the images
OTHER_SECONDS = 5.0  # simple baselines, GMM-PCA, tables, figures: small jobs

BASE_MB = 150.0  # a job's process with NumPy/SciPy loaded
TORCH_BASE_MB = 420.0  # with torch loaded
ARRAY_COPIES = 3.0  # an array's bytes are held this many times at the peak (copies, temps)

# what a request adds on top of the prediction: other machines, other loads
RUNTIME_SAFETY = 3.0
MEM_SAFETY = 2.0
MIN_RUNTIME_MINUTES = 5
MIN_MEM_MB = 1000
RUNTIME_GROWTH = 2.0  # runtime × this per retry
MEM_GROWTH = 1.5  # mem_mb × this per retry

# (d, K) of a domain's memory when its config does not say (paper-sized typical values)
DEFAULT_SHAPES = {
    "mnist": (784, 100),
    "protein": (120, 200),  # PCA dimensions of a Pfam seed (68 × 79 for RRM_1's Debian seed)
    "finance": (20, 2800),  # 20 tickers × trading days of an 11-year window
    "faces": (4096, 100),
    "images": (4096, 100),
}
FALLBACK_SHAPE = (4096, 5000)  # a user's array file: its shape is known only to its file
IMAGE_SIZE = (64, 64)
MNIST_D = 784


@dataclass(frozen=True)
class Estimate:
    """Predicted wall seconds and peak MB of one job on one core of the reference machine."""

    seconds: float
    mem_mb: float


@dataclass(frozen=True)
class Request:
    """What a job asks the executor for: ``runtime`` in minutes, ``mem_mb`` in MB."""

    runtime: int
    mem_mb: int


def _mb(values: float) -> float:
    """MB of ``values`` float64 numbers."""
    return 8.0 * values / 1e6


# --------------------------------------------------------------------- memory shape
def memory_shape(dataset: Mapping[str, Any]) -> tuple[int, int]:
    """Estimated ``(d, K)`` of a dataset's memory from its config, before it exists.

    dataset: a dataset spec of the plan (``domain`` and the domain's keys, sweep values
    already applied). ``pca_rank`` sets d; ``n_patterns`` sets K where the domain has it.
    """
    domain = str(dataset.get("domain", ""))
    d, k = DEFAULT_SHAPES.get(domain, FALLBACK_SHAPE)
    if domain == "synthetic":
        d, k = int(dataset["d"]), int(dataset["n_patterns"])
    elif domain == "mnist":
        d = MNIST_D
    elif domain in ("faces", "images"):
        size = dataset.get("size") or IMAGE_SIZE
        d = math.prod(int(s) for s in size)
    elif domain == "finance" and dataset.get("tickers"):
        d = len(dataset["tickers"])
    if domain != "synthetic" and dataset.get("n_patterns"):
        k = int(dataset["n_patterns"])
    if dataset.get("pca_rank"):
        d = min(d, int(dataset["pca_rank"]))
    return d, k


# ------------------------------------------------------------------------- samplers
def _beta_is_critical(beta: Any) -> bool:
    return isinstance(beta, Mapping) and "critical" in beta


def critical_seconds(k: int) -> float:
    """β* of a K-pattern memory (every pattern a probe): the β grid over K × K entries."""
    return CRITICAL_SECONDS_PER_ENTRY * k * k


def sampler_estimate(spec: Mapping[str, Any], shape: tuple[int, int]) -> Estimate:
    """A sampler job (``sa``, ``mala``, ``multihead_sa``) on a ``(d, K)`` memory.

    spec: the plan's sample spec (``kind``, ``replicates``, ``protocol_params``, ``beta``,
    optional ``dtype``, ``threads``, ``head_kernel``).
    """
    d, k = shape
    options = spec["protocol_params"]
    replicates = int(spec.get("replicates", 1))
    chains = int(options.get("n_chains", 1)) * replicates
    steps = int(options["n_steps"])
    rank = min(d, k)
    kernel = spec["kind"] if spec["kind"] in ("sa", "mala") else spec.get("head_kernel", "sa")
    per_mac = STEP_SECONDS_PER_MAC[(kernel, spec.get("dtype", "float64"))]
    threads = max(1, int(spec.get("threads", 1)))
    records = max(1, (steps - int(options.get("burn_in", 0))) // int(options.get("thin", 1)))
    # the steps, then the full-dimensional work: span basis, records' energies (trace)
    macs = steps * rank * k * chains + d * k * (rank + records * chains)
    seconds = STARTUP_SECONDS + steps * STEP_OVERHEAD_SECONDS + per_mac * macs / math.sqrt(threads)
    arrays = d * k + records * d * chains + d * rank
    if _beta_is_critical(spec.get("beta")):
        seconds += critical_seconds(k)
        arrays = max(arrays, k * k)  # the K × K similarities (measured: K 3500, 392 MB)
    backend = spec.get("backend", "numpy")
    base = TORCH_BASE_MB if backend == "torch" else BASE_MB
    return Estimate(seconds, base + ARRAY_COPIES * _mb(arrays))


# ------------------------------------------------------------------ learned baselines
def _layer_macs(widths: Sequence[int]) -> int:
    """Multiply-adds of one pattern through dense layers of these widths."""
    return sum(a * b for a, b in itertools.pairwise(widths))


def learned_estimate(
    spec: Mapping[str, Any],
    shape: tuple[int, int],
    train_shape: tuple[int, int] | None = None,
    *,
    network: str,
) -> Estimate:
    """A DDPM or VAE job: R fits on ``train_shape`` (default the memory's), then the draws.

    spec: the plan's sample spec (``replicates``, ``train``, ``n_samples``,
    ``select_top_of``, ``refit_replicates``); network: ``ddpm`` or ``vae``, the kind's
    ``COST_MODEL`` (:func:`stochastic_attention.methods.base.cost_model`).
    """
    d, n = train_shape or shape
    train = dict(spec.get("train") or {})
    fits = int(spec.get("replicates", 1)) if spec.get("refit_replicates", True) else 1
    draws = int(spec.get("select_top_of", spec.get("n_samples", 150))) * int(
        spec.get("replicates", 1)
    )
    from .baselines.params import DdpmParams, VaeParams, training_epochs  # torch-free

    if network == "ddpm":  # the parameter classes hold the defaults of `train`
        params = DdpmParams.from_config(train)
        hidden = list(params.hidden)
        macs = _layer_macs([d + params.embedding, *hidden, d])
        epochs = training_epochs(params, n)
        draw_passes = params.steps
    else:
        params = VaeParams.from_config(train)
        hidden, latent = list(params.hidden), params.latent
        macs = _layer_macs([d, *hidden, 2 * latent]) + _layer_macs([latent, *hidden[::-1], d])
        epochs = params.epochs
        draw_passes = 1
    batch = params.batch_size
    batches = 1 if batch is None else math.ceil(n / int(batch))
    threads = max(1, int(spec.get("threads", 1)))
    compute = fits * epochs * n * macs * TRAIN_SECONDS_PER_MAC
    compute += draws * draw_passes * macs * DRAW_SECONDS_PER_MAC
    seconds = (
        TORCH_STARTUP_SECONDS
        + compute / math.sqrt(threads)
        + epochs * batches * TRAIN_STEP_OVERHEAD_SECONDS
    )
    rows = n if batch is None else min(n, int(batch))
    activations = fits * rows * (sum(hidden) + 2 * d) / 2  # float32: half a float64
    arrays = d * shape[1] + activations + fits * macs / 2
    # the training set is held once in float64 and once as float32 tensors (not copied
    # again: measured 1057 MB for 784 × 60 000, where 3 copies of both would be 2780 MB)
    training_set = 1.5 * _mb(d * n)
    return Estimate(seconds, TORCH_BASE_MB + training_set + ARRAY_COPIES * _mb(arrays))


# ---------------------------------------------------------------------- every rule
def estimate_job(
    rule: str,
    spec: Mapping[str, Any] | None = None,
    shape: tuple[int, int] = (1, 1),
    train_shape: tuple[int, int] | None = None,
) -> Estimate:
    """Predicted time and memory of one job of ``rule`` (``sample``, ``memory``, ``metrics``,
    or any other rule: a small job). spec: the sample spec (``sample`` and ``metrics``)."""
    d, k = shape
    if rule == "sample" and spec is not None:
        from .methods.base import cost_model, get_method  # the kind says how it costs

        model = cost_model(get_method(spec["kind"]))
        if model == "chains":
            return sampler_estimate(spec, shape)
        if model in ("ddpm", "vae"):
            return learned_estimate(spec, shape, train_shape, network=model)
        seconds = OTHER_SECONDS + (critical_seconds(k) if _beta_is_critical(
            spec.get("energy_beta")) else 0.0)  # fmt: skip
        return Estimate(seconds, TORCH_BASE_MB + ARRAY_COPIES * _mb(2 * d * k))
    if rule == "memory":
        return Estimate(
            STARTUP_SECONDS + MEMORY_SECONDS_PER_BYTE * 8 * d * k,
            BASE_MB + ARRAY_COPIES * _mb(d * k),
        )
    if rule == "metrics" and spec is not None:
        samples = _sample_count(spec)
        return Estimate(
            STARTUP_SECONDS + METRICS_SECONDS_PER_MAC * samples * k * d,
            BASE_MB + ARRAY_COPIES * _mb(d * k + samples * (d + k)),
        )
    return Estimate(OTHER_SECONDS, BASE_MB + ARRAY_COPIES * _mb(d * k))


def _sample_count(spec: Mapping[str, Any]) -> int:
    """Samples in a job's file: kept snapshots of every chain, or n_samples, × replicates."""
    replicates = int(spec.get("replicates", 1))
    options = spec.get("protocol_params")
    if not options:  # a kind without a protocol: n_samples per replicate
        return int(spec.get("n_samples", 150)) * replicates
    if "keep" in options:
        return int(options["keep"]) * int(options.get("n_chains", 1)) * replicates
    records = (int(options["n_steps"]) - int(options.get("burn_in", 0))) // int(options["thin"])
    return records * replicates


# ------------------------------------------------------------------------- requests
def request(estimate: Estimate, attempt: int = 1) -> Request:
    """The executor request for ``estimate`` on try ``attempt`` (1 = first): a safety margin
    over the prediction, a floor, and growth per retry."""
    retry = max(1, int(attempt)) - 1
    minutes = max(MIN_RUNTIME_MINUTES, RUNTIME_SAFETY * estimate.seconds / 60)
    mem = max(MIN_MEM_MB, MEM_SAFETY * estimate.mem_mb)
    return Request(
        runtime=math.ceil(minutes * RUNTIME_GROWTH**retry),
        mem_mb=math.ceil(mem * MEM_GROWTH**retry),
    )


def plan_estimate(plan: Any, rule: str, wildcards: Mapping[str, str]) -> Estimate:
    """:func:`estimate_job` of one job of a :class:`~stochastic_attention.plan.Plan`.

    wildcards: the job's ``dataset`` (and ``method`` for sample / metrics jobs).
    """
    dataset = wildcards.get("dataset")
    if dataset is None or dataset not in plan.datasets:
        return estimate_job(rule)
    shape = memory_shape(plan.datasets[dataset])
    method = wildcards.get("method")
    if method is None or method not in plan.methods:
        return estimate_job(rule, None, shape)
    spec = plan.sample_spec(dataset, method)
    spec["threads"] = plan.threads(method)
    train_dataset = plan.methods[method].get("train_dataset")
    train_shape = memory_shape(plan.datasets[train_dataset]) if train_dataset else None
    return estimate_job(rule, spec, shape, train_shape)


def job_request(plan: Any, rule: str, wildcards: Mapping[str, str], attempt: int = 1) -> Request:
    """The request of one job of ``plan`` on try ``attempt``: what the rules' resources say."""
    return request(plan_estimate(plan, rule, wildcards), attempt)
