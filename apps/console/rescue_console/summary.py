"""The summary table (情况汇总表): the period's figures per station and for the network,
from the figures the services publish, as a page and as xlsx and csv downloads."""

from __future__ import annotations

import asyncio
import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response
from openpyxl import Workbook

from rescue_chassis.network import Network
from rescue_console import monthly
from rescue_console.services import Answer, Services
from rescue_console.web import ConsoleDep, UserDep, page, still_signed_in
from rescue_console.wording import CHINA, DISCHARGE_REASONS, INCIDENTS

router = APIRouter()

# transfer and referral publish lists, not figures: the period's are counted from at most this many.
LIST_LIMIT = 500
NOT_PUBLISHED = "未发布"
PERIOD_FIELDS = {"period_start": "开始日期", "period_end": "结束日期"}


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    kind: str = "count"  # count, rate (0–1) or hours


@dataclass
class SummaryTable:
    period_start: date
    period_end: date
    columns: list[Column]
    rows: list[dict[str, Any]]  # one per station: station_id, name and a value per column
    total: dict[str, Any]  # the network's
    problems: list[str] = field(default_factory=list)  # the parts that could not be read
    notes: list[str] = field(default_factory=list)


@dataclass
class Sources:
    """The services' answers the table is made of."""

    intake: Answer
    search: Answer
    followup: Answer
    returns: Answer
    referrals: Answer

    def all(self) -> tuple[Answer, ...]:
        return (self.intake, self.search, self.followup, self.returns, self.referrals)


def default_period(today: date) -> tuple[date, date]:
    """This month up to today."""
    return today.replace(day=1), today


def parse_period(start: str | None, end: str | None, today: date) -> tuple[date, date, dict]:
    """The period asked for (this month by default), and the refusals by field."""
    first, last = default_period(today)
    errors: dict[str, str] = {}
    parsed = {}
    for name, raw, fallback in (("period_start", start, first), ("period_end", end, last)):
        try:
            parsed[name] = date.fromisoformat(raw) if raw else fallback
        except ValueError:
            errors[name] = f"{PERIOD_FIELDS[name]}应为 年-月-日，如 2026-11-01。"
            parsed[name] = fallback
    if not errors and parsed["period_end"] < parsed["period_start"]:
        errors["period_end"] = "结束日期不能早于开始日期。"
    return parsed["period_start"], parsed["period_end"], errors


def instants(start: date, end: date) -> tuple[str, str]:
    """Calendar days in China, inclusive, as search's [start, end) instants."""
    first = datetime.combine(start, time.min, CHINA)
    after = datetime.combine(end + timedelta(days=1), time.min, CHINA)
    return first.isoformat(), after.isoformat()


async def fetch_sources(services: Services, token: str, start: date, end: date) -> Sources:
    """One round of reads, all at once."""
    first, after = instants(start, end)
    days = {"period_start": start.isoformat(), "period_end": end.isoformat()}
    intake, search, followup, returns, referrals = await asyncio.gather(
        services.get(token, "intake", "/station/summary", **days),
        services.get(
            token, "search", "/figures/identification", period_start=first, period_end=after
        ),
        services.get(token, "followup", "/figures", **days),
        services.get(token, "transfer", "/returns", limit=LIST_LIMIT),
        services.get(token, "referral", "/referrals", limit=LIST_LIMIT),
    )
    return Sources(intake, search, followup, returns, referrals)


def rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _within(moment: str | None, start: date, end: date) -> bool:
    if not moment:
        return False
    day = datetime.fromisoformat(moment).astimezone(CHINA).date()
    return start <= day <= end


def _problem(what: str, answer: Answer) -> str:
    if answer.status in (403, 404):
        return f"{what}：无权查看"
    return f"{what}：暂时无法获取（服务不可用）"


