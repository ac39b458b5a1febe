"""The month's summary table (情况汇总表): as JSON, xlsx and csv; its submissions to
the national rescue information system."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter
from fastapi.responses import Response

from rescue_chassis.access import LEADS, OPERATORS, SEARCH_WORK
from rescue_chassis.auth import PrincipalDep, Role, require_roles
from rescue_chassis.commands import Run, UnitOfWork
from rescue_chassis.db import SessionDep
from rescue_chassis.refusals import Forbidden
from rescue_chassis.runtime import RuntimeDep
from summary import exports, queries, statements
from summary.commands.submissions import SubmitTable, submit_table, view_of
from summary.views import SubmissionView, TableView

router = APIRouter(prefix="/tables", tags=["summary tables"])

READERS = require_roles(*SEARCH_WORK)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def _table(month: str, principal, session, runtime) -> TableView:
    return await queries.table(UnitOfWork(session, runtime, principal), queries.month_of(month))


def _download(body: bytes, month: str, suffix: str, media: str) -> Response:
    name = f"情况汇总表_{month}.{suffix}"
    return Response(
        body,
        media_type=media,
        headers={
            "Content-Disposition": f"attachment; filename=summary-{month}.{suffix}; "
            f"filename*=UTF-8''{quote(name)}"
        },
    )


# The downloads first: "{month}" alone would also match "2026-12.xlsx".
@router.get("/{month}.xlsx", dependencies=[READERS], response_class=Response)
async def table_xlsx(month: str, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep):
    """The table as a workbook: a row per figure, a column per station, the network last."""
    table = await _table(month, principal, session, runtime)
    return _download(exports.xlsx_bytes(table), table.month, "xlsx", XLSX)


@router.get("/{month}.csv", dependencies=[READERS], response_class=Response)
async def table_csv(month: str, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep):
    """The table as csv (UTF-8 with a byte-order mark): the workbook's rows."""
    table = await _table(month, principal, session, runtime)
    return _download(exports.csv_bytes(table), table.month, "csv", "text/csv; charset=utf-8")


@router.get("/{month}", response_model=TableView, dependencies=[READERS])
async def table(month: str, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep):
    """Every figure of the month (YYYY-MM, China's calendar) per station and for the
    network: a satellite sees its own station, the center the network."""
    return await _table(month, principal, session, runtime)


@router.post(
    "/{month}/submissions",
    status_code=202,
    response_model=SubmissionView,
    dependencies=[require_roles(Role.CENTER_COORDINATOR)],
)
async def submit(month: str, principal: PrincipalDep, run: Run):
    """File the network's table for the month with the national rescue information
    system: queued now, sent and retried until it answers with its receipt."""
    return await run(submit_table, SubmitTable(month=month), location="/tables/{month}/submissions")


@router.get(
    "/{month}/submissions",
    response_model=list[SubmissionView],
    dependencies=[require_roles(*LEADS, *OPERATORS)],
)
async def submissions(
    month: str, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
):
    """The month's submissions, each with its tries and the system's receipt."""
    checked = queries.month_of(month)
    if principal.station_id != runtime.network.center.id and not principal.has_any(*OPERATORS):
        raise Forbidden("Center only", "Submissions are the center station's.")
    return [view_of(row) for row in await statements.submissions_of(session, str(checked))]
