from __future__ import annotations

import pytest
from support import OtlpReceiver, a_network, station_client


class NoticeSite:
    """Stand-in for the national family-search website (``/site/notices``) and the
    regional push service (``/push/campaigns``): keeps every request as
    (method, path, json body), answers POST with ``{"id": "<external id>"}`` and
    DELETE with 204; ``fail_next(n)`` makes the next n requests answer 500."""

    def __init__(self) -> None:
        import json
        import threading
        import uuid
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        site = self
        self.requests: list[tuple[str, str, dict | None]] = []
        self._failing = 0
        self._lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def _handle(self, method: str) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                body = json.loads(raw) if raw else None
                with site._lock:
                    site.requests.append((method, self.path, body))
                    failing = site._failing > 0
                    site._failing -= 1 if failing else 0
                if failing:
                    self.send_response(500)
                    self.end_headers()
                elif method == "POST":
                    answer = json.dumps({"id": f"ext-{uuid.uuid4()}"}).encode()
                    self.send_response(201)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                else:
                    self.send_response(204)
                    self.end_headers()

            def do_POST(self):  # noqa: N802 (http.server's name)
                self._handle("POST")

            def do_DELETE(self):  # noqa: N802
                self._handle("DELETE")

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    @property
    def site_url(self) -> str:
        return f"{self.base}/site/notices"

    @property
    def push_url(self) -> str:
        return f"{self.base}/push/campaigns"

    def fail_next(self, count: int) -> None:
        with self._lock:
            self._failing = count

    def received(self, method: str | None = None, path_prefix: str = "", **body_fields):
        """Requests matching the method, path prefix and top-level body fields."""
        with self._lock:
            found = list(self.requests)
        return [
            (m, p, b)
            for m, p, b in found
            if (method is None or m == method)
            and p.startswith(path_prefix)
            and all((b or {}).get(k) == v for k, v in body_fields.items())
        ]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class NationalSystem:
    """The national rescue information system's stand-in: 503 to the first request,
    then 201 with an id; keeps every request (headers, JSON body)."""

    def __init__(self) -> None:
        import json
        import threading
        import uuid
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        system = self
        self.requests: list[tuple[dict, dict]] = []
        self.receipts: list[str] = []
        self._lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                with system._lock:
                    system.requests.append((dict(self.headers), body))
                    first = len(system.requests) == 1
                if first:
                    self.send_response(503)
                    self.end_headers()
                    return
                receipt = f"NAT-{uuid.uuid4().hex[:8]}"
                system.receipts.append(receipt)
                answer = json.dumps({"id": receipt}).encode()
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/national/summary-tables"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="session")
def otlp():
    receiver = OtlpReceiver()
    receiver.start()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="session")
def notice_site():
    """A stand-in for the national family-search website and the regional push
    service (search's notice adapters call it over real HTTP)."""
    site = NoticeSite()
    site.start()
    yield site
    site.stop()


@pytest.fixture(scope="session")
def national_system():
    """The national rescue information system's stand-in, the summary's from the
    start (test_summary_tables files the one submission of the session)."""
    system = NationalSystem()
    yield system
    system.stop()


@pytest.fixture(scope="session")
def network(tmp_path_factory, otlp, notice_site, national_system):
    """The five services as separate processes, exporting traces to ``otlp``."""
    net = a_network(
        tmp_path_factory.mktemp("network"),
        OTEL_EXPORTER_OTLP_ENDPOINT=otlp.url,
        OTEL_BSP_SCHEDULE_DELAY="100",
        # room for a busy minute's spans and logs: a full queue drops them silently
        OTEL_BSP_MAX_QUEUE_SIZE="65536",
        OTEL_BLRP_MAX_QUEUE_SIZE="65536",
        # deadline sweeps every 0.3 s, so tests that move a due date see it fall due
        FOLLOWUP_PERIODIC_INTERVAL_SECONDS="0.3",
        INTAKE_PERIODIC_INTERVAL_SECONDS="0.3",
        REFERRAL_PERIODIC_INTERVAL_SECONDS="0.3",
        REFERRAL_WEBHOOK_RETRY_BASE_SECONDS="0.2",
        SEARCH_PERIODIC_INTERVAL_SECONDS="0.3",
        SEARCH_NOTICE_SITE_URL=notice_site.site_url,
        SEARCH_NOTICE_PUSH_URL=notice_site.push_url,
        SEARCH_NOTICE_TIMEOUT_SECONDS="5",
        SEARCH_NOTICE_RETRY_BASE_SECONDS="0.1",
        SEARCH_NOTICE_STUCK_AFTER_SECONDS="30",
        SUMMARY_NATIONAL_SYSTEM_URL=national_system.url,
        SUMMARY_PERIODIC_INTERVAL_SECONDS="0.3",
        SUMMARY_NATIONAL_SYSTEM_RETRY_BASE_SECONDS="0.2",
    )
    try:
        net.up()
        _warm_gazetteer(net)
        yield net
    finally:
        net.down()


def _warm_gazetteer(net) -> None:
    """Search builds its gazetteer on the first place it reads (seconds, by design:
    most processes never need it); built once here, no test's 10 s timeout pays it."""
    with station_client(net, roles=("search_specialist",)) as staff:
        warmed = staff.get(
            f"{net.services['search'].url}/places", params={"q": "固始"}, timeout=180
        )
        assert warmed.status_code == 200, warmed.text


@pytest.fixture
def urls(network) -> dict[str, str]:
    return {name: service.url for name, service in network.services.items()}
