"""Reading a Korean public-data CSV file into trimmed string columns with physical line numbers.

The national standard data sets (data.go.kr) come in CP949 or in UTF-8 with or without a byte-order
mark, sometimes with quoted header names and stray whitespace. This module decodes them, refuses
files that are not CSV text with a message naming what they look like, and keeps each row's
1-based physical line number (header = line 1; a quoted field holding a newline spans lines).
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
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

    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header_row = next(reader)
    except (StopIteration, csv.Error) as exc:
        raise ImportFileError(f"{name}: no header row; expected {what}") from exc
    header = [clean_name(h) for h in header_row]
    doubled = sorted({h for h in header if header.count(h) > 1})
    if doubled:
        raise ImportFileError(f"{name}: header names {doubled} appear twice; expected {what}")

    n_fields = len(header)
    rows: list[list[str]] = []
    lines: list[int] = []
    bad: list[tuple[int, int]] = []
    previous = reader.line_num
    try:
        for row in reader:
            start = previous + 1
            previous = reader.line_num
            if len(row) == n_fields:
                rows.append(row)
                lines.append(start)
            elif row and any(f.strip() for f in row):
                bad.append((start, len(row)))
    except csv.Error as exc:
        raise ImportFileError(
            f"{name}: the CSV is malformed after line {previous} ({exc}); is the file truncated?"
        ) from exc
    if bad and bad[-1][0] > (lines[-1] if lines else 1) and bad[-1][1] < n_fields:
        line, got = bad[-1]
        raise ImportFileError(
            f"{name}: the file is truncated: its last row (line {line}) has {got} of "
            f"{n_fields} fields",
            details={"line": line, "fields": got, "expected": n_fields},
        )
    columns = {h: [r[i].strip() for r in rows] for i, h in enumerate(header)}
    return CsvTable(header, columns, lines, bad, encoding, warnings)


def row_digests(columns: dict[str, list[str]], names: list[str]) -> list[str]:
    """A stable digest of each row's trimmed fields (sha1 hex, first 20 characters).

    Identical rows get the same digest; the digest does not depend on pandas or Python versions.
    """
    joined = ["\x1f".join(values) for values in zip(*(columns[n] for n in names), strict=True)]
    return [hashlib.sha1(s.encode("utf-8")).hexdigest()[:_DIGEST_CHARS] for s in joined]
