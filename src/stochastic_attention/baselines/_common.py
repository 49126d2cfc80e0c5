"""Shared pieces of the learned baselines (GMM-PCA, VAE, DDPM; SPEC §4).

Every learned baseline is a frozen parameter dataclass (SPEC defaults, built from a config
mapping with :meth:`ConfigParams.from_config`) plus a ``fit(memory, params, seed, …)`` that
returns an object satisfying :class:`FittedBaseline`. Samples are always returned as
``(d, n)`` float64 arrays, one sample per column, like ``memory: (d, K)``.

**Replicates trained together.** The VAE and the DDPM also have ``fit_replicates(memory,
params, seeds)``: R fits, one per seed, advanced as one model. Each replicate's network is
first built exactly as a separate fit builds it (its own ``torch.Generator`` seeded with its
seed draws the initial weights, then its training draws, in the same order); the R copies of
every ``nn.Linear`` are then stacked into one :class:`StackedLinear` (weights ``(R, in, out)``,
biases ``(R, 1, out)``), a layer is one batched product ``baddbmm`` over the replicate axis,
and the loss is the sum of the R replicates' losses, so replicate r's gradient is that of its
own loss. One Adam over the stacked tensors equals R Adams, because Adam's update is
elementwise. Replicate r therefore follows the separate fit with seed r up to float rounding
(different GEMM blocking), which the tests check on the parameters over the first epochs.
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
    "StackedLinear",
    "as_memory",
    "first_non_finite",
    "linear_layers",
    "mlp",
    "renormalise",
    "replicate_generators",
    "replicate_minibatches",
    "replicate_nets",
    "resolve_device",
    "stacked_forward",
    "top_by_max_cos",
    "torch_seed",
    "torch_session",
    "training_generator",
]

DEVICES = ("auto", "cpu", "cuda")
"""Allowed values of the learned baselines' ``device`` parameter (``auto``: cuda if available)."""

LOG = logging.getLogger("stochastic_attention.baselines")

ProgressFn = Callable[[int, float], None]
"""``progress(epoch, loss)`` with a 1-based epoch and that epoch's total loss. The plain
``fit`` calls it every epoch; ``fit_replicates`` only when a progress line is due (about every
10 s, and at the last epoch), with the mean loss over the replicates, because reading a loss
back from the device every epoch forces a host synchronisation."""


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

    def __init__(
        self,
        name: str,
        total: int,
        interval: float = 10.0,
        device: str = "cpu",
        replicates: int = 1,
    ):
        self.name, self.total, self.interval, self.device = name, total, interval, device
        self.start = time.perf_counter()
        self.last = self.start
        together = f", {replicates} replicates together" if replicates > 1 else ""
        LOG.info("%s: training %d epochs on %s%s", name, total, device, together)

    def due(self, epoch: int) -> bool:
        """Whether a line is due at ``epoch`` (1-based): the last epoch, or ``interval``
        seconds since the last line. Cheap (no tensor is read), so it can be asked every
        epoch before deciding to read the loss back from the device."""
        return epoch >= self.total or time.perf_counter() - self.last >= self.interval

    def __call__(self, epoch: int, loss: float, extra: str = "") -> None:
        if not self.due(epoch):
            return
        now = self.last = time.perf_counter()
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


def replicate_generators(seeds: Sequence[int]) -> list[Any]:
    """One CPU ``torch.Generator`` per seed, seeded as :func:`torch_session` seeds a single
    fit's generator, so replicate r draws exactly what a separate fit with ``seeds[r]`` draws."""
    import torch

    if not seeds:
        raise ValueError("fit_replicates needs at least one seed")
    generators = []
    for seed in seeds:
        generator = torch.Generator(device="cpu")
        generator.manual_seed(int(seed))
        generators.append(generator)
    return generators


