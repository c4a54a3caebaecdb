"""The audit trail: append-only, hash-chained records of every request, decision and credential.

Each record's ``record_hash`` is SHA-256 over the previous record's hash followed by the
record's canonical JSON (sorted keys, no spaces, UTF-8), so altering or removing a record
breaks the chain at that point. Appends are serialised by a transaction-level advisory lock
and take ids ``previous + 1`` themselves (not from the sequence, whose rolled-back values would
leave gaps): under the lock there is one chain, and a gap in the ids means a removed record.

What the chain cannot show on its own is the removal of the newest records, nor a rewrite by
whoever owns the table: they can alter a record and re-hash every record after it, and the
chain verifies again. An *anchor* closes both: :func:`sign_anchor` signs the head's id and hash
with a key the database never sees (HMAC-SHA256), the operator keeps that line elsewhere (a
ticket, a second system), and :func:`check_anchor` later finds that record with that hash in a
chain that verifies.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from geo.errors import InvalidInput
from geo.store import models
from geo.store.queries import bigint, query

#: ``prev_hash`` of the first record.
GENESIS_HASH = "0" * 64
#: Key of the advisory lock serialising appends ("gilmok:audit" as a 64-bit integer).
_LOCK_KEY = int.from_bytes(hashlib.sha256(b"gilmok:audit").digest()[:8], "big", signed=True)
_RECORD = models.AuditRecord.__table__
#: A record's columns, in the order the .sql statements read them.
_COLUMNS = tuple(
    _RECORD.c[name]
    for name in (
        "id", "at", "actor", "organization_id", "action", "subject_type", "subject_id",
        "legal_basis", "details", "prev_hash", "record_hash",
    )
)  # fmt: skip


@dataclass(frozen=True)
class AuditRecord:
    """One record of the trail, as stored."""

    id: int
    at: dt.datetime
    actor: str
    organization_id: int | None
    action: str
    subject_type: str
    subject_id: str
    legal_basis: str | None
    details: dict[str, Any]
    prev_hash: str
    record_hash: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ChainCheck:
    """What :func:`verify` found: ``ok``, or the first bad record and why."""

    ok: bool
    records: int
    head_id: int | None
    head_hash: str | None
    first_bad_id: int | None = None
    problem: str | None = None


def canonical_json(value: Any) -> str:
    """The one JSON text of ``value`` that is hashed: sorted keys, no spaces, UTF-8, no NaN.

    Examples
    --------
    >>> canonical_json({"b": 1, "a": ["가", None]})
    '{"a":["가",null],"b":1}'
    """
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def _iso(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat(timespec="microseconds")


def compute_hash(
    prev_hash: str,
    *,
    id: int,
    at: dt.datetime,
    actor: str,
    organization_id: int | None,
    action: str,
    subject_type: str,
    subject_id: str,
    legal_basis: str | None,
    details: Mapping[str, Any],
) -> str:
    """``sha256(prev_hash || canonical JSON of the record)`` as 64 hex digits."""
    body = canonical_json(
        {
            "id": id,
            "at": _iso(at),
            "actor": actor,
            "organization_id": organization_id,
            "action": action,
            "subject_type": subject_type,
            "subject_id": subject_id,
            "legal_basis": legal_basis,
            "details": details,
        }
    )
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def _recompute(row: Any) -> str:
    return compute_hash(
        row.prev_hash,
        id=row.id,
        at=row.at,
        actor=row.actor,
        organization_id=row.organization_id,
        action=row.action,
        subject_type=row.subject_type,
        subject_id=row.subject_id,
        legal_basis=row.legal_basis,
        details=row.details,
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return _iso(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"audit details must be JSON values, not {type(value).__name__}")


def lock_chain(conn: Connection) -> None:
    """Hold the audit chain's lock until the transaction ends (re-entrant within it).

    A transaction that will audit *and* lock rows takes this first: appends take it too and
    keep it until commit, so taking it after a row lock can deadlock against a transaction
    that audited before reaching that row.
    """
    conn.execute(query("audit/lock_chain"), {"key": _LOCK_KEY})


def append(
    conn: Connection,
    *,
    actor: str,
    organization_id: int | None,
    action: str,
    subject_type: str,
    subject_id: str | int,
    legal_basis: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> AuditRecord:
    """Append one record to the chain, inside the caller's transaction.

    The record is committed (or rolled back) with what it records. ``details`` hold JSON values
    (datetimes become ISO 8601 text); they are hashed as PostgreSQL stores them, so numbers
    that JSONB normalises (``1e20``) verify later as they were hashed.
    """
    raw = json.dumps(dict(details or {}), default=_jsonable, ensure_ascii=False, allow_nan=False)
    lock_chain(conn)
    # A fresh snapshot after the lock (READ COMMITTED): the last committed record is the head.
    head = conn.execute(
        query("audit/head"),
        {"details": raw},
    ).one()
    fields: dict[str, Any] = {
        "id": (head.last_id or 0) + 1,
        "at": head.now,
        "actor": actor,
        "organization_id": organization_id,
        "action": action,
        "subject_type": subject_type,
        "subject_id": str(subject_id),
        "legal_basis": legal_basis,
        "details": head.details,
    }
    prev_hash = head.last_hash or GENESIS_HASH
    record_hash = compute_hash(prev_hash, **fields)
    conn.execute(
        query("audit/insert"),
        {
            **fields,
            "details_json": canonical_json(head.details),
            "prev_hash": prev_hash,
            "record_hash": record_hash,
        },
    )
    return AuditRecord(**fields, prev_hash=prev_hash, record_hash=record_hash)


def verify(conn: Connection, *, batch_size: int = 5000) -> ChainCheck:
    """Recompute the whole chain and name the first record altered or removed.

    Checked in id order: ids run 1, 2, 3, ... (a gap is a removal); each record's hash matches
    its content; each record's ``prev_hash`` is its predecessor's hash (a mismatch there means
    the predecessor was altered and re-hashed to hide it).
    """
    result = conn.execute(
        query("audit/chain"),
        execution_options={"yield_per": batch_size},
    )
    count = 0
    last_id, last_hash = 0, GENESIS_HASH
    for row in result:
        count += 1
        if row.id != last_id + 1:
            missing = (
                f"record {last_id + 1}"
                if row.id == last_id + 2
                else f"records {last_id + 1}..{row.id - 1}"
            )
            result.close()
            return ChainCheck(
                False,
                count,
                last_id or None,
                last_hash,
                last_id + 1,
                f"{missing} removed: the ids jump from {last_id} to {row.id}",
            )
        if _recompute(row) != row.record_hash:
            result.close()
            return ChainCheck(
                False,
                count,
                last_id or None,
                last_hash,
                row.id,
                f"record {row.id} was altered: its content no longer matches its hash",
            )
        if row.prev_hash != last_hash:
            result.close()
            culprit = last_id if last_id else row.id
            return ChainCheck(
                False,
                count,
                last_id or None,
                last_hash,
                culprit,
                f"record {culprit} was altered and re-hashed: record {row.id} no longer links"
                " to it",
            )
        last_id, last_hash = row.id, row.record_hash
    return ChainCheck(True, count, last_id or None, last_hash if last_id else None)


#: The ``anchor`` field of every anchor line: what it is and its format's version.
ANCHOR_KIND = "gilmok-audit-head/1"


@dataclass(frozen=True)
class Anchor:
    """A signed statement that record ``id`` of the chain had hash ``record_hash``.

    ``signed_at`` is when it was signed (UTC, ISO 8601), ``records`` how many records the chain
    held then.
    """

    id: int
    record_hash: str
    records: int
    signed_at: str

    def _body(self) -> dict[str, Any]:
        return {
            "anchor": ANCHOR_KIND,
            "id": self.id,
            "hash": self.record_hash,
            "records": self.records,
            "signed_at": self.signed_at,
        }


def _mac(body: Mapping[str, Any], key: str) -> str:
    return hmac.new(key.encode("utf-8"), canonical_json(body).encode("utf-8"), "sha256").hexdigest()


def sign_anchor(anchor: Anchor, *, key: str) -> str:
    """The anchor as one line of JSON, with ``mac``: HMAC-SHA256 over the other fields' canonical
    JSON under ``key``."""
    body = anchor._body()
    return canonical_json({**body, "mac": _mac(body, key)})


def read_anchor(line: str, *, key: str) -> Anchor:
    """Parse an anchor line and check its signature under ``key``.

    Raises
    ------
    InvalidInput
        the line is not an anchor, or its signature does not match (forged, edited, or signed
        with another key).
    """
    try:
        value = json.loads(line)
    except ValueError:
        value = None
    fields = ("anchor", "id", "hash", "records", "signed_at", "mac")
    if (
        not isinstance(value, dict)
        or set(value) != set(fields)
        or value["anchor"] != ANCHOR_KIND
        or not all(isinstance(value[k], str) for k in ("hash", "signed_at", "mac"))
        or not all(type(value[k]) is int for k in ("id", "records"))
    ):
        raise InvalidInput(
            "not a gilmok audit anchor: expected the one line `gilmok audit head` printed"
        )
    anchor = Anchor(
        id=value["id"],
        record_hash=value["hash"],
        records=value["records"],
        signed_at=value["signed_at"],
    )
    if not hmac.compare_digest(_mac(anchor._body(), key), value["mac"]):
        raise InvalidInput(
            "the audit anchor's signature does not match: it was forged or edited, or signed"
            " with another GILMOK_AUDIT_ANCHOR_KEY"
        )
    return anchor


def head_anchor(conn: Connection) -> tuple[ChainCheck, Anchor | None]:
    """Verify the chain and describe its head as an (unsigned) anchor.

    The anchor is None when the chain is broken (a broken chain is never vouched for) or empty.
    """
    check = verify(conn)
    if not check.ok or check.head_id is None or check.head_hash is None:
        return check, None
    now = conn.execute(query("audit/now")).scalar_one()
    return check, Anchor(
        id=check.head_id, record_hash=check.head_hash, records=check.records, signed_at=_iso(now)
    )


def check_anchor(conn: Connection, anchor: Anchor) -> ChainCheck:
    """Verify the whole chain, then that it still holds the anchored record with its hash.

    Every record's hash covers its predecessor's, so an intact chain whose record ``anchor.id``
    has the anchored hash holds every record up to it as it was when the anchor was signed;
    records after it are checked by the chain alone. A rewrite that re-hashed the chain, or a
    cut back to before the anchor, fails here though :func:`verify` alone passes.
    """
    check = verify(conn)
    if not check.ok:
        return check
    stored = conn.execute(query("audit/record_hash"), {"id": anchor.id}).scalar_one_or_none()
    if stored is None:
        problem = (
            f"record {anchor.id} of the anchor is gone: the chain ends at record"
            f" {check.head_id or 0}, so records were removed from its end"
        )
    elif stored != anchor.record_hash:
        problem = (
            f"record {anchor.id} no longer has the anchored hash {anchor.record_hash[:16]}…:"
            f" the chain was rewritten and re-hashed at or before record {anchor.id}"
        )
    else:
        return check
    return ChainCheck(False, check.records, check.head_id, check.head_hash, anchor.id, problem)


def list_records(
    conn: Connection,
    *,
    action: str | None = None,
    subject_type: str | None = None,
    subject_id: str | None = None,
    organization_id: int | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    after_id: int | None = None,
    limit: int = 100,
) -> list[AuditRecord]:
    """Records in id order matching every given filter; ``after_id`` pages (keyset)."""
    r = _RECORD.c
    equal = [
        (r.action, action),
        (r.subject_type, subject_type),
        (r.subject_id, subject_id),
        (r.organization_id, None if organization_id is None else bigint(organization_id)),
    ]
    conditions = [column == value for column, value in equal if value is not None]
    if since is not None:
        conditions.append(r.at >= since)
    if until is not None:
        conditions.append(r.at < until)
    if after_id is not None:
        conditions.append(r.id > bigint(after_id))
    statement = select(*_COLUMNS).where(*conditions)
    rows = conn.execute(statement.order_by(r.id).limit(limit))
    return [AuditRecord(**row._mapping) for row in rows]
