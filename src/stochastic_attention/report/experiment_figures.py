"""Figures of the data experiments by name: ``figures: [...]`` in an experiment's config.

Each figure function takes a :class:`FigureInputs` (the memory, and per table row of one
dataset its label, swept values, samples and metrics) and writes one PNG. A new figure is
one function with :func:`~.figure_registry.register_figure` (name and caption) here or in a
plug-in module, plus its name in a config. Every figure draws the first replicate's samples
(all replicates are in the tables).

Importing this module registers the figures and imports no plotting library (config checks
read the names): matplotlib comes with the drawing modules, imported inside each function.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..arrays import load_samples
from ..domains.base import Memory, get_domain, load_memory_file
from .figure_registry import get_figure, register_figure

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FigureInputs", "draw"]


@dataclass
class FigureInputs:
    """What a figure of one experiment and one dataset may show."""

    experiment: str
    dataset: str
    title: str
    memory: Memory
    rows: list[dict[str, Any]]  # per row: label, swept values, samples dict, metrics dict
    swept: list[str]

    @property
    def domain(self) -> Any:
        return get_domain(self.memory.metadata["domain"])

    def label(self, row: dict) -> str:
        """The row's method label with its swept values (β with its SNR)."""
        parts = [row["label"]]
        for key in self.swept:
            value = row[key]
            if key == "beta" and row["metrics"].get("beta") is not None:
                metrics = row["metrics"]
                snr = f", SNR {metrics['snr']:.3g}" if metrics.get("snr") else ""
                parts.append(f"β {metrics['beta']:.4g}{snr}")
            else:
                parts.append(_swept_text(key, value))
        if not self.swept and row["metrics"].get("category") == "sampler":
            parts.append(f"β {row['metrics']['beta']:.4g}")
        return ", ".join(parts)

    def samples(self, row: dict) -> np.ndarray:
        """The first replicate's samples (d, S) of a row."""
        loaded = row["samples"]
        replicate = loaded.get("replicate", np.zeros(loaded["samples"].shape[1], dtype=int))
        return loaded["samples"][:, replicate == replicate.min()]

    def full_states(self, states: np.ndarray, row: dict | None = None) -> np.ndarray:
        """States of a ``pca_rank`` memory (the row's own) mapped back to the data space."""
        memory = self.memory if row is None else row["memory"]
        basis = memory.arrays.get("pca_basis")
        return states if basis is None else basis @ states

    @property
    def full_memory(self) -> Memory:
        """The memory in the data space (before a ``pca_rank`` projection)."""
        full = self.memory.arrays.get("full_memory")
        if full is None:
            return self.memory
        return Memory(full, self.memory.metadata, self.memory.arrays)

    def frame(self) -> pd.DataFrame:
        """One row per table row: label, swept values and every metric."""
        import pandas as pd

        return pd.DataFrame(
            [
                {"method": self.label(row), "dataset": self.dataset}
                | {key: row[key] for key in self.swept}
                | {"base_method": row["label"]}
                | row["metrics"]
                | {"method": self.label(row), "dataset": self.dataset}
                for row in self.rows
            ]
        )


def _swept_text(key: str, value: Any) -> str:
    """``alpha 0.01``, ``n_patterns 500``, ``beta {"critical": 5}``."""
    return f"{key} {value:g}" if isinstance(value, int | float) else f"{key} {json.dumps(value)}"


def _spread(n_available: int, n: int = 16) -> np.ndarray:
    return np.unique(np.linspace(0, n_available - 1, n).round().astype(int))


def _top(inputs: FigureInputs) -> str:
    """The first title line: the experiment's config title and the dataset."""
    return f"{inputs.title} — {inputs.dataset}"


def _heading(inputs: FigureInputs, what: str) -> str:
    """The config title (with the dataset) above the informative description ``what``."""
    from .style import heading

    return heading(what, _top(inputs))


# ------------------------------------------------------------------------ every domain


