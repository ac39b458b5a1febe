"""Protection at rest: personal numbers encrypted in the database, with key rotation.

National identity numbers, phone numbers, identity document numbers, DNA sample
references, and whole JSON documents holding such values (a stored idempotent answer,
a patrol's handover record, an agency's contacts) are stored as AES-256-GCM
ciphertext in text columns (``EncryptedText``, ``EncryptedJSON``)::

    enc:v1:<kid>:<base64url(nonce | ciphertext | tag)>

- ``kid`` names the data key that encrypted the value. A *key ring* holds the
  current key (every new write) and older keys (reading only), so a new key can
  be introduced without rewriting anything at once.
- The associated data is the format, the key id and the column's *context*
  (``table.column``), so a value copied into another column, or a header edited
  to name another key, fails to decrypt — loudly (``DecryptionError``).
- Exact search works through a *blind index*: HMAC-SHA256 under a separate lookup
  key of the normalised value (national id upper-cased without spaces, phone
  digits only), stored in its own indexed column. It is deterministic, so equal
  numbers give equal digests; without the lookup key it reveals nothing else.

Where the keys come from is explicit: ``key_ring_from_settings`` builds the ring
from a service's settings (``<SERVICE>_DATA_KEYS``, ``<SERVICE>_DATA_KEY_CURRENT``,
``<SERVICE>_LOOKUP_KEY``) and ``bind_key_ring`` attaches it to one engine (the app
factory does both, in ``build_runtime``). The column types find the ring through
the dialect of the engine running the statement: two runtimes in one test
process keep their own rings, and an engine without a ring refuses to read or
write an encrypted column instead of storing plain text.

Legacy rows: a value without the ``enc:`` prefix is read as plain text (rows
written before encryption). The rotation job (``rotation_job``, added by the app
factory to every service with encrypted columns) re-encrypts, a batch per run,
every value that is plain or under a key other than the current one, and fills
missing blind indexes. ``rescue_encryption_stale_values`` (a gauge on
``/metrics``, ``rescue_chassis.metrics.stale_values_metric``, reading
``stale_values``) counts what is left; remove an old key only when it reaches 0.

Rotating a data key: (1) add the new key to ``DATA_KEYS`` on every replica (the
current key unchanged), (2) make it ``DATA_KEY_CURRENT``, (3) wait for the gauge
to reach 0, (4) drop the old key. Rotating the lookup key is not supported: every
blind index would have to be recomputed from the decrypted values at once.

Nothing new in plain text: ``plain_sensitive_columns`` lists the columns named like
a phone, an identity number, a document, an address, a secret or a contact that are
not encrypted; tests/unit/test_plaintext_columns.py fails on any not registered
there with its reason.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import unicodedata
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import (
    Column,
    MetaData,
    String,
    Table,
    Text,
    and_,
    event,
    func,
    inspect,
    literal,
    or_,
    select,
    type_coerce,
)
from sqlalchemy import update as sql_update
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapper
from sqlalchemy.sql import operators
from sqlalchemy.types import TypeDecorator

from rescue_chassis.periodic import PeriodicJob

log = logging.getLogger(__name__)

PREFIX = "enc:v1:"
KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12
DIGEST_LENGTH = 64  # hex of HMAC-SHA256
_KID = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


class KeyConfigurationError(ValueError):
    """The keys in the settings are missing, malformed or inconsistent."""


class DecryptionError(Exception):
    """A stored value could not be decrypted: unknown key, tampered, or moved."""


# ---- normalising values for the blind index ----------------------------------


def normalise_national_id(value: str) -> str:
    # As rescue_divisions.national_id reads a typed number: full-width digits too.
    return "".join(unicodedata.normalize("NFKC", value).split()).upper()


def normalise_phone(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


def normalise_reference(value: str) -> str:
    return value.strip()


NORMALISERS: dict[str, Callable[[str], str]] = {
    "national_id": normalise_national_id,
    "phone": normalise_phone,
    "sample_ref": normalise_reference,
}


# ---- keys ----------------------------------------------------------------------


def generate_key() -> str:
    """A new random 256-bit key, base64 (for ``DATA_KEYS`` or ``LOOKUP_KEY``)."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


