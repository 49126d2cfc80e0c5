"""Sampler method kinds ``sa`` (unadjusted Langevin) and ``mala`` (Metropolis-adjusted).

Both run the protocol named by ``spec["protocol"]`` (SPEC §2) over the common start draw in
``context.start`` (one chain per column; all replicates' chains advance together as one
matrix), record every snapshot after burn-in, and return the kept ones: ``keep`` evenly
spaced snapshots per chain for ``multi_chain``, every snapshot for ``single_chain``. Besides
the samples they return each chain's energy at every snapshot (``trace_energy``, for
effective sample size and R-hat) and MALA's per-chain acceptance.
"""

from __future__ import annotations

import numpy as np

from .. import samplers
from ..domains.base import Memory
from ..energy import energy
from ..metrics import consecutive_groups
from .base import MethodError, MethodSamples, RunContext, start_draw

__all__ = [
    "CATEGORIES", "PARAMS_SCHEMAS", "run_mala", "run_multihead_sa", "run_sa", "start_draw"
]

CATEGORIES = {"sa": "sampler", "mala": "sampler", "multihead_sa": "sampler"}
_BACKEND = {
    "backend": {"enum": ["numpy", "torch"], "default": "numpy",
                "description": "array library of the sampler (torch: CPU or CUDA)"},
    "device": {"enum": ["auto", "cpu", "cuda"], "default": "auto",
               "description": "torch device (auto: CUDA when available)"},
    "dtype": {"enum": ["float64", "float32", "auto"], "default": "float64",
              "description": "auto: float32 for large memories, float64 below "
              "(backends.resolve_dtype); the samples file records the one used"},
}  # fmt: skip
PARAMS_SCHEMAS: dict[str, dict] = {
    "sa": _BACKEND,
    "mala": _BACKEND,
    "multihead_sa": {
        "n_heads": {"type": "integer", "minimum": 1, "default": 1,
                    "description": "heads: contiguous slices of the centred memory's principal "
                    "directions, independent chains, outputs summed (SPEC §6 E16)"},
        "rank": {"type": ["integer", "null"], "minimum": 1, "default": None,
                 "description": "principal directions shared out (default: the centred rank)"},
        "head_kernel": {"enum": ["sa", "mala"], "default": "sa"},
    },
}
GROUP_SIZE = 5  # SPEC §3: a single chain's snapshots form consecutive groups of 5


def _run(kernel: str, memory: Memory, spec: dict, context: RunContext) -> MethodSamples:
    if context.start is None:
        raise MethodError(f"{kernel}: a sampler needs the common start draw (context.start)")
    options = spec["protocol_params"]
    protocol = options["kind"]
    record_steps = samplers.snapshot_steps(options["n_steps"], options["burn_in"], options["thin"])
    common = {
        "beta": spec["beta"],
        "alpha": spec["alpha"],
        "rng": context.rng,
        "record_steps": record_steps,
    }
    if kernel == "multihead_sa":
        from ..multihead import multihead_run

        run = multihead_run(
            memory.patterns, context.start.initial_states, n_heads=spec["n_heads"],
            kernel=spec["head_kernel"], rank=spec["rank"], **common,
        )  # fmt: skip
    else:
        from ..backends import resolve_dtype, run_chains

        dtype = resolve_dtype(spec["dtype"], memory.patterns.shape)
        run = run_chains(
            memory.patterns, context.start.initial_states, kernel=kernel,
            backend=spec["backend"], device=spec["device"],
            dtype=dtype, **common,
        )  # fmt: skip
    n_records, d, n_chains = run.records.shape
    if protocol == "multi_chain":
        positions = samplers.evenly_spaced_positions(n_records, options["keep"])
        groups = np.repeat(np.arange(n_chains), positions.size)
    elif protocol == "single_chain":
        positions = np.arange(n_records)
        if n_records % GROUP_SIZE:
            raise MethodError(
                f"single_chain: {n_records} snapshots do not split into groups of {GROUP_SIZE}; "
                "change n_steps, burn_in or thin"
            )
        per_chain = consecutive_groups(n_records, GROUP_SIZE)
        groups = (np.arange(n_chains)[:, None] * per_chain.max() + 1 + per_chain).ravel()
    else:
        raise MethodError(f"unknown protocol {protocol!r}; use multi_chain or single_chain")
    samples = samplers.chain_major(np.asarray(run.records[positions], dtype=np.float64))
    run_records = np.asarray(run.records, dtype=np.float64)
    flat = run_records.transpose(1, 0, 2).reshape(d, n_records * n_chains)
    traces = energy(memory.patterns, flat, spec["beta"]).reshape(n_records, n_chains)
    arrays = {
        "chains": np.repeat(np.arange(n_chains), positions.size),
        "steps": np.tile(record_steps[positions], n_chains),
        "start_patterns": context.start.start_patterns,
        "initial_states": context.start.initial_states,
        "trace_energy": traces,
        "trace_steps": record_steps,
    }
    if run.acceptance is not None:
        arrays["acceptance"] = run.acceptance
    scalars: dict = {"sampling_seconds": run.wall_seconds}
    if kernel != "multihead_sa":
        scalars["dtype"] = dtype
    return MethodSamples(samples, groups, arrays, scalars)


def run_sa(memory: Memory, spec: dict, context: RunContext) -> MethodSamples:
    """Unadjusted Langevin (SPEC §2) with the exact span reduction."""
    return _run("sa", memory, spec, context)


def run_mala(memory: Memory, spec: dict, context: RunContext) -> MethodSamples:
    """Metropolis-adjusted Langevin (SPEC §2); reports per-chain acceptance."""
    return _run("mala", memory, spec, context)


def run_multihead_sa(memory: Memory, spec: dict, context: RunContext) -> MethodSamples:
    """Multi-head SA (SPEC §6 E16): H heads on slices of the principal directions."""
    return _run("multihead_sa", memory, spec, context)
