"""Errors as RFC 9457 problem details (``application/problem+json``).

A client always learns which field was wrong and why; no stack trace ever
reaches it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from asyncpg.exceptions._base import DataError as AsyncpgDataError  # a value not sendable
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import RouteContext, iter_route_contexts
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from rescue_chassis.refusals import TYPE_BASE, Problem, Refused, field_error

# The vocabulary lives in rescue_chassis.refusals; these names are re-exported here.
__all__ = ["PROBLEM_JSON", "TYPE_BASE", "Problem", "field_error", "invalid", "install"]

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


async def send_problem(
    send,
    scope,
    status: int,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    *,
    extra: dict[str, Any] | None = None,
) -> None:
    """A problem answered from pure ASGI middleware, before any route (limits, gate)."""
    body = Problem(status, title, detail).body(scope["path"][:200])
    if extra:
        body.update(extra)
    payload = json.dumps(body).encode()
    raw_headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(payload)).encode()),
        *((k.lower().encode(), v.encode()) for k, v in (headers or {}).items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": payload})


def invalid(field: str, reason: str) -> Problem:
    """A 422 naming the one field at fault (``Refused``)."""
    return Refused(field, reason)


def _response(problem: Problem, request: Request) -> JSONResponse:
    return JSONResponse(
        problem.body(request.url.path),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=problem.headers,
    )


MAX_ERRORS = 20  # validation errors listed in one answer
MAX_TEXT = 200  # characters of a field name or reason echoed back
_TITLES = {
    400: "Bad request",
    404: "Not found",
    405: "Method not allowed",
    413: "Payload too large",
    414: "URI too long",
    415: "Unsupported media type",
    422: "Invalid request",
    429: "Too many requests",
    431: "Request header fields too large",
}


def _clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def _location(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        source, rest = parts[0], parts[1:]
        return ".".join(rest) if source == "body" and rest else ".".join([source, *rest])
    return ".".join(parts)


# ---- what the database refused: the client's data, not a fault ---------------------

# SQLSTATE → why, for the data exceptions (class 22) a client's value can cause.
_DATA_REASONS = {
    "22001": "a text is longer than its field allows",
    "22003": "a number is out of range",
    "22007": "a date or time is malformed",
    "22008": "a date or time is out of range",
    "22021": "a text holds a character that cannot be stored (such as NUL)",
    "22P02": "a value has the wrong form",
    "22P05": "a text holds a character that cannot be stored (such as NUL)",
}


def database_problem(exc: DBAPIError) -> Problem | None:
    """The 4xx for a value the database refused, or None if the fault is not the
    client's (a lost connection, a bug): a 422 for a data exception (SQLSTATE class
    22, or a value the driver cannot send, e.g. an integer beyond 64 bits), a 409 for
    a unique, exclusion or foreign-key conflict; a 503 for a connection lost under
    the request (retry). Never the value itself.

    The net under strict validation at the edge: a model that misses a bound is a
    422 here instead of a 500."""
    if exc.connection_invalidated:
        # The database went away under this request (a restart, a failover): the
        # pool has dropped the connection; the same request will work on a retry.
        return Problem(
            503,
            "Database unavailable",
            "The database connection was lost; retry shortly.",
            headers={"Retry-After": "1"},
        )
    cause: BaseException | None = exc.orig
    while cause is not None:
        if isinstance(cause, AsyncpgDataError):  # the driver refused to encode a value
            return _unstorable("a value is out of range for its field")
        state = getattr(cause, "sqlstate", None)
        if isinstance(state, str):
            if state.startswith("22"):
                return _unstorable(_DATA_REASONS.get(state, "a value is invalid"))
            if state in ("23505", "23P01"):
                return Problem(409, "Conflict", "This conflicts with data already recorded.")
            if state == "23503":
                return Problem(
                    409, "Conflict", "This refers to a record that does not exist (or is in use)."
                )
            if state == "23514":
                return _unstorable("a value breaks a rule of the record")
            return None
        cause = cause.__cause__ or getattr(cause, "driver_exception", None)
    return None


def _unstorable(reason: str) -> Problem:
    return Problem(
        422,
        "Invalid request",
        f"A value of the request cannot be recorded: {reason}.",
        type_="validation-error",
        errors=[field_error("body", reason)],
    )


# ---- a body that is not JSON: what to send instead ------------------------------

JSON_MEDIA = "application/json"
_BASE64_OF = "x-base64-of"  # what a base64 field carries, for the answer to a form upload


def base64_field(what: str) -> dict[str, str]:
    """``json_schema_extra`` of a field carrying a file as base64 text (``what``: "the
    photo"): a form upload to its route is told to send the file there instead."""
    return {"contentEncoding": "base64", _BASE64_OF: what}


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _base64_fields(request: Request) -> list[tuple[str, str]]:
    """(field, what) of the route's body model fields declared with ``base64_field``."""
    field = getattr(request.scope.get("route"), "body_field", None)
    model = getattr(getattr(field, "field_info", None), "annotation", None)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return []
    found = []
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra
        if isinstance(extra, dict) and extra.get("contentEncoding") == "base64":
            found.append((info.alias or name, str(extra.get(_BASE64_OF) or "the file")))
    return found


def _unsupported_media(request: Request, exc: RequestValidationError) -> Problem | None:
    """A 415 for a JSON route's body sent as something else (a form, text, no type).
    FastAPI parses only JSON types; the raw bytes it validates then say nothing useful."""
    if not isinstance(exc.body, bytes | bytearray) or not exc.body:
        return None
    if not any(tuple(e.get("loc", ()))[:1] == ("body",) for e in exc.errors()):
        return None
    media = _media_type(request.headers.get("content-type"))
    if not media:
        reason = f"is missing: a body is read only as {JSON_MEDIA}"
        detail = f"The body has no Content-Type: send it as JSON, Content-Type: {JSON_MEDIA}."
    else:
        reason = f"must be {JSON_MEDIA}, not {_clip(media)}"
        detail = f"This route takes a JSON body (Content-Type: {JSON_MEDIA}), not {_clip(media)}."
        if media.startswith("multipart/") or media == "application/x-www-form-urlencoded":
            files = _base64_fields(request)
            carried = " or ".join(f"{what} in the field `{name}`" for name, what in files)
            detail += (
                f" Not a form upload: send {carried}, base64-encoded, in a JSON object."
                if files
                else " Not a form: send the fields as a JSON object (a file base64-encoded)."
            )
    headers = {"Accept-Post": JSON_MEDIA} if request.method == "POST" else None
    if request.method == "PATCH":
        headers = {"Accept-Patch": JSON_MEDIA}
    return Problem(
        415,
        "Unsupported media type",
        detail,
        errors=[field_error("Content-Type", reason)],
        headers=headers,
    )


def _malformed_json(exc: RequestValidationError) -> Problem | None:
    """Where the JSON text breaks and how, instead of FastAPI's "JSON decode error"."""
    found = exc.errors()
    if len(found) != 1 or found[0].get("type") != "json_invalid":
        return None
    loc = tuple(found[0].get("loc", ()))
    what = str((found[0].get("ctx") or {}).get("error") or "not valid JSON")
    reason = what
    if len(loc) > 1 and isinstance(loc[1], int) and isinstance(exc.body, str):
        pos, doc = loc[1], exc.body
        line, column = doc.count("\n", 0, pos) + 1, pos - doc.rfind("\n", 0, pos)
        reason = f"{what} at line {line}, column {column} (character {pos})"
    return Problem(
        422,
        "Invalid request",
        f"The body is not valid JSON: {reason}.",
        type_="validation-error",
        errors=[field_error("body", reason)],
    )


def served_routes(app) -> list[RouteContext]:
    """Every route ``app`` serves, each with its full path (``path_regex``,
    ``matches``) and its ``original_route`` (``openapi_extra``, ``body_field``).
    Not ``app.routes``: FastAPI keeps an included router there as one entry."""
    return list(iter_route_contexts(getattr(app, "routes", ())))


def _allowed_methods(request: Request) -> str:
    methods: set[str] = set()
    for route in served_routes(request.app):
        regex = getattr(route, "path_regex", None)
        if regex is not None and regex.match(request.url.path) and route.methods:
            methods |= route.methods
    return ", ".join(sorted(methods))


# ---- the OpenAPI document: every operation's problem answers -----------------

_PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details.",
    "type": "object",
    "required": ["type", "title", "status", "detail", "instance"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "reason"],
                "properties": {"field": {"type": "string"}, "reason": {"type": "string"}},
            },
        },
        "correlation_id": {"type": "string"},
    },
}
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}}
_CHALLENGE = {
    "WWW-Authenticate": {"description": "The RFC 6750 challenge.", "schema": {"type": "string"}}
}


