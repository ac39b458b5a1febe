"""The board (值班看板): who is in the station now, deadlines (notice, police check,
DNA), long stays, outsourced placements not visited and the review queue, each panel
from the service that owns it, refreshed by htmx."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime

from fastapi import APIRouter, Request

from rescue_console.services import Answer
from rescue_console.web import ConsoleDep, UserDep, page, still_signed_in
from rescue_console.wording import TASK_KINDS, time_left

router = APIRouter()

# Days in station, as the board groups them (the long-stay mark itself is intake's).
DAY_BANDS = (
    ("今日到站", 0, 0),
    ("1–7天", 1, 7),
    ("8–30天", 8, 30),
    ("31–89天", 31, 89),
    ("90天以上", 90, None),
)
# The police-check and DNA deadlines on the board (the notice has its own panel).
CASE_TASKS = ("police_check", "dna_sample")


@dataclass
class Panel:
    """One service's part of the board, or why it is missing."""

    answer: Answer
    rows: list = field(default_factory=list)

    @property
    def problem(self) -> str | None:
        if self.answer.ok:
            return None
        if self.answer.status in (403, 404):
            return "无权查看"
        return "暂时无法获取（服务不可用），稍后自动重试"


@router.get("/board")
async def board_page(request: Request, console: ConsoleDep, user: UserDep):
    return page(request, "board.html", await _board(console, user), user=user)


@router.get("/board/panels")
async def board_panels(request: Request, console: ConsoleDep, user: UserDep):
    return page(request, "_board_panels.html", await _board(console, user), user=user)


async def _board(console, user) -> dict:
    services, token = console.services, user.token
    persons, cases, tasks, queue, revisits, outsourced = await asyncio.gather(
        services.get(token, "intake", "/station/persons"),
        services.get(token, "search", "/cases", status="open", limit=500),
        services.get(token, "search", "/tasks", limit=2000),
        services.get(token, "search", "/review-queue", limit=500),
        services.get(token, "followup", "/revisits/overdue", limit=500),
        services.get(token, "intake", "/station/outsourced-care", overdue="true"),
    )
    still_signed_in(console, user, persons, cases, tasks, queue, revisits, outsourced)
    now = console.clock()
    in_station = Panel(persons, persons.body if persons.ok else [])
    deadlines = Panel(cases)
    if cases.ok:
        for case in cases.body:
            if case.get("notice_published_at"):
                continue
            left, overdue = time_left(case["notice_due_at"], now)
            deadlines.rows.append({**case, "time_left": left, "overdue": overdue})
    return {
        "refresh": console.settings.board_refresh_seconds,
        "in_station": in_station,
        "by_status": _count(in_station.rows, lambda p: p["status"]),
        "by_days": _bands(in_station.rows),
        "long_stays": [p for p in in_station.rows if _long_stay(p)],
        "deadlines": deadlines,
        "overdue_count": sum(1 for row in deadlines.rows if row["overdue"]),
        "task_deadlines": task_panel(cases, tasks, now),
        "not_visited": Panel(
            outsourced,
            not_visited(outsourced.body, in_station.rows) if outsourced.ok else [],
        ),
        "review_queue": Panel(queue, queue.body if queue.ok else []),
        "overdue_revisits": Panel(revisits, revisits.body if revisits.ok else []),
    }


def _count(rows, key) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[key(row)] = counts.get(key(row), 0) + 1
    return counts


def _bands(rows) -> list[tuple[str, int]]:
    def within(days, low, high):
        return days is not None and days >= low and (high is None or days <= high)

    return [
        (name, sum(1 for p in rows if within(p.get("days_in_station"), low, high)))
        for name, low, high in DAY_BANDS
    ]


def _long_stay(person: dict) -> bool:
    current = next((s for s in person.get("stays", []) if not s.get("discharged_at")), None)
    return bool(current and current.get("long_stay_reached_at"))


def task_panel(cases: Answer, tasks: Answer, now: datetime) -> Panel:
    """Police-check and DNA deadlines: why the panel is missing (the cases or the
    open tasks could not be read), or its rows."""
    failed = next((a for a in (cases, tasks) if not a.ok), None)
    if failed is not None:
        return Panel(failed)
    return Panel(tasks, task_deadlines(cases.body, tasks.body, now))


def task_deadlines(cases: list[dict], tasks: list[dict], now: datetime) -> list[dict]:
    """Open police-check and DNA tasks with time left or overdue, the earliest
    deadline first, with its case's person."""
    by_case = {c["id"]: c for c in cases}
    rows = []
    for task in tasks:
        if task.get("kind") not in CASE_TASKS or task.get("status") != "open":
            continue
        case = by_case.get(task["case_id"], {})
        left, late = time_left(task["due_at"], now)
        rows.append(
            {
                "case_id": task["case_id"],
                "person_id": case.get("person_id"),
                "name": case.get("full_name") or case.get("stated_names") or "姓名不详",
                "kind": task["kind"],
                "what": TASK_KINDS.get(task["kind"], task["kind"]),
                "due_at": task["due_at"],
                "time_left": left,
                "overdue": late,
            }
        )
    return sorted(rows, key=lambda r: datetime.fromisoformat(r["due_at"]))


def not_visited(placements: list[dict], persons: list[dict]) -> list[dict]:
    """Outsourced placements intake flags as not visited in time, with the person's name
    when the station list has it."""
    names = {
        p["id"]: p.get("full_name") or "、".join(p.get("stated_names") or []) or "姓名不详"
        for p in persons
    }
    return [
        {**placement, "name": names.get(placement["person_id"], "姓名不详")}
        for placement in placements
        if placement.get("overdue")
    ]
