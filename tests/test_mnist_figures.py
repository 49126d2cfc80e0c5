"""Each MNIST figure function draws a non-trivial PNG from a small synthetic table."""

import numpy as np
import pandas as pd
import pytest

from stochastic_attention.report import mnist_figures as mf

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def assert_png(path, min_bytes=15_000):
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > min_bytes, len(data)


def test_beta_label_has_the_snr():
    assert mf.beta_label(2000, 0.01, 784) == "β = 2000 (SNR 0.113)"
    assert mf.beta_label(200) == "β = 200"


def test_basin_visits_figure(tmp_path):
    rng = np.random.default_rng(0)
    steps = np.arange(10_100, 50_001, 100)
    nearest = [np.repeat(rng.integers(0, 100, 8), 50)[: steps.size] for _ in range(3)]
    nearest[2][::7] = -1
    cosine = [
        np.clip(0.9 - 0.2 * i + 0.02 * rng.standard_normal(steps.size), 0, 1) for i in range(3)
    ]
    path = mf.basin_visits_figure(
        steps,
        nearest,
        cosine,
        tmp_path / "e7.png",
        betas=[2000, 200, 50],
        alpha=0.01,
        d=784,
        n_patterns=100,
    )
    assert_png(path)


def test_basin_visits_figure_checks_lengths(tmp_path):
    with pytest.raises(ValueError, match="one nearest and one cosine"):
        mf.basin_visits_figure(
            np.arange(3), [np.zeros(3)], [], tmp_path / "x.png", betas=[1.0], alpha=0.01, d=4
        )


def sweep_table():
    alphas = [0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5]
    rows = []
    for method in ("sa", "mala"):
        for a in alphas:
            rows.append(
                {
                    "alpha": a,
                    "method": method,
                    "acceptance": np.nan if method == "sa" else float(np.exp(-3 * a)),
                    "novelty": 0.1 + 0.3 * a,
                    "novelty_se": 0.01,
                    "diversity": 0.2 + 0.2 * a,
                    "diversity_se": 0.02,
                }
            )
    return pd.DataFrame(rows)


def test_sweep_figure(tmp_path):
    path = mf.sweep_figure(
        sweep_table(),
        "alpha",
        ["acceptance", "novelty", "diversity"],
        "method",
        tmp_path / "e11.png",
        beta=2000,
        d=784,
        title="Step-size sweep, digit 3",
    )
    assert_png(path)


def test_sweep_figure_names_missing_columns(tmp_path):
    with pytest.raises(ValueError, match="energy"):
        mf.sweep_figure(sweep_table(), "alpha", ["energy"], "method", tmp_path / "x.png")


def test_max_cos_histogram(tmp_path):
    rng = np.random.default_rng(1)
    values = {
        "sa": np.clip(0.6 + 0.05 * rng.standard_normal(150), 0, 1),
        "matched_gaussian": np.clip(0.3 + 0.05 * rng.standard_normal(150), 0, 1),
        "isotropic_gaussian": np.clip(0.1 + 0.02 * rng.standard_normal(150), 0, 1),
    }
    path = mf.max_cos_histogram(values, tmp_path / "e12.png", beta=200, alpha=0.01, d=784)
    assert_png(path)


def test_scaling_figure(tmp_path):
    rows = []
    for k in (100, 500, 1000, 2000, 3500):
        beta_star = 30.0 * k**0.2
        rows.append(
            {
                "K": k,
                "method": "sa_beta_star",
                "max_cos": 0.5,
                "max_cos_se": 0.01,
                "beta": beta_star,
                "train_seconds": np.nan,
            }
        )
        rows.append(
            {
                "K": k,
                "method": "sa_5beta_star",
                "max_cos": 0.7,
                "max_cos_se": 0.01,
                "beta": 5 * beta_star,
                "train_seconds": np.nan,
            }
        )
        rows.append(
            {
                "K": k,
                "method": "ddpm",
                "max_cos": 0.2 + 0.1 * np.log10(k),
                "max_cos_se": 0.02,
                "beta": np.nan,
                "train_seconds": 0.05 * k,
            }
        )
    path = mf.scaling_figure(
        pd.DataFrame(rows),
        tmp_path / "e13.png",
        alpha=0.01,
        d=784,
        labels={"sa_beta_star": "SA at β*", "sa_5beta_star": "SA at 5β*"},
    )
    assert_png(path)


def test_snr_figure(tmp_path):
    rows = [
        {"rank": r, "beta": b, "max_cos": (1 + r / b) ** -0.5 * 0.95, "max_cos_se": 0.005}
        for r in (20, 50, 80, 100)
        for b in (200, 2000)
    ]
    path = mf.snr_figure(pd.DataFrame(rows), tmp_path / "e17.png", alpha=0.01)
    assert_png(path)
