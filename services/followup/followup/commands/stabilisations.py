"""A returned person's stabilisation record and its work: opened at the handover,
revisits, the center's risk assessment, the county's help plan, social workers'
services, closing."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from followup import statements
from followup.commands.records import acting_role, ensure_active, load_record
from followup.commands.register import AUTOMATIC, register_at_risk
from followup.domain import (
    CHINA,
    REFER_DIFFICULTY,
    REPEAT_WANDERING,
    RecordStatus,
    RevisitStatus,
    at_risk_reasons,
    check_closing,
    county_of,
    identity_key,
    jurisdiction,
    revisit_schedule,
)
from followup.tables import (
    HelpPlan,
    HelpTask,
    Person,
    Revisit,
    RiskAssessment,
    SocialWorkService,
    StabilisationRecord,
)
from followup.views import StabilisationView, record_view
from rescue_chassis.access import sees_network
from rescue_chassis.commands import Command, UnitOfWork
from rescue_chassis.moments import PastDay
from rescue_chassis.refusals import Conflict, Forbidden, NotFound, Refused
from rescue_events.contracts import (
    HelpTaskOpenedV1,
    PersonHandedOverV1,
    RevisitMode,
    RevisitRecordedV1,
    RiskAssessedV1,
    RiskLevel,
    Situation,
    StabilisationClosedV1,
    StabilisationOpenedV1,
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


class RecordRevisit(Command):
    record_id: uuid.UUID
    sequence: int
    report: RevisitReport


class AssessRisk(Command):
    record_id: uuid.UUID
    assessment: Assessment


class MakeHelpPlan(Command):
    record_id: uuid.UUID
    plan: Plan


class RecordSocialWorkService(Command):
    record_id: uuid.UUID
    service: Service


class CloseStabilisation(Command):
    record_id: uuid.UUID
    closing: Closing


class OpenStabilisation(Command):
    handover: PersonHandedOverV1


async def record_revisit(command: RecordRevisit, uow: UnitOfWork) -> StabilisationView:
    """A difficulty opens a help task (with the partner to refer to); a person found
    gone again enters the at-risk register; a death closes the record."""
    record = await load_record(uow, command.record_id, lock=True)
    ensure_active(record)
    sequence, report = command.sequence, command.report
    revisit = await statements.revisit_of(uow, record.id, sequence)
    if revisit is None:
        raise NotFound("revisit", f"The record has no revisit {sequence}.")
    if revisit.status == RevisitStatus.DONE.value:
        raise Conflict("Already made", f"Revisit {sequence} was made on {revisit.visited_on}.")
    if report.visited_on > uow.now.astimezone(CHINA).date():
        raise Refused("visited_on", "lies in the future")
    if report.visited_on < record.handed_over_at.astimezone(CHINA).date():
        raise Refused("visited_on", "is before the handover")

    revisit.status = RevisitStatus.DONE.value
    revisit.mode = report.mode.value
    revisit.visited_on = report.visited_on
    revisit.visited_by = report.visited_by
    revisit.situation = report.situation.value
    revisit.note = report.note
    revisit.recorded_by = uow.actor.subject
    revisit.recorded_by_role = acting_role(uow.actor)
    await uow.publish(
        RevisitRecordedV1(
            person_id=record.person_id,
            record_id=record.id,
            sequence=sequence,
            mode=report.mode,
            situation=report.situation,
            visited_on=report.visited_on,
            late=report.visited_on > revisit.due_on,
            recorded_by_role=revisit.recorded_by_role,
        )
    )
    if report.situation in REFER_DIFFICULTY:
        await _open_help_task(uow, record, sequence, report)
    elif report.situation is Situation.LEFT_HOME_AGAIN:
        await register_at_risk(uow, record, [REPEAT_WANDERING], uow.actor.subject)
    elif report.situation is Situation.DECEASED:
        await _close(uow, record, "deceased", None)
    return await record_view(uow, record)


async def _open_help_task(
    uow: UnitOfWork, record: StabilisationRecord, sequence: int, report: RevisitReport
) -> None:
    partner = REFER_DIFFICULTY[report.situation]
    task = HelpTask(
        id=uuid.uuid4(),
        record_id=record.id,
        revisit_sequence=sequence,
        difficulty=report.situation.value,
        refer_to=partner.value,
        owner=report.help_owner,
        status="open",
        opened_at=uow.now,
    )
    uow.add(task)
    await uow.publish(
        HelpTaskOpenedV1(
            person_id=record.person_id,
            record_id=record.id,
            task_id=task.id,
            difficulty=report.situation,
            refer_to=partner,
            jurisdiction_code=record.jurisdiction_code,
        )
    )


async def assess_risk(command: AssessRisk, uow: UnitOfWork) -> StabilisationView:
    """The center assesses the risk of wandering again (市站做评估)."""
    record = await load_record(uow, command.record_id, lock=True)
    if not sees_network(uow.actor, uow.network):
        raise Forbidden("Center only", "Risk assessments are made by the center station.")
    ensure_active(record)
    assessment = command.assessment
    uow.add(
        RiskAssessment(
            id=uuid.uuid4(),
            record_id=record.id,
            level=assessment.level.value,
            reasons=assessment.reasons,
            owner=assessment.owner,
            assessed_by=uow.actor.subject,
            assessed_at=uow.now,
        )
    )
    await uow.publish(
        RiskAssessedV1(
            person_id=record.person_id,
            record_id=record.id,
            level=assessment.level,
            reasons=assessment.reasons,
            assessed_by=uow.actor.subject,
            assessed_at=uow.now,
        )
    )
    return await record_view(uow, record)


async def make_help_plan(command: MakeHelpPlan, uow: UnitOfWork) -> StabilisationView:
    """The county's help plan (县级做帮扶), with its owner."""
    record = await load_record(uow, command.record_id, lock=True)
    ensure_active(record)
    uow.add(
        HelpPlan(
            id=uuid.uuid4(),
            record_id=record.id,
            county_code=county_of(record.jurisdiction_code),
            measures=command.plan.measures,
            owner=command.plan.owner,
            created_by=uow.actor.subject,
            created_at=uow.now,
        )
    )
    return await record_view(uow, record)


