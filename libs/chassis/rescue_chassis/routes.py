"""Endpoints every service has: health for orchestrators, ops for the on-call engineer."""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import func, select, text

from rescue_chassis.audit.middleware import write_record
from rescue_chassis.auth import PrincipalDep, Role, require_roles
from rescue_chassis.problems import Problem
from rescue_chassis.runtime import Runtime, RuntimeDep
from rescue_events.consumer import DeadLetterClosed, ReplayFailed
from rescue_events.driver import table_name
from rescue_events.relay import OutboxRelay

log = logging.getLogger(__name__)

health = APIRouter(prefix="/health", tags=["health"])
ops = APIRouter(prefix="/ops", tags=["ops"], dependencies=[require_roles(Role.OPS, Role.ADMIN)])


@health.get("/live")
async def live() -> dict[str, str]:
    """The process answers (the liveness probe): nothing else is checked."""
    return {"status": "live"}


def broker_status(relay: OutboxRelay) -> dict:
    """What this process knows of the broker: its relay's watch asks every second."""
    state = relay.watch.state
    away = relay.watch.away_since
    return {
        "broker": "connected" if state.reachable else "away",
        "broker_error": None if state.reachable else state.error,
        "broker_away_seconds": None if away is None else round(time.monotonic() - away, 1),
        "broker_cluster_id": state.cluster_id,
    }


_NOT_READY = {
    "description": "Not ready: the database does not answer (the body says what failed).",
    "content": {"application/json": {"example": {"status": "not ready", "database": "down"}}},
}
_NO_CONSUMER = {"description": "This service consumes no events."}
_CLOSED = {"description": "The dead letter was replayed or discarded already, or still fails."}


@health.get("/ready", responses={503: _NOT_READY})
async def ready(runtime: RuntimeDep) -> JSONResponse:
    """Whether the service can do its work (the readiness probe): the database
    answers; the broker, relay, consumer and outbox backlog are reported."""
    # Ready means the database answers: without it nothing can be recorded.
    # The broker is reported but does not gate readiness: admissions must go
    # on while Kafka is away (the outbox holds the events, counted here).
    outbox = table_name(runtime.tables.plumbing.outbox)
    backlog = text(
        "select count(*), extract(epoch from now() - min(created_at)) "
        f"from {outbox} where published_at is null"
    )

    async def ping():
        async with runtime.engine.connect() as conn:
            return (await conn.execute(backlog)).one()

    waiting = None
    try:
        # Bound the whole check, connect included: a probe must answer.
        count, age = await asyncio.wait_for(ping(), timeout=2)
        database = "up"
        waiting = {
            "unpublished": count,
            "oldest_age_seconds": None if age is None else round(float(age), 1),
        }
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        database = f"down: {type(exc).__name__}"
    body = {
        "status": "ready" if database == "up" else "not ready",
        "database": database,
        **broker_status(runtime.relay),
        "relay_connected": runtime.relay.connected,
        # Of the service's replicas, the one whose relay publishes (docs/runbook.md).
        "relay_sweeping": runtime.relay.sweeping,
        "consumer_connected": runtime.consumer.connected if runtime.consumer else None,
        "outbox": waiting,
    }
    return JSONResponse(body, status_code=200 if database == "up" else 503)


class TopicBacklog(BaseModel):
    topic: str
    unpublished: int
    oldest_created_at: datetime | None
    retained: int  # published, kept for re-publishing


class Republished(BaseModel):
    at: datetime
    reason: str
    rows: int
    topics: dict[str, int]


class RelayStatus(BaseModel):
    connected: bool
    sweeping: bool
    broker: str  # connected | away
    broker_error: str | None
    broker_away_seconds: float | None
    broker_cluster_id: str | None
    republished_total: int  # by this process since it started
    republications: list[Republished]  # the latest, newest last


class OutboxBacklog(BaseModel):
    unpublished: int
    oldest_created_at: datetime | None
    oldest_age_seconds: float | None  # by the database's clock
    max_attempts: int | None
    retained: int
    oldest_published_at: datetime | None
    retention_seconds: float | None
    topics: list[TopicBacklog]
    relay: RelayStatus


def _relay_status(relay: OutboxRelay) -> RelayStatus:
    return RelayStatus(
        connected=relay.connected,
        sweeping=relay.sweeping,
        **broker_status(relay),
        republished_total=relay.republished_total,
        republications=[Republished(**vars(r)) for r in relay.republications],
    )


