"""The one look of every figure: rcParams, colours, deterministic saving, shared axis helpers.

Every figure module does ``with styled(): …`` (or :func:`apply_style` once) and ends with
:func:`save`. matplotlib runs on the Agg backend, so no display is needed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import ticker

__all__ = [
    "BETA_LABEL",
    "PALETTE",
    "STYLE",
    "apply_style",
    "colour",
    "heading",
    "line_style",
    "log_locator",
    "plain_log_ticks",
    "plain_number",
    "save",
    "snr_axis",
    "styled",
    "text_colour",
]

STYLE: dict[str, object] = {
    "font.size": 12,
    "axes.titlesize": 13,
    "axes.labelsize": 12,
    "figure.titlesize": 14,
    "legend.fontsize": 10,
    "legend.title_fontsize": 10,
    "xtick.labelsize": 11,
    "ytick.labelsize": 11,
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "image.interpolation": "nearest",
    "svg.hashsalt": "stochastic-attention",
    "pdf.compression": 6,
}
"""rcParams of every figure: readable fonts (≥ 10 pt), light grid, fixed SVG ids."""

PALETTE: tuple[str, ...] = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#000000",  # black
    "#F0E442",  # yellow (last: weak on white)
)
"""Okabe–Ito colours (distinguishable with colour-vision deficiencies), in order of use."""

BETA_LABEL = "inverse temperature β (dimensionless, log scale)"


def colour(index: int) -> str:
    """The ``index``-th colour of :data:`PALETTE` (cycling)."""
    return PALETTE[index % len(PALETTE)]


def text_colour(index: int) -> tuple[float, float, float]:
    """:func:`colour` darkened for text on white (the palette's yellow and sky blue are
    markers' colours, too light for letters)."""
    from matplotlib.colors import to_rgb

    red, green, blue = to_rgb(colour(index))
    return (0.65 * red, 0.65 * green, 0.65 * blue)


def line_style(index: int) -> str:
    """Solid for the first :data:`PALETTE` lines, then dashed, then dotted, so a colour that
    repeats after eight series still tells its lines apart."""
    return ("-", "--", ":")[(index // len(PALETTE)) % 3]


def apply_style() -> None:
    """Apply :data:`STYLE` globally (for scripts; figure functions use :func:`styled`)."""
    plt.rcParams.update(STYLE)


@contextmanager
def styled() -> Iterator[None]:
    """A context in which :data:`STYLE` and the palette are the rcParams."""
    with plt.rc_context({**STYLE, "axes.prop_cycle": matplotlib.cycler(color=PALETTE)}):
        yield


def heading(default: str, title: str | None = None) -> str:
    """A figure title: the config ``title`` (if any) on its own line above the informative
    ``default``, which it never replaces."""
    return f"{title}\n{default}" if title else default


def save(figure: plt.Figure, path: Path | str) -> Path:
    """Save ``figure`` to ``path`` (format from the suffix, PNG by default) and close it.

    Metadata that changes between runs is left out (no software version in PNGs, no creation
    date in PDF/SVG), so the same data give byte-identical files.
    """
    path = Path(path)
    suffix = path.suffix.lower().lstrip(".") or "png"
    metadata = {
        "png": {"Software": None},
        "pdf": {"CreationDate": None, "Producer": None, "Creator": None},
        "svg": {"Date": None, "Creator": None},
    }.get(suffix)
    figure.savefig(path, format=suffix, bbox_inches="tight", metadata=metadata)
    plt.close(figure)
    return path


def plain_number(value: float, _position: object = None) -> str:
    """A tick label without powers: ``16``, ``0.4``, ``1000`` (not ``2⁴`` or ``4×10⁻¹``)."""
    if value == 0:
        return "0"
    return f"{value:.6g}" if 1e-4 <= abs(value) < 1e6 else f"{value:.0e}"


def plain_log_ticks(axis: plt.Axes, which: str = "x", values: Sequence[float] | None = None):
    """Plain-number ticks on a log-scaled axis of ``axis`` (``which`` = ``"x"`` or ``"y"``).

    ``values``: tick exactly there (e.g. the dimensions d measured); otherwise 1-2-5 steps,
    or every digit when the axis spans less than a decade. Call after plotting.
    """
    target = axis.xaxis if which == "x" else axis.yaxis
    if values is not None:
        target.set_major_locator(ticker.FixedLocator(sorted(set(values))))
    else:
        limits = axis.get_xlim() if which == "x" else axis.get_ylim()
        target.set_major_locator(log_locator(*limits))
    target.set_major_formatter(ticker.FuncFormatter(plain_number))
    target.set_minor_formatter(ticker.NullFormatter())


def log_locator(low: float, high: float) -> ticker.LogLocator:
    """Major ticks of a log axis spanning [low, high]: decades beyond four decades, 1-2-5
    steps beyond one, every digit within one (so a narrow axis still gets labelled ticks)."""
    low, high = sorted((low, high))
    decades = np.log10(high / low) if low > 0 else 3.0
    subs = (1.0,) if decades > 4 else (1.0, 2.0, 5.0) if decades > 1 else np.arange(1, 10)
    return ticker.LogLocator(base=10, subs=subs)


def snr_axis(axis: plt.Axes, alpha: float, d: int) -> plt.Axes:
    """A top x axis with ``SNR = sqrt(α β / 2d)`` above a β bottom axis; returns it."""

    def forward(beta: np.ndarray) -> np.ndarray:
        return np.sqrt(alpha * np.clip(beta, 1e-300, None) / (2.0 * d))

    def inverse(snr: np.ndarray) -> np.ndarray:
        return 2.0 * d * np.asarray(snr) ** 2 / alpha

    top = axis.secondary_xaxis("top", functions=(forward, inverse))
    top.set_xlabel(f"SNR = √(αβ/2d)   (α = {alpha:g}, d = {d})")
    if axis.get_xscale() == "log":
        top.xaxis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        top.xaxis.set_major_formatter(ticker.FuncFormatter(plain_number))
        top.xaxis.set_minor_formatter(ticker.NullFormatter())
    return top
