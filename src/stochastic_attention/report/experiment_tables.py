"""Tables of the data experiments (comparison, sweep, spectrum) from metrics records.

One row per table row of the plan, columns in a fixed order: what the row is (dataset,
method, swept values), its temperatures, the SPEC §3 metrics with their chain-group SE
(``*_se``) and SD over replicates (``*_sd_rep``), sampler diagnostics, training outcome,
then the experiment's extra ``columns`` (domain metrics, training-set size, …). Paired
differences (``first − second``) form a second table.

A learned baseline fitted once and drawn R times (``refit_replicates: false``) has an SD over
replicates without training variance (SPEC §4): its label gets :data:`ONE_FIT_MARK` and the
documents a note saying so.
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
ONE_FIT_MARK = " †"
ONE_FIT_NOTE = (
    "† SD over replicates from draws of one fit: it leaves out training variance "
    "(refit_replicates: false; the default refits each replicate with its own seed)."
)


def one_fit(record: dict) -> bool:
    """Whether a row's replicate SD comes from draws of one seeded fit (a learned baseline
    with ``refit_replicates: false``)."""
    return (
        record.get("category") == "learned"
        and record.get("replicates", 1) > 1
        and record.get("fits") == 1
        and record.get("seeded_fit", True) is not False
    )


def _value(record: dict, key: str) -> Any:
    value = record.get(key)
    return float("nan") if value is None else value


def build(
    params: dict, records: list[dict], pairs: list[dict]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The experiment table and its paired-difference table (possibly empty)."""
    first = params["rows"][0] if params["rows"] else {}
    swept = [k for k in first if not k.startswith("_") and k not in LEADING]
    labels = params.get("labels", {})
    out = []
    for row, record in zip(params["rows"], records, strict=True):
        record = dict(record)
        loss_key = "final_reconstruction" if "final_reconstruction" in record else "final_loss"
        record["train_loss"] = record.get(loss_key)
        record["train_loss_sd_rep"] = record.get(f"{loss_key}_sd_rep")
        line = {
            "dataset": row["dataset"],
            "method": labels.get(row["_method"], row["method"])
            + (ONE_FIT_MARK if one_fit(record) else ""),
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
            if key == "train_loss" and record["train_loss_sd_rep"] is not None:
                line["train_loss_sd_rep"] = record["train_loss_sd_rep"]  # SD over the refits
        out.append(line)
    table = pd.DataFrame(out)
    table = table.dropna(axis=1, how="all").reset_index(drop=True)
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


def write(params: dict, table: pd.DataFrame, paired: pd.DataFrame, outputs: dict[str, Path]):
    """CSV (the main table, full precision), Markdown, LaTeX and HTML (both tables)."""
    title = params.get("title") or params["experiment"]
    tables.write_table(table, outputs["csv"], None, title=title)
    sections: list[tuple[str, str | pd.DataFrame]] = [("", table)]
    if "method" in table and table["method"].astype(str).str.endswith(ONE_FIT_MARK).any():
        sections.append(("", ONE_FIT_NOTE))
    if not paired.empty:
        sections.append(("Paired differences (same start draws; SE of the difference)", paired))
    tables.write_document(
        title,
        sections,
        markdown_path=outputs["md"],
        latex_path=outputs["tex"],
        html_path=outputs["html"],
    )
