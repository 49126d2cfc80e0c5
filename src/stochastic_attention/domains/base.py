"""The domain plug-in interface and its registry.

A *domain* turns some kind of data (images, sequences, returns, …) into a memory matrix
``memory: (d, K)`` (one stored pattern per column) and maps states back to the domain's
objects. Every domain is one object (usually a module) with these attributes:

``NAME: str``
    The domain's name in config (``datasets.<name>.domain``), matching ``[a-z][a-z0-9_]*``.
``SOURCE_SCHEMA: dict | None``
    JSON schema of ``sources.<NAME>`` (the domain-level data source), or ``None`` for a
    domain without a shared source (``array`` and ``images`` read a path per dataset).
``DATASET_SCHEMA: dict``
    JSON schema (an object schema with ``properties``/``required``) of the keys a dataset of
    this domain may have besides ``domain`` and the generic keys of :data:`GENERIC_DATASET_KEYS`.
``fetch(source: dict, out_path: Path) -> dict``
    Resolve the source into one raw file at ``out_path`` (an ``.npz``); return a JSON-able
    provenance dict. Only called when ``SOURCE_SCHEMA`` is not ``None``.
``dataset_inputs(params: dict) -> dict[str, str]``
    Files the memory of a dataset reads besides the fetched raw file (a user's array file or
    image folder), so that the workflow re-builds the memory when they change. Optional.
``build_memory(params: dict, raw: Path | None) -> Memory``
    The memory of one dataset (``params`` = the dataset's config block) from the raw file.
``panel(states: (d, n), memory: Memory) -> Panel``
    A picture of states for sample grids (images, text lines or a matrix).
``domain_metrics(samples: (d, S), memory: Memory, groups: (S,)) -> dict[str, float]``
    Optional extra metrics of decoded samples (protein identity, finance KS, …); keys
    ending in ``_se`` are standard errors of the key without the suffix.

Built-in domains are imported lazily by name (:data:`BUILTIN`); a plug-in module registers
its own with :func:`register_domain` when it is imported (config key ``plugins``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from ..errors import UserError
from ..registry import Registry

__all__ = [
    "BUILTIN",
    "GENERIC_DATASET_KEYS",
    "REGISTRY",
    "Domain",
    "DomainError",
    "Memory",
    "Panel",
    "check_columns",
    "domain_names",
    "get_domain",
    "load_memory_file",
    "register_domain",
    "save_memory_file",
    "unit_columns",
]

BUILTIN: dict[str, str] = {
    "synthetic": "stochastic_attention.domains.synthetic",
    "mnist": "stochastic_attention.domains.mnist",
    "array": "stochastic_attention.domains.array",
    "images": "stochastic_attention.domains.images",
    "faces": "stochastic_attention.domains.faces",
    "protein": "stochastic_attention.domains.protein",
    "finance": "stochastic_attention.domains.finance",
}
GENERIC_DATASET_KEYS: dict[str, Any] = {
    "pca_rank": {
        "type": "integer",
        "minimum": 1,
        "description": "project the memory onto its top r principal directions (centred "
        "PCA) and sample in those r coordinates; states decode back to the full space",
    },
}


class DomainError(UserError, ValueError):
    """Bad data for a domain: the message names the file or value and the fix."""


REGISTRY = Registry("domain", "NAME", BUILTIN, DomainError)


@dataclass(frozen=True)
class Memory:
    """A memory matrix with what decoding needs.

    patterns: (d, K) stored patterns as columns; metadata: JSON-able description (domain,
    parameters, provenance, sizes); arrays: extra named arrays a domain needs to decode
    states (a PCA mean and basis, raw returns, alignment columns, …).
    """

    patterns: np.ndarray
    metadata: dict[str, Any] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def d(self) -> int:
        return int(self.patterns.shape[0])

    @property
    def n_patterns(self) -> int:
        return int(self.patterns.shape[1])


@dataclass(frozen=True)
class Panel:
    """What a sample grid shows for a set of states.

    kind ``"image"``: ``images`` (n, h, w) in the domain's own intensity scale; ``"text"``:
    ``lines`` (one per state, e.g. decoded sequences); ``"matrix"``: ``images`` (1, rows,
    cols) drawn as a heat map (e.g. returns × days).
    """

    kind: Literal["image", "text", "matrix"]
    images: np.ndarray | None = None
    lines: tuple[str, ...] = ()


@runtime_checkable
class Domain(Protocol):
    """The shape every domain plug-in has (see the module docstring)."""

    NAME: str
    SOURCE_SCHEMA: dict | None
    DATASET_SCHEMA: dict

    def build_memory(self, params: dict, raw: Path | None) -> Memory: ...

    def panel(self, states: np.ndarray, memory: Memory) -> Panel: ...


def register_domain(domain: Any) -> Any:
    """Register a domain object (or module) under its ``NAME``; returns it (decorator-friendly)."""
    required = ("SOURCE_SCHEMA", "DATASET_SCHEMA", "build_memory", "panel")
    return REGISTRY.add(domain, required, see="domains.base")


def domain_names() -> list[str]:
    """Every known domain: the built-ins and those registered by plug-ins."""
    return REGISTRY.names()


def get_domain(name: str) -> Any:
    """The domain object registered as ``name`` (built-ins are imported on first use)."""
    return REGISTRY.get(name)


def check_columns(matrix: np.ndarray, what: str) -> np.ndarray:
    """``matrix`` (d, K) as float64 after refusing non-finite values and zero columns.

    Names the first offending column, because both would only fail much later (NaN
    samples at the baselines, undefined cosines at the metrics).
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim != 2 or min(matrix.shape) < 1:
        raise DomainError(f"{what}: expected a non-empty (d, K) matrix, got shape {matrix.shape}")
    finite = np.isfinite(matrix).all(axis=0)
    if not finite.all():
        column = int(np.flatnonzero(~finite)[0])
        raise DomainError(
            f"{what}: column {column} holds non-finite values (NaN or inf); fix or drop it"
        )
    zero = ~np.any(matrix != 0, axis=0)
    if np.any(zero):
        column = int(np.flatnonzero(zero)[0])
        raise DomainError(f"{what}: column {column} is all zeros and cannot be unit-normalised")
    return matrix


