"""Endpoints every service has: health for orchestrators, ops for the on-call engineer."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import func, select, text

from rescue_chassis.auth import Role, require_roles
from rescue_chassis.problems import Problem
from rescue_chassis.runtime import Runtime, RuntimeDep
from rescue_events.consumer import ReplayFailed

health = APIRouter(prefix="/health", tags=["health"])
ops = APIRouter(prefix="/ops", tags=["ops"], dependencies=[require_roles(Role.OPS, Role.ADMIN)])


@health.get("/live")
async def live() -> dict[str, str]:
    return {"status": "live"}


@health.get("/ready")
async def ready(runtime: RuntimeDep) -> JSONResponse:
    # Ready means the database answers: without it nothing can be recorded.
    # The broker is reported but does not gate readiness: admissions must go
    # on while Kafka is away (the outbox holds the events).
    async def ping() -> None:
        async with runtime.engine.connect() as conn:
            await conn.execute(text("select 1"))

    try:
        # Bound the whole check, connect included: a probe must answer.
        await asyncio.wait_for(ping(), timeout=2)
        database = "up"
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        database = f"down: {type(exc).__name__}"
    body = {
        "status": "ready" if database == "up" else "not ready",
        "database": database,
        "relay_connected": runtime.relay.connected,
        # Of the service's replicas, the one whose relay publishes (docs/runbook.md).
        "relay_sweeping": runtime.relay.sweeping,
        "consumer_connected": runtime.consumer.connected if runtime.consumer else None,
    }
    return JSONResponse(body, status_code=200 if database == "up" else 503)


class OutboxBacklog(BaseModel):
    unpublished: int
    oldest_created_at: datetime | None
    max_attempts: int | None


@ops.get("/outbox", response_model=OutboxBacklog)
async def outbox_backlog(runtime: RuntimeDep) -> OutboxBacklog:
    t = runtime.tables.plumbing.outbox
    async with runtime.sessions() as session:
        row = (
            await session.execute(
                select(func.count(), func.min(t.c.created_at), func.max(t.c.attempts))
            )
        ).one()
    return OutboxBacklog(unpublished=row[0], oldest_created_at=row[1], max_attempts=row[2])


class ConsumerLag(BaseModel):
    topic: str
    partition: int
    committed: int | None
    end: int
    lag: int


@ops.get("/consumer-lag", response_model=list[ConsumerLag])
async def consumer_lag(runtime: RuntimeDep) -> list[ConsumerLag]:
    """How far this process's consumer is behind, per partition assigned to it."""
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


def _consumer(runtime: Runtime):
    if runtime.consumer is None:
        raise Problem(404, "Not found", f"{runtime.name} consumes no events.")
    return runtime.consumer


@ops.get("/dead-letters", response_model=list[DeadLetter])
async def dead_letters(
    runtime: RuntimeDep, include_replayed: bool = False, limit: int = 100
) -> list[DeadLetter]:
    t = runtime.tables.plumbing.dead_letters
    query = select(t).order_by(t.c.id).limit(max(1, min(limit, 1000)))
    if not include_replayed:
        query = query.where(t.c.replayed_at.is_(None))
    async with runtime.sessions() as session:
        rows = (await session.execute(query)).mappings().all()
    return [DeadLetter.model_validate(dict(r)) for r in rows]


class ReplayResult(BaseModel):
    id: int
    outcome: str


@ops.post("/dead-letters/{dead_letter_id}/replay", response_model=ReplayResult)
async def replay_dead_letter(
    dead_letter_id: Annotated[int, Path(ge=1, le=2**63 - 1)], runtime: RuntimeDep
) -> ReplayResult:
    consumer = _consumer(runtime)
    try:
        outcome = await consumer.replay(dead_letter_id)
    except LookupError as exc:
        raise Problem(404, "Not found", str(exc)) from None
    except ReplayFailed as exc:
        raise Problem(
            409, "Replay failed", f"The dead letter still fails ({exc.reason}): {exc.error}"
        ) from None
    return ReplayResult(id=dead_letter_id, outcome=outcome.value)