def decode_key(text: str, what: str) -> bytes:
    cleaned = text.strip().replace("-", "+").replace("_", "/")
    try:
        key = base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise KeyConfigurationError(f"{what} is not base64") from None
    if len(key) != KEY_BYTES:
        raise KeyConfigurationError(f"{what} must be {KEY_BYTES} bytes, not {len(key)}")
    return key


def parse_data_keys(text: str) -> dict[str, bytes]:
    """``DATA_KEYS``: a JSON object ``{"kid": "base64", …}``, a JSON list or a comma
    list of ``kid:base64``."""
    text = text.strip()
    pairs: list[tuple[str, str]]
    if text.startswith("{"):
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError:
            raise KeyConfigurationError("data keys: not valid JSON") from None
        pairs = [(str(k), str(v)) for k, v in loaded.items()]
    else:
        if text.startswith("["):
            try:
                items = [str(i) for i in json.loads(text)]
            except json.JSONDecodeError:
                raise KeyConfigurationError("data keys: not valid JSON") from None
        else:
            items = [i for i in (part.strip() for part in text.split(",")) if i]
        pairs = []
        for item in items:
            kid, sep, key = item.partition(":")
            if not sep:
                raise KeyConfigurationError("data keys: each entry must be kid:base64key")
            pairs.append((kid.strip(), key))
    keys: dict[str, bytes] = {}
    for kid, key in pairs:
        if not _KID.match(kid):
            raise KeyConfigurationError(
                f"data keys: key id {kid!r} must be 1-32 letters, digits, '.', '_' or '-'"
            )
        if kid in keys:
            raise KeyConfigurationError(f"data keys: key id {kid!r} appears twice")
        keys[kid] = decode_key(key, f"data key {kid!r}")
    if not keys:
        raise KeyConfigurationError("data keys: no key given")
    return keys


@dataclass(frozen=True)
class KeyRing:
    keys: Mapping[str, bytes] = field(repr=False)
    current: str
    lookup_key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if self.current not in self.keys:
            raise KeyConfigurationError(
                f"the current data key {self.current!r} is not among the data keys "
                f"({', '.join(sorted(self.keys))})"
            )
        if len(self.lookup_key) < KEY_BYTES:
            raise KeyConfigurationError(f"the lookup key must be at least {KEY_BYTES} bytes")
        if any(hmac.compare_digest(self.lookup_key, key) for key in self.keys.values()):
            raise KeyConfigurationError("the lookup key must differ from every data key")
        # One cipher per key, set up once: every sealed answer and column used a new one.
        object.__setattr__(self, "_ciphers", {kid: AESGCM(key) for kid, key in self.keys.items()})

    @classmethod
    def parse(cls, data_keys: str, current: str | None, lookup_key: str) -> KeyRing:
        keys = parse_data_keys(data_keys)
        if not current:
            if len(keys) > 1:
                raise KeyConfigurationError(
                    "several data keys: name the one for new writes (DATA_KEY_CURRENT)"
                )
            current = next(iter(keys))
        return cls(keys, current.strip(), decode_key(lookup_key, "lookup key"))

    @property
    def current_prefix(self) -> str:
        return f"{PREFIX}{self.current}:"

    @staticmethod
    def _aad(kid: str, context: str) -> bytes:
        return f"{PREFIX}{kid}:{context}".encode()

    def encrypt(self, plaintext: str, context: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self.current].encrypt(
            nonce, plaintext.encode(), self._aad(self.current, context)
        )
        body = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{PREFIX}{self.current}:{body}"

    def decrypt(self, token: str, context: str) -> str:
        if not token.startswith(PREFIX):
            raise DecryptionError(f"{context}: not an encrypted value")
        kid, sep, body = token[len(PREFIX) :].partition(":")
        if not sep:
            raise DecryptionError(f"{context}: malformed encrypted value")
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise DecryptionError(
                f"{context}: encrypted under key {kid!r}, which is not in the key ring "
                f"({', '.join(sorted(self.keys))}); was an old key removed too early?"
            )
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            plain = cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], self._aad(kid, context))
        except (InvalidTag, ValueError, binascii.Error):
            raise DecryptionError(
                f"{context}: the value does not decrypt under key {kid!r} "
                "(tampered, or copied from another column)"
            ) from None
        return plain.decode()

    def reveal(self, stored: str, context: str) -> str:
        """A stored value as plain text: decrypted, or as is when written before encryption."""
        return self.decrypt(stored, context) if stored.startswith(PREFIX) else stored

    def blind_index(self, kind: str, value: str) -> str:
        """The digest to store and search by: equal for equal (normalised) values."""
        normalised = NORMALISERS[kind](value)
        message = f"{kind}\x00{normalised}".encode()
        return hmac.new(self.lookup_key, message, hashlib.sha256).hexdigest()

    def is_current(self, stored: str) -> bool:
        return stored.startswith(self.current_prefix)