def unit_columns(matrix: np.ndarray, what: str) -> np.ndarray:
    """``matrix`` (d, K) with every column scaled to unit norm (float64).

    Refuses non-finite values and zero columns first (:func:`check_columns`). A column
    whose norm over- or underflows (entries near 1e308 or 1e-320) is divided by its
    largest magnitude first, so it is normalised correctly instead of turning into zeros
    or NaN; every other column is the plain ``x / ‖x‖``.
    """
    matrix = check_columns(matrix, what)
    with np.errstate(over="ignore", under="ignore"):
        norms = np.linalg.norm(matrix, axis=0)
    extreme = ~np.isfinite(norms) | (norms == 0)
    if np.any(extreme):  # ‖x‖ overflowed (or underflowed): normalise x / max|x| instead
        scaled = matrix[:, extreme] / np.abs(matrix[:, extreme]).max(axis=0)
        matrix = matrix.copy()
        matrix[:, extreme] = scaled
        norms[extreme] = np.linalg.norm(scaled, axis=0)
    return np.ascontiguousarray(matrix / norms)


def save_memory_file(path: Path, memory: Memory) -> None:
    """Write ``memory`` as an ``.npz`` (no pickles): ``memory``, ``metadata`` JSON, ``extra_*``."""
    arrays = {f"extra_{key}": np.asarray(value) for key, value in memory.arrays.items()}
    metadata = np.array(json.dumps(memory.metadata, sort_keys=True, default=str))
    with open(path, "wb") as handle:
        np.savez(handle, memory=memory.patterns, metadata=metadata, **arrays)


def load_memory_file(path: Path | str) -> Memory:
    """Read a memory file written by :func:`save_memory_file`."""
    from ..arrays import BadInputError, read_npz
    from ..errors import rebuild_command

    data = read_npz(path, ("memory", "metadata"), "memory")
    try:
        metadata = json.loads(str(data["metadata"]))
    except json.JSONDecodeError as error:
        raise BadInputError(
            f"memory file {path} has corrupt metadata ({error}); rebuild it with "
            f"`{rebuild_command(path)}`, then re-run the workflow"
        ) from None
    memory = np.asarray(data["memory"], dtype=np.float64)
    finite = np.isfinite(memory).all(axis=0) if memory.ndim == 2 else np.array([False])
    if memory.ndim != 2 or not finite.all():
        problem = (
            f"holds a memory of shape {memory.shape}, not (d, K)"
            if memory.ndim != 2
            else f"holds NaN or inf in column {int(np.flatnonzero(~finite)[0])}"
        )
        raise BadInputError(
            f"memory file {path} {problem}, so it was damaged after it was built; rebuild it "
            f"with `{rebuild_command(path)}`, then re-run the workflow"
        )
    arrays = {k.removeprefix("extra_"): v for k, v in data.items() if k.startswith("extra_")}
    return Memory(memory, metadata, arrays)
