"""Figures of the comparison experiments and the shared style, drawn from small arrays."""

from __future__ import annotations

from unittest import mock

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from stochastic_attention.domains.base import Panel
from stochastic_attention.report import comparison_figures as figures
from stochastic_attention.report import style

PNG = b"\x89PNG"


def _images(rng: np.random.Generator, n: int = 16, scale: float = 1.0) -> np.ndarray:
    return scale * rng.normal(size=(n, 6, 6))


def test_plain_numbers_on_log_axes():
    assert [style.plain_number(v) for v in (16, 256, 0.4, 1000, 0.001)] == [
        "16",
        "256",
        "0.4",
        "1000",
        "0.001",
    ]
    figure, axis = plt.subplots()
    axis.plot([16, 64, 256], [0.3, 0.4, 0.6])
    axis.set_xscale("log", base=2)
    axis.set_yscale("log")
    style.plain_log_ticks(axis, "x", [16, 64, 256])
    style.plain_log_ticks(axis, "y")
    figure.canvas.draw()
    assert [t.get_text() for t in axis.get_xticklabels()] == ["16", "64", "256"]
    y_labels = {t.get_text() for t in axis.get_yticklabels()}
    assert {"0.4", "0.5"} <= y_labels and not any("10^" in t or "times" in t for t in y_labels)
    plt.close(figure)


def test_saving_twice_gives_identical_bytes(tmp_path):
    paths = []
    for name in ("a.png", "b.png"):
        figure, axis = plt.subplots()
        axis.plot([0, 1], [1, 0])
        paths.append(style.save(figure, tmp_path / name))
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[0].read_bytes()[:4] == PNG


def test_shared_limits_pool_every_panel():
    low, high = figures.shared_limits([np.zeros((2, 3, 3)), np.ones((2, 3, 3))], quantile=1.0)
    assert (low, high) == (0.0, 1.0)
    constant = figures.shared_limits([np.full((1, 2, 2), 3.0)])
    assert constant[0] < 3.0 < constant[1]


def test_sample_grids_draw_images_text_and_matrices(tmp_path):
    rng = np.random.default_rng(0)
    path = figures.sample_grids(
        [
            ("stored", _images(rng)),
            ("SA", Panel("image", _images(rng, scale=0.1))),
            ("sequences", Panel("text", lines=("ACDEF", "GHIKL"))),
            ("returns", Panel("matrix", rng.normal(size=(1, 5, 9)))),
        ],
        tmp_path / "grid.png",
        title="E4",
        dataset="digit 3",
    )
    assert path.read_bytes()[:4] == PNG
    with pytest.raises(ValueError, match="kind"):
        figures.sample_grids([("x", Panel("video"))], tmp_path / "bad.png")  # type: ignore[arg-type]


def test_training_curves_of_each_learned_baseline(tmp_path):
    epochs = np.arange(1, 51)
    histories = {
        "gmm_pca": {"loss": np.r_[400.0, -np.linspace(20, 30, 20)]},
        "vae": {"loss": 1 / epochs, "reconstruction": 1 / epochs, "kl": 5 + 0 * epochs},
        "ddpm": {"loss": 1.0 - 0.01 * (1 - np.exp(-epochs / 10.0))},
    }
    path = figures.training_curves(
        histories,
        tmp_path / "curves.png",
        datasets={"vae": "digit 3"},
        title="E4",
        styles={"gmm_pca": "gmm", "vae": "vae", "ddpm": "ddpm"},
    )
    assert path.read_bytes()[:4] == PNG
    assert figures.training_curves({}, tmp_path / "empty.png").exists()


