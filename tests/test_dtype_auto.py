"""``dtype: auto``: float32 for large memories, float64 below, resolved once and recorded."""

from __future__ import annotations

import numpy as np
import pytest

from stochastic_attention import backends
from stochastic_attention.domains.base import Memory
from stochastic_attention.domains.synthetic import random_memory
from stochastic_attention.methods.base import RunContext, get_method
from stochastic_attention.methods.chains import start_draw
from workflow_utils import method_defaults

PROTOCOL = {"kind": "multi_chain", "n_chains": 4, "n_steps": 200, "burn_in": 100, "thin": 20,
            "keep": 5, "init_noise": 0.01}  # fmt: skip


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        ((784, 100), "float64"),  # the default profile's memories: r·K = 10⁴
        ((784, 1000), "float64"),  # 784 · 1000 < 10⁶
        ((784, 2000), "float32"),  # K ≥ d: d · K
        ((784, 3500), "float32"),
        ((4096, 100), "float64"),  # faces at the profile's K: span-reduced to r = 100
        ((4096, 1000), "float32"),  # r = K = 1000: K² = 10⁶
        ((2, 784, 3500), "float32"),  # a batch of memories: the last two axes
    ],
)
def test_auto_picks_float32_exactly_above_the_size_threshold(shape, expected):
    assert backends.resolve_dtype("auto", shape) == expected


@pytest.mark.parametrize("dtype", backends.DTYPES)
@pytest.mark.parametrize("shape", [(10, 5), (784, 3500)])
def test_an_explicit_dtype_is_kept_whatever_the_size(dtype, shape):
    assert backends.resolve_dtype(dtype, shape) == dtype


def test_the_threshold_is_the_boundary():
    size = backends.AUTO_FLOAT32_MIN_SIZE
    assert backends.resolve_dtype("auto", (size, 1)) == "float64"  # min(d, K)·K = 1
    assert backends.resolve_dtype("auto", (size, size)) == "float32"
    k = int(np.ceil(np.sqrt(size)))
    assert backends.resolve_dtype("auto", (k, k)) == "float32"
    assert backends.resolve_dtype("auto", (k - 1, k - 1)) == "float64"


def _run(kind, memory, dtype):
    start = start_draw(memory.patterns, "multi_chain", PROTOCOL, [1])
    spec = {"kind": kind, "alpha": 0.05, "beta": 20.0, "protocol": "multi_chain",
            "protocol_params": PROTOCOL, **method_defaults(kind), "dtype": dtype}  # fmt: skip
    return get_method(kind).run(memory, spec, RunContext(rng=np.random.default_rng(0), seed=0,
                                                         start=start))  # fmt: skip


@pytest.mark.parametrize("kind", ["sa", "mala"])
def test_auto_runs_and_records_the_resolved_dtype(kind, monkeypatch):
    memory = Memory(random_memory(12, 8, 3), {"domain": "synthetic"})
    small = _run(kind, memory, "auto")
    assert small.scalars["dtype"] == "float64"
    assert np.array_equal(small.samples, _run(kind, memory, "float64").samples)
    monkeypatch.setattr(backends, "AUTO_FLOAT32_MIN_SIZE", 8 * 8)  # this memory is now large
    large = _run(kind, memory, "auto")
    assert large.scalars["dtype"] == "float32"
    assert np.array_equal(large.samples, _run(kind, memory, "float32").samples)
    assert not np.array_equal(large.samples, small.samples)


def test_the_schema_offers_auto_with_float64_as_the_default():
    schema = get_method("sa").PARAMS_SCHEMA["dtype"]
    assert set(schema["enum"]) == set(backends.DTYPE_CHOICES)
    assert schema["default"] == "float64"