@dataclass(frozen=True)
class _Answer:
    """A problem answer as documented: its component name and words, and an example."""

    name: str
    description: str
    title: str
    detail: str
    headers: dict[str, Any] | None = None
    errors: list[dict[str, str]] | None = None


_PROBLEM_RESPONSES: dict[int, _Answer] = {
    400: _Answer(
        "BadRequest",
        "The request could not be read (a NUL character in the URL).",
        "Bad request",
        "The URL holds a NUL character (%00).",
    ),
    401: _Answer(
        "Unauthorized",
        "No bearer token, or one that was refused.",
        "Authentication required",
        "Send a bearer token: Authorization: Bearer …",
        _CHALLENGE,
    ),
    403: _Answer(
        "Forbidden",
        "The caller's roles or station do not allow this.",
        "Forbidden",
        "This needs one of the roles: station_lead, center_coordinator.",
    ),
    404: _Answer(
        "NotFound",
        "No such resource (or not visible to the caller).",
        "Not found",
        "No such person.",
    ),
    409: _Answer(
        "Conflict",
        "The resource's state does not allow this now, or the Idempotency-Key was "
        "used for another request.",
        "Conflict",
        "The person's stay has ended.",
    ),
    413: _Answer(
        "PayloadTooLarge",
        "The request body is larger than this route accepts.",
        "Payload too large",
        "The request body is larger than 1048576 bytes.",
    ),
    414: _Answer(
        "UriTooLong",
        "The URL (path and query) is too long.",
        "URI too long",
        "At most 8192 bytes.",
    ),
    415: _Answer(
        "UnsupportedMediaType",
        "The body is not JSON (Content-Type: application/json).",
        "Unsupported media type",
        "This route takes a JSON body (Content-Type: application/json), not text/plain.",
        errors=[field_error("Content-Type", "must be application/json, not text/plain")],
    ),
    422: _Answer(
        "ValidationError",
        "A field is missing or invalid; `errors` names each.",
        "Invalid request",
        "estimated_age: Input should be less than or equal to 120",
        errors=[field_error("estimated_age", "Input should be less than or equal to 120")],
    ),
    429: _Answer(
        "TooManyRequests",
        "The caller's request rate limit is reached.",
        "Too many requests",
        "Request rate limit reached; retry after 2 s.",
        _RETRY_AFTER,
    ),
    431: _Answer(
        "HeadersTooLarge",
        "The request's headers are too large.",
        "Request header fields too large",
        "At most 16384 bytes of headers together.",
    ),
    503: _Answer(
        "Unavailable",
        "The service is busy, or its database is unavailable just now; try again.",
        "Database unavailable",
        "The database connection was lost; retry shortly.",
        _RETRY_AFTER,
    ),
}
_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
_WRITES = ("post", "put", "patch", "delete")
# rescue_chassis.limits.EXEMPT_PREFIXES: probes and metrics pass no rate limit and no
# request gate (limits imports this module, so the words are repeated here).
UNLIMITED_PREFIXES = ("/health/", "/metrics")
_IDEMPOTENCY_HEADER = "idempotency-key"


