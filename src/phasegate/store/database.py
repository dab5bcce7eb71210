"""Opening a store: SQLite under ``.phasegate/`` by default (WAL), PostgreSQL by URL.

Several processes may write one SQLite store at once: each write transaction starts with
``BEGIN IMMEDIATE`` and waits for the lock (busy timeout) instead of failing, and schema
migrations are serialised by a file lock.
"""

from __future__ import annotations

import fcntl
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.exc import SQLAlchemyError

from phasegate.errors import StoreError
from phasegate.store import sqlite_health
from phasegate.store.tables import HEAD_REVISION

DEFAULT_DIR = ".phasegate"
BUSY_TIMEOUT_MS = 60_000


def default_url(root: Path | None = None) -> str:
    base = (root or Path.cwd()) / DEFAULT_DIR
    return f"sqlite:///{base / 'evidence.db'}"


def open_engine(url: str, reader: bool = False) -> Engine:
    """An engine for ``url`` with the schema at the current revision. A ``reader`` (the
    dashboard) starts its SQLite transactions deferred: pages rendered while a run records
    must never queue that run's writes behind them."""
    _register_password(url)
    if url.startswith("sqlite:"):
        engine = _sqlite_engine(url, reader)
    elif url.startswith(("postgresql:", "postgresql+")):
        engine = _postgres_engine(url)
    else:
        raise StoreError(
            f"unsupported store URL scheme in {safe_url(url)!r}: use a path, sqlite:///FILE "
            "or postgresql://HOST/DB"
        )
    try:
        _migrate(engine, url)
    except StoreError:
        engine.dispose()
        raise
    except SQLAlchemyError as exc:
        reason = " ".join(str(getattr(exc, "orig", None) or exc).split())  # one paragraph
        raise StoreError(f"cannot open the evidence store {safe_url(url)}: {reason}") from None
    return engine


def _sqlite_engine(url: str, reader: bool = False) -> Engine:
    path = url.split("sqlite:///", 1)[-1]
    if path and path != ":memory:":
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the store directory for {path}: {exc}") from None
        sqlite_health.check(path)  # read-only, before the first connection may write
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "handle_error")
    def _on_error(context: Any) -> None:
        # damage the quick check at open did not reach (or that came later) is still a
        # paragraph naming the file, never a traceback from whichever query met it first
        original = context.original_exception
        if getattr(original, "sqlite_errorname", "") in sqlite_health.DAMAGED:
            raise sqlite_health.classify(path, original) from None

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock up front, so concurrent writers queue on the busy
        # timeout instead of failing with "database is locked" on lock upgrade.
        connection.exec_driver_sql("BEGIN" if reader else "BEGIN IMMEDIATE")

    return engine


def sqlite_path(url: str) -> str:
    return url.split("sqlite:///", 1)[-1]


def _postgres_engine(url: str) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    try:
        return create_engine(url, pool_pre_ping=True)
    except ModuleNotFoundError:
        raise StoreError(
            "PostgreSQL stores need the driver: pip install 'phasegate[postgres]'"
        ) from None


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        row = connection.execute(text("SELECT version_num FROM alembic_version")).first()
        return str(row[0]) if row else None


def _migrate(engine: Engine, url: str) -> None:
    if current_revision(engine) == HEAD_REVISION:
        return  # the common case costs one query and never imports Alembic
    lock_path = _lock_path(url)
    if lock_path is None:
        _upgrade(engine)
        return
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if current_revision(engine) != HEAD_REVISION:
                _upgrade(engine)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _lock_path(url: str) -> Path | None:
    if not url.startswith("sqlite:///") or url.endswith(":memory:"):
        return None
    return Path(url.split("sqlite:///", 1)[1] + ".migrate.lock")


def _upgrade(engine: Engine) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(7125531)"))
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def _register_password(url: str) -> None:
    from sqlalchemy.engine import make_url

    from phasegate import secrets

    try:
        secrets.register(make_url(url).password)
    except Exception:  # a malformed URL is reported by create_engine, with a clear message
        return


def safe_url(url: str) -> str:
    """The URL without its password."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<store URL>"
