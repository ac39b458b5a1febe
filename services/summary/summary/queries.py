"""Reading the summary: a month's table as the caller may see it."""

from __future__ import annotations

from rescue_chassis.access import sees_network
from rescue_chassis.refusals import Refused
from summary import statements
from summary.figures import DEFINITIONS, LABELS, Month, table_of
from summary.views import Figures, StationFigures, TableView

MONTH_REASON = "must be a month as YYYY-MM, e.g. 2026-12"


def month_of(text: str) -> Month:
    """The month asked for, or a 422 naming the field."""
    month = Month.parse(text)
    if month is None:
        raise Refused("month", MONTH_REASON)
    return month


async def table(uow, month: Month) -> TableView:
    """The center sees every station and the network; a satellite its own station,
    whose figures are then also its "network"."""
    network = uow.network
    whole = uow.actor is None or sees_network(uow.actor, network)
    stations = list(network.stations) if whole else [uow.actor.station_id]
    facts = await statements.facts_for(uow, month)
    built = table_of(month, facts, stations, network.center.id, others=whole)
    return TableView(
        month=built.month,
        labels=LABELS,
        definitions=DEFINITIONS,
        stations=[
            StationFigures(
                station_id=station,
                name=known.name if (known := network.station(station)) else station,
                figures=figures,
            )
            for station, figures in built.stations.items()
        ],
        network=Figures(figures=built.network),
    )
