"""Torch backend of the SA (ULA) and MALA samplers: same kernels, same driver, CPU or GPU.

This module mirrors the kernel contract of :mod:`stochastic_attention.samplers` with torch
tensors: :func:`ula_step`, :func:`mala_init` and :func:`mala_step` take their random draws as
arguments (``noise`` (d, C), ``log_uniform`` (C,)), ``beta`` is a scalar or one value per
chain (C,), and a NaN acceptance ratio is a rejection. :func:`run_chains_torch` returns the
same :class:`~stochastic_attention.samplers.ChainRun` as ``samplers.run_chains`` (NumPy
float64 arrays out), with the same exact span reduction for SA (an ``r``-dimensional chain
in the span of the memory plus an orthogonal AR(1) part advanced in closed form at records)
and the same rotated coordinates ``Uᵀ ξ`` for MALA; the derivations are in the docstring of
:mod:`stochastic_attention.samplers`. The bases come from the same NumPy SVD on the host in
float64, so both backends see identical reduced memories.

Random draws
------------
``draws="torch"`` (default): a ``torch.Generator`` on the device, seeded with one integer
drawn from the NumPy ``rng`` (or the ``generator`` passed in), draws the noise on the device
in blocks of 100 steps. A run is then reproducible for a fixed seed, device and dtype, and it
samples the same law as the NumPy backend — **statistically, not bitwise**, equal to it (the
random numbers differ). ``draws="numpy"`` draws every number from the NumPy ``rng`` in
exactly the order and shapes of ``samplers.run_chains`` and copies it to the device; with
float64 the run then reproduces the NumPy backend to rounding (≤ 1e-15 measured on the CPU),
which is how the two backends are compared exactly (``tests/test_backends.py``). It costs a
host-to-device copy per block, so it is a checking mode, not a fast one.

Using a GPU
-----------
``device="auto"`` takes ``cuda`` when ``torch.cuda.is_available()`` and the CPU otherwise;
``device="cuda"`` insists on a GPU and raises a clear error without one. Memory, states,
noise and records stay on the device for the whole run: one host-to-device copy of the
memory and the starts at the beginning, one copy of the records back at the end, and one
synchronisation per 100-step block (plus one per record for span-reduced SA: the divergence
check; on a non-finite block the block
is replayed from its saved start with the same noise to name the exact chain and step). The
torch build must be a CUDA build (the pinned ``torch==2.13.0`` in requirements.txt is the
CPU build; install the CUDA wheel from the PyTorch index on GPU nodes). float32 halves the
memory and its traffic (on the CPU it already makes MALA about twice as fast, see
``benchmarks/backends.py``); matmuls run in true float32 (torch's default
``allow_tf32 = False`` is left alone). Each step is a few dozen small kernels, so a GPU
should pay off at large ``d·K·C`` (many chains, large memories), not at the E4 size, where launch
latency is expected to dominate (not measured: the session that wrote this had no GPU).

In a Snakemake workflow a sampler job that uses the GPU requests it through resources,
``resources: gpu=1`` (the SLURM executor plugin 2.8 submits it as ``--gpus=1``, with
``gpu_model="h100"`` as ``--gpus=h100:1``; or ``gres="gpu:1"`` for ``--gres=gpu:1``, not
both); a local run caps concurrent GPU jobs with ``snakemake --resources gpu=1``. Such a job
keeps ``threads: 1``: the CPU only feeds the device. CUDA runs are reproducible on the same
GPU model, driver and torch version; across GPUs or against the CPU they agree
statistically.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Literal, NamedTuple

import numpy as np
import torch

from .samplers import ChainRun, SamplerDivergedError

__all__ = [
    "DTYPES",
    "MalaState",
    "StepInfo",
    "check_inputs",
    "mala_init",
    "mala_step",
    "resolve_device",
    "resolve_dtype",
    "run_chains_torch",
    "torch_generator",
    "ula_step",
]

Kernel = Literal["sa", "mala"]
Draws = Literal["torch", "numpy"]
KERNELS: tuple[str, ...] = ("sa", "mala")
DTYPES: dict[str, torch.dtype] = {"float64": torch.float64, "float32": torch.float32}
_BLOCK = 100  # steps of noise drawn at once, as in samplers (the numpy draw order needs it)


class MalaState(NamedTuple):
    """Current states with their cached energy and drift ``μ(ξ) = (1−α) ξ + α T(ξ)``."""

    states: torch.Tensor  # (d, C)
    energy: torch.Tensor  # (C,)
    drift: torch.Tensor  # (d, C)


class StepInfo(NamedTuple):
    """What one MALA step did, per chain."""

    accepted: torch.Tensor  # (C,) bool
    log_ratio: torch.Tensor  # (C,) log acceptance ratio (NaN counts as rejection)


# ------------------------------------------------------------------------- device and dtype


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` → ``cuda`` when available, else ``cpu``; ``cuda`` without a GPU raises."""
    if isinstance(device, torch.device):
        name = str(device)
    else:
        name = str(device).strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ValueError(
                f"device {device!r} was requested but torch sees no GPU "
                f"(torch {torch.__version__}, CUDA build: {torch.version.cuda or 'no'}); "
                "set device: auto or cpu, or run on a GPU node with a CUDA build of torch"
            )
        return torch.device(name)
    raise ValueError(f"unknown device {device!r}; choose auto, cpu or cuda")


