"""The network's stations file (``network.yaml``): read, check, add, write.

The format is the one ``rescue_chassis.network.load_network`` reads: a header
comment, then a top-level ``stations:`` list with one flow mapping per station
(id, name, kind, province, city, admin_code). Writing keeps the header comment
and the stations in their order, one line each; comments between stations are
not kept. The new file is written next to the old one and renamed over it, so
a service starting meanwhile reads either the old file or the new one.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from rescue_divisions import DivisionCodes, DivisionDataMissing, division_codes
from rescue_ops import SERVICES

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*$")
ADMIN_CODE_PATTERN = re.compile(r"^[0-9]{6}$")
KINDS = ("center", "satellite")
TEXT_FIELDS = ("name", "province", "city")


class StationsError(Exception):
    """The file cannot be read, or the change is refused; ``errors`` says why."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass
class StationsFile:
    path: Path
    header: str  # the comment lines before the data, kept as they are
    data: dict[str, Any]  # the whole document; "stations" is the list

    @property
    def stations(self) -> list[dict[str, Any]]:
        return self.data["stations"]


def read(path: str | Path) -> StationsFile:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise StationsError([f"cannot read {path}: {exc.strerror or exc}"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise StationsError([f"{path} is not valid YAML: {exc}"]) from None
    if not isinstance(data, dict) or not isinstance(data.get("stations"), list):
        raise StationsError([f"{path} has no top-level 'stations:' list"])
    header_lines = []
    for line in text.splitlines(keepends=True):
        if line.strip() and not line.lstrip().startswith("#"):
            break
        header_lines.append(line)
    return StationsFile(path=path, header="".join(header_lines), data=data)


def check_station(station: Any, index: int) -> list[str]:
    if not isinstance(station, dict):
        return [f"station #{index + 1} is not a mapping"]
    label = f"station {station.get('id', f'#{index + 1}')!s}"
    errors = []
    station_id = station.get("id")
    if not isinstance(station_id, str) or not ID_PATTERN.match(station_id):
        errors.append(
            f"{label}: id {station_id!r} must be lower-case letters, digits and '-' "
            "(^[a-z0-9][a-z0-9-]*$)"
        )
    for name in TEXT_FIELDS:
        value = station.get(name)
        if not isinstance(value, str) or not value.strip():
            errors.append(f"{label}: {name} is missing")
    if station.get("kind") not in KINDS:
        errors.append(f"{label}: kind {station.get('kind')!r} must be one of {', '.join(KINDS)}")
    code = station.get("admin_code")
    if code is not None and not ADMIN_CODE_PATTERN.match(str(code)):
        errors.append(f"{label}: admin_code {code!r} must be 6 digits (a city or county code)")
    elif code is not None and (codes := _division_codes()) is not None:
        if reason := codes.station_problem(str(code)):
            errors.append(f"{label}: admin_code {reason}")
        elif isinstance(province := station.get("province"), str) and (
            reason := codes.province_problem(str(code), province, field="province")
        ):
            errors.append(f"{label}: admin_code {reason}")
    return errors


def _division_codes() -> DivisionCodes | None:
    """The gazetteer's codes when its data is here (`make setup`; $GAZETTEER_DIR),
    else None: then admin codes are checked for their shape only."""
    try:
        return division_codes()
    except DivisionDataMissing:
        return None


def check(stations: list[Any]) -> list[str]:
    """Everything wrong with a list of stations; empty when the network is sound."""
    errors = []
    for index, station in enumerate(stations):
        errors += check_station(station, index)
    ids = [s.get("id") for s in stations if isinstance(s, dict)]
    for duplicate in sorted({i for i in ids if ids.count(i) > 1}, key=str):
        errors.append(f"station id {duplicate!r} appears {ids.count(duplicate)} times")
    centers = [s.get("id") for s in stations if isinstance(s, dict) and s.get("kind") == "center"]
    if len(centers) != 1:
        errors.append(f"a network has exactly one center station, found {len(centers)}")
    return errors


def add(file: StationsFile, station: dict[str, Any]) -> StationsFile:
    """The file with ``station`` appended; refuses anything that breaks the network."""
    errors = check_station(station, len(file.stations))
    if station.get("admin_code") is None:
        errors.append(f"station {station.get('id')}: admin_code is required (6 digits)")
    if any(isinstance(s, dict) and s.get("id") == station.get("id") for s in file.stations):
        errors.append(f"station id {station.get('id')!r} is already in {file.path}")
    if station.get("kind") == "center":
        errors.append("the network already has its center; a new station is a satellite")
    if errors:
        raise StationsError(errors)
    new = {**station, "admin_code": str(station["admin_code"])}
    data = {**file.data, "stations": [*file.stations, new]}
    problems = check(data["stations"])
    if problems:
        raise StationsError([f"{file.path} would not be a sound network:", *problems])
    return StationsFile(path=file.path, header=file.header, data=data)


def _flow(station: dict[str, Any]) -> str:
    if station.get("admin_code") is not None:
        station = {**station, "admin_code": str(station["admin_code"])}
    return yaml.safe_dump(
        station, default_flow_style=True, sort_keys=False, allow_unicode=True, width=1 << 20
    ).strip()


def render(file: StationsFile) -> str:
    lines = [file.header, "stations:\n"]
    lines += [f"  - {_flow(station)}\n" for station in file.stations]
    others = {k: v for k, v in file.data.items() if k != "stations"}
    if others:
        lines.append(yaml.safe_dump(others, sort_keys=False, allow_unicode=True))
    return "".join(lines)


def write(file: StationsFile) -> None:
    """Write atomically: a temporary file in the same directory, renamed over."""
    text = render(file)
    again = yaml.safe_load(text)  # what a service will read
    if again.get("stations") != [
        {**s, "admin_code": str(s["admin_code"])} if s.get("admin_code") is not None else s
        for s in file.stations
    ]:
        raise StationsError([f"internal error: {file.path} would not read back as written"])
    path = file.path
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        if path.exists():
            os.chmod(temporary, path.stat().st_mode & 0o7777)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    try:
        directory = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(directory)
    except OSError:
        pass
    finally:
        os.close(directory)


def next_step(path: Path) -> str:
    variables = ", ".join(f"{s.upper()}_NETWORK_FILE" for s in SERVICES)
    services = " ".join(SERVICES)
    deployments = " ".join(f"deploy/{s}" for s in SERVICES)
    return "\n".join(
        [
            "Next step: the services re-read the stations file within",
            "<SERVICE>_NETWORK_RECHECK_SECONDS (10 s) of a change: no rebuild, no restart.",
            f"  1. Every service must read {path.resolve()}: <SERVICE>_NETWORK_FILE names it",
            f"     ({variables});",
            "     unset means the network.yaml packaged with rescue_chassis, never re-read.",
            "  2. kubernetes: the file is deploy/k8s/base/stations/network.yaml (ConfigMap",
            "     rescue-stations): kubectl apply -k deploy/k8s/overlays/production; the",
            "     kubelet updates the mounted file within about a minute.",
            "  3. A service reading another copy (the packaged one) needs a restart:",
            f"     kubernetes: kubectl -n rescue rollout restart {deployments}",
            f"     compose:    docker compose restart {services}",
            "     make run:   stop it (Ctrl-C) and start it again",
        ]
    )
