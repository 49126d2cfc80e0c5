"""Tables of the data experiments (comparison, sweep, spectrum) from metrics records.

One row per table row of the plan, columns in a fixed order: what the row is (dataset,
method, swept values), its temperatures, the SPEC §3 metrics with their chain-group SE
(``*_se``) and SD over replicates (``*_sd_rep``), sampler diagnostics, training outcome,
then the experiment's extra ``columns`` (domain metrics, training-set size, …; ``beta_star``
brings its criterion and both criteria's values). Diversity appears pooled (``diversity``) and
within-chain (``diversity_within``). Paired differences (``first − second``) form a second
table; :func:`notes` are the definitions printed above the tables.

A learned baseline fitted once and drawn R times (``refit_replicates: false``) has an SD over
replicates without training variance (SPEC §4): its label gets :data:`ONE_FIT_MARK` and the
documents a note saying so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from . import tables

__all__ = ["build", "notes", "notes_of", "write"]

METRICS = ["novelty", "diversity", "diversity_within", "energy", "max_cosine"]
LEADING = ["dataset", "method"]
TEMPERATURES = ["beta", "snr", "energy_beta", "n_samples", "replicates"]
TRAILING = ["acceptance", "ess", "rhat", "train_loss"]
BETA_STAR = ["beta_star", "beta_criterion", "beta_star_inflection", "beta_star_knee"]
"""A ``beta_star`` column brings the criterion it used and both criteria's values."""

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
    """The experiment table and its paired-difference table (possibly empty).

    The table's ``attrs["notes"]`` holds the notes on the data (:func:`notes_of`).
    """
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
        for key in TRAILING + _extra_columns(params):
            line[key] = _value(record, key)
            if f"{key}_se" in record:
                line[f"{key}_se"] = _value(record, f"{key}_se")
            if key == "train_loss" and record["train_loss_sd_rep"] is not None:
                line["train_loss_sd_rep"] = record["train_loss_sd_rep"]  # SD over the refits
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
            line[key] = _value(record, f"{key}_diff")
            line[f"{key}_se"] = _value(record, f"{key}_diff_se")
        paired_rows.append(line)
    return table, pd.DataFrame(paired_rows)


def _extra_columns(params: dict) -> list[str]:
    columns: list[str] = []
    for key in params.get("columns", []):
        for column in BETA_STAR if key == "beta_star" else [key]:
            if column not in columns:
                columns.append(column)
    return columns


def notes(records: list[dict]) -> list[str]:
    """The definitions behind the table's cells that a reader comparing with the paper needs:
    pooled against within-chain D, the β* criterion, the protein decoding."""
    lines = [
        "D (diversity) is pooled over all samples of a replicate; D_within is the mean over "
        "the SE's groups (one chain's kept snapshots, or 5 consecutive baseline samples) of "
        "each group's D (SPEC §3)."
    ]
    criteria = sorted({str(r["beta_criterion"]) for r in records if r.get("beta_criterion")})
    if criteria:
        lines.append(
            f"β* criterion: {', '.join(criteria)} (inflection = steepest entropy loss, "
            "d²H/dβ² = 0, the paper's stated condition; knee = most negative second "
            "difference of mean H against log β, the reference code's); both values are shown."
        )
    decodings = sorted({str(r["decoding"]) for r in records if r.get("decoding")})
    if decodings:
        others = sorted({"reference", "scaled"} - set(decodings))
        lines.append(
            f"Protein sequence metrics: decoding {', '.join(decodings)} in the unsuffixed "
            "columns"
            + (f", the {others[0]} decoding in the columns suffixed _{others[0]}" if others
               else "")
            + " (scaled: the memory's scale restored before the inverse PCA; reference: "
            "argmax(mean + Wᵀξ) of the unit-norm state, as the reference code does). The "
            "bootstrap row (exact copies of stored patterns) is each decoding's floor."
        )
    return lines


def notes_of(params: dict, records: list[dict]) -> list[str]:
    """What the readers of the data decided (``notes`` of the metrics records), once each,
    prefixed by the dataset: a dropped ticker, a header line taken as column names."""
    notes: dict[str, None] = {}
    for row, record in zip(params["rows"], records, strict=True):
        for note in record.get("notes") or []:
            notes.setdefault(tables.one_line(f"{row['dataset']}: {note}"), None)
    return list(notes)


def write(
    params: dict,
    table: pd.DataFrame,
    paired: pd.DataFrame,
    outputs: dict[str, Path],
    notes: list[str] | None = None,
):
    """CSV (the main table, full precision), Markdown, LaTeX and HTML (both tables, after the
    ``notes`` paragraphs, then the notes on the data, if any)."""
    title = params.get("title") or params["experiment"]
    tables.write_table(table, outputs["csv"], None, title=title)
    sections: list[tuple[str, str | pd.DataFrame]] = [("", note) for note in notes or []]
    sections.append(("", table))
    if "method" in table and table["method"].astype(str).str.endswith(ONE_FIT_MARK).any():
        sections.append(("", ONE_FIT_NOTE))
    if not paired.empty:
        sections.append(("Paired differences (same start draws; SE of the difference)", paired))
    data_notes = table.attrs.get("notes") or []
    if data_notes:
        sections.append(("Notes on the data", "; ".join(data_notes) + "."))
    tables.write_document(
        title,
        sections,
        markdown_path=outputs["md"],
        latex_path=outputs["tex"],
        html_path=outputs["html"],
    )
