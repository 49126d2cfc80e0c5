"""GMM-PCA baseline (SPEC §4): a diagonal Gaussian mixture in the top principal directions.

The K stored patterns (columns of ``memory: (d, K)``) are centred and projected onto their top
``r = min(rank, min(d, K) − 1)`` principal directions; a ``GaussianMixture`` with
``min(components, K)`` diagonal-covariance components is fitted there by EM (tolerance 1e-8,
``random_state = seed``). A sample is drawn in PCA space, mapped back with the PCA inverse
``mean + componentsᵀ z`` and renormalised to unit norm.

EM starts as the reference does (SPEC §4, ``init="reference"``, :func:`reference_start`): the
means are the k-means++ picks themselves (``sklearn.cluster.kmeans_plusplus`` on the projected
patterns, seeded, no k-means iterations), every component's variances are the global
per-dimension variance of the projected patterns, and the weights are equal.
``init="k-means++"`` is scikit-learn's own start instead (responsibilities from the hard
assignment to the k-means++ picks, so means are cluster means and variances per cluster);
it is kept to compare with, not as the default.

Sampling uses the caller's numpy ``Generator`` (not scikit-learn's ``sample``, which draws
from the estimator's own random state and returns samples sorted by component).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
from sklearn.cluster import kmeans_plusplus
from sklearn.decomposition import PCA
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

from stochastic_attention.baselines import _common
from stochastic_attention.baselines.params import INITS, GmmPcaParams

__all__ = ["INITS", "FittedGmmPca", "GmmPcaParams", "MixtureStart", "fit", "reference_start"]


@dataclasses.dataclass(frozen=True)
class MixtureStart:
    """An EM start for ``C`` diagonal components in ``r`` dimensions.

    weights: (C,); means: (C, r); variances: (C, r); picks: (C,) row indices of the data
    points used as means.
    """

    weights: np.ndarray
    means: np.ndarray
    variances: np.ndarray
    picks: np.ndarray

    @property
    def precisions(self) -> np.ndarray:
        """``1 / variances`` (C, r): scikit-learn's ``precisions_init`` for ``diag``."""
        return 1.0 / self.variances


def reference_start(
    latent: np.ndarray, components: int, seed: int, floor: float = 1e-6
) -> MixtureStart:
    """The reference EM start for ``latent: (K, r)`` (SPEC §4).

    Means are ``components`` k-means++ picks of the rows of ``latent`` (seeded with ``seed``,
    no k-means iterations), every component's variances are the global per-dimension variance
    of ``latent`` (``ddof = 0``, raised to ``floor`` where smaller, so a flat direction cannot
    make a precision infinite), and the weights are equal.
    """
    latent = np.asarray(latent, dtype=np.float64)
    if latent.ndim != 2 or not 1 <= components <= latent.shape[0]:
        raise ValueError(
            f"reference_start needs latent (K, r) and 1 ≤ components ≤ K, got shape "
            f"{latent.shape} and components={components}"
        )
    means, picks = kmeans_plusplus(latent, n_clusters=components, random_state=seed)
    variance = np.maximum(latent.var(axis=0), floor)
    return MixtureStart(
        weights=np.full(components, 1.0 / components),
        means=np.asarray(means, dtype=np.float64),
        variances=np.tile(variance, (components, 1)),
        picks=np.asarray(picks, dtype=np.int64),
    )


@dataclasses.dataclass(frozen=True)
class FittedGmmPca:
    """A fitted GMM-PCA model.

    mean: (d,) pattern mean; directions: (r, d) orthonormal principal directions (rows);
    weights: (C,), means: (C, r), variances: (C, r) of the mixture in PCA coordinates.
    history: ``loss`` per EM iteration, the negated scikit-learn lower bound on the mean
    log-likelihood per pattern (EM never increases it); n_iter / converged: EM's outcome.
    """

    mean: np.ndarray
    directions: np.ndarray
    weights: np.ndarray
    means: np.ndarray
    variances: np.ndarray
    history: dict[str, list[float]]
    train_seconds: float
    n_iter: int
    converged: bool

    @property
    def rank(self) -> int:
        """Number of principal directions r actually used."""
        return int(self.directions.shape[0])

    def sample_latent(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Draw ``n`` points from the mixture in PCA coordinates: ``(r, n)``."""
        if n < 1:
            raise ValueError(f"n must be ≥ 1, got {n}")
        labels = rng.choice(self.weights.size, size=n, p=self.weights)
        noise = rng.standard_normal((n, self.rank))
        z = self.means[labels] + np.sqrt(self.variances[labels]) * noise
        return z.T

    def sample(self, n: int, rng: np.random.Generator, *, renormalise: bool = True) -> np.ndarray:
        """Draw ``n`` samples ``(d, n)``: mixture draw, PCA inverse, unit norm (with
        ``renormalise=False`` the raw ``mean + directionsᵀ z``)."""
        raw = self.mean[:, None] + self.directions.T @ self.sample_latent(n, rng)
        return _common.renormalise(raw) if renormalise else raw


def fit(
    memory: np.ndarray,
    params: GmmPcaParams | None = None,
    seed: int = 0,
    *,
    threads: int = 1,
    progress: _common.ProgressFn | None = None,
) -> FittedGmmPca:
    """Fit GMM-PCA to ``memory: (d, K)``; EM is seeded by ``seed`` and uses ``threads`` BLAS
    threads. ``progress(iteration, loss)`` is called for each EM iteration after the fit
    (scikit-learn exposes the iterations only at the end)."""
    params = params or GmmPcaParams()
    memory = _common.as_memory(memory)
    d, k = memory.shape
    rank = min(params.rank, min(d, k) - 1)
    if rank < 1:
        raise ValueError(f"GMM-PCA needs min(d, K) ≥ 2, got memory shape {memory.shape}")
    components = min(params.components, k)
    start = time.perf_counter()
    with threadpool_limits(limits=threads):
        pca = PCA(n_components=rank, svd_solver="full")
        latent = pca.fit_transform(memory.T)  # (K, r)
        start_kwargs = {}
        if params.init == "reference":
            begin = reference_start(latent, components, seed, floor=params.reg_covar)
            start_kwargs = {
                "weights_init": begin.weights,
                "means_init": begin.means,
                "precisions_init": begin.precisions,
            }
        gmm = GaussianMixture(
            n_components=components,
            covariance_type="diag",
            init_params="k-means++",
            tol=params.tol,
            max_iter=params.max_iter,
            reg_covar=params.reg_covar,
            random_state=seed,
            **start_kwargs,
        )
        gmm.fit(latent)
    seconds = time.perf_counter() - start
    bounds = [float(b) for b in getattr(gmm, "lower_bounds_", [gmm.lower_bound_])]
    history = {"loss": [-b for b in bounds]}
    for iteration, loss in enumerate(history["loss"], start=1):
        if progress is not None:
            progress(iteration, loss)
    return FittedGmmPca(
        mean=np.asarray(pca.mean_, dtype=np.float64),
        directions=np.asarray(pca.components_, dtype=np.float64),
        weights=np.asarray(gmm.weights_, dtype=np.float64) / float(np.sum(gmm.weights_)),
        means=np.asarray(gmm.means_, dtype=np.float64),
        variances=np.asarray(gmm.covariances_, dtype=np.float64),
        history=history,
        train_seconds=seconds,
        n_iter=int(gmm.n_iter_),
        converged=bool(gmm.converged_),
    )
