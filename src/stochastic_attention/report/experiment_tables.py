"""Tables of the data experiments (comparison, sweep, spectrum) from metrics records.

One row per table row of the plan, columns in a fixed order: what the row is (dataset,
method, swept values), its temperatures, the SPEC §3 metrics with their chain-group SE
(``*_se``) and SD over replicates (``*_sd_rep``), sampler diagnostics, training outcome,
then the experiment's extra ``columns`` (domain metrics, training-set size, …). Paired
differences (``first − second``) form a second table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from . import tables

__all__ = ["build", "write"]

METRICS = ["novelty", "diversity", "energy", "max_cosine"]
LEADING = ["dataset", "method"]
TEMPERATURES = ["beta", "snr", "energy_beta", "n_samples", "replicates"]
TRAILING = ["acceptance", "ess", "rhat", "train_loss"]


def _value(record: dict, key: str) -> Any:
    value = record.get(key)
    return float("nan") if value is None else value


def build(
    params: dict, records: list[dict], pairs: list[dict]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The experiment table and its paired-difference table (possibly empty).

    The table's ``attrs["notes"]`` holds the notes on the data (:func:`notes_of`).
    """
    first = params["rows"][0] if params["rows"] else {}
    swept = [k for k in first if not k.startswith("_") and k not in LEADING]
    labels = params.get("labels", {})
    out = []
    for row, record in zip(params["rows"], records, strict=True):
        record = dict(record)
        record["train_loss"] = record.get("final_reconstruction", record.get("final_loss"))
        line = {
            "dataset": row["dataset"],
            "method": labels.get(row["_method"], row["method"]),
        }
        line |= {key: row[key] for key in swept}
        for key in TEMPERATURES:
            line[key] = _value(record, key)
        for key in METRICS:
            line[key] = _value(record, key)
            line[f"{key}_se"] = _value(record, f"{key}_se")
            if record.get("replicates", 1) > 1:
                line[f"{key}_sd_rep"] = _value(record, f"{key}_sd_rep")
        for key in TRAILING + list(params.get("columns", [])):
            line[key] = _value(record, key)
            if f"{key}_se" in record:
                line[f"{key}_se"] = _value(record, f"{key}_se")
        out.append(line)
    table = pd.DataFrame(out)
    table = table.dropna(axis=1, how="all").reset_index(drop=True)
    table.attrs["notes"] = notes_of(params, records)
    paired_rows = []
    for pair, record in zip(params.get("paired", []), pairs, strict=True):
        line = {
            "dataset": pair["first"]["dataset"],
            "difference": f"{labels.get(pair['first']['_method'], pair['first']['method'])} − "
            f"{labels.get(pair['second']['_method'], pair['second']['method'])}",
        }
        line |= {key: pair["first"][key] for key in swept}
        for key in METRICS:
            line[key] = record[f"{key}_diff"]
            line[f"{key}_se"] = record[f"{key}_diff_se"]
        paired_rows.append(line)
    return table, pd.DataFrame(paired_rows)


def notes_of(params: dict, records: list[dict]) -> list[str]:
    """What the readers of the data decided (``notes`` of the metrics records), once each,
    prefixed by the dataset: a dropped ticker, a header line taken as column names."""
    notes: dict[str, None] = {}
    for row, record in zip(params["rows"], records, strict=True):
        for note in record.get("notes") or []:
            notes.setdefault(tables.one_line(f"{row['dataset']}: {note}"), None)
    return list(notes)


def write(params: dict, table: pd.DataFrame, paired: pd.DataFrame, outputs: dict[str, Path]):
    """CSV (the main table, full precision), Markdown, LaTeX and HTML (both tables, then the
    notes on the data, if any)."""
    title = params.get("title") or params["experiment"]
    tables.write_table(table, outputs["csv"], None, title=title)
    sections: list[tuple[str, str | pd.DataFrame]] = [("", table)]
    if not paired.empty:
        sections.append(("Paired differences (same start draws; SE of the difference)", paired))
    notes = table.attrs.get("notes") or []
    if notes:
        sections.append(("Notes on the data", "; ".join(notes) + "."))
    tables.write_document(
        title,
        sections,
        markdown_path=outputs["md"],
        latex_path=outputs["tex"],
        html_path=outputs["html"],
    )
