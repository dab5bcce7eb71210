"""The evidence store's API. Every text written passes through secret masking first."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, and_, exists, func, insert, literal, select, update
from sqlalchemy.exc import SQLAlchemyError

from phasegate import secrets
from phasegate.errors import StoreError
from phasegate.observation import Observation
from phasegate.store import checks, database, elapsed, sqlite_health, tables
from phasegate.store.records import (
    ArtifactRecord,
    FailureRecord,
    RunBundle,
    RunRecord,
    StepPlace,
    StepRecord,
)


def new_run_id() -> str:
    """Sortable by time, short enough to type: ``20261123-151927-a1b2c3``."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _json(data: object) -> str:
    return json.dumps(secrets.mask_data(data), sort_keys=True, default=str)


def _values(run_id: str, step_id: int | None, o: Observation) -> dict[str, Any]:
    if secrets.is_masked(o):  # the engine masked it with the secrets known now
        mask, dump = _unchanged, _plain_json
    else:
        mask, dump = secrets.mask, _json
    return dict(
        run_id=run_id, step_id=step_id, probe=o.probe, name=mask(o.name),
        params=dump(o.params), attempt=o.attempt, passed=o.passed,
        fail_fast=o.fail_fast, error=o.error, expected=mask(o.expected),
        observed=mask(o.observed), detail=mask(o.detail),
        data=dump(o.data), started_at=o.started, finished_at=o.finished,
    )


def _masked(text: str | None) -> str | None:
    return None if text is None else secrets.mask(text)


def _unchanged(text: str) -> str:
    return text


def _plain_json(data: object) -> str:
    return json.dumps(data, sort_keys=True, default=str)


class _Insert:
    """The observations INSERT compiled once, with each column's own value conversion."""

    def __init__(self, engine: Engine, keys: list[str]) -> None:
        compiled = insert(tables.observations).compile(dialect=engine.dialect, column_keys=keys)
        self.sql = str(compiled)
        self.keys = list(compiled.positiontup or keys)
        dialect = engine.dialect  # the dialect's own types: SQLite stores datetimes as text
        self.convert = [tables.observations.c[key].type.dialect_impl(dialect)
                        .bind_processor(dialect) for key in self.keys]

    def parameters(self, values: dict[str, Any]) -> list[Any]:
        return [convert(values[key]) if convert else values[key]
                for key, convert in zip(self.keys, self.convert, strict=True)]


