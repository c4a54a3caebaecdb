"""The database settings: the PostGIS database and the two roles that log in to it.

Beside the store because the URL is parsed and kept as SQLAlchemy's :class:`~sqlalchemy.engine.URL`;
the pure core never loads it (``geo.settings`` holds the machinery, :mod:`api.settings` the whole).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field, ValidationInfo, field_validator
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from geo.errors import ConfigurationError
from geo.settings import SettingsGroup

#: The service's login role: not the schema's owner (scripts/setup.sh creates both roles).
DEFAULT_DATABASE_URL = "postgresql+psycopg://gilmok_service:gilmok_service@127.0.0.1:5432/gilmok"
#: The owner's credentials, used on the service URL's server and database when
#: ``GILMOK_OWNER_DATABASE_URL`` is unset (the development roles of scripts/setup.sh).
DEFAULT_OWNER_USER = "gilmok"
DEFAULT_OWNER_PASSWORD = "gilmok"


def _default_owner_url() -> URL:
    return make_url(DEFAULT_DATABASE_URL).set(
        username=DEFAULT_OWNER_USER, password=DEFAULT_OWNER_PASSWORD
    )


def _parse_url(raw: str, *, name: str = "GILMOK_DATABASE_URL") -> URL:
    try:
        url = make_url(raw)
    except ArgumentError as exc:
        raise ConfigurationError(
            f"{name} is not a database URL "
            "(expected postgresql+psycopg://USER:PASSWORD@HOST:PORT/DBNAME)"
        ) from exc
    if url.get_backend_name() != "postgresql":
        raise ConfigurationError(
            f"{name} must point at PostgreSQL/PostGIS, not {url.get_backend_name()!r}"
        )
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    if not url.database:
        raise ConfigurationError(f"{name} names no database")
    return url


class DatabaseSettings(SettingsGroup):
    """The PostGIS database and the two roles that log in to it.

    Attributes
    ----------
    database_url
        SQLAlchemy URL of the PostGIS database as the service's login role
        (``GILMOK_DATABASE_URL``, ``postgresql+psycopg://...``): the API, the worker and every
        command that only reads or writes rows. The role must not own the schema.
    owner_database_url
        The same database as the schema's owner (``GILMOK_OWNER_DATABASE_URL``): migrations and
        imports. Default: ``database_url``'s server and database as the development owner
        ``gilmok`` (password ``gilmok``).
    """

    database_url: URL = Field(default_factory=lambda: make_url(DEFAULT_DATABASE_URL))
    owner_database_url: URL = Field(default_factory=_default_owner_url)

    @classmethod
    def variables(cls, environ: Mapping[str, str]) -> dict[str, Any]:
        found = super().variables(environ)
        if "owner_database_url" not in found:
            # The owner follows the service's database: a migration never lands elsewhere.
            service = _parse_url(found.get("database_url", DEFAULT_DATABASE_URL))
            found["owner_database_url"] = service.set(
                username=DEFAULT_OWNER_USER, password=DEFAULT_OWNER_PASSWORD
            )
        return found

    @field_validator("database_url", "owner_database_url", mode="before")
    @classmethod
    def _url(cls, raw: Any, info: ValidationInfo) -> Any:
        name = f"GILMOK_{str(info.field_name).upper()}"
        return _parse_url(raw, name=name) if isinstance(raw, str) else raw

    @property
    def safe_database_url(self) -> str:
        """The database URL with its password hidden, for messages and logs."""
        return self.database_url.render_as_string(hide_password=True)

    @property
    def safe_owner_database_url(self) -> str:
        """The owner's database URL with its password hidden."""
        return self.owner_database_url.render_as_string(hide_password=True)
