"""The moments a request may carry: instants and calendar days, each within the
window its meaning allows (issue 22).

One date typed wrong (``0001-01-01T00:00:00+00:00``, a number of seconds, a time
without its offset) must not reach the database: a year-1 arrival was stored as
Postgres' ``-infinity`` and broke every list of its station. Every date and time
a service accepts, in a request body or a query, is one of these types:

- ``PastInstant``: something that happened (an arrival, a patrol's finding, a
  discharge, a revisit made): from 1950-01-01T00:00:00Z to now plus the clock
  skew of a station tablet (``CLOCK_SKEW``).
- ``PlannedInstant``: something planned (an escort leg's departure): from
  ``PLANNED_LATE`` ago (a plan recorded after the trip began) to
  ``PLANNING_HORIZON`` ahead.
- ``PastDay``: the calendar day something was done, 1950-01-01 to today (the
  stations' calendar, UTC+8, may be a day ahead of UTC's).
- ``PeriodDay`` and ``PeriodInstant``: a bound of a period asked for in a query,
  1950-01-01 to ``PERIOD_HORIZON`` ahead; ``ensure_period`` refuses a reversed one.

Each is strict about its form: an instant is an ISO 8601 text with its UTC
offset (``2026-11-23T07:30:00+08:00`` or ``…Z``), a day is ``YYYY-MM-DD``;
numbers (epoch seconds) and booleans are refused, in JSON and as digits in a
text. The window is checked when the request comes (``now`` then). The OpenAPI
document names each type as a schema of its own (``#/components/schemas/PastInstant``
…) whose description states the window; the field keeps its own description.

Numbers and booleans in request bodies are pydantic's ``StrictBool``,
``StrictInt`` and ``StrictFloat`` (a float takes an integer; neither takes a
boolean or a text); tests/unit/test_request_moments.py checks every request model
of the five services uses these types.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic_core import PydanticCustomError, core_schema

from rescue_chassis.problems import invalid

EARLIEST = datetime(1950, 1, 1, tzinfo=UTC)  # no record of the network is older
CLOCK_SKEW = timedelta(minutes=5)  # a station tablet's clock running ahead
PLANNED_LATE = timedelta(days=30)  # a plan recorded after its trip began
PLANNING_HORIZON = timedelta(days=366)  # escorts are planned weeks ahead, not years
PERIOD_HORIZON = timedelta(days=366)  # a period may run to the end of this year
DAY_AHEAD = timedelta(days=1)  # the stations' day (UTC+8) may be UTC's tomorrow

_INSTANT_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")
_DAY_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}")


def _span(delta: timedelta) -> str:
    if delta % timedelta(days=1):
        return f"{delta // timedelta(minutes=1)} minutes"
    return f"{delta.days} days"


@dataclass(frozen=True)
class _Window:
    """A moment type: its form (instant or day) and its window, relative to now
    where ``behind``/``ahead`` are given, else from ``EARLIEST``."""

    name: str
    day: bool
    ahead: timedelta
    behind: timedelta | None = None  # None: from EARLIEST
    meaning: str = ""

    # ---- the window, for messages and the schema ---------------------------------

    def bounds(self, now: datetime | None = None) -> tuple[datetime, datetime]:
        now = now or datetime.now(UTC)
        earliest = EARLIEST if self.behind is None else max(EARLIEST, now - self.behind)
        return earliest, now + self.ahead

    def window_text(self) -> str:
        if self.behind is None:
            earliest = "1950-01-01" if self.day else "1950-01-01T00:00:00Z"
        else:
            earliest = f"now − {_span(self.behind)}"
        latest = ("today" if self.day else "now") + f" + {_span(self.ahead)}"
        return f"from {earliest} to {latest}"

    def description(self) -> str:
        form = (
            "A calendar day, YYYY-MM-DD"
            if self.day
            else "An instant in ISO 8601 with its UTC offset (e.g. 2026-11-23T07:30:00+08:00 or …Z)"
        )
        return (
            f"{form}: {self.meaning}, {self.window_text()}. Numbers (epoch seconds) are "
            "not dates; out of the window is a 422 naming the field."
        )

    # ---- validation ------------------------------------------------------------------

    def _form(self, value: Any) -> Any:
        """Before pydantic parses it: a text of the right form (or a Python value of
        the right type, from a caller in process), never a number."""
        if self.day:
            if isinstance(value, date) and not isinstance(value, datetime):
                return value
            if isinstance(value, str) and _DAY_TEXT.fullmatch(value):
                return value
            raise PydanticCustomError(
                "day_form", "must be a calendar day as YYYY-MM-DD (numbers are not dates)"
            )
        if isinstance(value, datetime):
            return value
        if isinstance(value, str) and _INSTANT_TEXT.match(value):
            return value
        raise PydanticCustomError(
            "instant_form",
            "must be an ISO 8601 date-time with its UTC offset, e.g. "
            "2026-11-23T07:30:00+08:00 (numbers are not dates)",
        )

    def _within(self, value: date) -> date:
        if isinstance(value, datetime) and value.utcoffset() is None:
            raise PydanticCustomError("instant_offset", "needs its UTC offset (e.g. +08:00 or Z)")
        earliest, latest = self.bounds()
        if self.day:
            inside = earliest.date() <= value <= latest.date()
        else:
            inside = earliest <= value <= latest
        if not inside:
            raise PydanticCustomError(
                "moment_window",
                "must lie {window} ({meaning})",
                {"window": self.window_text(), "meaning": self.meaning},
            )
        return value

    # ---- pydantic ----------------------------------------------------------------

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        parsed = core_schema.date_schema() if self.day else core_schema.datetime_schema()
        return core_schema.no_info_after_validator_function(
            self._within,
            core_schema.no_info_before_validator_function(self._form, parsed),
            ref=self.name,  # one schema of its own in the OpenAPI document
        )

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        json_schema = handler(schema)
        target = handler.resolve_ref_schema(json_schema)
        target.update(
            type="string",
            format="date" if self.day else "date-time",
            description=self.description(),
        )
        return json_schema


PAST_INSTANT = _Window(
    "PastInstant", day=False, ahead=CLOCK_SKEW, meaning="something that happened"
)
PLANNED_INSTANT = _Window(
    "PlannedInstant",
    day=False,
    ahead=PLANNING_HORIZON,
    behind=PLANNED_LATE,
    meaning="something planned",
)
PAST_DAY = _Window("PastDay", day=True, ahead=DAY_AHEAD, meaning="the day something was done")
PERIOD_DAY = _Window("PeriodDay", day=True, ahead=PERIOD_HORIZON, meaning="a bound of a period")
PERIOD_INSTANT = _Window(
    "PeriodInstant", day=False, ahead=PERIOD_HORIZON, meaning="a bound of a period"
)

PastInstant = Annotated[datetime, PAST_INSTANT]
PlannedInstant = Annotated[datetime, PLANNED_INSTANT]
PastDay = Annotated[date, PAST_DAY]
PeriodDay = Annotated[date, PERIOD_DAY]
PeriodInstant = Annotated[datetime, PERIOD_INSTANT]

MOMENT_TYPES = (PAST_INSTANT, PLANNED_INSTANT, PAST_DAY, PERIOD_DAY, PERIOD_INSTANT)


def ensure_period(
    start: date,
    end: date,
    *,
    start_name: str = "period_start",
    end_name: str = "period_end",
    end_inclusive: bool = True,
) -> None:
    """A period from a query, its bounds already in their window: a 422 naming the
    end parameter if it comes before the start (or at it, when the end is exclusive)."""
    if end < start or (not end_inclusive and end == start):
        relation = "before" if end_inclusive else "at or before"
        raise invalid(f"query.{end_name}", f"is {relation} {start_name}")
