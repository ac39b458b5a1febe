"""Station scoping: a satellite sees its own persons, the center sees the network.

Records outside the caller's scope answer 404, so their existence does not leak.
(Role-level and field-level rules grow here.)
"""

from __future__ import annotations

from rescue_chassis.auth import Principal
from rescue_chassis.network import Network
from rescue_chassis.problems import Problem


def sees_network(principal: Principal, network: Network) -> bool:
    return principal.station_id == network.center.id


def can_see(principal: Principal, network: Network, *station_ids: str) -> bool:
    return sees_network(principal, network) or principal.station_id in station_ids


def ensure_visible(principal: Principal, network: Network, what: str, *station_ids: str) -> None:
    if not can_see(principal, network, *station_ids):
        raise Problem(404, "Not found", f"No such {what}.")


def ensure_known_station(principal: Principal, network: Network) -> None:
    if network.station(principal.station_id) is None:
        raise Problem(
            403, "Unknown station", f"Station {principal.station_id!r} is not part of this network."
        )
