"""The console bundle's files as they go out: compressed ahead of time, cached for good.

``scripts/build-console`` writes each file of the bundle beside a brotli (``.br``) and a gzip
(``.gz``) copy of it. A request gets the smallest copy its ``Accept-Encoding`` allows (brotli,
then gzip, then the file itself) with ``Content-Encoding`` saying which and ``Vary:
Accept-Encoding``, so no cache hands one client's copy to another that cannot read it. Every name
carries a hash of its content: a file never changes under its name, so it is cached for a year
(``immutable``) and its ETag is its name (and its encoding).
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from flask import Request, Response, abort, send_file
from werkzeug.security import safe_join

#: Content codings a copy may be kept in, the preferred first, and the suffix of its file.
ENCODINGS = (("br", ".br"), ("gzip", ".gz"))
#: A year, the longest the HTTP caching specification asks a cache to keep a response fresh.
MAX_AGE_S = 365 * 24 * 3600
#: Files sent as they are (the manifest the server reads; the bundle's licence notes).
MEDIA_TYPES = {".mjs": "text/javascript", ".js": "text/javascript", ".css": "text/css"}


def media_type(name: str) -> str:
    suffix = Path(name).suffix
    return MEDIA_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def chosen_encoding(request: Request, path: Path) -> tuple[str | None, Path]:
    """(content coding, file to send): the first of :data:`ENCODINGS` that the client accepts
    (a q-value above 0) and the build wrote; else (None, the file itself)."""
    accepted = request.accept_encodings
    for coding, suffix in ENCODINGS:
        copy = path.with_name(path.name + suffix)
        if accepted.quality(coding) > 0 and copy.is_file():
            return coding, copy
    return None, path


def send_asset(request: Request, static_dir: Path, name: str) -> Response:
    """The bundle's file ``name`` (a 404 for anything outside ``static_dir`` or missing; the
    compressed copies are not files of their own to ask for)."""
    joined = safe_join(str(static_dir), name)
    if joined is None or name.endswith(tuple(suffix for _, suffix in ENCODINGS)):
        abort(404)
    path = Path(joined)
    if not path.is_file():
        abort(404)
    coding, sent = chosen_encoding(request, path)
    response = send_file(
        sent,
        mimetype=media_type(name),
        etag=f"{name}.{coding}" if coding else name,
        max_age=MAX_AGE_S,
        conditional=True,
    )
    response.headers.pop("Content-Disposition", None)  # the name is the asked one, not the copy's
    if coding:
        response.headers["Content-Encoding"] = coding
    response.vary.add("Accept-Encoding")
    response.headers["Cache-Control"] = f"public, max-age={MAX_AGE_S}, immutable"
    return response
