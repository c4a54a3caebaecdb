"""The stream relay's errors: down, refusing gilmok, or unable to pull a camera.

Domain errors like the others (subclasses of :class:`geo.errors.GilmokError`), so the one error
map (:mod:`api.errors`) answers them; they live beside the relay adapters that raise them,
since nothing in the spatial core talks to a relay.
"""

from __future__ import annotations

from geo.errors import GilmokError


class RelayUnavailable(GilmokError):
    """The stream relay cannot be reached."""

    code = "relay_unavailable"


class CameraSourceUnavailable(GilmokError):
    """A camera's video source cannot be reached or refused the relay (the relay itself is up).

    The message never contains the source URL: it may hold the camera's credentials.
    """

    code = "camera_source_unavailable"


class RelayRefused(GilmokError):
    """The stream relay is up but refused gilmok's own credentials (a configuration mismatch)."""

    code = "relay_refused"
