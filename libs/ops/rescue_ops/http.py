"""Calls to the services' health and ops endpoints, all services at once.

A call never raises: a timeout, a refused connection or a body that is not
JSON comes back as an ``Answer`` with ``error`` set, so one service away never
hides the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

USER_AGENT = "rescue-ops/0.1.0"


@dataclass
class Answer:
    service: str
    method: str
    url: str
    status: int | None = None
    body: Any = None
    error: str | None = None  # no HTTP answer at all (timeout, refused, ...)

    @property
    def reached(self) -> bool:
        return self.error is None

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is not None and 200 <= self.status < 300

    @property
    def problem(self) -> dict[str, Any] | None:
        """The problem+json body of an error answer."""
        if self.status is not None and self.status >= 400 and isinstance(self.body, dict):
            return self.body
        return None

    def failure(self) -> str:
        """One line saying what went wrong, for tables and messages."""
        if self.error is not None:
            return self.error
        if self.ok:
            return ""
        problem = self.problem or {}
        title = problem.get("title") or "HTTP error"
        detail = problem.get("detail")
        text = f"HTTP {self.status} {title}" + (f": {detail}" if detail else "")
        if self.status == 401:
            text += " (set RESCUE_OPS_TOKEN to a token with the ops role)"
        elif self.status == 403:
            text += " (the token needs the ops or admin role)"
        return text

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "body": self.body, "error": self.error}


@dataclass(frozen=True)
class Call:
    service: str
    method: str
    path: str
    body: Any = None  # sent as JSON


class ServicesClient:
    def __init__(
        self,
        urls: dict[str, str],
        *,
        token: str | None,
        timeout: float,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.urls = urls
        self.timeout = timeout
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._client = httpx.Client(headers=headers, timeout=timeout, transport=transport)

    def __enter__(self) -> ServicesClient:
        return self

    def __exit__(self, *exc) -> None:
        self._client.close()

    def call(self, call: Call) -> Answer:
        url = self.urls[call.service] + call.path
        answer = Answer(service=call.service, method=call.method, url=url)
        try:
            response = self._client.request(
                call.method, url, json=call.body if call.body is not None else None
            )
        except httpx.TimeoutException:
            answer.error = f"timed out after {self.timeout:g}s ({url})"
            return answer
        except httpx.ConnectError as exc:
            answer.error = f"unreachable: {exc or type(exc).__name__} ({url})"
            return answer
        except httpx.HTTPError as exc:
            answer.error = f"{type(exc).__name__}: {exc} ({url})"
            return answer
        answer.status = response.status_code
        try:
            answer.body = response.json() if response.content else None
        except ValueError:
            answer.body = response.text[:500]
            if 200 <= response.status_code < 300:
                answer.error = f"HTTP {response.status_code} but the body is not JSON ({url})"
        return answer

    def call_all(self, calls: Sequence[Call]) -> list[Answer]:
        """Every call in parallel, answers in the order of ``calls``."""
        if not calls:
            return []
        with ThreadPoolExecutor(max_workers=min(len(calls), 16)) as pool:
            return list(pool.map(self.call, calls))