@ops.get("/outbox", response_model=OutboxBacklog)
async def outbox_backlog(runtime: RuntimeDep) -> OutboxBacklog:
    """Events waiting to be published (per topic too), those kept after publishing,
    and what the relay knows of the broker."""
    t = runtime.tables.plumbing.outbox
    waiting = t.c.published_at.is_(None)
    async with runtime.sessions() as session:
        rows = (
            await session.execute(
                select(
                    t.c.topic,
                    func.count().filter(waiting),
                    func.min(t.c.created_at).filter(waiting),
                    func.max(t.c.attempts).filter(waiting),
                    func.count().filter(t.c.published_at.is_not(None)),
                    func.min(t.c.published_at),
                    func.now(),
                ).group_by(t.c.topic)
            )
        ).all()
    topics = [
        TopicBacklog(topic=r[0], unpublished=r[1], oldest_created_at=r[2], retained=r[4])
        for r in rows
    ]
    oldest = min((r[2] for r in rows if r[2] is not None), default=None)
    attempts = [r[3] for r in rows if r[3] is not None]
    published = [r[5] for r in rows if r[5] is not None]
    now = rows[0][6] if rows else datetime.now(UTC)
    return OutboxBacklog(
        unpublished=sum(r[1] for r in rows),
        oldest_created_at=oldest,
        oldest_age_seconds=None if oldest is None else round((now - oldest).total_seconds(), 1),
        max_attempts=max(attempts) if attempts else None,
        retained=sum(r[4] for r in rows),
        oldest_published_at=min(published) if published else None,
        retention_seconds=runtime.relay.retention_seconds,
        topics=sorted(topics, key=lambda b: b.topic),
        relay=_relay_status(runtime.relay),
    )


class RepublishRequest(BaseModel):
    since: AwareDatetime = Field(
        description="Events published at or after this moment.",
        examples=["2026-03-01T06:00:00+08:00"],
    )
    topics: list[str] | None = Field(
        default=None,
        description="Only these topics (default all the service publishes).",
        examples=[["rescue.intake.events"]],
    )
    reason: str = Field(
        min_length=1,
        max_length=500,
        description="Why, for the record.",
        examples=["Kafka restored from the 06:00 backup"],
    )


@ops.post("/outbox/republish", response_model=Republished)
async def republish(
    request: RepublishRequest, runtime: RuntimeDep, principal: PrincipalDep
) -> Republished:
    """Send again every kept event published since ``since`` (after a broker lost
    records the relay could not notice itself: a topic emptied by hand, a cluster
    restored from an old backup). Consumers' inboxes skip what they applied."""
    known = {t.name for t in runtime.relay.topics}
    unknown = sorted(set(request.topics or ()) - known)
    if unknown:
        raise Problem(422, "Unknown topic", f"{runtime.name} publishes no {', '.join(unknown)}.")
    done = await runtime.relay.republish(
        request.since, request.topics, reason=f"by {principal.subject}: {request.reason}"
    )
    return Republished(**vars(done))


class ConsumerLag(BaseModel):
    topic: str
    partition: int
    committed: int | None
    end: int
    lag: int
    assigned: bool  # to the member (process) that answered


@ops.get("/consumer-lag", response_model=list[ConsumerLag], responses={404: _NO_CONSUMER})
async def consumer_lag(runtime: RuntimeDep) -> list[ConsumerLag]:
    """How far the service's consumer group is behind, per partition of every topic
    it reads (what the broker holds; the producers' unpublished events are on
    their /ops/outbox)."""
    consumer = _consumer(runtime)
    try:
        lags = await asyncio.wait_for(consumer.lag(), 5.0)
    except (ConnectionError, TimeoutError) as exc:
        raise Problem(503, "Broker unavailable", str(exc) or "The broker did not answer.") from None
    return [ConsumerLag(**vars(lag)) for lag in lags]


class PeriodicJobStatus(BaseModel):
    name: str
    runs: int
    failures: int
    last_run_at: datetime | None
    last_changed: int
    last_error: str | None


@ops.get("/periodic", response_model=list[PeriodicJobStatus])
async def periodic_jobs(runtime: RuntimeDep) -> list[PeriodicJobStatus]:
    """The deadline sweeps of this process: are they running, and failing?"""
    return [PeriodicJobStatus(name=job.name, **vars(job.status)) for job in runtime.periodic]


class DeadLetter(BaseModel):
    id: int
    consumer: str
    topic: str
    partition: int
    offset: int
    event_id: str | None
    event_type: str | None
    reason: str
    error: str
    attempts: int
    failed_at: datetime
    replayed_at: datetime | None
    discarded_at: datetime | None
    discarded_by: str | None
    discard_reason: str | None


class DeadLetterHeader(BaseModel):
    name: str
    value: str  # as text (UTF-8, undecodable bytes replaced)


class DeadLetterRecord(DeadLetter):
    """One dead letter with the record as it came."""

    message_key: str | None
    headers: list[DeadLetterHeader]
    payload: str | None  # as text (UTF-8, undecodable bytes replaced)
    payload_base64: str | None


