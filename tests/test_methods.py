"""Method plug-ins run directly on a memory: shapes, groups, the common start draw, backends."""

from __future__ import annotations

import numpy as np
import pytest

from stochastic_attention.domains.base import Memory
from stochastic_attention.domains.synthetic import random_memory
from stochastic_attention.methods.base import RunContext, get_method, method_kinds
from stochastic_attention.methods.chains import start_draw

PROTOCOL = {"kind": "multi_chain", "n_chains": 6, "n_steps": 300, "burn_in": 100, "thin": 20,
            "keep": 5, "init_noise": 0.01}  # fmt: skip


@pytest.fixture
def memory() -> Memory:
    return Memory(random_memory(12, 8, 3), {"domain": "synthetic"})


def _spec(kind: str, **extra) -> dict:
    return {"kind": kind, "alpha": 0.05, "beta": 20.0, "protocol": "multi_chain",
            "protocol_params": PROTOCOL, **extra}  # fmt: skip


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("kind", ["sa", "mala"])
def test_samplers_keep_five_snapshots_per_chain_from_the_shared_start(memory, kind, backend):
    start = start_draw(memory.memory, "multi_chain", PROTOCOL, [1, 2])
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
