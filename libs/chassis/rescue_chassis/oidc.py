"""Bearer tokens of an OIDC identity provider (Keycloak or alike), verified
against the provider's published keys (JWKS).

- The JWKS is found through discovery (``<issuer>/.well-known/openid-configuration``
  names ``jwks_uri``; its ``issuer`` must be the configured one) or given directly.
- Keys are fetched over HTTP (httpx, async, with a timeout) and cached for
  ``cache_seconds``. A token naming an unknown ``kid`` (the provider rotated its
  keys) causes one refetch, at most one per ``min_refresh_seconds``: a flood of
  made-up kids costs the provider nothing. Concurrent requests share one fetch.
- When a refetch fails, the cached keys stay in use; with no keys at all the
  caller gets ``KeysUnavailable`` (a 503: the token may well be fine).
- Only asymmetric algorithms, and only the configured ones; the token's ``alg``
  must fit the key (``kty``, curve, and the key's own ``alg`` if it names one).
  A key's ``jku``/``x5u`` in a token header is never followed.

``rescue_chassis.auth`` maps the verified claims to a ``Principal`` and every
failure here to a 401 (or 503) problem.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt

log = logging.getLogger(__name__)

MAX_DOCUMENT_BYTES = 512 * 1024
FAILURE_BACKOFF_SECONDS = 5.0  # after a failed fetch, no new attempt for this long

# What key an algorithm needs: key type and, for EC, the curve.
_KEY_FOR_ALGORITHM: dict[str, tuple[str, str | None]] = {
    "RS256": ("RSA", None),
    "RS384": ("RSA", None),
    "RS512": ("RSA", None),
    "PS256": ("RSA", None),
    "PS384": ("RSA", None),
    "PS512": ("RSA", None),
    "ES256": ("EC", "P-256"),
    "ES384": ("EC", "P-384"),
    "ES512": ("EC", "P-521"),
}


class KeysUnavailable(Exception):
    """The identity provider's keys could not be fetched (and none are cached)."""

    def __init__(self, reason: str, retry_after: float) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = max(1, math.ceil(retry_after))


class UnknownSigningKey(jwt.InvalidTokenError):
    """The token names a key the identity provider does not publish."""


class KeyMismatch(jwt.InvalidAlgorithmError):
    """The token's algorithm does not fit the key it names."""


@dataclass
class _KeySet:
    by_kid: dict[str | None, list[dict[str, Any]]]
    fetched_at: float
    prepared: dict[tuple[str | None, int, str], jwt.PyJWK] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return sum(len(keys) for keys in self.by_kid.values())


def _signing_keys(document: Any) -> dict[str | None, list[dict[str, Any]]]:
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("the JWKS is not an object with a list of keys")
    by_kid: dict[str | None, list[dict[str, Any]]] = {}
    for key in document["keys"]:
        if not isinstance(key, dict) or key.get("kty") not in ("RSA", "EC"):
            continue  # symmetric ("oct") or unknown key types never verify here
        if key.get("use", "sig") != "sig":
            continue  # encryption keys (Keycloak publishes RSA-OAEP ones)
        kid = key.get("kid")
        by_kid.setdefault(kid if isinstance(kid, str) else None, []).append(key)
    return by_kid


