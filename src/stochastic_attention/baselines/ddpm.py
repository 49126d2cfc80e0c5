"""DDPM baseline (SPEC §4): an MLP ε-predictor trained on the stored patterns.

Forward process on a pattern ``x₀`` (a column of ``memory: (d, K)``): ``steps = 200`` steps,
linear ``β_t`` from 1e-4 to 0.02, ``x_t = √ᾱ_t x₀ + √(1 − ᾱ_t) ε``. The denoiser is an MLP on
``[x_t, emb(t)]`` (64-dim sinusoidal embedding) ``→ 512 → 256 → 512 → d`` with ReLU, predicting
ε; loss = mean squared error over all coordinates of the batch (so a model that learned nothing,
ε̂ ≈ 0, sits at ≈ 1). Adam lr 1e-3, full batch, 5000 epochs by default; weights use PyTorch's
``nn.Linear`` initialisation drawn from the fit's own generator.

Sampling is ancestral (Ho et al. 2020, Algorithm 2): ``x_T ~ N(0, I)``, then
``x_{t−1} = (x_t − β_t / √(1 − ᾱ_t) · ε̂) / √α_t + σ_t z`` with the posterior variance
``σ_t² = β̃_t = β_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t)`` and no noise at the last step; the result is
renormalised to unit norm. Note that with this schedule ``√ᾱ_T ≈ 0.37``: the forward process
does not fully reach N(0, I) in 200 steps (a property of the SPEC schedule, kept as is).

Training runs on ``device`` (``auto``: CUDA when available); initial weights and all sampling
noise are drawn on the CPU, so a seed gives the same start and the same sampling noise on every
device. A line ``ddpm: epoch k/N loss …`` goes to the ``stochastic_attention`` logger at most
every 10 s.

:func:`fit` trains one DDPM as a plain ``nn.Module`` (the literal reference);
:func:`fit_replicates` trains R of them, one per seed, as one stacked model (see
:mod:`._common`): replicate r starts from the weights ``fit`` with seed r would draw, takes
its t, ε and batch order from its own generator in the same order, and follows that fit up
to float rounding.

**Epoch scaling with K** (SPEC: "scaled so total gradient steps stay comparable when K
grows"), chosen by ``epoch_scaling``:

* ``"steps"`` (default): hold the number of gradient steps at
  ``epochs · ⌈reference_patterns / batch⌉``; the epoch count becomes
  ``round(epochs · ⌈reference / batch⌉ / ⌈K / batch⌉)``. With full batch (the SPEC default) one
  epoch is one gradient step for every K, so the count stays ``epochs``: 5000 steps at every K,
  and the training cost grows linearly in K.
* ``"examples"``: hold the number of pattern presentations ``epochs · reference_patterns``;
  epochs become ``round(epochs · reference / K)`` (fewer gradient steps for larger K).
* ``"none"``: ``epochs`` as given.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any

import numpy as np
import torch
from torch import nn

from stochastic_attention.baselines import _common
from stochastic_attention.baselines.params import DdpmParams, training_epochs

__all__ = [
    "DdpmNet",
    "DdpmParams",
    "FittedDdpm",
    "NoiseSchedule",
    "fit",
    "fit_replicates",
    "time_embedding",
    "training_epochs",
]


@dataclasses.dataclass(frozen=True)
class NoiseSchedule:
    """Linear-β diffusion schedule; every tensor has shape ``(steps,)``, index t = 0 … T−1."""

    beta: torch.Tensor
    alpha: torch.Tensor
    alpha_bar: torch.Tensor
    posterior_var: torch.Tensor

    @classmethod
    def linear(cls, steps: int, beta_start: float, beta_end: float) -> NoiseSchedule:
        beta = torch.linspace(beta_start, beta_end, steps, dtype=torch.float64)
        alpha = 1.0 - beta
        alpha_bar = torch.cumprod(alpha, dim=0)
        prev = torch.cat([torch.ones(1, dtype=torch.float64), alpha_bar[:-1]])
        posterior_var = beta * (1.0 - prev) / (1.0 - alpha_bar)
        return cls(*(v.float() for v in (beta, alpha, alpha_bar, posterior_var)))

    def to(self, device: str) -> NoiseSchedule:
        """The same schedule with every tensor on ``device``."""
        return NoiseSchedule(*(v.to(device) for v in dataclasses.astuple(self)))


def time_embedding(steps: int, width: int) -> torch.Tensor:
    """Sinusoidal embedding table ``(steps, width)``: ``[sin(t ω_i), cos(t ω_i)]`` with
    ``ω_i = 10000^(−i / (width/2))``, ``i = 0 … width/2 − 1``, for t = 0 … steps−1."""
    half = width // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float64) / half)
    args = torch.arange(steps, dtype=torch.float64)[:, None] * freqs[None, :]
    return torch.cat([torch.sin(args), torch.cos(args)], dim=1).float()


class DdpmNet(nn.Module):
    """ε-predictor: ``[x_t, emb(t)] → hidden… → d`` with ReLU hidden layers."""

    def __init__(self, d: int, params: DdpmParams, generator: torch.Generator) -> None:
        super().__init__()
        sizes = [d + params.embedding, *params.hidden, d]
        self.body = _common.mlp(sizes, generator, init="torch")
        self.register_buffer("table", time_embedding(params.steps, params.embedding))

    def forward(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """``x_t: (n, d)``, ``t: (n,)`` int64 step indices → predicted ε ``(n, d)``."""
        return self.body(torch.cat([x_t, self.table[t]], dim=1))


@dataclasses.dataclass(frozen=True)
class FittedDdpm:
    """A trained DDPM. history: per-epoch ``loss`` (ε-MSE); device: where the net lives."""

    net: DdpmNet
    schedule: NoiseSchedule
    threads: int
    history: dict[str, list[float]]
    train_seconds: float
    device: str = "cpu"

    @property
    def final_loss(self) -> float:
        """The last epoch's ε-MSE."""
        return float(self.history["loss"][-1])

    @property
    def loss_plateau(self) -> float:
        """Mean loss over the last 10 % of epochs (≥ 1 epoch); ≈ 1 means it learned nothing."""
        loss = self.history["loss"]
        tail = max(1, math.ceil(0.1 * len(loss)))
        return float(np.mean(loss[-tail:]))

    def sample(self, n: int, rng: np.random.Generator, *, renormalise: bool = True) -> np.ndarray:
        """Ancestral sampling of ``n`` states ``(d, n)`` from a torch generator seeded by
        ``rng``; unit norm unless ``renormalise=False`` (then the raw ``x_0``)."""
        if n < 1:
            raise ValueError(f"n must be ≥ 1, got {n}")
        seed = _common.torch_seed(rng)
        with _common.torch_session(self.threads, seed) as gen, torch.inference_mode():
            raw = _ancestral(self.net, self.schedule, n, gen).double().numpy().T.copy()
        return _common.renormalise(raw) if renormalise else raw