def key_id(stored: str | None) -> str | None:
    """The key id of a stored value; None when plain (or NULL)."""
    if stored is None or not stored.startswith(PREFIX):
        return None
    return stored[len(PREFIX) :].partition(":")[0]


# ---- from the settings -----------------------------------------------------------


def _secret(value: Any) -> str | None:
    if value is None:
        return None
    text = value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)
    return text.strip() or None


def configured_key_ring(settings: Any) -> KeyRing | None:
    """The ring the settings name, or None when no key is set. Partial settings
    are an error: never half-configured."""
    data_keys = _secret(getattr(settings, "data_keys", None))
    current = _secret(getattr(settings, "data_key_current", None))
    lookup_key = _secret(getattr(settings, "lookup_key", None))
    if data_keys is None and current is None and lookup_key is None:
        return None
    if data_keys is None or lookup_key is None:
        missing = [
            name
            for name, value in (("data_keys", data_keys), ("lookup_key", lookup_key))
            if value is None
        ]
        raise KeyConfigurationError(f"encryption keys half configured: {', '.join(missing)} unset")
    return KeyRing.parse(data_keys, current, lookup_key)


def development_key_ring(secret: str) -> KeyRing:
    """Keys derived from the JWT secret: outside production, a service started
    without keys (unit tests, a compose dev stack) still encrypts, and reads back
    what it wrote after a restart. Never used in production."""

    def derive(label: str) -> bytes:
        return hmac.new(secret.encode(), f"rescue-dev-{label}".encode(), hashlib.sha256).digest()

    return KeyRing({"dev": derive("data-key")}, "dev", derive("lookup-key"))


def key_ring_from_settings(settings: Any, *, service: str = "service") -> KeyRing:
    """The ring a service runs with; start-up fails with a clear error when the
    keys are missing in production or malformed anywhere."""
    ring = configured_key_ring(settings)
    if ring is not None:
        return ring
    if getattr(settings, "environment", "production") == "production":
        prefix = service.upper() + "_"
        raise KeyConfigurationError(
            f"{service} stores encrypted personal data but no keys are set: set "
            f"{prefix}DATA_KEYS, {prefix}DATA_KEY_CURRENT and {prefix}LOOKUP_KEY "
            "(python -m rescue_chassis.crypto prints new ones)"
        )
    log.warning(
        "%s: no encryption keys set; using development keys (refused in production)", service
    )
    secret = _secret(getattr(settings, "jwt_secret", None))
    if secret is None:  # OIDC without a development secret: keys for this process only
        secret = _PROCESS_SECRET
    return development_key_ring(secret)


_PROCESS_SECRET = base64.b64encode(os.urandom(KEY_BYTES)).decode()


# ---- which engine uses which ring ------------------------------------------------

_RINGS: weakref.WeakKeyDictionary[Dialect, KeyRing] = weakref.WeakKeyDictionary()


def bind_key_ring(engine: Any, ring: KeyRing) -> None:
    """Encrypted columns written or read through ``engine`` use ``ring``."""
    _RINGS[engine.dialect] = ring


def key_ring_of(dialect: Dialect) -> KeyRing:
    ring = _RINGS.get(dialect)
    if ring is None:
        raise KeyConfigurationError(
            "no key ring is bound to this engine: build it with rescue_chassis.app."
            "build_runtime, or call rescue_chassis.crypto.bind_key_ring(engine, ring)"
        )
    return ring


# ---- column types ----------------------------------------------------------------

_REFUSED = {
    operators.eq,
    operators.ne,
    operators.lt,
    operators.le,
    operators.gt,
    operators.ge,
    operators.like_op,
    operators.not_like_op,
    operators.ilike_op,
    operators.not_ilike_op,
    operators.in_op,
    operators.not_in_op,
    operators.startswith_op,
    operators.endswith_op,
    operators.contains_op,
    operators.between_op,
}


