"""Return stabilisation rules (DOMAIN.md, "The life of a case", 6). No I/O here."""

from __future__ import annotations

import calendar
from datetime import date

# Revisits at least every two months for at least one year (回访频率不低于每两月一次,
# 回访期不少于一年).
REVISIT_INTERVAL_MONTHS = 2
STABILISATION_MONTHS = 12


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
