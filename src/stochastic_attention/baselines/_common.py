"""Shared pieces of the learned baselines (GMM-PCA, VAE, DDPM; SPEC §4).

Every learned baseline is a frozen parameter dataclass (SPEC defaults, built from a config
mapping with :meth:`ConfigParams.from_config`) plus a ``fit(memory, params, seed, …)`` that
returns an object satisfying :class:`FittedBaseline`. Samples are always returned as
``(d, n)`` float64 arrays, one sample per column, like ``memory: (d, K)``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import logging
import math
import os
import time
import types
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol, Self, runtime_checkable

import numpy as np

from ..metrics import max_cosine

__all__ = [
    "DEVICES",
    "ConfigParams",
    "EpochLog",
    "FittedBaseline",
    "ProgressFn",
    "as_memory",
    "mlp",
    "renormalise",
    "resolve_device",
    "top_by_max_cos",
    "torch_seed",
    "torch_session",
    "training_generator",
]

DEVICES = ("auto", "cpu", "cuda")
"""Allowed values of the learned baselines' ``device`` parameter (``auto``: cuda if available)."""

LOG = logging.getLogger("stochastic_attention.baselines")

ProgressFn = Callable[[int, float], None]
"""``progress(epoch, loss)``: called once per epoch (1-based) with that epoch's total loss."""


@runtime_checkable
class FittedBaseline(Protocol):
    """What ``fit`` of every learned baseline returns."""

    history: dict[str, list[float]]
    train_seconds: float

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Draw ``n`` unit-norm samples, shape ``(d, n)``, deterministic given ``rng``."""
        ...


class ConfigParams:
    """Mixin for frozen parameter dataclasses: strict construction from a config mapping."""

    @classmethod
    def from_config(cls, mapping: Mapping[str, Any] | None = None) -> Self:
        """Build the parameters from a config mapping; missing keys keep the SPEC default.

        Unknown keys raise ``ValueError`` naming the key and the allowed keys. YAML lists become
        tuples and numbers written as strings (PyYAML reads ``1e-3`` as a string) become floats
        where the field is a float.
        """
        mapping = dict(mapping or {})
        fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(mapping) - set(fields))
        if unknown:
            raise ValueError(
                f"{cls.__name__}: unknown config key(s) {unknown}; allowed keys: {sorted(fields)}"
            )
        hints = typing.get_type_hints(cls)
        kwargs = {key: _coerce(value, hints[key]) for key, value in mapping.items()}
        return cls(**kwargs)


def _coerce(value: Any, hint: Any) -> Any:
    """Convert a YAML-ish config value to the field's annotated type where unambiguous."""
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    if value is None or isinstance(value, bool):
        return value
    if float in options and isinstance(value, int | str) and int not in options:
        return float(value)
    if any(typing.get_origin(opt) is tuple for opt in options) and isinstance(value, list):
        return tuple(value)
    return value


def as_memory(memory: np.ndarray) -> np.ndarray:
    """Validate ``memory: (d, K)`` (finite, K ≥ 2, d ≥ 1) and return it as float64."""
    memory = np.asarray(memory, dtype=np.float64)
    if memory.ndim != 2:
        raise ValueError(f"memory must be (d, K), got shape {memory.shape}")
    d, k = memory.shape
    if d < 1 or k < 2:
        raise ValueError(f"memory needs d ≥ 1 and K ≥ 2 patterns, got shape {memory.shape}")
    if not np.all(np.isfinite(memory)):
        raise ValueError("memory contains non-finite values")
    return memory


def renormalise(samples: np.ndarray) -> np.ndarray:
    """Scale each column of ``samples: (d, n)`` to unit Euclidean norm (float64 copy)."""
    samples = np.asarray(samples, dtype=np.float64)
    norms = np.linalg.norm(samples, axis=0)
    bad = np.flatnonzero(~np.isfinite(norms) | (norms == 0.0))
    if bad.size:
        raise ValueError(f"cannot renormalise samples {bad.tolist()}: zero or non-finite norm")
    return samples / norms


def top_by_max_cos(samples: np.ndarray, memory: np.ndarray, n_keep: int) -> np.ndarray:
    """Keep the ``n_keep`` samples with the highest max-cosine to ``memory`` (E15).

    ``samples: (d, n)``, ``memory: (d, K)`` → ``(d, n_keep)``. The kept samples stay in their
    original order (ties broken by position), so that SPEC §3's consecutive groups of 5 are not
    sorted by quality.
    """
    samples = np.asarray(samples, dtype=np.float64)
    memory = np.asarray(memory, dtype=np.float64)
    if samples.ndim != 2 or memory.ndim != 2 or samples.shape[0] != memory.shape[0]:
        raise ValueError(f"shape mismatch: samples {samples.shape}, memory {memory.shape}")
    if not 1 <= n_keep <= samples.shape[1]:
        raise ValueError(f"n_keep must be in [1, {samples.shape[1]}], got {n_keep}")
    scores = max_cosine(samples, memory)
    order = np.argsort(-scores, kind="stable")[:n_keep]
    return samples[:, np.sort(order)]


