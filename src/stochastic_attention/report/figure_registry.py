"""Figures by name: what config checks, the plan and the report know about a figure.

A figure is registered by the module that draws it, with :func:`register_figure` (name,
function, caption)::

    @register_figure("sample_grids", caption="Sixteen samples of each method ...")
    def sample_grids(inputs: FigureInputs, path: Path) -> None: ...

The function takes an :class:`~.experiment_figures.FigureInputs` and writes one PNG; the
caption (reStructuredText) is shown under the figure in ``snakemake --report``. Built-in
figures live in the modules of :data:`BUILTIN`, imported on first use; a plug-in module
(config key ``plugins``) registers its own when it is imported.

This module imports nothing else of the package and no plotting library, so config checks
can read figure names without matplotlib (the drawing modules import it inside their
functions).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import Any

__all__ = ["BUILTIN", "Figure", "captions", "figure_names", "get_figure", "register_figure"]

BUILTIN = ("stochastic_attention.report.experiment_figures",)
"""Modules whose import registers the built-in figures."""

DrawFunction = Callable[[Any, Any], None]  # (FigureInputs, Path) -> None

_REGISTERED: dict[str, Figure] = {}


@dataclass(frozen=True)
class Figure:
    """One registered figure: its config name, the function that draws it, its caption."""

    name: str
    function: DrawFunction
    caption: str

    @property
    def where(self) -> str:
        """``module.function``, for messages."""
        return f"{self.function.__module__}.{self.function.__qualname__}"


def register_figure(name: str, caption: str) -> Callable[[DrawFunction], DrawFunction]:
    """A decorator that registers its function as the figure ``name`` (returned unchanged)."""
    if not re.fullmatch(r"[a-z_]+", name):  # the figure wildcard of the workflow
        raise ValueError(f"figure name {name!r}: use lower-case letters and _ only")
    if not caption.strip():
        raise ValueError(f"figure {name!r}: the caption is empty")

    def register(function: DrawFunction) -> DrawFunction:
        known = _REGISTERED.get(name)
        if known is not None and known.function is not function:
            raise ValueError(f"figure {name!r} is already registered by {known.where}")
        _REGISTERED[name] = Figure(name, function, inspect.cleandoc(caption))
        return function

    return register


def _load_builtin() -> None:
    for module in BUILTIN:
        import_module(module)


def figure_names() -> list[str]:
    """Every known figure name, built-in and plug-in, in registration order."""
    _load_builtin()
    return list(_REGISTERED)


def get_figure(name: str) -> Figure:
    """The figure registered as ``name``; a ``ValueError`` names the known ones."""
    _load_builtin()
    if name not in _REGISTERED:
        raise ValueError(f"unknown figure {name!r}; known figures: {', '.join(_REGISTERED)}")
    return _REGISTERED[name]


def captions() -> dict[str, str]:
    """Figure name → caption, for the report (``workflow/report/figure.rst``)."""
    _load_builtin()
    return {name: figure.caption for name, figure in _REGISTERED.items()}