def replicate_nets(
    make_net: Callable[[Any], Any], seeds: Sequence[int], device: str
) -> tuple[list[Any], list[Any]]:
    """R networks, ``make_net(generator)`` initialised from replicate r's CPU generator and
    moved to ``device``, and each replicate's training generator (:func:`training_generator`):
    replicate r starts exactly as a separate fit with ``seeds[r]``."""
    cpu_generators = replicate_generators(seeds)
    nets = [make_net(generator).to(device) for generator in cpu_generators]
    return nets, [training_generator(device, generator) for generator in cpu_generators]


def replicate_minibatches(patterns: Any, batch: int, generators: Sequence[Any]) -> Iterator[Any]:
    """One epoch's minibatches of the training set ``patterns: (K, d)`` for R replicates.

    With ``batch ≥ K`` every replicate sees the whole set in order: one ``(1, K, d)`` view
    (broadcast over replicates). Otherwise each replicate draws its own permutation from its
    generator, as a separate fit does, and each batch is ``(R, n, d)``.
    """
    import torch

    k = patterns.shape[0]
    if batch >= k:
        yield patterns[None]
        return
    orders = [torch.randperm(k, generator=g, device=patterns.device) for g in generators]
    for first in range(0, k, batch):
        yield torch.stack([patterns[order[first : first + batch]] for order in orders])


def linear_layers(module: Any) -> list[Any]:
    """The ``nn.Linear`` layers of ``module`` in registration order (its forward order for the
    ``mlp`` stacks of this package)."""
    from torch import nn

    return [layer for layer in module.modules() if isinstance(layer, nn.Linear)]


class StackedLinear:
    """R replicate copies of one ``nn.Linear`` as two leaf tensors on one device.

    weight: ``(R, in, out)`` (``nn.Linear.weight`` transposed, so a layer is ``x @ W + b``
    without a transpose); bias: ``(R, 1, out)``. ``layer(x)`` maps ``x: (R, n, in)`` to
    ``(R, n, out)`` with one ``baddbmm``; an ``x`` shared by every replicate may be a stride-0
    ``expand`` of ``(n, in)``.
    """

    def __init__(self, layers: Sequence[Any], device: str = "cpu") -> None:
        import torch

        with torch.no_grad():
            weight = torch.stack([layer.weight.detach().T for layer in layers])
            bias = torch.stack([layer.bias.detach()[None, :] for layer in layers])
        self.weight = weight.to(device).contiguous().requires_grad_(True)
        self.bias = bias.to(device).contiguous().requires_grad_(True)

    def __call__(self, x: Any) -> Any:
        import torch

        return torch.baddbmm(self.bias, x, self.weight)

    def parameters(self) -> list[Any]:
        """``[weight, bias]``, the tensors the optimiser updates."""
        return [self.weight, self.bias]

    def unstack_into(self, layers: Sequence[Any]) -> None:
        """Copy replicate r's weights back into ``layers[r]`` (an ``nn.Linear`` each)."""
        import torch

        with torch.no_grad():
            for r, layer in enumerate(layers):
                layer.weight.copy_(self.weight[r].T)
                layer.bias.copy_(self.bias[r, 0])


def stacked_forward(layers: Sequence[StackedLinear], x: Any, *, relu_last: bool = False) -> Any:
    """``Linear → ReLU → … → Linear`` through stacked layers (``x: (R, n, in)``); the last
    layer is linear unless ``relu_last`` (like ``mlp`` followed by ``nn.ReLU``)."""
    import torch

    for index, layer in enumerate(layers):
        x = layer(x)
        if relu_last or index < len(layers) - 1:
            x = torch.relu_(x)
    return x


def first_non_finite(record: Any) -> tuple[int, int] | None:
    """``(epoch, replicate)`` (0-based) of the first non-finite entry of ``record: (E, R, …)``
    (epochs not yet trained must be finite, e.g. zeros), or ``None``: one read of the record
    instead of a check, and a host synchronisation, every epoch."""
    import torch

    bad = ~torch.isfinite(record.reshape(record.shape[0], record.shape[1], -1)).all(dim=2)
    if not bool(bad.any()):
        return None
    epoch = int(bad.any(dim=1).nonzero()[0, 0])
    return epoch, int(bad[epoch].nonzero()[0, 0])
