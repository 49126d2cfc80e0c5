"""Choose the array library, device and dtype of a sampler run: NumPy (default) or torch.

Config keys on a sampler method (``sa``, ``mala``), with their defaults::

    backend: numpy     # numpy | torch
    device: auto       # auto | cpu | cuda   (torch only; auto = cuda when available)
    dtype: float64     # float64 | float32 | auto  (both backends)

There is one engine, :func:`stochastic_attention.samplers.run_chains`, written against the
array API standard: it runs on the arrays it is given. :func:`run_chains` takes the
arguments of ``samplers.run_chains`` plus these three keys, hands the engine NumPy arrays
or torch tensors on the chosen device (torch is imported only when asked for: it takes a
second to import) and returns NumPy records. With torch the noise is drawn on the device
by a ``torch.Generator`` seeded with one integer drawn from ``rng``: reproducible for a
fixed seed, device and dtype, and the same law as NumPy — statistically, not bitwise (the
random numbers differ). Passing torch tensors and the NumPy generator itself to
``samplers.run_chains`` draws every number as the NumPy run does instead, which reproduces
it to rounding (``tests/test_backends.py``): a checking mode.

``dtype: auto`` is resolved in one place, :func:`resolve_dtype`, from the memory's shape:
float32 when a step's dense products are large (``min(d, K) · K`` at least
:data:`AUTO_FLOAT32_MIN_SIZE`), float64 below. There float32 roughly halves a step and moves
no table cell beyond its SE (docs/paper-config.md, "float32 at the paper's sizes"); small
memories keep float64, where a step costs little either way. The samples file records the
dtype the run used (metadata ``dtype``).

Using a GPU
-----------
``device="auto"`` takes ``cuda`` when ``torch.cuda.is_available()`` and the CPU otherwise;
``device="cuda"`` insists on a GPU and raises a clear error without one. The torch build
must be a CUDA build (the pinned ``torch==2.13.0`` in requirements.txt is the CPU build;
install the CUDA wheel from the PyTorch index on GPU nodes). float32 halves the memory and
its traffic; matmuls run in true float32 (torch's default ``allow_tf32 = False`` is left
alone). In a Snakemake workflow a sampler job that uses the GPU requests it through
resources, ``resources: gpu=1`` (the SLURM executor plugin 2.8 submits it as ``--gpus=1``,
with ``gpu_model="h100"`` as ``--gpus=h100:1``; or ``gres="gpu:1"`` for ``--gres=gpu:1``,
not both); a local run caps concurrent GPU jobs with ``snakemake --resources gpu=1``. Such
a job keeps ``threads: 1``: the CPU only feeds the device.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from . import _array_api, samplers

__all__ = [
    "BACKENDS",
    "DEVICES",
    "DTYPES",
    "DTYPE_CHOICES",
    "BackendChoice",
    "check_backend",
    "resolve_device",
    "resolve_dtype",
    "run_chains",
    "torch_generator",
]

BACKENDS: tuple[str, ...] = ("numpy", "torch")
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")
DTYPES: tuple[str, ...] = ("float64", "float32")
DTYPE_CHOICES: tuple[str, ...] = (*DTYPES, "auto")  # what config may say
AUTO_FLOAT32_MIN_SIZE = 1_000_000  # min(d, K) · K from which dtype auto runs float32


def resolve_dtype(dtype: str, shape: Sequence[int]) -> str:
    """The dtype a run uses: ``dtype`` itself, or for ``auto`` float32 when the memory
    ``shape`` (…, d, K) makes a step's products large (``min(d, K) · K`` ≥
    :data:`AUTO_FLOAT32_MIN_SIZE`: the span-reduced or full step's matrix size), else float64."""
    if dtype != "auto":
        return dtype
    d, k = int(shape[-2]), int(shape[-1])
    return "float32" if min(d, k) * k >= AUTO_FLOAT32_MIN_SIZE else "float64"


