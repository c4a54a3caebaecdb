"""Reading a Korean public-data CSV file into trimmed string columns with physical line numbers.

The national standard data sets (data.go.kr) come in CP949 or in UTF-8 with or without a byte-order
mark, sometimes with quoted header names and stray whitespace. This module decodes them, refuses
files that are not CSV text with a message naming what they look like, and keeps each row's
1-based physical line number (header = line 1; a quoted field holding a newline spans lines).
"""

from __future__ import annotations

import contextlib
import csv
import gc
import hashlib
import io
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from geo.errors import ImportFileError

# Decoding attempts, in order; a UTF-8 file without a BOM decodes as UTF-8 first.
_ENCODINGS = ("utf-8", "cp949")
_DIGEST_CHARS = 20


@dataclass
class CsvTable:
    """A decoded CSV file: trimmed header names and trimmed string columns.

    Attributes
    ----------
    header
        Column names, trimmed of whitespace, quotes and a byte-order mark.
    columns
        One list of trimmed strings per header name, all of length ``len(lines)``.
    lines
        1-based physical line on which each data row starts.
    bad_rows
        (line, number of fields) of rows whose field count differs from the header's; they are
        not in ``columns``.
    encoding
        The encoding the file was decoded with (``utf-8-sig``, ``utf-8``, ``cp949``...).
    warnings
        Remarks about the file as a whole.
    """

    header: list[str]
    columns: dict[str, list[str]]
    lines: list[int]
    bad_rows: list[tuple[int, int]] = field(default_factory=list)
    encoding: str = ""
    warnings: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.lines)


def sniff_kind(head: bytes) -> str | None:
    """Name the kind of a file that is clearly not CSV text, from its first bytes, else None.

    Examples
    --------
    >>> sniff_kind(b'<?xml version="1.0"?><osm version="0.6">')
    'an OpenStreetMap XML file'
    >>> sniff_kind(b"PK\\x03\\x04") is not None
    True
    >>> sniff_kind("관리기관명,위도".encode()) is None
    True
    """
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    magic = {
        b"PK\x03\x04": "a ZIP archive (an .xlsx workbook?)",
        b"\xd0\xcf\x11\xe0": "an old Excel/OLE document (.xls?)",
        b"%PDF": "a PDF document",
        b"\x1f\x8b": "a gzip-compressed file",
        b"SQLite format 3": "an SQLite database (a GeoPackage?)",
        b"\x0a\x09OSMHeader": "an OpenStreetMap PBF file",
    }
    for prefix, name in magic.items():
        if head.startswith(prefix):
            return name
    if b"OSMHeader" in head[:64]:
        return "an OpenStreetMap PBF file"
    if stripped.startswith(b"<"):
        lowered = stripped[:4096].lower()
        if b"<osm" in lowered:
            return "an OpenStreetMap XML file"
        if b"<graphml" in lowered:
            return "a GraphML file"
        return "an XML/HTML file"
    if stripped.startswith((b"{", b"[")):
        return "a JSON file"
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "a binary file"
    return None


