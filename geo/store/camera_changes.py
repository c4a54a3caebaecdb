"""Camera changes after import, kept in ``camera_change``: status reports, corrections, added
and removed cameras, each logged with what it was and what it became, and audited.

The log's ids are the registry's change sequence. Every writer takes one transaction-level
lock before drawing ids (``camera_changes/lock_log``), so changes become visible in sequence
order and a reader that has seen change *n* has seen all before it; a trigger on the table
sends ``NOTIFY gilmok_camera_change`` at commit (migration 0008), which wakes every process's
listener (:mod:`api.snapshot`). A change that moves a camera's coverage (position, heading,
field of view, kind) redraws that camera's stored coverage only.

Only a camera's own centre changes it: ``owner_id`` restricts every write to that centre's
cameras (None: any camera, for the registry's operator on the command line).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy.engine import Connection

from geo import domain
from geo.admin_locate import locate_lonlat
from geo.coverage import DEFAULT_MAX_RANGE_M
from geo.errors import Conflict, InvalidInput
from geo.ingest.survey import Rejection, SurveyReport, SurveyRow
from geo.store import audit
from geo.store.imports import refresh_coverage
from geo.store.queries import query

#: The columns a correction may set (position as ``lon``/``lat``, degrees).
CORRECTABLE = ("status", "reason", "heading_deg", "fov_deg", "lon", "lat", "kind")
#: Corrections that move a camera's coverage, which is then redrawn.
_SHAPE = ("heading_deg", "fov_deg", "lon", "lat", "kind")
#: The largest vertical resolution a camera may have, pixels (a 16K sensor).
MAX_RESOLUTION_PX = 8640
#: Position changes smaller than this (degrees, about 1 mm) are no change.
_POSITION_EPS = 1e-8


@dataclass(frozen=True)
class ChangeResult:
    """What became of one camera of a request: ``changed`` (with its change ``seq``),
    ``unchanged``, ``not_found`` (no such camera of the caller's), or ``retired``."""

    camera_id: int
    outcome: str
    seq: int | None = None
    previous: dict[str, Any] = field(default_factory=dict)
    current: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"camera_id": self.camera_id, "outcome": self.outcome}
        if self.seq is not None:
            out["seq"] = self.seq
        if self.outcome == "changed":
            out["previous"], out["current"] = self.previous, self.current
        return out


def _lock_log(conn: Connection) -> None:
    # the audit chain's lock first, as every audited writer takes it: one order, no deadlock
    audit.lock_chain(conn)
    conn.execute(query("camera_changes/lock_log"))


def latest_seq(conn: Connection) -> int:
    """The registry's change sequence now (0: no change yet)."""
    return int(conn.execute(query("camera_changes/latest_seq")).scalar_one())


def _audit(
    conn: Connection,
    *,
    actor: str,
    organization_id: int | None,
    action: str,
    results: Sequence[ChangeResult],
    via: str,
    extra: Mapping[str, Any] | None = None,
) -> None:
    changed = [r for r in results if r.outcome == "changed"]
    if not changed:
        return
    one = len(changed) == 1
    audit.append(
        conn,
        actor=actor,
        organization_id=organization_id,
        action=action,
        subject_type="camera" if one else "camera_batch",
        subject_id=changed[0].camera_id if one else f"{len(changed)} cameras",
        details={
            "via": via,
            "changes": [
                {
                    "camera_id": r.camera_id,
                    "seq": r.seq,
                    "previous": r.previous,
                    "current": r.current,
                }
                for r in changed
            ],
            **(extra or {}),
        },
    )


