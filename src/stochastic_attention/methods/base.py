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
``run(memory: Memory, spec: dict, context: RunContext) -> MethodSamples``
    Draw the samples. ``spec`` is the method's resolved config block (``beta`` already a
    number); every random draw comes from ``context``.
``run_replicates(memory, spec, contexts) -> (MethodSamples, replicate ids)``, optional
    All R replicates in one call (``contexts[r]`` is replicate r's): the learned baselines
    use it to train their R fits together. Without it the sample step calls ``run`` once per
    replicate (once in all for a learned kind that does not refit).
``SEEDED_FIT: bool``, optional, learned kinds
    ``False`` when the fit draws nothing at random (GARCH's maximum likelihood): refits per
    replicate would be identical, so the kind is fitted once and drawn R times.
``resolve_betas(spec, resolve) -> dict``, optional
    The kind's inverse temperatures as numbers (``resolve(rule, alpha)`` turns a β rule of
    config into one). Without it :data:`SAMPLES_AT_BETA` decides: such a kind resolves
    ``beta`` and reports energies at it (:func:`sampler_betas`); any other resolves
    ``energy_beta`` (:func:`baseline_betas`).

What generic code asks of a kind is declared by the kind; each attribute is optional and its
default follows from ``CATEGORY`` here, in one place (read them through the functions of
the same name, :func:`uses_protocol` …), so a plug-in can say it without being a "sampler":

``USES_PROTOCOL: bool`` (default: samplers)
    The kind runs chains under a named protocol (a ``protocol`` key, its options as
    ``spec["protocol_params"]``) from the common start draw (``spec["seeds"]["start"]``,
    ``context.start``); all replicates' chains run as one call (:func:`run_replicates`).
``SAMPLES_AT_BETA: bool`` (default: samplers)
    The kind draws at its own ``beta`` (and ``alpha``): its energies are reported there, it
    may be a control's ``reference``, and a domain's metrics receive that β. Otherwise it
    is a baseline: its energies are reported at ``energy_beta``, which (like ``n_samples``)
    an experiment may set for all its baselines.
``LOGS_LOSS: bool`` (default: learned kinds)
    The samples hold ``loss_<term>`` histories: an experiment adds a ``training`` figure.
``LOSS_STYLE: str`` (default ``model``)
    How the ``training`` figure draws the losses: ``gmm`` (EM iterations from the second
    on), ``vae`` (total loss dashed over its terms), ``ddpm`` (linear axis around the bulk,
    the ε-MSE of predicting 0) or ``model`` (a plain curve, log axis when it spans 20×).
``COST_MODEL: str`` (default: ``chains`` for samplers, ``small`` otherwise)
    How :mod:`stochastic_attention.resources` sizes the kind's sample job for a cluster:
    ``chains`` (steps × min(d, K) × K × chains), ``ddpm`` / ``vae`` (that network fitted
    per replicate) or ``small``.

The sample step calls :func:`betas_of` and :func:`run_replicates`, the planner, config
checks and resource estimates the functions above: none holds a branch on a kind's name or category.

Built-in kinds are imported lazily (:data:`BUILTIN`); plug-ins call :func:`register_method`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from ..domains.base import Memory
from ..errors import MethodError
from ..registry import Registry

__all__ = [
    "BUILTIN",
    "Category",
    "MethodError",
    "MethodKind",
    "MethodSamples",
    "RunContext",
    "StartDraw",
    "baseline_betas",
    "betas_of",
    "cost_model",
    "get_method",
    "logs_loss",
    "loss_style",
    "method_kinds",
    "n_samples_of",
    "register_method",
    "run_replicates",
    "sampler_betas",
    "samples_at_beta",
    "start_draw",
    "uses_protocol",
]

Category = Literal["sampler", "simple", "learned"]
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
    "hmm_emission": "stochastic_attention.methods.hmm_emission",
    "shuffled": "stochastic_attention.methods.shuffled",
    "garch": "stochastic_attention.methods.garch",
    "mvn_gaussian": "stochastic_attention.methods.mvn_gaussian",
}


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
class MethodSamples:
    """What a method drew: the return value of every kind's ``run``, and what the sample
    step writes to ``samples/{domain}/{dataset}/{method}.npz`` (after :func:`run_replicates`
    has joined the replicates' with :func:`concatenate`).

    samples: (d, S); groups: (S,) chain ids (or consecutive groups of 5); arrays: extra
    per-job arrays (``acceptance`` (C,), ``loss_<name>`` histories, ``steps``,
    ``start_patterns``…); scalars: JSON-able numbers for provenance (``train_seconds``,
    ``sampling_seconds``, ``train_size``, ``final_loss``…). A sampler kind builds it from
    its run's :class:`~stochastic_attention.samplers.ChainRecords` (the kept snapshots,
    chain ids, energy traces); a baseline from its model's draws.
    """

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

    def run(self, memory: Memory, spec: dict, context: RunContext) -> MethodSamples: ...


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
        self.resolve_betas = getattr(module, f"resolve_betas_{kind}", None)
        if kind in getattr(module, "LOSS_STYLES", {}):
            self.LOSS_STYLE = module.LOSS_STYLES[kind]
        if kind in getattr(module, "COST_MODELS", {}):
            self.COST_MODEL = module.COST_MODELS[kind]


