"""VAE baseline (SPEC §4): a small fully connected variational autoencoder on the patterns.

Architecture for ``memory: (d, K)`` with ``hidden = (256, 128)`` and ``latent = 8``:
encoder ``d → 256 → 128`` (ReLU) with two linear heads ``128 → latent`` for μ and log σ²;
decoder ``latent → 128 → 256 → d`` (ReLU hidden, linear output ``o``), whose output is scaled
to unit length, ``x̂ = o / (‖o‖ + 1e-8)`` (SPEC §4: the patterns are unit vectors, so the model
only has to learn directions). Weights Glorot-uniform, biases zero.

Loss per epoch: ``reconstruction + β_KL · KL`` where reconstruction is ‖x − x̂‖² **summed over
the d coordinates and averaged over the patterns of the batch**, and KL is
``KL(N(μ, σ²) ‖ N(0, I))`` summed over latent dimensions and averaged over the batch. β_KL is
0 for the first ``kl_off_fraction · epochs`` epochs (SPEC: epochs 1–2000 of 4000) and then rises
linearly, reaching ``beta_kl`` (1e-4) at the last epoch. Adam (lr 1e-3), full batch unless
``batch_size`` is set (E15: 256, shuffled each epoch from the fit's seed).

Samples: ``z ~ N(0, I)`` (drawn on the CPU, so the same seed gives the same z on every device),
decode to ``x̂``, renormalise each column to unit norm.

Training runs on ``device`` (``auto``: CUDA when available); the initial weights are drawn on
the CPU either way. A line ``vae: epoch k/N loss …`` goes to the ``stochastic_attention``
logger at most every 10 s.

:func:`fit` trains one VAE as a plain ``nn.Module`` (the literal reference);
:func:`fit_replicates` trains R of them, one per seed, as one stacked model (see
:mod:`._common`): replicate r starts from the weights ``fit`` with seed r would draw, takes
its reparameterisation noise and batch order from its own generator in the same order, and
follows that fit up to float rounding.
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
from stochastic_attention.baselines.params import VaeParams

__all__ = [
    "OUTPUT_EPS",
    "FittedVae",
    "VaeNet",
    "VaeParams",
    "fit",
    "fit_replicates",
    "kl_weights",
]

OUTPUT_EPS = 1e-8
"""The ε of the decoder's output scaling ``x̂ = o / (‖o‖ + ε)`` (SPEC §4)."""


def kl_weights(params: VaeParams) -> np.ndarray:
    """β_KL for each epoch, shape ``(epochs,)``.

    Epochs ``1 … n_off`` (``n_off = round(kl_off_fraction · epochs)``) get 0; epoch ``e > n_off``
    gets ``beta_kl · (e − n_off) / (epochs − n_off)``, so the last epoch has ``beta_kl``.
    """
    n_off = round(params.kl_off_fraction * params.epochs)
    epoch = np.arange(1, params.epochs + 1, dtype=np.float64)
    ramp = (epoch - n_off) / max(params.epochs - n_off, 1)
    return params.beta_kl * np.clip(ramp, 0.0, 1.0)


class VaeNet(nn.Module):
    """Encoder ``d → hidden… → (μ, log σ²)``, decoder ``latent → reversed(hidden)… → d``."""

    def __init__(self, d: int, params: VaeParams, generator: torch.Generator) -> None:
        super().__init__()
        body = [d, *params.hidden]
        self.encoder = nn.Sequential(_common.mlp(body, generator, init="glorot"), nn.ReLU())
        self.mu = _common.mlp([body[-1], params.latent], generator, init="glorot")
        self.logvar = _common.mlp([body[-1], params.latent], generator, init="glorot")
        self.decoder = _common.mlp([params.latent, *reversed(body)], generator, init="glorot")

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x: (n, d)`` → ``(μ, log σ²)``, each ``(n, latent)``."""
        h = self.encoder(x)
        return self.mu(h), self.logvar(h)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``z: (n, latent)`` → ``x̂ = o / (‖o‖ + 1e-8)``, ``(n, d)``, ``o`` the raw output."""
        out = self.decoder(z)
        return out / (torch.linalg.vector_norm(out, dim=1, keepdim=True) + OUTPUT_EPS)


