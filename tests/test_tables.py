"""Markdown and LaTeX renderings of a results table, checked character by character."""

from __future__ import annotations

import math

import pandas as pd

from stochastic_attention.report.tables import escape_latex, format_latex, format_markdown


def _table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "method": ["sa_retrieval", "bootstrap"],
            "beta": [2000.0, 2000.0],
            "novelty": [0.15321, 5.77e-17],
            "novelty_se": [0.00068, 3.6e-17],
            "acceptance": [0.992, math.nan],
        }
    )


def test_markdown_puts_each_standard_error_beside_its_value():
    assert format_markdown(_table()) == (
        "| method | beta | novelty | acceptance |\n"
        "|---|---|---|---|\n"
        "| sa_retrieval | 2000 | 0.1532 ± 0.00068 | 0.9920 |\n"
        "| bootstrap | 2000 | 5.77e-17 ± 3.6e-17 | – |\n"
    )


def test_latex_is_a_booktabs_tabular_with_escaped_text():
    assert format_latex(_table(), title="E4: digit 3") == (
        "% E4: digit 3\n"
        "\\begin{tabular}{lrrr}\n"
        "\\toprule\n"
        "method & beta & novelty & acceptance \\\\\n"
        "\\midrule\n"
        "sa\\_retrieval & 2000 & 0.1532 $\\pm$ 0.00068 & 0.9920 \\\\\n"
        "bootstrap & 2000 & 5.77e-17 $\\pm$ 3.6e-17 & -- \\\\\n"
        "\\bottomrule\n"
        "\\end{tabular}\n"
    )


def test_without_standard_errors_the_se_columns_are_ordinary_columns():
    text = format_markdown(_table(), with_se=False)
    assert text.splitlines()[0] == "| method | beta | novelty | novelty_se | acceptance |"
    assert "±" not in text


def test_latex_escapes_every_special_character():
    assert escape_latex("a_b & 50% #1 $x$ {y} ~ ^ \\") == (
        "a\\_b \\& 50\\% \\#1 \\$x\\$ \\{y\\} \\textasciitilde{} \\textasciicircum{} "
        "\\textbackslash{}"
    )