class JwksCache:
    """The identity provider's signing keys, fetched lazily and cached."""

    def __init__(
        self,
        *,
        issuer: str | None = None,
        jwks_url: str | None = None,
        timeout: float = 5.0,
        cache_seconds: float = 300.0,
        min_refresh_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not (issuer or jwks_url):
            raise ValueError("JwksCache needs an issuer (discovery) or a JWKS URL")
        self.issuer = issuer
        self._configured_jwks_url = jwks_url
        self._jwks_url = jwks_url
        self._timeout = timeout
        self._cache_seconds = cache_seconds
        self._min_refresh_seconds = min_refresh_seconds
        self._clock = clock
        self._transport = transport
        self._keys: _KeySet | None = None
        self._last_attempt: float | None = None
        self._failure: KeysUnavailable | None = None
        self._completed = 0  # fetches finished (either way), to share one among waiters
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None

    # -------------------------------------------------------------- public

    async def signing_key(self, kid: str | None, algorithm: str) -> jwt.PyJWK:
        """The key to verify a token with this ``kid`` and ``alg``.

        Raises ``UnknownSigningKey`` (401), ``KeyMismatch`` (401) or
        ``KeysUnavailable`` (503)."""
        keys = await self._current()
        candidates = self._find(keys, kid)
        if not candidates and self._may_refresh():
            log.info("token names unknown key %r: refetching the JWKS", kid and kid[:64])
            # A failed refetch is a 503 here: the token may carry a new, valid key.
            keys = await self._refresh(keep_stale=False)
            candidates = self._find(keys, kid)
        if not candidates:
            if kid is None:
                raise UnknownSigningKey("the token names no key (kid) and the JWKS has several")
            raise UnknownSigningKey(f"unknown signing key (kid {kid[:64]!r})")
        return self._prepare(keys, kid, candidates, algorithm)

    # ------------------------------------------------------------ caching

    def _may_refresh(self) -> bool:
        return (
            self._last_attempt is None
            or self._clock() - self._last_attempt >= self._min_refresh_seconds
        )

    async def _current(self) -> _KeySet:
        keys = self._keys
        if keys is not None and self._clock() - keys.fetched_at < self._cache_seconds:
            return keys
        if keys is not None and not self._may_refresh():
            return keys  # expired, but the last attempt (a failure) was just now
        return await self._refresh(keep_stale=True)

    async def _refresh(self, *, keep_stale: bool) -> _KeySet:
        """Fetch the keys once for everyone waiting. If that fails, go on with the
        cached keys (``keep_stale``) or raise ``KeysUnavailable``."""
        seen = self._completed
        async with self._the_lock():
            if self._completed != seen:
                # Someone fetched while this request waited: share the outcome.
                return self._outcome(keep_stale)
            if self._keys is None and self._failure is not None and self._backoff() > 0:
                return self._outcome(keep_stale)  # failed a moment ago: do not hammer
            self._last_attempt = self._clock()
            try:
                by_kid = await self._fetch()
            except Exception as exc:  # noqa: BLE001  (any failure: unreachable, bad JSON, ...)
                self._completed += 1
                reason = f"{type(exc).__name__}: {exc}"[:300]
                self._failure = KeysUnavailable(reason, FAILURE_BACKOFF_SECONDS)
                if self._configured_jwks_url is None:
                    self._jwks_url = None  # discover again next time
                if self._keys is not None:
                    log.warning("JWKS refetch failed, the cached keys stay: %s", reason)
                else:
                    log.error("JWKS fetch failed: %s", reason)
                return self._outcome(keep_stale)
            self._completed += 1
            self._failure = None
            self._keys = _KeySet(by_kid=by_kid, fetched_at=self._clock())
            log.info("JWKS fetched: %d signing keys", self._keys.size)
            return self._keys

    def _outcome(self, keep_stale: bool) -> _KeySet:
        if self._failure is None and self._keys is not None:
            return self._keys
        if keep_stale and self._keys is not None:
            return self._keys
        reason = self._failure.reason if self._failure else "no keys"
        raise KeysUnavailable(reason, self._backoff())

    def _backoff(self) -> float:
        """Seconds until a failed fetch may be retried."""
        if self._last_attempt is None:
            return 0.0
        return FAILURE_BACKOFF_SECONDS - (self._clock() - self._last_attempt)

    def _the_lock(self) -> asyncio.Lock:
        # One lock per event loop (an asyncio.Lock must not cross loops).
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            self._lock, self._lock_loop = asyncio.Lock(), loop
        return self._lock

    # ----------------------------------------------------------- fetching

    async def _fetch(self) -> dict[str | None, list[dict[str, Any]]]:
        async with httpx.AsyncClient(
            timeout=self._timeout, transport=self._transport, follow_redirects=False
        ) as client:
            if self._jwks_url is None:
                assert self.issuer is not None
                url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
                discovery = await self._get_json(client, url)
                if not isinstance(discovery, dict):
                    raise ValueError("the discovery document is not an object")
                if discovery.get("issuer") != self.issuer:
                    raise ValueError(
                        f"discovery names issuer {str(discovery.get('issuer'))[:200]!r},"
                        f" not {self.issuer!r}"
                    )
                jwks_uri = discovery.get("jwks_uri")
                if not isinstance(jwks_uri, str) or not jwks_uri.startswith(
                    ("https://", "http://")
                ):
                    raise ValueError("the discovery document names no jwks_uri")
                self._jwks_url = jwks_uri
            return _signing_keys(await self._get_json(client, self._jwks_url))

    @staticmethod
    async def _get_json(client: httpx.AsyncClient, url: str) -> Any:
        response = await client.get(url, headers={"Accept": "application/json"})
        response.raise_for_status()
        if len(response.content) > MAX_DOCUMENT_BYTES:
            raise ValueError(f"{url}: document larger than {MAX_DOCUMENT_BYTES} bytes")
        return response.json()

    # --------------------------------------------------------------- keys

    @staticmethod
    def _find(keys: _KeySet, kid: str | None) -> list[dict[str, Any]]:
        if kid is not None:
            return keys.by_kid.get(kid, [])
        # No kid: acceptable only when the provider publishes a single key.
        everything = [key for group in keys.by_kid.values() for key in group]
        return everything if len(everything) == 1 else []

    @staticmethod
    def _prepare(
        keys: _KeySet, kid: str | None, candidates: Sequence[dict[str, Any]], algorithm: str
    ) -> jwt.PyJWK:
        needed = _KEY_FOR_ALGORITHM.get(algorithm)
        if needed is None:
            raise KeyMismatch(f"algorithm {algorithm[:20]!r} is not accepted")
        for index, key in enumerate(candidates):
            if key.get("kty") != needed[0] or (needed[1] and key.get("crv") != needed[1]):
                continue
            if key.get("alg") not in (None, algorithm):
                continue
            cached = keys.prepared.get((kid, index, algorithm))
            if cached is not None:
                return cached
            try:
                prepared = jwt.PyJWK(key, algorithm=algorithm)
            except jwt.PyJWTError as exc:
                log.warning("unusable JWKS key %r: %s", kid, exc)
                continue
            keys.prepared[(kid, index, algorithm)] = prepared
            return prepared
        raise KeyMismatch(f"algorithm {algorithm!r} does not fit the key (kid {str(kid)[:64]!r})")


class OidcVerifier:
    """Checks a token's signature (against the JWKS) and its registered claims."""

    def __init__(
        self,
        keys: JwksCache,
        *,
        issuer: str,
        audience: str,
        algorithms: Iterable[str],
        leeway: float = 30.0,
        required: Sequence[str] = ("exp", "iat", "sub", "aud", "iss"),
    ) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.algorithms = frozenset(algorithms) & _KEY_FOR_ALGORITHM.keys()
        self.leeway = leeway
        self.required = list(required)

    async def claims(self, token: str) -> Mapping[str, Any]:
        header = jwt.get_unverified_header(token)  # DecodeError when malformed
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in self.algorithms:
            raise jwt.InvalidAlgorithmError(
                f"algorithm {str(algorithm)[:20]!r} is not accepted"
                f" (only {', '.join(sorted(self.algorithms))})"
            )
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise jwt.DecodeError("the kid header must be a string")
        key = await self.keys.signing_key(kid, algorithm)
        claims = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            audience=self.audience,
            issuer=self.issuer,
            leeway=self.leeway,
            options={"require": self.required},
        )
        # Keycloak marks its ID and refresh tokens; only access tokens open the API.
        if claims.get("typ") in ("ID", "Refresh", "Logout", "Offline"):
            raise jwt.InvalidTokenError(f"a {claims['typ']} token is no access token")
        return claims
