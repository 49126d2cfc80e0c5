"""One table writer: CSV (full precision), Markdown, LaTeX (booktabs) and HTML.

CSV keeps every digit and the raw column names (it is the machine-readable record). The
other three show the same cells, built once by :func:`format_cells`:

* **Labels.** Column names become human labels with units from :data:`LABELS`
  (``novelty`` → ``N (novelty)``, ``beta`` → ``β``); ``<name>_sd_rep`` becomes
  ``<label> SD (replicates)`` and an unpaired ``<name>_se`` ``<label> SE``; unknown names
  pass through unchanged.
* **Value ± SE.** A column ``x`` with a sibling ``x_se`` is shown as ``x ± se``: the SE to
  two significant digits and the value rounded to the SE's last digit
  (0.1527 ± 0.00071 → ``0.15270 ± 0.00071``). An SE of zero is printed ``0`` and its value
  uses the column's finest SE decimals, so the column keeps one number style.
* **Zeros.** An exact zero is ``0``. Values below ``1e-9 ×`` the column's largest magnitude
  (or below ``1e-12``) are floating-point rounding (1 − cos of a copied pattern is ~1e-16)
  and print as ``0`` too.
* **One style per column.** Integral columns are integers; other numeric columns are
  fixed-point with one number of decimals for the whole column (``digits`` significant digits
  for the largest entry, at least two for the smallest); a column spanning more than that
  sensibly shows is in scientific notation throughout. Missing values are ``–``.
* Numbers are right-aligned (Markdown ``---:``, LaTeX ``r``, HTML class ``num``).
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

__all__ = [
    "HTML_STYLE",
    "LABELS",
    "FormattedTable",
    "column_label",
    "escape_latex",
    "format_cells",
    "format_html",
    "format_latex",
    "format_markdown",
    "format_value_se",
    "one_line",
    "write_document",
    "write_table",
]

LABELS: dict[str, str] = {
    "beta": "β",
    "alpha": "α",
    "snr": "SNR",
    "d": "d",
    "n_patterns": "K",
    "n_chains": "C",
    "n_samples": "S",
    "replicates": "R",
    "load_ratio": "K/d",
    "novelty": "N (novelty)",
    "diversity": "D (diversity)",
    "diversity_within": "D_within (within-chain)",
    "energy": "Ē",
    "max_cosine": "max-cos",
    "acceptance": "acceptance",
    "concentration": "C = 1 − H/log K",
    "entropy_ratio": "H / log K",
    "train_loss": "final training loss",
    "final_loss": "final training loss",
    "train_seconds": "training time (s)",
    "seconds": "wall time (s)",
    "frechet": "Fréchet distance (diagonal)",
    "fraction_negative_energy": "fraction with E < 0",
    "seq_identity": "SeqID",
    "composition_kl": "composition KL (nats)",
    "position_kl": "per-position KL (nats)",
    "mi_correlation": "MI correlation r",
    "hmm_pass_rate": "HMM pass rate",
    "hmm_mean_bitscore": "HMM mean bit score",
    "energy_beta": "β of Ē",
    "beta_star": "β*",
    "beta_criterion": "β* criterion",
    "beta_star_inflection": "β* (inflection)",
    "beta_star_knee": "β* (knee)",
    "ess": "ESS (energy)",
    "rhat": "R-hat (energy)",
    "frechet_diagonal": "Fréchet distance (diagonal)",
    "train_size": "training patterns",
    "ks_pass_rate": "KS pass rate (5 %)",
    "ks_mean_p": "KS mean p",
    "correlation_frobenius": "correlation error (rel. Frobenius)",
    "return_novelty": "novelty of returns",
    "kurtosis": "portfolio excess kurtosis",
    "pca_rank": "r (PCA rank)",
    "n_heads": "H (heads)",
    "acf_g_mean": "mean ACF of g",
    "acf_g2_mean": "mean ACF of g²",
    "acf_abs_mean": "mean ACF of |g|",
    "acf_g_lag1": "ACF of g at lag 1",
    "acf_g2_lag1": "ACF of g² at lag 1",
    "band": "99 % band (±)",
    "outside_g": "g: share outside 99 % band",
    "outside_g2": "g²: share outside 99 % band",
    "outside_abs": "|g|: share outside 99 % band",
}
for _metric in ("seq_identity", "composition_kl", "position_kl", "mi_correlation",
                "hmm_pass_rate", "hmm_mean_bitscore"):  # protein metrics under each decoding
    for _decoding in ("scaled", "reference"):
        LABELS[f"{_metric}_{_decoding}"] = f"{LABELS[_metric]} ({_decoding} decoding)"
del _metric, _decoding
_SUFFIXES = (("_sd_rep", "{} SD (replicates)"), ("_se", "{} SE"))
_MISSING = "–"
_ZERO_RELATIVE = 1e-9
_ZERO_ABSOLUTE = 1e-12
_LINE_BREAKS = re.compile(r"\s*[\r\n\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u2028\u2029\x85]+\s*")

_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "β": r"$\beta$",
    "α": r"$\alpha$",
    "γ": r"$\gamma$",
    "σ": r"$\sigma$",
    "ξ": r"$\xi$",
    "Δ": r"$\Delta$",
    "Ē": r"$\bar{E}$",
    "−": r"$-$",
    "±": r"$\pm$",
    "≈": r"$\approx$",
    "≤": r"$\le$",
    "≥": r"$\ge$",
    "·": r"$\cdot$",
    "×": r"$\times$",
    "√": r"$\surd$",
    "‖": r"$\|$",
    "½": r"$\frac{1}{2}$",
    "²": r"$^{2}$",
    "ᵀ": r"$^{\top}$",
    "–": "--",
    "…": r"\ldots{}",
}

HTML_STYLE = """\
table.sa-table { border-collapse: collapse; margin: 1em 0; font-size: 14px;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328; }
table.sa-table caption { caption-side: top; text-align: left; font-weight: 600;
  padding: 0 0 0.4em 0; }
