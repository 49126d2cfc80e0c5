"""Tables: CSV with full precision; Markdown and LaTeX with ``value ± SE`` cells."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

__all__ = [
    "escape_latex",
    "format_html",
    "format_latex",
    "format_markdown",
    "html_document",
    "write_table",
]

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
}


def _cell(value: object, digits: int) -> str:
    """Fixed-point for ordinary magnitudes, general format for very small or large ones."""
    if value is None:
        return "–"
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        if value.is_integer() and abs(value) >= 1:
            return f"{value:.0f}"
        if value == 0 or 1e-3 <= abs(value) < 1e4:
            return f"{value:.{digits}f}"
        return f"{value:.{digits - 1}g}"
    return str(value)


def _shown_columns(table: pd.DataFrame, with_se: bool) -> list[str]:
    return [c for c in table.columns if not (with_se and c.endswith("_se"))]


def _cells(
    table: pd.DataFrame, columns: list[str], digits: int, with_se: bool
) -> list[list[tuple[str, str | None]]]:
    """Per row, per shown column: (value text, SE text or None)."""
    rows = []
    for _, row in table.iterrows():
        cells = []
        for column in columns:
            se = f"{column}_se"
            has_se = with_se and se in table.columns and isinstance(row[se], float)
            cells.append((_cell(row[column], digits), f"{row[se]:.2g}" if has_se else None))
        rows.append(cells)
    return rows


def format_markdown(table: pd.DataFrame, *, digits: int = 4, with_se: bool = True) -> str:
    """Markdown pipe table; a column ``x`` with a sibling ``x_se`` becomes ``x ± se``."""
    columns = _shown_columns(table, with_se)
    lines = [
        "| " + " | ".join(map(str, columns)) + " |",
        "|" + "|".join("---" for _ in columns) + "|",
    ]
    for cells in _cells(table, columns, digits, with_se):
        texts = [value if se is None else f"{value} ± {se}" for value, se in cells]
        lines.append("| " + " | ".join(texts) + " |")
    return "\n".join(lines) + "\n"


def escape_latex(text: str) -> str:
    """``text`` with LaTeX's special characters escaped (``mnist_digit3`` → ``mnist\\_digit3``)."""
    return "".join(_LATEX_SPECIALS.get(character, character) for character in text)


def format_latex(
    table: pd.DataFrame, *, digits: int = 4, with_se: bool = True, title: str = ""
) -> str:
    """A booktabs ``tabular`` (``\\usepackage{booktabs}``) to ``\\input`` into a paper.

    Same cells as :func:`format_markdown`, ``x $\\pm$ se``; numeric columns right-aligned; a
    missing value is ``--``; the title, if any, is a leading comment (captions belong to the
    paper).
    """
    columns = _shown_columns(table, with_se)
    align = "".join("r" if pd.api.types.is_numeric_dtype(table[c]) else "l" for c in columns)
    lines = [f"% {title}"] if title else []
    lines += [
        f"\\begin{{tabular}}{{{align}}}",
        "\\toprule",
        " & ".join(escape_latex(str(c)) for c in columns) + " \\\\",
        "\\midrule",
    ]
    for cells in _cells(table, columns, digits, with_se):
        texts = []
        for value, se in cells:
            text = "--" if value == "–" else escape_latex(value)
            texts.append(text if se is None else f"{text} $\\pm$ {escape_latex(se)}")
        lines.append(" & ".join(texts) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines) + "\n"


def write_table(
    table: pd.DataFrame,
    csv_path: Path,
    markdown_path: Path | None = None,
    *,
    title: str = "",
    latex_path: Path | None = None,
) -> None:
    """Write ``table`` as CSV (full precision) and optionally as Markdown and LaTeX."""
    table.to_csv(csv_path, index=False, float_format="%.10g")
    if markdown_path is not None:
        heading = f"## {title}\n\n" if title else ""
        Path(markdown_path).write_text(heading + format_markdown(table))
    if latex_path is not None:
        Path(latex_path).write_text(format_latex(table, title=title))


def format_html(table: pd.DataFrame, *, digits: int = 4, with_se: bool = True) -> str:
    """An HTML ``<table>`` with the Markdown table's cells (numbers right-aligned)."""
    import html

    columns = _shown_columns(table, with_se)
    numeric = [pd.api.types.is_numeric_dtype(table[c]) for c in columns]
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = []
    for cells in _cells(table, columns, digits, with_se):
        tds = []
        for (value, se), is_number in zip(cells, numeric, strict=True):
            text = value if se is None else f"{value} ± {se}"
            align = ' class="num"' if is_number else ""
            tds.append(f"<td{align}>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(tds) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


_CSS = (
    "body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;margin:1em 0}"
    "th,td{border-bottom:1px solid #ccc;padding:4px 10px}th{background:#f3f3f3;text-align:left}"
    "td.num{text-align:right;font-variant-numeric:tabular-nums}"
)


def html_document(sections: list[tuple[str, pd.DataFrame]]) -> str:
    """A self-contained HTML page with one heading and table per section."""
    import html

    parts = [f"<h2>{html.escape(heading)}</h2>{format_html(frame)}" for heading, frame in sections]
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><style>{_CSS}</style></head>"
        f"<body>{''.join(parts)}</body></html>\n"
    )