def set_statuses(
    conn: Connection,
    items: Sequence[tuple[int, str, str]],
    *,
    owner_id: int | None,
    organization_id: int | None,
    actor: str,
    via: str = "vms",
) -> list[ChangeResult]:
    """Reported statuses ``(camera id, status, reason)``, one statement for the batch.

    Idempotent: a camera already in that status with that reason is ``unchanged`` (its
    since-time stays). A camera not the owner's, or retired, is ``not_found`` / ``retired``
    alike for the caller: ``not_found``. An id given twice is refused (InvalidInput).
    """
    ids = [int(i) for i, _, _ in items]
    seen: set[int] = set()
    twice = sorted({i for i in ids if i in seen or seen.add(i)})  # type: ignore[func-returns-value]
    if twice:
        raise InvalidInput(
            f"camera(s) {', '.join(map(str, twice[:10]))} appear more than once in the batch",
            details={"duplicate_camera_ids": twice},
        )
    for _, status, _ in items:
        if status not in domain.REPORTED_STATUSES:
            raise InvalidInput(f"status must be one of {', '.join(domain.REPORTED_STATUSES)}")
    _lock_log(conn)
    rows = conn.execute(
        query("camera_changes/set_statuses"),
        {
            "ids": ids,
            "statuses": [s for _, s, _ in items],
            "reasons": ["" if s == "online" else r for _, s, r in items],
            "owner": owner_id,
            "org": organization_id,
            "actor": actor,
            "via": via,
        },
    ).all()
    results = []
    for row, (_, status, reason) in zip(rows, items, strict=True):
        if not row.found:
            results.append(ChangeResult(int(row.id), "not_found"))
        elif row.seq is None:
            results.append(ChangeResult(int(row.id), "unchanged"))
        else:
            results.append(
                ChangeResult(
                    int(row.id),
                    "changed",
                    int(row.seq),
                    {"status": row.previous},
                    {"status": status, "reason": "" if status == "online" else reason},
                )
            )
    _audit(conn, actor=actor, organization_id=organization_id, action="camera.status_reported",
           results=results, via=via)  # fmt: skip
    return results


def _same(name: str, old: Any, new: Any) -> bool:
    if old is None or new is None:
        return old is None and new is None
    if name in ("lon", "lat"):
        return abs(float(old) - float(new)) < _POSITION_EPS
    if isinstance(old, float) or isinstance(new, float):
        return math.isclose(float(old), float(new), rel_tol=0.0, abs_tol=1e-9)
    return bool(old == new)


def check_correction(values: Mapping[str, Any]) -> None:
    """Refuse a correction's values outside the schema's rules (InvalidInput naming the field)."""
    unknown = set(values) - set(CORRECTABLE)
    if unknown:
        raise InvalidInput(f"cannot correct {', '.join(sorted(unknown))}")
    heading = values.get("heading_deg")
    if heading is not None and not 0.0 <= float(heading) < 360.0:
        raise InvalidInput("heading_deg must be at least 0 and less than 360 (degrees from north)",
                           details={"field": "heading_deg"})  # fmt: skip
    fov = values.get("fov_deg")
    if fov is not None and not 0.0 < float(fov) <= 360.0:
        raise InvalidInput("fov_deg must be more than 0 and at most 360 degrees",
                           details={"field": "fov_deg"})  # fmt: skip
    if "kind" in values and values["kind"] not in domain.CAMERA_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(domain.CAMERA_KINDS)}",
                           details={"field": "kind"})  # fmt: skip
    if "status" in values and values["status"] not in domain.REPORTED_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(domain.REPORTED_STATUSES)}",
                           details={"field": "status"})  # fmt: skip
    if ("lon" in values) != ("lat" in values):
        raise InvalidInput("a position needs both lon and lat", details={"field": "lon,lat"})


