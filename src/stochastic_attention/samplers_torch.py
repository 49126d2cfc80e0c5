"""Torch backend of the SA (ULA) and MALA samplers: same kernels, same driver, CPU or GPU.

This module mirrors :mod:`stochastic_attention.samplers` with torch tensors. The kernels
:func:`ula_step`, :func:`mala_init`, :func:`mala_step`, :func:`mala_span_init` and
:func:`mala_span_step` take their random draws as arguments, ``beta`` is a scalar or one
value per chain (C,), a NaN acceptance ratio is a rejection, and every array may carry a
leading batch axis (memories (B, d, K), states (B, d, C)). :func:`run_chains_torch` returns
the same :class:`~stochastic_attention.samplers.ChainRun` as ``samplers.run_chains`` (NumPy
arrays in the run's dtype) and runs the same algorithms: SA with the exact span reduction
(an ``r``-dimensional chain in the span of the memory plus the orthogonal AR(1) part advanced
in closed form at records), MALA as the exact lazy-basis span MALA (``y`` in the span, the
orthogonal part through one frame row and one lazy length per chain, materialised at
records); ``reduce=False``
runs the literal full-dimensional updates. The derivations are in the docstring of
:mod:`stochastic_attention.samplers`. The basis is ``energy.span_basis`` on the host (NumPy,
in the run's dtype), and validation is ``samplers``' own, so both backends reject the same
inputs with the same messages.

Random draws
------------
``draws="torch"`` (default): a ``torch.Generator`` on the device, seeded with one integer
drawn from the NumPy ``rng`` (or the ``generator`` passed in), draws the noise on the device
in blocks of 100 steps. A run is then reproducible for a fixed seed, device and dtype, and it
samples the same law as the NumPy backend — **statistically, not bitwise**, equal to it (the
random numbers differ). ``draws="numpy"`` draws every number from the NumPy ``rng`` in
exactly the order, shapes and dtype of ``samplers.run_chains`` and copies it to the device;
with float64 the run then reproduces the NumPy backend to rounding (``tests/test_backends.py``
requires 1e-10 over hundreds of steps for SA reduced/full and MALA span/literal). It costs a
host-to-device copy per block, so it is a checking mode, not a fast one.

Using a GPU
-----------
``device="auto"`` takes ``cuda`` when ``torch.cuda.is_available()`` and the CPU otherwise;
``device="cuda"`` insists on a GPU and raises a clear error without one. Memory, states,
noise and records stay on the device for the whole run: one host-to-device copy of the
memory and the starts at the beginning, one copy of the records back at the end, and one
synchronisation per 100-step block and per record (the divergence check; a span-MALA record
also checks for an exactly zero orthogonal part). On a non-finite check the steps since the
last check are replayed with the same draws to name the exact chain and step. The torch build
must be a CUDA build (the pinned ``torch==2.13.0`` in requirements.txt is the CPU build;
install the CUDA wheel from the PyTorch index on GPU nodes). float32 halves the memory and
its traffic; matmuls run in true float32 (torch's default ``allow_tf32 = False`` is left
alone). Each step is a few dozen small kernels, so a GPU should pay off at large ``d·K·C``
(many chains, large memories), not at the E4 size, where launch latency is expected to
dominate (see ``benchmarks/backends.py``; the session that wrote this had no GPU).

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
from collections.abc import Sequence
from typing import Literal, NamedTuple

import numpy as np
import torch

from . import energy as en
from . import samplers as sp
from .samplers import ChainRun

__all__ = [
    "DTYPES",
    "MalaState",
    "SpanMalaState",
    "StepInfo",
    "mala_init",
    "mala_span_init",
    "mala_span_step",
    "mala_step",
    "resolve_device",
    "resolve_dtype",
    "run_chains_torch",
    "torch_generator",
    "ula_step",
]

Draws = Literal["torch", "numpy"]
DTYPES: dict[str, torch.dtype] = {"float64": torch.float64, "float32": torch.float32}


class MalaState(NamedTuple):
    """Current states with their cached energy and drift ``μ(ξ) = (1−α) ξ + α T(ξ)``."""

    states: torch.Tensor  # (…, d, C)
    energy: torch.Tensor  # (…, C)
    drift: torch.Tensor  # (…, d, C)


class SpanMalaState(NamedTuple):
    """Span-MALA state ``ξ = [basis, u]·frame + across·v`` (as ``samplers.SpanMalaState``)."""

    frame: torch.Tensor  # (…, r + 1, C) coordinates [y; along]
    log_weight: torch.Tensor  # (…, C) −β E_frame − (αβ/4) across²
    drift: torch.Tensor  # (…, r + 1, C) drift of the frame part
    across: torch.Tensor  # (…, C) length ρ ≥ 0 of z's part orthogonal to u


class StepInfo(NamedTuple):
    """What one MALA step did, per chain."""

    accepted: torch.Tensor  # (…, C) bool
    log_ratio: torch.Tensor  # (…, C) log acceptance ratio (NaN counts as rejection)


# ------------------------------------------------------------------------- device and dtype


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` → ``cuda`` when available, else ``cpu``; ``cuda`` without a GPU raises."""
    name = str(device) if isinstance(device, torch.device) else str(device).strip().lower()
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


