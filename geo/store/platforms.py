"""Smart-city integrated platforms linked to gilmok, the situation rooms subscribed to their
events, and the policies that make an event type a legal basis.

- A **platform** is registered by an admin with its sending code (the messages' ``sendCd``), a
  name, a key (kept as its SHA-256, as API keys are) and the callback its events out go to.
- A **subscription** says that a situation room (an organization that may request feeds) takes
  the platform's events of one type (``evtId``; ``*`` for every type it has no subscription of
  its own for) as incidents, raised with the subscription's cordon.
- A **policy** says that an event type is itself a legal basis (:data:`geo.domain.LEGAL_BASES`)
  over the event's area — a radius around its point, or the 시군구 it lies in — for its
  lifetime (capped at ``max_hours``), activated at once (``automatic``, issued in the name of
  ``issuer_id``) or when a regional centre confirms it (``regional_centre``).

Every change is audited in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.engine import Connection

from geo import domain
from geo.cordon import CordonOptions
from geo.errors import Conflict, InvalidInput, NotFound
from geo.store import audit, orgs
from geo.store.queries import query

POLICY_ACTIVATIONS = ("automatic", "regional_centre")
POLICY_AREAS = ("radius", "sigungu")
#: Organization kinds a policy may issue activations in the name of.
ISSUER_KINDS = frozenset({"admin", "regional_centre"})
ANY_EVENT = "*"


@dataclass(frozen=True)
class Platform:
    id: int
    code: str
    name: str
    key_prefix: str
    callback_url: str
    created_at: dt.datetime
    disabled_at: dt.datetime | None

    @property
    def actor(self) -> str:
        """How the audit trail names this platform."""
        return f"platform:{self.code}"


@dataclass(frozen=True)
class Subscription:
    id: int
    platform_id: int
    event_type: str
    organization_id: int
    organization_name: str
    radius_m: float
    mode: str
    direction: str
    travel: str
    level: str

    def cordon(self) -> CordonOptions:
        return CordonOptions(
            radius_m=self.radius_m, mode=self.mode, direction=self.direction, travel=self.travel
        )


@dataclass(frozen=True)
class Policy:
    id: int
    platform_id: int
    event_type: str
    basis: str
    area: str
    radius_m: float
    max_hours: float
    activation: str
    issuer_id: int | None


def check_callback_url(url: str) -> str:
    """An ``http(s)`` URL with a host, or ``""``.

    Raises
    ------
    InvalidInput
    """
    url = url.strip()
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(
            f"the callback URL must be http(s)://host[:port]/path, not {url!r}",
            details={"field": "callback_url"},
        )
    return url


def same_origin(url: str, registered: str) -> bool:
    """Whether ``url`` has the scheme, host and port of ``registered`` (a message may name its
    callback only on the server the admin registered, never another host)."""
    a, b = urlsplit(url), urlsplit(registered)
    return bool(b.hostname) and (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)


def register_platform(
    conn: Connection,
    *,
    code: str,
    name: str,
    key_prefix: str,
    key_hash: bytes,
    callback_url: str,
    actor: str,
) -> Platform:
    """Register a platform; its key is minted by the caller (:mod:`api.platform_auth`).

    Raises
    ------
    InvalidInput
        empty code or name, a malformed callback URL.
    Conflict
        the code is taken.
    """
    code, name = code.strip(), name.strip()
    if not code or len(code) > 128 or not name:
        raise InvalidInput("a platform needs a code (its sendCd, up to 128 characters) and a name")
    callback_url = check_callback_url(callback_url)
    if conn.execute(query("platforms/by_code"), {"code": code}).first() is not None:
        raise Conflict(f"a platform with the code {code!r} is registered already")
    platform_id = conn.execute(
        query("platforms/create"),
        {
            "code": code,
            "name": name,
            "prefix": key_prefix,
            "key_hash": key_hash,
            "callback_url": callback_url,
        },
    ).scalar_one()
    audit.append(
        conn,
        actor=actor,
        organization_id=None,
        action="platform.registered",
        subject_type="platform",
        subject_id=platform_id,
        details={"code": code, "name": name, "key_prefix": key_prefix, "callback": callback_url},
    )
    return get_platform(conn, code)


def get_platform(conn: Connection, code: str) -> Platform:
    """Raises :class:`NotFound` for an unknown code."""
    row = conn.execute(query("platforms/by_code"), {"code": code}).first()
    if row is None:
        raise NotFound(f"no platform has the code {code!r} (see `gilmok platform list`)")
    return Platform(**row._mapping)


def list_platforms(conn: Connection) -> list[Platform]:
    return [Platform(**r._mapping) for r in conn.execute(query("platforms/list"))]


def disable_platform(conn: Connection, code: str, *, actor: str) -> None:
    """Refuse the platform's key from now on; audited."""
    row = conn.execute(query("platforms/disable"), {"code": code}).first()
    if row is None:
        get_platform(conn, code)
        raise Conflict(f"platform {code!r} is disabled already")
    audit.append(
        conn,
        actor=actor,
        organization_id=None,
        action="platform.disabled",
        subject_type="platform",
        subject_id=row.id,
        details={"code": code},
    )


def authenticate_platform(conn: Connection, *, prefix: str, key_hash: bytes) -> Platform | None:
    """The enabled platform holding the key, or None."""
    row = conn.execute(
        query("platforms/authenticate"), {"prefix": prefix, "key_hash": key_hash}
    ).first()
    return None if row is None else Platform(**row._mapping)


