"""The figures of the summary table (情况汇总表): each named with its Chinese label and
the event that counts it, and the counting itself over facts (summary.facts). Pure.

A figure belongs to the month (China's calendar) of the moment its definition names,
and to the station the event names (or, for an event naming none, the station of the
fact it refers to). Counts add up across stations; rates and medians are worked out
again from the parts for the network.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from rescue_events.contracts import ArrivalRoute, DischargeReason, IncidentKind, PartnerType
from rescue_events.contracts.base import PersonCategory
from summary.facts import china_midnight
from summary.tables import Fact

MONTH = re.compile(r"^((?:19|2\d)\d{2})-(0[1-9]|1[0-2])$")  # 1900-01 to 2999-12


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    definition: str
    kind: str = "count"  # count | rate (0–1) | hours


@dataclass(frozen=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month | None:
        found = MONTH.match(text)
        return cls(int(found[1]), int(found[2])) if found else None

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def next_first_day(self) -> date:
        return date(self.year + self.month // 12, self.month % 12 + 1, 1)

    @property
    def start(self) -> datetime:
        return china_midnight(self.first_day)

    @property
    def end(self) -> datetime:
        return china_midnight(self.next_first_day)


ROUTES = {
    ArrivalRoute.STREET_PATROL: "街面巡查护送",
    ArrivalRoute.OWN_REQUEST: "自愿求助",
    ArrivalRoute.HOTLINE_TIP: "热线线索",
    ArrivalRoute.HOSPITAL_TRANSFER: "医院转入",
    ArrivalRoute.STATION_TRANSFER: "站际转入",
}
CATEGORIES = {
    PersonCategory.MINOR: "未成年人",
    PersonCategory.ELDERLY: "老年人",
    PersonCategory.DISABLED: "残疾人",
    PersonCategory.MENTAL_ILLNESS: "精神障碍",
    PersonCategory.DEMENTIA: "痴呆/阿尔茨海默病",
    PersonCategory.PREGNANT: "孕妇",
    PersonCategory.DOMESTIC_VIOLENCE_VICTIM: "家暴受害人",
    PersonCategory.SUSPECTED_TRAFFICKING: "疑似被拐卖",
    PersonCategory.COERCED_BEGGING: "疑似被胁迫乞讨",
}
DISCHARGES = {
    DischargeReason.RETURNED_HOME: "返乡",
    DischargeReason.LEFT: "自行离站",
    DischargeReason.TRANSFERRED: "转出",
    DischargeReason.SETTLED: "落户安置",
    DischargeReason.DIED: "死亡",
}
INCIDENTS = {IncidentKind.DEATH: "死亡", IncidentKind.MISSING: "走失", IncidentKind.INJURY: "受伤"}
PARTNERS = {
    PartnerType.WOMENS_FEDERATION: "妇联",
    PartnerType.MINOR_PROTECTION: "未成年人保护机构",
    PartnerType.POLICE: "公安机关",
    PartnerType.HOSPITAL: "医院",
    PartnerType.CIVIL_AFFAIRS: "民政部门",
    PartnerType.SOCIAL_ORGANISATION: "社会组织",
}
#: Referral steps counted per partner: "opened" by referral_opened, the rest by
#: referral_status_changed to that status.
REFERRAL_OUTCOMES = {
    "opened": "新开",
    "accepted": "已接收",
    "completed": "已办结",
    "declined": "被拒绝",
    "revoked": "已撤回",
}


def _figures() -> list[Figure]:
    f = Figure
    return [
        f("admissions", "入站人次", "person_admitted, by admitted_at, at the admitting station"),
        f("readmissions", "其中再次入站", "person_admitted with stay_sequence 2 or more"),
        *(
            f(f"admissions.route.{r}", f"入站·{label}", f"person_admitted with arrival_route {r}")
            for r, label in ROUTES.items()
        ),
        *(
            f(f"admissions.category.{c}", f"入站·{label}", f"person_admitted with category {c}")
            for c, label in CATEGORIES.items()
        ),
        f("medical_first", "先救治送医", "hospital_placement_made, by placed_at"),
        f("refusals", "拒绝救助（劝导记录）", "help_refused, by found_at"),
        f("leads", "热线线索", "lead_received, by received_at"),
        f("leads_admitted", "其中线索入站", "lead_closed with outcome admitted, by closed_at"),
        *(
            f(f"discharges.{r}", f"离站·{label}", f"person_discharged with reason {r}")
            for r, label in DISCHARGES.items()
        ),
        *(
            f(f"incidents.{k}", f"事件·{label}", f"incident_reported of kind {k}, by occurred_at")
            for k, label in INCIDENTS.items()
        ),
        f("search_cases", "新开寻亲个案", "search_case_opened, by opened_at"),
        f(
            "cases_identified",
            "其中已甄别",
            "search cases opened in the month whose person has an identity_confirmed",
        ),
        f(
            "identification_rate",
            "甄别率",
            "cases_identified ÷ search_cases",
            "rate",
        ),
        f("identified", "身份确认人数", "identity_confirmed, by confirmed_at (each person once)"),
        f(
            "median_hours_to_identify",
            "甄别用时中位数（小时）",
            "median over identity_confirmed in the month of hours since the person's arrival "
            "(person_admitted.arrived_at of the stay then)",
            "hours",
        ),
        f(
            "notices_within_24h",
            "24小时内发布寻亲公告",
            "search cases opened in the month whose first national notice_published "
            "(seeking_family) came by the case's notice_due_at (24 h from arrival)",
        ),
        f(
            "notices_within_24h_rate",
            "24小时内发布率",
            "notices_within_24h ÷ search_cases",
            "rate",
        ),
        f(
            "dna_sampled",
            "采集DNA样本",
            "police_dna_sample_submitted not re-verifying a hit, by submitted_at",
        ),
        f("dna_reverified", "DNA比中复核确认", "dna_hit_reverified, by reverified_at"),
        f("returns", "返乡交接", "person_handed_over, by handed_over_at, at the caring station"),
        f(
            "returns_cross_province",
            "其中跨省返乡",
            "person_handed_over whose return_opened was cross_province",
        ),
        f(
            "escorts",
            "护送出发人次",
            "escort_departed, by departed_at, at the escorting station (escort_planned)",
        ),
        f(
            "escorts_for_other_stations",
            "其中代他站护送",
            "escort_departed where the escorting station is not the caring one (return_opened)",
        ),
        f("handovers_refused", "流出地拒收", "handover_refused, by refused_at"),
        *(
            f(
                f"referrals.{p}.{o}",
                f"转介·{plabel}·{olabel}",
                (
                    f"referral_opened to {p}, by opened_at"
                    if o == "opened"
                    else f"referral_status_changed to {o} of a referral to {p}, by changed_at"
                ),
            )
            for p, plabel in PARTNERS.items()
            for o, olabel in REFERRAL_OUTCOMES.items()
        ),
        f("outsourced_care_started", "站外托养·新增", "outsourced_care_started, by started_at"),
        f("outsourced_care_visits", "站外托养·探视", "outsourced_care_visited, by visited_at"),
        f(
            "outsourced_care_at_month_end",
            "站外托养·月末在托",
            "outsourced_care_started before the month's end without outsourced_care_ended by then",
        ),
        f("long_stays", "新增长期滞留", "long_stay_reached, by reached_at"),
        f(
            "settlements",
            "落户安置完成",
            "settlement_step_recorded with complete, by done_on",
        ),
        f(
            "revisits_due",
            "应回访",
            "revisit due dates of stabilisation_opened in the month, at the returning station",
        ),
        f(
            "revisits_due_on_time",
            "其中按时回访",
            "revisits due in the month with a revisit_recorded not late",
        ),
        f("revisit_compliance", "回访按时率", "revisits_due_on_time ÷ revisits_due", "rate"),
        f("revisits_made", "已回访", "revisit_recorded, by visited_on"),
        f("revisits_overdue", "逾期未回访", "revisit_overdue at level overdue, by due_on"),
        f(
            "repeat_wandering",
            "屡送屡返（再次流浪）",
            "repeat_wandering_flagged, by flagged_at, at the origin station",
        ),
        f(
            "repeat_admitted",
            "再次流浪·本站接收",
            "repeat_wandering_flagged, by flagged_at, at the admitting station",
        ),
    ]


FIGURES: list[Figure] = _figures()
BY_KEY = {figure.key: figure for figure in FIGURES}
LABELS = {figure.key: figure.label for figure in FIGURES}
DEFINITIONS = {figure.key: figure.definition for figure in FIGURES}
COUNTS = [figure.key for figure in FIGURES if figure.kind == "count"]


@dataclass
class Tally:
    """A station's (or several stations') counts and the hours to identify."""

    counts: Counter = field(default_factory=Counter)
    hours: list[float] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        self.counts.update(other.counts)
        self.hours.extend(other.hours)

    def figures(self) -> dict[str, int | float | None]:
        c = self.counts
        out: dict[str, int | float | None] = {key: c[key] for key in COUNTS}
        out["identification_rate"] = _rate(c["cases_identified"], c["search_cases"])
        out["notices_within_24h_rate"] = _rate(c["notices_within_24h"], c["search_cases"])
        out["revisit_compliance"] = _rate(c["revisits_due_on_time"], c["revisits_due"])
        out["median_hours_to_identify"] = (
            round(statistics.median(self.hours), 2) if self.hours else None
        )
        return {figure.key: out[figure.key] for figure in FIGURES}


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


class _Facts:
    """The facts given, looked up by kind, ref and person."""

    def __init__(self, facts: Iterable[Fact]) -> None:
        unique = {fact.event_id: fact for fact in facts}
        self.kinds: dict[str, list[Fact]] = defaultdict(list)
        self.refs: dict[tuple[str, object], list[Fact]] = defaultdict(list)
        self.refs2: dict[tuple[str, object], list[Fact]] = defaultdict(list)
        self.persons: dict[tuple[str, object], list[Fact]] = defaultdict(list)
        for fact in sorted(unique.values(), key=lambda f: (f.at, f.event_id)):
            self.kinds[fact.kind].append(fact)
            self.refs[fact.kind, fact.ref].append(fact)
            self.refs2[fact.kind, fact.ref2].append(fact)
            self.persons[fact.kind, fact.person_id].append(fact)

    def first(self, kind: str, ref) -> Fact | None:
        found = self.refs.get((kind, ref))
        return found[0] if found else None


def tabulate(month: Month, facts: Iterable[Fact], center: str) -> dict[str, Tally]:
    """Every station's tally for the month, from facts that include at least those of
    the month and those they refer to (summary.statements.facts_for)."""
    index = _Facts(facts)
    start, end = month.start, month.end
    tallies: dict[str, Tally] = defaultdict(Tally)

    def of_month(kind: str) -> list[Fact]:
        return [f for f in index.kinds.get(kind, ()) if start <= f.at < end]

    def count(station: str | None, key: str) -> None:
        if station and key in BY_KEY:
            tallies[station].counts[key] += 1

    for f in of_month("admitted"):
        count(f.station_id, "admissions")
        if (f.number or 1) >= 2:
            count(f.station_id, "readmissions")
        count(f.station_id, f"admissions.route.{f.detail}")
        for category in set(f.tags):
            count(f.station_id, f"admissions.category.{category}")
    for kind, key in (
        ("hospital_placed", "medical_first"),
        ("refused", "refusals"),
        ("lead_received", "leads"),
        ("dna_reverified", "dna_reverified"),
        ("handover_refused", "handovers_refused"),
        ("care_started", "outsourced_care_started"),
        ("care_visited", "outsourced_care_visits"),
        ("long_stay", "long_stays"),
    ):
        for f in of_month(kind):
            count(f.station_id, key)
    for f in of_month("lead_closed"):
        if f.detail == "admitted":
            count(f.station_id, "leads_admitted")
    for f in of_month("discharged"):
        count(f.station_id, f"discharges.{f.detail}")
    for f in of_month("incident"):
        count(f.station_id, f"incidents.{f.detail}")
    for f in of_month("settlement_step"):
        if f.flag:
            count(f.station_id, "settlements")
    for f in of_month("dna_sampled"):
        if not f.flag:
            count(f.station_id, "dna_sampled")

    _identification(index, of_month, count, tallies)
    _returns(index, of_month, count)
    _referrals(index, of_month, count)
    _outsourced_care_at_end(index, end, count)
    _revisits(index, month, of_month, count, center)
    for f in of_month("repeat_flagged"):
        count(f.station_id, "repeat_wandering")
        count(f.detail, "repeat_admitted")
    return dict(tallies)


def _identification(index: _Facts, of_month, count, tallies) -> None:
    identified_persons = {f.person_id for f in index.kinds.get("identified", ())}
    for case in of_month("case_opened"):
        count(case.station_id, "search_cases")
        if case.person_id in identified_persons:
            count(case.station_id, "cases_identified")
        national = [
            n.at
            for n in index.refs2.get(("notice_published", case.ref), ())
            if n.detail == "national" and "seeking_family" in n.tags
        ]
        if national and case.other_at is not None and min(national) <= case.other_at:
            count(case.station_id, "notices_within_24h")
    seen: set[tuple[str, object]] = set()
    for f in of_month("identified"):
        if (f.station_id, f.person_id) in seen:
            continue
        seen.add((f.station_id, f.person_id))
        count(f.station_id, "identified")
        arrivals = [
            a.other_at
            for a in index.persons.get(("admitted", f.person_id), ())
            if a.other_at is not None and a.other_at <= f.at
        ]
        if arrivals and f.station_id:
            hours = (f.at - max(arrivals)).total_seconds() / 3600
            tallies[f.station_id].hours.append(hours)


def _returns(index: _Facts, of_month, count) -> None:
    for f in of_month("handed_over"):
        count(f.station_id, "returns")
        opened = index.first("return_opened", f.ref)
        if opened is not None and opened.flag:
            count(f.station_id, "returns_cross_province")
    for f in of_month("escort_departed"):
        planned = index.first("escort_planned", f.ref)
        if planned is None:
            continue
        count(planned.station_id, "escorts")
        opened = index.first("return_opened", f.ref2)
        if opened is not None and opened.station_id != planned.station_id:
            count(planned.station_id, "escorts_for_other_stations")


def _referrals(index: _Facts, of_month, count) -> None:
    for f in of_month("referral_opened"):
        count(f.station_id, f"referrals.{f.detail}.opened")
    for f in of_month("referral_changed"):
        opened = index.first("referral_opened", f.ref)
        if opened is not None and f.detail != "opened":
            count(opened.station_id, f"referrals.{opened.detail}.{f.detail}")


def _outsourced_care_at_end(index: _Facts, end: datetime, count) -> None:
    for care in index.kinds.get("care_started", ()):
        if care.at >= end:
            continue
        ended = [e for e in index.refs.get(("care_ended", care.ref), ()) if e.at < end]
        if not ended:
            count(care.station_id, "outsourced_care_at_month_end")


def _revisits(index: _Facts, month: Month, of_month, count, center: str) -> None:
    def station_of(record_id) -> str | None:
        opened = index.first("stabilisation_opened", record_id)
        if opened is None:
            return None
        handovers = index.persons.get(("handed_over", opened.person_id), ())
        # no handover of this network: another region's return (its notice), the center's
        return handovers[-1].station_id if handovers else center

    for opened in index.kinds.get("stabilisation_opened", ()):
        station = station_of(opened.ref)
        for sequence, due in enumerate(opened.dates, start=1):
            if not month.first_day <= due < month.next_first_day:
                continue
            count(station, "revisits_due")
            made = index.refs.get(("revisit_recorded", opened.ref), ())
            if any(r.number == sequence and not r.flag for r in made):
                count(station, "revisits_due_on_time")
    for f in of_month("revisit_recorded"):
        station = station_of(f.ref)
        count(station, "revisits_made")
    for f in of_month("revisit_overdue"):
        if f.detail == "overdue":
            count(f.station_id, "revisits_overdue")


@dataclass(frozen=True)
class Table:
    month: str
    stations: dict[str, dict[str, int | float | None]]
    network: dict[str, int | float | None]


def table_of(
    month: Month,
    facts: Iterable[Fact],
    stations: Iterable[str],
    center: str,
    *,
    others: bool = False,
) -> Table:
    """The month's table over ``stations`` (in that order; ``others``: and any other
    station the events named), and their total as the network."""
    tallies = tabulate(month, facts, center)
    shown = list(stations)
    if others:
        shown += sorted(set(tallies) - set(shown))
    total = Tally()
    for station in shown:
        total.add(tallies.get(station, Tally()))
    return Table(
        month=str(month),
        stations={s: tallies.get(s, Tally()).figures() for s in shown},
        network=total.figures(),
    )
