"""Finance domain (SPEC §5): daily log returns of S&P 500 stocks, one memory column per day.

Sources (``sources.finance`` in config; every key optional):

* ``{"kind": "offline"}`` (default): the 20 S&P 500 stocks that ``skfolio`` ships
  (``skfolio.datasets.load_sp500_dataset``: adjusted closes, 1990-01-02 to 2022-12-28); no
  network. Default window :data:`OFFLINE_WINDOW` (2014-01-03 to 2022-12-28, the part of the
  paper's window the data covers): 2263 prices → K = 2262 daily returns of d = 20 tickers.
* ``{"kind": "yfinance", "tickers": [...], "start": ..., "end": ...}``: adjusted closes from
  Yahoo Finance through ``yfinance.download`` (default window :data:`PAPER_WINDOW`, default
  tickers the offline 20). Yahoo's API is unofficial and rate-limited without published
  limits: a burst of requests (a few hundred per hour from one address, or many tickers at
  once) gets HTTP 429 ``YFRateLimitError`` or silently empty tickers; then wait and re-run.
  The pipeline downloads once: :func:`fetch` writes one raw ``.npz`` and the workflow re-runs it
  only when the source block changes, so re-running experiments never touches the network.
  ``yfinance`` itself only caches time zones (a small SQLite file in the user cache folder,
  ``yfinance.set_tz_cache_location`` moves it). Yahoo revises adjusted prices after dividends
  and splits, so two downloads of the same window can differ slightly; the provenance records
  the sha256 of what was used.
* ``{"kind": "local", "path": "prices.csv"}``: a CSV with a date column first (any header)
  and one column of prices per ticker; empty cells are missing days. Dates are ISO
  ``YYYY-MM-DD`` unless ``date_format`` (a strftime format such as ``%d/%m/%Y``) says
  otherwise: ``03/04/2022`` is never guessed.

``start`` and ``end`` (``YYYY-MM-DD``, both inclusive) select the days; ``tickers`` selects
columns. Days on which no ticker has a price are removed; a ticker with a missing price on
any remaining day (no data, a late listing, gaps) is dropped, logged as a warning by the fetch
job and listed in the provenance, and the tables of its datasets say so in their notes.
Non-positive or non-numeric prices are errors, as are fewer than two days and no ticker left.

Memory (:func:`build_memory`): returns ``g_t = log(S_t / S_{t−1})`` as the columns of the raw
``M`` (d tickers, K days), kept in ``arrays["returns"]``; the memory is each column centred to
zero cross-sectional mean and scaled to unit norm (:func:`normalise_returns`). A state ξ emits
the returns ``ĝ = M softmax(β Xᵀξ)`` (:func:`decode`) with the sampler's β.

Pool metrics (:func:`domain_metrics`, functions in :mod:`.finance_metrics`) compare decoded
returns with ``M``.
"""

from __future__ import annotations

import hashlib
import logging
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from ..arrays import read_npz, write_npz_atomic
from ..energy import attention
from .base import DomainError, Memory, Panel

__all__ = [
    "DATASET_SCHEMA",
    "NAME",
    "OFFLINE_WINDOW",
    "PAPER_WINDOW",
    "SOURCE_KINDS",
    "SOURCE_SCHEMA",
    "build_memory",
    "decode",
    "decode_nearest",
    "domain_metrics",
    "fetch",
    "load_raw",
    "log_returns",
    "normalise_returns",
    "panel",
    "select_prices",
    "sequence_run",
]

NAME = "finance"
log = logging.getLogger("stochastic_attention")
SOURCE_KINDS: tuple[str, ...] = ("offline", "yfinance", "local")
OFFLINE_WINDOW: tuple[str, str] = ("2014-01-03", "2022-12-28")
PAPER_WINDOW: tuple[str, str] = ("2014-01-03", "2024-12-31")
OFFLINE_TICKERS: tuple[str, ...] = (
    "AAPL", "AMD", "BAC", "BBY", "CVX", "GE", "HD", "JNJ", "JPM", "KO",
    "LLY", "MRK", "MSFT", "PEP", "PFE", "PG", "RRC", "UNH", "WMT", "XOM",
)  # fmt: skip
_DATE = r"^\d{4}-\d{2}-\d{2}$"
_TICKER = r"^[A-Za-z0-9.^=\-]+$"

