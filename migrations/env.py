"""Alembic environment for gilmok: spatial-aware through GeoAlchemy2's alembic helpers.

The database URL comes from the Alembic config (``gilmok db upgrade`` sets it from the
settings) or, for a bare ``alembic`` call, from ``GILMOK_DATABASE_URL``.
"""

from __future__ import annotations

import os

from alembic import context
from geoalchemy2 import alembic_helpers
from sqlalchemy import engine_from_config, pool

from geo.store.models import Base

config = context.config
target_metadata = Base.metadata


def _include_object(obj, name, obj_type, reflected, compare_to):  # type: ignore[no-untyped-def]
    # PostGIS's own tables (spatial_ref_sys, topology, pgRouting's) are not gilmok's.
    if obj_type == "table" and reflected and compare_to is None:
        return False
    return alembic_helpers.include_object(obj, name, obj_type, reflected, compare_to)


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    return url or os.environ.get("GILMOK_DATABASE_URL", "")


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        include_object=_include_object,
        process_revision_directives=alembic_helpers.writer,
        render_item=alembic_helpers.render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is None:
        section = dict(config.get_section(config.config_ini_section) or {})
        section["sqlalchemy.url"] = _url()
        connectable = engine_from_config(section, prefix="sqlalchemy.", poolclass=pool.NullPool)
        with connectable.connect() as connection:
            _run(connection)
    else:
        _run(connectable)


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=_include_object,
        process_revision_directives=alembic_helpers.writer,
        render_item=alembic_helpers.render_item,
        compare_type=True,
        compare_server_default=False,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