def correct_cameras(
    conn: Connection,
    edits: Sequence[tuple[int, Mapping[str, Any]]],
    *,
    owner_id: int | None,
    organization_id: int | None,
    actor: str,
    via: str,
    max_range_m: float = DEFAULT_MAX_RANGE_M,
    dry_run: bool = False,
    action: str = "camera.corrected",
    audit_extra: Mapping[str, Any] | None = None,
) -> list[ChangeResult]:
    """Apply corrections ``(camera id, {column: value})`` of :data:`CORRECTABLE` columns.

    A heading given is a surveyed one (``heading_source`` becomes ``surveyed``); a heading of
    None clears it (``unknown``). The status' since-time moves only when the status does.
    Coverage is redrawn for the cameras whose shape changed. ``dry_run`` computes the results
    and writes nothing.
    """
    for _, values in edits:
        check_correction(values)
    if not dry_run:
        _lock_log(conn)
    ids = sorted({int(i) for i, _ in edits})
    rows = {
        int(r.id): r
        for r in conn.execute(
            query("camera_changes/lock_camera"), {"ids": ids, "owner": owner_id}
        ).all()
    }
    results: list[ChangeResult] = []
    logged: list[tuple[ChangeResult, str]] = []
    reshaped: list[int] = []
    for cam, values in edits:
        row = rows.get(int(cam))
        if row is None:
            results.append(ChangeResult(int(cam), "not_found"))
            continue
        if row.status == "retired":
            results.append(ChangeResult(int(cam), "retired"))
            continue
        old = {
            "status": row.status, "reason": row.status_reason, "heading_deg": row.heading_deg,
            "fov_deg": row.fov_deg, "lon": row.lon, "lat": row.lat, "kind": row.kind,
        }  # fmt: skip
        new = dict(old)
        new.update(values)
        if "status" in values and "reason" not in values:
            new["reason"] = old["reason"] if values["status"] == old["status"] else ""
        if new["status"] == "online":
            new["reason"] = ""
        diff = [k for k in CORRECTABLE if not _same(k, old[k], new[k])]
        resurveyed = values.get("heading_deg") is not None and row.heading_source != "surveyed"
        if resurveyed and "heading_deg" not in diff:
            diff.append("heading_deg")  # the same heading, now surveyed
        if not diff:
            results.append(ChangeResult(int(cam), "unchanged"))
            continue
        heading_source = row.heading_source
        if "heading_deg" in values:
            heading_source = "unknown" if new["heading_deg"] is None else "surveyed"
        result = ChangeResult(
            int(cam), "changed", None,
            {k: old[k] for k in diff} | ({"heading_source": row.heading_source}
                                         if "heading_deg" in diff else {}),
            {k: new[k] for k in diff} | ({"heading_source": heading_source}
                                         if "heading_deg" in diff else {}),
        )  # fmt: skip
        results.append(result)
        if dry_run:
            continue
        conn.execute(
            query("camera_changes/correct"),
            {"id": int(cam), "kind": new["kind"], "heading_deg": new["heading_deg"],
             "heading_source": heading_source, "fov_deg": new["fov_deg"],
             "status": new["status"], "status_reason": new["reason"],
             "status_changed": new["status"] != old["status"],
             "lon": float(new["lon"]), "lat": float(new["lat"])},
        )  # fmt: skip
        if {"lon", "lat"} & set(diff):
            conn.execute(
                query("camera_changes/set_admin_areas"),
                {"id": int(cam), **locate_lonlat([new["lon"]], [new["lat"]]).row(0)},
            )
        logged.append((result, "status" if set(diff) <= {"status", "reason"} else "correction"))
        if set(diff) & set(_SHAPE):
            reshaped.append(int(cam))
    if dry_run or not logged:
        return results
    seqs = _log(conn, logged, organization_id=organization_id, actor=actor, via=via)
    by_id = dict(zip([r.camera_id for r, _ in logged], seqs, strict=True))
    results = [
        ChangeResult(r.camera_id, r.outcome, by_id[r.camera_id], r.previous, r.current)
        if r.outcome == "changed"
        else r
        for r in results
    ]
    if reshaped:
        refresh_coverage(conn, reshaped, max_range_m=max_range_m)
    _audit(conn, actor=actor, organization_id=organization_id, action=action, results=results,
           via=via, extra=audit_extra)  # fmt: skip
    return results


def _log(
    conn: Connection,
    logged: Iterable[tuple[ChangeResult, str]],
    *,
    organization_id: int | None,
    actor: str,
    via: str,
) -> list[int]:
    entries = list(logged)
    rows = conn.execute(
        query("camera_changes/log_changes"),
        {
            "camera_ids": [r.camera_id for r, _ in entries],
            "changes": [kind for _, kind in entries],
            "previous": [json.dumps(r.previous, default=str) for r, _ in entries],
            "current": [json.dumps(r.current, default=str) for r, _ in entries],
            "reasons": [str(r.current.get("reason", "")) for r, _ in entries],
            "org": organization_id,
            "actor": actor,
            "via": via,
        },
    ).all()
    return [int(r[0]) for r in rows]