def resolve_dtype(dtype: str | torch.dtype = "float64") -> torch.dtype:
    """``float64`` or ``float32`` (a string or the torch dtype)."""
    if isinstance(dtype, torch.dtype) and dtype in DTYPES.values():
        return dtype
    if isinstance(dtype, str) and dtype in DTYPES:
        return DTYPES[dtype]
    raise ValueError(f"unknown dtype {dtype!r}; choose one of {tuple(DTYPES)}")


def torch_generator(rng: np.random.Generator, device: torch.device) -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded with one draw from ``rng`` (advances it)."""
    generator = torch.Generator(device=device)
    generator.manual_seed(int(rng.integers(0, 2**63 - 1)))
    return generator


# -------------------------------------------------------------------------------- kernels


def _as_beta(beta: float | torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(beta, dtype=like.dtype, device=like.device)


def _scaled_logits(memory: torch.Tensor, states: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """``β memoryᵀ ξ``: (K, C)."""
    return (memory.T @ states).mul_(beta)


def _attention_parts(
    memory: torch.Tensor, states: torch.Tensor, beta: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention weights (K, C) and ``logsumexp(β e)`` (C,) (fused, stable torch ops)."""
    scaled = _scaled_logits(memory, states, beta)
    return torch.softmax(scaled, dim=0), torch.logsumexp(scaled, dim=0)


def ula_step(
    memory: torch.Tensor,
    states: torch.Tensor,
    noise: torch.Tensor,
    beta: float | torch.Tensor,
    alpha: float,
) -> torch.Tensor:
    """One SA / ULA step: ``(1−α) ξ + α memory·softmax(β memoryᵀ ξ) + sqrt(2α/β) ε``.

    memory: (d, K); states, noise: (d, C) with ``noise ~ N(0, I)``; returns (d, C).
    """
    beta = _as_beta(beta, states)
    weights = torch.softmax(_scaled_logits(memory, states, beta), dim=0)
    out = torch.addmm(states, memory, weights, beta=1.0 - alpha, alpha=alpha)
    return out.addcmul_(torch.sqrt(2.0 * alpha / beta), noise)


def mala_init(
    memory: torch.Tensor, states: torch.Tensor, beta: float | torch.Tensor, alpha: float
) -> MalaState:
    """Cache energy (C,) and drift (d, C) of ``states`` (d, C) for :func:`mala_step`.

    ``memory`` may have fewer rows than ``states`` (r ≤ d): it then acts on the first r
    coordinates only (the rotated coordinates of ``samplers``).
    """
    beta = _as_beta(beta, states)
    rank = memory.shape[0]
    weights, lse = _attention_parts(memory, states[:rank], beta)
    energy = 0.5 * torch.linalg.vecdot(states, states, dim=0) - lse / beta
    drift = states * (1.0 - alpha)
    drift[:rank].addmm_(memory, weights, alpha=alpha)
    return MalaState(states, energy, drift)