SOURCE_SCHEMA: dict = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "kind": {"enum": list(SOURCE_KINDS), "default": "offline"},
        "start": {
            "type": "string",
            "pattern": _DATE,
            "description": "first day (inclusive); default 2014-01-03 (offline, yfinance), "
            "the file's first day (local)",
        },
        "end": {
            "type": "string",
            "pattern": _DATE,
            "description": "last day (inclusive); default 2022-12-28 (offline), 2024-12-31 "
            "(yfinance), the file's last day (local)",
        },
        "tickers": {
            "type": "array",
            "items": {"type": "string", "pattern": _TICKER},
            "minItems": 1,
            "uniqueItems": True,
            "description": "tickers to keep (yfinance: to download); default all (offline, "
            "local) or the offline 20 (yfinance)",
        },
        "path": {"type": "string", "description": "local: CSV of prices (date, tickers…)"},
        "date_format": {
            "type": "string",
            "description": "local: strftime format of the date column (e.g. '%d/%m/%Y'); "
            "default ISO YYYY-MM-DD only, so day-first dates are never guessed",
        },
        "timeout": {"type": "number", "exclusiveMinimum": 0, "default": 30},
    },
}

DATASET_SCHEMA: dict = {
    "type": "object",
    "properties": {
        "n_patterns": {
            "type": "integer",
            "minimum": 2,
            "description": "keep the K most recent days (default: every day of the window)",
        },
        "tickers": {
            "type": "array",
            "items": {"type": "string", "pattern": _TICKER},
            "minItems": 2,
            "uniqueItems": True,
            "description": "a subset of the fetched tickers (default: all)",
        },
    },
    "required": [],
}


# --------------------------------------------------------------------------------- sources


def _window(source: dict, kind: str, dates: pd.DatetimeIndex | None = None) -> tuple[str, str]:
    """The configured (start, end) with the kind's defaults; checks the dates parse."""
    default = {"offline": OFFLINE_WINDOW, "yfinance": PAPER_WINDOW}.get(kind)
    if default is None:  # local: the whole file unless given
        first = dates[0].strftime("%Y-%m-%d") if dates is not None and len(dates) else ""
        last = dates[-1].strftime("%Y-%m-%d") if dates is not None and len(dates) else ""
        default = (first, last)
    start, end = source.get("start", default[0]), source.get("end", default[1])
    for key, value in (("start", start), ("end", end)):
        try:
            pd.Timestamp(value)
        except (ValueError, TypeError):
            raise DomainError(
                f"finance: sources.finance.{key} = {value!r} is not a date; write YYYY-MM-DD"
            ) from None
    if pd.Timestamp(start) > pd.Timestamp(end):
        raise DomainError(f"finance: sources.finance.start {start} is after end {end}; swap them")
    return start, end


def _offline_prices() -> tuple[pd.DataFrame, dict]:
    try:
        from skfolio.datasets import load_sp500_dataset
    except ImportError:
        raise DomainError(
            "finance: the offline source needs the 'skfolio' package (pip install skfolio)"
        ) from None
    frame = load_sp500_dataset()
    return frame, {
        "package": "skfolio",
        "package_version": metadata.version("skfolio"),
        "dataset": "sp500_dataset",
    }


def _parse_dates(text: pd.Series, date_format: str | None, path: Path) -> pd.Series:
    """The date column, read one way only: ISO ``YYYY-MM-DD`` or the given ``date_format``.

    Guessing would be silent: ``03/04/2022`` is 3 April or 4 March, and a parser that takes
    month-first where it can and day-first where it must moves a window by months.
    """
    try:
        dates = pd.to_datetime(text, errors="coerce", format=date_format or "ISO8601")
    except (ValueError, TypeError) as error:
        raise DomainError(
            f"finance: {path}: the date column cannot be read ({error}); write every date "
            "as YYYY-MM-DD, or set sources.finance.date_format"
        ) from None
    if dates.isna().any():
        row = int(np.flatnonzero(dates.isna())[0])
        value, column = text.iloc[row], text.name
        if date_format:
            problem = f"does not match date_format {date_format!r}"
        elif "/" in value or "." in value:
            problem = (
                "is not a YYYY-MM-DD date, and day-first and month-first cannot be told apart "
                "from the file; write YYYY-MM-DD, or set sources.finance.date_format (e.g. "
                "'%d/%m/%Y' for 25/03/2022, '%m/%d/%Y' for 03/25/2022)"
            )
        else:
            problem = "is not a date (write YYYY-MM-DD)"
        raise DomainError(
            f"finance: {path} row {row + 2}: {value!r} in column {column!r} {problem}"
        )
    return dates


