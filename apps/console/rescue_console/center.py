"""The center's view (中心站): every satellite's board at a glance, deadlines missed per
station, escalations waiting, returns to plan, and two satellites' figures side by
side with charts. The services decide what the user may see."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request

from rescue_console import monthly
from rescue_console.services import Answer
from rescue_console.summary import (
    NOT_PUBLISHED,
    Column,
    SummaryTable,
    build_table,
    cell,
    fetch_sources,
    parse_period,
    today_in_china,
)
from rescue_console.web import ConsoleDep, UserDep, page, still_signed_in
from rescue_console.wording import TASK_KINDS

router = APIRouter()

# search's escalation kinds, in Chinese
ESCALATION_KINDS = {
    "notice_overdue": "寻亲公告逾期",
    "police_check_overdue": "公安核查逾期",
    "dna_overdue": "DNA采集逾期",
    "long_stay": "长期滞留",
    "long_hospital_stay": "长期住院",
}
# The figures compared side by side: (key in the summary table, words, how said).
COMPARED = (
    ("admissions", "入站人次", "count"),
    ("in_station_at_end", "期末在站", "count"),
    ("long_stay", "长期滞留", "count"),
    ("cases_opened", "新开寻亲个案", "count"),
    ("identification_rate", "甄别率", "rate"),
    ("median_hours_to_identify", "甄别用时中位数（小时）", "hours"),
    ("notices_within_24h", "24小时内发布寻亲公告", "rate"),
    ("revisit_compliance", "回访按时率", "rate"),
    ("repeat_wandering_rate", "再次流浪率", "rate"),
)
# Said plainly where a satellite's figure is not published.
WHY_NOT = {
    "notices_within_24h": "寻亲服务未发布此项",
    "revisit_compliance": "随访服务按乡镇发布，不分救助站",
    "repeat_wandering_rate": "随访服务按乡镇发布，不分救助站",
}
CHARTED = (
    ("identification_rate", "各站甄别率", "rate"),
    ("admissions", "各站入站人次", "count"),
    ("in_station_at_end", "各站期末在站人数", "count"),
)


def problem(answer: Answer) -> str | None:
    if answer.ok:
        return None
    if answer.status in (403, 404):
        return "无权查看"
    return "暂时无法获取（服务不可用）"


@dataclass
class Part:
    """A figure of a satellite's board, or why it is missing."""

    answer: Answer
    value: Any = None

    @property
    def problem(self) -> str | None:
        return problem(self.answer)


@dataclass
class Bar:
    label: str
    value: float | None
    text: str
    y: int
    width: float
    marked: str = ""  # "a" or "b": the satellites compared


@dataclass
class Chart:
    """A horizontal bar chart's geometry; the template draws it as SVG and a table."""

    key: str
    title: str
    description: str
    bars: list[Bar] = field(default_factory=list)
    height: int = 0

    LABEL = 130  # room for a station's name
    SPAN = 260  # the longest bar
    ROW = 28


def bar_chart(
    key: str,
    title: str,
    kind: str,
    values: list[tuple[str, str, float | None]],
    marks: dict[str, str] | None = None,
) -> Chart:
    """Bars for (station_id, name, value), scaled to the largest; a value not
    published gets no bar and says so."""
    marks = marks or {}
    top = max((v for _, _, v in values if v is not None), default=0) or 1
    column = Column(key, title, kind)
    chart = Chart(key, title, "")
    for index, (station, name, value) in enumerate(values):
        chart.bars.append(
            Bar(
                label=name,
                value=value,
                text=cell(column, value),
                y=index * Chart.ROW + 4,
                width=round(Chart.SPAN * (value or 0) / top, 1),
                marked=marks.get(station, ""),
            )
        )
    chart.height = len(values) * Chart.ROW + 8
    chart.description = "；".join(f"{b.label} {b.text}" for b in chart.bars) or "无数据"
    return chart


def satellites(network) -> list:
    return [s for s in network.stations.values() if s.kind != "center"]


def board_rows(
    stations: list,
    persons: list[Answer],
    cases: Answer,
    overdue: Answer,
    search_escalations: Answer,
    transfer_escalations: Answer,
) -> list[dict]:
    """Per satellite: in station, notices due and overdue, long stays, deadlines
    missed and escalations waiting, each part with its own failure."""
    rows = []
    for station, in_station in zip(stations, persons, strict=True):
        people = in_station.body if in_station.ok else []
        mine = [c for c in cases.body if c["station_id"] == station.id] if cases.ok else []
        waiting = [c for c in mine if c["status"] == "open" and not c.get("notice_published_at")]
        late = [t for t in overdue.body if t["station_id"] == station.id] if overdue.ok else []
        escalated = (
            [e for e in search_escalations.body if e["station_id"] == station.id]
            if search_escalations.ok
            else []
        )
        refused = (
            [e for e in transfer_escalations.body if e["escort_station_id"] == station.id]
            if transfer_escalations.ok
            else []
        )
        rows.append(
            {
                "station": station,
                "in_station": Part(in_station, len(people)),
                "long_stays": Part(in_station, sum(1 for p in people if _long_stay(p))),
                "notices_due": Part(cases, sum(1 for c in waiting if not c.get("notice_overdue"))),
                "notices_overdue": Part(cases, sum(1 for c in waiting if c.get("notice_overdue"))),
                "missed": Part(overdue, _by_kind(late)),
                "missed_count": len(late),
                "escalations": Part(search_escalations, len(escalated)),
                "return_escalations": Part(transfer_escalations, len(refused)),
            }
        )
    return rows


