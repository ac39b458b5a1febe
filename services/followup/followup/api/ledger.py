"""The ledger of returned persons and each record's work: revisits, the center's
risk assessment, the county's help plan, social workers' services, closing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select

from followup.api.common import ensure_active, load_record, scoped
from followup.domain import (
    REFER_DIFFICULTY,
    REPEAT_WANDERING,
    ClosingRefused,
    RecordStatus,
    RevisitStatus,
    check_closing,
    county_of,
)
from followup.ledger import CHINA, register_at_risk
from followup.tables import (
    HelpPlan,
    HelpTask,
    Revisit,
    RiskAssessment,
    SocialWorkService,
    StabilisationRecord,
)
from followup.views import StabilisationView
from rescue_chassis.access import STATION_WORK, sees_network
from rescue_chassis.auth import PrincipalDep, require_roles
from rescue_chassis.db import SessionDep
from rescue_chassis.moments import PastDay
from rescue_chassis.problems import Problem, invalid
from rescue_chassis.runtime import RuntimeDep
from rescue_divisions.fields import AdminCodeFilter
from rescue_events.contracts import (
    HelpTaskOpenedV1,
    RevisitMode,
    RevisitRecordedV1,
    RiskAssessedV1,
    RiskLevel,
    Situation,
    StabilisationClosedV1,
)

router = APIRouter(
    prefix="/stabilisations",
    tags=["return stabilisation"],
    dependencies=[require_roles(*STATION_WORK)],
)

Name = Annotated[str, Field(min_length=1, max_length=100)]
Reason = Annotated[str, Field(min_length=1, max_length=200)]


class RevisitReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: RevisitMode
    visited_on: PastDay
    visited_by: Name = Field(examples=["马鞍镇民政办 张敏"])
    situation: Situation
    note: str | None = Field(default=None, max_length=2000)
    help_owner: Name | None = Field(
        default=None, description="Who takes on the help task a difficulty opens."
    )


class Assessment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    level: RiskLevel
    reasons: list[Reason] = Field(min_length=1, max_length=20)
    owner: Name = Field(description="The center's staff member responsible.")


class Plan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    measures: list[Reason] = Field(
        min_length=1, max_length=20, examples=[["纳入低保", "安排公益岗位"]]
    )
    owner: Name = Field(description="The county's staff member responsible.")


class Service(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service: Annotated[str, Field(min_length=1, max_length=100)] = Field(examples=["心理疏导"])
    owner: Name = Field(description="The social worker.")
    delivered_on: PastDay
    note: str | None = Field(default=None, max_length=2000)


class Closing(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Literal["stable_year", "settled"] = Field(
        description="`settled`: no home to return to; the registered-home authority "
        "provides for the person."
    )
    settlement: str | None = Field(
        default=None, min_length=1, max_length=2000, examples=["户籍地民政局安置至县特困供养中心"]
    )

    @model_validator(mode="after")
    def _settlement_says_how(self) -> Closing:
        if self.outcome == "settled" and not self.settlement:
            raise ValueError("settlement: say how and by whom the person is provided for")
        return self


async def record_view(session, record: StabilisationRecord) -> StabilisationView:
    async def of(table, order):
        rows = await session.scalars(
            select(table).where(table.record_id == record.id).order_by(order)
        )
        return rows.all()

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


@router.get("", response_model=list[StabilisationView])
async def list_stabilisations(
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    person_id: uuid.UUID | None = None,
    status: RecordStatus | None = None,
    jurisdiction_code: Annotated[
        str | None, Query(pattern=r"^[0-9]{6}([0-9]{3})?$"), AdminCodeFilter
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
):
    """The ledger of returned persons (返乡受助人员信息台账): the caller's station's,
    the center's for the whole network."""
    query = scoped(
        select(StabilisationRecord).order_by(StabilisationRecord.opened_at.desc()).limit(limit),
        principal,
        runtime,
    )
    if person_id:
        query = query.where(StabilisationRecord.person_id == person_id)
    if status:
        query = query.where(StabilisationRecord.status == status.value)
    if jurisdiction_code:
        query = query.where(StabilisationRecord.jurisdiction_code.startswith(jurisdiction_code))
    return [await record_view(session, r) for r in (await session.scalars(query)).all()]


