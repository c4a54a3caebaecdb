"""Domain errors of gilmok, free of HTTP: the API maps each one to a status exactly once.

Every message is meant to be read by a person in a situation room or at a terminal: it names
what is wrong and, where it helps, what to do. Messages never contain secrets (passwords,
camera source URLs, relay keys).
"""

from __future__ import annotations

from typing import Any


class GilmokError(Exception):
    """Base of every error gilmok raises on purpose.

    ``code`` is a stable machine-readable identifier, ``details`` a JSON-serialisable dict.
    """

    code = "gilmok_error"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class ConfigurationError(GilmokError):
    """A ``GILMOK_*`` setting is missing or invalid."""

    code = "configuration_error"


class DatabaseUnavailable(GilmokError):
    """The database cannot be reached (server down, wrong host, wrong password)."""

    code = "database_unavailable"


class StatementTimeout(GilmokError):
    """The database cancelled a statement that ran past its time limit; its transaction was
    rolled back, so nothing it was writing was kept."""

    code = "statement_timeout"


class SchemaOutOfDate(GilmokError):
    """The database is reachable but not migrated to the code's schema."""

    code = "schema_out_of_date"


class InvalidInput(GilmokError):
    """A value given by a caller or a file is malformed or out of range."""

    code = "invalid_input"


class ImportFileError(GilmokError):
    """A whole input file is unusable (wrong kind of file, unknown header, truncated)."""

    code = "import_file_error"


class NotFound(GilmokError):
    """A referenced object (camera, incident, activation, ...) does not exist."""

    code = "not_found"


class OutsideCoverageArea(GilmokError):
    """An incident point is outside the loaded data or too far from any road."""

    code = "outside_coverage_area"


class NoRoadData(GilmokError):
    """No road network is loaded, so network cordons cannot be computed."""

    code = "no_road_data"


class NoLegalBasis(GilmokError):
    """No active legal basis (activation) covers the incident: video may not be provided."""

    code = "no_legal_basis"


class CameraOutsideActivation(NoLegalBasis):
    """A requested camera stands outside the area of every activation in force that covers the
    incident: its video may not be provided (a kind of :class:`NoLegalBasis`, answered alike)."""


class Forbidden(GilmokError):
    """The caller's role or organization may not do this."""

    code = "forbidden"


class Conflict(GilmokError):
    """The request conflicts with the current state (e.g. closing a closed incident)."""

    code = "conflict"