class EvidenceStore:
    """Runs, their steps, observations and artifacts; SQLite by default, PostgreSQL by URL."""

    def __init__(self, url: str | None = None, reader: bool = False) -> None:
        self.url = url or database.default_url()
        if "://" not in self.url:  # a plain path
            self.url = f"sqlite:///{self.url}"
        self.engine: Engine = database.open_engine(self.url, reader)
        # observations come one by one, thousands per gate: for SQLite one held connection
        # (one transaction each, as before) costs a fifth of a pool checkout per insert
        self._recorder: Any = None  # a pooled DBAPI connection
        self._insert: _Insert | None = None
        self._recorder_lock = threading.Lock()

    def close(self) -> None:
        with self._recorder_lock:
            if self._recorder is not None:
                self._recorder.close()
                self._recorder = None
        self.engine.dispose()

    def _write(self, statement: Any) -> Any:
        try:
            with self.engine.begin() as connection:
                return connection.execute(statement)
        except SQLAlchemyError as exc:
            reason = getattr(exc, "orig", None) or exc
            raise StoreError(f"cannot write to the evidence store: {reason}") from None

    def start_run(
        self,
        command: str,
        *,
        plan_name: str | None = None,
        plan_path: str | None = None,
        plan_hash: str | None = None,
        meta: dict[str, Any] | None = None,
        run_id: str | None = None,
    ) -> str:
        """A running run; ``run_id`` when the caller chose it (a Temporal workflow's id)."""
        run_id = run_id or new_run_id()
        self._write(
            insert(tables.runs).values(
                id=run_id, command=command, plan_name=plan_name, plan_path=plan_path,
                plan_hash=plan_hash, status="running", started_at=_now(), summary="",
                meta=_json(meta or {}),
            )
        )
        return run_id

    def finish_run(self, run_id: str, status: str, summary: str = "") -> None:
        self._write(
            update(tables.runs).where(tables.runs.c.id == run_id).values(
                status=status, finished_at=_now(), summary=secrets.mask(summary)
            )
        )

    def update_run_meta(self, run_id: str, meta: dict[str, Any]) -> None:
        """Replace a run's meta (a verification adds its per-criterion results at the end)."""
        self._write(
            update(tables.runs).where(tables.runs.c.id == run_id).values(meta=_json(meta))
        )

    def held_step(self, key: str) -> dict[str, Any] | None:
        """What the step with this idempotency key returned (None: it never finished)."""
        query = select(tables.held_steps.c.output).where(tables.held_steps.c.key == key)
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        return None if row is None else dict(json.loads(row[0]))

    def hold_step(self, run_id: str, key: str, output: dict[str, Any]) -> None:
        """A step finished: what it returned, kept by its idempotency key (one row each)."""
        self._write(insert(tables.held_steps).values(key=key, run_id=run_id,
                                                     output=_json(output)))

    def reopen_run(self, run_id: str) -> None:
        """A resumed run is running again."""
        self._write(
            update(tables.runs).where(tables.runs.c.id == run_id).values(
                status="running", finished_at=None
            )
        )

    def start_step(self, run_id: str, stage: str, name: str, timeout: float | None = None,
                   place: StepPlace | None = None) -> int:
        """A running step; ``place`` says where it belongs in the plan (kind, phase, …)."""
        where = place or StepPlace()
        result = self._write(
            insert(tables.steps).values(
                run_id=run_id, stage=stage, name=secrets.mask(name), status="running",
                started_at=_now(), timeout=timeout, detail="", kind=where.kind,
                phase=_masked(where.phase), phase_index=where.phase_index,
                tracer=_masked(where.tracer),
            )
        )
        return int(result.inserted_primary_key[0])

    def record_journal(self, step_id: int, entries: Sequence[dict[str, Any]]) -> None:
        """What an apply step applied (rollback reads it back): each object's ref, action,
        source and state before, as plain data attached to the step."""
        self._write(update(tables.steps).where(tables.steps.c.id == step_id).values(
            journal=_json(list(entries))))

    def record_fingerprints(self, step_id: int, files: dict[str, str]) -> None:
        """The digest of each manifest file an apply step rendered (resume compares them)."""
        self._write(update(tables.steps).where(tables.steps.c.id == step_id).values(
            fingerprints=_json(files)))

    def finish_step(self, step_id: int, status: str, detail: str = "") -> None:
        now, steps = _now(), tables.steps
        duration = elapsed.seconds(self.engine.dialect.name, steps.c.started_at,
                                   literal(now, steps.c.finished_at.type))
        self._write(
            update(steps).where(steps.c.id == step_id).values(
                status=status, finished_at=now, detail=secrets.mask(detail), duration=duration
            )
        )

    def record(self, run_id: str, step_id: int | None, observation: Observation) -> int:
        return self.record_many(run_id, step_id, [observation])[-1]

    def record_many(self, run_id: str, step_id: int | None,
                    observations: Sequence[Observation]) -> list[int]:
        """Observations of one step in one transaction (all or none); their ids, in order.
        A gate hands over what piled up while the last write ran: a transaction per
        observation was most of the cost of recording 10,000 of them."""
        rows = [_values(run_id, step_id, o) for o in observations]
        if not rows:
            return []
        if self.engine.dialect.name != "sqlite":
            try:
                with self.engine.begin() as connection:
                    results = [connection.execute(insert(tables.observations).values(**row))
                               for row in rows]
            except SQLAlchemyError as exc:
                reason = getattr(exc, "orig", None) or exc
                raise StoreError(f"cannot write to the evidence store: {reason}") from None
            return [int(r.inserted_primary_key[0]) for r in results]  # type: ignore[index]
        with self._recorder_lock:
            try:
                return self._record_sqlite(rows)
            except BaseException as exc:
                self._drop_recorder()
                if isinstance(exc, sqlite3.Error):
                    if getattr(exc, "sqlite_errorname", "") in sqlite_health.DAMAGED:
                        raise sqlite_health.classify(database.sqlite_path(self.url),
                                                     exc) from None
                    raise StoreError(f"cannot write to the evidence store: {exc}") from None
                raise

    def _record_sqlite(self, rows: list[dict[str, Any]]) -> list[int]:
        """One transaction on a held DBAPI connection: SQLAlchemy's per-statement work was
        most of the cost of recording 10,000 observations."""
        if self._insert is None:
            self._insert = _Insert(self.engine, list(rows[0]))
        if self._recorder is None:
            self._recorder = self.engine.raw_connection()
        statement = self._insert
        cursor = self._recorder.cursor()
        try:
            cursor.execute("BEGIN IMMEDIATE")
            try:
                ids = []
                for row in rows:  # one execute each: lastrowid is each row's id
                    cursor.execute(statement.sql, statement.parameters(row))
                    ids.append(int(cursor.lastrowid or 0))
                cursor.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    cursor.execute("ROLLBACK")
                raise
        finally:
            cursor.close()
        return ids

    def _drop_recorder(self) -> None:
        recorder, self._recorder = self._recorder, None
        if recorder is not None:
            with contextlib.suppress(Exception):  # the first error is the one to report
                recorder.close()

    def add_artifact(
        self,
        run_id: str,
        name: str,
        content: str,
        media_type: str = "text/plain",
        observation_id: int | None = None,
    ) -> int:
        result = self._write(
            insert(tables.artifacts).values(
                run_id=run_id, observation_id=observation_id, name=name, media_type=media_type,
                content=secrets.mask(content), created_at=_now(),
            )
        )
        return int(result.inserted_primary_key[0])

    def find_artifact(self, name: str) -> str | None:
        """The content of the newest artifact called ``name``, in any run (None: none is)."""
        artifacts = tables.artifacts
        query = (select(artifacts.c.content).where(artifacts.c.name == name)
                 .order_by(artifacts.c.id.desc()).limit(1))
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        return None if row is None else str(row[0])

    def run(self, run_id: str) -> RunRecord | None:
        """The run with exactly this id, without its steps (None: no such run)."""
        query = select(tables.runs).where(tables.runs.c.id == run_id)
        with self.engine.connect() as connection:
            row = connection.execute(query).mappings().first()
        return None if row is None else _run(row)

    def runs(self, limit: int = 20) -> list[RunRecord]:
        query = select(tables.runs).order_by(tables.runs.c.started_at.desc(),
                                             tables.runs.c.id.desc()).limit(limit)
        with self.engine.connect() as connection:
            return [_run(row) for row in connection.execute(query).mappings()]

    def find_runs(
        self,
        *,
        commands: Sequence[str] | None = None,
        plan_name: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
        oldest_first: bool = False,
        plan_paths: Sequence[str] | None = None,
        statuses: Sequence[str] | None = None,
        offset: int = 0,
    ) -> list[RunRecord]:
        """Runs by command, plan (or task) name or plan file, status and start time, newest
        first by default; ``offset`` skips that many (pages of a long list)."""
        runs = tables.runs
        query = select(runs)
        if commands is not None:
            query = query.where(runs.c.command.in_(list(commands)))
        if statuses is not None:
            query = query.where(runs.c.status.in_(list(statuses)))
        if plan_name is not None:
            query = query.where(runs.c.plan_name == plan_name)
        if plan_paths is not None:
            query = query.where(runs.c.plan_path.in_(list(plan_paths)))
        if since is not None:
            query = query.where(runs.c.started_at >= self._bound(since))
        if until is not None:
            query = query.where(runs.c.started_at <= self._bound(until))
        order = (runs.c.started_at, runs.c.id) if oldest_first else (
            runs.c.started_at.desc(), runs.c.id.desc())
        query = query.order_by(*order)
        if limit is not None:
            query = query.limit(limit)
        if offset:
            query = query.offset(offset)
        with self.engine.connect() as connection:
            return [_run(row) for row in connection.execute(query).mappings()]

    def run_choices(self) -> dict[str, list[str]]:
        """The plans, commands and statuses runs were recorded with: what a list of runs
        can be filtered by."""
        runs = tables.runs
        found: dict[str, list[str]] = {}
        with self.engine.connect() as connection:
            for key, column in (("plans", runs.c.plan_name), ("commands", runs.c.command),
                                ("statuses", runs.c.status)):
                query = select(column).where(column.is_not(None)).distinct().order_by(column)
                found[key] = [str(row[0]) for row in connection.execute(query)]
        return found

    def failures(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> list[FailureRecord]:
        """Every check whose last attempt in its step failed, and every step that failed
        without a check, oldest first: the raw material of retrospectives and patterns."""
        runs, steps, observations = tables.runs, tables.steps, tables.observations
        window = []
        if since is not None:
            window.append(runs.c.started_at >= self._bound(since))
        if until is not None:
            window.append(runs.c.started_at <= self._bound(until))
        # every observation of a step that did not pass: which failures are final, and which
        # are causes rather than progress cut short, is decided per check, not in SQL. A step
        # that passed had no check fail at its last attempt (its earlier ones are progress):
        # leaving them out spares reading every attempt of every gate that ever passed.
        unpassed = steps.c.status != "passed"
        failed_steps = select(steps.c.id).where(unpassed)
        their_runs = select(steps.c.run_id).where(unpassed)  # observations are indexed by run
        checks_query = (
            select(observations, steps.c.stage.label("step_stage"),
                   steps.c.name.label("step_name"), steps.c.status.label("step_status"),
                   steps.c.detail.label("step_detail"), steps.c.kind.label("step_kind"))
            .join(steps, steps.c.id == observations.c.step_id)
            .join(runs, runs.c.id == observations.c.run_id)
            .where(observations.c.run_id.in_(their_runs),
                   observations.c.step_id.in_(failed_steps), *window)
            .order_by(observations.c.id)
        )
        bare = (
            select(steps)
            .join(runs, runs.c.id == steps.c.run_id)
            .where(steps.c.status.in_(FAILED_STEP_STATUSES), *window,
                   # by run first: observations are indexed by run, not by step, and
                   # a scan of every observation per failed step took minutes on 1,000,000
                   ~exists().where(and_(observations.c.run_id == steps.c.run_id,
                                        observations.c.step_id == steps.c.id)))
        )
        with self.engine.connect() as connection:
            observation_rows = connection.execute(checks_query).mappings().all()
            step_rows = connection.execute(bare).mappings().all()
            run_ids = {row["run_id"] for row in [*observation_rows, *step_rows]}
            run_rows = connection.execute(
                select(runs).where(runs.c.id.in_(sorted(run_ids)))
            ).mappings().all() if run_ids else []
        by_id = {row["id"]: _run(row) for row in run_rows}
        by_step: dict[int, list[Any]] = {}
        for row in observation_rows:
            by_step.setdefault(row["step_id"], []).append(row)
        found = []
        for rows in by_step.values():
            step = rows[0]
            for check in checks.of([_observation(row) for row in rows]):
                if check.failed:
                    found.append(FailureRecord(
                        by_id[step["run_id"]], step["step_stage"], step["step_name"],
                        step["step_status"], check.last, step["step_detail"],
                        check.last.finished, step["step_kind"]))
        found += [
            FailureRecord(by_id[row["run_id"]], row["stage"], row["name"], row["status"], None,
                          row["detail"], _utc(row["finished_at"] or row["started_at"]) or _now(),
                          row["kind"])
            for row in step_rows
        ]
        return sorted(found, key=lambda f: (f.at, f.run.id))

    def count_observations(self, run_id: str | None = None) -> int:
        query = select(func.count()).select_from(tables.observations)
        if run_id:
            query = query.where(tables.observations.c.run_id == run_id)
        with self.engine.connect() as connection:
            return int(connection.execute(query).scalar_one())

    def resolve(self, ref: str) -> str:
        """A run id from a full id, a unique prefix, or ``latest``."""
        runs = tables.runs
        with self.engine.connect() as connection:
            if ref in ("latest", "last", "@"):
                row = connection.execute(
                    select(runs.c.id).order_by(runs.c.started_at.desc(), runs.c.id.desc())
                    .limit(1)
                ).first()
                if row is None:
                    raise StoreError(f"the store {self.describe()} holds no runs yet")
                return str(row[0])
            matches = [str(r[0]) for r in connection.execute(
                select(runs.c.id).where(runs.c.id.startswith(ref, autoescape=True)).limit(5)
            )]
        if not matches:
            raise StoreError(f"no run '{ref}' in {self.describe()} (see: phasegate runs)")
        if len(matches) > 1:
            raise StoreError(f"run '{ref}' is ambiguous: {', '.join(matches)}")
        return matches[0]

    def load(self, ref: str) -> RunBundle:
        run_id = self.resolve(ref)
        with self.engine.connect() as connection:
            run_row = connection.execute(
                select(tables.runs).where(tables.runs.c.id == run_id)
            ).mappings().one()
            step_rows = connection.execute(
                select(tables.steps).where(tables.steps.c.run_id == run_id)
                .order_by(tables.steps.c.id)
            ).mappings().all()
            observation_rows = connection.execute(
                select(tables.observations).where(tables.observations.c.run_id == run_id)
                .order_by(tables.observations.c.id)
            ).mappings().all()
            artifact_rows = connection.execute(
                select(tables.artifacts).where(tables.artifacts.c.run_id == run_id)
                .order_by(tables.artifacts.c.id)
            ).mappings().all()
        by_step: dict[int | None, list[Observation]] = {}
        for row in observation_rows:
            by_step.setdefault(row["step_id"], []).append(_observation(row))
        steps = [_step(row, by_step.get(row["id"], [])) for row in step_rows]
        if None in by_step:  # observations recorded outside any step
            steps.append(StepRecord(0, "-", "probes", "done", _run(run_row).started, None, None,
                                    "", tuple(by_step[None])))
        artifacts = tuple(
            ArtifactRecord(r["id"], r["name"], r["media_type"], r["content"], r["observation_id"])
            for r in artifact_rows
        )
        return RunBundle(_run(run_row), tuple(steps), artifacts)

    def _bound(self, moment: datetime) -> datetime:
        """A time to compare with stored ones, in UTC (SQLite keeps naive UTC text)."""
        utc = (moment if moment.tzinfo else moment.astimezone()).astimezone(UTC)
        return utc.replace(tzinfo=None) if self.engine.dialect.name == "sqlite" else utc

    def describe(self) -> str:
        return database.safe_url(self.url)


FAILED_STEP_STATUSES = ("failed", "error", "refused", "timed out")


def _run(row: Any) -> RunRecord:
    return RunRecord(
        id=row["id"], command=row["command"], plan_name=row["plan_name"],
        plan_path=row["plan_path"], plan_hash=row["plan_hash"], status=row["status"],
        started=_utc(row["started_at"]) or _now(), finished=_utc(row["finished_at"]),
        summary=row["summary"], meta=json.loads(row["meta"] or "{}"),
    )


def _step(row: Any, observations: list[Observation]) -> StepRecord:
    return StepRecord(
        id=row["id"], stage=row["stage"], name=row["name"], status=row["status"],
        started=_utc(row["started_at"]) or _now(), finished=_utc(row["finished_at"]),
        timeout=row["timeout"], detail=row["detail"], observations=tuple(observations),
        kind=row["kind"] or "", phase=row["phase"], phase_index=row["phase_index"],
        tracer=row["tracer"], journal=tuple(json.loads(row["journal"] or "[]")),
        fingerprints=json.loads(row["fingerprints"] or "{}"),
    )


def _observation(row: Any) -> Observation:
    return Observation(
        probe=row["probe"], name=row["name"], params=json.loads(row["params"]),
        passed=bool(row["passed"]), expected=row["expected"], observed=row["observed"],
        detail=row["detail"], started=_utc(row["started_at"]) or _now(),
        finished=_utc(row["finished_at"]) or _now(), attempt=row["attempt"],
        fail_fast=bool(row["fail_fast"]), error=bool(row["error"]), data=json.loads(row["data"]),
    )