def _local_prices(source: dict) -> tuple[pd.DataFrame, dict]:
    """Read a CSV (first column dates, then one column per ticker); cells must be numbers."""
    if not source.get("path"):
        raise DomainError('finance: a "local" source needs "path" (a CSV of prices)')
    path = Path(source["path"]).expanduser()
    if not path.is_file():
        raise DomainError(
            f"finance: local price file {path} does not exist; fix sources.finance.path"
        )
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise DomainError(f"finance: {path} is not a readable CSV ({error})") from None
    if table.shape[1] < 2 or table.shape[0] < 1:
        raise DomainError(
            f"finance: {path} needs a date column and at least one ticker column with rows; "
            f"it has {table.shape[1]} column(s) and {table.shape[0]} row(s)"
        )
    date_column = table.columns[0]
    dates = _parse_dates(table[date_column].str.strip(), source.get("date_format"), path)
    values = {}
    for ticker in table.columns[1:]:
        text = table[ticker].str.strip()
        numbers = pd.to_numeric(text.where(text != ""), errors="coerce")
        bad = numbers.isna() & (text != "")
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DomainError(
                f"finance: {path} row {row + 2}, column {ticker!r}: {text.iloc[row]!r} is not "
                "a number (leave the cell empty for a missing day)"
            )
        values[str(ticker)] = numbers.to_numpy(dtype=np.float64)
    frame = pd.DataFrame(values, index=pd.DatetimeIndex(dates, name="Date"))
    if frame.index.has_duplicates:
        day = frame.index[frame.index.duplicated()][0].strftime("%Y-%m-%d")
        raise DomainError(f"finance: {path} lists the day {day} twice; keep one row per day")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return frame.sort_index(), {"path": str(path), "sha256": digest}


def _yfinance_prices(source: dict, window: tuple[str, str]) -> tuple[pd.DataFrame, dict]:
    """Adjusted closes from ``yfinance.download`` (the one network boundary)."""
    try:
        import yfinance
    except ImportError:
        raise DomainError(
            "finance: the yfinance source needs the 'yfinance' package (pip install yfinance); "
            'the offline source {"kind": "offline"} works without it'
        ) from None
    tickers = [t.upper() for t in source.get("tickers") or OFFLINE_TICKERS]
    end_exclusive = (pd.Timestamp(window[1]) + pd.Timedelta(days=1)).strftime("%Y-%m-%d")
    try:
        data = yfinance.download(
            tickers,
            start=window[0],
            end=end_exclusive,
            auto_adjust=True,
            progress=False,
            threads=False,
            group_by="column",
            timeout=float(source.get("timeout", 30)),
        )
    except Exception as error:
        raise DomainError(
            f"finance: yfinance.download of {len(tickers)} tickers {window[0]}..{window[1]} "
            f"failed ({type(error).__name__}: {error}); wait if rate-limited, or use the "
            'offline source {"kind": "offline"}'
        ) from None
    if data is None or data.empty or "Close" not in data.columns.get_level_values(0):
        raise DomainError(
            f"finance: yfinance returned no prices for {', '.join(tickers)} between "
            f"{window[0]} and {window[1]} (offline, rate-limited or unknown tickers); "
            'retry later or use the offline source {"kind": "offline"}'
        )
    close = data["Close"]
    if isinstance(close, pd.Series):
        close = close.to_frame(tickers[0])
    close = close.reindex(columns=tickers)  # tickers yfinance left out become all-missing
    close.index = pd.DatetimeIndex(close.index).tz_localize(None).normalize()
    return close.astype(np.float64), {
        "package": "yfinance",
        "package_version": metadata.version("yfinance"),
        "requested_tickers": tickers,
        "auto_adjust": True,
    }


