"""Return stabilisation rules (DOMAIN.md, "The life of a case", 6). No I/O here."""

from __future__ import annotations

import calendar
import re
import unicodedata
from collections.abc import Iterable
from datetime import date, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from rescue_chassis.network import Network, Station
from rescue_chassis.refusals import Refused
from rescue_events.contracts import PartnerType, PersonCategory, Situation

CHINA = ZoneInfo("Asia/Shanghai")  # revisit dates are the home town's calendar days

# Revisits at least every two months for at least one year (回访频率不低于每两月一次,
# 回访期不少于一年).
REVISIT_INTERVAL_MONTHS = 2
STABILISATION_MONTHS = 12
# A missed revisit goes to the origin station and the home town the day after it
# was due, and to the center when it is still missing two weeks later.
ESCALATE_AFTER = timedelta(days=14)
ESCALATED_TO = {"overdue": "origin station and home town", "escalated": "center station"}

# Who enters the at-risk register by themselves (易流浪走失人员信息库).
AT_RISK_CATEGORIES = {
    PersonCategory.MENTAL_ILLNESS,
    PersonCategory.DEMENTIA,
    PersonCategory.DISABLED,
}
REPEAT_WANDERING = "repeat_wandering"

# Which partner a difficulty found on a revisit is referred to.
REFER_DIFFICULTY = {
    Situation.LIVING_DIFFICULTY: PartnerType.CIVIL_AFFAIRS,  # 特困/低保
    Situation.WORK_DIFFICULTY: PartnerType.SOCIAL_ORGANISATION,
    Situation.MEDICAL_DIFFICULTY: PartnerType.HOSPITAL,
}


class RecordStatus(StrEnum):
    ACTIVE = "active"
    CLOSED = "closed"


class RevisitStatus(StrEnum):
    SCHEDULED = "scheduled"
    DONE = "done"
    OVERDUE = "overdue"


def add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def revisit_schedule(handed_over_on: date) -> list[date]:
    """Due dates of the revisits: never more than two months apart, the last one
    a full year after the handover."""
    return [
        add_months(handed_over_on, months)
        for months in range(
            REVISIT_INTERVAL_MONTHS, STABILISATION_MONTHS + 1, REVISIT_INTERVAL_MONTHS
        )
    ]


def overdue_level(due_on: date, today: date) -> str | None:
    """None while the revisit is not late; "overdue" from the day after it was due;
    "escalated" once it is still missing ESCALATE_AFTER later."""
    if today <= due_on:
        return None
    return "escalated" if today > due_on + ESCALATE_AFTER else "overdue"


def jurisdiction(home_admin_code: str | None) -> str | None:
    """The town (乡镇街道, 9 digits) that revisits, or the county (6) when the town
    is not known. Village codes (12 digits) belong to their town."""
    if not home_admin_code:
        return None
    return home_admin_code[:9] if len(home_admin_code) >= 9 else home_admin_code[:6]


# An inbound return notice comes with the escort, days ahead, not months; and one
# for a return more than a year ago is past its year of followup.
NOTICE_AHEAD = timedelta(days=90)


def check_arrival(expected_on: date, today: date) -> None:
    if expected_on > today + NOTICE_AHEAD:
        raise Refused("expected_arrival_on", f"lies more than {NOTICE_AHEAD.days} days ahead")
    if expected_on < add_months(today, -STABILISATION_MONTHS):
        raise Refused("expected_arrival_on", "lies over a year ago: its year of followup is over")


def _area_prefix(admin_code: str) -> str:
    # A city's code (411500) stands for all of it: its counties share "4115".
    while admin_code.endswith("00") and len(admin_code) > 2:
        admin_code = admin_code[:-2]
    return admin_code


def serving_station(network: Network, home_admin_code: str) -> Station | None:
    """The station whose area holds a registered home: the county's satellite, else
    the city's center; None outside the network's area."""
    serving = [
        s
        for s in network.stations.values()
        if s.admin_code and home_admin_code.startswith(_area_prefix(s.admin_code))
    ]
    return max(serving, key=lambda s: len(_area_prefix(s.admin_code or "")), default=None)


def county_of(code: str | None) -> str | None:
    return code[:6] if code else None


def at_risk_reasons(categories: Iterable[str]) -> list[str]:
    found = set(categories)
    return sorted(c.value for c in AT_RISK_CATEGORIES if c.value in found)


_SPACES = re.compile(r"\s+")


def identity_key(full_name: str, home_admin_code: str | None, home_address: str) -> str:
    """What makes two identities the same person for the ledger: the name and the
    home, by admin code when there is one (村/乡镇 level), else by address."""
    name = _SPACES.sub("", unicodedata.normalize("NFKC", full_name))
    home = home_admin_code or _SPACES.sub("", unicodedata.normalize("NFKC", home_address))
    return f"{name}|{home}"


def check_closing(
    *, handed_over_on: date, today: date, revisit_statuses: list[str], last_situation: str | None
) -> None:
    """A record closes after a stable year: every revisit made, a year passed, and
    the person found stable on the last one."""
    if today < add_months(handed_over_on, STABILISATION_MONTHS):
        raise Refused("outcome", "the year of followup has not passed")
    if any(s != RevisitStatus.DONE for s in revisit_statuses):
        raise Refused("outcome", "not every revisit has been made")
    if last_situation != Situation.STABLE:
        raise Refused("outcome", "the last revisit did not find the person stable")


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None