def _ancestral(net: DdpmNet, sched: NoiseSchedule, n: int, gen: torch.Generator) -> torch.Tensor:
    """Run the reverse chain from ``x_T ~ N(0, I)``; returns ``x_0: (n, d)`` on the CPU.

    The noise comes from the CPU generator ``gen`` and is moved to the net's device."""
    d = net.body[-1].out_features
    device = net.table.device
    x = torch.randn((n, d), generator=gen).to(device)
    for t in range(sched.beta.numel() - 1, -1, -1):
        eps = net(x, torch.full((n,), t, dtype=torch.long, device=device))
        coef = sched.beta[t] / torch.sqrt(1.0 - sched.alpha_bar[t])
        x = (x - coef * eps) / torch.sqrt(sched.alpha[t])
        if t > 0:
            noise = torch.randn((n, d), generator=gen).to(device)
            x = x + torch.sqrt(sched.posterior_var[t]) * noise
    return x.cpu()


def fit(
    memory: np.ndarray,
    params: DdpmParams | None = None,
    seed: int = 0,
    *,
    threads: int = 1,
    progress: _common.ProgressFn | None = None,
) -> FittedDdpm:
    """Train the DDPM on the K patterns of ``memory: (d, K)`` (float32) for
    :func:`training_epochs` epochs; every draw (init, t, ε, batch order) comes from torch
    generators seeded by ``seed`` (one CPU generator on CPU; see
    :func:`_common.training_generator` for CUDA)."""
    params = params or DdpmParams()
    memory = _common.as_memory(memory)
    d, k = memory.shape
    device = _common.resolve_device(params.device)
    epochs = training_epochs(params, k)
    sched = NoiseSchedule.linear(params.steps, params.beta_start, params.beta_end).to(device)
    start = time.perf_counter()
    with _common.torch_session(threads, seed) as cpu_gen:
        net = DdpmNet(d, params, cpu_gen).to(device)
        gen = _common.training_generator(device, cpu_gen)
        x0 = torch.as_tensor(memory.T, dtype=torch.float32).contiguous().to(device)  # (K, d)
        optimiser = torch.optim.Adam(net.parameters(), lr=params.lr, fused=True)
        record = torch.zeros(epochs, dtype=torch.float64, device=device)
        batch = k if params.batch_size is None else min(params.batch_size, k)
        log = _common.EpochLog("ddpm", epochs, device=device)
        for epoch in range(epochs):
            order = None if batch == k else torch.randperm(k, generator=gen, device=device)
            for first in range(0, k, batch):
                xb = x0 if order is None else x0[order[first : first + batch]]
                loss = _step(net, optimiser, sched, xb, params.steps, gen)
                record[epoch] += loss * (xb.shape[0] / k)
            _check_epoch(float(record[epoch]), epoch, progress, log)
        record = record.cpu()
    seconds = time.perf_counter() - start
    net.eval()
    return FittedDdpm(net, sched, threads, {"loss": record.tolist()}, seconds, device)


