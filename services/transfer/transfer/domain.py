"""Return rules (DOMAIN.md, "The life of a case", 4). No I/O here."""

from __future__ import annotations

from rescue_chassis.network import Network


def escort_station(network: Network, caring_station: str, cross_province: bool) -> str:
    """Who runs the escort: the center takes over every cross-province return of a
    satellite; local returns stay with the person's own station."""
    return network.center.id if cross_province else caring_station