def _consumer(runtime: Runtime):
    if runtime.consumer is None:
        raise Problem(404, "Not found", f"{runtime.name} consumes no events.")
    return runtime.consumer


def _letters_matching(
    runtime: Runtime,
    *,
    reason: str | None,
    event_type: str | None,
    topic: str | None,
    failed_after: datetime | None,
    failed_before: datetime | None,
):
    t = runtime.tables.plumbing.dead_letters
    query = select(t).where(t.c.consumer == runtime.name).order_by(t.c.id)
    for column, value in ((t.c.reason, reason), (t.c.event_type, event_type), (t.c.topic, topic)):
        if value is not None:
            query = query.where(column == value)
    if failed_after is not None:
        query = query.where(t.c.failed_at >= failed_after)
    if failed_before is not None:
        query = query.where(t.c.failed_at < failed_before)
    return query


@ops.get("/dead-letters", response_model=list[DeadLetter])
async def dead_letters(
    runtime: RuntimeDep,
    include_replayed: bool = False,
    include_discarded: bool = False,
    limit: int = 100,
    reason: str | None = None,
    event_type: str | None = None,
    topic: str | None = None,
    failed_after: AwareDatetime | None = None,
    failed_before: AwareDatetime | None = None,
) -> list[DeadLetter]:
    """Dead letters still waiting (replayed or discarded ones on request), by filter."""
    t = runtime.tables.plumbing.dead_letters
    query = _letters_matching(
        runtime,
        reason=reason,
        event_type=event_type,
        topic=topic,
        failed_after=failed_after,
        failed_before=failed_before,
    ).limit(max(1, min(limit, 1000)))
    if not include_replayed:
        query = query.where(t.c.replayed_at.is_(None))
    if not include_discarded:
        query = query.where(t.c.discarded_at.is_(None))
    async with runtime.sessions() as session:
        rows = (await session.execute(query)).mappings().all()
    return [DeadLetter.model_validate(dict(r)) for r in rows]


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("utf-8", "replace")


@ops.get("/dead-letters/{dead_letter_id}", response_model=DeadLetterRecord)
async def dead_letter(
    dead_letter_id: Annotated[int, Path(ge=1, le=2**63 - 1)], runtime: RuntimeDep
) -> DeadLetterRecord:
    """One dead letter, with the record's key, headers and payload as they came."""
    t = runtime.tables.plumbing.dead_letters
    async with runtime.sessions() as session:
        row = (
            (
                await session.execute(
                    select(t).where(t.c.id == dead_letter_id, t.c.consumer == runtime.name)
                )
            )
            .mappings()
            .first()
        )
    if row is None:
        raise Problem(404, "Not found", f"no dead letter {dead_letter_id} for {runtime.name}")
    headers = [
        DeadLetterHeader(name=name, value=_text(base64.b64decode(value)) or "")
        for name, value in row["headers"]
    ]
    return DeadLetterRecord(
        **DeadLetter.model_validate(dict(row)).model_dump(),
        message_key=_text(row["message_key"]),
        headers=headers,
        payload=_text(row["payload"]),
        payload_base64=None
        if row["payload"] is None
        else base64.b64encode(row["payload"]).decode(),
    )


class DiscardRequest(BaseModel):
    reason: str = Field(
        min_length=3,
        max_length=1000,
        description="Why it must never be applied, for the record.",
        examples=["a test record from the police sandbox"],
    )


@ops.post(
    "/dead-letters/{dead_letter_id}/discard", response_model=DeadLetter, responses={409: _CLOSED}
)
async def discard_dead_letter(
    dead_letter_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    request: DiscardRequest,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    http: Request,
) -> DeadLetter:
    """Set a dead letter aside for good (it is never replayed), on record: who,
    when and why stay with it."""
    consumer = _consumer(runtime)
    record = write_record(http.scope)

    async def entry(session) -> None:  # the audit entry commits with the discard
        if record is not None:
            await record.stage(session, principal, 200, {"id": dead_letter_id})

    try:
        await consumer.discard(
            dead_letter_id, by=principal.subject, reason=request.reason, on_record=entry
        )
    except LookupError as exc:
        raise Problem(404, "Not found", str(exc)) from None
    except DeadLetterClosed as exc:
        raise Problem(409, "Dead letter closed", str(exc)) from None
    if record is not None:
        record.committed()
    t = runtime.tables.plumbing.dead_letters
    async with runtime.sessions() as session:
        row = (await session.execute(select(t).where(t.c.id == dead_letter_id))).mappings().one()
    return DeadLetter.model_validate(dict(row))


