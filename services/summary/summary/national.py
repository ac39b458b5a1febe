"""The adapter to the national rescue information system (全国救助管理信息系统).

Protocol: ``POST <RESCUE_NATIONAL_SYSTEM_URL>`` with the table as JSON
(``submission_id``, ``month``, ``reporting_station``, ``labels``, ``stations``,
``network``) and an ``Idempotency-Key`` header (the submission's id: a retry after
a lost answer files nothing twice). A 2xx is the receipt: the JSON body's ``id``
(or ``receipt_id``) is kept. Anything else is tried again later.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from summary.tables import Submission


@dataclass(frozen=True)
class Answer:
    received: bool
    receipt_id: str | None = None
    error: str | None = None


def payload(submission: Submission, reporting_station: dict) -> dict:
    return {
        "submission_id": str(submission.id),
        "month": submission.month,
        "reporting_station": reporting_station,
        "requested_at": submission.requested_at.isoformat(),
        **{k: v for k, v in submission.table.items() if k != "month"},
    }


async def send(settings, submission: Submission, reporting_station: dict) -> Answer:
    url = settings.national_system_url
    if not url:
        return Answer(False, error="RESCUE_NATIONAL_SYSTEM_URL is not set")
    policy = settings.national_system_policy
    if (refusal := policy.url_refusal(url)) is not None:
        return Answer(False, error=f"RESCUE_NATIONAL_SYSTEM_URL {refusal}"[:300])
    try:
        async with policy.client(timeout=settings.national_system_timeout_seconds) as client:
            answer = await client.post(
                url,
                json=payload(submission, reporting_station),
                headers={"Idempotency-Key": str(submission.id)},
            )
    except httpx.HTTPError as error:
        return Answer(False, error=f"{type(error).__name__}: {error}"[:300])
    if not answer.is_success:
        return Answer(False, error=f"HTTP {answer.status_code}")
    try:
        body = answer.json()
    except ValueError:
        body = {}
    receipt = body.get("id") or body.get("receipt_id") if isinstance(body, dict) else None
    return Answer(True, receipt_id=str(receipt)[:200] if receipt is not None else None)
