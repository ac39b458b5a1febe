"""An audit chain in memory, for verifications without a database
(rescue_chassis.audit.checkpoints.verify_chain): entries hashed as the writer
hashes them, read through the same three calls the table answers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from rescue_chassis.audit import GENESIS, entry_hash
from rescue_chassis.audit.checkpoints import Checkpoint

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Row:  # an audit_entries row as the table gives it back
    id: int
    at: datetime
    subject: str
    station_id: str
    roles: list[str]
    action: str
    method: str
    route: str
    record_ids: dict
    fields: list[str] | None
    purpose: str | None
    status_code: int
    correlation_id: str | None
    prev_hash: str
    hash: str


def a_chain(
    n: int, *, subjects: dict[int, str] | None = None, stations: Sequence[str] = ("gushi",)
) -> list[Row]:
    """``n`` reads of a person by wang.li, each hashed onto the one before.

    ``subjects``: who a position names instead (a rewrite, every hash after it
    recomputed); ``stations``: taken in turn, position 1 the first.
    """
    rows, prev = [], GENESIS
    for position in range(1, n + 1):
        values = dict(
            at=T0 + timedelta(seconds=position),
            subject=(subjects or {}).get(position, "wang.li"),
            station_id=stations[(position - 1) % len(stations)],
            roles=["station_staff"],
            action="read",
            method="GET",
            route="/persons/{person_id}",
            record_ids={"person_id": f"p-{position}"},
            fields=["full_name"],
            purpose=None,
            status_code=200,
            correlation_id=f"c-{position}",
            prev_hash=prev,
        )
        prev = entry_hash(position=position, **values)
        rows.append(Row(id=position, hash=prev, **values))
    return rows


class MemoryChain:
    """A chain and its checkpoints; ``read`` lists the entries a verification read."""

    def __init__(self, rows: list[Row], checkpoints: Sequence[Checkpoint] = ()) -> None:
        self.rows = {r.id: r for r in rows}
        self.checkpoints = list(checkpoints)
        self.read: list[int] = []

    async def latest_checkpoint(self) -> Checkpoint | None:
        return max(self.checkpoints, key=lambda c: c.position, default=None)

    async def entry(self, position: int) -> Row | None:
        self.read.append(position)
        return self.rows.get(position)

    async def entries(self, start: int, limit: int) -> list[Row]:
        found = sorted((r for r in self.rows.values() if r.id >= start), key=lambda r: r.id)
        self.read.extend(r.id for r in found[:limit])
        return found[:limit]
