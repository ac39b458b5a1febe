"""Signed-in users, kept on the console's side: the browser holds only a random id."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

COOKIE = "console_session"
SIGN_IN_SECONDS = 600  # from the redirect to the issuer until its callback
MAX_SIGN_INS = 10_000


@dataclass(frozen=True)
class PendingSignIn:
    state: str
    nonce: str
    verifier: str  # PKCE's code_verifier
    next_path: str
    started_at: float


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
    id_token: str | None = None  # OIDC: the hint for the issuer's end-session endpoint
    token_expires_at: float | None = None  # the token's exp (epoch seconds): the session's end

    def has_any(self, *roles: str) -> bool:
        return any(r in self.roles for r in roles)


class SessionStore:
    """In memory: a restart signs everyone out, which is the safe failure."""

    def __init__(
        self,
        *,
        idle_seconds: float,
        max_seconds: float,
        clock=time.monotonic,
        wall_clock=time.time,
    ) -> None:
        self._sessions: dict[str, ConsoleSession] = {}
        self._sign_ins: dict[str, PendingSignIn] = {}
        self._idle = idle_seconds
        self._max = max_seconds
        self._clock = clock
        self._wall_clock = wall_clock

    def start(
        self,
        *,
        token: str,
        subject: str,
        station_id: str,
        roles: list[str],
        id_token: str | None = None,
        token_expires_at: float | None = None,
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
            id_token=id_token,
            token_expires_at=token_expires_at,
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
        if session.token_expires_at is not None and self._wall_clock() >= session.token_expires_at:
            return True  # every service would answer 401 from now on
        return now - session.last_seen > self._idle or now - session.started_at > self._max

    # -- sign-ins under way (OIDC: between the redirect and the callback) ----------

    def hold_sign_in(self, *, state: str, nonce: str, verifier: str, next_path: str) -> str:
        """Keeps what the callback checks; returns the id the browser's cookie holds."""
        now = self._clock()
        for key in [k for k, p in self._sign_ins.items() if now - p.started_at > SIGN_IN_SECONDS]:
            del self._sign_ins[key]
        while len(self._sign_ins) >= MAX_SIGN_INS:  # a flood of redirects cannot grow it
            self._sign_ins.pop(next(iter(self._sign_ins)))
        key = secrets.token_urlsafe(32)
        self._sign_ins[key] = PendingSignIn(state, nonce, verifier, next_path, now)
        return key

    def take_sign_in(self, key: str | None) -> PendingSignIn | None:
        """The sign-in under way, once: a callback cannot be replayed."""
        pending = self._sign_ins.pop(key, None) if key else None
        if pending is None or self._clock() - pending.started_at > SIGN_IN_SECONDS:
            return None
        return pending

    def _sweep(self) -> None:
        now = self._clock()
        for sid in [s.id for s in self._sessions.values() if self._expired(s, now)]:
            del self._sessions[sid]

    def __len__(self) -> int:
        return len(self._sessions)
