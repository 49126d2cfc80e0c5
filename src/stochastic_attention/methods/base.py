"""The method plug-in interface (samplers and baselines) and its registry.

A *method kind* turns a memory into S samples. Every kind is one object (usually a
module) with:

``KIND: str``
    The value of ``methods.<name>.kind`` in config, matching ``[a-z][a-z0-9_]*``.
``CATEGORY: "sampler" | "simple" | "learned"``
    Samplers run chains (they use ``alpha``, ``beta``, a ``protocol`` and the common start
    draw); simple baselines draw ``n_samples`` directly; learned baselines fit a model first
    (they may train on another dataset, ``train_dataset``, and log a loss history).
``PARAMS_SCHEMA: dict``
    JSON schema ``properties`` of the kind's own keys (besides the generic method keys).
``DOMAINS: tuple[str, ...] | None``
    The domains the kind works on (``None``: every domain). ``hmm_emission`` only makes
    sense for ``protein``, ``garch`` only for ``finance``.
``run(memory: Memory, spec: dict, context: RunContext) -> SampleResult``
    Draw the samples. ``spec`` is the method's resolved config block (``beta`` already a
    number); every random draw comes from ``context``.
``run_replicates(memory, spec, contexts) -> (SampleResult, replicate ids)``, optional
    All R replicates in one call (``contexts[r]`` is replicate r's): the learned baselines
    use it to train their R fits together. Without it the sample step calls ``run`` once per
    replicate (once in all for a learned kind that does not refit).
``SEEDED_FIT: bool``, optional, learned kinds
    ``False`` when the fit draws nothing at random (GARCH's maximum likelihood): refits per
    replicate would be identical, so the kind is fitted once and drawn R times.

Built-in kinds are imported lazily (:data:`BUILTIN`); plug-ins call :func:`register_method`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from ..domains.base import Memory
from ..errors import UserError

__all__ = [
    "BUILTIN",
    "Category",
    "MethodError",
    "MethodKind",
    "RunContext",
    "SampleResult",
    "StartDraw",
    "get_method",
    "method_kinds",
    "register_method",
]

Category = Literal["sampler", "simple", "learned"]
KIND_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
BUILTIN: dict[str, str] = {
    "sa": "stochastic_attention.methods.chains",
    "mala": "stochastic_attention.methods.chains",
    "multihead_sa": "stochastic_attention.methods.chains",
    "bootstrap": "stochastic_attention.methods.simple",
    "gaussian": "stochastic_attention.methods.simple",
    "convex": "stochastic_attention.methods.simple",
    "matched_gaussian": "stochastic_attention.methods.simple",
    "isotropic_gaussian": "stochastic_attention.methods.simple",
    "gmm_pca": "stochastic_attention.methods.learned",
    "vae": "stochastic_attention.methods.learned",
    "ddpm": "stochastic_attention.methods.learned",
    "hmm_emission": "stochastic_attention.baselines.hmm_emission",
    "shuffled": "stochastic_attention.baselines.shuffled",
    "garch": "stochastic_attention.baselines.garch",
    "mvn_gaussian": "stochastic_attention.baselines.finance_simple",
}
_REGISTERED: dict[str, Any] = {}


class MethodError(UserError, ValueError):
    """A method cannot run with these parameters or inputs; the message says why."""


@dataclass(frozen=True)
class StartDraw:
    """The common start draw of one dataset, protocol and replicate (common random numbers).

    start_patterns: (C,) stored pattern each chain starts from; initial_states: (d, C).
    Every sampler on the same dataset and protocol receives the same draw.
    """

    start_patterns: np.ndarray
    initial_states: np.ndarray


@dataclass
class RunContext:
    """Everything a method needs besides its memory and spec.

    rng: the method's own generator (seeded from dataset, method and replicate);
    seed: the int behind it (for torch generators); threads: BLAS/torch threads;
    start: the common start draw (samplers only); reference: samples (d, S) of the
    sampler a control matches (``matched_gaussian``, ``isotropic_gaussian``);
    train_memory: the memory a learned baseline trains on when it is not ``memory``.
    """

    rng: np.random.Generator
    seed: int
    threads: int = 1
    replicate: int = 0
    start: StartDraw | None = None
    reference: np.ndarray | None = None
    train_memory: Memory | None = None
    progress: Any = None


@dataclass
class SampleResult:
    """What a method drew. samples: (d, S); groups: (S,) chain ids (or consecutive groups
    of 5); arrays: extra per-job arrays (``acceptance`` (C,), ``loss_<name>`` histories,
    ``steps``, ``start_patterns``…); scalars: JSON-able numbers for provenance
    (``train_seconds``, ``sampling_seconds``, ``train_size``, ``final_loss``…)."""

    samples: np.ndarray
    groups: np.ndarray
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    scalars: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class MethodKind(Protocol):
    """The shape every method plug-in has (see the module docstring)."""

    KIND: str
    CATEGORY: Category
    PARAMS_SCHEMA: dict

    def run(self, memory: Memory, spec: dict, context: RunContext) -> SampleResult: ...


class _Kind:
    """One kind of a module that implements several (``run_<kind>`` functions)."""

    def __init__(self, module: Any, kind: str) -> None:
        self.KIND = kind
        self.CATEGORY = module.CATEGORIES[kind]
        self.PARAMS_SCHEMA = module.PARAMS_SCHEMAS[kind]
        self.DOMAINS = getattr(module, "DOMAINS", {}).get(kind)
        self.run = getattr(module, f"run_{kind}")
        self.check_train = getattr(module, f"check_train_{kind}", None)
        self.run_replicates = getattr(module, f"run_replicates_{kind}", None)


def register_method(kind: Any) -> Any:
    """Register a method object (or module) under its ``KIND``; returns it."""
    name = getattr(kind, "KIND", None)
    if not isinstance(name, str) or not KIND_PATTERN.match(name):
        raise ValueError(f"a method needs a KIND matching {KIND_PATTERN.pattern}, got {name!r}")
    if getattr(kind, "CATEGORY", None) not in ("sampler", "simple", "learned"):
        raise ValueError(f"method {name!r}: CATEGORY must be sampler, simple or learned")
    for attribute in ("PARAMS_SCHEMA", "run"):
        if not hasattr(kind, attribute):
            raise ValueError(f"method {name!r} lacks {attribute} (see methods.base)")
    _REGISTERED[name] = kind
    return kind


def method_kinds() -> list[str]:
    """Every known method kind: built-in and registered by plug-ins."""
    return sorted(set(BUILTIN) | set(_REGISTERED))


def get_method(kind: str) -> Any:
    """The method object of ``kind`` (built-ins are imported on first use)."""
    if kind not in _REGISTERED:
        if kind not in BUILTIN:
            known = ", ".join(method_kinds())
            raise MethodError(f"unknown method kind {kind!r}; known kinds: {known}")
        module = import_module(BUILTIN[kind])
        _REGISTERED[kind] = (
            _Kind(module, kind) if hasattr(module, "CATEGORIES") else module
        )
    return _REGISTERED[kind]