def problem_example(
    status: int, instance: str = "/persons/0d5a4c1e-8f0b-4c52-9b64-2f3f1c7d9a10"
) -> dict[str, Any]:
    """An answer of this status as the chassis sends it."""
    answer = _PROBLEM_RESPONSES[status]
    type_ = "validation-error" if status == 422 else None
    problem = Problem(status, answer.title, answer.detail, type_=type_, errors=answer.errors)
    return problem.body(instance)


def problems_of(path: str, method: str, operation: dict[str, Any]) -> list[int]:
    """The problem statuses this operation can answer, from its shape: a bearer
    token (401, 403), input in headers (431), parameters (422; in the URL also 400
    and 414), a path parameter (404), a body (413, 415, 422), a write with an
    Idempotency-Key (409), and, past the probes, the rate limit (429) and a busy
    or lost backend (503)."""
    parameters = operation.get("parameters", ())
    places = {p.get("in") for p in parameters}
    headers = {str(p.get("name", "")).lower() for p in parameters if p.get("in") == "header"}
    body = "requestBody" in operation
    found: set[int] = set()
    if operation.get("security"):
        found |= {401, 403}
    if operation.get("security") or "header" in places:
        found.add(431)
    if places & {"path", "query"}:
        found |= {400, 414, 422}
    if parameters:
        found.add(422)
    if "path" in places:
        found.add(404)
    if body:
        found |= {413, 415, 422}
    if method in _WRITES and _IDEMPOTENCY_HEADER in headers:
        found.add(409)
    if not path.startswith(UNLIMITED_PREFIXES):
        found |= {429, 503}
    return sorted(found)