def select_prices(
    frame: pd.DataFrame, window: tuple[str, str], tickers: list[str] | None, where: str
) -> tuple[pd.DataFrame, list[dict]]:
    """The window's prices with complete tickers only → (frame (days, tickers), dropped).

    Days without any price are removed first (holidays in a merged calendar); then every
    ticker with a missing day is dropped and listed with the reason. Raises
    :class:`DomainError` for unknown tickers, non-positive prices, no ticker left or fewer
    than two days.
    """
    if tickers:
        unknown = [t for t in tickers if t not in frame.columns]
        if unknown:
            raise DomainError(
                f"finance: {where} has no ticker(s) {', '.join(unknown)}; available: "
                f"{', '.join(map(str, frame.columns))}"
            )
        frame = frame[list(tickers)]
    frame = frame.loc[pd.Timestamp(window[0]) : pd.Timestamp(window[1])]
    values = frame.to_numpy(dtype=np.float64)
    bad = np.isfinite(values) & (values <= 0) | np.isinf(values)
    if bad.any():
        row, column = (int(i[0]) for i in np.nonzero(bad))
        raise DomainError(
            f"finance: {where}: price {values[row, column]} of {frame.columns[column]} on "
            f"{frame.index[row]:%Y-%m-%d} is not positive and finite; fix or remove it"
        )
    frame = frame.loc[~frame.isna().all(axis=1)]
    dropped = []
    for ticker in frame.columns:
        missing = frame[ticker].isna()
        if missing.all():
            dropped.append({"ticker": str(ticker), "reason": "no prices in the window"})
        elif missing.any():
            first = frame.index[missing.to_numpy()][0].strftime("%Y-%m-%d")
            dropped.append(
                {
                    "ticker": str(ticker),
                    "reason": f"{int(missing.sum())} of {len(frame)} days missing (first {first})",
                }
            )
    frame = frame.drop(columns=[d["ticker"] for d in dropped])
    if frame.shape[1] == 0:
        listed = "; ".join(f"{d['ticker']}: {d['reason']}" for d in dropped) or "no tickers"
        raise DomainError(
            f"finance: {where}: no ticker has a complete history in {window[0]}..{window[1]} "
            f"({listed}); widen the window or change the tickers"
        )
    if frame.shape[0] < 2:
        raise DomainError(
            f"finance: {where}: the window {window[0]}..{window[1]} holds {frame.shape[0]} "
            "trading day(s); returns need at least two, widen the window"
        )
    return frame, dropped


def _dropped_notes(dropped: list[dict], where: str) -> list[str]:
    """One line per dropped ticker, logged now and carried to the tables' notes."""
    notes = [
        f"ticker {d['ticker']} of {where} dropped ({d['reason']}): returns need a price "
        "on every day"
        for d in dropped
    ]
    for note in notes:
        log.warning("finance: %s", note)
    return notes


def fetch(source: dict | None, out_path: Path | str) -> dict:
    """Resolve ``source`` and write the raw ``.npz`` at ``out_path``; return provenance.

    The npz holds ``dates`` (T,) unicode ``YYYY-MM-DD``, ``tickers`` (d,) unicode and
    ``prices`` (d, T) float64 (one row per ticker). Nothing is written when the data is bad.
    """
    source = dict(source or {})
    kind = source.get("kind", "offline")
    if kind not in SOURCE_KINDS:
        raise DomainError(
            f"finance: unknown sources.finance.kind {kind!r}; "
            f"choose one of {', '.join(SOURCE_KINDS)}"
        )
    unknown = set(source) - set(SOURCE_SCHEMA["properties"])
    if unknown:
        raise DomainError(
            f"finance: unknown key(s) {sorted(unknown)} in sources.finance; allowed: "
            f"{sorted(SOURCE_SCHEMA['properties'])}"
        )
    if kind == "offline":
        frame, extra = _offline_prices()
        window, where = _window(source, kind), "the offline skfolio S&P 500 data"
    elif kind == "local":
        frame, extra = _local_prices(source)
        window, where = _window(source, kind, frame.index), f"local file {extra['path']}"
    else:
        window = _window(source, kind)
        frame, extra = _yfinance_prices(source, window)
        where = "the yfinance download"
    requested = None if kind == "yfinance" else source.get("tickers")
    frame, dropped = select_prices(frame, window, requested, where)
    dates = np.array([day.strftime("%Y-%m-%d") for day in frame.index], dtype="U10")
    tickers = np.array([str(t) for t in frame.columns])
    prices = np.ascontiguousarray(frame.to_numpy(dtype=np.float64).T)
    digest = hashlib.sha256(prices.tobytes())
    digest.update("\n".join(tickers).encode() + b"|" + "\n".join(dates).encode())
    write_npz_atomic(Path(out_path), {"dates": dates, "tickers": tickers, "prices": prices})
    return {
        "domain": NAME,
        "kind": kind,
        "source": source | {"kind": kind},
        **extra,
        "window": list(window),
        "first_day": str(dates[0]),
        "last_day": str(dates[-1]),
        "n_days": int(dates.size),
        "tickers": tickers.tolist(),
        "dropped_tickers": dropped,
        "notes": _dropped_notes(dropped, where),
        "arrays_sha256": digest.hexdigest(),
    }


