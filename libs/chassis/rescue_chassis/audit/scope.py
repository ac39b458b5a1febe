"""Whose entries an auditor sees: scoped like everyone else. A station's auditor
sees the entries of its station's staff; the center's auditors see the network;
an admin (who runs the system) sees it too."""

from __future__ import annotations

from rescue_chassis.access import ensure_known_station, sees_network
from rescue_chassis.auth import Principal, Role
from rescue_chassis.network import Network
from rescue_chassis.refusals import Forbidden


def auditor_scope(principal: Principal, network: Network) -> str | None:
    """The station whose entries ``principal`` sees; None: every station's."""
    if principal.has_any(Role.ADMIN) or sees_network(principal, network):
        return None
    ensure_known_station(principal, network)  # a made-up station sees nothing: 403
    return principal.station_id


def entries_station(principal: Principal, network: Network, asked: str | None) -> str | None:
    """The ``station_id`` filter of an auditor's query: the one asked for within the
    caller's scope; another station's entries are refused (403)."""
    scope = auditor_scope(principal, network)
    if scope is None:
        return asked
    if asked is not None and asked != scope:
        raise Forbidden(
            "Another station's entries",
            "An auditor of a station sees its own station's entries; "
            "the center's auditors see the network's.",
        )
    return scope
