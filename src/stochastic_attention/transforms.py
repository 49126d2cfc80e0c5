"""Memory transforms: principal-direction projections of a memory.

``memory`` has shape ``(d, K)`` (one stored pattern per column), ``basis`` ``(d, r)`` has
orthonormal columns, ``reduced`` ``(r, K)`` is the memory in those coordinates and reduced
states ``(r, n)`` map back to pixels as ``basis @ states`` (plus the mean for the centred
projection). A dataset with ``pca_rank`` is sampled in its reduced coordinates: the memory
step stores ``reduced`` as the memory (and ``basis`` beside it), and the samplers run on it
like on any memory.

Uncentred projection (E17, PCA-space SA)
----------------------------------------
``basis`` = the top-r left singular vectors ``U_r`` of the memory itself (no mean removed) and
``reduced = U_rᵀ memory``. Because ``basis`` is orthonormal, for every reduced state ``y``

    ``E_reduced(y) = E_full(basis y)``  and  ``attention_reduced(y) = attention_full(basis y)``

at every r (``‖basis y‖ = ‖y‖``, ``memoryᵀ basis y = reducedᵀ y``). The projection matters for
a full-space state ``ξ`` with ``P = basis basisᵀ``:

    ``E_full(ξ) = E_reduced(basisᵀ ξ) + ½‖(I − P) ξ‖² − β⁻¹ [lse(β memoryᵀ ξ)
    − lse(β memoryᵀ P ξ)]``.

At ``r = rank(memory)`` the memory lies in the span, ``memoryᵀ ξ = memoryᵀ P ξ``, so the
logits and the attention are identical and the energies differ only by the exactly known
``½‖(I − P) ξ‖²`` (zero for ξ in the span). Below the rank each logit moves by
``x_kᵀ (I − P) ξ``, at most ``σ_{r+1} ‖(I − P) ξ‖`` in size (σ the singular values of the
memory), and log-sum-exp is 1-Lipschitz in the max norm, so the bracket is bounded by that
too. The wells become shallower: the reduced patterns have ``‖P x_k‖ ≤ 1``, the energy at a
reduced pattern is ``≤ −½‖P x_k‖²`` and the reduced energy is nowhere below
``−½ max_k ‖P x_k‖² − (log K)/β`` (against ≈ −½ at a unit pattern in the full space); the
captured share ``‖P x_k‖²`` is what the rank costs each pattern.
Uncentred is the default because ``r = K`` (e.g. 100 of 100 MNIST images) then reproduces
full-space SA exactly, while a centred basis has at most K − 1 directions.

Sampling in ``r`` dimensions changes the noise, not the drift: the Langevin noise
``sqrt(2α/β) ε`` lives in r instead of d dimensions, so its squared norm is ≈ r/β and the
step's signal-to-noise ratio is ``sqrt(α β / 2r)`` (use ``d = r`` in :func:`energy.snr`).
The lifted samples ``basis y`` have no component outside the span.

Centred projection (E16, multi-head SA)
---------------------------------------
``mean m = memory.mean(axis=1)``; ``basis`` = the top-r left singular vectors of
``memory − m 1ᵀ`` (at most ``min(d, K − 1)`` directions carry variance) and
``reduced = basisᵀ (memory − m 1ᵀ)``; a reduced state decodes to ``m + basis y``. SA on the
centred memory is a different energy (its logits lack the per-pattern constants
``x_kᵀ m``), which is what a principal-direction decomposition of the data asks for.

Signs: singular vectors are defined up to sign; each basis column is flipped so that its
entry of largest magnitude is positive (as ``sklearn.utils.extmath.svd_flip`` does), so the
same memory always gives the same basis.
"""

from __future__ import annotations

import numpy as np

__all__ = ["centred_pca_projection", "full_rank", "pca_projection"]


def _check_memory(memory: np.ndarray) -> np.ndarray:
    memory = np.asarray(memory, dtype=np.float64)
    if memory.ndim != 2:
        raise ValueError(f"memory must have shape (d, K), got {memory.shape}")
    if not np.all(np.isfinite(memory)):
        raise ValueError("memory contains non-finite values (NaN or inf)")
    return memory


def _signed_svd(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Left singular vectors (d, min(d, K)) with deterministic signs, and singular values."""
    left, singular, _ = np.linalg.svd(matrix, full_matrices=False)
    largest = np.argmax(np.abs(left), axis=0)
    signs = np.sign(left[largest, np.arange(left.shape[1])])
    signs[signs == 0] = 1.0
    return left * signs, singular


def full_rank(memory: np.ndarray, *, centred: bool = False) -> int:
    """Numerical rank of the memory (d, K), or of the centred memory when ``centred``."""
    memory = _check_memory(memory)
    if centred:
        memory = memory - memory.mean(axis=1, keepdims=True)
    singular = np.linalg.svd(memory, compute_uv=False)
    if singular.size == 0 or singular[0] == 0:
        return 0
    tolerance = singular[0] * max(memory.shape) * np.finfo(np.float64).eps
    return int(np.sum(singular > tolerance))


def _check_rank(rank: int, most: int, what: str) -> int:
    if isinstance(rank, bool) or not isinstance(rank, int | np.integer):
        raise ValueError(f"{what}: rank must be an integer, got {rank!r}")
    if not 1 <= rank <= most:
        raise ValueError(
            f"{what}: rank must lie in 1..{most} (the number of principal directions this "
            f"memory has), got {rank}; lower rank or use more patterns"
        )
    return int(rank)


def pca_projection(memory: np.ndarray, rank: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Uncentred projection on the top-``rank`` left singular directions (module docstring).

    memory: (d, K); rank ≤ min(d, K) (``None``: the numerical rank). Returns ``(reduced (r, K),
    basis (d, r))`` with ``reduced = basisᵀ memory``; at ``rank = rank(memory)`` energies and
    attention of SA in the reduced space equal those in the full space.
    """
    memory = _check_memory(memory)
    if rank is None:
        rank = full_rank(memory)
    rank = _check_rank(rank, min(memory.shape), "pca_projection")
    left, _ = _signed_svd(memory)
    basis = np.ascontiguousarray(left[:, :rank])
    return basis.T @ memory, basis


def centred_pca_projection(
    memory: np.ndarray, rank: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centred projection: principal directions of ``memory − m 1ᵀ`` (module docstring).

    memory: (d, K) with K ≥ 2; rank ≤ min(d, K − 1) (``None``: the numerical rank of the
    centred memory, i.e. every direction that carries variance). Returns
    ``(reduced (r, K), basis (d, r), mean (d,))`` with ``reduced = basisᵀ (memory − m 1ᵀ)``;
    ``mean + basis @ reduced`` gives the memory back when rank covers every direction.
    """
    memory = _check_memory(memory)
    if memory.shape[1] < 2:
        raise ValueError("centred_pca_projection needs at least two stored patterns")
    if rank is None:
        rank = full_rank(memory, centred=True)
    rank = _check_rank(rank, min(memory.shape[0], memory.shape[1] - 1), "centred_pca_projection")
    mean = memory.mean(axis=1)
    centred = memory - mean[:, None]
    left, _ = _signed_svd(centred)
    basis = np.ascontiguousarray(left[:, :rank])
    return basis.T @ centred, basis, mean
