"""Errors as RFC 9457 problem details (``application/problem+json``).

A client always learns which field was wrong and why; no stack trace ever
reaches it.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "urn:rescue-network:problem:"


class Problem(Exception):
    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        type_: str | None = None,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.type_ = type_ or title.lower().replace(" ", "-")
        self.errors = errors
        self.headers = headers

    def body(self, instance: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": TYPE_BASE + self.type_,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "instance": instance,
        }
        if self.errors:
            body["errors"] = self.errors
        return body


def field_error(field: str, reason: str) -> dict[str, str]:
    return {"field": field, "reason": reason}


def invalid(field: str, reason: str) -> Problem:
    """A 422 naming the one field at fault."""
    return Problem(
        422,
        "Invalid request",
        f"{field}: {reason}",
        type_="validation-error",
        errors=[field_error(field, reason)],
    )


def _response(problem: Problem, request: Request) -> JSONResponse:
    return JSONResponse(
        problem.body(request.url.path),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=problem.headers,
    )


def _location(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        source, rest = parts[0], parts[1:]
        return ".".join(rest) if source == "body" and rest else ".".join([source, *rest])
    return ".".join(parts)


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem):
        return _response(exc, request)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errors = [field_error(_location(e["loc"]) or "body", e["msg"]) for e in exc.errors()]
        detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors[:5])
        problem = Problem(422, "Invalid request", detail, type_="validation-error", errors=errors)
        return _response(problem, request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "HTTP error")
        problem = Problem(exc.status_code, title, str(exc.detail), headers=exc.headers)
        return _response(problem, request)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        problem = Problem(500, "Internal error", "Something went wrong; it has been logged.")
        return _response(problem, request)