def centre_source_key(owner_id: int, key: str) -> str:
    """The ``source_key`` of a camera a centre added under its own ``key`` (its VMS or asset
    number): unique per centre, so two centres may use the same numbers."""
    return f"{int(owner_id)}:{key}"


def add_camera(
    conn: Connection,
    *,
    owner_id: int,
    lon: float,
    lat: float,
    kind: str,
    source_key: str,
    heading_deg: float | None = None,
    fov_deg: float | None = None,
    resolution_px_h: int | None = None,
    purpose: str = "",
    organization_id: int | None,
    actor: str,
    via: str,
    max_range_m: float = DEFAULT_MAX_RANGE_M,
) -> ChangeResult:
    """A camera its centre added outside any import (source ``manual``), logged ``added``,
    with its coverage drawn and the 시군구 / 읍면동 it lies in.

    Raises
    ------
    Conflict
        a camera (retired or not) already has ``source_key``; nothing is written.
    InvalidInput
        a value outside the registry's rules, naming the field.
    """
    check_correction({"kind": kind, "heading_deg": heading_deg, "fov_deg": fov_deg,
                      "lon": lon, "lat": lat})  # fmt: skip
    if resolution_px_h is not None and not 1 <= int(resolution_px_h) <= MAX_RESOLUTION_PX:
        raise InvalidInput(f"resolution_px_h must be 1 to {MAX_RESOLUTION_PX} pixels",
                           details={"field": "resolution_px_h"})  # fmt: skip
    _lock_log(conn)
    held = conn.execute(query("camera_changes/by_source_key"), {"source_key": source_key}).first()
    if held is not None:
        retired = " (retired: a retired camera keeps its key)" if held.status == "retired" else ""
        raise Conflict(
            f"camera {held.id} already has this key{retired}",
            details={"field": "key", "camera_id": int(held.id)},
        )
    areas = locate_lonlat([lon], [lat]).row(0)
    cam = int(
        conn.execute(
            query("camera_changes/add_camera"),
            {"owner": owner_id, "lon": lon, "lat": lat, "kind": kind, "source_key": source_key,
             "heading_deg": heading_deg, "fov_deg": fov_deg, "resolution_px_h": resolution_px_h,
             "heading_source": "unknown" if heading_deg is None else "surveyed",
             "purpose": purpose, "provenance": json.dumps({"added_by": actor, "via": via}),
             **areas},
        ).scalar_one()
    )  # fmt: skip
    current = {"lon": lon, "lat": lat, "kind": kind, "heading_deg": heading_deg,
               "fov_deg": fov_deg, "resolution_px_h": resolution_px_h}  # fmt: skip
    result = ChangeResult(cam, "changed", None, {}, current)
    (seq,) = _log(conn, [(result, "added")], organization_id=organization_id, actor=actor, via=via)
    result = ChangeResult(cam, "changed", seq, {}, current)
    refresh_coverage(conn, [cam], max_range_m=max_range_m)
    _audit(conn, actor=actor, organization_id=organization_id, action="camera.added",
           results=[result], via=via)  # fmt: skip
    return result