def test_training_curves_draw_every_replicate_fit(tmp_path):
    # (fits, epochs) histories, the GMM's NaN-padded where EM stopped early: every fit is a
    # line of its curve's colour and the legend gives the range of the final values.
    epochs = np.arange(1, 41)
    gmm = np.full((3, 12), np.nan)
    for r, stop in enumerate((12, 7, 9)):
        gmm[r, :stop] = np.r_[400.0 + r, -np.linspace(20, 30 + r, stop - 1)]
    histories = {
        "gmm_pca": {"loss": gmm},
        "vae": {"loss": np.stack([1 / epochs + r / 100 for r in range(5)])},
        "ddpm": {"loss": np.stack([1.0 - 0.01 * r * (1 - np.exp(-epochs / 10)) for r in (1, 2)])},
    }
    path = tmp_path / "fits.png"
    with mock.patch.object(figures, "save", wraps=figures.save) as save:
        figures.training_curves(
            histories, path, styles={"gmm_pca": "gmm", "vae": "vae", "ddpm": "ddpm"}
        )
    axes = save.call_args.args[0].axes
    assert [len(axis.get_lines()) for axis in axes] == [3, 5, 2 + 1]  # + DDPM's ε = 0 line
    assert [line.get_xdata().size for line in axes[0].get_lines()] == [11, 6, 8]  # from 2
    legend = [text.get_text() for text in axes[0].get_legend().get_texts()]
    assert legend == ["loss (final -32 to -30)"]
    assert "iteration 1 not shown: loss 400 to 402" in axes[0].get_xlabel()
    assert axes[1].get_title() == "vae, 5 fits"
    assert path.read_bytes()[:4] == PNG


def test_nearest_patterns_are_the_highest_cosines():
    memory = np.eye(3)
    samples = np.array([[0.9, 0.0], [0.1, 2.0], [0.0, 1.0]])
    index, cosines = figures.nearest_patterns(samples, memory)
    np.testing.assert_array_equal(index, [0, 1])
    np.testing.assert_allclose(cosines, [0.9 / np.hypot(0.9, 0.1), 2 / np.sqrt(5)])


def test_new_comparison_figures_write_pngs(tmp_path):
    rng = np.random.default_rng(1)
    table = pd.DataFrame(
        {
            "dataset": ["a", "a", "b"],
            "method": ["sa", "bootstrap", "sa"],
            "novelty": [0.3, 0.0, 0.2],
            "novelty_se": [0.01, 0.0, 0.01],
            "diversity": [0.7, 0.6, 0.5],
            "diversity_se": [0.02, 0.01, 0.02],
        }
    )
    outputs = [
        figures.novelty_diversity(table, tmp_path / "nd.png", labels={"sa": "SA β = 200"}),
        figures.nearest_neighbour_pairs(
            _images(rng, 4), _images(rng, 4), [0.9, 0.8, 0.7, 0.6], tmp_path / "nn.png"
        ),
        figures.nearest_neighbour_pairs(
            Panel("text", lines=("AAA",)), Panel("text", lines=("AAC",)), [0.7], tmp_path / "t.png"
        ),
        figures.energy_histograms(
            {"SA": rng.normal(size=150), "MALA": rng.normal(size=150)},
            tmp_path / "hist.png",
            beta=200,
        ),
        figures.energy_traces(
            rng.normal(size=(5, 11)),
            np.arange(0, 1100, 100),
            tmp_path / "trace.png",
            beta=200,
            burn_in=300,
        ),
    ]
    assert all(path.read_bytes()[:4] == PNG for path in outputs)
    with pytest.raises(ValueError, match="one column per step"):
        figures.energy_traces(np.zeros((2, 3)), np.arange(4), tmp_path / "x.png", beta=1)
    with pytest.raises(ValueError, match="both be image or both text"):
        figures.nearest_neighbour_pairs(
            _images(rng, 1), Panel("text", lines=("A",)), [0.5], tmp_path / "y.png"
        )


def test_labels_of_coinciding_and_neighbouring_points_do_not_overlap():
    """E4's SA and MALA rows sit on one spot, bootstrap and gaussian nearly so: every label
    gets its own box, clear of the other labels and of every marker."""
    points = [(0.152, 0.560), (0.135, 0.357), (0.152, 0.560), (0.0, 0.394), (0.005, 0.377)]
    texts = ["sa_retrieval", "gmm_pca", "mala_retrieval", "bootstrap", "gaussian"]
    figure, axis = plt.subplots(figsize=(6.4, 5.4), layout="constrained")
    axis.plot(*zip(*points, strict=True), "o", ms=7)
    axis.set_xlim(-0.1, 1.1)
    axis.set_ylim(-0.1, 1.1)
    figures._place_labels(axis, points, texts, ["C0"] * len(points))
    figure.draw_without_rendering()
    renderer = figure.canvas.get_renderer()
    boxes = [text.get_window_extent(renderer) for text in axis.texts]
    assert [text.get_text() for text in axis.texts] == texts
    for i, box in enumerate(boxes):
        for other in boxes[i + 1 :]:
            assert not box.overlaps(other), (box, other)
        for x, y in axis.transData.transform(points):
            assert not box.contains(x, y)
    plt.close(figure)