@register_figure(
    "sample_grids",
    caption="""
    Sixteen samples of each method (4×4 grids) beside sixteen stored patterns of the memory, all
    image panels on one intensity scale (colour bar; the 0.5–99.5 % quantiles of every panel
    pooled), so noise levels compare across panels. Retrieval-temperature samplers reproduce
    stored patterns with a little noise; generation-temperature SA mixes them into new samples.
    """,
)
def sample_grids(inputs: FigureInputs, path: Path) -> None:
    """16 samples per row beside 16 stored patterns, decoded by the domain, one scale."""
    from . import comparison_figures as figures

    domain, memory = inputs.domain, inputs.full_memory
    stored = memory.patterns[:, _spread(memory.n_patterns)]
    panels = [("stored patterns", domain.panel(stored, memory))]
    for row in inputs.rows:
        states = inputs.full_states(inputs.samples(row), row)
        shown = domain.panel(states[:, _spread(states.shape[1])], memory)
        panels.append((inputs.label(row), shown))
    figures.sample_grids(
        panels, path, title=inputs.title, dataset=inputs.dataset,
        cmap=getattr(domain, "GRID_CMAP", "gray_r"),
    )  # fmt: skip


@register_figure(
    "training",
    caption="""
    Per-epoch training losses of the learned baselines (GMM: EM iterations from the second on;
    VAE: total loss dashed over the reconstruction term; DDPM: ε-prediction MSE with the MSE of
    predicting 0 dotted), each titled with the dataset it trained on.
    """,
)
def training(inputs: FigureInputs, path: Path) -> None:
    """Per-epoch training losses of the learned baselines."""
    from ..methods.base import get_method, loss_style
    from . import comparison_figures as figures

    histories, trained_on, styles = {}, {}, {}
    for row in inputs.rows:
        losses = {
            k.removeprefix("loss_"): v for k, v in row["samples"].items() if k.startswith("loss_")
        }
        if losses:
            histories[row["label"]] = losses
            trained_on[row["label"]] = row["metrics"].get("train_dataset") or inputs.dataset
            styles[row["label"]] = loss_style(get_method(row["metrics"]["kind"]))
    figures.training_curves(histories, path, title=inputs.title, datasets=trained_on,
                            styles=styles)  # fmt: skip


@register_figure(
    "novelty_diversity",
    caption="""
    Novelty N = 1 − max-cos to the stored patterns against diversity D (mean pairwise 1 − cos),
    one point per method with ±1 SE bars over chain groups in both directions.
    """,
)
def novelty_diversity(inputs: FigureInputs, path: Path) -> None:
    """Novelty against diversity, one point per row, with SE bars in both directions."""
    from . import comparison_figures as figures

    figures.novelty_diversity(inputs.frame(), path, title=_top(inputs))


@register_figure(
    "energy_histograms",
    caption="""
    Densities of the sample energies E(ξ) of every method, all evaluated at one β (the first
    row's reporting β); the legend gives each mean Ē.
    """,
)
def energy_histograms(inputs: FigureInputs, path: Path) -> None:
    """Energies of every row's samples at one β (the first row's reporting β)."""
    from ..energy import energy
    from . import comparison_figures as figures

    beta = float(inputs.rows[0]["metrics"]["energy_beta"])
    energies = {
        inputs.label(row): energy(inputs.memory.patterns, inputs.samples(row), beta)
        for row in inputs.rows
    }
    figures.energy_histograms(energies, path, beta=beta, title=_top(inputs))


@register_figure(
    "nearest_neighbours",
    caption="""
    Eight samples of the most novel sampler, each above its nearest stored pattern, with their
    cosine.
    """,
)
def nearest_neighbours(inputs: FigureInputs, path: Path) -> None:
    """A few samples of the most novel sampler row, each above its nearest stored pattern."""
    from . import comparison_figures as figures

    rows = [r for r in inputs.rows if r["metrics"].get("category") == "sampler"] or inputs.rows
    row = max(rows, key=lambda r: r["metrics"]["novelty"])
    memory = inputs.full_memory
    states = inputs.full_states(inputs.samples(row), row)
    states = states[:, _spread(states.shape[1], 8)]
    nearest, cosines = figures.nearest_patterns(states, memory.patterns)
    figures.nearest_neighbour_pairs(
        inputs.domain.panel(states, memory),
        inputs.domain.panel(memory.patterns[:, nearest], memory),
        cosines,
        path,
        title=_top(inputs),
        label=inputs.label(row),
    )


