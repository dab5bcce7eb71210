"""Steps keep their duration (seconds from start to finish), written when they finish:
``/metrics`` adds up every finished gate's duration at each scrape, and computing 40,000 of
them from their times there was most of its work. The steps finished before this revision
get theirs here, computed the way ``store.elapsed`` computes it now (frozen below: it must
not follow later changes).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_steps = sa.table("steps", sa.column("started_at", sa.DateTime(timezone=True)),
                  sa.column("finished_at", sa.DateTime(timezone=True)),
                  sa.column("duration", sa.Float))


def upgrade() -> None:
    op.add_column("steps", sa.Column("duration", sa.Float))
    connection = op.get_bind()
    start, end = _steps.c.started_at, _steps.c.finished_at
    seconds: sa.ColumnElement[Any]
    if connection.dialect.name == "sqlite":
        seconds = sa.func.round((sa.func.julianday(end) - sa.func.julianday(start)) * 86400.0,
                                3)
    else:
        seconds = sa.extract("epoch", end - start)
    connection.execute(sa.update(_steps).where(end.is_not(None)).values(duration=seconds))


def downgrade() -> None:
    with op.batch_alter_table("steps") as batch:
        batch.drop_column("duration")