def decode(data: bytes, path: str) -> tuple[str, str]:
    """Decode the bytes of a text file as UTF-8 (with or without BOM), UTF-16 (BOM) or CP949.

    Returns
    -------
    (text, encoding)

    Raises
    ------
    ImportFileError
        when no encoding decodes the whole file.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        candidates: tuple[str, ...] = ("utf-8-sig",)
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        candidates = ("utf-16",)
    else:
        candidates = _ENCODINGS
    errors = []
    for encoding in candidates:
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError as exc:
            errors.append(f"{encoding}: byte {exc.start}")
    raise ImportFileError(
        f"{path}: not a text file in UTF-8 or CP949 ({'; '.join(errors)} cannot be decoded)",
        details={"path": path},
    )


def clean_name(name: str) -> str:
    """A header name without surrounding whitespace, quotes or byte-order mark."""
    return name.strip().lstrip("\ufeff").strip().strip("\"'").strip()


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building millions of small objects.

    Strings and lists cannot form cycles, but every allocation counts towards a collection that
    scans all of them: on a national file that is most of the parsing time.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _parse_rows(text: str, name: str) -> tuple[list[list[str]], list[int]]:
    """All CSV rows (blank lines as empty rows) and the physical line each starts on.

    The csv module parses in C; only when a quoted field holds a line break (more physical lines
    than rows) are the rows re-read one by one to follow ``line_num``.
    """
    with gc_paused():
        try:
            rows = list(csv.reader(io.StringIO(text, newline="")))
        except csv.Error as exc:
            raise ImportFileError(f"{name}: the CSV is malformed ({exc})") from exc
        physical = text.count("\n") + (0 if text.endswith("\n") else 1)
        if len(rows) == physical:
            return rows, list(range(1, len(rows) + 1))
        reader = csv.reader(io.StringIO(text, newline=""))
        rows, starts, previous = [], [], 0
        for row in reader:
            rows.append(row)
            starts.append(previous + 1)
            previous = reader.line_num
        return rows, starts


def read_csv_table(path: str | os.PathLike[str], *, what: str) -> CsvTable:
    """Read a CSV file into trimmed string columns.

    Parameters
    ----------
    path
        The file.
    what
        What the caller expects, for messages (e.g. "a CCTV standard data CSV").

    Raises
    ------
    ImportFileError
        for a missing, empty, binary or undecodable file, a file of another kind (XML, JSON,
        ZIP...), a duplicated header name, or a truncated file (the last row has fewer fields
        than the header). A cut inside the last field of the last row cannot be seen and is
        only reported as a warning when the file does not end with a newline.
    """
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ImportFileError(f"{name}: cannot be read ({exc.strerror})") from exc
    return csv_table_from_bytes(data, name, what=what)


def csv_table_from_bytes(data: bytes, name: str, *, what: str) -> CsvTable:
    """:func:`read_csv_table` of a file's bytes (an upload), named ``name`` in messages."""
    if not data.strip():
        raise ImportFileError(f"{name}: the file is empty; expected {what}")
    kind = sniff_kind(data[:8192])
    if kind is not None:
        raise ImportFileError(f"{name}: looks like {kind}, not {what}")
    text, encoding = decode(data, name)
    if text.count('"') % 2:
        raise ImportFileError(
            f"{name}: the file ends inside a quoted field (unbalanced quotes): "
            "it is truncated or malformed"
        )
    warnings = []
    if not text.endswith(("\n", "\r")):
        warnings.append("the file does not end with a newline: its last row may be cut short")

    rows, starts = _parse_rows(text, name)
    if not rows:
        raise ImportFileError(f"{name}: no header row; expected {what}")
    header = [clean_name(h) for h in rows[0]]
    doubled = sorted({h for h in header if header.count(h) > 1})
    if doubled:
        raise ImportFileError(f"{name}: header names {doubled} appear twice; expected {what}")

    n_fields = len(header)
    if all(len(row) == n_fields for row in rows):
        good, lines, bad = rows[1:], starts[1:], list[tuple[int, int]]()
    else:
        good, lines, bad = [], [], []
        for row, start in zip(rows[1:], starts[1:], strict=True):
            if len(row) == n_fields:
                good.append(row)
                lines.append(start)
            elif any(f.strip() for f in row):
                bad.append((start, len(row)))
    if bad and bad[-1][0] > (lines[-1] if lines else 1) and bad[-1][1] < n_fields:
        line, got = bad[-1]
        raise ImportFileError(
            f"{name}: the file is truncated: its last row (line {line}) has {got} of "
            f"{n_fields} fields",
            details={"line": line, "fields": got, "expected": n_fields},
        )
    with gc_paused():
        fields = list(zip(*good, strict=True)) if good else [()] * n_fields
        columns = {h: list(map(str.strip, fields[i])) for i, h in enumerate(header)}
    return CsvTable(header, columns, lines, bad, encoding, warnings)


def resolve_columns(
    header: list[str],
    required: dict[str, tuple[str, ...]],
    optional: dict[str, tuple[str, ...]],
    *,
    path: str,
    what: str,
    other_files: dict[str, str],
) -> dict[str, str]:
    """Map our column names to the file's, or raise naming the missing columns.

    Header names are compared without any whitespace, so " 위 도 " finds 위도.

    Raises
    ------
    ImportFileError
        naming the file it looks like, or the missing columns.
    """
    by_compact = {re.sub(r"\s+", "", h): h for h in header}
    for marker, description in other_files.items():
        if marker in by_compact:
            raise ImportFileError(f"{path}: this is {description}, not {what}")
    found: dict[str, str] = {}
    missing: list[str] = []
    for ours, names in (required | optional).items():
        name = next((by_compact[n] for n in names if n in by_compact), None)
        if name is not None:
            found[ours] = name
        elif ours in required:
            missing.append("/".join(names))
    if missing:
        shown = ", ".join(header[:6]) + (", ..." if len(header) > 6 else "")
        lead = (
            "the header is not"
            if len(missing) == len(required)
            else f"the header lacks {len(missing)} column(s) of"
        )
        raise ImportFileError(
            f"{path}: {lead} {what}: missing {', '.join(missing)} (the header has {shown})",
            details={"missing": missing, "header": header},
        )
    return found


def row_digests(columns: dict[str, list[str]], names: list[str]) -> list[str]:
    """A stable digest of each row's trimmed fields (sha1 hex, first 20 characters).

    Identical rows get the same digest; the digest does not depend on pandas or Python versions.
    """
    sha1 = hashlib.sha1
    return [
        sha1("\x1f".join(values).encode("utf-8")).hexdigest()[:_DIGEST_CHARS]
        for values in zip(*(columns[n] for n in names), strict=True)
    ]
