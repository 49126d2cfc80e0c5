"""Compare two results folders and print every difference; exit 1 when any is found.

Use it to show that a change leaves the science alone: run the same config before and after
(two checkouts, or one results folder copied aside), then

    python scripts/compare_results.py BEFORE AFTER
        [--include GLOB ...] [--exclude GLOB ...] [--time-pattern REGEX] [--max-shown N]

e.g. ``python scripts/compare_results.py /tmp/before/results/smoke results/smoke``.

What is compared (files are matched by their path relative to each folder; globs are
``fnmatch`` patterns in which ``*`` also crosses ``/``):

* every file matching an ``--include`` glob (default: ``*.csv *.md *.tex *.html *.npz
  *.json *.fasta``) and no ``--exclude`` glob (always excluded: ``*.provenance.json``,
  ``logs/*``, ``benchmarks/*``, ``report.html``: run records that differ by design);
  a file present on one side only is a difference;
* CSV cell by cell (as written: full precision), Markdown, LaTeX and HTML tables cell by
  cell under their header's label, and their text outside tables line by line;
* ``.npz`` array by array (names, dtype, shape, every value bit for bit; NaN equals NaN);
  a string array holding JSON (the samples' metadata) and ``.json`` files key by key;
* anything else byte for byte.

Wall times differ between any two runs, so a cell whose column (CSV name or table header)
or a JSON key whose name matches ``--time-pattern`` (default ``seconds|time \\(s\\)``,
case-insensitive: E13's ``seconds`` column, "wall time (s)", ``sampling_seconds``) is
reported separately as an expected difference and does not fail the comparison.

Two things differ between runs in different checkouts or at different times and are
reported as differences (exclude them when that is all they show): the config path in
``summary.md``, and the DATE and COM (command line) lines of the profile HMM that the
protein memory stores (``memory/protein/*.npz[extra_hmm]``).

Exit status: 0 when the folders agree (up to expected differences), 1 otherwise, 2 for a
usage error (a folder that does not exist).
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import io
import json
import math
import re
import sys
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import numpy as np

DEFAULT_INCLUDE = ("*.csv", "*.md", "*.tex", "*.html", "*.npz", "*.json", "*.fasta")
ALWAYS_EXCLUDE = ("*.provenance.json", "logs/*", "benchmarks/*", "report.html")
DEFAULT_TIME_PATTERN = r"seconds|time \(s\)"
LATEX_RULES = ("\\toprule", "\\midrule", "\\bottomrule", "\\hline", "\\cmidrule")


@dataclass
class Report:
    """Differences found so far: unexpected ones fail, expected ones (wall times) do not."""

    time_pattern: re.Pattern
    differences: list[str] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)

    def is_time(self, name: str) -> bool:
        return bool(self.time_pattern.search(name))

    def cell(self, where: str, column: str, old: str, new: str) -> None:
        line = f"{where} column {column!r}: {old!r} -> {new!r}{_numeric_gap(old, new)}"
        (self.expected if self.is_time(column) else self.differences).append(line)


def _numeric_gap(old: str, new: str) -> str:
    try:
        a, b = float(old), float(new)
    except ValueError:
        return ""
    if not (math.isfinite(a) and math.isfinite(b)):
        return ""
    gap = abs(b - a)
    relative = gap / max(abs(a), abs(b)) if max(abs(a), abs(b)) > 0 else 0.0
    return f" (abs {gap:.3g}, rel {relative:.3g})"


# ----------------------------------------------------------------------------- selection


def select(folder: Path, include: list[str], exclude: list[str]) -> set[str]:
    """Relative POSIX paths of the files below ``folder`` that the globs select."""
    chosen = set()
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        name = path.relative_to(folder).as_posix()
        if any(fnmatch.fnmatchcase(name, glob) for glob in include) and not any(
            fnmatch.fnmatchcase(name, glob) for glob in exclude
        ):
            chosen.add(name)
    return chosen


# -------------------------------------------------------------------------------- tables


def compare_csv(name: str, old: str, new: str, report: Report) -> None:
    """Cell by cell under the header's names (the first row)."""
    before, after = list(csv.reader(io.StringIO(old))), list(csv.reader(io.StringIO(new)))
    if not before or not after or before[0] != after[0]:
        report.differences.append(
            f"{name}: header {before[0] if before else []} -> {after[0] if after else []}"
        )
        return
    _compare_rows(name, before[0], before[1:], after[1:], report)


def _compare_rows(name, header, before, after, report: Report) -> None:
    if len(before) != len(after):
        report.differences.append(f"{name}: {len(before)} rows -> {len(after)} rows")
    for index, (old_row, new_row) in enumerate(zip(before, after, strict=False), start=1):
        if old_row == new_row:
            continue
        if len(old_row) != len(new_row):
            report.differences.append(f"{name} row {index}: {old_row} -> {new_row}")
            continue
        label = ", ".join(cell for cell in old_row[:2])
        for column, old_cell, new_cell in zip(header, old_row, new_row, strict=True):
            if old_cell != new_cell:
                report.cell(f"{name} row {index} ({label})", column, old_cell, new_cell)


