"""gilmok's fixed vocabularies: legal bases, organization kinds, roles, camera kinds, DORI levels.

The database stores these as text guarded by CHECK constraints built from the same tuples, so
the code and the schema cannot drift apart (a migration test compares them).
"""

from __future__ import annotations

from typing import Final

#: The nine legal bases under which video may be provided (2020 MOLIT–MND MOU).
#: Code → (Korean, English).
LEGAL_BASES: Final[dict[str, tuple[str, str]]] = {
    "integrated_defence_situation": ("통합방위사태 선포", "integrated-defence situation declared"),
    "alert_level_2": ("경계태세 2급 이상", "alert posture level 2 or higher"),
    "integrated_defence_drill": ("통합방위훈련", "integrated-defence drill"),
    "government_exercise": ("정부훈련", "government exercise (e.g. Ulchi)"),
    "rok_us_combined_exercise": ("한미연합연습", "ROK–US combined exercise"),
    "terrorism": ("테러", "terrorism"),
    "natural_disaster": ("재해", "natural disaster"),
    "social_disaster": ("재난", "social disaster"),
    "emergency_rescue": ("구급상황", "emergency rescue"),
}

ORGANIZATION_KINDS: Final = (
    "municipal_centre",  # smart-city integrated operations centre: owns cameras
    "regional_centre",  # 광역 integrated operations centre: routes requests
    "military_unit",  # situation room of a unit
    "police",
    "fire",
    "planner",
    "admin",
)

#: API roles a key may carry.
ROLES: Final = ("requester", "regional_centre", "municipal_centre", "planner", "auditor", "admin")

CAMERA_KINDS: Final = ("fixed", "ptz", "dome")
HEADING_SOURCES: Final = ("surveyed", "osm_tag", "inferred", "unknown")
#: ``maintenance``: out of service on purpose (work on the pole, a lens being cleaned); ranked
#: last like ``offline``, which is a fault. ``retired``: the camera no longer exists.
CAMERA_STATUSES: Final = ("online", "offline", "maintenance", "retired")
#: Statuses a centre (or its VMS) may report; ``retired`` is removing the camera.
REPORTED_STATUSES: Final = ("online", "offline", "maintenance")
#: How a camera change reached the registry, and what kind of change it is.
CAMERA_CHANGE_VIA: Final = ("api", "vms", "survey", "relay", "cli")
CAMERA_CHANGE_KINDS: Final = ("status", "correction", "added", "removed")
CAMERA_SOURCES: Final = ("cctv_standard", "enforcement", "osm", "manual")

#: IEC 62676-4 DORI pixel densities, pixels per metre at the target, weakest first.
DORI_PX_PER_M: Final[dict[str, float]] = {
    "detect": 25.0,
    "observe": 62.5,
    "recognise": 125.0,
    "identify": 250.0,
}
DEFAULT_DORI_LEVEL: Final = "observe"
COVERAGE_CONFIDENCES: Final = ("high", "low")

CORDON_MODES: Final = ("network", "euclidean")
DIRECTIONS: Final = ("inbound", "outbound", "both")
TRAVEL_MODES: Final = ("drive", "foot")

#: OSM highway classes whose approaches are main approaches (주 진입로).
MAIN_ROAD_CLASSES: Final = frozenset(
    {
        "motorway",
        "trunk",
        "primary",
        "secondary",
        "motorway_link",
        "trunk_link",
        "primary_link",
        "secondary_link",
    }
)

INCIDENT_STATUSES: Final = ("open", "closed")
FEED_REQUEST_STATUSES: Final = (
    "pending",  # waiting for the owning centre's decision
    "approved",  # approved, not yet provisioned on the relay
    "denied",
    "provisioned",  # a live feed session exists
    "failed",  # the relay or the camera source refused
    "revoked",
    "expired",
)
FEED_SESSION_STATUSES: Final = ("live", "revoked", "expired", "failed")