def register_method(kind: Any) -> Any:
    """Register a method object (or module) under its ``KIND``; returns it."""
    name = REGISTRY.check(kind, ("PARAMS_SCHEMA", "run"), see="methods.base")
    if getattr(kind, "CATEGORY", None) not in ("sampler", "simple", "learned"):
        raise ValueError(f"method {name!r}: CATEGORY must be sampler, simple or learned")
    REGISTRY.entries[name] = kind
    return kind


def method_kinds() -> list[str]:
    """Every known method kind: built-in and registered by plug-ins."""
    return REGISTRY.names()


def get_method(kind: str) -> Any:
    """The method object of ``kind`` (built-ins are imported on first use)."""
    return REGISTRY.get(kind)


def _load_kind(module: Any, kind: str) -> Any:
    """A built-in's object: the module, or one kind of a module that implements several."""
    return _Kind(module, kind) if hasattr(module, "CATEGORIES") else module


REGISTRY = Registry("method kind", "KIND", BUILTIN, MethodError, load=_load_kind)


def n_samples_of(spec: dict, kind: str) -> int:
    """``spec["n_samples"]`` of a kind that draws that many samples, checked (an int ≥ 2)
    also when the kind runs outside the plan's schema checks; a bad value names ``kind``."""
    n = spec.get("n_samples")
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 2:
        raise MethodError(f"{kind}: n_samples must be an integer ≥ 2, got {n!r}")
    return int(n)


# ------------------------------------------------------- what generic code asks a kind


def uses_protocol(kind: Any) -> bool:
    """Whether the kind runs chains under a protocol from the common start draw
    (``USES_PROTOCOL``; default: the samplers)."""
    return bool(getattr(kind, "USES_PROTOCOL", kind.CATEGORY == "sampler"))


def samples_at_beta(kind: Any) -> bool:
    """Whether the kind draws at its own ``beta`` (``SAMPLES_AT_BETA``; default: the
    samplers); else it is a baseline, its energies reported at ``energy_beta``."""
    return bool(getattr(kind, "SAMPLES_AT_BETA", kind.CATEGORY == "sampler"))


def logs_loss(kind: Any) -> bool:
    """Whether the kind logs a training loss per epoch (``LOGS_LOSS``; default: learned)."""
    return bool(getattr(kind, "LOGS_LOSS", kind.CATEGORY == "learned"))


COST_MODELS = ("chains", "ddpm", "vae", "small")