def mala_step(
    memory: torch.Tensor,
    state: MalaState,
    noise: torch.Tensor,
    log_uniform: torch.Tensor,
    beta: float | torch.Tensor,
    alpha: float,
) -> tuple[MalaState, StepInfo]:
    """One MALA step (SPEC §2) with one attention evaluation (at the proposal).

    ``log r = −β [E(ξ*) − E(ξ)] − (β / 4α) [‖ξ − μ(ξ*)‖² − ‖ξ* − μ(ξ)‖²]``; a chain accepts
    when ``log u < min(0, log r)``; a NaN ratio is a rejection.
    """
    beta = _as_beta(beta, state.states)
    scale = torch.sqrt(2.0 * alpha / beta)
    proposal = torch.addcmul(state.drift, scale, noise)
    proposed = mala_init(memory, proposal, beta, alpha)
    backward = state.states - proposed.drift
    forward_sq = scale**2 * torch.linalg.vecdot(noise, noise, dim=0)  # ‖ξ* − μ(ξ)‖²
    log_ratio = -beta * (proposed.energy - state.energy) - beta / (4.0 * alpha) * (
        torch.linalg.vecdot(backward, backward, dim=0) - forward_sq
    )
    accepted = log_uniform < torch.clamp(log_ratio, max=0.0)  # NaN compares False
    new_state = MalaState(
        torch.where(accepted, proposed.states, state.states),
        torch.where(accepted, proposed.energy, state.energy),
        torch.where(accepted, proposed.drift, state.drift),
    )
    return new_state, StepInfo(accepted, log_ratio)


# ------------------------------------------------------------------------------ validation


def _check_alpha(alpha: float) -> float:
    alpha = float(alpha)
    if not (np.isfinite(alpha) and 0.0 < alpha < 1.0):
        raise ValueError(f"alpha (step size) must lie in the open interval (0, 1), got {alpha}")
    return alpha


def _beta_vector(beta: float | np.ndarray, n_chains: int) -> np.ndarray:
    values = np.asarray(beta, dtype=np.float64)
    if values.ndim == 0:
        values = np.full(n_chains, float(values))
    if values.shape != (n_chains,):
        raise ValueError(
            f"beta must be a scalar or one value per chain ({n_chains},), got {values.shape}"
        )
    if not np.all(np.isfinite(values) & (values > 0)):
        raise ValueError(f"beta (inverse temperature) must be finite and > 0, got {beta}")
    return values


def _check_record_steps(record_steps: Sequence[int]) -> np.ndarray:
    steps = np.asarray(record_steps, dtype=np.int64)
    if steps.ndim != 1 or steps.size == 0:
        raise ValueError("record_steps must be a non-empty 1-D list of step numbers")
    if np.any(np.diff(steps) <= 0) or steps[0] < 1:
        raise ValueError("record_steps must be strictly increasing and ≥ 1")
    return steps


def check_inputs(memory: np.ndarray, states: np.ndarray, dtype: torch.dtype) -> None:
    """Shapes (d, K) and (d, C), finite values, and values representable in ``dtype``."""
    if memory.ndim != 2:
        raise ValueError(f"memory must have shape (d, K), got {memory.shape}")
    if states.ndim != 2 or states.shape[0] != memory.shape[0]:
        raise ValueError(
            f"states must have shape (d, C) with d = {memory.shape[0]} (the memory's "
            f"dimension), got {states.shape}"
        )
    if not np.all(np.isfinite(memory)):
        raise ValueError("memory contains non-finite values (NaN or inf)")
    if not np.all(np.isfinite(states)):
        raise ValueError("initial states contain non-finite values (NaN or inf)")
    if dtype == torch.float32:
        largest = float(np.finfo(np.float32).max)
        if np.max(np.abs(memory)) > largest or np.max(np.abs(states)) > largest:
            raise ValueError(
                "memory or initial states exceed the float32 range; use dtype: float64"
            )


