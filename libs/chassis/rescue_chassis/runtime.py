"""What one running service holds: settings, database, outbox, relay, consumer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from rescue_chassis.network import Network
from rescue_chassis.periodic import PeriodicJob
from rescue_chassis.settings import ServiceSettings
from rescue_chassis.tables import ServiceTables
from rescue_events.consumer import EventConsumer
from rescue_events.outbox import Outbox
from rescue_events.relay import OutboxRelay


@dataclass
class Runtime:
    name: str
    settings: ServiceSettings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    tables: ServiceTables
    outbox: Outbox
    relay: OutboxRelay
    network: Network
    consumer: EventConsumer | None = None
    periodic: list[PeriodicJob] = field(default_factory=list)


async def _runtime(request: Request) -> Runtime:
    # async, though it awaits nothing: FastAPI runs a plain-def dependency in a
    # worker thread, a thread hop on every request for one attribute read.
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(_runtime)]
