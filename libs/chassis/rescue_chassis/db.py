from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def create_engine(url: str) -> AsyncEngine:
    # No pre-ping: it costs a round trip per checkout, per request. A connection
    # lost to a database restart fails its request once (503 with Retry-After,
    # rescue_chassis.problems; station apps retry with their Idempotency-Key), and
    # SQLAlchemy then drops every pooled connection older than the failure.
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_recycle=1800)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: routes read what they wrote after the commit.
    return async_sessionmaker(engine, expire_on_commit=False)


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.runtime.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(_session)]
