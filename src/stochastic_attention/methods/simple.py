"""Training-free baseline kinds of SPEC §4 (the draws live in ``baselines.simple``)."""

from __future__ import annotations

from ..baselines import simple
from ..domains.base import Memory
from ..metrics import consecutive_groups
from .base import BetaResolver, MethodError, MethodSamples, RunContext, baseline_betas

__all__ = ["CATEGORIES", "PARAMS_SCHEMAS"]

CATEGORIES = {
    "bootstrap": "simple",
    "gaussian": "simple",
    "convex": "simple",
    "matched_gaussian": "simple",
    "isotropic_gaussian": "simple",
}
_REFERENCE = {
    "reference": {"type": "string", "description": "the sampler method whose samples it controls"}
}
PARAMS_SCHEMAS: dict[str, dict] = {
    "bootstrap": {},
    "gaussian": {
        "alpha": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1,
                  "description": "σ = sqrt(2α/β): one SA step's noise"},
        "beta": {"$ref": "#/$defs/beta_rule"},
    },
    "convex": {},
    "matched_gaussian": _REFERENCE,
    "isotropic_gaussian": _REFERENCE,
}


def _result(samples) -> MethodSamples:
    return MethodSamples(samples, consecutive_groups(samples.shape[1]))


def run_bootstrap(memory: Memory, spec: dict, context: RunContext) -> MethodSamples:
    """Stored patterns drawn uniformly."""
    return _result(simple.bootstrap(memory.patterns, spec["n_samples"], context.rng))


def resolve_betas_gaussian(spec: dict, resolve: BetaResolver) -> dict[str, float]:
    """``energy_beta`` as every baseline; the noise temperature ``beta``: its own, else
    ``energy_beta``'s rule."""
    betas = baseline_betas(spec, resolve)
    return betas | {"beta": resolve(spec.get("beta", spec["energy_beta"]), spec.get("alpha"))}


def run_gaussian(memory: Memory, spec: dict, context: RunContext) -> MethodSamples:
    """A stored pattern + N(0, σ² I), σ = sqrt(2α/β)."""
    if "alpha" not in spec or "beta" not in spec:
        raise MethodError("gaussian: needs 'alpha' and 'beta' (σ = sqrt(2α/β))")
    draws = simple.gaussian_perturbation(
        memory.patterns, spec["n_samples"], context.rng, alpha=spec["alpha"], beta=spec["beta"]
    )
    return _result(draws)


def run_convex(memory: Memory, spec: dict, context: RunContext) -> MethodSamples:
    """Random convex combinations of the stored patterns."""
    return _result(simple.convex_combination(memory.patterns, spec["n_samples"], context.rng))


def _reference(context: RunContext, kind: str):
    if context.reference is None:
        raise MethodError(f"{kind}: needs the samples of its reference sampler")
    return context.reference


def run_matched_gaussian(memory: Memory, spec: dict, context: RunContext) -> MethodSamples:
    """Per-coordinate mean and variance of the reference sampler's samples."""
    reference = _reference(context, "matched_gaussian")
    return _result(simple.matched_gaussian(reference, spec["n_samples"], context.rng))


def run_isotropic_gaussian(memory: Memory, spec: dict, context: RunContext) -> MethodSamples:
    """N(0, I) rescaled to the reference samples' mean norm."""
    reference = _reference(context, "isotropic_gaussian")
    return _result(simple.isotropic_gaussian(reference, spec["n_samples"], context.rng))
