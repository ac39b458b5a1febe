"""An in-memory unit of work, for use-case unit tests (no database, no broker).

    uow = FakeUnitOfWork(actor=station_worker("gushi"), rows=[person, stay])
    view = await commands.discharge_stay(DischargeStay(...), uow)
    assert [type(e) for e in uow.events] == [StayEndedV1]

Rows are kept by their primary key; ``find`` compares columns for equality.
``session`` is absent on purpose: a use case that needs its service's own SQL
takes it from that service's ``statements`` module, which a test replaces.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import inspect

from rescue_chassis.access import can_see
from rescue_chassis.auth import Principal
from rescue_chassis.commands import _stations, visible
from rescue_chassis.network import Network, load_network
from rescue_events.contracts.base import EventContract

T = TypeVar("T")


def _key_of(row: Any) -> Any:
    columns = inspect(type(row)).primary_key
    values = tuple(getattr(row, column.key) for column in columns)
    return values[0] if len(values) == 1 else values


class FakeUnitOfWork:
    def __init__(
        self,
        *,
        actor: Principal | None = None,
        rows: Iterable[Any] = (),
        network: Network | None = None,
        now: datetime | None = None,
        settings: Any = None,
    ) -> None:
        self.actor = actor
        self.network = network or load_network()
        self.now = now or datetime.now(UTC)
        self.settings = settings
        self.rows: dict[tuple[type, Any], Any] = {}
        self.events: list[EventContract] = []
        self.flushes = 0
        self.commits = 0
        self.add(*rows)

    def sees(self, *station_ids: str) -> bool:
        return self.actor is None or can_see(self.actor, self.network, *station_ids)

    async def get(self, model: type[T], key: Any, *, lock: bool = False) -> T | None:
        return self.rows.get((model, key))

    async def load(
        self,
        model: type[T],
        key: Any,
        *,
        what: str,
        lock: bool = False,
        stations: Callable[[T], Any] = _stations,
    ) -> T:
        return visible(await self.get(model, key), self, what, stations)

    async def find(
        self, model: type[T], *, order_by: Any = None, lock: bool = False, **equal: Any
    ) -> list[T]:
        found = [
            row
            for (kind, _), row in self.rows.items()
            if kind is model and all(getattr(row, k) == v for k, v in equal.items())
        ]
        if order_by is not None:
            found.sort(key=lambda row: getattr(row, order_by.key))
        return found

    def add(self, *rows: Any) -> None:
        for row in rows:
            self.rows[(type(row), _key_of(row))] = row

    async def publish(self, event: EventContract) -> EventContract:
        self.events.append(event)
        return event

    async def flush(self) -> None:
        self.flushes += 1

    async def commit(self) -> None:
        self.commits += 1

    def all(self, model: type[T]) -> list[T]:
        """Every row of ``model`` held, added by the test or by the use case."""
        return [row for (kind, _), row in self.rows.items() if kind is model]
