"""What followup's API answers with (API-out models)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from followup.tables import (
    HelpPlan,
    HelpTask,
    Revisit,
    RiskAssessment,
    SocialWorkService,
    StabilisationRecord,
)


class _View(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class RevisitView(_View):
    sequence: int
    due_on: date
    assigned_to: str | None
    status: str
    overdue_at: datetime | None
    escalated_at: datetime | None
    mode: str | None
    visited_on: date | None
    visited_by: str | None
    situation: str | None
    note: str | None
    recorded_by: str | None = None
    recorded_by_role: str | None = None


class HelpTaskView(_View):
    id: uuid.UUID
    record_id: uuid.UUID
    revisit_sequence: int
    difficulty: str
    refer_to: str | None
    owner: str | None
    status: str
    opened_at: datetime
    closed_at: datetime | None
    outcome: str | None


class RiskAssessmentView(_View):
    id: uuid.UUID
    level: str
    reasons: list[str]
    owner: str
    assessed_at: datetime


class HelpPlanView(_View):
    id: uuid.UUID
    county_code: str | None
    measures: list[str]
    owner: str
    created_at: datetime


class SocialWorkServiceView(_View):
    id: uuid.UUID
    service: str
    owner: str
    delivered_on: date
    note: str | None


class StabilisationView(_View):
    id: uuid.UUID
    person_id: uuid.UUID
    source: str = "handover"
    return_id: uuid.UUID | None
    inbound_return_id: uuid.UUID | None = None
    station_id: str
    full_name: str | None
    home_province: str
    home_address: str
    home_admin_code: str | None
    jurisdiction_code: str | None
    received_by: str | None
    handed_over_at: datetime
    opened_at: datetime
    status: str
    closed_at: datetime | None
    outcome: str | None
    settlement: str | None
    revisits: list[RevisitView]
    risk_assessments: list[RiskAssessmentView] = []
    help_plans: list[HelpPlanView] = []
    social_work_services: list[SocialWorkServiceView] = []
    help_tasks: list[HelpTaskView] = []


async def record_view(uow: Any, record: StabilisationRecord) -> StabilisationView:
    """The record with all its work; ``uow`` finds the rows (a unit of work)."""

    async def of(table, order):
        return await uow.find(table, record_id=record.id, order_by=order)

    return StabilisationView.model_validate(
        {
            **record.model_dump(),
            "revisits": await of(Revisit, Revisit.sequence),
            "risk_assessments": await of(RiskAssessment, RiskAssessment.assessed_at),
            "help_plans": await of(HelpPlan, HelpPlan.created_at),
            "social_work_services": await of(SocialWorkService, SocialWorkService.delivered_on),
            "help_tasks": await of(HelpTask, HelpTask.opened_at),
        }
    )


class InboundReturnView(_View):
    """A return notice from another region's station, and the record it opened."""

    id: uuid.UUID
    person_id: uuid.UUID
    record_id: uuid.UUID | None
    station_id: str
    channel: str
    sending_station: str
    sending_region: str
    reference: str
    full_name: str
    sex: str
    birth_year: int | None
    age: int | None
    national_id_number: str | None
    home_province: str
    home_address: str
    home_admin_code: str
    expected_arrival_on: date
    escort: str | None
    categories: list[str]
    notified_by: str
    notified_at: datetime
    received_at: datetime


class AtRiskEntryView(_View):
    id: uuid.UUID
    person_id: uuid.UUID
    record_id: uuid.UUID | None
    station_id: str
    jurisdiction_code: str | None
    reasons: list[str]
    added_by: str
    note: str | None
    registered_at: datetime


class RepeatWanderingView(_View):
    id: uuid.UUID
    record_id: uuid.UUID
    person_id: uuid.UUID
    earlier_person_id: uuid.UUID
    full_name: str | None
    origin_station_id: str
    admitting_station_id: str
    basis: str
    flagged_at: datetime


class OverdueRevisitView(_View):
    record_id: uuid.UUID
    person_id: uuid.UUID
    full_name: str | None
    station_id: str
    sequence: int
    due_on: date
    assigned_to: str | None
    overdue_at: datetime | None
    escalated_at: datetime | None


class FiguresRow(BaseModel):
    jurisdiction_code: str
    returned: int
    repeat_wanderers: int
    repeat_wandering_rate: float | None
    revisits_due: int
    revisits_made: int
    revisits_on_time: int
    revisit_compliance: float | None
