"""Real infrastructure for the integration and end-to-end tiers.

One embedded PostgreSQL and one tansu broker per test session; each test
module gets fresh databases, migrated with the services' own Alembic scripts.
"""

from __future__ import annotations

import pytest
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from support import trace_into_memory

from rescue_localnet.broker import TansuBroker, free_port
from rescue_localnet.postgres import EmbeddedPostgres

trace_into_memory()


@pytest.fixture(autouse=True)
def _httpx_uninstrumented_after_each_test():
    """create_app instruments httpx for the whole process, as a service should. In
    the test process that outlived the test that built the app: a later test's
    httpx calls then sent a traceparent of their own instead of the one they were
    given (the end-to-end trace test failed after the unit tests, in that order)."""
    yield
    instrumentor = HTTPXClientInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()


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


@pytest.fixture(scope="session")
def gazetteer():
    """Search's gazetteer, built once for the run (seconds each time; read only)."""
    from search.gazetteer import load_gazetteer

    return load_gazetteer()