def columns_for(intake_rows: list[dict]) -> list[Column]:
    """The table's columns: discharge reasons and incident kinds the domain knows and
    any other the service counted."""
    reasons = list(DISCHARGE_REASONS) + sorted(
        {k for r in intake_rows for k in r.get("discharges", {})} - set(DISCHARGE_REASONS)
    )
    kinds = list(INCIDENTS) + sorted(
        {k for r in intake_rows for k in r.get("incidents", {})} - set(INCIDENTS)
    )
    return [
        Column("admissions", "入站人次"),
        Column("readmissions", "其中再次入站"),
        *(Column(f"discharges.{k}", f"离站·{DISCHARGE_REASONS.get(k, k)}") for k in reasons),
        Column("discharges", "离站合计"),
        Column("identified", "身份确认"),
        Column("cases_opened", "新开寻亲个案"),
        Column("cases_identified", "其中已甄别"),
        Column("identification_rate", "甄别率", "rate"),
        Column("median_hours_to_identify", "甄别用时中位数（小时）", "hours"),
        Column("notices_within_24h", "24小时内发布寻亲公告", "rate"),
        Column("in_station_at_end", "期末在站"),
        Column("long_stay", "长期滞留"),
        *(Column(f"incidents.{k}", f"事件·{INCIDENTS.get(k, k)}") for k in kinds),
        Column("returns", "护送返乡交接"),
        Column("referrals", "转介"),
        Column("returned", "交接返乡人数（随访）"),
        Column("repeat_wanderers", "再次流浪"),
        Column("repeat_wandering_rate", "再次流浪率", "rate"),
        Column("revisits_due", "应回访"),
        Column("revisits_made", "已回访"),
        Column("revisits_on_time", "按时回访"),
        Column("revisit_compliance", "回访按时率", "rate"),
    ]


FOLLOWUP_KEYS = (
    "returned",
    "repeat_wanderers",
    "repeat_wandering_rate",
    "revisits_due",
    "revisits_made",
    "revisits_on_time",
    "revisit_compliance",
)


def build_table(
    sources: Sources,
    network: Network,
    start: date,
    end: date,
    station_id: str | None = None,
) -> SummaryTable:
    """Merge the services' figures per station, and add them up for the network
    (a rate from the summed parts; a median is not additive, so none for the network)."""
    problems, notes = [], []
    intake_rows = sources.intake.body if sources.intake.ok else []
    search_rows = sources.search.body if sources.search.ok else []
    columns = columns_for(intake_rows)
    for what, answer in (
        ("入站、离站和事件（救助登记服务）", sources.intake),
        ("甄别（寻亲服务）", sources.search),
        ("回访和再次流浪（随访服务）", sources.followup),
        ("返乡交接（返乡服务）", sources.returns),
        ("转介（转介服务）", sources.referrals),
    ):
        if not answer.ok:
            problems.append(_problem(what, answer))

    by_station: dict[str, dict[str, Any]] = {}

    def row(station: str) -> dict[str, Any]:
        if station not in by_station:
            known = network.station(station)
            by_station[station] = {
                "station_id": station,
                "name": known.name if known else station,
                **{c.key: (0 if c.kind == "count" and sources_ok(c) else None) for c in columns},
                "notices_within_24h": None,
                "median_hours_to_identify": None,
                **{key: None for key in FOLLOWUP_KEYS},
            }
        return by_station[station]

    def sources_ok(column: Column) -> bool:
        if column.key.startswith(("discharges", "incidents")) or column.key in (
            "admissions",
            "readmissions",
            "identified",
            "in_station_at_end",
            "long_stay",
        ):
            return sources.intake.ok
        if column.key in ("cases_opened", "cases_identified", "identification_rate"):
            return sources.search.ok
        if column.key == "returns":
            return sources.returns.ok
        if column.key == "referrals":
            return sources.referrals.ok
        return False

    for station in network.stations:
        row(station)
    for figures in intake_rows:
        mine = row(figures["station_id"])
        for key in ("admissions", "readmissions", "identified", "in_station_at_end", "long_stay"):
            mine[key] = figures.get(key, 0)
        for kind, count in figures.get("discharges", {}).items():
            mine[f"discharges.{kind}"] = count
        mine["discharges"] = sum(figures.get("discharges", {}).values())
        for kind, count in figures.get("incidents", {}).items():
            mine[f"incidents.{kind}"] = count
    for figures in search_rows:
        mine = row(figures["station_id"])
        mine["cases_opened"] = figures["cases_opened"]
        mine["cases_identified"] = figures["identified"]
        mine["identification_rate"] = figures.get("identification_rate")
        mine["median_hours_to_identify"] = figures.get("median_hours_to_identify")
    for listed, key, moment in (
        (sources.returns, "returns", "handed_over_at"),
        (sources.referrals, "referrals", "opened_at"),
    ):
        if not listed.ok:
            continue
        if len(listed.body) >= LIST_LIMIT:
            what = "返乡交接" if key == "returns" else "转介"
            notes.append(f"{what}只计了最新的{LIST_LIMIT}条。")
        for item in listed.body:
            if _within(item.get(moment), start, end):
                row(item["station_id"])[key] += 1

    stations = [s for s in network.stations if s in by_station] + sorted(
        set(by_station) - set(network.stations)
    )
    total = {"station_id": "", "name": "全网合计"}
    for column in columns:
        values = [by_station[s][column.key] for s in stations]
        if column.kind == "count":
            total[column.key] = None if not sources_ok(column) else sum(v or 0 for v in values)
        else:
            total[column.key] = None
    if sources.search.ok:
        total["identification_rate"] = rate(total["cases_identified"], total["cases_opened"])
    if sources.followup.ok:
        jurisdictions = sources.followup.body
        for key in ("returned", "repeat_wanderers", "revisits_due", "revisits_made"):
            total[key] = sum(r.get(key, 0) for r in jurisdictions)
        total["revisits_on_time"] = sum(r.get("revisits_on_time", 0) for r in jurisdictions)
        total["repeat_wandering_rate"] = rate(total["repeat_wanderers"], total["returned"])
        total["revisit_compliance"] = rate(total["revisits_on_time"], total["revisits_due"])
    notes.append(
        "回访和再次流浪由随访服务按乡镇发布，不分救助站，只列全网合计；"
        "24小时内发布寻亲公告的比例寻亲服务未发布；甄别用时中位数无法跨站相加，全网未列。"
    )
    shown = [by_station[s] for s in stations if station_id in (None, "", s)]
    return SummaryTable(start, end, columns, shown, total, problems, notes)