def _by_kind(tasks: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for task in tasks:
        what = TASK_KINDS.get(task["kind"], task["kind"])
        counts[what] = counts.get(what, 0) + 1
    return counts


def _long_stay(person: dict) -> bool:
    current = next((s for s in person.get("stays", []) if not s.get("discharged_at")), None)
    return bool(current and current.get("long_stay_reached_at"))


def compared(table: SummaryTable, a: str, b: str) -> list[dict]:
    """The two satellites' figures side by side, with why one is not published."""
    rows = {r["station_id"]: r for r in table.rows}
    lines = []
    for key, words, kind in COMPARED:
        column = Column(key, words, kind)
        values = [rows.get(s, {}).get(key) for s in (a, b)]
        lines.append(
            {
                "key": key,
                "words": words,
                "a": cell(column, values[0]),
                "b": cell(column, values[1]),
                "network": cell(column, table.total.get(key)),
                "why_not": WHY_NOT.get(key) if None in values else None,
            }
        )
    return lines


def charts(table: SummaryTable, stations: list, a: str, b: str) -> list[Chart]:
    rows = {r["station_id"]: r for r in table.rows}
    return [
        bar_chart(
            key,
            title,
            kind,
            [(s.id, s.name, rows.get(s.id, {}).get(key)) for s in stations],
            {a: "a", b: "b"},
        )
        for key, title, kind in CHARTED
    ]


async def _nothing() -> None:
    return None


def with_monthly(table: SummaryTable, answer: Answer | None) -> list[str]:
    """The figures the summary service counts per station (notices within 24 h, revisit
    compliance, repeat rate) put into the table where the others publish none; the
    names of those filled."""
    if answer is None or not answer.ok or not isinstance(answer.body, dict):
        return []
    found = monthly.center_figures(answer.body)
    filled: set[str] = set()
    for row in [*table.rows, table.total]:
        for key, value in found.get(row["station_id"], {}).items():
            if row.get(key) is None:
                row[key] = value
                filled.add(key)
    return sorted(filled)


@router.get("/center")
async def center_page(request: Request, console: ConsoleDep, user: UserDep):
    query = request.query_params
    network = console.network
    stations = satellites(network)
    ids = [s.id for s in stations]
    a = query.get("station_a") if query.get("station_a") in ids else (ids[:1] or [""])[0]
    b = query.get("station_b") if query.get("station_b") in ids else (ids[1:2] or [a])[0]
    start, end, errors = parse_period(
        query.get("period_start"), query.get("period_end"), today_in_china()
    )
    services, token = console.services, user.token
    month = monthly.month_of(start, end, today_in_china()) if not errors else None
    (
        persons,
        cases,
        overdue,
        escalations,
        refused,
        planning,
        sources,
        table_of_month,
    ) = await asyncio.gather(
        asyncio.gather(
            *(services.get(token, "intake", "/station/persons", station_id=s) for s in ids)
        ),
        services.get(token, "search", "/cases", status="open", limit=500),
        services.get(token, "search", "/overdue"),
        services.get(token, "search", "/escalations", status="open", limit=500),
        services.get(token, "transfer", "/escalations", status="open"),
        services.get(token, "transfer", "/returns/planning"),
        fetch_sources(services, token, start, end),
        monthly.fetch(services, token, month) if month else _nothing(),
    )
    still_signed_in(
        console, user, *persons, cases, overdue, escalations, refused, planning, *sources.all()
    )
    if table_of_month is not None:
        still_signed_in(console, user, table_of_month)
    table = build_table(sources, network, start, end)
    from_summary = with_monthly(table, table_of_month)
    return page(
        request,
        "center.html",
        {
            "stations": stations,
            "form": {
                "station_a": a,
                "station_b": b,
                "period_start": query.get("period_start") or start.isoformat(),
                "period_end": query.get("period_end") or end.isoformat(),
            },
            "errors": errors,
            "a": network.station(a),
            "b": network.station(b),
            "boards": board_rows(stations, list(persons), cases, overdue, escalations, refused),
            "escalations": Part(escalations, escalations.body if escalations.ok else []),
            "refused": Part(refused, refused.body if refused.ok else []),
            "planning": Part(planning, planning.body if planning.ok else []),
            "table": table,
            "compared": compared(table, a, b),
            "charts": charts(table, stations, a, b),
            "escalation_kinds": ESCALATION_KINDS,
            "not_published": NOT_PUBLISHED,
            "period_query": f"period_start={start.isoformat()}&period_end={end.isoformat()}",
            "from_summary": from_summary,
        },
        status=422 if errors else 200,
        user=user,
    )
