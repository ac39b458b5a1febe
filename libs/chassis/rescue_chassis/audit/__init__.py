"""The audit trail: who read or wrote which person data, when, from which station
and why; append-only, hash-chained, queryable by auditors, gathered by events.

- ``middleware``: every request to a business endpoint with an authenticated
  principal is recorded: who (subject, station, roles), when, read or write,
  method and route template, which records (path parameters, ``*_id`` query
  parameters, the ids a list shows or a write's answer names), which fields
  (names only), why (the ``X-Purpose`` header), the status and the correlation id.
  A read's data leaves only once it is on record; a write run by the command
  runner commits with its entry (staged in ``audit_pending``, then chained).
- ``chain``: entries form one chain per service, ``position`` 1, 2, 3… without
  gaps and ``hash`` = sha256(canonical JSON of the entry, with ``prev_hash``).
- ``writer``: appends are serialised by a transaction-scoped advisory lock, so
  concurrent requests cannot fork the chain; staged entries join it through the
  owner's function ``rescue_audit_chain_staged`` (the service's role cannot
  delete them). No event per entry (``audit_recorded`` is no longer published).
- ``anchors``: the chain's head published as ``audit_chain_anchored`` on
  ``rescue.audit`` (periodically, every so many entries, and on demand: ``POST
  /audit/anchors``) and kept by the summary service; a verification checks the
  anchors its caller brings from there, which a database owner cannot rewrite.
- ``table``: ``audit_entries``, whose trigger refuses UPDATE, DELETE and TRUNCATE;
  ``GET /audit/verification`` finds any change made around it.
- ``routes``: ``GET /audit/entries``, ``GET /audit/verification`` (``?anchor=``)
  and ``POST /audit/anchors`` for auditors, scoped by station (``scope``).
- ``checkpoints``: verified positions of the chain, recorded by a periodic job; a
  verification walks on from the latest one.
"""

from __future__ import annotations

from fastapi import FastAPI

from rescue_chassis.audit.anchors import anchor_job, anchor_settings
from rescue_chassis.audit.chain import (
    GENESIS,
    Access,
    Verification,
    canonical,
    entry_hash,
    row_hash,
)
from rescue_chassis.audit.checkpoints import checkpoint_job
from rescue_chassis.audit.middleware import (
    PURPOSE_HEADER,
    AuditMiddleware,
    WriteRecord,
    current_write,
    drain,
    write_record,
)
from rescue_chassis.audit.routes import AuditEntryView, VerificationView, router
from rescue_chassis.audit.table import (
    PURPOSE_MAX,
    TABLE,
    create_audit_chaining_v1,
    create_audit_pending_v1,
    create_audit_v1,
    define_audit_table,
    drop_audit_chaining_v1,
    drop_audit_pending_v1,
    drop_audit_v1,
)
from rescue_chassis.audit.writer import AuditTrail
from rescue_chassis.runtime import Runtime
from rescue_events.contracts.topics import AUDIT_EVENTS

__all__ = [
    "GENESIS",
    "PURPOSE_HEADER",
    "PURPOSE_MAX",
    "TABLE",
    "Access",
    "AuditEntryView",
    "AuditMiddleware",
    "AuditTrail",
    "Verification",
    "VerificationView",
    "WriteRecord",
    "canonical",
    "create_audit_chaining_v1",
    "create_audit_pending_v1",
    "create_audit_v1",
    "current_write",
    "define_audit_table",
    "drain",
    "drop_audit_chaining_v1",
    "drop_audit_pending_v1",
    "drop_audit_v1",
    "entry_hash",
    "install",
    "router",
    "row_hash",
    "write_record",
]


def install(app: FastAPI) -> None:
    """Audit every business request of ``app`` and serve the auditors' routes."""
    runtime: Runtime = app.state.runtime
    anchoring = anchor_settings(runtime.settings)
    trail = AuditTrail(runtime, anchor_every_entries=anchoring.audit_anchor_every_entries)
    app.state.audit = trail
    runtime.periodic.append(trail.periodic_job())  # chains what a killed process staged
    runtime.periodic.append(checkpoint_job(trail.table))  # verifies what was appended
    runtime.periodic.append(anchor_job(trail, anchoring.audit_anchor_interval_seconds))
    if AUDIT_EVENTS not in runtime.relay.topics:  # created at start-up with the others
        runtime.relay.topics.append(AUDIT_EVENTS)
    app.add_middleware(AuditMiddleware, trail=trail)
    app.include_router(router)
