"""Escalation rules (督办): which missed deadlines and long stays go on the
center's list, and under which kind. No I/O here."""

from __future__ import annotations

from enum import StrEnum

from search.domain import TaskKind


class EscalationKind(StrEnum):
    NOTICE_OVERDUE = "notice_overdue"  # the 24-hour family-search notice
    POLICE_CHECK_OVERDUE = "police_check_overdue"
    DNA_OVERDUE = "dna_overdue"
    LONG_STAY = "long_stay"  # unidentified three months in station
    LONG_HOSPITAL_STAY = "long_hospital_stay"  # a hospital placement open too long


class EscalationStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"


#: A search task past its deadline escalates under this kind.
OVERDUE_TASK = {
    TaskKind.FAMILY_SEARCH_NOTICE: EscalationKind.NOTICE_OVERDUE,
    TaskKind.POLICE_CHECK: EscalationKind.POLICE_CHECK_OVERDUE,
    TaskKind.DNA_SAMPLE: EscalationKind.DNA_OVERDUE,
}


def overdue_task_kind(task_kind: str) -> EscalationKind | None:
    """The escalation for an overdue task of this kind; None for a kind the center
    does not follow."""
    try:
        return OVERDUE_TASK.get(TaskKind(task_kind))
    except ValueError:
        return None