def cost_model(kind: Any) -> str:
    """How :mod:`stochastic_attention.resources` predicts the kind's sample job
    (``COST_MODEL``): ``chains`` (Langevin steps × min(d, K) × K × chains; default of the
    samplers), ``ddpm`` / ``vae`` (that network, fitted per replicate on its ``train``
    parameters) or ``small`` (seconds; default of every other kind)."""
    model = str(getattr(kind, "COST_MODEL", "chains" if kind.CATEGORY == "sampler" else "small"))
    if model not in COST_MODELS:
        raise ValueError(f"method {kind.KIND!r}: COST_MODEL must be one of {COST_MODELS}")
    return model


def loss_style(kind: Any) -> str:
    """How the training figure draws the kind's losses (``LOSS_STYLE``; default ``model``)."""
    return str(getattr(kind, "LOSS_STYLE", "model"))


# ------------------------------------------------------------ β and replicates per kind

BetaResolver = Callable[[Any, "float | None"], float]
"""``resolve(rule, alpha)``: a β rule of config (a number, ``{critical: c}``, ``{snr: s}``)
as a number for this job's memory."""


def sampler_betas(spec: dict, resolve: BetaResolver) -> dict[str, float]:
    """A sampler runs at its ``beta`` and its energies are reported there."""
    beta = resolve(spec["beta"], spec["alpha"])
    return {"beta": beta, "energy_beta": beta}


def baseline_betas(spec: dict, resolve: BetaResolver) -> dict[str, float]:
    """A baseline's energies are reported at ``energy_beta`` (its own or the experiment's)."""
    if "energy_beta" not in spec:
        raise MethodError(
            f"method {spec.get('method', spec['kind'])}: a baseline needs energy_beta (the β its "
            "energies are reported at), on the method or on the experiment"
        )
    return {"energy_beta": resolve(spec["energy_beta"], spec.get("alpha"))}


def betas_of(kind: Any) -> Callable[[dict, BetaResolver], dict[str, float]]:
    """The kind's ``resolve_betas``, else the rule of :func:`samples_at_beta`."""
    own = getattr(kind, "resolve_betas", None)
    if own is not None:
        return own
    return sampler_betas if samples_at_beta(kind) else baseline_betas


def concatenate(results: list[MethodSamples]) -> tuple[MethodSamples, np.ndarray]:
    """Stack per-replicate results: groups renumbered, replicate ids per sample."""
    groups, replicate, offset = [], [], 0
    for r, result in enumerate(results):
        groups.append(np.asarray(result.groups) + offset)
        offset = int(groups[-1].max()) + 1
        replicate.append(np.full(result.samples.shape[1], r))
    arrays: dict[str, np.ndarray] = {}
    for key in results[0].arrays:
        values = [np.asarray(result.arrays[key]) for result in results]
        if key.startswith("loss_"):  # one training history per replicate: (R, epochs)
            arrays[key] = np.full((len(values), max(v.size for v in values)), np.nan)
            for r, value in enumerate(values):
                arrays[key][r, : value.size] = value.ravel()
        else:
            arrays[key] = np.concatenate(values, axis=-1) if values[0].ndim else np.stack(values)
    scalars = dict(results[0].scalars)
    for key, value in results[0].scalars.items():
        column = [result.scalars.get(key) for result in results]
        if key.endswith("seconds"):
            scalars[key] = float(sum(value or 0.0 for value in column))
        elif key.startswith("final_") and isinstance(value, int | float) and len(column) > 1:
            scalars[key] = float(np.mean(column))  # one final loss per refit: mean, SD, each
            scalars[f"{key}_sd_rep"] = float(np.std(column, ddof=1))
            scalars[f"{key}_replicates"] = [float(v) for v in column]
    merged = MethodSamples(
        np.concatenate([result.samples for result in results], axis=1),
        np.concatenate(groups),
        arrays,
        scalars,
    )
    return merged, np.concatenate(replicate)


def _run_each(kind: Any, memory: Memory, spec: dict, contexts: list[RunContext]):
    """One ``run`` per replicate, concatenated (simple baselines)."""
    return concatenate([kind.run(memory, spec, context) for context in contexts])


