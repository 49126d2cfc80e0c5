"""The one table writer: number rules, labels and every format, checked character by character."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from stochastic_attention.report.tables import (
    column_label,
    escape_latex,
    format_cells,
    format_html,
    format_latex,
    format_markdown,
    format_value_se,
    write_document,
    write_table,
)


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


@pytest.mark.parametrize(
    ("value", "se", "text"),
    [
        (0.1527, 0.00071, "0.15270 ± 0.00071"),
        (0.2, 0.0123, "0.200 ± 0.012"),
        (-0.49, 0.001, "-0.4900 ± 0.0010"),
        (0.0995, 0.0995, "0.10 ± 0.10"),
        (123456.0, 1234.0, "123500 ± 1200"),
        (1e-7, 0.0012, "0.0000 ± 0.0012"),
        (0.0, 0.0, "0 ± 0"),
    ],
)
def test_value_and_se_round_to_the_se_s_second_digit(value, se, text):
    assert format_value_se(value, se) == text


def test_labels_come_from_one_mapping_and_unknown_names_pass_through():
    assert column_label("novelty") == "N (novelty)"
    assert column_label("max_cosine") == "max-cos"
    assert column_label("n_samples") == "S"
    assert column_label("energy") == "Ē"
    assert column_label("train_loss") == column_label("final_loss") == "final training loss"
    assert column_label("novelty_sd_rep") == "N (novelty) SD (replicates)"
    assert column_label("diversity_se") == "D (diversity) SE"
    assert column_label("max_cos_mean") == "max_cos_mean"


def test_float_noise_prints_as_zero_and_each_column_keeps_one_style():
    table = pd.DataFrame(
        {
            "method": ["sa", "bootstrap", "mala"],
            "max_cosine": [0.84679, 1.0, 0.8],
            "max_cosine_se": [0.00068, 6.4e-17, 0.0123],
            "energy": [-0.49, -0.5, -0.3],
            "energy_se": [0.001, 0.0, math.nan],
            "x": [5.8e-17, 0.1, 0.2],
            "seconds": [12.3, 4000.1, 1.0],
            "tiny": [1e-5, 3e-7, 2e-6],
            "n_samples": [150, 150, 150],
        }
    )
    cells = format_cells(table)
    assert cells.columns == ["method", "max_cosine", "energy", "x", "seconds", "tiny", "n_samples"]
    assert cells.numeric == [False, True, True, True, True, True, True]
    assert cells.rows == [
        ["sa", "0.84679 ± 0.00068", "-0.4900 ± 0.0010", "0", "12.3", "1.000e-05", "150"],
        ["bootstrap", "1.00000 ± 0", "-0.5000 ± 0", "0.1000", "4000.1", "3.000e-07", "150"],
        ["mala", "0.800 ± 0.012", "-0.3000", "0.2000", "1.0", "2.000e-06", "150"],
    ]


def test_markdown_labels_columns_and_right_aligns_numbers():
    assert format_markdown(_table()) == (
        "| method | β | N (novelty) | acceptance |\n"
        "|:---|---:|---:|---:|\n"
        "| sa_retrieval | 2000 | 0.15321 ± 0.00068 | 0.9920 |\n"
        "| bootstrap | 2000 | 0 ± 0 | – |\n"
    )


def test_latex_is_a_booktabs_tabular_with_escaped_text():
    assert format_latex(_table(), title="E4: digit 3") == (
        "% E4: digit 3\n"
        "\\begin{tabular}{lrrr}\n"
        "\\toprule\n"
        "method & $\\beta$ & N (novelty) & acceptance \\\\\n"
        "\\midrule\n"
        "sa\\_retrieval & 2000 & 0.15321 $\\pm$ 0.00068 & 0.9920 \\\\\n"
        "bootstrap & 2000 & 0 $\\pm$ 0 & -- \\\\\n"
        "\\bottomrule\n"
        "\\end{tabular}\n"
    )


def test_html_is_a_classed_table_with_numbers_right_aligned():
    text = format_html(_table(), title="E4 <digit 3>", style=False)
    assert text == (
        '<table class="sa-table">\n'
        "<caption>E4 &lt;digit 3&gt;</caption>\n"
        "<thead>\n"
        '<tr><th class="text" scope="col">method</th><th class="num" scope="col">β</th>'
        '<th class="num" scope="col">N (novelty)</th>'
        '<th class="num" scope="col">acceptance</th></tr>\n'
        "</thead>\n"
        "<tbody>\n"
        '<tr><td class="text">sa_retrieval</td><td class="num">2000</td>'
        '<td class="num">0.15321 ± 0.00068</td><td class="num">0.9920</td></tr>\n'
        '<tr><td class="text">bootstrap</td><td class="num">2000</td>'
        '<td class="num">0 ± 0</td><td class="num">–</td></tr>\n'
        "</tbody>\n"
        "</table>\n"
    )
    styled = format_html(_table())
    assert styled.startswith("<style>") and ".num { text-align: right;" in styled


def test_without_standard_errors_the_se_columns_are_ordinary_columns():
    text = format_markdown(_table(), with_se=False, labels=False)
    assert text.splitlines()[0] == "| method | beta | novelty | novelty_se | acceptance |"
    assert "±" not in text


def test_an_se_column_without_its_value_column_stays():
    table = pd.DataFrame({"exponent_se": [0.02]})
    assert format_markdown(table, labels=False).splitlines()[0] == "| exponent_se |"


def test_latex_escapes_every_special_character():
    assert escape_latex("a_b & 50% #1 $x$ {y} ~ ^ \\") == (
        "a\\_b \\& 50\\% \\#1 \\$x\\$ \\{y\\} \\textasciitilde{} \\textasciicircum{} "
        "\\textbackslash{}"
    )
    assert escape_latex("β·Ē ± α") == "$\\beta$$\\cdot$$\\bar{E}$ $\\pm$ $\\alpha$"


def test_write_table_keeps_full_precision_and_raw_names_in_csv(tmp_path):
    paths = {ext: tmp_path / f"t.{ext}" for ext in ("csv", "md", "tex", "html")}
    write_table(
        _table(),
        paths["csv"],
        paths["md"],
        title="E4",
        latex_path=paths["tex"],
        html_path=paths["html"],
    )
    assert paths["csv"].read_text().splitlines() == [
        "method,beta,novelty,novelty_se,acceptance",
        "sa_retrieval,2000,0.15321,0.00068,0.992",
        "bootstrap,2000,5.77e-17,3.6e-17,",
    ]
    assert paths["md"].read_text().startswith("## E4\n\n| method | β |")
    assert paths["tex"].read_text().startswith("% E4\n\\begin{tabular}")
    page = paths["html"].read_text()
    assert page.startswith("<!DOCTYPE html>") and "<caption>E4</caption>" in page
    assert "<style>" in page and page.rstrip().endswith("</html>")


def test_write_document_puts_text_and_tables_in_order(tmp_path):
    paths = {ext: tmp_path / f"doc.{ext}" for ext in ("md", "tex", "html")}
    write_document(
        "E1",
        [("", "β* = 2.2"), ("Table", _table())],
        markdown_path=paths["md"],
        latex_path=paths["tex"],
        html_path=paths["html"],
    )
    markdown = paths["md"].read_text()
    assert markdown.startswith("# E1\n\nβ* = 2.2\n\n## Table\n\n| method |")
    assert "\\paragraph{Table}" in paths["tex"].read_text()
    assert "<h2>Table</h2>" in paths["html"].read_text()
