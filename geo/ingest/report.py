"""What a reader found in a file: the rows it kept, merged and rejected, adding up to the input."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RejectedRow:
    """One input row that was not imported.

    ``line`` is the 1-based physical line number in the file (the header is line 1), or the
    element's position for non-line formats (e.g. the n-th OSM element); ``field`` names the
    column that is wrong.
    """

    line: int
    field: str
    reason: str
    value: str = ""

    def describe(self) -> str:
        shown = f" ({self.value!r})" if self.value else ""
        return f"line {self.line}: {self.field}{shown}: {self.reason}"


@dataclass
class ReadReport:
    """Counts that add up: ``rows_read == rows_kept + rows_merged + len(rejected)``.

    ``rows_merged`` counts rows that exactly repeat an earlier row of the same file (merged into
    it, listed in ``merged`` as (line, line of the first occurrence)). ``warnings`` holds
    remarks that did not stop a row from being imported (e.g. an unparseable install date).
    """

    source: str
    rows_read: int = 0
    rows_kept: int = 0
    rows_merged: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)
    merged: list[tuple[int, int]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def adds_up(self) -> bool:
        return self.rows_read == self.rows_kept + self.rows_merged + len(self.rejected)

    def check(self) -> None:
        """Raise AssertionError-free ValueError if the counts do not add up (a reader bug)."""
        if not self.adds_up:
            raise ValueError(
                f"{self.source}: report does not add up: read {self.rows_read} != kept "
                f"{self.rows_kept} + merged {self.rows_merged} + rejected {len(self.rejected)}"
            )