def _problem_content(status: int) -> dict[str, Any]:
    return {
        PROBLEM_JSON: {
            "schema": {"$ref": "#/components/schemas/Problem"},
            "example": problem_example(status),
        }
    }


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Declare the problem answers of each operation (in place, idempotent): those
    its shape can give (``problems_of``) and those its route declares itself, as
    ``application/problem+json`` with an example. FastAPI's own 422
    (``HTTPValidationError``, which this chassis never sends) is replaced."""
    components = schema.setdefault("components", {})
    components.setdefault("schemas", {})["Problem"] = _PROBLEM_SCHEMA
    responses = components.setdefault("responses", {})
    for status, answer in _PROBLEM_RESPONSES.items():
        response: dict[str, Any] = {
            "description": answer.description,
            "content": _problem_content(status),
        }
        if answer.headers:
            response["headers"] = answer.headers
        responses[answer.name] = response
    for path, item in schema.get("paths", {}).items():
        for method in _METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            declared = operation.setdefault("responses", {})
            if "HTTPValidationError" in json.dumps(declared.get("422", {})):
                del declared["422"]  # FastAPI's own: this chassis never sends it
            for status in problems_of(path, method, operation):
                declared.setdefault(str(status), {})
            for status, own in list(declared.items()):
                code = int(status) if str(status).isdigit() else 0
                if code not in _PROBLEM_RESPONSES:
                    continue
                if not own or "$ref" in own:
                    declared[status] = {
                        "$ref": f"#/components/responses/{_PROBLEM_RESPONSES[code].name}"
                    }
                elif "content" not in own:  # a route's own words, the problem's shape
                    own["content"] = _problem_content(code)
            operation["responses"] = dict(sorted(declared.items(), key=lambda kv: str(kv[0])))
    text = json.dumps(schema.get("paths", {}))
    for unused in ("HTTPValidationError", "ValidationError"):
        if f"#/components/schemas/{unused}" not in text:
            components["schemas"].pop(unused, None)
    return schema


def _document(app: FastAPI) -> None:
    plain = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_problems(plain())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def install(app: FastAPI) -> None:
    _document(app)

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem):
        return _response(exc, request)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        unreadable = _unsupported_media(request, exc) or _malformed_json(exc)
        if unreadable is not None:
            return _response(unreadable, request)
        # Never the input itself, and bounded: a field name can be a client's key.
        found = exc.errors()
        errors = [
            field_error(_clip(_location(e["loc"]) or "body"), _clip(e["msg"]))
            for e in found[:MAX_ERRORS]
        ]
        if len(found) > MAX_ERRORS:
            errors.append(field_error("…", f"{len(found) - MAX_ERRORS} more errors not listed"))
        detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors[:5])
        problem = Problem(422, "Invalid request", detail, type_="validation-error", errors=errors)
        return _response(problem, request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        title = _TITLES.get(exc.status_code, "HTTP error")
        headers = exc.headers
        if exc.status_code == 405:  # every method of the path, not the first route's only
            headers = {**(headers or {}), "Allow": _allowed_methods(request)}
        problem = Problem(exc.status_code, title, _clip(str(exc.detail)), headers=headers)
        return _response(problem, request)

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError):
        problem = database_problem(exc)
        if problem is None:
            raise exc  # not the client's data: a 500 (rescue_chassis.limits logs it)
        log.warning(
            "%s %s refused by the database: %s",
            request.method,
            request.url.path,
            _clip(str(exc.orig)),
        )
        return _response(problem, request)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        problem = Problem(500, "Internal error", "Something went wrong; it has been logged.")
        return _response(problem, request)
