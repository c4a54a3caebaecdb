"""The web console: its page at ``/`` and its bundled assets under ``/console/assets/``.

The page is a shell (no inline script or style) that loads the bundle ``scripts/build-console``
made from ``api/console/web/`` into ``api/console/static/`` (sent by :mod:`api.console.assets`);
everything it shows comes from the API. Its ``#app`` element carries, as data attributes, the
signed-in session (what ``GET /v1/session`` would answer, or ``null``: the view starts with no
round trip; the page is never cached) and the maps' opening view with the roads' version (tiles
asked for under it are cached for good). Each console response carries a strict
Content-Security-Policy: scripts, styles, fonts, images and workers from this origin only;
connections to this origin and to the relay's viewer origin (the Janus HTTP API the video wall
talks to); no framing. Without a bundle the page says how to build one (503), rather than
failing.
"""

from __future__ import annotations

import json
import os
from functools import cache
from html import escape
from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, request

from api.console.assets import send_asset
from api.context import app_state
from api.sessions import signed_in
from api.tiles import roads_version
from geo.errors import GilmokError

STATIC_DIR = Path(__file__).with_name("static")
ASSETS_PATH = "/console/assets"
#: Where the console's maps open (lon, lat, zoom): central Seoul (Gwanghwamun), where the pilot's
#: road data lies. The page tells the bundle, and ``gilmok serve`` warms these tiles at start.
OPENING_VIEW = (126.9769, 37.5759, 15)

blp = Blueprint("console", __name__)


@cache
def _manifest(static_dir: Path, stamp: float) -> dict[str, str] | None:
    """The bundle's file names (``js``, ``css``, ``worker``), or None when it is not built."""
    del stamp  # part of the cache key only: a rebuilt bundle is read again
    try:
        found: dict[str, str] = json.loads((static_dir / "manifest.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if not all(isinstance(found.get(key), str) for key in ("js", "css", "worker")):
        return None
    return found


def bundle_manifest(static_dir: Path | None = None) -> dict[str, str] | None:
    """The built bundle's manifest, read again whenever the build rewrote it."""
    static_dir = static_dir or STATIC_DIR
    try:
        stamp = os.stat(static_dir / "manifest.json").st_mtime
    except OSError:
        return None
    return _manifest(static_dir, stamp)


def relay_viewer_origin() -> str | None:
    """Origin (scheme://host:port) of the relay's HTTP API as viewers reach it, for CSP."""
    relay = app_state().settings.relay
    base = relay.public_url or f"http://{relay.host}:{relay.port}"
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def relay_websocket_origin() -> str | None:
    """Origin of the relay's WebSocket API (what the video wall uses), when it offers one."""
    relay = app_state().settings.relay
    return None if relay.public_url else f"ws://{relay.host}:{relay.ws_port}"


def content_security_policy() -> str:
    relay = relay_viewer_origin()
    connect = "'self'" + (f" {relay}" if relay else "")
    if websocket := relay_websocket_origin():
        connect += f" {websocket}"
    directives = {
        "default-src": "'none'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": "'self' data: blob:",
        "font-src": "'self'",
        "connect-src": connect,
        # MapLibre's worker is a module from this origin; WebRTC video plays from a MediaStream.
        "worker-src": "'self'",
        "media-src": "'self' blob:",
        "base-uri": "'none'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


@blp.after_request
def _security_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = content_security_policy()
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    return response


def _template(name: str) -> str:
    return (Path(__file__).parent / name).read_text("utf-8")


def _session_json() -> str:
    """The signed-in session as JSON for the page (``null`` when none): the bundle starts the
    role's view at once instead of asking ``GET /v1/session`` first. A database that does not
    answer leaves it out; the bundle then asks, and shows what went wrong."""
    try:
        session = signed_in()
    except GilmokError as exc:
        current_app.logger.warning("the console page goes without its session: %s", exc)
        session = None
    return json.dumps(session, ensure_ascii=False, default=str)


@blp.get("/")
def index() -> Response:
    manifest = bundle_manifest()
    if manifest is None:
        page = _template("not_built.html").format(static=escape(str(STATIC_DIR)))
        response = Response(page, status=503, mimetype="text/html")
    else:
        lon, lat, zoom = OPENING_VIEW
        page = _template("page.html").format(
            css=escape(f"{ASSETS_PATH}/{manifest['css']}"),
            js=escape(f"{ASSETS_PATH}/{manifest['js']}"),
            worker=escape(f"{ASSETS_PATH}/{manifest['worker']}"),
            session=escape(_session_json()),
            view=escape(json.dumps({"center": [lon, lat], "zoom": zoom, "roads": roads_version()})),
        )
        response = Response(page, mimetype="text/html")
    # The page carries the session's CSRF token: never kept by any cache, nor shown to another.
    response.headers["Cache-Control"] = "no-store"
    response.vary.add("Cookie")
    return response


@blp.get(f"{ASSETS_PATH}/<path:name>")
def asset(name: str) -> Response:
    """A file of the bundle, compressed ahead of time (:mod:`api.console.assets`)."""
    return send_asset(request, STATIC_DIR, name)