def load_raw(raw: Path | str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read a raw file of :func:`fetch` → (prices (d, T), tickers (d,), dates (T,))."""
    data = read_npz(raw, ("dates", "tickers", "prices"), "finance raw prices")
    return np.asarray(data["prices"], dtype=np.float64), data["tickers"], data["dates"]


# ---------------------------------------------------------------------------------- memory


def log_returns(prices: np.ndarray) -> np.ndarray:
    """``g_t = log(S_t / S_{t−1})``: prices (d, T) → returns (d, T − 1)."""
    return np.diff(np.log(np.asarray(prices, dtype=np.float64)), axis=1)


def normalise_returns(returns: np.ndarray) -> np.ndarray:
    """The memory recipe: each column (day) centred to zero cross-sectional mean, unit norm.

    returns: (d, n) → states (d, n). Baselines that emit returns use it for their states.
    A column whose returns are all equal cannot be normalised (DomainError naming it).
    """
    returns = np.asarray(returns, dtype=np.float64)
    if returns.ndim != 2 or returns.shape[0] < 2:
        raise DomainError(
            f"finance: returns must be (d, n) with d ≥ 2 tickers (a single ticker centres to "
            f"zero), got shape {returns.shape}"
        )
    centred = returns - returns.mean(axis=0, keepdims=True)
    norms = np.linalg.norm(centred, axis=0)
    bad = ~np.isfinite(norms) | (norms <= 1e-15 * np.maximum(np.abs(returns).max(axis=0), 1e-300))
    if bad.any():
        column = int(np.flatnonzero(bad)[0])
        raise DomainError(
            f"finance: day column {column} has equal (or non-finite) returns for every ticker "
            "and cannot be unit-normalised after centring"
        )
    return centred / norms


def build_memory(params: dict, raw: Path | None) -> Memory:
    """The memory (d, K) of one dataset from the raw prices (see the module docstring).

    ``params["tickers"]`` selects tickers, ``params["n_patterns"]`` keeps the K most recent
    days. arrays: ``returns`` (d, K) raw M, ``tickers`` (d,), ``dates`` (K,) of the returns.
    """
    if raw is None:
        raise DomainError("finance: build_memory needs the raw file written by fetch")
    prices, tickers, dates = load_raw(raw)
    wanted = params.get("tickers")
    if wanted:
        known = list(map(str, tickers))
        unknown = [t for t in wanted if t not in known]
        if unknown:
            raise DomainError(
                f"finance: dataset tickers {', '.join(unknown)} are not in {raw} (it holds "
                f"{', '.join(known)}); fix the dataset's tickers"
            )
        rows = [known.index(t) for t in wanted]
        prices, tickers = prices[rows], tickers[rows]
    returns, days = log_returns(prices), dates[1:]
    n_patterns = params.get("n_patterns")
    if n_patterns is not None:
        if int(n_patterns) > returns.shape[1]:
            raise DomainError(
                f"finance: n_patterns={n_patterns} exceeds the {returns.shape[1]} daily returns "
                f"in {raw}; lower it or widen the window"
            )
        returns, days = returns[:, -int(n_patterns) :], days[-int(n_patterns) :]
    memory = normalise_returns(returns)
    metadata_ = {
        "domain": NAME,
        "d": int(memory.shape[0]),
        "K": int(memory.shape[1]),
        "n_patterns": int(memory.shape[1]),
        "window": [str(days[0]), str(days[-1])],
        "tickers": [str(t) for t in tickers],
    }
    arrays = {
        "returns": np.ascontiguousarray(returns),
        "tickers": np.asarray(tickers, dtype=str),
        "dates": np.asarray(days, dtype=str),
    }
    return Memory(memory, metadata_, arrays)


# -------------------------------------------------------------------------------- decoding


def decode(states: np.ndarray, memory: Memory, beta: float) -> np.ndarray:
    """Returns emitted by states: ``ĝ = M softmax(β Xᵀξ)``; states (d, n) → returns (d, n).

    ``beta`` is the sampler's β (the decoding depends on it).
    """
    states = np.asarray(states, dtype=np.float64)
    return memory.arrays["returns"] @ attention(memory.patterns, states, beta)


def decode_nearest(states: np.ndarray, memory: Memory) -> np.ndarray:
    """Raw returns of the stored day closest in cosine to each state: (d, n).

    The decoding of the bootstrap baseline (its states are stored columns, so this returns
    the resampled days exactly).
    """
    states = np.asarray(states, dtype=np.float64)
    unit = states / np.linalg.norm(states, axis=0)
    return memory.arrays["returns"][:, np.argmax(memory.patterns.T @ unit, axis=0)]


def panel(states: np.ndarray, memory: Memory) -> Panel:
    """A heat map of the states themselves, tickers × samples (centred, unit-scale returns)."""
    states = np.asarray(states, dtype=np.float64)
    if states.ndim == 1:
        states = states[:, None]
    return Panel(
        kind="matrix",
        images=states[None, :, :].copy(),
        lines=tuple(memory.metadata.get("tickers", ())),
    )


def domain_metrics(
    samples: np.ndarray,
    memory: Memory,
    groups: np.ndarray,
    *,
    beta: float | None = None,
    decoded: np.ndarray | None = None,
) -> dict[str, float]:
    """Pool metrics of decoded returns against the raw returns (see :mod:`.finance_metrics`).

    ``decoded`` (d, S) when the method emits returns (baselines); otherwise the states are
    decoded with the sampler's ``beta``. ``return_novelty`` is the novelty of the decoded
    returns after the memory recipe (:func:`normalise_returns`), comparable across methods.
    """
    from .. import metrics
    from . import finance_metrics as fm

    if decoded is None:
        # a sampler's states decode through its attention; a baseline without its own
        # returns (bootstrap, convex, …) decodes to the nearest stored day
        decoded = decode_nearest(samples, memory) if beta is None else decode(samples, memory, beta)
    decoded = np.asarray(decoded, dtype=np.float64)
    real = memory.arrays["returns"]
    if decoded.shape[0] != real.shape[0]:
        raise DomainError(
            f"finance: decoded returns have {decoded.shape[0]} rows, memory {real.shape[0]}"
        )
    ks = fm.ks_affine(real, decoded)
    novelty = metrics.novelty(normalise_returns(decoded), memory.patterns)
    out = {
        "ks_pass_rate": ks.pass_rate,
        "ks_mean_p": ks.mean_p,
        "correlation_frobenius": fm.correlation_frobenius(real, decoded),
        "kurtosis": fm.portfolio_kurtosis(decoded),
        "kurtosis_ticker_mean": fm.ticker_kurtosis(decoded),
        "tail_3sd": fm.tail_probability(decoded, 3.0),
        "return_novelty": float(np.mean(novelty)),
        "return_novelty_se": metrics.grouped_standard_error(novelty, np.asarray(groups)),
    }
    return {key: float(value) for key, value in out.items()}


def sequence_run(
    memory: Memory,
    *,
    alpha: float,
    rng: np.random.Generator,
    beta: float = 12.0,
    inner_steps: int = 200,
    n_days: int | None = None,
) -> tuple[np.ndarray, np.ndarray, float]:
    """SPEC §2 warm-start MALA sequence, decoded: one output day per ``inner_steps`` steps.

    Day t's chain starts at day t−1's final state (the first at the most recent stored
    day); ``n_days`` defaults to K. Returns (returns (d, n_days) in time order, states
    (d, n_days), acceptance rate over all steps).
    """
    from ..samplers import warm_start_sequence

    run = warm_start_sequence(
        memory.patterns,
        beta=beta,
        alpha=alpha,
        rng=rng,
        inner_steps=inner_steps,
        n_days=memory.n_patterns if n_days is None else int(n_days),
        kernel="mala",
    )
    return decode(run.samples, memory, beta), run.samples, float(run.overall_acceptance)
