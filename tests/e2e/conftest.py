from __future__ import annotations

import pytest
from support import OtlpReceiver, a_network


@pytest.fixture(scope="session")
def otlp():
    receiver = OtlpReceiver()
    receiver.start()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="session")
def network(tmp_path_factory, otlp):
    """The five services as separate processes, exporting traces to ``otlp``."""
    net = a_network(
        tmp_path_factory.mktemp("network"),
        OTEL_EXPORTER_OTLP_ENDPOINT=otlp.url,
        OTEL_BSP_SCHEDULE_DELAY="100",
        # deadline sweeps every 0.3 s, so tests that move a due date see it fall due
        FOLLOWUP_PERIODIC_INTERVAL_SECONDS="0.3",
        INTAKE_PERIODIC_INTERVAL_SECONDS="0.3",
        REFERRAL_PERIODIC_INTERVAL_SECONDS="0.3",
        REFERRAL_WEBHOOK_RETRY_BASE_SECONDS="0.2",
    )
    try:
        net.up()
        yield net
    finally:
        net.down()


@pytest.fixture
def urls(network) -> dict[str, str]:
    return {name: service.url for name, service in network.services.items()}
