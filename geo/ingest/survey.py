"""A centre's survey of its cameras: surveyed headings and fields of view, one camera a row.

The file is CSV in UTF-8 (with or without a byte-order mark) or CP949, with a header naming
``camera_id`` (or 카메라ID) and at least one of ``heading_deg`` (방향각: degrees clockwise from
true north, 0 ≤ h < 360) and ``fov_deg`` (화각: the horizontal field of view, 0 < f ≤ 360).
An empty cell leaves that value as it is. :func:`read_survey` checks every row's values and
names each bad one by line and field; which cameras exist and are the centre's is the store's
check (:func:`geo.store.camera_changes.correct_cameras`).

A survey is all or nothing: one rejected row rejects the whole file and nothing changes, since
a survey is one team's measurements of one area and half of it applied would leave the registry
in a state nobody surveyed. The report adds up like the imports': rows read = changed +
unchanged + rejected.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from geo.errors import ImportFileError
from geo.ingest._csvfile import CsvTable, csv_table_from_bytes

WHAT = "a camera survey CSV (camera_id, heading_deg and/or fov_deg)"
#: Accepted header names of each column.
ALIASES = {
    "camera_id": ("camera_id", "카메라ID", "카메라id", "카메라번호"),
    "heading_deg": ("heading_deg", "방향각", "촬영방향"),
    "fov_deg": ("fov_deg", "화각"),
}


@dataclass(frozen=True)
class Rejection:
    """One bad row: its line (header = line 1), the field, the value and why."""

    line: int
    field: str
    value: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "field": self.field, "value": self.value,
                "reason": self.reason}  # fmt: skip

    def __str__(self) -> str:
        return f"line {self.line}: {self.field} ({self.value!r}): {self.reason}"


@dataclass(frozen=True)
class SurveyRow:
    """A row's camera and the values it sets (only the columns given a value)."""

    line: int
    camera_id: int
    values: dict[str, float]


@dataclass
class SurveyReport:
    """What a survey file did, or would do (``dry_run``), row by row."""

    file_name: str
    rows_read: int = 0
    changed: int = 0
    unchanged: int = 0
    rejected: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    dry_run: bool = False
    encoding: str = ""
    #: the header's name of the camera id column, for rejections found later (the store's)
    id_field: str = "camera_id"

    @property
    def adds_up(self) -> bool:
        return self.rows_read == self.changed + self.unchanged + self.rejected

    @property
    def applied(self) -> bool:
        """Whether the changes were written: no row rejected, and not a dry run."""
        return not self.rejected and not self.dry_run

    def as_dict(self) -> dict[str, Any]:
        return {
            "file_name": self.file_name, "rows_read": self.rows_read, "changed": self.changed,
            "unchanged": self.unchanged, "rejected": self.rejected, "adds_up": self.adds_up,
            "applied": self.applied, "dry_run": self.dry_run,
            "rejections": [r.as_dict() for r in self.rejections],
        }  # fmt: skip

    def summary(self) -> str:
        """One line, as the imports print theirs."""
        verdict = (
            "dry run: nothing changed" if self.dry_run and not self.rejected
            else "file rejected: nothing changed" if self.rejected
            else "applied"
        )  # fmt: skip
        return (
            f"{self.file_name}: {self.rows_read} rows read = {self.changed} changed + "
            f"{self.unchanged} unchanged + {self.rejected} rejected"
            f" ({'adds up' if self.adds_up else 'DOES NOT ADD UP'}); {verdict}"
        )


def _column(table: CsvTable, name: str) -> str | None:
    for alias in ALIASES[name]:
        if alias in table.columns:
            return alias
    return None


def _number(
    text: str, *, low: float, high: float, low_open: bool, high_open: bool
) -> tuple[float | None, str]:
    try:
        value = float(text)
    except ValueError:
        return None, "not a number"
    if not math.isfinite(value):
        return None, "not a finite number"
    if (value < low or (low_open and value == low)) or (
        value > high or (high_open and value == high)
    ):
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        return None, f"outside {lo}{low:g}, {high:g}{hi} degrees"
    return value, ""


def read_survey(data: bytes, name: str) -> tuple[list[SurveyRow], SurveyReport]:
    """The rows of a survey file (its bytes) that are well formed, and the report so far: rows
    read, and one rejection per bad field (a row is counted rejected once).

    Raises
    ------
    ImportFileError
        for a file that is not such a CSV at all (empty, binary, no ``camera_id`` column, or
        neither ``heading_deg`` nor ``fov_deg``).
    """
    table = csv_table_from_bytes(data, name, what=WHAT)
    id_col = _column(table, "camera_id")
    heading_col = _column(table, "heading_deg")
    fov_col = _column(table, "fov_deg")
    if id_col is None or (heading_col is None and fov_col is None):
        raise ImportFileError(
            f"{name}: the header ({', '.join(table.header)}) needs camera_id and heading_deg"
            " and/or fov_deg",
            details={"header": table.header},
        )
    report = SurveyReport(name, encoding=table.encoding, id_field=id_col)
    report.rows_read = len(table) + len(table.bad_rows)
    for line, got in table.bad_rows:
        report.rejections.append(
            Rejection(line, "row", f"{got} fields", f"{len(table.header)} fields expected")
        )
    rows: list[SurveyRow] = []
    seen: dict[int, int] = {}
    for i, line in enumerate(table.lines):
        bad: list[Rejection] = []
        raw_id = table.columns[id_col][i]
        cam = int(raw_id) if raw_id.isdigit() and 0 < int(raw_id) < 2**63 else None
        if cam is None:
            bad.append(Rejection(line, id_col, raw_id, "not a camera id (a positive integer)"))
        elif cam in seen:
            bad.append(
                Rejection(line, id_col, raw_id, f"camera already surveyed on line {seen[cam]}")
            )
        else:
            seen[cam] = line
        values: dict[str, float] = {}
        checks = [(heading_col, "heading_deg", 0.0, 360.0, False, True),
                  (fov_col, "fov_deg", 0.0, 360.0, True, False)]  # fmt: skip
        for col, key, low, high, low_open, high_open in checks:
            if col is None or not table.columns[col][i]:
                continue
            text = table.columns[col][i]
            value, why = _number(text, low=low, high=high, low_open=low_open, high_open=high_open)
            if value is None:
                bad.append(Rejection(line, col, text, why))
            else:
                values[key] = value
        if not bad and not values:
            bad.append(Rejection(line, heading_col or fov_col or "", "", "no value to set"))
        if bad:
            report.rejections.extend(bad)
        elif cam is not None:
            rows.append(SurveyRow(line, cam, values))
    report.rejected = len({r.line for r in report.rejections})
    return rows, report