table.sa-table th, table.sa-table td { padding: 0.3em 0.8em; border-bottom: 1px solid #d0d7de; }
table.sa-table thead th { border-bottom: 2px solid #57606a; font-weight: 600; }
table.sa-table .num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.sa-table .text { text-align: left; }
table.sa-table tbody tr:nth-child(even) { background: #f6f8fa; }
"""


def one_line(text: str) -> str:
    """``text`` with every run of whitespace that holds a line break (or another control
    character) turned into one space: a title or cell can then never start a new Markdown
    heading or table row, a live LaTeX line after a ``%`` comment, or a new HTML line."""
    return _LINE_BREAKS.sub(" ", str(text))


def column_label(name: str, labels: Mapping[str, str] | None = None) -> str:
    """The human label of column ``name`` (:data:`LABELS`, then the suffix rules)."""
    labels = LABELS if labels is None else labels
    if name in labels:
        return labels[name]
    for suffix, pattern in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return pattern.format(column_label(name[: -len(suffix)], labels))
    return name


# ------------------------------------------------------------------------ number rules


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _zero_limit(values: Sequence[float]) -> float:
    scale = max((abs(v) for v in values if _finite(v)), default=0.0)
    return max(_ZERO_RELATIVE * scale, _ZERO_ABSOLUTE)


def _fixed(value: float, decimals: int) -> str:
    """``value`` rounded to ``decimals`` (negative: to tens, hundreds, …), no ``-0``."""
    rounded = round(value, decimals)
    text = f"{rounded:.{max(decimals, 0)}f}"
    return text.lstrip("-") if rounded == 0 else text


def _se_decimals(se: float) -> int:
    """Decimals that show ``se`` to two significant digits (negative for large SEs)."""
    two_digits = float(f"{se:.1e}")
    return 1 - math.floor(math.log10(two_digits))


def format_value_se(value: float, se: float, *, zero_below: float = 0.0) -> str:
    """``value ± se`` with the SE to two significant digits and the value to its last digit.

    Values and SEs with magnitude ≤ ``zero_below`` print as ``0``;
    ``format_value_se(0.1527, 0.00071)`` → ``"0.15270 ± 0.00071"``.
    """
    if abs(se) <= zero_below:
        return f"{_plain(value, zero_below)} ± 0"
    decimals = _se_decimals(se)
    shown = "0" if abs(value) <= zero_below else _fixed(value, decimals)
    return f"{shown} ± {_fixed(se, decimals)}"


def _plain(value: float, zero_below: float) -> str:
    if abs(value) <= zero_below:
        return "0"
    return f"{value:.6g}"


def _plain_column(values: list[object], digits: int) -> list[str]:
    """One number style for a column without SEs (see the module docstring)."""
    finite = [float(v) for v in values if _finite(v)]
    limit = _zero_limit(finite)
    nonzero = [abs(v) for v in finite if abs(v) > limit]
    if all(v.is_integer() and v < 1e15 for v in nonzero):
        return [
            _MISSING if not _finite(v) else "0" if abs(v) <= limit else f"{int(v)}" for v in values
        ]
    top = math.floor(math.log10(max(nonzero)))
    bottom = math.floor(math.log10(min(nonzero)))
    decimals = max(digits - 1 - top, 1 - bottom, 0)
    scientific = decimals > 6 or top >= 6
    texts = []
    for value in values:
        if not _finite(value):
            texts.append(_MISSING)
        elif abs(value) <= limit:
            texts.append("0")
        elif scientific:
            texts.append(f"{value:.{digits - 1}e}")
        else:
            texts.append(_fixed(float(value), decimals))
    return texts


def _se_column(values: list[object], ses: list[object], digits: int) -> list[str]:
    """``value ± se`` cells of one column; zero SEs borrow the column's finest SE decimals."""
    limit = _zero_limit([*values])
    real = [float(s) for s in ses if _finite(s) and abs(s) > limit]
    finest = max((_se_decimals(s) for s in real), default=None)
    plain = _plain_column(values, digits)
    texts = []
    for value, se, fallback in zip(values, ses, plain, strict=True):
        if not _finite(value):
            texts.append(_MISSING)
        elif not _finite(se):
            texts.append(fallback)
        elif abs(se) > limit:
            texts.append(format_value_se(float(value), float(se), zero_below=limit))
        elif abs(value) <= limit:
            texts.append("0 ± 0")
        elif finest is not None:
            texts.append(f"{_fixed(float(value), finest)} ± 0")
        else:
            texts.append(f"{fallback} ± 0")
    return texts


# ------------------------------------------------------------------------------ cells


@dataclass(frozen=True)
class FormattedTable:
    """The shown cells of a table: raw ``columns``, their ``labels``, ``numeric`` flags
    (right-aligned) and ``rows`` of cell texts (missing values are ``–``)."""

    columns: list[str]
    labels: list[str]
    numeric: list[bool]
    rows: list[list[str]]


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def format_cells(
    table: pd.DataFrame,
    *,
    digits: int = 4,
    with_se: bool = True,
    labels: Mapping[str, str] | bool = True,
) -> FormattedTable:
    """The cells every text format shows (rules in the module docstring).

    ``labels``: ``True`` for :data:`LABELS`, ``False`` for the raw names, or a mapping that
    replaces :data:`LABELS`.
    """
    names = [str(c) for c in table.columns]
    merged = {c for c in names if with_se and f"{c}_se" in names and _is_numeric(table[c])}
    shown = [c for c in names if not (c.endswith("_se") and c[: -len("_se")] in merged)]
    columns: list[list[str]] = []
    numeric: list[bool] = []
    for name in shown:
        series = table[name]
        values = [None if pd.isna(v) else v for v in series.tolist()]
        if name in merged:
            ses = [None if pd.isna(v) else v for v in table[f"{name}_se"].tolist()]
            columns.append(_se_column(values, ses, digits))
        elif _is_numeric(series):
            columns.append(_plain_column(values, digits))
        else:
            columns.append([_MISSING if v is None else str(v) for v in values])
        numeric.append(_is_numeric(series))
    if labels is True:
        heads = [column_label(c) for c in shown]
    elif labels is False:
        heads = list(shown)
    else:
        heads = [column_label(c, labels) for c in shown]
    rows = [list(row) for row in zip(*columns, strict=True)] if columns else []
    return FormattedTable(shown, heads, numeric, rows)


# ---------------------------------------------------------------------------- writers


def format_markdown(
    table: pd.DataFrame,
    *,
    digits: int = 4,
    with_se: bool = True,
    labels: Mapping[str, str] | bool = True,
) -> str:
    """A Markdown pipe table, numbers right-aligned (``---:``)."""
    cells = format_cells(table, digits=digits, with_se=with_se, labels=labels)

    def line(texts: list[str]) -> str:
        return "| " + " | ".join(one_line(t).replace("|", "\\|") for t in texts) + " |"

    rule = "|" + "|".join("---:" if n else ":---" for n in cells.numeric) + "|"
    return "\n".join([line(cells.labels), rule, *map(line, cells.rows)]) + "\n"


def escape_latex(text: str) -> str:
    """``text`` with LaTeX's special characters escaped (``mnist_digit3`` → ``mnist\\_digit3``)
    and the Greek letters and symbols of the labels in math mode (``β`` → ``$\\beta$``)."""
    return "".join(_LATEX_SPECIALS.get(character, character) for character in one_line(text))


def format_latex(
    table: pd.DataFrame,
    *,
    digits: int = 4,
    with_se: bool = True,
    title: str = "",
    labels: Mapping[str, str] | bool = True,
) -> str:
    """A booktabs ``tabular`` (``\\usepackage{booktabs}``) to ``\\input`` into a paper.

    Same cells as :func:`format_markdown` (``x $\\pm$ se``); numeric columns right-aligned;
    a missing value is ``--``; the title, if any, is a leading comment (captions belong to
    the paper).
    """
    cells = format_cells(table, digits=digits, with_se=with_se, labels=labels)
    align = "".join("r" if n else "l" for n in cells.numeric)
    lines = [f"% {one_line(title)}"] if title else []
    lines += [
        f"\\begin{{tabular}}{{{align}}}",
        "\\toprule",
        " & ".join(escape_latex(c) for c in cells.labels) + " \\\\",
        "\\midrule",
    ]
    lines += [" & ".join(escape_latex(c) for c in row) + " \\\\" for row in cells.rows]
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines) + "\n"


def format_html(
    table: pd.DataFrame,
    *,
    digits: int = 4,
    with_se: bool = True,
    title: str = "",
    labels: Mapping[str, str] | bool = True,
    style: bool = True,
) -> str:
    """An HTML ``<table class="sa-table">`` (caption = ``title``) preceded by its
    :data:`HTML_STYLE` ``<style>`` block unless ``style`` is false; cells of numeric columns
    have class ``num`` (right-aligned), the others ``text``."""
    cells = format_cells(table, digits=digits, with_se=with_se, labels=labels)
    kinds = ["num" if n else "text" for n in cells.numeric]
    lines = [f"<style>\n{HTML_STYLE}</style>"] if style else []
    lines.append('<table class="sa-table">')
    if title:
        lines.append(f"<caption>{html.escape(one_line(title))}</caption>")
    head = "".join(
        f'<th class="{k}" scope="col">{html.escape(c)}</th>'
        for k, c in zip(kinds, cells.labels, strict=True)
    )
    lines += ["<thead>", f"<tr>{head}</tr>", "</thead>", "<tbody>"]
    for row in cells.rows:
        body = "".join(
            f'<td class="{k}">{html.escape(c)}</td>' for k, c in zip(kinds, row, strict=True)
        )
        lines.append(f"<tr>{body}</tr>")
    lines += ["</tbody>", "</table>"]
    return "\n".join(lines) + "\n"


def _html_document(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(one_line(title) or 'table')}</title>\n<style>\n{HTML_STYLE}"
        'body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;'
        " margin: 1.5em; color: #1f2328; max-width: 80em; }\n</style>\n</head>\n<body>\n"
        f"{body}</body>\n</html>\n"
    )


def write_table(
    table: pd.DataFrame,
    csv_path: Path,
    markdown_path: Path | None = None,
    *,
    title: str = "",
    latex_path: Path | None = None,
    html_path: Path | None = None,
) -> None:
    """Write ``table`` as CSV (full precision, raw names) and optionally as Markdown, LaTeX
    and a self-contained HTML page (for ``snakemake --report``)."""
    table.to_csv(csv_path, index=False, float_format="%.10g")
    if markdown_path is not None:
        heading = f"## {one_line(title)}\n\n" if title else ""
        Path(markdown_path).write_text(heading + format_markdown(table))
    if latex_path is not None:
        Path(latex_path).write_text(format_latex(table, title=title))
    if html_path is not None:
        body = format_html(table, title=title, style=False)
        Path(html_path).write_text(_html_document(title, body))


def write_document(
    heading: str,
    sections: Sequence[tuple[str, str | pd.DataFrame]],
    *,
    markdown_path: Path | None = None,
    latex_path: Path | None = None,
    html_path: Path | None = None,
) -> None:
    """A document of text paragraphs and tables in order: ``sections`` are (subheading or
    ``""``, text or table); each requested format gets the same content."""
    if markdown_path is not None:
        parts = [f"# {one_line(heading)}", ""]
        for label, content in sections:
            parts += [f"## {one_line(label)}", ""] if label else []
            is_table = isinstance(content, pd.DataFrame)
            parts += [format_markdown(content) if is_table else content, ""]
        Path(markdown_path).write_text("\n".join(parts))
    if latex_path is not None:
        parts = [f"% {one_line(heading)}", ""]
        for label, content in sections:
            parts += [f"\\paragraph{{{escape_latex(label)}}}", ""] if label else []
            is_table = isinstance(content, pd.DataFrame)
            parts += [format_latex(content) if is_table else escape_latex(content), ""]
        Path(latex_path).write_text("\n".join(parts))
    if html_path is not None:
        parts = [f"<h1>{html.escape(one_line(heading))}</h1>"]
        for label, content in sections:
            parts += [f"<h2>{html.escape(one_line(label))}</h2>"] if label else []
            is_table = isinstance(content, pd.DataFrame)
            text = f"<p>{html.escape(content)}</p>\n" if not is_table else None
            parts.append(format_html(content, style=False) if is_table else text)
        Path(html_path).write_text(_html_document(heading, "\n".join(parts)))
