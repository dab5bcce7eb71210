"""The store row: can phasegate write its evidence, and is the schema one it knows?

Asked without changing anything: a missing SQLite store is not created (its directory is
checked instead), an existing one is read-only checked for damage, its schema revision
read, and a write tried inside a transaction that is rolled back.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from phasegate.doctor import report
from phasegate.doctor.report import Row
from phasegate.errors import StoreError
from phasegate.store import database, sqlite_health
from phasegate.store.tables import HEAD_REVISION

CHECK = "store"


def row(url: str | None) -> Row:
    url = url or database.default_url()
    if "://" not in url:  # a plain path, as EvidenceStore takes it
        url = f"sqlite:///{url}"
    shown = database.safe_url(url)
    if url.startswith("sqlite:///") and not url.endswith(":memory:"):
        path = Path(database.sqlite_path(url))
        if not path.exists():
            return _new_file(path)
        try:
            sqlite_health.check(str(path))
        except StoreError as exc:
            return report.fail(CHECK, str(exc), "move the file aside (keep it: it is "
                               "evidence) or name another store with --store")
    elif url.startswith(("postgresql:", "postgresql+")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    else:
        return report.fail(CHECK, f"unsupported store URL {shown!r}",
                           "use a path, sqlite:///FILE or postgresql://HOST/DB")
    return _existing(url, shown)


def _new_file(path: Path) -> Row:
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        return report.fail(CHECK, f"{path} cannot be created: {parent} is not a directory",
                           "name a store in a writable directory with --store (or "
                           "PHASEGATE_STORE)")
    if not os.access(parent, os.W_OK | os.X_OK):
        return report.fail(CHECK, f"{path} cannot be created: {parent} is not writable",
                           f"make {parent} writable, or name another store with --store")
    return report.ok(CHECK, f"{path} does not exist yet: the first run creates it")


def _existing(url: str, shown: str) -> Row:
    try:
        engine = create_engine(url)
    except ModuleNotFoundError:
        return report.fail(CHECK, f"{shown}: the PostgreSQL driver is not installed",
                           "pip install 'phasegate[postgres]'")
    try:
        with engine.connect() as connection:
            revision = database.current_revision(engine)
            if revision is not None:
                probe = connection.begin()
                connection.execute(text("UPDATE alembic_version SET version_num = version_num"))
                probe.rollback()
    except SQLAlchemyError as exc:
        reason = " ".join(str(getattr(exc, "orig", None) or exc).split())
        return report.fail(CHECK, f"{shown} cannot be written: {reason}",
                           "check the file's (or the database role's) write permission, or "
                           "name another store with --store")
    finally:
        engine.dispose()
    if revision == HEAD_REVISION:
        return report.ok(CHECK, f"{shown}, writable, schema {revision} (current)")
    if revision is None or revision < HEAD_REVISION:
        return report.ok(CHECK, f"{shown}, writable, schema {revision or 'none yet'}: the next "
                         f"command migrates it to {HEAD_REVISION}")
    return report.fail(CHECK, f"{shown} has schema {revision}, newer than this phasegate's "
                       f"{HEAD_REVISION}", "upgrade phasegate (a newer version wrote this store)")