# --------------------------------------------------------------------------------- draws


class _Draws:
    """Standard normals and log-uniforms on the device, from torch or from the NumPy rng."""

    def __init__(
        self,
        source: Draws,
        rng: np.random.Generator | None,
        generator: torch.Generator | None,
        device: torch.device,
        dtype: torch.dtype,
    ) -> None:
        self.source, self.rng, self.device, self.dtype = source, rng, device, dtype
        self.generator = generator

    def normal(self, shape: tuple[int, ...]) -> torch.Tensor:
        if self.source == "numpy":
            values = self.rng.standard_normal(shape)
            return torch.from_numpy(values).to(self.device, self.dtype)
        return torch.randn(shape, generator=self.generator, device=self.device, dtype=self.dtype)

    def log_uniform(self, shape: tuple[int, ...]) -> torch.Tensor:
        if self.source == "numpy":
            values = np.log(self.rng.random(shape))
            return torch.from_numpy(values).to(self.device, self.dtype)
        uniform = torch.rand(shape, generator=self.generator, device=self.device, dtype=self.dtype)
        return uniform.log_()


def _make_draws(draws, rng, generator, device, dtype) -> _Draws:
    if draws not in ("torch", "numpy"):
        raise ValueError(f"unknown draws {draws!r}; choose 'torch' or 'numpy'")
    if draws == "numpy":
        if rng is None or generator is not None:
            raise ValueError("draws='numpy' needs rng (a numpy Generator) and no torch generator")
        return _Draws("numpy", rng, None, device, dtype)
    if (rng is None) == (generator is None):
        raise ValueError("pass exactly one of rng (numpy Generator) or generator (torch)")
    if generator is None:
        generator = torch_generator(rng, device)
    elif generator.device.type != device.type:
        raise ValueError(
            f"the torch generator lives on {generator.device} but the run uses {device}; "
            "create it with torch.Generator(device=...) on the run's device"
        )
    return _Draws("torch", None, generator, device, dtype)


# ------------------------------------------------------------------------------- driver


def _span_basis(memory: np.ndarray) -> np.ndarray:
    """Orthonormal basis ``Q`` (d, r) of the column span of ``memory`` (d, K), as samplers."""
    left, singular, _ = np.linalg.svd(memory, full_matrices=False)
    tolerance = singular[0] * max(memory.shape) * np.finfo(memory.dtype).eps
    return left[:, singular > tolerance]