@dataclasses.dataclass(frozen=True)
class FittedVae:
    """A trained VAE.

    history: per-epoch ``loss`` (total), ``reconstruction`` and ``kl``; with minibatches each
    is the pattern-weighted mean over the epoch's batches. The β_KL of each epoch is
    :func:`kl_weights` of ``params``. device: where it was trained (the net lives there).
    """

    net: VaeNet
    params: VaeParams
    threads: int
    history: dict[str, list[float]]
    train_seconds: float
    device: str = "cpu"

    @property
    def final_loss(self) -> float:
        """The last epoch's total loss (reconstruction + β_KL · KL)."""
        return float(self.history["loss"][-1])

    @property
    def final_reconstruction(self) -> float:
        """The last epoch's reconstruction loss ‖x − x̂‖² (mean over patterns)."""
        return float(self.history["reconstruction"][-1])

    def decode(self, z: np.ndarray) -> np.ndarray:
        """Decode latent points ``z: (latent, n)`` → ``x̂: (d, n)`` float64 (the decoder's
        unit-scaled output, not renormalised in float64)."""
        with _common.torch_session(self.threads, 0), torch.inference_mode():
            zt = torch.as_tensor(np.asarray(z, dtype=np.float32).T).to(self.device)
            return self.net.decode(zt).double().cpu().numpy().T.copy()

    def sample(self, n: int, rng: np.random.Generator, *, renormalise: bool = True) -> np.ndarray:
        """Draw ``n`` samples ``(d, n)``: ``z ~ N(0, I)`` (from a torch generator seeded by
        ``rng``), decode, unit norm unless ``renormalise=False``."""
        if n < 1:
            raise ValueError(f"n must be ≥ 1, got {n}")
        seed = _common.torch_seed(rng)
        with _common.torch_session(self.threads, seed) as gen:
            z = torch.randn((self.params.latent, n), generator=gen).numpy()
        raw = self.decode(z)
        return _common.renormalise(raw) if renormalise else raw


def fit(
    memory: np.ndarray,
    params: VaeParams | None = None,
    seed: int = 0,
    *,
    threads: int = 1,
    progress: _common.ProgressFn | None = None,
) -> FittedVae:
    """Train the VAE on the K patterns of ``memory: (d, K)`` (float32) with every random draw
    (init, reparameterisation noise, batch order) from torch generators seeded by ``seed``
    (one CPU generator on CPU; see :func:`_common.training_generator` for CUDA)."""
    params = params or VaeParams()
    memory = _common.as_memory(memory)
    d, k = memory.shape
    device = _common.resolve_device(params.device)
    betas = kl_weights(params)
    start = time.perf_counter()
    with _common.torch_session(threads, seed) as cpu_gen:
        net = VaeNet(d, params, cpu_gen).to(device)
        gen = _common.training_generator(device, cpu_gen)
        x = torch.as_tensor(memory.T, dtype=torch.float32).contiguous().to(device)  # (K, d)
        optimiser = torch.optim.Adam(net.parameters(), lr=params.lr, fused=True)
        record = torch.zeros((params.epochs, 3), dtype=torch.float64, device=device)
        batch = k if params.batch_size is None else min(params.batch_size, k)
        log = _common.EpochLog("vae", params.epochs, device=device)
        for epoch in range(params.epochs):
            order = None if batch == k else torch.randperm(k, generator=gen, device=device)
            for first in range(0, k, batch):
                xb = x if order is None else x[order[first : first + batch]]
                terms = _step(net, optimiser, xb, float(betas[epoch]), gen)
                record[epoch] += terms * (xb.shape[0] / k)
            _check_epoch(record[epoch], epoch, progress, log)
        record = record.cpu()
    seconds = time.perf_counter() - start
    history = {
        "loss": record[:, 0].tolist(),
        "reconstruction": record[:, 1].tolist(),
        "kl": record[:, 2].tolist(),
    }
    net.eval()
    return FittedVae(net, params, threads, history, seconds, device)


def _step(
    net: VaeNet, optimiser: Any, xb: torch.Tensor, beta_kl: float, gen: torch.Generator
) -> torch.Tensor:
    """One Adam step on batch ``xb: (n, d)``; returns detached (loss, reconstruction, KL)."""
    mu, logvar = net.encode(xb)
    eps = torch.randn(mu.shape, generator=gen, device=mu.device)
    z = mu + torch.exp(0.5 * logvar) * eps
    recon = (xb - net.decode(z)).square().sum(dim=1).mean()
    kl = (-0.5 * (1.0 + logvar - mu.square() - logvar.exp())).sum(dim=1).mean()
    loss = recon + beta_kl * kl if beta_kl > 0.0 else recon
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    optimiser.step()
    return torch.stack([loss, recon, kl]).detach().double()


def _check_epoch(
    terms: torch.Tensor, epoch: int, progress: _common.ProgressFn | None, log: _common.EpochLog
) -> None:
    """Fail loudly on a non-finite loss; report the epoch's total loss (1-based epoch)."""
    values = terms.tolist()
    loss = values[0]
    if not math.isfinite(loss):
        raise FloatingPointError(f"VAE loss became non-finite at epoch {epoch + 1}: {values}")
    if progress is not None:
        progress(epoch + 1, loss)
    log(epoch + 1, loss, f" reconstruction {values[1]:.6g}")