def torch_seed(rng: np.random.Generator) -> int:
    """Draw a seed for a ``torch.Generator`` from a numpy ``rng`` (advances ``rng``)."""
    return int(rng.integers(0, 2**63 - 1))


@contextlib.contextmanager
def torch_session(threads: int, seed: int) -> Iterator[Any]:
    """Deterministic torch scope: ``threads`` intra-op threads, deterministic algorithms on.

    Yields a CPU ``torch.Generator`` seeded with ``seed``; every random draw of a fit goes
    through it, so the global torch RNG is neither used nor changed. The previous thread count
    and determinism flag are restored on exit. Results are bit-identical for a fixed
    ``threads``; a different thread count may change the last bits of float sums.
    """
    import torch

    if threads < 1:
        raise ValueError(f"threads must be ≥ 1, got {threads}")
    old_threads = torch.get_num_threads()
    old_det = torch.are_deterministic_algorithms_enabled()
    old_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    try:
        generator = torch.Generator(device="cpu")
        generator.manual_seed(seed)
        yield generator
    finally:
        torch.set_num_threads(old_threads)
        torch.use_deterministic_algorithms(old_det, warn_only=old_warn)


def mlp(sizes: Sequence[int], generator: Any, *, init: str) -> Any:
    """``Linear → ReLU → … → Linear`` through ``sizes`` (linear output), initialised from
    ``generator`` without touching the global torch RNG.

    ``init="glorot"``: Glorot-uniform weights, zero biases. ``init="torch"``: PyTorch's
    ``nn.Linear`` default (Kaiming-uniform with a = √5, bias U(±1/√fan_in)).
    """
    import torch
    from torch import nn

    if len(sizes) < 2 or any(int(s) < 1 for s in sizes):
        raise ValueError(f"mlp sizes must be ≥ 2 positive ints, got {list(sizes)}")
    if init not in ("glorot", "torch"):
        raise ValueError(f"init must be 'glorot' or 'torch', got {init!r}")
    layers: list[nn.Module] = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        layer = nn.utils.skip_init(nn.Linear, int(fan_in), int(fan_out))
        with torch.no_grad():
            if init == "glorot":
                nn.init.xavier_uniform_(layer.weight, generator=generator)
                layer.bias.zero_()
            else:
                nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
                bound = 1.0 / math.sqrt(fan_in)
                nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
        layers += [layer, nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def resolve_device(device: str) -> str:
    """Map ``device`` (``auto | cpu | cuda``) to the torch device a fit uses.

    ``auto`` is ``cuda`` when ``torch.cuda.is_available()``, else ``cpu``. Asking for ``cuda``
    on a machine without a usable GPU raises ``ValueError`` with the fix.
    """
    import torch

    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            "device 'cuda' was requested but torch sees no usable GPU "
            f"(torch {torch.__version__}); set device: cpu (or auto) for this baseline"
        )
    return device


def training_generator(device: str, generator: Any) -> Any:
    """The generator for a fit's training draws on ``device``.

    On CPU this is ``generator`` itself (so CPU fits keep their exact sequence of draws). On
    CUDA it is a CUDA generator seeded by one draw from ``generator``; the CUDA workspace
    setting that deterministic cuBLAS needs is set if absent. Initial weights are always drawn
    on the CPU from ``generator``, so they do not depend on the device.
    """
    import torch

    if device == "cpu":
        return generator
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    cuda = torch.Generator(device=device)
    cuda.manual_seed(seed)
    return cuda


class EpochLog:
    """Log ``name: epoch k/N loss …`` at most every ``interval`` seconds (and at the last epoch)
    to the ``stochastic_attention.baselines`` logger, so a long fit shows progress in a job log.

    Call it once per epoch (1-based) with that epoch's loss; ``extra`` adds text to the line.
    """

    def __init__(self, name: str, total: int, interval: float = 10.0, device: str = "cpu"):
        self.name, self.total, self.interval, self.device = name, total, interval, device
        self.start = time.perf_counter()
        self.last = self.start
        LOG.info("%s: training %d epochs on %s", name, total, device)

    def __call__(self, epoch: int, loss: float, extra: str = "") -> None:
        now = time.perf_counter()
        if epoch < self.total and now - self.last < self.interval:
            return
        self.last = now
        LOG.info(
            "%s: epoch %d/%d loss %.6g%s (%.1f s, %s)",
            self.name,
            epoch,
            self.total,
            loss,
            extra,
            now - self.start,
            self.device,
        )
