"""Search's deadline sweep: a task past its deadline raises search_task_overdue
once (filled in with the tasks work)."""

from __future__ import annotations

from rescue_chassis.periodic import PeriodicJob
from rescue_chassis.runtime import Runtime


def jobs(runtime: Runtime) -> list[PeriodicJob]:
    return []
