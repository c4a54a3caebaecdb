"""Which cameras a feeds call may ask for, each with the activation (legal basis) it rests on.

A camera may be requested for an incident when it exists, is in service, belongs to the
incident (it watches one of its approaches on record, or lies within its radius) and stands
inside the area of an activation in force that covers the incident point: a wide cordon reaches
cameras beyond the activation's area, and those are refused (403, each named in
``details.refused_cameras``). With ``best``, the k best online cameras of each approach are
chosen among those inside, and the ones passed over are reported. No HTTP here: the endpoint is
:mod:`api.feed_requests`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from geo.errors import CameraOutsideActivation, InvalidInput
from geo.store import activations as activation_store
from geo.store import cameras as camera_store
from geo.store.activations import Activation
from geo.store.incidents import ApproachRecord, Incident


@dataclass(frozen=True)
class ChosenCameras:
    """The cameras a feeds call asks for, each with the activation its video rests on."""

    cameras: list[camera_store.CameraRef]
    activation_of: dict[int, Activation]
    #: with ``best``: cameras ranked high enough but standing outside every activation's area
    passed_over: list[int]


def _refuse_outside(incident: Incident, refused: list[camera_store.CameraRef]) -> None:
    """Refuse cameras standing outside the area of every activation in force over the incident."""
    shown = ", ".join(str(c.id) for c in refused[:10]) + (", …" if len(refused) > 10 else "")
    raise CameraOutsideActivation(
        f"camera(s) {shown} stand outside the area of every activation in force that covers"
        f" incident {incident.id}: a camera's video may be provided only when the camera's"
        " position lies inside the activation's area",
        details={
            "reason": "camera_outside_activation_area",
            "refused_cameras": [
                {
                    "camera_id": c.id,
                    "location": [round(c.lon, 7), round(c.lat, 7)],
                    "reason": "outside the activation's area",
                }
                for c in refused
            ],
        },
    )


def choose_cameras(
    conn: Any, incident: Incident, approaches: list[ApproachRecord], body: dict[str, Any]
) -> ChosenCameras:
    """The cameras asked for, checked: they exist, are in service, belong to the incident, and
    stand inside the area of an activation in force that covers the incident.

    With ``best``, the k best cameras of each approach that are online now among those that may
    be requested (inside an activation's area); with ``camera_ids``, a camera outside is
    refused.
    """
    on_record = {c["camera_id"] for a in approaches for c in a.cameras}
    point = (incident.lon, incident.lat)
    passed_over: list[int] = []
    if "best" in body:
        ranked = [
            [c["camera_id"] for c in sorted(a.cameras, key=lambda c: c["rank"]) if c["online"]]
            for a in approaches
        ]
        # online when the incident was answered is not enough: a camera reported offline or in
        # maintenance since then is passed over too
        recorded = list(dict.fromkeys(i for online in ranked for i in online))
        now = camera_store.cameras_by_id(conn, recorded)
        ranked = [
            [i for i in online if i in now and now[i].status == "online"] for online in ranked
        ]
        candidates = list(dict.fromkeys(i for online in ranked for i in online))
        if not candidates:
            raise InvalidInput(
                f"no online camera watches any approach of incident {incident.id}: every"
                " approach is blind",
                details={"id": incident.id},
            )
        legal = activation_store.activations_for_cameras(conn, point, candidates)
        ids: list[int] = []
        for online in ranked:
            ids.extend([i for i in online if i in legal][: body["best"]])
            passed_over.extend(i for i in online[: body["best"]] if i not in legal)
        ids = list(dict.fromkeys(ids))
        passed_over = list(dict.fromkeys(passed_over))
        if not ids:
            found = camera_store.cameras_by_id(conn, candidates)
            _refuse_outside(incident, [found[i] for i in candidates if i in found])
        picked = camera_store.cameras_by_id(conn, ids)
        return ChosenCameras([picked[i] for i in ids], legal, passed_over)
    ids = list(dict.fromkeys(body["camera_ids"]))
    found = camera_store.cameras_by_id(conn, ids)
    unknown = [i for i in ids if i not in found]
    if unknown:
        raise InvalidInput(
            f"no camera has the id(s) {', '.join(map(str, unknown[:10]))}",
            details={"unknown_camera_ids": unknown},
        )
    retired = [i for i in ids if found[i].status == "retired"]
    if retired:
        raise InvalidInput(
            f"camera(s) {', '.join(map(str, retired[:10]))} are retired",
            details={"retired_camera_ids": retired},
        )
    near = camera_store.cameras_near(
        conn, [i for i in ids if i not in on_record], incident.lon, incident.lat, incident.radius_m
    )
    unrelated = [i for i in ids if i not in on_record and i not in near]
    if unrelated:
        raise InvalidInput(
            f"camera(s) {', '.join(map(str, unrelated[:10]))} neither watch an approach of"
            f" incident {incident.id} nor lie within its {incident.radius_m:.0f} m",
            details={"unrelated_camera_ids": unrelated},
        )
    legal = activation_store.activations_for_cameras(conn, point, ids)
    outside = [found[i] for i in ids if i not in legal]
    if outside:
        _refuse_outside(incident, outside)
    return ChosenCameras([found[i] for i in ids], legal, [])