@router.get("/{record_id}", response_model=StabilisationView)
async def get_stabilisation(
    record_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    return await record_view(session, await load_record(session, runtime, principal, record_id))


@router.post("/{record_id}/revisits/{sequence}", response_model=StabilisationView)
async def record_revisit(
    record_id: uuid.UUID,
    sequence: int,
    report: RevisitReport,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
):
    """A revisit made by visit or phone. A difficulty opens a help task (with the
    partner to refer to); a person found gone again enters the at-risk register;
    a death closes the record."""
    record = await load_record(session, runtime, principal, record_id, for_update=True)
    ensure_active(record)
    revisit = await session.scalar(
        select(Revisit)
        .where(Revisit.record_id == record.id, Revisit.sequence == sequence)
        .with_for_update()
    )
    if revisit is None:
        raise Problem(404, "Not found", f"The record has no revisit {sequence}.")
    if revisit.status == RevisitStatus.DONE.value:
        raise Problem(409, "Already made", f"Revisit {sequence} was made on {revisit.visited_on}.")
    now = datetime.now(UTC)
    if report.visited_on > now.astimezone(CHINA).date():
        raise invalid("visited_on", "lies in the future")
    if report.visited_on < record.handed_over_at.astimezone(CHINA).date():
        raise invalid("visited_on", "is before the handover")

    revisit.status = RevisitStatus.DONE.value
    revisit.mode = report.mode.value
    revisit.visited_on = report.visited_on
    revisit.visited_by = report.visited_by
    revisit.situation = report.situation.value
    revisit.note = report.note
    revisit.recorded_by = principal.subject
    await runtime.outbox.stage(
        session,
        RevisitRecordedV1(
            person_id=record.person_id,
            record_id=record.id,
            sequence=sequence,
            mode=report.mode,
            situation=report.situation,
            visited_on=report.visited_on,
            late=report.visited_on > revisit.due_on,
        ),
    )
    if report.situation in REFER_DIFFICULTY:
        task = HelpTask(
            id=uuid.uuid4(),
            record_id=record.id,
            revisit_sequence=sequence,
            difficulty=report.situation.value,
            refer_to=REFER_DIFFICULTY[report.situation].value,
            owner=report.help_owner,
            status="open",
            opened_at=now,
        )
        session.add(task)
        await runtime.outbox.stage(
            session,
            HelpTaskOpenedV1(
                person_id=record.person_id,
                record_id=record.id,
                task_id=task.id,
                difficulty=report.situation,
                refer_to=REFER_DIFFICULTY[report.situation],
                jurisdiction_code=record.jurisdiction_code,
            ),
        )
    elif report.situation is Situation.LEFT_HOME_AGAIN:
        await register_at_risk(session, runtime, record, [REPEAT_WANDERING], principal.subject, now)
    elif report.situation is Situation.DECEASED:
        await _close(session, runtime, record, "deceased", None, now)
    await session.flush()
    result = await record_view(session, record)
    await session.commit()
    return result


@router.post("/{record_id}/risk-assessments", status_code=201, response_model=StabilisationView)
async def assess_risk(
    record_id: uuid.UUID,
    assessment: Assessment,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
):
    """The center assesses the risk of wandering again (市站做评估)."""
    record = await load_record(session, runtime, principal, record_id, for_update=True)
    if not sees_network(principal, runtime.network):
        raise Problem(403, "Center only", "Risk assessments are made by the center station.")
    ensure_active(record)
    now = datetime.now(UTC)
    session.add(
        RiskAssessment(
            id=uuid.uuid4(),
            record_id=record.id,
            level=assessment.level.value,
            reasons=assessment.reasons,
            owner=assessment.owner,
            assessed_by=principal.subject,
            assessed_at=now,
        )
    )
    await runtime.outbox.stage(
        session,
        RiskAssessedV1(
            person_id=record.person_id,
            record_id=record.id,
            level=assessment.level,
            reasons=assessment.reasons,
            assessed_by=principal.subject,
            assessed_at=now,
        ),
    )
    await session.flush()
    result = await record_view(session, record)
    await session.commit()
    return result


@router.post("/{record_id}/help-plans", status_code=201, response_model=StabilisationView)
async def make_help_plan(
    record_id: uuid.UUID,
    plan: Plan,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
):
    """The county's help plan (县级做帮扶), with its owner."""
    record = await load_record(session, runtime, principal, record_id, for_update=True)
    ensure_active(record)
    session.add(
        HelpPlan(
            id=uuid.uuid4(),
            record_id=record.id,
            county_code=county_of(record.jurisdiction_code),
            measures=plan.measures,
            owner=plan.owner,
            created_by=principal.subject,
            created_at=datetime.now(UTC),
        )
    )
    await session.flush()
    result = await record_view(session, record)
    await session.commit()
    return result


@router.post("/{record_id}/social-work-services", status_code=201, response_model=StabilisationView)
async def record_service(
    record_id: uuid.UUID,
    service: Service,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
):
    """A service delivered by a social worker (社工做服务)."""
    record = await load_record(session, runtime, principal, record_id, for_update=True)
    ensure_active(record)
    if service.delivered_on > datetime.now(CHINA).date():
        raise invalid("delivered_on", "lies in the future")
    session.add(
        SocialWorkService(
            id=uuid.uuid4(),
            record_id=record.id,
            service=service.service,
            owner=service.owner,
            delivered_on=service.delivered_on,
            note=service.note,
            recorded_by=principal.subject,
        )
    )
    await session.flush()
    result = await record_view(session, record)
    await session.commit()
    return result


@router.post("/{record_id}/closure", response_model=StabilisationView)
async def close_stabilisation(
    record_id: uuid.UUID,
    closing: Closing,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
):
    """Close after a stable year, or on settlement when there is no home to return to."""
    record = await load_record(session, runtime, principal, record_id, for_update=True)
    ensure_active(record)
    now = datetime.now(UTC)
    if closing.outcome == "stable_year":
        revisits = (
            await session.scalars(
                select(Revisit).where(Revisit.record_id == record.id).order_by(Revisit.sequence)
            )
        ).all()
        try:
            check_closing(
                handed_over_on=record.handed_over_at.astimezone(CHINA).date(),
                today=now.astimezone(CHINA).date(),
                revisit_statuses=[r.status for r in revisits],
                last_situation=revisits[-1].situation if revisits else None,
            )
        except ClosingRefused as refused:
            raise invalid(refused.field, refused.reason) from None
    await _close(session, runtime, record, closing.outcome, closing.settlement, now)
    result = await record_view(session, record)
    await session.commit()
    return result


async def _close(session, runtime, record, outcome: str, settlement: str | None, now) -> None:
    record.status = RecordStatus.CLOSED.value
    record.outcome = outcome
    record.settlement = settlement
    record.closed_at = now
    await runtime.outbox.stage(
        session,
        StabilisationClosedV1(
            person_id=record.person_id,
            record_id=record.id,
            outcome=outcome,
            closed_at=now,
            settlement=settlement,
        ),
    )
