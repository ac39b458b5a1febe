"""The summary table's counting rules, on facts made from the events themselves."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date, datetime

import pytest
from openpyxl import load_workbook

from rescue_events.contracts import (
    EscortDepartedV1,
    EscortPlannedV1,
    IdentityConfirmedV1,
    IncidentReportedV1,
    LongStayReachedV1,
    PersonAdmittedV1,
    PersonDischargedV1,
    PersonHandedOverV1,
    ReferralOpenedV2,
    ReferralStatusChangedV1,
    RepeatWanderingFlaggedV1,
    ReturnOpenedV1,
    RevisitOverdueV1,
    RevisitRecordedV1,
    SearchCaseOpenedV1,
    StabilisationOpenedV1,
)
from rescue_events.contracts.intake_arrivals import (
    HelpRefusedV1,
    HospitalPlacementMadeV1,
    LeadClosedV1,
    LeadReceivedV1,
)
from rescue_events.contracts.intake_care import (
    OutsourcedCareEndedV1,
    OutsourcedCareStartedV1,
    OutsourcedCareVisitedV1,
    SettlementStepRecordedV1,
)
from rescue_events.contracts.search_notices import NoticePublishedV1
from rescue_events.contracts.search_police import DnaHitReverifiedV1, PoliceDnaSampleSubmittedV1
from summary import exports
from summary.facts import CHINA, READERS, fact_of
from summary.figures import COUNTS, FIGURES, LABELS, Month, table_of, tabulate
from summary.views import Figures, StationFigures, TableView

NOVEMBER = Month(2026, 11)
STATIONS = ["center", "gushi", "guangshan", "xixian"]


def at(day: int, hour: int = 10, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=CHINA)


def facts_of(*events):
    return [fact_of(str(uuid.uuid4()), event) for event in events]


def ids(n: int) -> list[uuid.UUID]:
    return [uuid.uuid4() for _ in range(n)]


def admitted(person, day, *, route="street_patrol", categories=(), sequence=1, station="gushi",
             when=None):  # fmt: skip
    moment = when or at(day)
    return PersonAdmittedV1(
        person_id=person,
        station_id=station,
        arrived_at=moment,
        admitted_at=moment,
        arrival_route=route,
        identity_status="unknown",
        sex="male",
        categories=list(categories),
        stay_id=uuid.uuid4(),
        stay_sequence=sequence,
    )


def novembers(facts, station="gushi") -> dict:
    tallies = tabulate(NOVEMBER, facts, "center")
    return tallies[station].figures()


def test_every_figure_has_a_label_a_definition_and_each_counted_event_a_reader():
    assert len({f.key for f in FIGURES}) == len(FIGURES)
    assert all(f.label and f.definition for f in FIGURES)
    assert set(LABELS) == {f.key for f in FIGURES}
    assert len(READERS) >= 28


def test_admissions_by_route_and_category_in_chinas_month():
    a, b, c = ids(3)
    facts = facts_of(
        admitted(a, 3, categories=["minor", "disabled"]),
        # 17:00 UTC on 31 October is 01:00 on 1 November in China: November's
        admitted(b, 0, route="own_request", categories=["elderly"], sequence=2,
                 when=datetime.fromisoformat("2026-10-31T17:00:00+00:00")),
        admitted(c, 20, when=at(20, month=10)),
    )  # fmt: skip
    figures = novembers(facts)
    assert figures["admissions"] == 2
    assert figures["readmissions"] == 1
    assert figures["admissions.route.street_patrol"] == 1
    assert figures["admissions.route.own_request"] == 1
    assert figures["admissions.category.minor"] == 1
    assert figures["admissions.category.disabled"] == 1
    assert figures["admissions.category.elderly"] == 1
    assert figures["admissions.category.pregnant"] == 0


def test_the_same_event_twice_counts_once():
    event = admitted(uuid.uuid4(), 3)
    twice = [fact_of("event-1", event), fact_of("event-1", event)]
    assert novembers(twice)["admissions"] == 1


def test_refusals_leads_and_medical_first():
    lead, other_lead, person = ids(3)
    facts = facts_of(
        HelpRefusedV1(person_id=person, refusal_id=uuid.uuid4(), station_id="gushi",
                      found_place="桥下", found_at=at(4)),
        LeadReceivedV1(person_id=lead, lead_id=lead, station_id="gushi", received_at=at(5),
                       place="车站"),
        LeadReceivedV1(person_id=other_lead, lead_id=other_lead, station_id="gushi",
                       received_at=at(6), place="广场"),
        LeadClosedV1(person_id=lead, lead_id=lead, station_id="gushi", closed_at=at(5, 12),
                     outcome="admitted", admitted_person_id=lead),
        LeadClosedV1(person_id=other_lead, lead_id=other_lead, station_id="gushi",
                     closed_at=at(6, 12), outcome="not_found"),
        HospitalPlacementMadeV1(person_id=uuid.uuid4(), placement_id=uuid.uuid4(),
                                station_id="gushi", hospital="县医院",
                                conditions=["intoxication"], placed_at=at(7)),
    )  # fmt: skip
    figures = novembers(facts)
    assert (figures["refusals"], figures["leads"], figures["leads_admitted"]) == (1, 2, 1)
    assert figures["medical_first"] == 1


def test_identification_its_speed_and_notices_within_24_hours():
    a, b = ids(2)
    case_a, case_b = ids(2)
    facts = facts_of(
        admitted(a, 3),
        admitted(b, 5),
        SearchCaseOpenedV1(person_id=a, case_id=case_a, station_id="gushi", opened_at=at(3, 11),
                           notice_due_at=at(4)),
        SearchCaseOpenedV1(person_id=b, case_id=case_b, station_id="gushi", opened_at=at(5, 11),
                           notice_due_at=at(6)),
        NoticePublishedV1(person_id=a, case_id=case_a, notice_id=uuid.uuid4(),
                          station_id="gushi", kind="national", published_at=at(3, 20)),
        # a regional push in time does not make the national notice in time
        NoticePublishedV1(person_id=b, case_id=case_b, notice_id=uuid.uuid4(),
                          station_id="gushi", kind="regional", region="四川省",
                          published_at=at(5, 20)),
        NoticePublishedV1(person_id=b, case_id=case_b, notice_id=uuid.uuid4(),
                          station_id="gushi", kind="national", published_at=at(7)),
        IdentityConfirmedV1(person_id=a, case_id=case_a, station_id="gushi",
                            confirmed_at=at(5), confirmed_by="s", method="police_check",
                            full_name="张三", home_province="四川省", home_address="某县",
                            cross_province=True),
    )  # fmt: skip
    figures = novembers(facts)
    assert figures["search_cases"] == 2
    assert figures["notices_within_24h"] == 1
    assert figures["notices_within_24h_rate"] == 0.5
    assert figures["identified"] == 1
    assert figures["cases_identified"] == 1
    assert figures["identification_rate"] == 0.5
    assert figures["median_hours_to_identify"] == 48.0


def test_dna_sampled_excludes_re_verification_samples():
    case, person, hit = ids(3)
    facts = facts_of(
        PoliceDnaSampleSubmittedV1(person_id=person, sample_id=hit, case_id=case,
                                   station_id="gushi", sample_ref="S1", taken_at=at(3),
                                   taken_by="民警", submitted_at=at(3)),
        PoliceDnaSampleSubmittedV1(person_id=person, sample_id=uuid.uuid4(), case_id=case,
                                   station_id="gushi", sample_ref="S2", taken_at=at(9),
                                   taken_by="民警", submitted_at=at(9),
                                   reverifies_sample_id=hit),
        DnaHitReverifiedV1(person_id=person, case_id=case, station_id="gushi",
                           hit_sample_id=hit, fresh_sample_id=uuid.uuid4(),
                           reverified_at=at(12)),
    )  # fmt: skip
    figures = novembers(facts)
    assert (figures["dna_sampled"], figures["dna_reverified"]) == (1, 1)


def test_returns_at_the_caring_station_escorts_at_the_escorting_one():
    person, return_id, escort = ids(3)
    facts = facts_of(
        ReturnOpenedV1(person_id=person, return_id=return_id, station_id="gushi",
                       escort_station_id="center", cross_province=True,
                       destination_province="四川省", opened_at=at(20, month=10)),
        EscortPlannedV1(person_id=person, escort_id=escort, return_id=return_id,
                        escort_station_id="center", destination_province="四川省",
                        transport_mode="train", planned_departure_at=at(30, month=10),
                        batch_size=1),
        EscortDepartedV1(person_id=person, escort_id=escort, return_id=return_id,
                         departed_at=at(2)),
        PersonHandedOverV1(person_id=person, return_id=return_id, station_id="gushi",
                           escort_station_id="center", handed_over_at=at(3),
                           receiver_kind="family", received_by="王秀英",
                           destination_province="四川省", home_address="某县"),
    )  # fmt: skip
    tallies = tabulate(NOVEMBER, facts, "center")
    gushi, center = tallies["gushi"].figures(), tallies["center"].figures()
    assert (gushi["returns"], gushi["returns_cross_province"], gushi["escorts"]) == (1, 1, 0)
    assert (center["escorts"], center["escorts_for_other_stations"], center["returns"]) == (
        1,
        1,
        0,
    )


def test_referrals_by_partner_and_outcome_at_the_referring_station():
    person, earlier, fresh = ids(3)
    facts = facts_of(
        ReferralOpenedV2(person_id=person, referral_id=earlier, station_id="gushi",
                         partner_type="womens_federation", reason="domestic_violence_victim",
                         agency_id="fed", mandatory=True, consent_required=True,
                         status="sent", opened_at=at(20, month=10)),
        ReferralStatusChangedV1(person_id=person, referral_id=earlier, agency_id="fed",
                                status="completed", previous_status="in_progress",
                                changed_by="fed", changed_at=at(8)),
        ReferralOpenedV2(person_id=person, referral_id=fresh, station_id="gushi",
                         partner_type="minor_protection", reason="minor", agency_id=None,
                         mandatory=True, consent_required=False, status="created",
                         opened_at=at(9)),
        ReferralStatusChangedV1(person_id=person, referral_id=fresh, agency_id="mp",
                                status="declined", previous_status="sent", changed_by="mp",
                                changed_at=at(10)),
    )  # fmt: skip
    figures = novembers(facts)
    assert figures["referrals.womens_federation.opened"] == 0
    assert figures["referrals.womens_federation.completed"] == 1
    assert figures["referrals.minor_protection.opened"] == 1
    assert figures["referrals.minor_protection.declined"] == 1


def test_outsourced_care_its_visits_long_stays_and_settlements():
    person, stay, care, short_care = ids(4)
    facts = facts_of(
        OutsourcedCareStartedV1(person_id=person, care_id=care, stay_id=stay,
                                station_id="gushi", institution="养老院",
                                started_at=at(20, month=10), reason="需要护理"),
        OutsourcedCareVisitedV1(person_id=person, care_id=care, visit_id=uuid.uuid4(),
                                station_id="gushi", visited_at=at(5), health_status="良好"),
        OutsourcedCareVisitedV1(person_id=person, care_id=care, visit_id=uuid.uuid4(),
                                station_id="gushi", visited_at=at(19), health_status="良好"),
        OutsourcedCareStartedV1(person_id=person, care_id=short_care, stay_id=stay,
                                station_id="gushi", institution="医院", started_at=at(6),
                                reason="治疗"),
        OutsourcedCareEndedV1(person_id=person, care_id=short_care, stay_id=stay,
                              station_id="gushi", ended_at=at(9), outcome="back_in_station"),
        LongStayReachedV1(person_id=person, stay_id=stay, station_id="gushi",
                          arrived_at=at(1, month=8), reached_at=at(1)),
        SettlementStepRecordedV1(person_id=person, stay_id=stay, station_id="gushi",
                                 step="registration_applied", number=1,
                                 done_on=date(2026, 11, 3), complete=False),
        SettlementStepRecordedV1(person_id=person, stay_id=stay, station_id="gushi",
                                 step="placed_in_institution", number=5,
                                 done_on=date(2026, 11, 30), complete=True),
    )  # fmt: skip
    figures = novembers(facts)
    assert figures["outsourced_care_started"] == 1
    assert figures["outsourced_care_visits"] == 2
    assert figures["outsourced_care_at_month_end"] == 1
    assert (figures["long_stays"], figures["settlements"]) == (1, 1)


def test_revisit_compliance_and_repeat_wandering():
    returned, inbound, record, inbound_record, return_id = ids(5)
    due = [date(2026, 11, 10), *(date(2027, m, 10) for m in (1, 3, 5, 7, 9))]
    facts = facts_of(
        PersonHandedOverV1(person_id=returned, return_id=return_id, station_id="gushi",
                           escort_station_id="center", handed_over_at=at(10, month=9),
                           receiver_kind="family", received_by="王秀英",
                           destination_province="四川省", home_address="某县"),
        StabilisationOpenedV1(person_id=returned, record_id=record, home_province="四川省",
                              opened_at=at(10, month=9), revisit_due_dates=due),
        # another region's return: no handover of this network, the center's
        StabilisationOpenedV1(person_id=inbound, record_id=inbound_record,
                              home_province="河南省", opened_at=at(10, month=9),
                              revisit_due_dates=due),
        RevisitRecordedV1(person_id=returned, record_id=record, sequence=1, mode="phone",
                          situation="stable", visited_on=date(2026, 11, 8), late=False),
        RevisitOverdueV1(person_id=inbound, record_id=inbound_record, sequence=1,
                         due_on=date(2026, 11, 10), station_id="center",
                         jurisdiction_code=None, level="overdue", escalated_to="center"),
        RevisitOverdueV1(person_id=inbound, record_id=inbound_record, sequence=1,
                         due_on=date(2026, 11, 10), station_id="center",
                         jurisdiction_code=None, level="escalated", escalated_to="center"),
        RepeatWanderingFlaggedV1(person_id=uuid.uuid4(), earlier_person_id=returned,
                                 record_id=record, origin_station_id="gushi",
                                 admitting_station_id="xixian", basis="identity",
                                 flagged_at=at(25)),
    )  # fmt: skip
    table = table_of(NOVEMBER, facts, STATIONS, "center")
    gushi, center = table.stations["gushi"], table.stations["center"]
    assert (gushi["revisits_due"], gushi["revisits_due_on_time"], gushi["revisits_made"]) == (
        1,
        1,
        1,
    )
    assert gushi["revisit_compliance"] == 1.0
    assert (center["revisits_due"], center["revisit_compliance"], center["revisits_overdue"]) == (
        1,
        0.0,
        1,
    )
    assert table.network["revisit_compliance"] == 0.5
    assert gushi["repeat_wandering"] == 1
    assert table.stations["xixian"]["repeat_admitted"] == 1


def test_discharges_and_incidents_by_kind():
    person, stay = ids(2)
    facts = facts_of(
        PersonDischargedV1(person_id=person, stay_id=stay, station_id="gushi",
                           discharged_at=at(4), reason="left"),
        IncidentReportedV1(person_id=person, incident_id=uuid.uuid4(), stay_id=stay,
                           station_id="gushi", kind="missing", occurred_at=at(3),
                           description="走失"),
    )  # fmt: skip
    figures = novembers(facts)
    assert (figures["discharges.left"], figures["incidents.missing"]) == (1, 1)


def test_the_network_adds_stations_up_and_pools_the_hours():
    people = ids(3)
    facts = []
    for person, station, hours in zip(
        people, ("gushi", "gushi", "xixian"), (10, 30, 50), strict=True
    ):
        facts += facts_of(
            admitted(person, 3, station=station),
            IdentityConfirmedV1(person_id=person, station_id=station,
                                confirmed_at=datetime.fromtimestamp(
                                    at(3).timestamp() + hours * 3600, CHINA),
                                confirmed_by="s", method="clues", full_name="李四",
                                home_province="河南省", home_address="某县",
                                cross_province=False),
        )  # fmt: skip
    table = table_of(NOVEMBER, facts, STATIONS, "center")
    assert table.stations["gushi"]["median_hours_to_identify"] == 20.0
    assert table.network["median_hours_to_identify"] == 30.0
    assert table.network["admissions"] == 3
    assert all(table.network[k] == sum(s[k] for s in table.stations.values()) for k in COUNTS)


def test_csv_and_xlsx_read_back_to_the_same_figures():
    facts = facts_of(admitted(uuid.uuid4(), 3), admitted(uuid.uuid4(), 4, station="xixian"))
    built = table_of(NOVEMBER, facts, STATIONS, "center")
    view = TableView(
        month=built.month,
        labels=LABELS,
        definitions={},
        stations=[
            StationFigures(station_id=s, name=s, figures=f) for s, f in built.stations.items()
        ],
        network=Figures(figures=built.network),
    )  # fmt: skip
    lines = list(csv.reader(io.StringIO(exports.csv_bytes(view).decode("utf-8-sig"))))
    sheet = load_workbook(io.BytesIO(exports.xlsx_bytes(view))).active
    cells = [[c.value for c in row] for row in sheet.iter_rows()]
    for rows in (lines, cells):
        assert rows[0][0] == "情况汇总表 2026-11"
        assert rows[1][2:] == [*STATIONS, "全网合计"]
        by_key = {row[1]: row[2:] for row in rows[2:]}
        for figure in FIGURES:
            expected = [
                *(built.stations[s][figure.key] for s in STATIONS),
                built.network[figure.key],
            ]
            read = [None if v in ("", None) else float(v) for v in by_key[figure.key]]
            assert read == [None if v is None else float(v) for v in expected], figure.key


@pytest.mark.parametrize(
    "text", ["2026-13", "2026-1", "26-11", "2026-11-01", "november", "0000-01", "9999-12"]
)
def test_a_month_is_yyyy_mm(text):
    assert Month.parse(text) is None


def test_month_bounds_are_chinas_calendar():
    december = Month.parse("2026-12")
    assert str(december) == "2026-12"
    assert december.start.isoformat() == "2026-12-01T00:00:00+08:00"
    assert december.end.isoformat() == "2027-01-01T00:00:00+08:00"
