"""What the sampler engine needs beyond the array API standard, once per array library.

:mod:`stochastic_attention.samplers` is written once against an array namespace ``xp``
(the Python array API standard, through ``array-api-compat``): NumPy arrays run with NumPy,
torch tensors with torch on their own device, and dtype and device follow the input. This
module is the short list of what the standard does not say, each in one place:

* :func:`namespace` — the namespace of some arrays. NumPy ≥ 2 implements the standard
  itself, so NumPy arrays get ``numpy`` (no compat wrapper between the engine and NumPy);
  torch tensors get ``array_api_compat.torch``.
* :func:`ops` — per library: in-place ``exp`` and floor (the standard has no ``out=``),
  column inner products, ``a·x + y`` in one kernel where the library has one, whether the
  softmax reduces over the last axis, whether a boolean mask is known all-true without a
  device synchronisation, contiguous copies and a no-autograd context (torch: inference
  mode). NumPy's forms are exactly the calls every table was computed with (``einsum`` for
  the inner products, ``out=`` ufuncs, logits ``(K, C)`` reduced over K), so NumPy samples
  stay bit for bit what they were. Torch reduces softmax logits laid out
  ``(C, K)`` over the contiguous last axis (on the CPU ``amax`` over the strided K axis of
  ``(K, C)`` took 4–10× longer at K 100–3500) and uses ``torch.linalg.vecdot`` (the compat
  ``vecdot`` cost 7× as much per call). Anything else gets the standard's own functions.
* :func:`draws` — random numbers (the standard has no random module): from a NumPy
  ``Generator``, with exactly the calls, shapes and dtype the NumPy engine always made
  (copied to the device for another library: bitwise comparisons of two libraries), or
  from a ``torch.Generator`` on the device.
* :func:`to_numpy`, :func:`float_dtype`, :func:`device` — host copies, dtypes, devices.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any

import array_api_compat
import numpy as np

__all__ = ["Draws", "Ops", "device", "draws", "float_dtype", "namespace", "ops", "to_numpy"]

Array = Any
FLOAT_DTYPES: tuple[str, ...] = ("float32", "float64")


def namespace(*values: Any) -> Any:
    """The array namespace of ``values`` (arrays of one library); plain numbers or lists
    alone mean NumPy. Mixing libraries raises ``TypeError`` (array-api-compat's message)."""
    arrays = [value for value in values if array_api_compat.is_array_api_obj(value)]
    if not arrays:
        return np
    xp = array_api_compat.array_namespace(*arrays)
    return np if array_api_compat.is_numpy_namespace(xp) else xp


def device(array: Array) -> Any:
    """The device an array lives on (``"cpu"`` for NumPy)."""
    return array_api_compat.device(array)


def to_numpy(array: Array) -> np.ndarray:
    """A NumPy array with the values of ``array`` (a host copy for device arrays)."""
    if isinstance(array, np.ndarray):
        return array
    if array_api_compat.is_torch_array(array):
        return array.detach().cpu().numpy()
    return np.asarray(array)


def float_dtype(xp: Any, dtype: Any, default: Any) -> Any:
    """``dtype`` (a name, NumPy or torch dtype; ``None``: ``default`` when that is a real
    floating dtype, else float64) as ``xp``'s float32 or float64."""
    if dtype is None:
        floating = xp.isdtype(default, "real floating")
        return default if floating and _name(default) in FLOAT_DTYPES else xp.float64
    name = _name(dtype)
    if name not in FLOAT_DTYPES:
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    return getattr(xp, name)


def _name(dtype: Any) -> str:
    if isinstance(dtype, str):
        return dtype
    try:
        return np.dtype(dtype).name
    except TypeError:  # a torch dtype: "torch.float32"
        return str(dtype).rsplit(".", 1)[-1]


# ----------------------------------------------------------------------------- operations


class Ops:
    """The standard's own forms: new arrays instead of in-place updates, no fast paths."""

    reduce_last = False  # softmax over the K axis of (…, K, C) logits

    def __init__(self, xp: Any) -> None:
        self.xp = xp

    def exp_(self, values: Array) -> Array:
        """``exp(values)``, in place where the library allows (use the result)."""
        return self.xp.exp(values)

    def floor_(self, values: Array, floor: float) -> Array:
        """``max(values, floor)``, in place where the library allows (use the result)."""
        return self.xp.clip(values, min=floor)

    def dots(self, first: Array, second: Array) -> Array:
        """Column inner products: (…, d, C) and (…, d, C) → (…, C)."""
        return self.xp.vecdot(first, second, axis=-2)

    def known_all(self, mask: Array) -> bool:
        """True when ``mask`` is all True and finding out costs no device synchronisation."""
        return False

    def decay_add(self, states: Array, decay: float, retrieved: Array) -> Array:
        """``decay·states + retrieved``, in place in one of them (use the result)."""
        states *= decay
        states += retrieved
        return states

    def contiguous(self, values: Array) -> Array:
        """A copy in the library's default (row-major) layout."""
        return self.xp.asarray(values, copy=True)

    def copy(self, values: Array) -> Array:
        return self.xp.asarray(values, copy=True)

    def no_grad(self) -> contextlib.AbstractContextManager:
        """A context without autograd bookkeeping for the whole run."""
        return contextlib.nullcontext()

    def released(self, values: Array) -> Array:
        """``values`` made inside :meth:`no_grad`, usable like any array outside it."""
        return values


class _NumPyOps(Ops):
    def exp_(self, values):
        return np.exp(values, out=values)

    def floor_(self, values, floor):
        return np.maximum(values, floor, out=values)

    def dots(self, first, second):
        return np.einsum("...dc,...dc->...c", first, second)

    def known_all(self, mask):
        return np.count_nonzero(mask) == mask.size

    def contiguous(self, values):
        return np.ascontiguousarray(values)

    def copy(self, values):
        return values.copy()


class _TorchOps(Ops):
    reduce_last = True  # softmax over the contiguous K axis of (…, C, K) logits

    def __init__(self, xp: Any) -> None:
        import torch

        super().__init__(xp)
        self.torch = torch

    def exp_(self, values):
        return values.exp_()

    def floor_(self, values, floor):
        return values.clamp_(min=floor)

    def dots(self, first, second):
        return self.torch.linalg.vecdot(first, second, dim=-2)

    def known_all(self, mask):
        return mask.device.type == "cpu" and bool(mask.all())

    def decay_add(self, states, decay, retrieved):
        return retrieved.add_(states, alpha=decay)  # one fused kernel instead of two

    def contiguous(self, values):
        return values.contiguous()

    def copy(self, values):
        return values.clone()

    def no_grad(self):
        # inference mode, not no_grad: no version counters or view tracking, which at a few
        # dozen small operations per step is measurably faster on the CPU
        return self.torch.inference_mode()

    def released(self, values):
        return values.clone()  # inference tensors refuse in-place updates outside the mode


_OPS: dict[int, Ops] = {}


def ops(xp: Any) -> Ops:
    """The :class:`Ops` of namespace ``xp`` (one object per namespace, cached)."""
    found = _OPS.get(id(xp))
    if found is None:
        if xp is np:
            found = _NumPyOps(xp)
        elif array_api_compat.is_torch_namespace(xp):
            found = _TorchOps(xp)
        else:
            found = Ops(xp)
        _OPS[id(xp)] = found
    return found


# ---------------------------------------------------------------------------------- draws


class Draws:
    """Standard normals, log-uniforms and χ² values as arrays of one run (namespace, device,
    dtype), from a NumPy ``Generator``: the same calls, shapes and dtype whatever the
    library, so two libraries fed the same generator see the same numbers."""

    def __init__(self, rng: np.random.Generator, xp: Any, where: Any, dtype: Any) -> None:
        self.rng, self.xp, self.device, self.dtype = rng, xp, where, dtype
        self.host_dtype = np.dtype(_name(dtype))

    def _to_run(self, values: np.ndarray) -> Array:
        if self.xp is np:
            return values
        return self.xp.asarray(values, device=self.device)

    def normal(self, shape: tuple[int, ...], out: Array | None = None) -> Array:
        """Standard normals of ``shape`` (into ``out`` when given and the library allows)."""
        if self.xp is np and out is not None:
            return self.rng.standard_normal(out=out, dtype=self.host_dtype)
        return self._to_run(self.rng.standard_normal(shape, dtype=self.host_dtype))

    def log_uniform(self, shape: tuple[int, ...]) -> Array:
        """log u for u ~ U[0, 1); u = 0 (possible in float32) gives −inf, an acceptance."""
        with np.errstate(divide="ignore"):
            return self._to_run(np.log(self.rng.random(shape, self.host_dtype)))

    def chi_square(self, dof: int, shape: tuple[int, ...]) -> Array:
        """χ²(dof) values of ``shape`` (drawn in float64, then cast to the run's dtype)."""
        return self._to_run(self.rng.chisquare(dof, shape).astype(self.host_dtype))


class _TorchDraws(Draws):
    """The same draws from a ``torch.Generator`` on the run's device (torch's own streams)."""

    def __init__(self, generator: Any, xp: Any, where: Any, dtype: Any) -> None:
        import torch

        self.torch, self.generator = torch, generator
        self.xp, self.device, self.dtype = xp, where, dtype

    def normal(self, shape, out=None):
        if out is not None:
            return self.torch.randn(out.shape, generator=self.generator, out=out)
        return self.torch.randn(
            shape, generator=self.generator, device=self.device, dtype=self.dtype
        )

    def log_uniform(self, shape):
        uniform = self.torch.rand(
            shape, generator=self.generator, device=self.device, dtype=self.dtype
        )
        return uniform.log_()  # u = 0 gives −inf: an acceptance, as from NumPy

    def chi_square(self, dof, shape):
        # χ²(k) = 2 Gamma(k/2, 1); _standard_gamma is what torch.distributions.Gamma samples
        # with, called directly because only it takes a generator
        shapes = self.torch.full(shape, dof / 2.0, device=self.device, dtype=self.dtype)
        return self.torch._standard_gamma(shapes, generator=self.generator).mul_(2.0)


def _is_torch_generator(rng: Any) -> bool:
    """Whether ``rng`` is a ``torch.Generator`` (without importing torch when it is not)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(rng, torch.Generator)


def draws(rng: Any, xp: Any, where: Any, dtype: Any) -> Draws:
    """The draws of a run in namespace ``xp`` on device ``where``: from ``rng``, a NumPy
    ``Generator`` (any library) or a ``torch.Generator`` (torch tensors on its device)."""
    if isinstance(rng, np.random.Generator):
        return Draws(rng, xp, where, dtype)
    if _is_torch_generator(rng):
        if not array_api_compat.is_torch_namespace(xp):
            raise ValueError(
                "a torch.Generator draws torch tensors: pass the memory and states as torch "
                "tensors, or use a numpy Generator"
            )
        if rng.device.type != where.type:
            raise ValueError(
                f"the torch generator lives on {rng.device} but the run uses {where}; "
                "create it with torch.Generator(device=...) on the run's device"
            )
        return _TorchDraws(rng, xp, where, dtype)
    raise ValueError(
        f"rng must be a numpy.random.Generator or a torch.Generator, got {type(rng).__name__}"
    )
