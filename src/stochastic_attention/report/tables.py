"""Tables: CSV with full precision, Markdown with ``value ± SE`` cells."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

__all__ = ["format_markdown", "write_table"]


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


def format_markdown(table: pd.DataFrame, *, digits: int = 4, with_se: bool = True) -> str:
    """Markdown pipe table; a column ``x`` with a sibling ``x_se`` becomes ``x ± se``."""
    columns = [c for c in table.columns if not (with_se and c.endswith("_se"))]
    header = "| " + " | ".join(columns) + " |"
    rule = "|" + "|".join("---" for _ in columns) + "|"
    lines = [header, rule]
    for _, row in table.iterrows():
        cells = []
        for column in columns:
            text = _cell(row[column], digits)
            se = f"{column}_se"
            if with_se and se in table.columns and isinstance(row[se], float):
                text += f" ± {row[se]:.2g}"
            cells.append(text)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_table(
    table: pd.DataFrame, csv_path: Path, markdown_path: Path | None = None, *, title: str = ""
) -> None:
    """Write ``table`` as CSV (full precision) and optionally as Markdown with a title."""
    table.to_csv(csv_path, index=False, float_format="%.10g")
    if markdown_path is not None:
        heading = f"## {title}\n\n" if title else ""
        Path(markdown_path).write_text(heading + format_markdown(table))
