"""The summary service's monthly table (情况汇总表, issue 28): ``GET /tables/{YYYY-MM}``
→ {month, labels, stations: [{station_id, figures}], network: {figures}}, and its
.xlsx/.csv exports. Optional: without ``CONSOLE_SUMMARY_URL`` (or for a period that is
not one calendar month) the console counts from the other services (summary.py)."""

from __future__ import annotations

import calendar
import re
from datetime import date
from typing import Any

from rescue_chassis.network import Network
from rescue_console import summary as counted  # its Column and SummaryTable (at call time)
from rescue_console.services import Answer, Services

MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
# The center's per-station figures the other services do not publish per station, as
# the summary service names them (summary.figures); the repeat rate is worked out below.
CENTER_FIGURES = {
    "notices_within_24h": "notices_within_24h_rate",
    "revisit_compliance": "revisit_compliance",
}
RATE_WORDS = ("rate", "compliance", "share", "ratio")


def month_of(start: date, end: date, today: date) -> str | None:
    """The calendar month a period is, whole (or up to today in the current month)."""
    if start.day != 1 or (start.year, start.month) != (end.year, end.month):
        return None
    last = calendar.monthrange(start.year, start.month)[1]
    if end.day == last or end == today:
        return f"{start.year:04d}-{start.month:02d}"
    return None


def period_of(month: str) -> tuple[date, date] | None:
    """A month's first and last day; None for anything but YYYY-MM."""
    if not MONTH.match(month or ""):
        return None
    year, number = (int(part) for part in month.split("-"))
    return date(year, number, 1), date(year, number, calendar.monthrange(year, number)[1])


async def fetch(services: Services, token: str, month: str) -> Answer | None:
    """The month's table, or None when the summary service is not configured."""
    if not services.has("summary"):
        return None
    return await services.get(token, "summary", f"/tables/{month}")


async def export(services: Services, token: str, month: str, suffix: str) -> Answer:
    return await services.get(token, "summary", f"/tables/{month}.{suffix}")


def kind_of(name: str, value: Any) -> str:
    """How a figure is said: a share (0–1) as a percentage, hours, or a count."""
    if isinstance(value, float) and any(word in name for word in RATE_WORDS) and value <= 1:
        return "rate"
    if "hours" in name:
        return "hours"
    return "count"


def flat(figures: dict, labels: dict) -> dict[str, tuple[str, Any]]:
    """Figures as (header, value) by name; a breakdown (by route, by outcome…) as one
    column per part, named ``figure.part``."""
    out: dict[str, tuple[str, Any]] = {}
    for name, value in figures.items():
        label = str(labels.get(name, name))
        if isinstance(value, dict):
            for part, count in value.items():
                key = f"{name}.{part}"
                out[key] = (str(labels.get(key, f"{label}·{part}")), count)
        elif isinstance(value, int | float) or value is None:
            out[name] = (label, value)
    return out


def table_of(
    body: dict, network: Network, station_id: str | None = None
) -> counted.SummaryTable | None:
    """The service's table in the console's shape (the page and downloads as before);
    None when the answer is not such a table."""
    period = period_of(str(body.get("month", ""))) if isinstance(body, dict) else None
    if period is None or not isinstance(body.get("stations"), list):
        return None
    labels = body.get("labels") if isinstance(body.get("labels"), dict) else {}
    network_figures = (body.get("network") or {}).get("figures") or {}
    per_station = [
        (str(s.get("station_id", "")), flat(s.get("figures") or {}, labels))
        for s in body["stations"]
        if isinstance(s, dict)
    ]
    names = {
        str(s.get("station_id")): s.get("name") for s in body["stations"] if isinstance(s, dict)
    }
    total_flat = flat(network_figures, labels)
    columns: dict[str, counted.Column] = {}
    for name, (header, value) in [
        *(item for _, figures in per_station for item in figures.items()),
        *total_flat.items(),
    ]:
        known = columns.get(name)
        if known is None or (known.kind == "count" and kind_of(name, value) != "count"):
            columns[name] = counted.Column(name, header, kind_of(name, value))
    rows = []
    for station, figures in per_station:
        known = network.station(station)
        row = {"station_id": station, "name": known.name if known else names[station] or station}
        row.update({name: value for name, (_, value) in figures.items()})
        rows.append(row)
    order = {s: i for i, s in enumerate(network.stations)}
    rows.sort(key=lambda r: (order.get(r["station_id"], len(order)), r["station_id"]))
    total = {"station_id": "", "name": "全网合计"}
    total.update({name: value for name, (_, value) in total_flat.items()})
    shown = [r for r in rows if station_id in (None, "", r["station_id"])]
    start, end = period
    notes = [
        f"数字来自情况汇总服务（{body['month']}），由全网事件统计，与报送国家救助信息系统的一致。"
    ]
    return counted.SummaryTable(start, end, list(columns.values()), shown, total, [], notes)


def center_figures(body: dict) -> dict[str, dict[str, Any]]:
    """Per station id (and "" for the network): the center's missing figures, by the
    console's names, from the service's table; the repeat rate as followup's (persons
    wandering again ÷ persons returned home)."""
    found: dict[str, dict[str, Any]] = {}
    entries = [(s.get("station_id"), s.get("figures") or {}) for s in body.get("stations", [])]
    entries.append(("", (body.get("network") or {}).get("figures") or {}))
    for station, figures in entries:
        mine = {
            ours: figures[theirs]
            for ours, theirs in CENTER_FIGURES.items()
            if isinstance(figures.get(theirs), int | float)
        }
        again, returned = figures.get("repeat_wandering"), figures.get("returns")
        if isinstance(again, int) and isinstance(returned, int) and returned:
            mine["repeat_wandering_rate"] = again / returned
        found[str(station)] = mine
    return found
