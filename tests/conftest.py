"""Real infrastructure for the integration and end-to-end tiers.

One embedded PostgreSQL and one tansu broker per test session; each test
module gets fresh databases, migrated with the services' own Alembic scripts.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from rescue_chassis import migrations
from rescue_localnet.broker import TansuBroker, free_port
from rescue_localnet.postgres import EmbeddedPostgres

JWT_SECRET = "test-secret-" + "x" * 40

# In-process tests trace like the services do, into memory.
SPANS = InMemorySpanExporter()
_provider = TracerProvider()
_provider.add_span_processor(SimpleSpanProcessor(SPANS))
trace.set_tracer_provider(_provider)


@pytest.fixture(scope="session")
def postgres(tmp_path_factory) -> EmbeddedPostgres:
    server = EmbeddedPostgres(tmp_path_factory.mktemp("pg") / "data")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def broker(tmp_path_factory) -> TansuBroker:
    server = TansuBroker(free_port(), tmp_path_factory.mktemp("broker") / "broker.log")
    server.start()
    yield server
    server.stop()


async def migrated_database(postgres: EmbeddedPostgres, migrations_dir: Path) -> str:
    """A new, migrated database; returns its SQLAlchemy URL."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    await postgres.create_databases([name])
    url = postgres.sqlalchemy_url(name)
    # Alembic's env runs its own event loop: give it a thread.
    await asyncio.to_thread(migrations.upgrade, migrations_dir, url)
    return url