def remove_camera(
    conn: Connection,
    camera_id: int,
    *,
    owner_id: int | None,
    organization_id: int | None,
    actor: str,
    via: str,
    reason: str = "",
) -> ChangeResult:
    """Retire a camera (it no longer exists; its row and history stay), logged ``removed``."""
    _lock_log(conn)
    rows = conn.execute(
        query("camera_changes/lock_camera"), {"ids": [camera_id], "owner": owner_id}
    ).all()
    if not rows:
        return ChangeResult(camera_id, "not_found")
    row = rows[0]
    if row.status == "retired":
        return ChangeResult(camera_id, "unchanged")
    conn.execute(
        query("camera_changes/correct"),
        {"id": camera_id, "kind": row.kind, "heading_deg": row.heading_deg,
         "heading_source": row.heading_source, "fov_deg": row.fov_deg, "status": "retired",
         "status_reason": reason, "status_changed": True, "lon": row.lon, "lat": row.lat},
    )  # fmt: skip
    result = ChangeResult(
        camera_id, "changed", None, {"status": row.status},
        {"status": "retired", "reason": reason},
    )  # fmt: skip
    (seq,) = _log(
        conn, [(result, "removed")], organization_id=organization_id, actor=actor, via=via
    )
    result = ChangeResult(camera_id, "changed", seq, result.previous, result.current)
    _audit(conn, actor=actor, organization_id=organization_id, action="camera.removed",
           results=[result], via=via)  # fmt: skip
    return result


def changed_since(conn: Connection, after: int) -> tuple[int, pd.DataFrame]:
    """(the change sequence now, the current rows of the cameras changed after ``after``),
    the rows as the snapshot's camera table holds them plus ``status_reason`` and
    ``status_since``."""
    upto = latest_seq(conn)
    if upto <= after:
        return upto, pd.DataFrame()
    result = conn.execute(query("camera_changes/changed_since"), {"after": after, "upto": upto})
    frame = pd.DataFrame(result.all(), columns=list(result.keys()))
    for column in ("x", "y", "heading_deg", "fov_deg", "pan_min_deg", "pan_max_deg",
                   "resolution_px_h"):  # fmt: skip
        frame[column] = pd.to_numeric(frame[column]).astype("float64")
    return upto, frame


def not_online(conn: Connection) -> list[tuple[int, str, str, Any]]:
    """(id, status, reason, since) of every camera offline or in maintenance."""
    return [tuple(r) for r in conn.execute(query("camera_changes/not_online")).all()]


def camera_history(conn: Connection, camera_id: int, *, limit: int = 100) -> list[dict[str, Any]]:
    """A camera's changes, newest first."""
    rows = conn.execute(
        query("camera_changes/history"), {"camera_id": camera_id, "limit": limit}
    ).all()
    return [dict(r._mapping) for r in rows]


def apply_survey(
    conn: Connection,
    rows: Sequence[SurveyRow],
    report: SurveyReport,
    *,
    owner_id: int | None,
    organization_id: int | None,
    actor: str,
    via: str,
    max_range_m: float = DEFAULT_MAX_RANGE_M,
    dry_run: bool = False,
) -> SurveyReport:
    """Apply a survey file's rows (from :func:`geo.ingest.survey.read_survey`), all or nothing.

    A row naming a camera that does not exist, is not the owner's or is retired is rejected
    (the same words for a missing camera and another centre's). Any rejected row rejects the
    file: nothing is written, and the report says what each row would have done.
    """
    edits = [(r.camera_id, r.values) for r in rows]
    trial = correct_cameras(
        conn, edits, owner_id=owner_id, organization_id=organization_id, actor=actor, via=via,
        max_range_m=max_range_m, dry_run=True,
    )  # fmt: skip
    for row, result in zip(rows, trial, strict=True):
        if result.outcome in ("not_found", "retired"):
            why = "no such camera of this centre" if result.outcome == "not_found" else "retired"
            report.rejections.append(Rejection(row.line, report.id_field, str(row.camera_id), why))
    report.rejections.sort(key=lambda r: r.line)
    report.rejected = len({r.line for r in report.rejections})
    rejected_lines = {r.line for r in report.rejections}
    kept = [t for row, t in zip(rows, trial, strict=True) if row.line not in rejected_lines]
    report.changed = sum(t.outcome == "changed" for t in kept)
    report.unchanged = sum(t.outcome == "unchanged" for t in kept)
    report.dry_run = dry_run
    if report.rejected or dry_run:
        return report
    correct_cameras(
        conn, edits, owner_id=owner_id, organization_id=organization_id, actor=actor, via=via,
        max_range_m=max_range_m, action="camera.survey_applied",
        audit_extra={"file_name": report.file_name, "rows_read": report.rows_read},
    )  # fmt: skip
    return report