@register_figure(
    "energy_traces",
    caption="""
    Energy of every chain of the first sampler along its run (thin lines) and the median over
    chains (black): a diagnostic of burn-in and mixing.
    """,
)
def energy_traces(inputs: FigureInputs, path: Path) -> None:
    """Per-chain energy at every snapshot of the first sampler row (diagnostics)."""
    from . import comparison_figures as figures

    rows = [r for r in inputs.rows if "trace_energy" in r["samples"]]
    if not rows:
        raise ValueError("energy_traces: no sampler row in this experiment")
    row = rows[0]
    figures.energy_traces(
        row["samples"]["trace_energy"].T,
        row["samples"]["trace_steps"],
        path,
        beta=float(row["metrics"]["beta"]),
        title=_top(inputs),
        label=inputs.label(row),
    )


# --------------------------------------------------------------- sweeps and spectra

_SWEEP_CAPTION = """
    Novelty, diversity, max-cos and (for MALA) acceptance against the swept parameter, one line
    per method, ±1 SE bars; the top axis gives the SNR √(αβ/2d) where α or β is swept.
"""


@register_figure("spectrum", caption=_SWEEP_CAPTION)
@register_figure("sweep", caption=_SWEEP_CAPTION)
def sweep(inputs: FigureInputs, path: Path) -> None:
    """Metrics against the first swept parameter, one line per method (± SE)."""
    from . import mnist_figures

    table = inputs.frame()
    x = inputs.swept[0] if inputs.swept else "method"
    if x == "beta":
        table["beta"] = table["beta"].astype(float)
    elif x in table and table[x].map(lambda v: isinstance(v, dict)).any():
        table[x] = table[x].map(json.dumps)
    # one line per method and value of every other swept key (else lines would zig-zag)
    others = [key for key in inputs.swept[1:] if key in table]
    table["line"] = table["base_method"]
    for key in others:
        table["line"] = table["line"] + ", " + table[key].map(lambda v, k=key: _swept_text(k, v))
    hue = "line"
    shown = [m for m in ("novelty", "diversity", "max_cosine", "acceptance") if m in table]
    shown = [m for m in shown if table[m].notna().any()]
    first = inputs.rows[0]["metrics"]
    mnist_figures.sweep_figure(
        table, x, shown, hue, path,
        alpha=first.get("alpha") if x == "beta" else None,
        beta=first.get("beta") if x == "alpha" else None,
        d=inputs.memory.d if x in ("alpha", "beta") else None,
        legend_title="method" + "".join(f", {key}" for key in others),
        title=_heading(inputs, f"Sample metrics against {_SYMBOLS.get(x, x)} (bars: ±1 SE)"),
    )  # fmt: skip


_SYMBOLS = {"alpha": "α", "beta": "β", "n_patterns": "K", "n_heads": "the number of heads",
            "pca_rank": "the PCA rank r", "method": "method"}


@register_figure(
    "max_cos_histogram",
    caption="""
    Histograms of each sample's max-cos to the stored patterns, one outline per method; dashed
    lines mark the means. The noise controls match SA's distance from the memory without its
    structure.
    """,
)
def max_cos_histogram(inputs: FigureInputs, path: Path) -> None:
    """Histograms of each sample's max-cos to the memory (E12)."""
    from ..metrics import max_cosine
    from . import mnist_figures

    values = {
        inputs.label(row): max_cosine(inputs.samples(row), inputs.memory.patterns)
        for row in inputs.rows
    }
    mnist_figures.max_cos_histogram(
        values, path, title=_heading(inputs, "Each sample's max-cos to the stored patterns")
    )


@register_figure(
    "scaling",
    caption="""
    Left: max-cos against the number of stored patterns K per method (±1 SE), with the training
    time of learned baselines (dashed, right axis). Right: the β each sampler ran at against K
    (a β rule such as c·β* follows the memory), with its SNR on the right axis.
    """,
)
def scaling(inputs: FigureInputs, path: Path) -> None:
    """Max-cos, β and training time against the number of stored patterns K (E13)."""
    from . import mnist_figures

    table = inputs.frame()
    table = table.assign(
        K=table["n_patterns"] if "n_patterns" in table else inputs.memory.n_patterns,
        max_cos=table["max_cosine"],
        max_cos_se=table["max_cosine_se"],
        train_seconds=table["seconds"].where(table["category"] == "learned"),
        method=table["base_method"] + table.get("beta_rule", ""),
    )
    first = next(r["metrics"] for r in inputs.rows if r["metrics"].get("alpha"))
    mnist_figures.scaling_figure(
        table, path, alpha=first["alpha"], d=inputs.memory.d,
        title=_heading(inputs, "Max-cos and sampler β against the number of stored patterns K"),
    )  # fmt: skip