class EncryptedText(TypeDecorator):
    """A text column holding ``enc:v1:…`` ciphertext; the model sees plain text.

    ``context`` (``table.column``) is bound into every ciphertext. Comparing the
    column with a value is refused (each encryption differs): search by the
    column's blind index instead."""

    impl = Text
    cache_ok = True

    def __init__(self, context: str) -> None:
        super().__init__()
        self.context = context

    class comparator_factory(TypeDecorator.Comparator):  # noqa: N801 - SQLAlchemy's name
        def operate(self, op, *other, **kwargs):
            if op in _REFUSED and not (
                op in (operators.eq, operators.ne) and len(other) == 1 and other[0] is None
            ):
                raise TypeError(
                    f"{self.type.context} is encrypted: it cannot be compared in SQL; "
                    "search by its blind index"
                )
            return super().operate(op, *other, **kwargs)

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return key_ring_of(dialect).encrypt(value, self.context)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return key_ring_of(dialect).reveal(value, self.context)


class EncryptedJSON(EncryptedText):
    """A JSON document (a dict or a list) stored as one ciphertext in a text column.

    Nothing inside can be queried in SQL; a row written before encryption (the
    column's JSON as text) is read as plain JSON."""

    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return key_ring_of(dialect).encrypt(dump_json(value), self.context)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return json.loads(key_ring_of(dialect).reveal(value, self.context))


