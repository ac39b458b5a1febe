"""``AuditMiddleware``: records each access to a business endpoint by an
authenticated caller. Pure ASGI, like rescue_chassis.metrics; an unaudited
request passes straight through.

A read is on record before its data leaves: its answer is held back until the
entry is committed, and if it cannot be, the caller gets a 503 instead. A write
run by the command runner (rescue_chassis.commands) stages its entry in its own
transaction (``WriteRecord``): no write commits without it. Any other write, and
a write refused or replayed, is recorded once the handler has answered.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from typing import Any
from urllib.parse import parse_qsl

from rescue_chassis.audit.chain import Access
from rescue_chassis.audit.writer import _TRAILS, AuditTrail
from rescue_chassis.auth import Principal
from rescue_chassis.problems import PROBLEM_JSON, TYPE_BASE
from rescue_chassis.tables import AUDIT_PURPOSE_MAX as PURPOSE_MAX
from rescue_events.context import current as causal_context
from rescue_events.contracts.audit import AuditAction

log = logging.getLogger(__name__)

PURPOSE_HEADER = "X-Purpose"
_READS = frozenset({"GET", "HEAD"})
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Not business endpoints: probes, scrapes, docs, the on-call engineer's tools …
_UNAUDITED = ("/health", "/metrics", "/docs", "/redoc", "/openapi.json", "/ops")
# … but for one dead letter: its record (the payload is person data) and what
# on-call does with it (replay, discard) are on record like any business call.
_AUDITED_OPS = ("/ops/dead-letters/",)
_MAX_CAPTURED_BODY = 1 << 20  # a write body larger than this is recorded without field names
_MAX_NAMES = 200  # field names, record ids listed
_MAX_ID = 200  # characters of one record id
_CORRELATION = b"x-correlation-id"
_PURPOSE = PURPOSE_HEADER.lower().encode()

_WRITE_RECORD = "rescue.audit.write"  # the scope's key for a write's WriteRecord

# Entries of answered writes still being appended (see AuditMiddleware).
_PENDING: set[asyncio.Task] = set()
# The audited write the running request is, for a use case that commits part of it
# before its answer (current_write).
_CURRENT_WRITE: ContextVar[WriteRecord | None] = ContextVar("rescue_audit_write", default=None)


async def drain() -> None:
    """Wait for the entries of answered writes and chain the staged ones: the app's
    shutdown calls this before the database goes, so a graceful stop leaves none."""
    while _PENDING:
        await asyncio.gather(*list(_PENDING), return_exceptions=True)
    for trail in list(_TRAILS):
        await trail.settle()


class WriteRecord:
    """An audited write's entry, for the command runner to stage in the write's own
    transaction (``stage`` or ``stage_in``, then ``committed``)."""

    def __init__(
        self, trail: AuditTrail, scope, body: list[bytes], captured: Callable[[], bool]
    ) -> None:
        self.trail = trail
        self.scope = scope
        self._body = body
        self._captured = captured  # whether the body's field names can be read
        self.staged = False
        self.staged_entries = 0  # staged in transactions (several: a bulk replay's)

    def access(self, principal: Principal, status: int, answer: Any) -> Access:
        """The entry, as the middleware would record it once answered."""
        fields = _names(_json(b"".join(self._body))) if self._captured() else None
        return Access.of(
            principal,
            action=AuditAction.WRITE.value,
            method=self.scope["method"],
            route=_route(self.scope),
            record_ids=_record_ids(self.scope) | _written(answer if status < 300 else None),
            fields=fields,
            purpose=_purpose(_header(self.scope, _PURPOSE)),
            status_code=status,
            correlation_id=_correlation_now(self.scope),
        )

    @property
    def status(self) -> int:
        """The status the route answers with when it succeeds."""
        return getattr(self.scope.get("route"), "status_code", None) or 200

    async def stage(self, session, principal: Principal, status: int, answer: Any) -> None:
        if self.staged:  # committed already, with the part of the write done first
            return
        await self.trail.stage(session, self.access(principal, status, answer))
        self.staged_entries += 1

    def stage_in(self, writes, principal: Principal, status: int, answer: Any) -> None:
        self.trail.stage_in(writes, self.access(principal, status, answer))

    def committed(self) -> None:
        """The write and its entry committed: the middleware records nothing more."""
        self.staged = True
        self.trail.chain_staged()


def write_record(scope) -> WriteRecord | None:
    """The audited write the request is, for the command runner (None: unaudited)."""
    return scope.get(_WRITE_RECORD)


def current_write() -> WriteRecord | None:
    """The audited write the running request is (None: none, or not in a request):
    a use case that commits part of its write before answering (to record it before
    calling out) stages the entry in that commit, then calls ``committed``."""
    return _CURRENT_WRITE.get()


class AuditMiddleware:
    """Records each access with a principal (see the module's docstring)."""

    def __init__(self, app, *, trail: AuditTrail) -> None:
        self.app = app
        self.trail = trail

    async def __call__(self, scope, receive, send) -> None:
        if not _audited(scope):
            await self.app(scope, receive, send)
            return
        reading = scope["method"] in _READS
        body: list[bytes] = []
        capture = not reading and _is_json(_header(scope, b"content-type"))

        async def receive_and_keep():
            nonlocal capture
            message = await receive()
            if capture and message["type"] == "http.request":
                chunk = message.get("body", b"")
                if sum(map(len, body)) + len(chunk) > _MAX_CAPTURED_BODY:
                    capture = False
                    body.clear()
                else:
                    body.append(chunk)
            return message

        principal: Principal | None = None
        start: dict | None = None
        held: list[bytes] = []
        record = None
        if not reading:
            record = scope[_WRITE_RECORD] = WriteRecord(self.trail, scope, body, lambda: capture)

        async def hold(message) -> None:
            # The principal is known once the handler answers: hold the answer of
            # an audited request, pass any other straight through.
            nonlocal principal, start
            if message["type"] == "http.response.start":
                principal = _principal(scope)
                if principal is None:
                    await send(message)
                else:
                    start = message
            elif principal is not None and message["type"] == "http.response.body":
                held.append(message.get("body", b""))
            else:
                await send(message)

        current = _CURRENT_WRITE.set(record)
        try:
            await self.app(scope, receive_and_keep if capture else receive, hold)
        except Exception:
            principal = principal or _principal(scope)
            if principal is not None:
                await self._record_failure(scope, principal, reading)
            raise
        finally:
            _CURRENT_WRITE.reset(current)
        if principal is None or start is None:
            return

        content = b"".join(held)
        if record is not None:
            # The write is committed already: holding its answer for the entry would
            # guarantee nothing and cost it a second commit's wait. Its entry was
            # staged with it (the runner's writes) or follows, grouped, drained at shutdown.
            await send(start)
            await send({"type": "http.response.body", "body": content})
            if not record.staged:
                requested = b"".join(body) if capture else None
                self._record_later(_access(scope, principal, start, content, requested))
            return
        access = _access(scope, principal, start, content, None)
        try:
            await self.trail.append(access)
        except Exception:
            _log_unrecorded(access)
            await _unavailable(scope, start, send)  # never let data leave unrecorded
            return
        await send(start)  # its headers stand: the body is the one the handler sent
        await send({"type": "http.response.body", "body": content})

    def _record_later(self, access: Access) -> None:
        async def record() -> None:
            try:
                await self.trail.append(access)
            except Exception:
                _log_unrecorded(access)

        task = asyncio.create_task(record(), name="audit-write-entry")
        _PENDING.add(task)  # held until done, and awaited at shutdown (drain)
        task.add_done_callback(_PENDING.discard)

    async def _record_failure(self, scope, principal: Principal, reading: bool) -> None:
        """The handler raised (the caller gets a 500): the attempt is still on record."""
        try:
            await self.trail.append(
                Access.of(
                    principal,
                    action=AuditAction.READ.value if reading else AuditAction.WRITE.value,
                    method=scope["method"],
                    route=_route(scope),
                    record_ids=_record_ids(scope),
                    fields=None,
                    purpose=_purpose(_header(scope, _PURPOSE)),
                    status_code=500,
                    correlation_id=_correlation(None, scope),
                )
            )
        except Exception:
            log.exception("audit: could not record a failed %s %s", scope["method"], scope["path"])


def _audited(scope) -> bool:
    if scope["type"] != "http" or scope.get("method") not in _READS | _WRITES:
        return False
    path = scope["path"]
    unaudited = any(path == p or path.startswith(p + "/") for p in _UNAUDITED)
    return not unaudited or path.startswith(_AUDITED_OPS)


def _access(
    scope, principal: Principal, start: dict, content: bytes, requested: bytes | None
) -> Access:
    """The entry for an answered request: ``content`` is the answer's body,
    ``requested`` the write's JSON body (None when not captured)."""
    status = start["status"]
    reading = scope["method"] in _READS
    answered_json = _is_json(_header(start, b"content-type"))
    if reading:
        document = _json(content) if status < 400 and answered_json else None
        fields, listed = _names(document), _listed(document)
    else:
        fields = _names(_json(requested)) if requested is not None else None
        listed = _written(_json(content) if status < 300 and answered_json else None)
    return Access.of(
        principal,
        action=AuditAction.READ.value if reading else AuditAction.WRITE.value,
        method=scope["method"],
        route=_route(scope),
        record_ids=_record_ids(scope) | listed,
        fields=fields,
        purpose=_purpose(_header(scope, _PURPOSE)),
        status_code=status,
        correlation_id=_correlation(start, scope),
    )


def _log_unrecorded(access: Access) -> None:
    log.exception(
        "audit: could not record %s %s by %s",
        access.method,
        access.route,
        access.subject,
        extra={"audit_entry": {**vars(access), "roles": list(access.roles)}},
    )


def _header(scope_or_message, name: bytes) -> bytes | None:
    return next((v for k, v in scope_or_message.get("headers", ()) if k == name), None)


def _purpose(raw: bytes | None) -> str | None:
    """The caller's stated reason: UTF-8 (or Latin-1) text, control characters
    removed, at most 200 characters; absent or blank → None."""
    if not raw:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    text = "".join(c for c in text if c.isprintable()).strip()
    return text[:PURPOSE_MAX] or None


def _is_json(content_type: bytes | None) -> bool:
    if not content_type:
        return False
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or media.endswith(b"+json")


def _json(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None


def _names(document: Any) -> list[str] | None:
    """Top-level keys of a JSON object, or of the objects of a JSON list."""
    if isinstance(document, dict):
        keys: Iterable[str] = document.keys()
    elif isinstance(document, list):
        keys = {k for item in document if isinstance(item, dict) for k in item}
    else:
        return None
    return sorted(k[:200] for k in keys)[:_MAX_NAMES]


def _listed(document: Any) -> dict[str, list[str]]:
    """Ids of the records a list answer shows, so "who saw person X" finds lists too."""
    if not isinstance(document, list):
        return {}
    found: dict[str, list[str]] = {}
    for key, name in (("id", "listed_ids"), ("person_id", "listed_person_ids")):
        values = [
            str(item[key])[:_MAX_ID]
            for item in document
            if isinstance(item, dict) and isinstance(item.get(key), str | int)
        ]
        if values:
            found[name] = list(dict.fromkeys(values))[:_MAX_NAMES]
    return found


def _written(document: Any) -> dict[str, str]:
    """The record a write created or changed, as its answer names it (``POST
    /persons`` mints the id the path could not name)."""
    if not isinstance(document, dict):
        return {}
    return {
        name: str(document[key])[:_MAX_ID]
        for key, name in (("id", "response_id"), ("person_id", "response_person_id"))
        if isinstance(document.get(key), str | int)
    }


def _record_ids(scope) -> dict[str, Any]:
    ids: dict[str, Any] = {
        str(k): str(v)[:_MAX_ID] for k, v in (scope.get("path_params") or {}).items()
    }
    query = scope.get("query_string") or b""
    if query:
        for key, value in parse_qsl(query.decode("latin-1")):
            if key.endswith("_id") and key not in ids and len(ids) < _MAX_NAMES:
                ids[key[:100]] = value[:_MAX_ID]
    return ids


def _principal(scope) -> Principal | None:
    principal = (scope.get("state") or {}).get("principal")
    return principal if isinstance(principal, Principal) else None


def _route(scope) -> str:
    return str(getattr(scope.get("route"), "path", None) or scope["path"])[:300]


def _correlation_now(scope) -> str | None:
    """The request's correlation id while it runs (CorrelationMiddleware's)."""
    causal = causal_context()
    return causal.correlation_id[:100] if causal else _correlation(None, scope)


def _correlation(start: dict | None, scope) -> str | None:
    raw = (_header(start, _CORRELATION) if start else None) or _header(scope, _CORRELATION)
    return raw.decode("latin-1")[:100] if raw else None


async def _unavailable(scope, start: dict, send) -> None:
    body = json.dumps(
        {
            "type": TYPE_BASE + "audit-unavailable",
            "title": "Audit trail unavailable",
            "status": 503,
            "detail": "The access could not be recorded in the audit trail, so the data is "
            "withheld. Try again shortly.",
            "instance": scope["path"],
        }
    ).encode()
    correlation = _header(start, _CORRELATION)
    headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", b"1"),
        *([(_CORRELATION, correlation)] if correlation else []),
    ]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body})