def _step(
    net: DdpmNet,
    optimiser: Any,
    sched: NoiseSchedule,
    x0: torch.Tensor,
    steps: int,
    gen: torch.Generator,
) -> torch.Tensor:
    """One Adam step of the ε-MSE on ``x0: (n, d)``; returns the detached loss."""
    t = torch.randint(0, steps, (x0.shape[0],), generator=gen, device=x0.device)
    eps = torch.randn(x0.shape, generator=gen, device=x0.device)
    ab = sched.alpha_bar[t][:, None]
    x_t = torch.sqrt(ab) * x0 + torch.sqrt(1.0 - ab) * eps
    loss = (net(x_t, t) - eps).square().mean()
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    optimiser.step()
    return loss.detach().double()


def _check_epoch(
    loss: float, epoch: int, progress: _common.ProgressFn | None, log: _common.EpochLog
) -> None:
    """Fail loudly on a non-finite loss; report the epoch's loss (1-based epoch)."""
    if not math.isfinite(loss):
        raise FloatingPointError(f"DDPM loss became non-finite at epoch {epoch + 1}: {loss}")
    if progress is not None:
        progress(epoch + 1, loss)
    log(epoch + 1, loss)


def fit_replicates(
    memory: np.ndarray,
    params: DdpmParams | None = None,
    seeds: list[int] | tuple[int, ...] = (0,),
    *,
    threads: int = 1,
    progress: _common.ProgressFn | None = None,
) -> list[FittedDdpm]:
    """Train one DDPM per seed on ``memory: (d, K)``, all R together (stacked weights, one
    batched product per layer, one Adam); returns R fits, replicate r ≈ ``fit(…, seeds[r])``.

    Every fit's ``train_seconds`` is the wall time of the joint fit. The loss is read back
    only when a progress line is due (≈ every 10 s) and at the end; a non-finite loss raises
    ``FloatingPointError`` naming the first bad epoch and replicate.
    """
    params = params or DdpmParams()
    memory = _common.as_memory(memory)
    d, k = memory.shape
    device = _common.resolve_device(params.device)
    epochs = training_epochs(params, k)
    sched = NoiseSchedule.linear(params.steps, params.beta_start, params.beta_end).to(device)
    start = time.perf_counter()
    with _common.torch_session(threads, int(seeds[0]) if seeds else 0):
        nets, gens = _common.replicate_nets(lambda g: DdpmNet(d, params, g), seeds, device)
        body = [
            _common.StackedLinear(layers, device)
            for layers in zip(*(_common.linear_layers(net.body) for net in nets), strict=True)
        ]
        table = nets[0].table
        x0 = torch.as_tensor(memory.T, dtype=torch.float32).contiguous().to(device)  # (K, d)
        optimiser = torch.optim.Adam(
            [p for layer in body for p in layer.parameters()], lr=params.lr, fused=True
        )
        replicates = len(nets)
        record = torch.zeros((epochs, replicates), dtype=torch.float64, device=device)
        batch = k if params.batch_size is None else min(params.batch_size, k)
        log = _common.EpochLog("ddpm", epochs, device=device, replicates=replicates)
        for epoch in range(epochs):
            for xb in _common.replicate_minibatches(x0, batch, gens):  # (1 or R, n, d)
                n = xb.shape[1]
                loss = _stacked_step(body, table, optimiser, sched, xb, n, params.steps, gens)
                record[epoch] += loss * (n / k)
            if log.due(epoch + 1):
                _report_replicates(record, epoch, seeds, progress, log)
        record = record.cpu()
    seconds = time.perf_counter() - start
    for layer, copies in zip(
        body, zip(*(_common.linear_layers(net.body) for net in nets), strict=True), strict=True
    ):
        layer.unstack_into(copies)
    fits = []
    for r, net in enumerate(nets):
        net.eval()
        history = {"loss": record[:, r].tolist()}
        fits.append(FittedDdpm(net, sched, threads, history, seconds, device))
    return fits