class ReplayResult(BaseModel):
    id: int
    outcome: str


@ops.post(
    "/dead-letters/{dead_letter_id}/replay", response_model=ReplayResult, responses={409: _CLOSED}
)
async def replay_dead_letter(
    dead_letter_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    runtime: RuntimeDep,
    principal: PrincipalDep,
    http: Request,
) -> ReplayResult:
    """Apply a dead letter again through the consumer's handler (after the fault
    is fixed): applied, ignored, or a duplicate the inbox had already."""
    consumer = _consumer(runtime)
    record = write_record(http.scope)
    try:
        outcome = await consumer.replay(
            dead_letter_id, on_record=_replay_entry(record, principal, dead_letter_id)
        )
    except LookupError as exc:
        raise Problem(404, "Not found", str(exc)) from None
    except ReplayFailed as exc:
        raise Problem(
            409, "Replay failed", f"The dead letter still fails ({exc.reason}): {exc.error}"
        ) from None
    except DeadLetterClosed as exc:
        raise Problem(409, "Dead letter closed", str(exc)) from None
    if record is not None and record.staged_entries:
        record.committed()
    return ReplayResult(id=dead_letter_id, outcome=outcome.value)


def _replay_entry(record, principal, dead_letter_id: int):
    """The audit entry of one replay, staged in the replay's own transaction (the
    change and its entry commit together, or neither does)."""

    async def entry(session, outcome) -> None:
        if record is not None:
            answer = {"id": dead_letter_id, "outcome": outcome.value}
            await record.stage(session, principal, 200, answer)

    return entry


class BulkReplayRequest(BaseModel):
    """Which waiting dead letters to replay (all given filters must match)."""

    reason: str | None = Field(
        default=None,
        description="Only dead letters of this reason (handler_failed, malformed_envelope, …).",
        examples=["handler_failed"],
    )
    event_type: str | None = Field(
        default=None, description="Only events of this type.", examples=["person_admitted"]
    )
    topic: str | None = Field(
        default=None, description="Only records from this topic.", examples=["rescue.intake.events"]
    )
    failed_after: AwareDatetime | None = Field(
        default=None,
        description="Only those that failed at or after this moment.",
        examples=["2026-03-01T06:00:00+08:00"],
    )
    failed_before: AwareDatetime | None = Field(
        default=None,
        description="Only those that failed before this moment.",
        examples=["2026-03-01T12:00:00+08:00"],
    )
    limit: int = Field(
        default=100, ge=1, le=1000, description="At most this many, oldest first.", examples=[100]
    )


class BulkReplayItem(BaseModel):
    id: int
    event_type: str | None
    outcome: str  # applied | duplicate | ignored | failed
    error: str | None = None


class BulkReplayResult(BaseModel):
    matched: int
    replayed: int  # applied, duplicate or ignored: no longer waiting
    failed: int  # still failing: they stay dead letters
    results: list[BulkReplayItem]


@ops.post("/dead-letters/replay", response_model=BulkReplayResult)
async def replay_dead_letters(
    request: BulkReplayRequest, runtime: RuntimeDep, principal: PrincipalDep, http: Request
) -> BulkReplayResult:
    """Replay the waiting dead letters that match, oldest first, each on its own:
    one that still fails stays a dead letter and the others go on. Each replay's
    audit entry commits with it."""
    consumer = _consumer(runtime)
    record = write_record(http.scope)
    t = runtime.tables.plumbing.dead_letters
    query = (
        _letters_matching(
            runtime,
            reason=request.reason,
            event_type=request.event_type,
            topic=request.topic,
            failed_after=request.failed_after,
            failed_before=request.failed_before,
        )
        .where(t.c.replayed_at.is_(None), t.c.discarded_at.is_(None))
        .limit(request.limit)
    )
    async with runtime.sessions() as session:
        letters = (await session.execute(query)).all()
    results = []
    for letter in letters:
        try:
            outcome = await consumer.replay(
                letter.id, on_record=_replay_entry(record, principal, letter.id)
            )
        except (ReplayFailed, DeadLetterClosed, LookupError) as exc:
            results.append(
                BulkReplayItem(
                    id=letter.id, event_type=letter.event_type, outcome="failed", error=str(exc)
                )
            )
        else:
            results.append(
                BulkReplayItem(id=letter.id, event_type=letter.event_type, outcome=outcome.value)
            )
    if record is not None and record.staged_entries:  # else its attempt is recorded after
        record.committed()
    failed = sum(1 for r in results if r.outcome == "failed")
    log.info(
        "%s: bulk replay of %d dead letters, %d still fail", runtime.name, len(results), failed
    )
    return BulkReplayResult(
        matched=len(results), replayed=len(results) - failed, failed=failed, results=results
    )
