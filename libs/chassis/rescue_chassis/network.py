"""The stations of the network: one center, many satellites (一心多卫).

Static reference data shared by configuration, not by a database: every
service reads the same file (``<SERVICE>_NETWORK_FILE``, or the packaged
default below).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path

import yaml


class StationKind(StrEnum):
    CENTER = "center"
    SATELLITE = "satellite"


@dataclass(frozen=True)
class Station:
    id: str
    name: str
    kind: StationKind
    province: str
    city: str
    admin_code: str | None = None  # the city or county the station serves


@dataclass(frozen=True)
class Network:
    stations: dict[str, Station]

    @property
    def center(self) -> Station:
        return next(s for s in self.stations.values() if s.kind is StationKind.CENTER)

    def station(self, station_id: str) -> Station | None:
        return self.stations.get(station_id)

    def is_cross_province(self, station_id: str, home_province: str) -> bool:
        station = self.stations[station_id]
        return province_key(home_province) != province_key(station.province)


def province_key(name: str) -> str:
    # "河南" and "河南省" are the same province when staff type it.
    name = name.strip()
    for suffix in ("省", "市", "自治区", "特别行政区"):
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name[: -len(suffix)]
    return name


def load_network(path: str | None = None) -> Network:
    text = (
        Path(path).read_text(encoding="utf-8")
        if path
        else resources.files("rescue_chassis").joinpath("network.yaml").read_text("utf-8")
    )
    data = yaml.safe_load(text)
    stations = {
        s["id"]: Station(
            id=s["id"],
            name=s["name"],
            kind=StationKind(s["kind"]),
            province=s["province"],
            city=s["city"],
            admin_code=str(s["admin_code"]) if s.get("admin_code") else None,
        )
        for s in data["stations"]
    }
    centers = [s for s in stations.values() if s.kind is StationKind.CENTER]
    if len(centers) != 1:
        raise ValueError(f"a network has exactly one center station, found {len(centers)}")
    return Network(stations=stations)