def fit_replicates(
    memory: np.ndarray,
    params: VaeParams | None = None,
    seeds: list[int] | tuple[int, ...] = (0,),
    *,
    threads: int = 1,
    progress: _common.ProgressFn | None = None,
) -> list[FittedVae]:
    """Train one VAE per seed on ``memory: (d, K)``, all R together (stacked weights, one
    batched product per layer, one Adam); returns R fits, replicate r ≈ ``fit(…, seeds[r])``.

    Every fit's ``train_seconds`` is the wall time of the joint fit. The loss is read back
    only when a progress line is due (≈ every 10 s) and at the end; a non-finite loss raises
    ``FloatingPointError`` naming the first bad epoch and replicate.
    """
    params = params or VaeParams()
    memory = _common.as_memory(memory)
    d, k = memory.shape
    device = _common.resolve_device(params.device)
    betas = kl_weights(params).tolist()
    start = time.perf_counter()
    with _common.torch_session(threads, int(seeds[0]) if seeds else 0):
        nets, gens = _common.replicate_nets(lambda g: VaeNet(d, params, g), seeds, device)
        model = _StackedVae(nets, device)
        x = torch.as_tensor(memory.T, dtype=torch.float32).contiguous().to(device)  # (K, d)
        optimiser = torch.optim.Adam(model.parameters(), lr=params.lr, fused=True)
        replicates = len(nets)
        record = torch.zeros((params.epochs, replicates, 3), dtype=torch.float64, device=device)
        batch = k if params.batch_size is None else min(params.batch_size, k)
        log = _common.EpochLog("vae", params.epochs, device=device, replicates=replicates)
        for epoch in range(params.epochs):
            for xb in _common.replicate_minibatches(x, batch, gens):
                xb = xb.expand(replicates, -1, -1)  # (R, n, d): the whole set is one view
                terms = model.step(optimiser, xb, betas[epoch], gens)
                record[epoch] += terms * (xb.shape[1] / k)
            if log.due(epoch + 1):
                _report_replicates(record, epoch, seeds, progress, log)
        record = record.cpu()
    seconds = time.perf_counter() - start
    model.unstack_into(nets)
    fits = []
    for r, net in enumerate(nets):
        net.eval()
        history = {
            "loss": record[:, r, 0].tolist(),
            "reconstruction": record[:, r, 1].tolist(),
            "kl": record[:, r, 2].tolist(),
        }
        fits.append(FittedVae(net, params, threads, history, seconds, device))
    return fits


class _StackedVae:
    """R VAEs as stacked layers: encoder, μ and log σ² heads, decoder (see :class:`VaeNet`)."""

    def __init__(self, nets: list[VaeNet], device: str) -> None:
        def stack(part: str) -> list[_common.StackedLinear]:
            per_net = [_common.linear_layers(getattr(net, part)) for net in nets]
            return [_common.StackedLinear(layers, device) for layers in zip(*per_net, strict=True)]

        self.parts = {part: stack(part) for part in ("encoder", "mu", "logvar", "decoder")}

    def parameters(self) -> list[torch.Tensor]:
        return [p for layers in self.parts.values() for layer in layers for p in layer.parameters()]

    def unstack_into(self, nets: list[VaeNet]) -> None:
        for part, layers in self.parts.items():
            per_net = [_common.linear_layers(getattr(net, part)) for net in nets]
            for stacked, copies in zip(layers, zip(*per_net, strict=True), strict=True):
                stacked.unstack_into(copies)

    def step(
        self, optimiser: Any, xb: torch.Tensor, beta_kl: float, gens: list[torch.Generator]
    ) -> torch.Tensor:
        """One Adam step of all replicates on ``xb: (R, n, d)``; returns the detached
        (loss, reconstruction, KL) of each replicate, ``(R, 3)``."""
        parts = self.parts
        h = _common.stacked_forward(parts["encoder"], xb, relu_last=True)
        mu = _common.stacked_forward(parts["mu"], h)
        logvar = _common.stacked_forward(parts["logvar"], h)
        eps = torch.stack(
            [torch.randn(mu.shape[1:], generator=gen, device=mu.device) for gen in gens]
        )
        z = mu + torch.exp(0.5 * logvar) * eps
        out = _common.stacked_forward(parts["decoder"], z)
        x_hat = out / (torch.linalg.vector_norm(out, dim=2, keepdim=True) + OUTPUT_EPS)
        recon = (xb - x_hat).square().sum(dim=2).mean(dim=1)
        kl = (-0.5 * (1.0 + logvar - mu.square() - logvar.exp())).sum(dim=2).mean(dim=1)
        loss = recon + beta_kl * kl if beta_kl > 0.0 else recon
        optimiser.zero_grad(set_to_none=True)
        loss.sum().backward()
        optimiser.step()
        return torch.stack([loss, recon, kl], dim=1).detach().double()


def _report_replicates(
    record: torch.Tensor,
    epoch: int,
    seeds: list[int] | tuple[int, ...],
    progress: _common.ProgressFn | None,
    log: _common.EpochLog,
) -> None:
    """Fail loudly on a non-finite loss so far; log and report the replicates' mean loss."""
    bad = _common.first_non_finite(record[: epoch + 1])
    if bad is not None:
        at, r = bad
        raise FloatingPointError(
            f"VAE loss became non-finite at epoch {at + 1} of replicate {r} (seed {seeds[r]}): "
            f"{record[at, r].tolist()}"
        )
    loss, recon = record[epoch, :, 0].mean().item(), record[epoch, :, 1].mean().item()
    if progress is not None:
        progress(epoch + 1, loss)
    mean = f" (mean of {record.shape[1]} replicates)" if record.shape[1] > 1 else ""
    log(epoch + 1, loss, f" reconstruction {recon:.6g}{mean}")
