"""The standard process and Python series on every service's /metrics, beside its own."""

from __future__ import annotations

import os
import platform
import sys
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from rescue_chassis.metrics import ServiceMetrics

pytestmark = pytest.mark.skipif(
    sys.platform != "linux", reason="process_* series are read from /proc"
)


def service_app(name: str) -> FastAPI:
    """An app with the chassis' metrics and a runtime without database or broker
    (the scrape leaves out what it cannot read)."""
    runtime = SimpleNamespace(
        name=name,
        relay=SimpleNamespace(watch=SimpleNamespace(reachable=True), republished_total=0),
        consumer=None,
        periodic=[],
    )
    app = FastAPI()
    ServiceMetrics(runtime, []).install(app)  # type: ignore[arg-type]
    return app


async def scrape(app: FastAPI) -> list:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    return [s for f in text_string_to_metric_families(response.text) for s in f.samples]


def value(samples: list, name: str, **labels: str) -> float:
    (found,) = [s.value for s in samples if s.name == name and labels.items() <= s.labels.items()]
    return found


def started_at() -> float:
    """When this very process started, from /proc."""
    stat = Path(f"/proc/{os.getpid()}/stat").read_text(encoding="ascii")
    ticks = int(stat.rsplit(")", 1)[1].split()[19])
    boot = Path("/proc/stat").read_text(encoding="ascii").splitlines()
    booted = next(int(line.split()[1]) for line in boot if line.startswith("btime"))
    return booted + ticks / os.sysconf("SC_CLK_TCK")


async def test_metrics_carry_the_process_and_python_series_beside_the_services_own():
    before = time.time()
    samples = await scrape(service_app("intake"))

    assert value(samples, "rescue_broker_up", service="intake") == 1
    assert value(samples, "process_resident_memory_bytes") > 1_000_000
    assert value(samples, "process_cpu_seconds_total") > 0
    assert value(samples, "process_open_fds") >= 3
    assert value(samples, "process_max_fds") >= value(samples, "process_open_fds")
    assert 0 < value(samples, "process_start_time_seconds") <= before
    assert abs(value(samples, "process_start_time_seconds") - started_at()) < 1

    generations = {
        s.labels["generation"] for s in samples if s.name == "python_gc_collections_total"
    }
    assert generations == {"0", "1", "2"}
    assert "python_gc_objects_collected_total" in {s.name for s in samples}
    assert value(samples, "python_info", version=platform.python_version()) == 1


async def test_two_apps_in_one_process_each_expose_the_series_once():
    first, second = service_app("search"), service_app("followup")
    for app, service in ((first, "search"), (second, "followup")):
        samples = await scrape(app)
        assert value(samples, "rescue_broker_up", service=service) == 1
        seen = Counter((s.name, tuple(sorted(s.labels.items()))) for s in samples)
        assert [key for key, n in seen.items() if n > 1] == []
        assert seen[("process_resident_memory_bytes", ())] == 1