@register_figure(
    "snr",
    caption="""
    Max-cos against the SNR √(αβ/2r) of the sampled r-dimensional principal-component space, one
    line per rank r; markers give β. Dashed: the retrieval law (1 + α/2SNR²)^(−½).
    """,
)
def snr(inputs: FigureInputs, path: Path) -> None:
    """Max-cos against the SNR of the sampled space, one line per PCA rank (E17)."""
    from . import mnist_figures

    table = inputs.frame().rename(columns={"pca_rank": "rank", "max_cosine": "max_cos"})
    table["max_cos_se"] = table["max_cosine_se"]
    first = inputs.rows[0]["metrics"]
    mnist_figures.snr_figure(
        table, path, alpha=first["alpha"],
        title=_heading(inputs, "Max-cos against the SNR of the r-dimensional PCA space"),
    )


@register_figure(
    "basin_visits",
    caption="""
    One single chain per β: the nearest stored pattern at every recorded step (top) and the
    cosine to it (bottom); column titles give the number of distinct basins visited and of
    switches.
    """,
)
def basin_visits(inputs: FigureInputs, path: Path) -> None:
    """Nearest stored pattern along each single chain, one column per β (E7)."""
    from ..basins import basin_visits as visits
    from . import mnist_figures

    rows = [r for r in inputs.rows
            if r["samples"]["metadata"]["params"]["protocol_params"]["kind"] == "single_chain"]
    if not rows:
        raise ValueError("basin_visits: no single-chain row in this experiment")
    steps, nearest, cosine, betas = [], [], [], []
    for row in rows:
        chains = row["samples"]["chains"]
        first = chains == chains.min()
        index, value = visits(row["samples"]["samples"][:, first], inputs.memory.patterns)
        steps.append(row["samples"]["steps"][first])
        nearest.append(index)
        cosine.append(value)
        betas.append(float(row["metrics"]["beta"]))
    mnist_figures.basin_visits_figure(
        steps, nearest, cosine, path, betas=betas, alpha=float(rows[0]["metrics"]["alpha"]),
        d=inputs.memory.d, n_patterns=inputs.memory.n_patterns,
        title=_heading(inputs, "Nearest stored pattern along one chain per β"),
    )  # fmt: skip


# ---------------------------------------------------------------------------- protein


def _sequences(inputs: FigureInputs, row: dict) -> list[str]:
    loaded = row["samples"]
    if "decoded" in loaded:
        replicate = loaded.get("replicate", np.zeros(loaded["samples"].shape[1], dtype=int))
        return [str(s) for s in loaded["decoded"][..., replicate == replicate.min()]]
    return inputs.domain.decode(inputs.samples(row), inputs.memory)


@register_figure(
    "logos",
    caption="""
    Sequence logos of the natural sequences and of every method's decoded samples.
    """,
)
def logos(inputs: FigureInputs, path: Path) -> None:
    """Sequence logos of the naturals and of every row's decoded samples."""
    from . import protein_figures

    naturals = [str(s) for s in inputs.memory.arrays["sequences"]]
    sets = [("natural", naturals)] + [(inputs.label(r), _sequences(inputs, r)) for r in inputs.rows]
    protein_figures.logos_figure(sets, path, title=_heading(inputs, "Sequence logos"))


@register_figure(
    "entropy_curve",
    caption="""
    Mean attention entropy against β for the memory, with both β* criteria (inflection and
    knee; the one the operating β uses is marked "used"), √d and each sampler's operating β.
    """,
)
def entropy_curve(inputs: FigureInputs, path: Path) -> None:
    """Mean attention entropy against β with both β* criteria (the one used marked), √d and
    the operating β."""
    from . import protein_figures

    critical = inputs.domain.critical_temperature(inputs.memory)
    operating = {
        inputs.label(r): float(r["metrics"]["beta"])
        for r in inputs.rows
        if r["metrics"].get("category") == "sampler"
    }
    criteria = {r["metrics"].get("beta_criterion") for r in inputs.rows} - {None}
    protein_figures.entropy_curve_figure(
        critical, inputs.memory.n_patterns, path, operating=operating,
        title=_heading(inputs, "Attention entropy against β"),
        criterion=criteria.pop() if len(criteria) == 1 else None,
    )  # fmt: skip