def cell(column: Column, value: Any) -> str:
    """A figure as the page and the csv say it."""
    if value is None:
        return NOT_PUBLISHED
    if column.kind == "rate":
        return f"{value * 100:.1f}%"
    if column.kind == "hours":
        return f"{value:.1f}"
    return str(value)


def table_lines(table: SummaryTable) -> list[list[str]]:
    """Header and rows as text, the network's last."""
    lines = [["救助站", *(c.header for c in table.columns)]]
    for row in [*table.rows, table.total]:
        lines.append([row["name"], *(cell(c, row.get(c.key)) for c in table.columns)])
    return lines


def csv_bytes(table: SummaryTable) -> bytes:
    """UTF-8 with a byte-order mark, so Excel reads the Chinese headers."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([f"情况汇总表 {table.period_start} 至 {table.period_end}"])
    writer.writerows(table_lines(table))
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def xlsx_bytes(table: SummaryTable) -> bytes:
    """The same table as a workbook: figures as numbers (rates as percentages), a
    figure not published as its words."""
    book = Workbook()
    sheet = book.active
    sheet.title = "情况汇总表"
    sheet.append([f"情况汇总表 {table.period_start} 至 {table.period_end}"])
    sheet.append(["救助站", *(c.header for c in table.columns)])
    for row in [*table.rows, table.total]:
        sheet.append([row["name"], *(_xlsx_value(c, row.get(c.key)) for c in table.columns)])
        for index, column in enumerate(table.columns, start=2):
            target = sheet.cell(row=sheet.max_row, column=index)
            if column.kind == "rate" and isinstance(target.value, float):
                target.number_format = "0.0%"
            elif column.kind == "hours" and isinstance(target.value, float):
                target.number_format = "0.0"
    for text in table.notes + table.problems:
        sheet.append([text])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _xlsx_value(column: Column, value: Any):
    if value is None:
        return NOT_PUBLISHED
    return value


def today_in_china() -> date:
    return datetime.now(CHINA).date()


async def _table(request: Request, console, user) -> tuple[SummaryTable | None, dict, dict]:
    query = request.query_params
    today = today_in_china()
    whole = monthly.period_of(query.get("month", ""))  # ?month=YYYY-MM: that month
    start, end, errors = (
        parse_period(query.get("period_start"), query.get("period_end"), today)
        if whole is None
        else (*whole, {})
    )
    form = {
        "period_start": query.get("period_start") or start.isoformat(),
        "period_end": query.get("period_end") or end.isoformat(),
        "station_id": query.get("station_id") or "",
        "month": "",
    }
    if whole is not None:
        form.update(period_start=start.isoformat(), period_end=end.isoformat())
    if errors:
        return None, form, errors
    month = monthly.month_of(start, end, today)
    if month is not None and console.services.has("summary"):
        # a calendar month: the summary service's table, counted from every event
        answer = await monthly.fetch(console.services, user.token, month)
        still_signed_in(console, user, answer)
        table = monthly.table_of(answer.body, console.network, form["station_id"])
        if answer.ok and table is not None:
            form["month"] = month
            return table, form, errors
        problem = "无权查看" if answer.status in (403, 404) else "暂时无法获取（服务不可用）"
        fallback = f"情况汇总服务（{month}）：{problem}；以下为各服务发布的数字。"
    else:
        fallback = None
    sources = await fetch_sources(console.services, user.token, start, end)
    still_signed_in(console, user, *sources.all())
    table = build_table(sources, console.network, start, end, form["station_id"])
    if fallback:
        table.problems.insert(0, fallback)
    return table, form, errors


@router.get("/summary")
async def summary_page(request: Request, console: ConsoleDep, user: UserDep):
    table, form, errors = await _table(request, console, user)
    return page(
        request,
        "summary.html",
        {
            "table": table,
            "lines": table_lines(table) if table else [],
            "form": form,
            "errors": errors,
            "stations": list(console.network.stations.values()),
            "download_query": request.url.query,
            "monthly": console.services.has("summary"),
            "this_month": today_in_china().strftime("%Y-%m"),
        },
        status=422 if errors else 200,
        user=user,
    )


async def _exported(console, user, form: dict, suffix: str) -> Response | None:
    """The summary service's own export of the month (what is filed), when the table
    came from it and nothing narrows it to one station."""
    if not form.get("month") or form.get("station_id"):
        return None
    answer = await monthly.export(console.services, user.token, form["month"], suffix)
    still_signed_in(console, user, answer)
    if not answer.ok or not answer.content:
        return None
    media = answer.headers.get("content-type", "application/octet-stream")
    name = f"情况汇总表_{form['month']}.{suffix}"
    return Response(
        answer.content,
        media_type=media,
        headers={
            "Content-Disposition": f"attachment; filename=summary-{form['month']}.{suffix}; "
            f"filename*=UTF-8''{quote(name)}"
        },
    )


def _download(table: SummaryTable, body: bytes, suffix: str, media: str) -> Response:
    name = f"情况汇总表_{table.period_start}_{table.period_end}.{suffix}"
    return Response(
        body,
        media_type=media,
        headers={
            "Content-Disposition": f"attachment; filename=summary.{suffix}; "
            f"filename*=UTF-8''{quote(name)}"
        },
    )


@router.get("/summary.csv")
async def summary_csv(request: Request, console: ConsoleDep, user: UserDep):
    table, form, errors = await _table(request, console, user)
    if table is None:
        return await summary_page(request, console, user)
    exported = await _exported(console, user, form, "csv")
    if exported is not None:
        return exported
    return _download(table, csv_bytes(table), "csv", "text/csv; charset=utf-8")


@router.get("/summary.xlsx")
async def summary_xlsx(request: Request, console: ConsoleDep, user: UserDep):
    table, form, errors = await _table(request, console, user)
    if table is None:
        return await summary_page(request, console, user)
    exported = await _exported(console, user, form, "xlsx")
    if exported is not None:
        return exported
    media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return _download(table, xlsx_bytes(table), "xlsx", media)