def _sq(values: torch.Tensor) -> torch.Tensor:
    """Squared column norms: (…, d, C) → (…, C)."""
    return torch.linalg.vecdot(values, values, dim=-2)


def _attention_parts(
    memory: torch.Tensor, states: torch.Tensor, beta: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Softmax weights (…, K, C) and ``logsumexp(β memoryᵀ ξ)`` (…, C) in one stable pass.

    The logits are formed as (…, C, K), so the softmax reduces over contiguous memory (torch's
    reductions over the strided K axis of (…, K, C) are several times slower on the CPU); the
    weights come back as a transposed view. Same steps as ``energy.attention_parts``.
    """
    scaled = (states.mT @ memory).mul_(beta[..., None])
    top = scaled.amax(dim=-1, keepdim=True)
    weights = scaled.sub_(top).clamp_(min=en._EXP_FLOOR).exp_()  # the floor: energy.py
    total = weights.sum(dim=-1, keepdim=True)
    return weights.div_(total).mT, (top + total.log_()).squeeze(-1)


def _ula_update(memory, states, scaled_noise, beta, alpha: float) -> torch.Tensor:
    """:func:`ula_step` with the noise already scaled by ``sqrt(2α/β)`` (a new tensor)."""
    weights, _ = _attention_parts(memory, states, beta)
    out = (memory @ weights).mul_(alpha)
    return out.add_(states, alpha=1.0 - alpha).add_(scaled_noise)


def ula_step(
    memory: torch.Tensor,
    states: torch.Tensor,
    noise: torch.Tensor,
    beta: float | torch.Tensor,
    alpha: float,
) -> torch.Tensor:
    """One SA / ULA step: ``(1−α) ξ + α memory·softmax(β memoryᵀ ξ) + sqrt(2α/β) ε``.

    memory: (…, d, K); states, noise: (…, d, C) with ``noise ~ N(0, I)``; returns (…, d, C).
    """
    beta = _as_beta(beta, states)
    return _ula_update(memory, states, torch.sqrt(2.0 * alpha / beta) * noise, beta, alpha)


def mala_init(
    memory: torch.Tensor, states: torch.Tensor, beta: float | torch.Tensor, alpha: float
) -> MalaState:
    """Cache energy (…, C) and drift (…, d, C) of ``states`` (…, d, C) for :func:`mala_step`."""
    beta = _as_beta(beta, states)
    weights, lse = _attention_parts(memory, states, beta)
    energy = 0.5 * _sq(states) - lse / beta
    drift = (memory @ weights).mul_(alpha).add_(states, alpha=1.0 - alpha)
    return MalaState(states, energy, drift)


def _accept(log_uniform: torch.Tensor, log_ratio: torch.Tensor) -> torch.Tensor:
    return log_uniform < torch.clamp(log_ratio, max=0.0)  # NaN compares False: a rejection


def _keep(accepted: torch.Tensor, new: torch.Tensor, old: torch.Tensor) -> torch.Tensor:
    """Columns of ``new`` where accepted, else ``old`` (matrices (…, n, C) or scalars (…, C))."""
    mask = accepted if new.dim() == accepted.dim() else accepted[..., None, :]
    return torch.where(mask, new, old)


def mala_step(
    memory: torch.Tensor,
    state: MalaState,
    noise: torch.Tensor,
    log_uniform: torch.Tensor,
    beta: float | torch.Tensor,
    alpha: float,
) -> tuple[MalaState, StepInfo]:
    """One literal MALA step (SPEC §2) with one attention evaluation (at the proposal).

    ``log r = −β [E(ξ*) − E(ξ)] − (β / 4α) [‖ξ − μ(ξ*)‖² − ‖ξ* − μ(ξ)‖²]``; a chain accepts
    when ``log u < min(0, log r)``. noise: (…, d, C); log_uniform: (…, C).
    """
    beta = _as_beta(beta, state.states)
    scale = torch.sqrt(2.0 * alpha / beta)
    proposed = mala_init(memory, state.drift + scale * noise, beta, alpha)
    backward = state.states - proposed.drift
    log_ratio = -beta * (proposed.energy - state.energy) - beta / (4.0 * alpha) * (
        _sq(backward) - scale**2 * _sq(noise)
    )
    accepted = _accept(log_uniform, log_ratio)
    new_state = MalaState(
        *(_keep(accepted, new, old) for new, old in zip(proposed, state, strict=True))
    )
    return new_state, StepInfo(accepted, log_ratio)


def mala_span_init(
    memory_in_frame: torch.Tensor,
    frame: torch.Tensor,
    beta: float | torch.Tensor,
    alpha: float,
    across: torch.Tensor | None = None,
) -> SpanMalaState:
    """State for :func:`mala_span_step` from ``frame`` (…, r + 1, C) and ``across`` (…, C).

    memory_in_frame: (…, r + 1, K), ``samplers.frame_memory`` of the reduced memory.
    """
    beta = _as_beta(beta, frame)
    cached = mala_init(memory_in_frame, frame, beta, alpha)
    across = torch.zeros_like(cached.energy) if across is None else across
    log_weight = -beta * cached.energy - sp._lazy_coefficient(beta, alpha) * across**2
    return SpanMalaState(cached.states, log_weight, cached.drift, across)


def mala_span_step(
    memory_in_frame: torch.Tensor,
    state: SpanMalaState,
    noise: torch.Tensor,
    across_noise: torch.Tensor,
    chi_square: torch.Tensor,
    log_uniform: torch.Tensor,
    beta: float | torch.Tensor,
    alpha: float,
) -> tuple[SpanMalaState, StepInfo]:
    """One exact MALA step at the span's cost (``samplers.mala_span_step``, same arguments).

    memory_in_frame: (…, r + 1, K); noise: (…, r + 1, C); across_noise, chi_square
    (χ²(m − 2)), log_uniform: (…, C).
    """
    beta = _as_beta(beta, state.frame)
    decay = 1.0 - alpha
    scale = torch.sqrt(2.0 * alpha / beta)
    proposal = state.drift + scale * noise
    weights, lse = _attention_parts(memory_in_frame, proposal, beta)
    drift = (memory_in_frame @ weights).mul_(alpha).add_(proposal, alpha=decay)
    across_sq = (decay * state.across + scale * across_noise) ** 2 + scale**2 * chi_square
    log_weight = lse - 0.5 * beta * _sq(proposal) - sp._lazy_coefficient(beta, alpha) * across_sq
    log_ratio = (
        log_weight
        - state.log_weight
        - beta / (4.0 * alpha) * _sq(state.frame - drift)
        + 0.5 * _sq(noise)
    )
    accepted = _accept(log_uniform, log_ratio)
    new = (proposal, log_weight, drift, across_sq.sqrt())
    new_state = SpanMalaState(*(_keep(accepted, a, b) for a, b in zip(new, state, strict=True)))
    return new_state, StepInfo(accepted, log_ratio)


# --------------------------------------------------------------------------------- draws


class _Draws:
    """Standard normals, log-uniforms and χ² values on the device, from torch or NumPy.

    The NumPy source draws exactly as ``samplers._Engine`` does (same calls, shapes, dtype).
    """

    def __init__(self, rng, generator, device: torch.device, dtype: torch.dtype) -> None:
        self.rng, self.generator, self.device, self.dtype = rng, generator, device, dtype
        self.np_dtype = np.dtype(str(dtype).removeprefix("torch."))

    def _from_numpy(self, values: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(values).to(self.device, self.dtype)

    def normal(self, shape: tuple[int, ...]) -> torch.Tensor:
        if self.generator is None:
            return self._from_numpy(self.rng.standard_normal(shape, dtype=self.np_dtype))
        return torch.randn(shape, generator=self.generator, device=self.device, dtype=self.dtype)

    def log_uniform(self, shape: tuple[int, ...]) -> torch.Tensor:
        if self.generator is None:
            return self._from_numpy(sp._log_uniform(self.rng, shape, self.np_dtype))
        uniform = torch.rand(shape, generator=self.generator, device=self.device, dtype=self.dtype)
        return uniform.log_()  # u = 0 gives −inf: an acceptance, as in samplers

    def chi_square(self, dof: int, shape: tuple[int, ...]) -> torch.Tensor:
        if self.generator is None:
            return self._from_numpy(self.rng.chisquare(dof, shape).astype(self.np_dtype))
        # χ²(k) = 2 Gamma(k/2, 1); _standard_gamma is what torch.distributions.Gamma samples
        # with, called directly because only it takes a generator
        shapes = torch.full(shape, dof / 2.0, device=self.device, dtype=self.dtype)
        return torch._standard_gamma(shapes, generator=self.generator).mul_(2.0)


def _make_draws(draws, rng, generator, device, dtype) -> _Draws:
    if draws not in ("torch", "numpy"):
        raise ValueError(f"unknown draws {draws!r}; choose 'torch' or 'numpy'")
    if draws == "numpy":
        if rng is None or generator is not None:
            raise ValueError("draws='numpy' needs rng (a numpy Generator) and no torch generator")
        return _Draws(rng, None, device, dtype)
    if (rng is None) == (generator is None):
        raise ValueError("pass exactly one of rng (numpy Generator) or generator (torch)")
    if generator is None:
        generator = torch_generator(rng, device)
    elif generator.device.type != device.type:
        raise ValueError(
            f"the torch generator lives on {generator.device} but the run uses {device}; "
            "create it with torch.Generator(device=...) on the run's device"
        )
    return _Draws(None, generator, device, dtype)


# ------------------------------------------------------------------------------- driver


class _Engine:
    """The torch twin of ``samplers._Engine``: same loops, same draw order, device tensors.

    Divergence is checked once per 100-step block and at every record (one synchronisation
    each); a failed check replays the steps since the previous one to name the first bad step.
    """

    def __init__(self, memory, states, beta, alpha, steps, draws: _Draws) -> None:
        self.memory, self.states, self.alpha, self.draws = memory, states, alpha, draws
        self.beta_host = beta
        self.beta = self.to_device(beta.astype(states.dtype))  # (C,)
        self.scale = torch.sqrt(2.0 * alpha / self.beta)
        self.steps = [int(step) for step in steps]
        self.records = torch.empty(
            (len(self.steps), *states.shape), device=draws.device, dtype=draws.dtype
        )

    def to_device(self, values: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(values)).to(self.draws.device)

    def _split(self, basis: np.ndarray):
        """Span coordinates y and orthogonal part z of the starts, on the host as samplers."""
        span = sp._t(basis) @ self.states
        return span, self.states - basis @ span

    def _raise_if_bad(self, per_chain: torch.Tensor, step: int) -> None:
        """Raise ``SamplerDivergedError`` if a chain of ``per_chain`` (…, C) is non-finite."""
        if bool(torch.isfinite(per_chain.sum())):
            return
        values = per_chain.cpu().numpy()
        if not np.all(np.isfinite(values)):
            sp._raise_diverged(values, step, self.alpha, self.beta_host)

    def _drive(self, state, advance, per_chain, new_block, on_record):
        """Run steps 1…T: ``advance(state, offset)``, checks, ``on_record(state, step, i)``."""
        progress = sp._Progress(self.steps[-1], "torch")
        last, next_record = self.steps[-1], 0
        checkpoint, first = state, 1
        for step in range(1, last + 1):
            offset = (step - 1) % sp._BLOCK
            if offset == 0:
                new_block()
                checkpoint, first = state, step
            state = advance(state, offset)
            due = step == self.steps[next_record]
            if due or offset == sp._BLOCK - 1 or step == last:
                if not bool(torch.isfinite(per_chain(state).sum())):
                    for replayed in range(first, step + 1):  # same draws: find the first step
                        checkpoint = advance(checkpoint, (replayed - 1) % sp._BLOCK)
                        self._raise_if_bad(per_chain(checkpoint), replayed)
                    self._raise_if_bad(per_chain(state), step)
                if due:
                    state = on_record(state, step, next_record)
                    next_record += 1
                checkpoint, first = state, step + 1
            progress.update(step)
        return state

    def sa(self, basis, reduced) -> None:
        """ULA, literal (basis None) or span-reduced with the closed-form AR(1) at records."""
        alpha, beta, scale = self.alpha, self.beta, self.scale
        if basis is None:
            values, span = self.to_device(self.memory), self.to_device(self.states)
        else:
            span_host, orthogonal_host = self._split(basis)
            values, span = self.to_device(reduced), self.to_device(span_host)
            parts = {"orthogonal": self.to_device(orthogonal_host), "last": 0}
            basis = self.to_device(basis)
        decay = 1.0 - alpha
        block: dict[str, torch.Tensor] = {}

        def new_block() -> None:
            block["noise"] = self.draws.normal((sp._BLOCK, *span.shape)).mul_(scale)

        def advance(current, offset):
            return _ula_update(values, current, block["noise"][offset], beta, alpha)

        def on_record(current, step, index):
            if basis is None:
                self.records[index] = current
                return current
            n = step - parts["last"]
            # n AR(1) steps at once: z ← (1−α)ⁿ z + scale·sqrt(Σ_{j<n} (1−α)^{2j}) P⊥ε
            spread = math.sqrt((1.0 - decay ** (2 * n)) / (1.0 - decay**2))
            fresh = self.draws.normal(self.states.shape)
            fresh -= basis @ (basis.mT @ fresh)
            parts["orthogonal"] = decay**n * parts["orthogonal"] + (scale * spread) * fresh
            self.records[index] = basis @ current + parts["orthogonal"]
            self._raise_if_bad(self.records[index].sum(dim=-2), step)
            parts["last"] = step
            return current

        self._drive(span, advance, lambda current: current.sum(dim=-2), new_block, on_record)

    def mala(self) -> torch.Tensor:
        """Literal full-dimensional MALA; returns the acceptance counts (…, C)."""
        memory, alpha, beta = self.to_device(self.memory), self.alpha, self.beta
        state = mala_init(memory, self.to_device(self.states), beta, alpha)
        accepted = torch.zeros(state.energy.shape, dtype=torch.int64, device=memory.device)
        block: dict[str, torch.Tensor] = {}

        def new_block() -> None:
            block["noise"] = self.draws.normal((sp._BLOCK, *self.states.shape))
            block["log_uniform"] = self.draws.log_uniform((sp._BLOCK, *accepted.shape))

        def advance(current, offset):
            noise, log_uniform = block["noise"][offset], block["log_uniform"][offset]
            new, info = mala_step(memory, current, noise, log_uniform, beta, alpha)
            accepted.add_(info.accepted)
            return new

        def on_record(current, step, index):
            self.records[index] = current.states
            return current

        self._drive(state, advance, lambda current: current.energy, new_block, on_record)
        return accepted

    def mala_span(self, basis, reduced) -> torch.Tensor:
        """Exact span MALA (``samplers._Engine.mala_span``); returns acceptance counts (…, C)."""
        alpha, beta = self.alpha, self.beta
        m = self.states.shape[-2] - basis.shape[-1]  # dimension of the complement (≥ 1)
        span_host, orthogonal_host = self._split(basis)
        basis, memory = self.to_device(basis), self.to_device(sp.frame_memory(reduced))
        lazy: dict[str, torch.Tensor] = {}

        def frame_state(span, orthogonal) -> SpanMalaState:
            length = _sq(orthogonal).sqrt()
            lazy["direction"] = self._directions(basis, orthogonal, length)
            frame = torch.cat([span, length[..., None, :]], dim=-2)
            return mala_span_init(memory, frame, beta, alpha)

        state = frame_state(self.to_device(span_host), self.to_device(orthogonal_host))
        accepted = torch.zeros(state.across.shape, dtype=torch.int64, device=basis.device)
        chains = tuple(state.across.shape)
        blocks: list[torch.Tensor] = []

        def new_block() -> None:
            noise = self.draws.normal((sp._BLOCK, *state.frame.shape))
            across_noise = self.draws.normal((sp._BLOCK, *chains))
            if m < 2:  # no room for v: ρ stays 0
                across_noise.zero_()
            dof = sp._chi_square_dof(m)
            if dof >= 1:
                chi_square = self.draws.chi_square(dof, (sp._BLOCK, *chains))
            else:
                chi_square = torch.zeros_like(across_noise)
            log_uniform = self.draws.log_uniform((sp._BLOCK, *chains))
            blocks[:] = [noise, across_noise, chi_square, log_uniform]

        def advance(current, offset):
            draws = (block[offset] for block in blocks)
            new, info = mala_span_step(memory, current, *draws, beta, alpha)
            accepted.add_(info.accepted)
            return new

        def on_record(current, step, index):
            span, along = current.frame[..., :-1, :], current.frame[..., -1, :]
            orthogonal = self._materialise(basis, lazy["direction"], along, current.across)
            self.records[index] = basis @ span + orthogonal
            self._raise_if_bad(self.records[index].sum(dim=-2), step)
            return frame_state(span, orthogonal)

        self._drive(state, advance, lambda current: current.log_weight, new_block, on_record)
        return accepted

    def _uniform_directions(self, basis, exclude=None) -> torch.Tensor:
        """Unit columns (…, d, C), uniform on the sphere orthogonal to the span (and exclude)."""
        fresh = self.draws.normal(self.states.shape)
        fresh -= basis @ (basis.mT @ fresh)
        if exclude is not None:
            fresh -= exclude * torch.linalg.vecdot(exclude, fresh, dim=-2)[..., None, :]
        return fresh / _sq(fresh).sqrt()[..., None, :]

    def _directions(self, basis, orthogonal, length) -> torch.Tensor:
        """u = z / ‖z‖ per chain, or a uniform direction where z is exactly 0 (one sync)."""
        zero = length == 0
        if not bool(zero.any()):
            return orthogonal / length[..., None, :]
        fallback = self._uniform_directions(basis)
        safe = torch.where(zero, 1, length)[..., None, :]
        return torch.where(zero[..., None, :], fallback, orthogonal / safe)

    def _materialise(self, basis, direction, along, across) -> torch.Tensor:
        """z = along·u + across·v with v uniform on the sphere orthogonal to the span and u."""
        if direction.shape[-2] - basis.shape[-1] < 2:  # no room for v: across stays 0
            orthogonal = direction * along[..., None, :]
        else:
            lazy = self._uniform_directions(basis, exclude=direction)
            orthogonal = direction * along[..., None, :] + lazy * across[..., None, :]
        orthogonal -= basis @ (basis.mT @ orthogonal)  # no drift into the span by rounding
        return orthogonal


def run_chains_torch(
    memory: np.ndarray,
    initial_states: np.ndarray,
    *,
    kernel: sp.Kernel,
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
    """``samplers.run_chains`` on ``device``: the same algorithms, arguments and result.

    memory: (d, K) or (B, d, K); initial_states: (d, C) or (B, d, C); record_steps:
    increasing step numbers. Exactly one of ``rng`` (NumPy; seeds a torch generator on the
    device) or ``generator`` (a ``torch.Generator`` on the device) gives the draws;
    ``draws="numpy"`` takes them from ``rng`` in the order of ``samplers.run_chains`` instead
    (exact comparison mode, see the module docstring). Records come back as NumPy arrays in
    the run's dtype, (R, d, C) or (R, B, d, C).
    """
    if kernel not in sp.KERNELS:
        raise ValueError(f"unknown kernel {kernel!r}; choose one of {sp.KERNELS}")
    device, torch_dtype = resolve_device(device), resolve_dtype(dtype)
    source = _make_draws(draws, rng, generator, device, torch_dtype)
    memory = np.asarray(memory, dtype=source.np_dtype)
    states = np.array(initial_states, dtype=source.np_dtype)
    sp._check_inputs(memory, states)
    alpha = sp._check_alpha(alpha)
    beta_host = sp._beta_vector(beta, states.shape[-1])
    steps = sp._check_record_steps(record_steps)
    start = time.perf_counter()
    engine = _Engine(memory, states, beta_host, alpha, steps, source)
    basis = reduced = None
    if reduce:
        basis, reduced = en.span_basis(memory)
        if basis.shape[-1] == memory.shape[-2]:
            basis = reduced = None
    acceptance = None
    with torch.inference_mode():
        if kernel == "sa":
            engine.sa(basis, reduced)
        else:
            accepted = engine.mala() if basis is None else engine.mala_span(basis, reduced)
            acceptance = accepted.cpu().numpy() / float(steps[-1])
        records = engine.records.cpu().numpy()
    return ChainRun(records, steps, acceptance, time.perf_counter() - start)
