"""Protein figures (E8): sequence logos, the entropy curve with β*, and the MI scatter.

All use the project's style (:mod:`.style`): Agg backend, readable fonts, labelled axes.
Sequences are aligned strings of equal length L with ``-`` for gaps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from ..energy import CriticalTemperature
from .style import apply_style, save

__all__ = ["entropy_curve_figure", "logos_figure", "mi_scatter_figure"]


def logos_figure(
    sets: Sequence[tuple[str, Sequence[str]]], path: Path | str, *, title: str = ""
) -> Path:
    """One information logo (bits, logomaker) per (label, sequences), stacked in rows.

    Gaps are ignored in the counts, so a position's height reflects its residues only.
    """
    import logomaker

    apply_style()
    length = len(sets[0][1][0])
    figure, axes = plt.subplots(
        len(sets), 1, figsize=(max(8.0, 0.17 * length), 1.9 * len(sets)), squeeze=False,
        sharex=True,
    )
    matrices = [
        logomaker.alignment_to_matrix(
            [str(s) for s in sequences], to_type="information", characters_to_ignore="-.X"
        )
        for _, sequences in sets
    ]
    top = max(float(m.sum(axis=1).max()) for m in matrices) * 1.05
    for axis, (label, sequences), matrix in zip(axes[:, 0], sets, matrices, strict=True):
        logomaker.Logo(matrix, ax=axis, color_scheme="chemistry", show_spines=False)
        axis.set_ylim(0, top)
        axis.set_ylabel("bits")
        axis.set_title(f"{label} (n = {len(sequences)})", loc="left", fontsize=10)
    axes[-1, 0].set_xlabel("alignment position (kept columns)")
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    save(figure, Path(path))
    return Path(path)


def entropy_curve_figure(
    critical: CriticalTemperature,
    n_patterns: int,
    path: Path | str,
    *,
    operating: Mapping[str, float] | None = None,
    title: str = "",
    criterion: str | None = None,
) -> Path:
    """Mean normalised attention entropy H/log K and −dH/dβ against β, with both β* criteria
    (inflection and knee) and sqrt(d).

    ``operating`` maps labels to operating β values (e.g. retrieval 20·β*, generation 2·β*),
    drawn as dotted lines; ``criterion`` (``inflection`` or ``knee``) marks the β* they use.
    """
    apply_style()
    figure, axis = plt.subplots(figsize=(6.4, 4.0))
    betas = critical.betas
    axis.semilogx(betas, critical.mean_entropy / np.log(n_patterns), color="C0", lw=2)
    axis.set_xlabel("inverse temperature β")
    axis.set_ylabel("mean attention entropy H / log K", color="C0")
    axis.set_ylim(-0.02, 1.02)
    twin = axis.twinx()
    twin.semilogx(betas, critical.mean_slope_magnitude, color="C1", lw=1.5)
    twin.set_ylabel("−dH/dβ = mean β·Var_a(e)", color="C1")
    twin.spines["top"].set_visible(False)
    used = {name: " (used)" if name == criterion else "" for name in ("inflection", "knee")}
    lines = [
        (critical.beta_star, f"β* inflection = {critical.beta_star:.3g}{used['inflection']}",
         "k", "-"),
        (critical.beta_knee, f"β* knee = {critical.beta_knee:.3g}{used['knee']}", "0.4", "--"),
        (critical.sqrt_d, f"sqrt(d) = {critical.sqrt_d:.3g}", "C2", "-."),
    ]
    for index, (label, beta) in enumerate((operating or {}).items()):
        lines.append((beta, f"{label} β = {beta:.3g}", f"C{3 + index}", ":"))
    for beta, label, colour, dash in lines:
        axis.axvline(beta, color=colour, ls=dash, lw=1.2, label=label)
    axis.legend(loc="center right", frameon=False)
    axis.set_title(title or f"entropy curve (K = {n_patterns})")
    save(figure, Path(path))
    return Path(path)


def mi_scatter_figure(
    naturals: Sequence[str],
    sets: Sequence[tuple[str, Sequence[str]]],
    path: Path | str,
    *,
    title: str = "",
) -> Path:
    """Pairwise column MI of each generated set against the naturals' (i < j), one panel each."""
    from ..domains.protein import mutual_information

    apply_style()
    upper = np.triu_indices(len(naturals[0]), k=1)
    reference = mutual_information(naturals)[upper]
    columns = min(len(sets), 4)
    rows = int(np.ceil(len(sets) / columns))
    figure, axes = plt.subplots(
        rows, columns, figsize=(3.3 * columns, 3.3 * rows), squeeze=False, sharex=True,
        sharey=True,
    )
    for axis in axes.ravel()[len(sets):]:
        axis.axis("off")
    top = reference.max()
    values = []
    for _, sequences in sets:
        values.append(mutual_information(list(sequences))[upper])
        top = max(top, values[-1].max())
    for axis, (label, _), generated in zip(axes.ravel(), sets, values, strict=False):
        r = np.corrcoef(reference, generated)[0, 1] if np.ptp(generated) > 0 else np.nan
        axis.scatter(reference, generated, s=3, alpha=0.35, color="C0", rasterized=True)
        axis.plot([0, top], [0, top], color="0.5", lw=0.8, ls="--")
        axis.set_title(f"{label}  (r = {r:.2f})", fontsize=10)
    for axis in axes[-1]:
        axis.set_xlabel("natural MI (nats)")
    for axis in axes[:, 0]:
        axis.set_ylabel("generated MI (nats)")
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    save(figure, Path(path))
    return Path(path)
