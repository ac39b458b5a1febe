"""The causal context of the work in progress: which request or event caused it.

An HTTP middleware sets it per request, the consumer per event; the outbox
reads it when staging, so every event carries its correlation and causation
ids without threading them through every handler signature.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class CausalContext:
    correlation_id: str
    causation_id: str | None = None
    station_id: str | None = None


_current: ContextVar[CausalContext | None] = ContextVar("rescue_causal_context", default=None)


def current() -> CausalContext | None:
    return _current.get()


@contextmanager
def caused_by(context: CausalContext):
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)