@register_figure(
    "mi_scatter",
    caption="""
    Pairwise mutual information between alignment columns: generated against natural sequences.
    """,
)
def mi_scatter(inputs: FigureInputs, path: Path) -> None:
    """Pairwise mutual information of generated against natural sequences."""
    from . import protein_figures

    naturals = [str(s) for s in inputs.memory.arrays["sequences"]]
    sets = [(inputs.label(r), _sequences(inputs, r)) for r in inputs.rows]
    protein_figures.mi_scatter_figure(
        naturals, sets, path,
        title=_heading(inputs, "Pairwise mutual information, generated against natural"),
    )  # fmt: skip


# ---------------------------------------------------------------------------- finance


def _returns(inputs: FigureInputs) -> dict[str, np.ndarray]:
    """Decoded returns (d, S) per row, as the finance metrics see them."""
    domain = inputs.domain
    out = {}
    for row in inputs.rows:
        loaded, states = row["samples"], inputs.samples(row)
        if "decoded" in loaded:
            replicate = loaded.get("replicate", np.zeros(loaded["samples"].shape[1], dtype=int))
            out[inputs.label(row)] = loaded["decoded"][..., replicate == replicate.min()]
        elif row["metrics"].get("category") == "sampler":
            out[inputs.label(row)] = domain.decode(states, inputs.memory, row["metrics"]["beta"])
        else:
            out[inputs.label(row)] = domain.decode_nearest(states, inputs.memory)
    return out


@register_figure(
    "qq",
    caption="""
    Quantile–quantile plots of generated against real daily returns for a few tickers.
    """,
)
def qq(inputs: FigureInputs, path: Path) -> None:
    """QQ plots of generated against real returns for a few tickers."""
    from . import finance_figures

    finance_figures.qq_plots(
        inputs.memory.arrays["returns"], _returns(inputs),
        [str(t) for t in inputs.memory.arrays["tickers"]], path,
        title=_heading(inputs, "QQ plots after the per-ticker affine correction"),
    )  # fmt: skip


@register_figure(
    "correlation_scatter",
    caption="""
    Pairwise correlations between tickers: generated against real.
    """,
)
def correlation_scatter(inputs: FigureInputs, path: Path) -> None:
    """Pairwise ticker correlations, generated against real."""
    from . import finance_figures

    finance_figures.correlation_scatter(
        inputs.memory.arrays["returns"], _returns(inputs), path,
        title=_heading(inputs, "Ticker-pair correlations, generated against real"),
    )  # fmt: skip


@register_figure(
    "tail_survival",
    caption="""
    Loss tail (survival function) of the equal-weight portfolio of real and generated returns.
    """,
)
def tail_survival(inputs: FigureInputs, path: Path) -> None:
    """Loss tail of the equal-weight portfolio per method."""
    from . import finance_figures

    finance_figures.tail_survival_curves(
        inputs.memory.arrays["returns"], _returns(inputs), path,
        title=_heading(inputs, "Loss tail of the equal-weight portfolio"),
    )  # fmt: skip


def draw(params: dict, inputs: dict[str, Path], path: Path) -> None:
    """Load what the figure ``params["figure"]`` needs and draw it at ``path``."""
    figure = get_figure(params["figure"])
    rows, memories = [], {}
    for i, row in enumerate(params["rows"]):
        memory_path = inputs.get(f"memory{i}", inputs["memory"])
        if memory_path not in memories:
            memories[memory_path] = load_memory_file(memory_path)
        rows.append(
            row
            | {
                "label": params["labels"].get(row["_method"], row["method"]),
                "samples": load_samples(inputs[f"samples{i}"]),
                "metrics": json.loads(inputs[f"metrics{i}"].read_text()),
                "memory": memories[memory_path],
            }
        )
    first = params["rows"][0] if params["rows"] else {}
    swept = [k for k in first if not k.startswith("_") and k not in ("dataset", "method")]
    figure.function(
        FigureInputs(
            experiment=params["experiment"],
            dataset=params["dataset"],
            title=params.get("title") or params["experiment"],
            memory=memories.get(inputs["memory"]) or load_memory_file(inputs["memory"]),
            rows=rows,
            swept=swept,
        ),
        path,
    )