def _rotation(memory: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Orthogonal ``U`` (d, d) whose first r columns span the memory, and ``(Uᵀ memory)[:r]``."""
    left, singular, right = np.linalg.svd(memory, full_matrices=True)
    tolerance = singular[0] * max(memory.shape) * np.finfo(memory.dtype).eps
    rank = int(np.sum(singular > tolerance))
    return left, singular[:rank, None] * right[:rank]


class _Run(NamedTuple):
    """Everything a loop needs, already on the device."""

    alpha: float
    beta: torch.Tensor  # (C,)
    beta_host: np.ndarray  # (C,) for messages
    steps: list[int]
    draws: _Draws
    to_device: Callable[[np.ndarray], torch.Tensor]


def _raise_diverged(finite: torch.Tensor, step: int, run: _Run) -> None:
    bad = np.flatnonzero(~finite.cpu().numpy())
    chain = int(bad[0])
    raise SamplerDivergedError(
        f"chain {chain} became non-finite at step {step} (alpha={run.alpha}, "
        f"beta={float(run.beta_host[chain])}); {bad.size} chain(s) affected. Lower alpha or "
        "check the memory for extreme values."
    )


def _check_block(state, start_state, start_step, n, advance, finite_of, run: _Run) -> None:
    """Raise if ``state`` is non-finite, replaying the block to name the first bad step.

    One device synchronisation per block; the replay (only on failure) re-runs the block's
    steps from ``start_state`` with the same draws (``advance(state, i)``, i the offset).
    """
    if bool(finite_of(state).all()):
        return
    replay = start_state
    for offset in range(n):
        replay = advance(replay, offset)
        finite = finite_of(replay)
        if not bool(finite.all()):
            _raise_diverged(finite, start_step + offset, run)
    _raise_diverged(finite_of(state), start_step + n - 1, run)


def _columns_finite(values: torch.Tensor) -> torch.Tensor:
    return torch.isfinite(values).all(dim=0)


def _loop(state, advance, finite_of, on_step, run: _Run, new_block):
    """Drive ``advance`` over all steps in blocks; ``on_step(state, step)`` handles records."""
    last = run.steps[-1]
    block_start, start_state = 1, state
    for step in range(1, last + 1):
        offset = (step - 1) % _BLOCK
        if offset == 0:
            new_block()
            block_start, start_state = step, state
        state = advance(state, offset)
        on_step(state, step)
        if offset == _BLOCK - 1 or step == last:
            _check_block(state, start_state, block_start, offset + 1, advance, finite_of, run)
    return state


def _run_ula_full(memory, states, run: _Run, records) -> None:
    d, n_chains = states.shape
    block: dict[str, torch.Tensor] = {}

    def new_block():
        block["noise"] = run.draws.normal((_BLOCK, d, n_chains))

    def advance(current, offset):
        return ula_step(memory, current, block["noise"][offset], run.beta, run.alpha)

    position = _Position(run.steps)

    def on_step(current, step):
        if position.hit(step):
            records[position.index] = current
            position.advance(step)

    _loop(states, advance, _columns_finite, on_step, run, new_block)


class _Position:
    """Which record comes next (host-side integers: no device synchronisation)."""

    def __init__(self, steps: list[int]) -> None:
        self.steps, self.index, self.last = steps, 0, 0

    def hit(self, step: int) -> bool:
        return self.index < len(self.steps) and step == self.steps[self.index]

    def advance(self, step: int) -> None:
        self.index, self.last = self.index + 1, step


def _run_ula_reduced(memory, states, basis, run: _Run, records) -> None:
    d, n_chains = states.shape
    rank = basis.shape[1]
    reduced_memory = run.to_device(basis.T @ memory)  # (r, K), computed in float64 on host
    span_host = basis.T @ states
    orthogonal = run.to_device(states - basis @ span_host)  # (d, C)
    span = run.to_device(span_host)  # (r, C)
    basis = run.to_device(basis)
    decay = 1.0 - run.alpha
    scale = torch.sqrt(2.0 * run.alpha / run.beta)  # (C,)
    block: dict[str, torch.Tensor] = {"orthogonal": orthogonal}

    def new_block():
        block["noise"] = run.draws.normal((_BLOCK, rank, n_chains))

    def advance(current, offset):
        return ula_step(reduced_memory, current, block["noise"][offset], run.beta, run.alpha)

    position = _Position(run.steps)
    bad_record: list[tuple[torch.Tensor, int]] = []

    def on_step(current, step):
        if not position.hit(step):
            return
        n = step - position.last
        # n AR(1) steps at once: z ← (1−α)ⁿ z + scale·sqrt(Σ_{j<n} (1−α)^{2j}) P⊥ε
        spread = math.sqrt((1.0 - decay ** (2 * n)) / (1.0 - decay**2))
        fresh = run.draws.normal((d, n_chains))
        fresh -= basis @ (basis.T @ fresh)
        block["orthogonal"] = decay**n * block["orthogonal"] + (scale * spread) * fresh
        record = basis @ current + block["orthogonal"]
        records[position.index] = record
        bad_record.append((_columns_finite(record), step))
        position.advance(step)

    def finite_of(current):
        # span chain finite (else the replay finds its first bad step), then every record
        # made since the last check (the orthogonal part can only overflow there)
        finite = _columns_finite(current)
        records_made, _ = list(bad_record), bad_record.clear()
        if bool(finite.all()):
            for record_finite, step in records_made:
                if not bool(record_finite.all()):
                    _raise_diverged(record_finite, step, run)
        return finite

    _loop(span, advance, finite_of, on_step, run, new_block)


def _run_mala(memory, states, run: _Run, records) -> torch.Tensor:
    d, n_chains = states.shape
    if memory.shape[1] < d:
        rotation_host, reduced = _rotation(memory)
        memory_t = run.to_device(reduced)
        states_t = run.to_device(rotation_host.T @ states)
        rotation = run.to_device(rotation_host)
    else:
        memory_t, states_t, rotation = run.to_device(memory), run.to_device(states), None
    accepted = torch.zeros(n_chains, dtype=torch.int64, device=states_t.device)
    block: dict[str, torch.Tensor] = {}

    def new_block():
        block["noise"] = run.draws.normal((_BLOCK, d, n_chains))
        block["log_uniform"] = run.draws.log_uniform((_BLOCK, n_chains))

    def advance(current, offset):
        new, info = mala_step(
            memory_t,
            current,
            block["noise"][offset],
            block["log_uniform"][offset],
            run.beta,
            run.alpha,
        )
        block["accepted"] = info.accepted
        return new

    position = _Position(run.steps)

    def on_step(current, step):
        accepted.add_(block["accepted"])
        if position.hit(step):
            records[position.index] = (
                current.states if rotation is None else rotation @ current.states
            )
            position.advance(step)

    _loop(
        mala_init(memory_t, states_t, run.beta, run.alpha),
        advance,
        lambda current: torch.isfinite(current.energy),
        on_step,
        run,
        new_block,
    )
    return accepted


def run_chains_torch(
    memory: np.ndarray,
    initial_states: np.ndarray,
    *,
    kernel: Kernel,
    beta: float | np.ndarray,
    alpha: float,
    rng: np.random.Generator | None = None,
    generator: torch.Generator | None = None,
    record_steps: Sequence[int],
    device: str | torch.device = "auto",
    dtype: str | torch.dtype = "float64",
    reduce: bool = True,
    draws: Draws = "torch",
) -> ChainRun:
    """Advance C chains together on ``device`` and record their states after given steps.

    memory: (d, K); initial_states: (d, C); record_steps: increasing step numbers. Exactly
    one of ``rng`` (NumPy; seeds a torch generator on the device) or ``generator`` (a
    ``torch.Generator`` on the device) gives the draws; ``draws="numpy"`` takes them from
    ``rng`` in the order of ``samplers.run_chains`` instead (exact comparison mode, see the
    module docstring). ``reduce`` uses the exact span reduction for SA. Returns records
    (R, d, C) as NumPy float64 whatever ``dtype`` the run used.
    """
    if kernel not in KERNELS:
        raise ValueError(f"unknown kernel {kernel!r}; choose one of {KERNELS}")
    device, dtype = resolve_device(device), resolve_dtype(dtype)
    memory = np.asarray(memory, dtype=np.float64)
    states = np.array(initial_states, dtype=np.float64)
    check_inputs(memory, states, dtype)
    alpha = _check_alpha(alpha)
    beta_host = _beta_vector(beta, states.shape[1])
    steps = _check_record_steps(record_steps)
    start = time.perf_counter()

    def to_device(values: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(values)).to(device, dtype)

    run = _Run(
        alpha=alpha,
        beta=to_device(beta_host),
        beta_host=beta_host,
        steps=[int(step) for step in steps],
        draws=_make_draws(draws, rng, generator, device, dtype),
        to_device=to_device,
    )
    d, n_chains = states.shape
    acceptance = None
    with torch.inference_mode():
        records = torch.empty((steps.size, d, n_chains), device=device, dtype=dtype)
        if kernel == "sa":
            basis = _span_basis(memory) if reduce else None
            if basis is not None and basis.shape[1] < d:
                _run_ula_reduced(memory, states, basis, run, records)
            else:
                _run_ula_full(to_device(memory), to_device(states), run, records)
        else:
            accepted = _run_mala(memory, states, run, records)
            acceptance = accepted.cpu().numpy() / float(steps[-1])
        records_host = records.to("cpu", torch.float64).numpy()
    return ChainRun(records_host, steps, acceptance, time.perf_counter() - start)