def dump_json(value: Any) -> str:
    """The text an ``EncryptedJSON`` value is encrypted as."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class BlindIndex(TypeDecorator):
    """The searchable digest of an encrypted column's value (``source``, a column
    of the same table): set from the source on every insert and update of the
    model, and compared with plain values, which are digested as they are bound::

        select(IdentityEvidence).where(IdentityEvidence.national_id_lookup == number)
    """

    impl = String
    cache_ok = True

    def __init__(self, kind: str, source: str) -> None:
        if kind not in NORMALISERS:
            raise ValueError(f"no normaliser for blind index kind {kind!r}")
        super().__init__(DIGEST_LENGTH)
        self.kind = kind
        self.source = source

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return key_ring_of(dialect).blind_index(self.kind, value)


_MAPPER_INDEXES: weakref.WeakKeyDictionary[Mapper, list[tuple[str, str]]] = (
    weakref.WeakKeyDictionary()
)


def _blind_indexes(mapper: Mapper) -> list[tuple[str, str]]:
    """(source attribute, index attribute) pairs of a mapped class, cached."""
    cached = _MAPPER_INDEXES.get(mapper)
    if cached is None:
        cached = []
        for column in mapper.local_table.columns if mapper.local_table is not None else ():
            if isinstance(column.type, BlindIndex):
                source = mapper.local_table.columns[column.type.source]
                cached.append(
                    (
                        mapper.get_property_by_column(source).key,
                        mapper.get_property_by_column(column).key,
                    )
                )
        _MAPPER_INDEXES[mapper] = cached
    return cached


@event.listens_for(Mapper, "before_insert")
def _index_on_insert(mapper: Mapper, connection, target) -> None:
    for source, index in _blind_indexes(mapper):
        setattr(target, index, getattr(target, source))


@event.listens_for(Mapper, "before_update")
def _index_on_update(mapper: Mapper, connection, target) -> None:
    state = inspect(target)
    for source, index in _blind_indexes(mapper):
        if state.attrs[source].history.has_changes():
            setattr(target, index, getattr(target, source))


# ---- rotation ----------------------------------------------------------------------


@dataclass(frozen=True)
class EncryptedTable:
    table: Table
    encrypted: tuple[Any, ...]  # columns of type EncryptedText
    indexes: tuple[Any, ...]  # columns of type BlindIndex


def encrypted_tables(metadata: MetaData) -> list[EncryptedTable]:
    found = []
    for table in metadata.sorted_tables:
        encrypted = tuple(c for c in table.columns if isinstance(c.type, EncryptedText))
        if encrypted:
            indexes = tuple(c for c in table.columns if isinstance(c.type, BlindIndex))
            found.append(EncryptedTable(table, encrypted, indexes))
    return found


def _raw(column):
    return type_coerce(column, Text)


def _stale(column, ring: KeyRing):
    raw = _raw(column)
    return and_(raw.is_not(None), ~raw.startswith(ring.current_prefix, autoescape=True))


def _unindexed(table: Table, index) -> Any:
    return and_(index.is_(None), _raw(table.columns[index.type.source]).is_not(None))


async def reencrypt_batch(
    session: AsyncSession, ring: KeyRing, metadata: MetaData, batch_size: int = 200
) -> int:
    """Re-encrypt under the current key up to ``batch_size`` rows per table whose
    values are plain or under an older key, filling missing blind indexes; rows
    locked by another replica are skipped. Returns the rows changed."""
    changed = 0
    for spec in encrypted_tables(metadata):
        table = spec.table
        pk = list(table.primary_key.columns)
        pending = [_stale(c, ring) for c in spec.encrypted]
        pending += [_unindexed(table, i) for i in spec.indexes]
        rows = (
            await session.execute(
                select(*pk, *(_raw(c).label(c.name) for c in spec.encrypted))
                .where(or_(*pending))
                .limit(batch_size)
                .with_for_update(skip_locked=True)
            )
        ).all()
        for row in rows:
            values: dict[str, Any] = {}
            plain: dict[str, str] = {}
            for column in spec.encrypted:
                stored = row._mapping[column.name]
                if stored is None:
                    continue
                plain[column.name] = ring.reveal(stored, column.type.context)
                if not ring.is_current(stored):
                    # Sealed here as text: an EncryptedJSON column would encode it again.
                    sealed = ring.encrypt(plain[column.name], column.type.context)
                    values[column.name] = literal(sealed, Text)
            for index in spec.indexes:
                if index.type.source in plain:
                    values[index.name] = plain[index.type.source]  # digested as it is bound
            if values:
                where = and_(*(c == row._mapping[c.name] for c in pk))
                await session.execute(sql_update(table).where(where).values(values))
                changed += 1
    return changed


async def stale_values(
    session: AsyncSession, ring: KeyRing, metadata: MetaData
) -> list[tuple[str, str, int]]:
    """(table, column, count) of values still plain or under an older key, and of
    blind indexes not yet filled."""
    counts = []
    for spec in encrypted_tables(metadata):
        table = spec.table
        for column in spec.encrypted:
            n = await session.scalar(
                select(func.count()).select_from(table).where(_stale(column, ring))
            )
            counts.append((table.name, column.name, int(n or 0)))
        for index in spec.indexes:
            n = await session.scalar(
                select(func.count()).select_from(table).where(_unindexed(table, index))
            )
            counts.append((table.name, index.name, int(n or 0)))
    return counts


def rotation_job(ring: KeyRing, metadata: MetaData, batch_size: int = 200) -> PeriodicJob:
    """The periodic job re-encrypting old rows (see rescue_chassis.periodic)."""

    async def run(session: AsyncSession, now: datetime) -> int:
        return await reencrypt_batch(session, ring, metadata, batch_size)

    return PeriodicJob("reencrypt-personal-data", run)


def has_encrypted_columns(metadata: MetaData) -> bool:
    return bool(encrypted_tables(metadata))


# ---- nothing sensitive in plain text ---------------------------------------------

#: Column names that say the column holds a number, a secret or a place to reach someone.
SENSITIVE_NAME = re.compile(r"phone|id_number|national_id|document|address|secret|contact")


def plain_sensitive_columns(metadata: MetaData) -> list[Column]:
    """The columns of ``metadata`` named like sensitive values (``SENSITIVE_NAME``)
    that are neither encrypted nor a blind index."""
    return [
        column
        for table in metadata.sorted_tables
        for column in table.columns
        if SENSITIVE_NAME.search(column.name)
        and not isinstance(column.type, EncryptedText | BlindIndex)
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m rescue_chassis.crypto``: new keys for a service's settings."""
    parser = argparse.ArgumentParser(prog="python -m rescue_chassis.crypto")
    parser.add_argument("--kid", default=f"k{secrets.token_hex(3)}", help="the new key's id")
    args = parser.parse_args(argv)
    print(f"DATA_KEYS={args.kid}:{generate_key()}   (append to the existing keys)")
    print(f"DATA_KEY_CURRENT={args.kid}")
    print(f"LOOKUP_KEY={generate_key()}   (only for a new deployment: it cannot rotate)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
