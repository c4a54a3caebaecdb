"""Cameras' video source URLs (column ``camera.source_url``): set here, read only for the relay.

A source URL is a secret (it may hold the camera's credentials): it is checked and written
here, audited without the URL, and read back only by the feed lifecycle
(:mod:`geo.store.feed_sessions`) to hand to the relay; no listing returns it and no error
message names it.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from sqlalchemy.engine import Connection

from geo.errors import InvalidInput, NotFound
from geo.store import audit
from geo.store.queries import query

#: URL schemes a relay can pull (Janus: RTSP; MediaMTX and go2rtc also take the others).
SOURCE_SCHEMES = ("rtsp", "rtsps", "rtmp", "http", "https", "srt")


def _check_source_url(url: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in SOURCE_SCHEMES or not parts.hostname:
        # The URL may hold credentials: the message names the accepted schemes, not the URL.
        raise InvalidInput(
            f"a camera source URL must be {', '.join(SOURCE_SCHEMES)}://host/...",
            details={"field": "source_url"},
        )
    return url


def set_camera_sources(conn: Connection, sources: Mapping[int, str | None], *, actor: str) -> int:
    """Set (or clear, with None) cameras' source URLs; audited without the URLs.

    Returns the number of cameras changed.

    Raises
    ------
    NotFound
        some camera id does not exist (nothing is changed).
    InvalidInput
        a URL is not one a relay can pull.
    """
    checked = {
        int(cid): None if url is None else _check_source_url(url) for cid, url in sources.items()
    }
    if not checked:
        return 0
    ids = sorted(checked)
    found = {
        int(r.id): r.owner_id
        for r in conn.execute(query("camera_sources/lock_cameras"), {"ids": ids})
    }
    missing = [cid for cid in ids if cid not in found]
    if missing:
        raise NotFound(
            f"no camera has the id {missing[0]}"
            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""),
            details={"missing": missing[:20]},
        )
    conn.execute(
        query("camera_sources/set_source_urls"),
        {"ids": ids, "urls": [checked[cid] for cid in ids]},
    )
    owners = sorted({int(o) for o in found.values()})
    audit.append(
        conn,
        actor=actor,
        organization_id=owners[0] if len(owners) == 1 else None,
        action="camera.source_set",
        subject_type="camera",
        subject_id=ids[0] if len(ids) == 1 else f"{len(ids)} cameras",
        details={
            "camera_ids": ids[:1000],
            "cleared": sum(1 for cid in ids if checked[cid] is None),
            "schemes": sorted({urlsplit(u).scheme for u in checked.values() if u}),
        },
    )
    return len(ids)