def _text_blocks(lines: list[str], is_row, split, is_rule) -> list[tuple]:
    """Lines as ``("line", text)`` and ``("table", header, rows)`` items."""
    items: list[tuple] = []
    table: list[list[str]] | None = None
    for line in lines:
        if table is not None and is_rule(line):
            continue  # a rule inside a table (Markdown alignment row, LaTeX \midrule)
        if is_row(line):
            cells = split(line)
            if table is None:
                table = [cells]
                items.append(("table", table))
            else:
                table.append(cells)
        else:
            table = None
            items.append(("line", line))
    return [
        ("table", block[1][0], block[1][1:]) if block[0] == "table" else block for block in items
    ]


def _markdown_items(text: str) -> list[tuple]:
    return _text_blocks(
        text.splitlines(),
        is_row=lambda line: line.lstrip().startswith("|"),
        split=lambda line: [cell.strip() for cell in line.strip().strip("|").split("|")],
        is_rule=lambda line: "-" in line and set(line.strip()) <= set("|:- "),
    )


def _latex_items(text: str) -> list[tuple]:
    return _text_blocks(
        text.splitlines(),
        is_row=lambda line: line.rstrip().endswith("\\\\") and "&" in line,
        split=lambda line: [cell.strip() for cell in line.rstrip()[:-2].split("&")],
        is_rule=lambda line: line.strip().startswith(LATEX_RULES),
    )


