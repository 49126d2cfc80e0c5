"""Parameter classes of the learned baselines (GMM-PCA, VAE, DDPM; SPEC §4), without torch.

Config checks build these from a method's ``train`` block before any job exists
(:meth:`ConfigParams.from_config` names the allowed keys), so they live apart from the
models: importing this module loads neither torch nor scikit-learn. ``gmm_pca``, ``vae`` and
``ddpm`` re-export their class.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from stochastic_attention.baselines import _common

__all__ = [
    "EPOCH_SCALINGS",
    "INITS",
    "DdpmParams",
    "GmmPcaParams",
    "VaeParams",
    "training_epochs",
]

INITS = ("reference", "k-means++")


EPOCH_SCALINGS = ("steps", "examples", "none")


@dataclasses.dataclass(frozen=True)
class GmmPcaParams(_common.ConfigParams):
    """GMM-PCA parameters; defaults are SPEC §4.

    rank: requested principal directions (capped at ``min(d, K) − 1``).
    components: mixture components (capped at K).
    tol: EM convergence tolerance on the lower-bound change.
    max_iter: EM iteration cap (scikit-learn's default of 100 is often hit at tol 1e-8).
    reg_covar: scikit-learn's variance floor added to the diagonal covariances.
    init: EM start, ``reference`` (SPEC) or ``k-means++`` (scikit-learn's own).
    """

    rank: int = 50
    components: int = 10
    tol: float = 1e-8
    max_iter: int = 1000
    reg_covar: float = 1e-6
    init: str = "reference"

    def __post_init__(self) -> None:
        if self.init not in INITS:
            raise ValueError(f"GmmPcaParams.init must be one of {INITS}, got {self.init!r}")
        for name in ("rank", "components", "max_iter"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"GmmPcaParams.{name} must be an int ≥ 1, got {value!r}")
        for name in ("tol", "reg_covar"):
            value = getattr(self, name)
            if not (isinstance(value, float | int) and np.isfinite(value) and value > 0):
                raise ValueError(f"GmmPcaParams.{name} must be a finite float > 0, got {value!r}")


@dataclasses.dataclass(frozen=True)
class VaeParams(_common.ConfigParams):
    """VAE parameters; defaults are SPEC §4 (E15 uses ``hidden=(512, 256)``, ``batch_size=256``).

    hidden: encoder widths from the input side; the decoder mirrors them.
    kl_off_fraction: fraction of the epochs trained with β_KL = 0 before the linear ramp.
    batch_size: ``None`` = full batch (one gradient step per epoch).
    device: ``auto`` (CUDA when available), ``cpu`` or ``cuda``; where the training runs.
    """

    latent: int = 8
    hidden: tuple[int, ...] = (256, 128)
    epochs: int = 4000
    kl_off_fraction: float = 0.5
    beta_kl: float = 1e-4
    lr: float = 1e-3
    batch_size: int | None = None
    device: str = "auto"

    def __post_init__(self) -> None:
        if self.device not in _common.DEVICES:
            raise ValueError(
                f"VaeParams.device must be one of {_common.DEVICES}, got {self.device!r}"
            )
        ints = {"latent": self.latent, "epochs": self.epochs}
        if self.batch_size is not None:
            ints["batch_size"] = self.batch_size
        for name, value in ints.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"VaeParams.{name} must be an int ≥ 1, got {value!r}")
        if not self.hidden or any(not isinstance(h, int) or h < 1 for h in self.hidden):
            raise ValueError(f"VaeParams.hidden must be positive ints, got {self.hidden!r}")
        if not 0.0 <= self.kl_off_fraction <= 1.0:
            raise ValueError(
                f"VaeParams.kl_off_fraction must be in [0, 1], got {self.kl_off_fraction}"
            )
        if not (math.isfinite(self.beta_kl) and self.beta_kl >= 0.0):
            raise ValueError(f"VaeParams.beta_kl must be finite and ≥ 0, got {self.beta_kl}")
        if not (math.isfinite(self.lr) and self.lr > 0.0):
            raise ValueError(f"VaeParams.lr must be finite and > 0, got {self.lr}")


@dataclasses.dataclass(frozen=True)
class DdpmParams(_common.ConfigParams):
    """DDPM parameters; defaults are SPEC §4.

    hidden: MLP widths after the ``d + embedding`` input.
    embedding: width of the sinusoidal time embedding (even).
    steps: diffusion steps T; beta_start / beta_end: ends of the linear β schedule.
    epochs: epochs at ``reference_patterns`` patterns; see the module docstring for scaling.
    batch_size: ``None`` = full batch.
    device: ``auto`` (CUDA when available), ``cpu`` or ``cuda``; where the training runs.
    """

    hidden: tuple[int, ...] = (512, 256, 512)
    embedding: int = 64
    steps: int = 200
    beta_start: float = 1e-4
    beta_end: float = 0.02
    lr: float = 1e-3
    epochs: int = 5000
    batch_size: int | None = None
    reference_patterns: int = 100
    epoch_scaling: str = "steps"
    device: str = "auto"

    def __post_init__(self) -> None:
        if self.device not in _common.DEVICES:
            raise ValueError(
                f"DdpmParams.device must be one of {_common.DEVICES}, got {self.device!r}"
            )
        ints = {
            "embedding": self.embedding,
            "steps": self.steps,
            "epochs": self.epochs,
            "reference_patterns": self.reference_patterns,
        }
        if self.batch_size is not None:
            ints["batch_size"] = self.batch_size
        for name, value in ints.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"DdpmParams.{name} must be an int ≥ 1, got {value!r}")
        if self.embedding % 2:
            raise ValueError(f"DdpmParams.embedding must be even, got {self.embedding}")
        if not self.hidden or any(not isinstance(h, int) or h < 1 for h in self.hidden):
            raise ValueError(f"DdpmParams.hidden must be positive ints, got {self.hidden!r}")
        if not 0.0 < self.beta_start <= self.beta_end < 1.0:
            raise ValueError(
                f"DdpmParams needs 0 < beta_start ≤ beta_end < 1, got "
                f"{self.beta_start}, {self.beta_end}"
            )
        if not (math.isfinite(self.lr) and self.lr > 0.0):
            raise ValueError(f"DdpmParams.lr must be finite and > 0, got {self.lr}")
        if self.epoch_scaling not in EPOCH_SCALINGS:
            raise ValueError(
                f"DdpmParams.epoch_scaling must be one of {EPOCH_SCALINGS}, "
                f"got {self.epoch_scaling!r}"
            )


def training_epochs(params: DdpmParams, k: int) -> int:
    """Epochs actually trained on K patterns under ``params.epoch_scaling`` (≥ 1)."""
    if params.epoch_scaling == "none":
        return params.epochs
    if params.epoch_scaling == "examples":
        return max(1, round(params.epochs * params.reference_patterns / k))
    batch = params.batch_size

    def per_epoch(n: int) -> int:
        return 1 if batch is None else math.ceil(n / batch)

    return max(1, round(params.epochs * per_epoch(params.reference_patterns) / per_epoch(k)))