@dataclass(frozen=True)
class BackendChoice:
    """A validated ``backend`` / ``device`` / ``dtype`` triple from a method's config."""

    backend: Literal["numpy", "torch"] = "numpy"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    dtype: Literal["float64", "float32"] = "float64"


def check_backend(
    backend: str = "numpy", device: str = "auto", dtype: str = "float64"
) -> BackendChoice:
    """Validate the three keys; NumPy accepts only ``device`` auto/cpu (either dtype).

    Does not import torch, so a config can be checked without it; whether ``cuda`` exists
    is checked when the run starts (:func:`resolve_device`).
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend {backend!r} is unknown; choose one of {BACKENDS}")
    if device not in DEVICES:
        raise ValueError(f"device {device!r} is unknown; choose one of {DEVICES}")
    if dtype not in DTYPES:
        raise ValueError(f"dtype {dtype!r} is unknown; choose one of {DTYPES}")
    if backend == "numpy" and device == "cuda":
        raise ValueError("device: cuda needs backend: torch (the numpy backend runs on the CPU)")
    return BackendChoice(backend, device, dtype)  # type: ignore[arg-type]


def resolve_device(device: Any = "auto") -> Any:
    """The ``torch.device`` of ``auto`` (cuda when available, else cpu), ``cpu`` or ``cuda``;
    ``cuda`` without a GPU raises."""
    import torch

    name = str(device) if isinstance(device, torch.device) else str(device).strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ValueError(
                f"device {device!r} was requested but torch sees no GPU "
                f"(torch {torch.__version__}, CUDA build: {torch.version.cuda or 'no'}); "
                "set device: auto or cpu, or run on a GPU node with a CUDA build of torch"
            )
        return torch.device(name)
    raise ValueError(f"unknown device {device!r}; choose auto, cpu or cuda")


def torch_generator(rng: np.random.Generator, device: Any) -> Any:
    """A ``torch.Generator`` on ``device`` seeded with one draw from ``rng`` (advances it)."""
    import torch

    generator = torch.Generator(device=device)
    generator.manual_seed(int(rng.integers(0, 2**63 - 1)))
    return generator


def run_chains(
    memory: np.ndarray,
    initial_states: np.ndarray,
    *,
    kernel: samplers.Kernel,
    beta: float | np.ndarray,
    alpha: float,
    rng: np.random.Generator,
    record_steps: Sequence[int],
    reduce: bool = True,
    backend: str = "numpy",
    device: str = "auto",
    dtype: str = "float64",
) -> samplers.ChainRecords:
    """``samplers.run_chains`` on the chosen library and device: records (R, d, C) on the host.

    memory: (d, K) or (B, d, K); initial_states: (d, C) or (B, d, C) (NumPy arrays). Records
    come back as NumPy arrays in ``dtype``, acceptance as float64 (MALA).
    """
    choice = check_backend(backend, device, dtype)
    arguments = {"kernel": kernel, "beta": beta, "alpha": alpha, "record_steps": record_steps}
    if choice.backend == "numpy":
        return samplers.run_chains(
            memory, initial_states, rng=rng, reduce=reduce, dtype=choice.dtype, **arguments
        )
    import torch

    if kernel not in samplers.KERNELS:  # before a torch generator takes its seed from rng
        raise ValueError(f"unknown kernel {kernel!r}; choose one of {samplers.KERNELS}")
    target = resolve_device(choice.device)
    memory, initial_states = (
        torch.asarray(np.asarray(values, dtype=choice.dtype), device=target)
        for values in (memory, initial_states)
    )
    run = samplers.run_chains(
        memory,
        initial_states,
        rng=torch_generator(rng, target),
        reduce=reduce,
        dtype=choice.dtype,
        **arguments,
    )
    acceptance = None if run.acceptance is None else _array_api.to_numpy(run.acceptance)
    records = _array_api.to_numpy(run.records)
    return samplers.ChainRecords(records, run.record_steps, acceptance, run.wall_seconds)