def start_draw(memory: np.ndarray, protocol: str, options: dict, seeds: list[int]) -> StartDraw:
    """The common start draw of one dataset and protocol for every replicate.

    Replicate r draws from ``seeds[r]`` (derived from dataset, protocol and replicate, never
    from the method): multi-chain starts at ``n_chains`` distinct stored patterns (with
    replacement only when C > K), single-chain at ``start_pattern``; both add
    ``N(0, init_noise² I)``. Chains of all replicates are concatenated: (d, R·C).
    """
    from .. import samplers

    n_patterns = memory.shape[1]
    patterns, states = [], []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        noise = float(options["init_noise"])
        if protocol == "multi_chain":
            starts, initial = samplers.draw_starts(memory, int(options["n_chains"]), noise, rng)
        else:
            start = int(options["start_pattern"])
            if not 0 <= start < n_patterns:
                raise MethodError(
                    f"protocols: start_pattern {start} is not a column of this memory "
                    f"(K = {n_patterns})"
                )
            starts = np.array([start])
            initial = memory[:, starts] + noise * rng.standard_normal((memory.shape[0], 1))
        patterns.append(starts)
        states.append(initial)
    return StartDraw(np.concatenate(patterns), np.concatenate(states, axis=1))


def _run_chains(kind: Any, memory: Memory, spec: dict, contexts: list[RunContext]):
    """Every replicate's chains in one run over the common start draw (samplers).

    ``spec["seeds"]["start"][r]`` seeds replicate r's starts (from dataset, protocol and
    replicate only, so every sampler of a dataset starts alike).
    """
    options = spec["protocol_params"]
    protocol = options["kind"]
    start = start_draw(memory.patterns, protocol, options, spec["seeds"]["start"])
    result = kind.run(memory, spec, replace(contexts[0], start=start))
    per_replicate = start.start_patterns.size // len(contexts)
    return result, np.asarray(result.arrays["chains"]) // per_replicate


def _refits(kind: Any, spec: dict) -> bool:
    """Whether a learned kind fits once per replicate: ``refit_replicates`` (default true),
    unless the kind's fit draws nothing at random (``SEEDED_FIT = False``: refits would be
    identical, so one fit is drawn R times)."""
    return bool(spec["refit_replicates"]) and bool(getattr(kind, "SEEDED_FIT", True))


def _run_learned(kind: Any, memory: Memory, spec: dict, contexts: list[RunContext]):
    """A fit per replicate (:func:`_refits`), else one fit drawn R times."""
    replicates = len(contexts)
    if _refits(kind, spec):
        result, replicate_ids = _run_each(kind, memory, spec, contexts)
        result.scalars.setdefault("fits", replicates)
        return result, replicate_ids
    scaled = spec | {"n_samples": spec["n_samples"] * replicates}
    if "select_top_of" in spec:
        scaled["select_top_of"] = spec["select_top_of"] * replicates
    result = kind.run(memory, scaled, contexts[0])
    result.scalars.setdefault("fits", 1)
    return result, np.arange(result.samples.shape[1]) // int(spec["n_samples"])


def run_replicates(
    kind: Any, memory: Memory, spec: dict, contexts: list[RunContext]
) -> tuple[MethodSamples, np.ndarray]:
    """All R replicates of one job (``contexts[r]`` is replicate r's): the kind's own
    ``run_replicates``, else a policy (a kind that :func:`uses_protocol`: one run of all
    chains; a learned kind: a fit per replicate unless refits would repeat themselves; any
    other: a run per replicate). Returns the samples and each sample's replicate id."""
    own = getattr(kind, "run_replicates", None)
    if own is not None:
        result, replicate_ids = own(memory, spec, contexts)
    else:
        if uses_protocol(kind):
            policy = _run_chains
        else:
            policy = _run_learned if kind.CATEGORY == "learned" else _run_each
        result, replicate_ids = policy(kind, memory, spec, contexts)
    if kind.CATEGORY == "learned":
        result.scalars["seeded_fit"] = bool(getattr(kind, "SEEDED_FIT", True))
    return result, replicate_ids
