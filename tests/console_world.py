"""The console scenario's world, through the real API of a :class:`console_stack.ConsoleStack`:
the 2020 pilot's organizations and their keys, an alert-level-2 activation over central Seoul,
an incident at Gwanghwamun, the watching cameras' video from the simulator.

Shared by the browser tests and ``bench/console_feeds.py``. Each world issues its own keys and
its own activation (ended by :meth:`ConsoleWorld.close`), so several may use one database.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from console_stack import ConsoleStack
from sqlalchemy import text
from sqlalchemy.engine import URL

from api.demo import CENTRAL_SEOUL, GWANGHWAMUN, REQUESTER
from api.keys import issue_api_key
from api.relay.camsim import map_cameras
from geo.store import camera_sources, connect, orgs

ACTOR = "console test"


class ApiFailed(AssertionError):
    """An API call the scenario needs answered with an error."""


class ConsoleWorld:
    """Organizations, keys and the legal basis for one scenario on the stack's database."""

    def __init__(self, stack: ConsoleStack, owner_url: URL) -> None:
        self.stack = stack
        self.engine = connect(owner_url)
        self.keys: dict[str, str] = {}
        self.activation: dict[str, Any] | None = None
        with self.engine.begin() as conn:
            orgs.seed_pilot(conn, actor=ACTOR)
        self.keys["regional"] = self.issue_key(orgs.REGIONAL_CENTRE, "regional_centre")
        self.keys["requester"] = self.issue_key(REQUESTER, "requester")

    def issue_key(self, organization: str, role: str) -> str:
        with self.engine.begin() as conn:
            _, key = issue_api_key(
                conn, organization=organization, role=role, actor=ACTOR, label=ACTOR
            )
        return key

    def call(self, method: str, path: str, who: str, body: Any = None) -> Any:
        status, reply = self.stack.api(method, path, self.keys[who], body)
        if status >= 400:
            raise ApiFailed(f"{method} {path} as {who}: {status} {reply}")
        return reply

    def activate(self) -> dict[str, Any]:
        """Alert level 2 (경계태세 2급) over central Seoul, by the regional centre."""
        now = dt.datetime.now(dt.UTC)
        self.activation = self.call(
            "POST",
            "/v1/activations",
            "regional",
            {
                "basis": "alert_level_2",
                "reference": f"console {uuid.uuid4().hex[:8]}",
                "area": CENTRAL_SEOUL,
                "starts_at": now.isoformat(),
                "ends_at": (now + dt.timedelta(hours=2)).isoformat(),
            },
        )
        return self.activation

    def raise_incident(self, lon: float = GWANGHWAMUN[0], lat: float = GWANGHWAMUN[1]) -> Any:
        return self.call("POST", "/v1/incidents", "requester", {"lon": lon, "lat": lat})

    def video_from_simulator(self, cameras: dict[str, Any] | list[int]) -> list[int]:
        """Cameras (given, or every camera watching an incident's approaches) get a simulated
        source: their real source URLs are not ours. The camera ids."""
        if isinstance(cameras, dict):
            cameras = sorted(
                {
                    c["camera_id"]
                    for f in cameras["approaches"]["features"]
                    for c in f["properties"]["cameras"]
                }
            )
        sources = map_cameras(
            [str(c) for c in cameras], cameras=self.stack.cameras, port=self.stack.relay.camsim_port
        )
        with self.engine.begin() as conn:
            camera_sources.set_camera_sources(
                conn, {int(k): v for k, v in sources.items()}, actor=ACTOR
            )
        return list(cameras)

    def cameras_within(self, lon: float, lat: float, radius_m: float, count: int) -> list[int]:
        """The ``count`` online cameras nearest the point within ``radius_m``, nearest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT c.id FROM camera c, (SELECT ST_Transform(ST_SetSRID(ST_MakePoint("
                    ":lon, :lat), 4326), 5179) AS p) i WHERE c.status = 'online'"
                    " AND ST_DWithin(c.position, i.p, :r) ORDER BY c.position <-> i.p, c.id"
                    " LIMIT :n"
                ),
                {"lon": lon, "lat": lat, "r": radius_m, "n": count},
            ).all()
        return [int(r.id) for r in rows]

    def owners(self, camera_ids: list[int]) -> dict[int, str]:
        """Owner organization id → name of these cameras."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT DISTINCT o.id, o.name FROM camera c JOIN organization o"
                    " ON o.id = c.owner_id WHERE c.id = ANY(:ids)"
                ),
                {"ids": camera_ids},
            ).all()
        return {int(r.id): str(r.name) for r in rows}

    def auto_approve(self, owner_ids: list[int], *, on: bool) -> None:
        """The owning centres' policy: approve alert-level-2 requests automatically, or not."""
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE organization SET auto_approve_bases = CAST(:bases AS jsonb)"
                    " WHERE id = ANY(:ids)"
                ),
                {"bases": '["alert_level_2"]' if on else "[]", "ids": owner_ids},
            )

    def close(self) -> None:
        """End the activation (its feeds with it) and revoke the keys this world issued."""
        try:
            if self.activation is not None:
                self.stack.api(
                    "POST",
                    f"/v1/activations/{self.activation['id']}/end",
                    self.keys["regional"],
                    {"reason": "console test over"},
                )
        finally:
            with self.engine.begin() as conn:
                for key in self.keys.values():
                    orgs.revoke_api_key(conn, prefix=key.split("_")[1], actor=ACTOR)
            self.engine.dispose()
