"""Choose the array backend of a sampler run: NumPy (default) or torch on a CPU or GPU.

Config keys on a sampler method (``sa``, ``mala``), with their defaults::

    backend: numpy     # numpy | torch
    device: auto       # auto | cpu | cuda   (torch only; auto = cuda when available)
    dtype: float64     # float64 | float32  (both backends)

:func:`run_chains` takes the arguments of ``samplers.run_chains`` plus these three and
returns the same ``ChainRun``. The NumPy path is ``samplers.run_chains`` itself; the torch
path is :func:`stochastic_attention.samplers_torch.run_chains_torch`, imported only when
asked for (torch takes a second to import). How a GPU is used and how the two backends
compare (statistically equal; bitwise only with ``draws="numpy"``) is described in
:mod:`stochastic_attention.samplers_torch`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from . import samplers

__all__ = ["BACKENDS", "DEVICES", "DTYPES", "BackendChoice", "check_backend", "run_chains"]

BACKENDS: tuple[str, ...] = ("numpy", "torch")
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")
DTYPES: tuple[str, ...] = ("float64", "float32")


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
    is checked when the run starts (``samplers_torch.resolve_device``).
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
) -> samplers.ChainRun:
    """``samplers.run_chains`` on the chosen backend: records (R, d, C) on the host.

    memory: (d, K) or (B, d, K); initial_states: (d, C) or (B, d, C). Records come back in
    ``dtype``. With ``backend="torch"`` the noise is drawn on the device by a torch generator
    seeded from ``rng`` (one integer drawn from it).
    """
    choice = check_backend(backend, device, dtype)
    arguments = {
        "kernel": kernel,
        "beta": beta,
        "alpha": alpha,
        "rng": rng,
        "record_steps": record_steps,
        "reduce": reduce,
    }
    if choice.backend == "numpy":
        return samplers.run_chains(memory, initial_states, dtype=choice.dtype, **arguments)
    from .samplers_torch import run_chains_torch

    return run_chains_torch(
        memory, initial_states, device=choice.device, dtype=choice.dtype, **arguments
    )
