"""stochastic-attention: the attention operation as a generator.

A memory matrix ``memory`` of shape ``(d, K)`` (one stored pattern per column) defines the
modern Hopfield energy ``E(ξ) = ½‖ξ‖² − β⁻¹ logsumexp(β memoryᵀ ξ)``. Langevin dynamics on it
sample ``exp(−β E)`` with no training.
"""

__version__ = "0.1.0"
