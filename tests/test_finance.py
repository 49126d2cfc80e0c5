"""Finance domain: sources, memory recipe, decoding, metrics, baselines (SPEC §3–§5, E9)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from stochastic_attention.baselines import finance_simple, garch
from stochastic_attention.domains import finance
from stochastic_attention.domains import finance_metrics as fm
from stochastic_attention.domains.base import (
    DomainError,
    Memory,
    get_domain,
    load_memory_file,
    save_memory_file,
)
from stochastic_attention.methods.base import RunContext, get_method

# ------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def offline_raw(tmp_path_factory):
    path = tmp_path_factory.mktemp("finance") / "raw.npz"
    provenance = finance.fetch({"kind": "offline"}, path)
    return path, provenance


@pytest.fixture(scope="module")
def offline_memory(offline_raw):
    return finance.build_memory({"domain": "finance"}, offline_raw[0])


def _tiny_memory(returns: np.ndarray) -> Memory:
    return Memory(finance.normalise_returns(returns), {}, {"returns": returns})


# -------------------------------------------------------------------------- offline source


def test_offline_source_default_window(offline_raw):
    path, provenance = offline_raw
    prices, tickers, dates = finance.load_raw(path)
    assert len(tickers) == 20 and "AAPL" in tickers.tolist()
    assert dates[0] == "2014-01-03" and dates[-1] == "2022-12-28"
    assert prices.shape == (20, dates.size) == (20, 2263)
    assert dates.dtype.kind == "U" and tickers.dtype.kind == "U"
    assert provenance["dropped_tickers"] == [] and provenance["n_days"] == 2263
    assert np.all(prices > 0)


def test_offline_window_and_tickers_select(tmp_path):
    source = {"start": "2020-03-01", "end": "2020-03-31", "tickers": ["MSFT", "KO", "XOM"]}
    provenance = finance.fetch(source, tmp_path / "raw.npz")
    prices, tickers, dates = finance.load_raw(tmp_path / "raw.npz")
    assert tickers.tolist() == ["MSFT", "KO", "XOM"]
    assert dates[0] == "2020-03-02" and dates[-1] == "2020-03-31" and dates.size == 22
    assert provenance["first_day"] == "2020-03-02"
    reference = finance._offline_prices()[0].loc["2020-03-01":"2020-03-31", ["MSFT", "KO", "XOM"]]
    np.testing.assert_array_equal(prices, reference.to_numpy().T)


# -------------------------------------------------------------------------- memory recipe


def test_memory_recipe_is_exact(offline_raw, offline_memory):
    prices, _tickers, dates = finance.load_raw(offline_raw[0])
    memory = offline_memory
    returns = np.log(prices[:, 1:] / prices[:, :-1])
    np.testing.assert_allclose(memory.arrays["returns"], returns, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(memory.patterns.mean(axis=0), 0.0, atol=1e-15)
    np.testing.assert_allclose(np.linalg.norm(memory.patterns, axis=0), 1.0, rtol=1e-12)
    centred = returns - returns.mean(axis=0)
    np.testing.assert_allclose(
        memory.patterns * np.linalg.norm(centred, axis=0), centred, atol=1e-15
    )
    assert memory.metadata["d"] == 20 and memory.metadata["K"] == 2262
    assert memory.arrays["dates"][0] == dates[1] and memory.metadata["window"][1] == "2022-12-28"


def test_memory_subset_and_recent_days(offline_raw, offline_memory, tmp_path):
    memory = finance.build_memory({"n_patterns": 100, "tickers": ["KO", "PEP"]}, offline_raw[0])
    assert memory.patterns.shape == (2, 100)
    rows = [offline_memory.metadata["tickers"].index(t) for t in ("KO", "PEP")]
    np.testing.assert_array_equal(
        memory.arrays["returns"], offline_memory.arrays["returns"][rows, -100:]
    )
    save_memory_file(tmp_path / "m.npz", memory)
    again = load_memory_file(tmp_path / "m.npz")
    assert again.arrays["tickers"].tolist() == ["KO", "PEP"]
    np.testing.assert_array_equal(again.arrays["returns"], memory.arrays["returns"])
    with pytest.raises(DomainError, match="n_patterns=9999"):
        finance.build_memory({"n_patterns": 9999}, offline_raw[0])
    with pytest.raises(DomainError, match="ZZZ"):
        finance.build_memory({"tickers": ["KO", "ZZZ"]}, offline_raw[0])


def test_registry_finds_the_domain_and_methods():
    from stochastic_attention.methods import garch as garch_kind
    from stochastic_attention.methods import mvn_gaussian

    assert get_domain("finance") is finance
    assert get_method("garch") is garch_kind
    assert get_method("mvn_gaussian") is mvn_gaussian


# ------------------------------------------------------------------------------- decoding


def test_decode_is_m_softmax_beta_xt_xi():
    rng = np.random.default_rng(0)
    returns = rng.normal(0, 0.01, (3, 4))
    memory = _tiny_memory(returns)
    states = rng.normal(size=(3, 2))
    beta = 7.0
    logits = beta * memory.patterns.T @ states
    weights = np.exp(logits) / np.exp(logits).sum(axis=0)
    np.testing.assert_allclose(finance.decode(states, memory, beta), returns @ weights, rtol=1e-12)
    # at very large beta a stored day decodes to its own raw returns
    np.testing.assert_allclose(finance.decode(memory.patterns, memory, 1e6), returns, rtol=1e-9)
    np.testing.assert_array_equal(
        finance.decode_nearest(memory.patterns[:, [2, 0]], memory), returns[:, [2, 0]]
    )


def test_panel_is_a_matrix(offline_memory):
    panel = finance.panel(offline_memory.patterns[:, :5], offline_memory)
    assert panel.kind == "matrix" and panel.images.shape == (1, 20, 5)


# -------------------------------------------------------------------------------- metrics


def test_ks_affine_ignores_location_and_scale_but_not_shape():
    rng = np.random.default_rng(1)
    real = rng.standard_t(4, size=(3, 2000))
    shifted = 0.1 * real + 5.0  # same shape, other location and scale
    result = fm.ks_affine(real, shifted)
    assert np.all(result.statistics <= 1 / 2000)  # equal up to round-off in one value
    assert result.pass_rate == 1.0 and result.mean_p == pytest.approx(1.0)
    uniform = rng.uniform(size=(3, 2000))
    bad = fm.ks_affine(real, uniform)
    assert bad.pass_rate == 0.0 and bad.mean_p < 1e-6
    matched = fm.affine_match(real, uniform)
    expected = stats.ks_2samp(real[0], matched[0])
    assert bad.statistics[0] == expected.statistic and bad.p_values[0] == expected.pvalue
    np.testing.assert_allclose(matched.std(axis=1, ddof=1), real.std(axis=1, ddof=1))


def test_correlation_frobenius_known_answer():
    u = np.array([1.0, -1.0, 0.0, 0.0])
    v = np.array([0.0, 0.0, 1.0, -1.0])

    def pair(theta):
        return np.stack([u, np.cos(theta) * u + np.sin(theta) * v])

    error = fm.correlation_frobenius(pair(np.pi / 3), pair(np.pi / 2))  # ρ 0.5 vs 0
    assert error == pytest.approx(np.sqrt(0.2), rel=1e-12)
    assert fm.correlation_frobenius(pair(1.0), 3 * pair(1.0) + 1) == pytest.approx(0, abs=1e-12)


def test_kurtosis_and_tail_known_answers():
    two_point = np.tile(np.array([0.01, -0.01] * 50), (4, 1))  # portfolio = the row itself
    assert fm.portfolio_kurtosis(two_point) == pytest.approx(-2.0, abs=1e-9)
    assert fm.ticker_kurtosis(two_point) == pytest.approx(-2.0, abs=1e-12)
    series = np.tile(np.array([-2.0, 0, 0, 0, 0, 2.0]) * 0.01, (3, 1))
    survival = fm.tail_survival(series, np.array([1.5, 1.6]))  # z = ±1.581
    np.testing.assert_allclose(survival, [1 / 6, 0.0])
    mixed = np.array([[0.01, -0.02], [0.03, 0.0]])
    expected = np.log((np.exp(mixed[0]) + np.exp(mixed[1])) / 2)
    np.testing.assert_allclose(fm.portfolio_returns(mixed), expected, rtol=1e-14)


def test_sequence_acf_definition_and_band():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 500))
    result = fm.sequence_acf(x, lags=5)
    for row, values in ((x, result.acf_g), (x**2, result.acf_g2), (np.abs(x), result.acf_abs)):
        c = row - row.mean(axis=1, keepdims=True)
        manual = [[np.sum(r[:-k] * r[k:]) / np.sum(r * r) for k in range(1, 6)] for r in c]
        np.testing.assert_allclose(values, manual, rtol=1e-10, atol=1e-14)
    assert result.band == pytest.approx(stats.norm.ppf(0.995) / np.sqrt(500))
    alternating = np.tile([1.0, -1.0], (1, 50))
    with np.errstate(invalid="ignore", divide="ignore"):  # g² is constant here: NaN ACF
        alternating_acf = fm.sequence_acf(alternating, lags=3)
    np.testing.assert_allclose(alternating_acf.acf_g[0], [-99 / 100, 98 / 100, -97 / 100])
    # an AR(1) with φ = 0.6 sits far outside the band at lag 1; white noise rarely does
    ar = np.zeros((4, 4000))
    noise = rng.standard_normal((4, 4000))
    for t in range(1, 4000):
        ar[:, t] = 0.6 * ar[:, t - 1] + noise[:, t]
    assert np.all(np.abs(fm.sequence_acf(ar).acf_g[:, 0] - 0.6) < 0.05)
    assert fm.sequence_acf(noise, lags=10).summary["outside_g"] < 0.1
    summary = fm.sequence_acf(ar, lags=10).summary
    assert summary["acf_g_lag1"] == pytest.approx(fm.sequence_acf(ar).acf_g[:, 0].mean())
    assert summary["band"] == pytest.approx(stats.norm.ppf(0.995) / np.sqrt(4000))
    # the white-noise SE of a share of 4 tickers × 10 lags outside a 99 % band
    assert summary["outside_g_se"] == pytest.approx(np.sqrt(0.01 * 0.99 / 40))
    assert set(fm.SUMMARY_KEYS) <= set(summary)


def test_domain_metrics_on_bootstrap_days(offline_memory):
    rng = np.random.default_rng(3)
    states, returns = finance_simple.bootstrap_days(offline_memory, 900, rng)
    groups = np.arange(900) // 5
    np.testing.assert_array_equal(finance.decode_nearest(states, offline_memory), returns)
    out = finance.domain_metrics(states, offline_memory, groups, decoded=returns)
    assert out["return_novelty"] == pytest.approx(0.0, abs=1e-12)
    assert out["ks_pass_rate"] >= 0.8 and out["correlation_frobenius"] < 0.2
    nearest = finance.domain_metrics(states, offline_memory, groups)  # no β: nearest stored day
    assert nearest["return_novelty"] == pytest.approx(out["return_novelty"], abs=1e-12)
    decoded = finance.domain_metrics(states[:, :50], offline_memory, groups[:50], beta=25.0)
    assert set(decoded) == set(out)


# ------------------------------------------------------------------------------ yfinance


def _yahoo_frame(tickers: list[str], days: pd.DatetimeIndex) -> pd.DataFrame:
    """What yfinance.download returns: columns (Price, Ticker), adjusted 'Close' among them."""
    rng = np.random.default_rng(4)
    closes = {t: 100 * np.exp(np.cumsum(rng.normal(0, 0.01, days.size))) for t in tickers}
    closes["GAPS"][[5, 6]] = np.nan  # a ticker with missing days
    closes["EMPTY"][:] = np.nan  # a ticker Yahoo returned nothing for
    frames = {
        price: pd.DataFrame(closes, index=days) * (1.0 if price == "Close" else 1.01)
        for price in ("Close", "High", "Low", "Open")
    }
    frame = pd.concat(frames, axis=1, names=["Price", "Ticker"])
    frame.index = frame.index.tz_localize("America/New_York")  # yfinance's tz-aware index
    return frame


def test_yfinance_adapter_drops_and_lists_incomplete_tickers(tmp_path, monkeypatch):
    import yfinance

    days = pd.bdate_range("2024-01-02", periods=30)
    calls = []

    def fake_download(tickers, **kwargs):
        calls.append((tickers, kwargs))
        return _yahoo_frame(["AAA", "GAPS", "EMPTY", "BBB"], days)

    monkeypatch.setattr(yfinance, "download", fake_download)
    source = {
        "kind": "yfinance",
        "tickers": ["aaa", "GAPS", "EMPTY", "BBB"],
        "start": "2024-01-01",
        "end": "2024-02-12",
    }
    provenance = finance.fetch(source, tmp_path / "raw.npz")
    tickers, kwargs = calls[0]
    assert tickers == ["AAA", "GAPS", "EMPTY", "BBB"]
    assert kwargs["start"] == "2024-01-01" and kwargs["end"] == "2024-02-13"  # end exclusive
    assert kwargs["auto_adjust"] is True
    assert provenance["tickers"] == ["AAA", "BBB"]
    dropped = {d["ticker"]: d["reason"] for d in provenance["dropped_tickers"]}
    assert dropped["EMPTY"] == "no prices in the window"
    assert dropped["GAPS"].startswith("2 of 30 days missing (first 2024-01-09)")
    _prices, names, dates = finance.load_raw(tmp_path / "raw.npz")
    assert names.tolist() == ["AAA", "BBB"] and dates[0] == "2024-01-02" and dates.size == 30
    memory = finance.build_memory({}, tmp_path / "raw.npz")
    assert memory.patterns.shape == (2, 29)


@pytest.mark.parametrize("result", [None, pd.DataFrame()])
def test_yfinance_empty_result_is_one_line_and_writes_nothing(tmp_path, monkeypatch, result):
    import yfinance

    monkeypatch.setattr(yfinance, "download", lambda tickers, **kwargs: result)
    with pytest.raises(DomainError, match="yfinance returned no prices") as error:
        finance.fetch({"kind": "yfinance", "tickers": ["AAA"]}, tmp_path / "raw.npz")
    assert "\n" not in str(error.value)
    assert list(tmp_path.iterdir()) == []


def test_yfinance_failure_names_the_offline_source(tmp_path, monkeypatch):
    import yfinance

    def refuse(tickers, **kwargs):
        raise ConnectionError("Max retries exceeded")

    monkeypatch.setattr(yfinance, "download", refuse)
    with pytest.raises(DomainError, match=r"ConnectionError.*offline"):
        finance.fetch({"kind": "yfinance"}, tmp_path / "raw.npz")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------- local CSV and errors


def _write_csv(path, rows):
    path.write_text("Date,AAA,BBB,CCC\n" + "\n".join(",".join(r) for r in rows) + "\n")
    return path


GOOD_ROWS = [
    ("2021-01-04", "10.0", "20.0", "5"),
    ("2021-01-05", "10.5", "19.0", ""),
    ("2021-01-06", "10.2", "19.5", "5.5"),
    ("2021-01-07", "10.4", "19.9", "5.2"),
]


def test_local_csv(tmp_path):
    csv = _write_csv(tmp_path / "prices.csv", GOOD_ROWS)
    provenance = finance.fetch({"kind": "local", "path": str(csv)}, tmp_path / "raw.npz")
    assert provenance["tickers"] == ["AAA", "BBB"]
    assert provenance["dropped_tickers"][0]["ticker"] == "CCC"
    assert provenance["window"] == ["2021-01-04", "2021-01-07"]
    prices, _, _dates = finance.load_raw(tmp_path / "raw.npz")
    np.testing.assert_array_equal(prices[0], [10.0, 10.5, 10.2, 10.4])
    windowed = {"kind": "local", "path": str(csv), "start": "2021-01-05", "tickers": ["AAA", "BBB"]}
    finance.fetch(windowed, tmp_path / "raw2.npz")
    assert finance.load_raw(tmp_path / "raw2.npz")[2].tolist() == [
        "2021-01-05",
        "2021-01-06",
        "2021-01-07",
    ]


@pytest.mark.parametrize(
    ("rows", "source", "message"),
    [
        ([*GOOD_ROWS[:2], ("2021-01-06", "-1", "19", "5")], {}, "price -1.0 of AAA on 2021-01-06"),
        ([*GOOD_ROWS[:2], ("2021-01-06", "abc", "19", "5")], {}, "row 4, column 'AAA': 'abc'"),
        ([*GOOD_ROWS[:2], ("2021-01-06", "0", "19", "5")], {}, "not positive"),
        (GOOD_ROWS, {"start": "2021-01-05", "end": "2021-01-05"}, "holds 1 trading day"),
        (
            [*GOOD_ROWS[:2], ("2021-01-06", "", "19", "5"), GOOD_ROWS[3]],
            {"tickers": ["AAA", "CCC"]},
            "no ticker has a complete history.*AAA: 1 of 4 days missing",
        ),
        (GOOD_ROWS, {"tickers": ["ZZZ"]}, "no ticker\\(s\\) ZZZ"),
        (GOOD_ROWS, {"start": "2021-02-30"}, "start = '2021-02-30' is not a date"),
        ([("notadate", "1", "1", "1")], {}, "row 2: 'notadate'"),
    ],
)
def test_bad_local_input_is_one_line_and_writes_nothing(tmp_path, rows, source, message):
    csv = _write_csv(tmp_path / "prices.csv", rows)
    out = tmp_path / "out" / "raw.npz"
    with pytest.raises(DomainError, match=message) as error:
        finance.fetch({"kind": "local", "path": str(csv), **source}, out)
    assert "\n" not in str(error.value)
    assert not out.exists() and not (out.parent.exists() and any(out.parent.iterdir()))


def test_unknown_source_key_and_missing_file(tmp_path):
    with pytest.raises(DomainError, match="unknown key"):
        finance.fetch({"kind": "offline", "window": "x"}, tmp_path / "raw.npz")
    with pytest.raises(DomainError, match="does not exist"):
        finance.fetch({"kind": "local", "path": str(tmp_path / "no.csv")}, tmp_path / "raw.npz")


# ------------------------------------------------------------------------------ baselines


@pytest.fixture(scope="module")
def fitted_garch(offline_memory):
    return garch.fit_ccc_garch(offline_memory.arrays["returns"])


def test_garch_fit_recovers_persistence_and_clusters_volatility(offline_memory, fitted_garch):
    persistence = fitted_garch.persistence
    assert np.all((persistence > 0.8) & (persistence <= 1.0 + 1e-6))
    assert 0.9 < np.median(persistence) < 1.0
    assert np.all((fitted_garch.nu > 2.5) & (fitted_garch.nu < 15))  # fat tails
    path = garch.simulate(fitted_garch, 2262, 1, np.random.default_rng(5))[0]
    acf = fm.sequence_acf(path, lags=10)
    assert acf.summary["acf_g2_lag1"] > 2 * acf.band  # volatility clustering
    assert abs(acf.summary["acf_g_mean"]) < acf.band  # returns themselves uncorrelated
    iid = fm.sequence_acf(
        finance_simple.bootstrap_path(offline_memory, 2262, np.random.default_rng(6))
    )
    assert abs(iid.summary["acf_g2_lag1"]) < acf.band


def test_garch_innovations_carry_the_residual_correlation(fitted_garch):
    cholesky = np.linalg.cholesky(fitted_garch.correlation)
    z = garch._innovations(fitted_garch, cholesky, 20_000, np.random.default_rng(7))
    np.testing.assert_allclose(z.std(axis=1), 1.0, atol=0.06)
    assert np.max(np.abs(np.corrcoef(z) - fitted_garch.correlation)) < 0.05


def test_garch_and_mvn_run_as_methods(offline_memory):
    context = RunContext(rng=np.random.default_rng(8), seed=8)
    result = get_method("garch").run(offline_memory, {"n_samples": 20, "burn_in": 50}, context)
    assert result.samples.shape == (20, 20) and result.arrays["path"].shape == (20, 2262)
    np.testing.assert_allclose(result.samples, finance.normalise_returns(result.arrays["decoded"]))
    assert result.scalars["train_seconds"] > 0 and result.groups.tolist()[:6] == [0] * 5 + [1]
    mvn = get_method("mvn_gaussian").run(
        offline_memory, {"n_samples": 5000}, RunContext(rng=np.random.default_rng(9), seed=9)
    )
    returns = offline_memory.arrays["returns"]
    draws = mvn.arrays["decoded"]
    np.testing.assert_allclose(np.cov(draws), np.cov(returns), atol=0.1 * np.cov(returns).max())
    assert fm.correlation_frobenius(returns, draws) < 0.05


def test_sequence_run_is_the_decoded_warm_start_chain(offline_memory):
    returns = offline_memory.arrays["returns"][:, -300:]
    memory = Memory(offline_memory.patterns[:, -300:], {}, {"returns": returns})
    path, states, acceptance = finance.sequence_run(
        memory, alpha=0.01, rng=np.random.default_rng(10), beta=12.0, inner_steps=20, n_days=40
    )
    assert path.shape == states.shape == (20, 40)
    np.testing.assert_allclose(path, finance.decode(states, memory, 12.0))
    assert 0.9 < acceptance <= 1.0


def test_finance_figures_are_written(offline_memory, tmp_path):
    from stochastic_attention.report import finance_figures

    returns = offline_memory.arrays["returns"]
    rng = np.random.default_rng(11)
    generated = {"mvn": finance_simple.mvn_draws(returns, 300, rng), "real days": returns[:, :300]}
    tickers = offline_memory.metadata["tickers"]
    finance_figures.qq_plots(returns, generated, tickers, tmp_path / "qq.png")
    finance_figures.correlation_scatter(returns, generated, tmp_path / "corr.png")
    finance_figures.tail_survival_curves(returns, generated, tmp_path / "tail.png")
    finance_figures.acf_panels({"real": returns, "mvn": generated["mvn"]}, tmp_path / "acf.png")
    for name in ("qq", "corr", "tail", "acf"):
        assert (tmp_path / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