def subscribe(
    conn: Connection,
    *,
    platform_code: str,
    event_type: str,
    organization: str,
    cordon: CordonOptions,
    level: str = domain.DEFAULT_DORI_LEVEL,
    actor: str,
) -> int:
    """Subscribe a situation room to a platform's events of ``event_type``; its id. Audited.

    Raises
    ------
    NotFound
        no such platform or organization.
    InvalidInput
        the organization may not request feeds, a time-based cordon (events carry no travel
        time), or an unknown DORI level.
    """
    platform = get_platform(conn, platform_code)
    org = orgs.get_organization(conn, organization)
    if org.kind not in orgs.ROLE_KINDS["requester"]:
        raise InvalidInput(
            f"{org.name} is a {org.kind}: only situation rooms that may request feeds"
            f" ({', '.join(sorted(orgs.ROLE_KINDS['requester']))}) subscribe to events"
        )
    if cordon.timed:
        raise InvalidInput("a subscription's cordon is a radius, not minutes at a speed")
    if level not in domain.DORI_PX_PER_M:
        raise InvalidInput(f"level must be one of {', '.join(domain.DORI_PX_PER_M)}")
    event_type = event_type.strip()
    if not event_type:
        raise InvalidInput("give the event type (evtId), or * for every type")
    subscription_id = int(
        conn.execute(
            query("platforms/subscribe"),
            {
                "platform": platform.id,
                "event_type": event_type,
                "organization": org.id,
                "radius_m": cordon.radius,
                "mode": cordon.mode,
                "direction": cordon.direction,
                "travel": cordon.travel,
                "level": level,
            },
        ).scalar_one()
    )
    audit.append(
        conn,
        actor=actor,
        organization_id=org.id,
        action="platform.subscribed",
        subject_type="platform_subscription",
        subject_id=subscription_id,
        details={
            "platform": platform.code,
            "event_type": event_type,
            "radius_m": cordon.radius,
            "mode": cordon.mode,
            "direction": cordon.direction,
            "level": level,
        },
    )
    return subscription_id


def subscriptions_for(conn: Connection, platform_id: int, event_type: str) -> list[Subscription]:
    rows = conn.execute(
        query("platforms/subscriptions_for"), {"platform": platform_id, "event_type": event_type}
    )
    return [Subscription(**r._mapping) for r in rows]


def set_policy(
    conn: Connection,
    *,
    platform_code: str,
    event_type: str,
    basis: str,
    activation: str,
    issuer: str | None = None,
    area: str = "radius",
    radius_m: float = 1000.0,
    max_hours: float = 24.0,
    actor: str,
) -> Policy:
    """Make a platform's ``event_type`` a legal basis; audited.

    Raises
    ------
    InvalidInput
        an unknown basis, activation or area kind; a radius or lifetime out of range; an
        automatic policy without an issuer, or an issuer that is not an admin or regional
        centre.
    """
    platform = get_platform(conn, platform_code)
    if basis not in domain.LEGAL_BASES:
        raise InvalidInput(f"basis must be one of {', '.join(domain.LEGAL_BASES)}")
    if activation not in POLICY_ACTIVATIONS:
        raise InvalidInput(f"activation must be one of {', '.join(POLICY_ACTIVATIONS)}")
    if area not in POLICY_AREAS:
        raise InvalidInput(f"area must be one of {', '.join(POLICY_AREAS)}")
    if not 50 <= radius_m <= 50_000 or not 0 < max_hours <= 2160:
        raise InvalidInput("radius_m must lie in 50–50000 and max_hours in (0, 2160]")
    issuer_id = None
    if issuer is not None:
        org = orgs.get_organization(conn, issuer)
        if org.kind not in ISSUER_KINDS:
            raise InvalidInput(
                f"{org.name} is a {org.kind}: a policy's issuer is an admin"
                " organization or a regional centre"
            )
        issuer_id = org.id
    if activation == "automatic" and issuer_id is None:
        raise InvalidInput(
            "an automatic policy needs the issuer its activations are made in"
            " the name of (an admin organization or a regional centre)"
        )
    policy_id = conn.execute(
        query("platforms/set_policy"),
        {
            "platform": platform.id,
            "event_type": event_type,
            "basis": basis,
            "area": area,
            "radius_m": radius_m,
            "max_hours": max_hours,
            "activation": activation,
            "issuer": issuer_id,
        },
    ).scalar_one()
    audit.append(
        conn,
        actor=actor,
        organization_id=issuer_id,
        action="platform.policy_set",
        subject_type="platform_policy",
        subject_id=policy_id,
        legal_basis=basis,
        details={
            "platform": platform.code,
            "event_type": event_type,
            "activation": activation,
            "area": area,
            "radius_m": radius_m,
            "max_hours": max_hours,
        },
    )
    return get_policy(conn, int(policy_id))


def get_policy(conn: Connection, policy_id: int) -> Policy:
    row = conn.execute(query("platforms/policy_by_id"), {"id": policy_id}).first()
    if row is None:
        raise NotFound(f"no platform policy has the id {policy_id}")
    return Policy(**row._mapping)


def policy_for(conn: Connection, platform_id: int, event_type: str) -> Policy | None:
    row = conn.execute(
        query("platforms/policy_for"), {"platform": platform_id, "event_type": event_type}
    ).first()
    return None if row is None else Policy(**row._mapping)


def as_dict(value: Any) -> dict[str, Any]:
    """A dataclass of this module as JSON-ready values."""
    return {
        k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in value.__dict__.items()
    }
