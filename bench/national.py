"""National-scale bench data made from the real Seoul rows (never committed, written on demand).

Korea publishes no single national CCTV file of 1.6 million cameras that we may ship, so the
benchmarks replicate the real Seoul CCTV standard data (21,121 rows, ~37,500 cameras) across the
country's extent: each copy keeps every row — placeholder coordinates, duplicates and all — and
shifts the valid coordinates by a whole offset, so the copy is a new set of sites with Seoul's
density, quirks and camera mix.
"""

from __future__ import annotations

import csv
import io
import math
import os
from pathlib import Path

SEOUL_FILE = "seoul_cctv_2018.csv"
SEOUL_CAMERAS = 37_467  # cameras in the Seoul file after its 684 rejected and 702 merged rows
# Where copies go: mainland Korea's box, lon/lat degrees; Seoul's own spread is ~0.35° × 0.25°.
KOREA_BOX = (126.2, 34.6, 129.3, 38.2)
SEOUL_CENTRE = (126.98, 37.55)


def data_dir() -> Path:
    default = Path(__file__).resolve().parents[2] / "shared" / "data"
    return Path(os.environ.get("GILMOK_DATA_DIR", default))


def copy_offsets(copies: int) -> list[tuple[float, float]]:
    """(dlon, dlat) for each copy on a grid over :data:`KOREA_BOX`; the first is Seoul itself."""
    cols = math.ceil(math.sqrt(copies * 1.2))
    rows = math.ceil(copies / cols)
    x0, y0, x1, y1 = KOREA_BOX
    offsets = [(0.0, 0.0)]
    for i in range(rows):
        for j in range(cols):
            lon = x0 + (x1 - x0) * (j + 0.5) / cols
            lat = y0 + (y1 - y0) * (i + 0.5) / rows
            offsets.append((lon - SEOUL_CENTRE[0], lat - SEOUL_CENTRE[1]))
    return offsets[:copies]


def make_national_cctv(out: Path, *, target_cameras: int = 1_600_000) -> Path:
    """Write a 13-column CP949 CCTV standard file with about ``target_cameras`` cameras.

    Reuses ``out`` when it already exists with the same size target (its name carries it).
    """
    if out.exists():
        return out
    source = data_dir() / SEOUL_FILE
    with open(source, encoding="cp949", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = list(reader)
    lat_i, lon_i = header.index("위도"), header.index("경도")
    copies = max(1, round(target_cameras / SEOUL_CAMERAS))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(header)
    for dlon, dlat in copy_offsets(copies):
        for row in rows:
            try:
                lat, lon = float(row[lat_i]), float(row[lon_i])
            except ValueError:
                writer.writerow(row)
                continue
            shifted = list(row)
            if 33 <= lat <= 39 and 124 <= lon <= 132:
                shifted[lat_i] = f"{lat + dlat:.6f}"
                shifted[lon_i] = f"{lon + dlon:.6f}"
            writer.writerow(shifted)
    tmp = out.with_suffix(".tmp")
    tmp.write_bytes(buf.getvalue().encode("cp949"))
    tmp.rename(out)
    return out