class _HtmlTables(HTMLParser):
    """Tables as lists of rows of cell texts; every other text as lines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.items: list[tuple] = []
        self.rows: list[list[str]] | None = None
        self.cell: list[str] | None = None
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._flush_text()
            self.rows = []
        elif tag == "tr" and self.rows is not None:
            self.rows.append([])
        elif tag in ("td", "th") and self.rows is not None:
            self.cell = []
        elif self.rows is None:
            self.text.append(f"<{tag}{''.join(f' {k}={v!r}' for k, v in attrs)}>")

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None and self.rows:
            self.rows[-1].append(" ".join("".join(self.cell).split()))
            self.cell = None
        elif tag == "table" and self.rows is not None:
            rows = [row for row in self.rows if row]
            self.items.append(("table", rows[0] if rows else [], rows[1:]))
            self.rows = None
        elif self.rows is None:
            self.text.append(f"</{tag}>")

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)
        elif self.rows is None:
            self.text.append(data)

    def _flush_text(self):
        for line in "".join(self.text).splitlines():
            self.items.append(("line", line))
        self.text = []

    def close(self):
        super().close()
        self._flush_text()


def _html_items(text: str) -> list[tuple]:
    parser = _HtmlTables()
    parser.feed(text)
    parser.close()
    return parser.items


def compare_text_tables(name: str, old: str, new: str, report: Report, items) -> None:
    """Tables cell by cell under their header labels, other lines exactly."""
    before, after = items(old), items(new)
    if [item[0] for item in before] != [item[0] for item in after]:
        report.differences.append(f"{name}: the layout of lines and tables differs")
        return
    for number, (old_item, new_item) in enumerate(zip(before, after, strict=True), start=1):
        if old_item == new_item:
            continue
        if old_item[0] == "line":
            report.differences.append(f"{name} item {number}: {old_item[1]!r} -> {new_item[1]!r}")
        elif old_item[1] != new_item[1]:
            report.differences.append(f"{name}: table header {old_item[1]} -> {new_item[1]}")
        else:
            _compare_rows(f"{name} table {number}", old_item[1], old_item[2], new_item[2], report)


# ----------------------------------------------------------------------- arrays and JSON


def compare_json_values(where: str, old, new, report: Report, key: str = "") -> None:
    """Recursive comparison; a differing value under a time-named key is expected."""
    if isinstance(old, dict) and isinstance(new, dict):
        for missing in sorted(set(old) ^ set(new)):
            side = "before" if missing in old else "after"
            report.differences.append(f"{where}: key {missing!r} only {side}")
        for name in sorted(set(old) & set(new)):
            compare_json_values(f"{where}.{name}", old[name], new[name], report, name)
        return
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            compare_json_values(f"{where}[{index}]", a, b, report, key)
        return
    same = old == new or (
        isinstance(old, float) and isinstance(new, float) and math.isnan(old) and math.isnan(new)
    )
    if not same:
        line = f"{where}: {old!r} -> {new!r}{_numeric_gap(str(old), str(new))}"
        (report.expected if key and report.is_time(key) else report.differences).append(line)


def compare_npz(name: str, old_path: Path, new_path: Path, report: Report) -> None:
    with np.load(old_path, allow_pickle=False) as before, np.load(new_path) as after:
        for missing in sorted(set(before.files) ^ set(after.files)):
            side = "before" if missing in before.files else "after"
            report.differences.append(f"{name}: array {missing!r} only {side}")
        for key in sorted(set(before.files) & set(after.files)):
            a, b = before[key], after[key]
            where = f"{name}[{key}]"
            if a.dtype.kind == "U" and b.dtype.kind == "U" and a.shape == b.shape == ():
                try:
                    compare_json_values(where, json.loads(str(a)), json.loads(str(b)), report)
                    continue
                except json.JSONDecodeError:
                    pass
            if a.dtype != b.dtype or a.shape != b.shape:
                report.differences.append(
                    f"{where}: {a.dtype}{list(a.shape)} -> {b.dtype}{list(b.shape)}"
                )
            elif not np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"):
                report.differences.append(f"{where}: {_array_gap(a, b)}")


def _array_gap(a: np.ndarray, b: np.ndarray) -> str:
    if a.dtype.kind not in "fciub":
        return f"{int(np.sum(a != b))} of {a.size} values differ"
    gap = np.abs(a.astype(np.float64) - b.astype(np.float64))
    equal = a == b
    if a.dtype.kind in "fc":
        equal |= np.isnan(a) & np.isnan(b)
    differing = ~equal
    return (
        f"{int(np.sum(differing))} of {a.size} values differ, largest |difference| "
        f"{np.nanmax(gap):.3g}"
    )


# ---------------------------------------------------------------------------------- main


def compare_file(name: str, old_path: Path, new_path: Path, report: Report) -> None:
    suffix = old_path.suffix.lower()
    if suffix == ".npz":
        compare_npz(name, old_path, new_path, report)
        return
    old_bytes, new_bytes = old_path.read_bytes(), new_path.read_bytes()
    if old_bytes == new_bytes:
        return
    if suffix not in (".csv", ".md", ".tex", ".html", ".json"):
        sizes = f"{len(old_bytes)} -> {len(new_bytes)} bytes"
        report.differences.append(f"{name}: contents differ ({sizes})")
        return
    old, new = old_bytes.decode("utf-8"), new_bytes.decode("utf-8")
    if suffix == ".csv":
        compare_csv(name, old, new, report)
    elif suffix == ".json":
        compare_json_values(name, json.loads(old), json.loads(new), report)
    else:
        items = {".md": _markdown_items, ".tex": _latex_items, ".html": _html_items}[suffix]
        compare_text_tables(name, old, new, report, items)


def compare_folders(
    before: Path,
    after: Path,
    include: list[str] | None = None,
    exclude: list[str] | None = None,
    time_pattern: str = DEFAULT_TIME_PATTERN,
) -> tuple[Report, int]:
    """Compare the selected files of two folders: the report and the number of files."""
    include = list(include or DEFAULT_INCLUDE)
    exclude = [*ALWAYS_EXCLUDE, *(exclude or [])]
    report = Report(re.compile(time_pattern, re.IGNORECASE))
    old_files, new_files = select(before, include, exclude), select(after, include, exclude)
    for name in sorted(old_files - new_files):
        report.differences.append(f"{name}: only in {before}")
    for name in sorted(new_files - old_files):
        report.differences.append(f"{name}: only in {after}")
    common = sorted(old_files & new_files)
    for name in common:
        compare_file(name, before / name, after / name, report)
    return report, len(common)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--include", action="append", help="glob of files to compare")
    parser.add_argument("--exclude", action="append", help="glob of files to skip")
    parser.add_argument("--time-pattern", default=DEFAULT_TIME_PATTERN)
    parser.add_argument("--max-shown", type=int, default=None, help="lines shown per section")
    arguments = parser.parse_args(argv)
    for folder in (arguments.before, arguments.after):
        if not folder.is_dir():
            print(f"compare_results: {folder} is not a folder", file=sys.stderr)
            return 2
    report, n_files = compare_folders(
        arguments.before,
        arguments.after,
        arguments.include,
        arguments.exclude,
        arguments.time_pattern,
    )
    for title, lines in (
        ("differences", report.differences),
        ("expected differences (wall times)", report.expected),
    ):
        if lines:
            print(f"{title}: {len(lines)}")
            for line in lines[: arguments.max_shown]:
                print(f"  {line}")
            if arguments.max_shown is not None and len(lines) > arguments.max_shown:
                print(f"  … {len(lines) - arguments.max_shown} more")
    verdict = "identical" if not report.differences else "DIFFERENT"
    print(
        f"{n_files} files compared in both folders: {verdict} "
        f"({len(report.differences)} differences, {len(report.expected)} expected)"
    )
    return 1 if report.differences else 0


if __name__ == "__main__":
    sys.exit(main())
