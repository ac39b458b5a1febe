"""``Idempotency-Key`` for POSTs that start work.

A station app on a flaky line retries; the retry must not admit the person
twice. The key and the response are stored in the same transaction as the
business rows, so a retry gets the first response back, byte for byte.

A key belongs to its caller (the principal at their station) and to its
request (method, path and body): another caller's same key is a fresh key, and
the caller's own key sent again for another request is a 409.

The stored answer can name a national id or a phone number: it is encrypted
with the service's key ring (rescue_chassis.crypto, ``EncryptedJSON``), on the
driver's path as through the column type, and rotated with the other columns.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from pydantic import BaseModel
from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from rescue_chassis.auth import Principal
from rescue_chassis.crypto import KeyRing, dump_json, key_ring_of
from rescue_chassis.problems import Problem, field_error
from rescue_chassis.writes import Writes
from rescue_events.driver import begun, in_transaction, run, table_name

HEADER = "Idempotency-Key"
# 1 to 200 visible ASCII characters, inner spaces allowed (HTTP strips the outer ones).
KEY_PATTERN = r"^[!-~]([ -~]{0,198}[!-~])?$"
# The stored answer's encryption context (as the table's column type names it).
RESPONSE_CONTEXT = "idempotency_keys.response"


@dataclass(frozen=True)
class RequestKey:
    """The header's value and the request it was sent with."""

    value: str
    target: str  # "POST /persons/…": the same key on another resource is another request


IDEMPOTENCY_HEADER = Header(
    alias=HEADER,
    min_length=1,
    max_length=200,
    pattern=KEY_PATTERN,
    description="Makes a retry safe: the same key, caller and body within a day "
    "answers as the first request did, without doing the work again. 1 to 200 "
    "visible ASCII characters; a new key for each new request.",
    examples=["3f1c9a52-7b1e-4c1e-9a53-2f0d8f7c6b10"],
)


def request_key(request: Request, key: str | None) -> RequestKey | None:
    """The header's value (checked by ``IDEMPOTENCY_HEADER``) with its request."""
    return None if key is None else RequestKey(key, f"{request.method} {request.url.path}")


async def _request_key(  # async: a plain def would hop to a worker thread per request
    request: Request, key: Annotated[str | None, IDEMPOTENCY_HEADER] = None
) -> RequestKey | None:
    return request_key(request, key)


# The route parameter every creating POST takes: `idempotency_key: IdempotencyKey`.
IdempotencyKey = Annotated[RequestKey | None, Depends(_request_key)]


def caller_of(principal: Principal) -> str:
    """Whose keys these are: the principal at their station (the column holds 200)."""
    caller = f"{principal.station_id}/{principal.subject}"
    return caller if len(caller) <= 200 else hashlib.sha256(caller.encode()).hexdigest()


@dataclass
class IdempotentRequest:
    table: Table
    key: str | None
    subject: str
    request_hash: str
    stored_status: int | None = None
    stored_response: Any = None
    ring: KeyRing | None = None  # the engine's: seals and opens the stored answer

    @property
    def replayed(self) -> bool:
        return self.stored_status is not None

    @classmethod
    def of(
        cls,
        table: Table,
        key: RequestKey | None,
        caller: Principal,
        body: BaseModel,
        *,
        engine: Any = None,
    ) -> IdempotentRequest:
        """The request's key, its caller and its hash; nothing read yet. ``engine``:
        the one the answer is stored through (its key ring encrypts it)."""
        digest = ""  # no key: nothing is stored, nothing to hash (a photo is megabytes)
        ring = None
        if key is not None:
            text = f"{key.target}\n{body.model_dump_json()}"
            digest = hashlib.sha256(text.encode()).hexdigest()
            ring = key_ring_of(engine.dialect) if engine is not None else None
        return cls(
            table=table,
            key=key.value if key is not None else None,
            subject=caller_of(caller),
            request_hash=digest,
            ring=ring,
        )

    @classmethod
    async def check(
        cls,
        session: AsyncSession,
        table: Table,
        key: RequestKey | None,
        caller: Principal,
        body: BaseModel,
    ) -> IdempotentRequest:
        request = cls.of(table, key, caller, body, engine=session.bind)
        if key is not None:
            # The first statement of the request's transaction, on the driver
            # (rescue_events.driver) like the rest of the plumbing's.
            await request.read_stored(await begun(session))
        return request

    async def read_stored(self, driver: Any) -> None:
        """The response stored for this caller's key, if any (then ``replayed``); a
        key used before for another request is a 409."""
        sql = (
            f"SELECT request_hash, status_code, response FROM {table_name(self.table)} "
            "WHERE key = $1 AND subject = $2"
        )
        row = await run(sql, driver.fetchrow(sql, self.key, self.subject))
        if row is not None:
            if row["request_hash"] != self.request_hash:
                raise Problem(
                    409,
                    "Idempotency-Key reused",
                    f"This {HEADER} was already used for a different request (another body "
                    "or another resource); send a new key for a new request.",
                    type_="idempotency-key-reused",
                    errors=[
                        field_error(f"header.{HEADER}", "was already used for another request")
                    ],
                )
            self.stored_status = row["status_code"]
            self.stored_response = self._opened(row["response"])

    async def remember(self, session: AsyncSession, status: int, response: Any) -> None:
        if self.key is None:
            return
        # ON CONFLICT instead of a savepoint: one round trip, and a key taken by a
        # concurrent request (it waited for that request's commit) is a 409.
        # On the driver (rescue_events.driver) once check() has begun the transaction.
        driver = await in_transaction(session)
        if driver is not None:
            sql = self._insert_sql
            stored = await run(sql, driver.fetchval(sql, *self._row(status, response)))
        else:
            stored = await session.scalar(
                pg_insert(self.table)
                .values(
                    key=self.key,
                    subject=self.subject,
                    request_hash=self.request_hash,
                    status_code=status,
                    response=response,
                )
                .on_conflict_do_nothing(index_elements=["key", "subject"])
                .returning(self.table.c.key)
            )
        self._stored_or_in_progress(0 if stored is None else 1)

    def claim_in(self, writes: Writes, status: int, response: Any) -> None:
        """The record as the claim of ``writes`` (rescue_chassis.writes): the other
        inserts happen only if this key is new. After they are sent, if
        ``writes.claimed`` is False, ``read_stored`` reads the first response."""
        if self.key is not None:
            writes.claim(self._insert_sql, *self._row(status, response))

    @property
    def _insert_sql(self) -> str:
        return (
            f"INSERT INTO {table_name(self.table)} (key, subject, request_hash, status_code, "
            "response) VALUES ($1, $2, $3, $4, $5) "
            "ON CONFLICT (key, subject) DO NOTHING RETURNING key"
        )

    def _row(self, status: int, response: Any) -> tuple:
        return (self.key, self.subject, self.request_hash, status, self._sealed(response))

    def _key_ring(self) -> KeyRing:
        if self.ring is None:
            raise TypeError("no key ring: build the request with the engine it is stored through")
        return self.ring

    def _sealed(self, response: Any) -> str:
        """The answer as stored: encrypted JSON (as the column type writes it)."""
        return self._key_ring().encrypt(dump_json(response), RESPONSE_CONTEXT)

    def _opened(self, stored: str) -> Any:
        # A row stored before encryption holds the answer's JSON as is.
        return json.loads(self._key_ring().reveal(stored, RESPONSE_CONTEXT))

    def _stored_or_in_progress(self, stored: int) -> None:
        if not stored:
            raise Problem(
                409,
                "Request in progress",
                f"Another request with this {HEADER} is being processed; retry shortly.",
            )
