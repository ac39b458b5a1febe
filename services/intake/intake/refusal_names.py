"""Names for recognising a person who refuses help again (劝导): a name given at a
refusal is compared, normalised, with earlier refusals' names and the names on
the network's person records. Deliberately small (search owns the pinyin and
homophone matching, and faces): equal normalised text only.

The normalisation is done twice, in Python (``name_key``, stored on each refusal)
and in SQL (``_SQL_KEY``, for the person records' names); both take NFKC, drop
whitespace and the separators of ``_DROPPED``, and lowercase."""

from __future__ import annotations

import unicodedata
import uuid
from dataclasses import dataclass

from sqlalchemy import text

from rescue_chassis.access import sees_network
from rescue_chassis.commands import UnitOfWork

# Separators typed inside names: spaces (NFKC makes the ideographic one plain), the
# middle dots of transliterated names, dashes, dots, underscores, apostrophes.
_DROPPED = " \t\r\n·•・‧.-_'"
_DROP = str.maketrans("", "", _DROPPED)
_SQL_KEY = "lower(translate(normalize({}, NFKC), :dropped, ''))"


def name_key(name: str | None) -> str | None:
    """The name as compared: NFKC, without separators, lowercase; None if nothing is left."""
    if name is None:
        return None
    key = unicodedata.normalize("NFKC", name).translate(_DROP).lower()
    return key or None


@dataclass(frozen=True)
class NamedPerson:
    id: uuid.UUID
    station_id: str
    name: str  # the record's name that matched


async def persons_named(uow: UnitOfWork, key: str, limit: int) -> list[NamedPerson]:
    """Person records in the caller's scope with a name (confirmed, claimed at intake,
    or stated) whose key is ``key``."""
    names = "array_append(array_append(p.stated_names, p.full_name), p.claimed_name)"
    scoped = sees_network(uow.actor, uow.network)
    rows = await uow.session.execute(
        text(
            f"select p.id, p.station_id, n.name from persons p, "  # noqa: S608 (no input in it)
            f"lateral (select name from unnest({names}) as u(name) "
            f"where {_SQL_KEY.format('name')} = :key limit 1) n "
            "where (:network or p.station_id = :station) "
            "order by p.id limit :limit"
        ),
        {
            "dropped": _DROPPED,
            "key": key,
            "network": scoped,
            "station": uow.actor.station_id,
            "limit": limit,
        },
    )
    return [NamedPerson(id=r.id, station_id=r.station_id, name=r.name) for r in rows]
