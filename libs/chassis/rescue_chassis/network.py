"""The stations of the network: one center, many satellites (一心多卫).

Reference data shared by configuration, not by a database: every service
reads the same file (``<SERVICE>_NETWORK_FILE``, or the packaged default below;
in Kubernetes the ConfigMap ``rescue-stations``). A network read from a file
re-reads it when it changes (its mtime, size or inode), checked at most every
``recheck_seconds`` on first use after that: a station added to the file is
known without a rebuild or a restart. A changed file that does not load (bad
YAML, no center) is logged and the stations already known stay in use.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path

import yaml

log = logging.getLogger(__name__)

#: Default seconds between two looks at the stations file (``<SERVICE>_NETWORK_RECHECK_SECONDS``).
RECHECK_SECONDS = 10.0


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


class Network:
    """The stations; read from ``source``, re-read when that file changes."""

    def __init__(
        self,
        stations: dict[str, Station],
        source: Path | None = None,
        recheck_seconds: float = RECHECK_SECONDS,
    ) -> None:
        self._stations = stations
        self.source = source
        self.recheck_seconds = recheck_seconds
        self._seen = _file_state(source) if source else None
        self._checked_at = time.monotonic()

    @property
    def stations(self) -> dict[str, Station]:
        if self.source is not None and time.monotonic() - self._checked_at >= self.recheck_seconds:
            self.reload()
        return self._stations

    def reload(self) -> bool:
        """Re-read the file if it changed; True when the stations were replaced."""
        self._checked_at = time.monotonic()
        if self.source is None:
            return False
        state = _file_state(self.source)
        if state is None or state == self._seen:
            return False  # unchanged, or missing for a moment (a ConfigMap's swap)
        self._seen = state  # a file that does not load is reported once, not every check
        try:
            stations = _read_stations(self.source.read_text(encoding="utf-8"))
        except (OSError, ValueError, KeyError, TypeError, AttributeError, yaml.YAMLError) as error:
            log.error(
                "stations file %s not reloaded, keeping the stations known: %s", self.source, error
            )
            return False
        added = sorted(stations.keys() - self._stations.keys())
        removed = sorted(self._stations.keys() - stations.keys())
        self._stations = stations  # one assignment: a reader sees the old dict or the new
        log.info(
            "stations file %s reloaded: %d stations, added %s, removed %s",
            self.source,
            len(stations),
            ", ".join(added) or "none",
            ", ".join(removed) or "none",
        )
        return True

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


def load_network(path: str | None = None, recheck_seconds: float = RECHECK_SECONDS) -> Network:
    """The stations of ``path`` (re-read when it changes), or the packaged default."""
    if not path:
        text = resources.files("rescue_chassis").joinpath("network.yaml").read_text("utf-8")
        return Network(_read_stations(text))
    source = Path(path)
    return Network(_read_stations(source.read_text(encoding="utf-8")), source, recheck_seconds)


def _read_stations(text: str) -> dict[str, Station]:
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
    return stations


def _file_state(path: Path) -> tuple[int, int, int, int] | None:
    # stat follows the symlink a mounted ConfigMap swaps: a new version is a new inode.
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_dev)
