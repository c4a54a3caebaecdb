"""``/v1/audit``: the hash-chained audit trail, for ``admin`` and ``auditor`` keys only."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask.views import MethodView
from marshmallow import fields

from api.auth import requires_roles
from api.context import transaction
from api.schemas import INT32_MAX, Blueprint, Id, PageArgs, Text, next_after_id
from geo.store import audit as store

READERS = ("admin", "auditor")

blp = Blueprint(
    "audit",
    __name__,
    url_prefix="/v1/audit",
    description="Append-only, hash-chained record of every request, decision and credential",
)


class AuditQuery(PageArgs):
    action = Text(max_length=100, metadata={"description": "e.g. activation.created"})
    subject_type = Text(max_length=100, metadata={"description": "e.g. activation"})
    subject_id = Text(max_length=100)
    organization_id = Id(maximum=INT32_MAX)
    since = fields.AwareDateTime(metadata={"description": "Records at or after (ISO 8601)"})
    until = fields.AwareDateTime(metadata={"description": "Records before (ISO 8601)"})


class AuditRecordOut(ma.Schema):
    id = fields.Integer(required=True)
    at = fields.AwareDateTime(required=True)
    actor = fields.String(required=True)
    organization_id = fields.Integer(allow_none=True, required=True)
    action = fields.String(required=True)
    subject_type = fields.String(required=True)
    subject_id = fields.String(required=True)
    legal_basis = fields.String(allow_none=True, required=True)
    details = fields.Dict(required=True)
    prev_hash = fields.String(required=True)
    record_hash = fields.String(required=True)


class AuditPage(ma.Schema):
    items = fields.List(fields.Nested(AuditRecordOut), required=True)
    next_after_id = fields.Integer(allow_none=True, required=True)


class ChainCheckOut(ma.Schema):
    ok = fields.Boolean(required=True)
    records = fields.Integer(required=True)
    head_id = fields.Integer(allow_none=True, required=True)
    head_hash = fields.String(allow_none=True, required=True)
    first_bad_id = fields.Integer(allow_none=True, required=True)
    problem = fields.String(allow_none=True, required=True)


@blp.route("")
class AuditRecords(MethodView):
    @requires_roles(*READERS)
    @blp.arguments(AuditQuery, location="query", unknown=ma.RAISE)
    @blp.response(200, AuditPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Audit records in chain order, filtered by action, subject, organization and time"""
        with transaction() as conn:
            items = store.list_records(conn, **args)
        return {
            "items": [r.as_dict() for r in items],
            "next_after_id": next_after_id(items, args["limit"]),
        }


@blp.route("/verify")
class VerifyChain(MethodView):
    @requires_roles(*READERS)
    @blp.response(200, ChainCheckOut)
    def get(self) -> dict[str, Any]:
        """Recompute the whole chain; name the first record altered or removed"""
        with transaction() as conn:
            check = store.verify(conn)
        return check.__dict__
