"""Method plug-ins run directly on a memory: shapes, groups, the common start draw, backends."""

from __future__ import annotations

import numpy as np
import pytest

from stochastic_attention.domains.base import Memory
from stochastic_attention.domains.synthetic import random_memory
from stochastic_attention.methods.base import RunContext, get_method, method_kinds
from stochastic_attention.methods.chains import start_draw
from workflow_utils import method_defaults

PROTOCOL = {"kind": "multi_chain", "n_chains": 6, "n_steps": 300, "burn_in": 100, "thin": 20,
            "keep": 5, "init_noise": 0.01}  # fmt: skip


@pytest.fixture
def memory() -> Memory:
    return Memory(random_memory(12, 8, 3), {"domain": "synthetic"})


def _spec(kind: str, **extra) -> dict:
    return {"kind": kind, "alpha": 0.05, "beta": 20.0, "protocol": "multi_chain",
            "protocol_params": PROTOCOL, **method_defaults(kind), **extra}  # fmt: skip


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("kind", ["sa", "mala"])
def test_samplers_keep_five_snapshots_per_chain_from_the_shared_start(memory, kind, backend):
    start = start_draw(memory.patterns, "multi_chain", PROTOCOL, [1, 2])
    result = get_method(kind).run(
        memory,
        _spec(kind, backend=backend, device="cpu"),
        RunContext(rng=np.random.default_rng(0), seed=0, start=start),
    )
    assert result.samples.shape == (12, 2 * 6 * 5)
    assert np.array_equal(np.bincount(result.groups), np.full(12, 5))
    assert np.array_equal(result.arrays["start_patterns"], start.start_patterns)
    assert result.arrays["trace_energy"].shape == (10, 12)
    assert np.all(np.isfinite(result.samples))
    if kind == "mala":
        assert 0.5 < result.arrays["acceptance"].mean() <= 1.0


def test_every_builtin_kind_has_a_category_and_a_schema():
    for kind in method_kinds():
        method = get_method(kind)
        assert method.CATEGORY in ("sampler", "simple", "learned")
        assert isinstance(method.PARAMS_SCHEMA, dict)


def test_beta_rules_belong_to_the_method_kind():
    """The category decides a kind's β unless the kind says otherwise (gaussian's noise β)."""
    from stochastic_attention.methods.base import MethodError, betas_of

    def resolve(rule, alpha):
        return 2.0 * rule  # a stand-in for the memory's β rule: shows what was resolved

    assert betas_of(get_method("sa"))({"beta": 5, "alpha": 0.1}, resolve) == {
        "beta": 10.0, "energy_beta": 10.0}  # fmt: skip
    assert betas_of(get_method("bootstrap"))({"energy_beta": 3}, resolve) == {"energy_beta": 6.0}
    gaussian = betas_of(get_method("gaussian"))
    assert gaussian({"energy_beta": 3}, resolve) == {"energy_beta": 6.0, "beta": 6.0}
    assert gaussian({"energy_beta": 3, "beta": 7}, resolve) == {"energy_beta": 6.0, "beta": 14.0}
    with pytest.raises(MethodError, match="needs energy_beta"):
        betas_of(get_method("convex"))({"kind": "convex", "method": "c"}, resolve)

    class OwnRule:
        KIND, CATEGORY = "own_rule", "simple"

        @staticmethod
        def resolve_betas(spec, resolve):
            return {"energy_beta": 1.0}

    assert betas_of(OwnRule())({}, resolve) == {"energy_beta": 1.0}


def test_replicates_follow_the_kind_then_its_category(memory):
    """Simple kinds run once per replicate (their own seeds); a kind's run_replicates wins."""
    from stochastic_attention.methods.base import MethodSamples, run_replicates

    contexts = [RunContext(rng=np.random.default_rng(s), seed=s, replicate=r)
                for r, s in enumerate((4, 5))]  # fmt: skip
    spec = {"kind": "bootstrap", "n_samples": 10, "energy_beta": 1.0}
    result, replicate = run_replicates(get_method("bootstrap"), memory, spec, contexts)
    assert result.samples.shape == (12, 20) and list(np.bincount(replicate)) == [10, 10]
    alone = get_method("bootstrap").run(memory, spec, RunContext(np.random.default_rng(5), 5))
    np.testing.assert_array_equal(result.samples[:, 10:], alone.samples)  # replicate 1's seed

    class Together:
        KIND, CATEGORY = "together", "simple"

        @staticmethod
        def run_replicates(memory, spec, contexts):
            samples = np.zeros((memory.d, len(contexts)))
            return MethodSamples(samples, np.arange(len(contexts))), np.arange(len(contexts))

    result, replicate = run_replicates(Together(), memory, spec, contexts)
    assert result.samples.shape == (12, 2) and list(replicate) == [0, 1]