async def record_social_work_service(
    command: RecordSocialWorkService, uow: UnitOfWork
) -> StabilisationView:
    """A service delivered by a social worker (社工做服务)."""
    record = await load_record(uow, command.record_id, lock=True)
    ensure_active(record)
    service = command.service
    if service.delivered_on > uow.now.astimezone(CHINA).date():
        raise Refused("delivered_on", "lies in the future")
    uow.add(
        SocialWorkService(
            id=uuid.uuid4(),
            record_id=record.id,
            service=service.service,
            owner=service.owner,
            delivered_on=service.delivered_on,
            note=service.note,
            recorded_by=uow.actor.subject,
        )
    )
    return await record_view(uow, record)


async def close_stabilisation(command: CloseStabilisation, uow: UnitOfWork) -> StabilisationView:
    """After a stable year, or on settlement when there is no home to return to."""
    record = await load_record(uow, command.record_id, lock=True)
    ensure_active(record)
    closing = command.closing
    if closing.outcome == "stable_year":
        revisits = await uow.find(Revisit, record_id=record.id, order_by=Revisit.sequence)
        check_closing(
            handed_over_on=record.handed_over_at.astimezone(CHINA).date(),
            today=uow.now.astimezone(CHINA).date(),
            revisit_statuses=[r.status for r in revisits],
            last_situation=revisits[-1].situation if revisits else None,
        )
    await _close(uow, record, closing.outcome, closing.settlement)
    return await record_view(uow, record)


async def _close(
    uow: UnitOfWork, record: StabilisationRecord, outcome: str, settlement: str | None
) -> None:
    record.status = RecordStatus.CLOSED.value
    record.outcome = outcome
    record.settlement = settlement
    record.closed_at = uow.now
    await uow.publish(
        StabilisationClosedV1(
            person_id=record.person_id,
            record_id=record.id,
            outcome=outcome,
            closed_at=uow.now,
            settlement=settlement,
        )
    )


async def open_stabilisation(
    command: OpenStabilisation, uow: UnitOfWork
) -> StabilisationRecord | None:
    """The record and ledger entry at the person's home jurisdiction, once per
    person, with revisits every two months for a year assigned to the home town."""
    event = command.handover
    if await uow.find(StabilisationRecord, person_id=event.person_id):
        return None
    person = await uow.get(Person, event.person_id)
    full_name = event.full_name or (person.full_name if person else None)
    town = jurisdiction(event.home_admin_code)
    record = StabilisationRecord(
        id=uuid.uuid4(),
        person_id=event.person_id,
        return_id=event.return_id,
        station_id=event.station_id,
        escort_station_id=event.escort_station_id,
        full_name=full_name,
        home_province=event.destination_province,
        home_address=event.home_address,
        home_admin_code=event.home_admin_code,
        jurisdiction_code=town,
        identity_key=(
            identity_key(full_name, event.home_admin_code, event.home_address)
            if full_name
            else None
        ),
        received_by=event.received_by,
        handed_over_at=event.handed_over_at,
        opened_at=uow.now,
        status=RecordStatus.ACTIVE.value,
    )
    await open_record(uow, record, person.categories if person else [])
    return record


async def open_record(
    uow: UnitOfWork, record: StabilisationRecord, categories: list[str]
) -> StabilisationRecord:
    """Add the record with its revisits, every two months for a year from the day
    the person came home, assigned to the home town; the categories may put the
    person on the at-risk register."""
    uow.add(record)
    await uow.flush()  # the revisits reference the record
    due_dates = revisit_schedule(record.handed_over_at.astimezone(CHINA).date())
    uow.add(
        *(
            Revisit(
                id=uuid.uuid4(),
                record_id=record.id,
                sequence=i,
                due_on=due,
                assigned_to=record.jurisdiction_code,
                status=RevisitStatus.SCHEDULED.value,
            )
            for i, due in enumerate(due_dates, start=1)
        )
    )
    await uow.publish(
        StabilisationOpenedV1(
            person_id=record.person_id,
            record_id=record.id,
            home_province=record.home_province,
            home_admin_code=record.home_admin_code,
            opened_at=uow.now,
            revisit_due_dates=due_dates,
        )
    )
    reasons = at_risk_reasons(categories)
    if reasons:
        await register_at_risk(uow, record, reasons, AUTOMATIC)
    return record
