"""Signed-in users, kept on the console's side: the browser holds only a random id."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

COOKIE = "console_session"


@dataclass
class ConsoleSession:
    id: str
    token: str  # the user's bearer token: never sent to the browser
    subject: str
    station_id: str
    roles: frozenset[str]
    started_at: float
    last_seen: float
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    def has_any(self, *roles: str) -> bool:
        return any(r in self.roles for r in roles)


class SessionStore:
    """In memory: a restart signs everyone out, which is the safe failure."""

    def __init__(self, *, idle_seconds: float, max_seconds: float, clock=time.monotonic) -> None:
        self._sessions: dict[str, ConsoleSession] = {}
        self._idle = idle_seconds
        self._max = max_seconds
        self._clock = clock

    def start(
        self, *, token: str, subject: str, station_id: str, roles: list[str]
    ) -> ConsoleSession:
        self._sweep()
        now = self._clock()
        session = ConsoleSession(
            id=secrets.token_urlsafe(32),
            token=token,
            subject=subject,
            station_id=station_id,
            roles=frozenset(roles),
            started_at=now,
            last_seen=now,
        )
        self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None) -> ConsoleSession | None:
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        if session is None:
            return None
        now = self._clock()
        if self._expired(session, now):
            self.end(session_id)
            return None
        session.last_seen = now
        return session

    def end(self, session_id: str | None) -> None:
        if session_id:
            self._sessions.pop(session_id, None)

    def _expired(self, session: ConsoleSession, now: float) -> bool:
        return now - session.last_seen > self._idle or now - session.started_at > self._max

    def _sweep(self) -> None:
        now = self._clock()
        for sid in [s.id for s in self._sessions.values() if self._expired(s, now)]:
            del self._sessions[sid]

    def __len__(self) -> int:
        return len(self._sessions)
