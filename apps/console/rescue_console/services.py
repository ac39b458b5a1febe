"""Calls to the services' public APIs with the signed-in user's token."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from rescue_console.telemetry import ConsoleTelemetry


@dataclass(frozen=True)
class Answer:
    status: int  # 0: the service could not be reached
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes = b""  # the raw body, for the rare answer that is not JSON (a document)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def unreachable(self) -> bool:
        return self.status == 0 or self.status >= 500

    @property
    def field_errors(self) -> list[dict[str, str]]:
        """A problem+json's ``errors``: [{field, reason}]."""
        if isinstance(self.body, dict) and isinstance(self.body.get("errors"), list):
            return [e for e in self.body["errors"] if isinstance(e, dict)]
        return []

    @property
    def detail(self) -> str:
        if isinstance(self.body, dict):
            return str(self.body.get("detail") or self.body.get("title") or "")
        return ""


class Services:
    def __init__(
        self,
        urls: dict[str, str],
        timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
        telemetry: ConsoleTelemetry | None = None,
    ) -> None:
        self._urls = urls
        self._client = httpx.AsyncClient(
            timeout=timeout, follow_redirects=False, transport=transport
        )
        self._telemetry = telemetry
        if telemetry is not None:
            telemetry.instrument_client(self._client, urls)

    async def close(self) -> None:
        await self._client.aclose()

    def has(self, service: str) -> bool:
        """Whether this service is configured (the summary service is optional)."""
        return service in self._urls

    async def call(
        self,
        token: str,
        service: str,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        started = time.perf_counter()
        try:
            response = await self._client.request(
                method,
                self._urls[service] + path,
                params=params,
                json=json,
                headers={"Authorization": f"Bearer {token}", **(headers or {})},
            )
        except httpx.HTTPError:
            self._observe(service, method, path, 0, started)
            return Answer(0)
        self._observe(service, method, path, response.status_code, started)
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = None
        return Answer(response.status_code, body, dict(response.headers), response.content)

    def _observe(self, service: str, method: str, path: str, status: int, started: float) -> None:
        if self._telemetry is not None:
            self._telemetry.observe_call(service, method, path, status, started)

    async def get(self, token: str, service: str, path: str, **params: Any) -> Answer:
        clean = {k: v for k, v in params.items() if v is not None}
        return await self.call(token, service, "GET", path, params=clean)