def _stacked_step(
    body: list[_common.StackedLinear],
    table: torch.Tensor,
    optimiser: Any,
    sched: NoiseSchedule,
    x0: torch.Tensor,
    n: int,
    steps: int,
    gens: list[torch.Generator],
) -> torch.Tensor:
    """One Adam step of all replicates on ``x0: (R, n, d)`` (or ``(1, n, d)``, shared); each
    replicate draws its t and then its ε from its own generator, as :func:`_step` does.
    Returns the detached ε-MSE of each replicate, ``(R,)``."""
    device = x0.device
    draws = [
        (
            torch.randint(0, steps, (n,), generator=gen, device=device),
            torch.randn((n, x0.shape[2]), generator=gen, device=device),
        )
        for gen in gens
    ]
    t = torch.stack([draw[0] for draw in draws])  # (R, n)
    eps = torch.stack([draw[1] for draw in draws])  # (R, n, d)
    ab = sched.alpha_bar[t][..., None]
    x_t = torch.sqrt(ab) * x0 + torch.sqrt(1.0 - ab) * eps
    out = _common.stacked_forward(body, torch.cat([x_t, table[t]], dim=2))
    loss = (out - eps).square().mean(dim=(1, 2))
    optimiser.zero_grad(set_to_none=True)
    loss.sum().backward()
    optimiser.step()
    return loss.detach().double()


def _report_replicates(
    record: torch.Tensor,
    epoch: int,
    seeds: list[int] | tuple[int, ...],
    progress: _common.ProgressFn | None,
    log: _common.EpochLog,
) -> None:
    """Fail loudly on a non-finite loss so far; log and report the replicates' mean loss."""
    bad = _common.first_non_finite(record[: epoch + 1, :, None])
    if bad is not None:
        at, r = bad
        raise FloatingPointError(
            f"DDPM loss became non-finite at epoch {at + 1} of replicate {r} "
            f"(seed {seeds[r]}): {record[at, r].item()}"
        )
    loss = record[epoch].mean().item()
    if progress is not None:
        progress(epoch + 1, loss)
    mean = f" (mean of {record.shape[1]} replicates)" if record.shape[1] > 1 else ""
    log(epoch + 1, loss, mean)
