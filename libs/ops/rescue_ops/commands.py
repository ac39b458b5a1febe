"""What each command asks the services, and how it judges the answers.

Every command returns a ``Report``: ``ok`` decides the exit code (0 healthy,
1 something needs the on-call engineer), ``data`` is the ``--json`` output and
``text`` the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rescue_ops import stations as station_file
from rescue_ops.http import Answer, Call, ServicesClient
from rescue_ops.render import shorten, table


@dataclass
class Report:
    ok: bool
    data: dict[str, Any]
    text: str


@dataclass
class ServiceResult:
    service: str
    url: str
    problems: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "url": self.url,
            "ok": self.ok,
            **self.details,
            "problems": self.problems,
        }


def _report(command: str, results: list[ServiceResult], text: str) -> Report:
    ok = all(r.ok for r in results)
    bad = [r for r in results if not r.ok]
    lines = [text, ""]
    if ok:
        lines.append(f"OK: {len(results)} of {len(results)} services fine.")
    else:
        lines.append(f"UNHEALTHY: {len(bad)} of {len(results)} services need attention:")
        lines += [f"  {r.service}: {p}" for r in bad for p in r.problems]
    data = {"command": command, "ok": ok, "services": [r.as_dict() for r in results]}
    return Report(ok=ok, data=data, text="\n".join(lines))


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def age_seconds(value: Any, now: datetime | None = None) -> float | None:
    moment = _parse_time(value)
    if moment is None:
        return None
    return max(((now or datetime.now(UTC)) - moment).total_seconds(), 0.0)


def duration(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600:02d}h"


def _base(client: ServicesClient, service: str) -> str:
    return client.urls[service]


# -- health --------------------------------------------------------------------


def health(client: ServicesClient, services: Sequence[str]) -> Report:
    calls = []
    for service in services:
        calls += [Call(service, "GET", "/health/live"), Call(service, "GET", "/health/ready")]
    answers = client.call_all(calls)
    results, rows = [], []
    for index, service in enumerate(services):
        live, ready = answers[2 * index], answers[2 * index + 1]
        result = ServiceResult(service, _base(client, service))
        body = ready.body if isinstance(ready.body, dict) else {}
        if not live.reached:
            result.problems.append(live.failure())
        elif not live.ok:
            result.problems.append(f"not live: {live.failure()}")
        if not ready.reached:
            if live.reached:
                result.problems.append(ready.failure())
        elif ready.status != 200:
            database = body.get("database")
            if database and database != "up":
                result.problems.append(
                    f"not ready: database {database} (writes fail until it is back)"
                )
            else:
                result.problems.append(f"not ready: {ready.failure()}")
        waiting = body.get("outbox") if isinstance(body.get("outbox"), dict) else {}
        unpublished, oldest = waiting.get("unpublished"), waiting.get("oldest_age_seconds")
        backlog = (
            f"{unpublished} waiting"
            + (f", oldest {duration(oldest)}" if unpublished and oldest is not None else "")
            if isinstance(unpublished, int)
            else None
        )
        if body.get("broker") == "away":
            # The relay and the consumer wait for it: one line says it all.
            away = body.get("broker_away_seconds")
            error = shorten(body.get("broker_error"), 80)
            result.problems.append(
                "broker away"
                + (f" for {duration(away)}" if away is not None else "")
                + (f" ({error})" if error else "")
                + ": events wait in the outbox"
                + (f" ({backlog})" if backlog else "")
                + (", none applied" if body.get("consumer_connected") is False else "")
            )
        else:
            if body.get("relay_connected") is False:
                result.problems.append(
                    "outbox relay not connected to the broker: events wait in the outbox"
                    + (f" ({backlog})" if backlog else "")
                )
            if body.get("consumer_connected") is False:
                result.problems.append("consumer not connected to the broker: no events applied")
        result.details = {
            "live": live.ok,
            "ready": ready.status == 200,
            "database": body.get("database"),
            "broker": body.get("broker"),
            "broker_away_seconds": body.get("broker_away_seconds"),
            "broker_cluster_id": body.get("broker_cluster_id"),
            "relay_connected": body.get("relay_connected"),
            "consumer_connected": body.get("consumer_connected"),
            "outbox_unpublished": unpublished,
            "outbox_oldest_age_seconds": oldest,
            "ready_body": ready.body if ready.reached else None,
        }
        results.append(result)

        def link(value: Any) -> str:
            return {True: "connected", False: "AWAY"}.get(value, "-")

        rows.append(
            [
                service,
                result.url,
                "live" if live.ok else ("-" if not live.reached else f"HTTP {live.status}"),
                body.get("status") if ready.reached else "-",
                body.get("database"),
                {"connected": "connected", "away": "AWAY"}.get(body.get("broker"), "-"),
                link(body.get("relay_connected")),
                "none"
                if ready.ok and body.get("consumer_connected") is None
                else link(body.get("consumer_connected")),
                backlog,
                "ok" if result.ok else "FAIL",
            ]
        )
    text = table(
        [
            "SERVICE",
            "URL",
            "LIVE",
            "READY",
            "DATABASE",
            "BROKER",
            "RELAY",
            "CONSUMER",
            "OUTBOX",
            "STATUS",
        ],
        rows,
    )
    return _report("health", results, text)


# -- outbox --------------------------------------------------------------------


def outbox(
    client: ServicesClient,
    services: Sequence[str],
    *,
    max_age: float,
    max_unpublished: int,
    now: datetime | None = None,
) -> Report:
    answers = client.call_all([Call(s, "GET", "/ops/outbox") for s in services])
    results, rows = [], []
    for service, answer in zip(services, answers, strict=True):
        result = ServiceResult(service, _base(client, service))
        body = answer.body if answer.ok and isinstance(answer.body, dict) else None
        if body is None:
            result.problems.append(answer.failure() or "unexpected answer")
            rows.append([service, None, None, None, None, "FAIL"])
            results.append(result)
            continue
        unpublished = body.get("unpublished")
        age = body.get("oldest_age_seconds")  # the service's database clock
        if not isinstance(age, int | float):
            age = age_seconds(body.get("oldest_created_at"), now)
        relay = body.get("relay") if isinstance(body.get("relay"), dict) else {}
        if relay.get("broker") == "away":
            away = relay.get("broker_away_seconds")
            result.problems.append(
                "broker away"
                + (f" for {duration(away)}" if away is not None else "")
                + f": {unpublished} events wait, the relay sends them when it is back"
            )
        elif relay.get("connected") is False:
            result.problems.append(f"relay not connected: {unpublished} events wait")
        if age is not None and age > max_age:
            result.problems.append(
                f"oldest unpublished event waits for {duration(age)} (limit {duration(max_age)}):"
                " the relay is not publishing (broker away, or the relay lock held)"
            )
        if isinstance(unpublished, int) and unpublished > max_unpublished:
            result.problems.append(f"{unpublished} unpublished events (limit {max_unpublished})")
        result.details = {**body, "oldest_age_seconds": age}
        resent = relay.get("republications") or []
        rows.append(
            [
                service,
                unpublished,
                body.get("oldest_created_at"),
                duration(age),
                body.get("max_attempts"),
                body.get("retained"),
                {True: "connected", False: "AWAY"}.get(relay.get("connected"), "-"),
                f"{resent[-1].get('rows')} at {resent[-1].get('at')}" if resent else None,
                "ok" if result.ok else "FAIL",
            ]
        )
        results.append(result)
    text = table(
        [
            "SERVICE",
            "UNPUBLISHED",
            "OLDEST",
            "AGE",
            "MAX_ATTEMPTS",
            "KEPT",
            "RELAY",
            "LAST_RESENT",
            "STATUS",
        ],
        rows,
    )
    return _report("outbox", results, text)


def republish(
    client: ServicesClient,
    services: Sequence[str],
    *,
    since: datetime,
    topics: Sequence[str] | None,
    reason: str,
) -> Report:
    """Mark every kept event published since ``since`` to be sent again."""
    body = {
        "since": since.isoformat(),
        "topics": list(topics) if topics else None,
        "reason": reason,
    }
    answers = client.call_all([Call(s, "POST", "/ops/outbox/republish", body) for s in services])
    results, rows = [], []
    for service, answer in zip(services, answers, strict=True):
        result = ServiceResult(service, _base(client, service))
        results.append(result)
        if not answer.ok or not isinstance(answer.body, dict):
            result.problems.append(answer.failure() or "unexpected answer")
            rows.append([service, None, None, "FAIL"])
            continue
        result.details = answer.body
        counts = answer.body.get("topics") or {}
        rows.append(
            [
                service,
                answer.body.get("rows"),
                ", ".join(f"{t} {n}" for t, n in sorted(counts.items())) or None,
                "ok",
            ]
        )
    text = table(["SERVICE", "EVENTS_TO_SEND_AGAIN", "BY_TOPIC", "STATUS"], rows)
    text += (
        f"\n\nEvents published since {since.isoformat()} go out again in order; consumers "
        "skip those they applied (inbox). Watch them leave: rescue-ops outbox"
    )
    return _report("republish", results, text)


# -- consumer lag --------------------------------------------------------------


def _consumes_nothing(answer: Answer) -> bool:
    problem = answer.problem or {}
    return answer.status == 404 and "consume" in str(problem.get("detail", "")).lower()


def _produced_but_unpublished(
    client: ServicesClient,
) -> tuple[dict[str, int], list[str]]:
    """Events every service's outbox holds for each topic, not yet on the broker
    (waiting, or marked to be sent again after the broker lost them); and the
    services whose outbox could not be read."""
    producers = list(client.urls)
    answers = client.call_all([Call(s, "GET", "/ops/outbox") for s in producers])
    waiting: dict[str, int] = {}
    unread = []
    for service, answer in zip(producers, answers, strict=True):
        topics = answer.body.get("topics") if answer.ok and isinstance(answer.body, dict) else None
        if not isinstance(topics, list):
            unread.append(f"{service}: {answer.failure() or 'no per-topic backlog'}")
            continue
        for t in topics:
            waiting[str(t.get("topic"))] = waiting.get(str(t.get("topic")), 0) + int(
                t.get("unpublished") or 0
            )
    return waiting, unread


def lag(
    client: ServicesClient, services: Sequence[str], *, max_lag: int, per_partition: bool = False
) -> Report:
    """Consumer lag against what was produced: what the group has still to read on
    the broker, plus what the producers' outboxes hold for the topic and have not
    published (broker away, or re-sending what it lost). The table has a row per
    topic (worst partition and totals), or per partition with ``per_partition``;
    the JSON always per partition."""
    answers = client.call_all([Call(s, "GET", "/ops/consumer-lag") for s in services])
    upstream, unread = _produced_but_unpublished(client)
    results, rows = [], []
    width = 7 if per_partition else 8

    def note(service: str, label: str | None, status: str) -> list[Any]:
        return [service, label, *([None] * (width - 3)), status]

    for service, answer in zip(services, answers, strict=True):
        result = ServiceResult(service, _base(client, service))
        results.append(result)
        if _consumes_nothing(answer):
            result.details = {"consumes": False, "partitions": [], "total_lag": 0}
            rows.append(note(service, "(consumes nothing)", "ok"))
            continue
        if not answer.ok or not isinstance(answer.body, list):
            result.problems.append(answer.failure() or "unexpected answer")
            result.details = {"consumes": None, "partitions": None, "total_lag": None}
            rows.append(note(service, None, "FAIL"))
            continue
        partitions = sorted(answer.body, key=lambda p: (p.get("topic", ""), p.get("partition", 0)))
        total = sum(int(p.get("lag") or 0) for p in partitions)
        read = sorted({str(p.get("topic")) for p in partitions})
        waiting = {t: upstream.get(t, 0) for t in read}
        result.details = {
            "consumes": True,
            "partitions": partitions,
            "total_lag": total,
            "unpublished": waiting,
            "behind": total + sum(waiting.values()),
        }
        if unread:
            result.problems.append(
                "what was produced is unknown (outbox unreadable: " + "; ".join(unread) + ")"
            )
        for topic, count in waiting.items():
            if count > max_lag:
                result.problems.append(
                    f"{count} events of {topic} are not on the broker yet (producers' outboxes; "
                    f"limit {max_lag}): see rescue-ops outbox"
                )
        if not partitions:
            rows.append(note(service, "(no partitions yet)", "FAIL"))
            result.problems.append("the topics it reads have no partitions on the broker")
            continue
        topics: dict[str, list[dict[str, Any]]] = {}
        for p in partitions:
            topics.setdefault(str(p.get("topic")), []).append(p)
            behind = int(p.get("lag") or 0)
            if behind > max_lag:
                result.problems.append(
                    f"{p.get('topic')}[{p.get('partition')}] is {behind} events behind "
                    f"(limit {max_lag})"
                )
            if per_partition:
                rows.append(
                    [
                        service,
                        f"{p.get('topic')}[{p.get('partition')}]",
                        p.get("committed"),
                        p.get("end"),
                        behind,
                        {True: "yes", False: "no"}.get(p.get("assigned"), "-"),
                        "ok" if behind <= max_lag else "FAIL",
                    ]
                )
        if not per_partition:
            for topic, group in topics.items():
                lags = [int(p.get("lag") or 0) for p in group]
                unpublished = waiting.get(topic, 0)
                rows.append(
                    [
                        service,
                        topic,
                        len(group),
                        max(lags),
                        sum(lags),
                        unpublished if not unread else "?",
                        sum(lags) + unpublished,
                        "ok" if max(lags) <= max_lag and unpublished <= max_lag else "FAIL",
                    ]
                )
    if per_partition:
        headers = ["SERVICE", "TOPIC[PARTITION]", "COMMITTED", "END", "LAG", "HERE", "STATUS"]
    else:
        headers = [
            "SERVICE",
            "TOPIC",
            "PARTITIONS",
            "WORST_LAG",
            "ON_BROKER",
            "UNPUBLISHED",
            "BEHIND",
            "STATUS",
        ]
    text = table(headers, rows)
    text += (
        "\n\nBEHIND: events produced and not yet read = ON_BROKER (the group's lag) + "
        "UNPUBLISHED (still in the producers' outboxes)."
        if not per_partition
        else "\n\nHERE: assigned to the process that answered."
    )
    return _report("lag", results, text)


# -- periodic jobs ---------------------------------------------------------------


def periodic(
    client: ServicesClient,
    services: Sequence[str],
    *,
    stale_after: float,
    now: datetime | None = None,
) -> Report:
    answers = client.call_all([Call(s, "GET", "/ops/periodic") for s in services])
    results, rows = [], []
    for service, answer in zip(services, answers, strict=True):
        result = ServiceResult(service, _base(client, service))
        results.append(result)
        if not answer.ok or not isinstance(answer.body, list):
            result.problems.append(answer.failure() or "unexpected answer")
            result.details = {"jobs": None}
            rows.append([service, None, None, None, None, None, None, "FAIL"])
            continue
        jobs = answer.body
        result.details = {"jobs": jobs}
        if not jobs:
            rows.append([service, "(no periodic jobs)", None, None, None, None, None, "ok"])
        for job in jobs:
            name = job.get("name")
            job_problems = []
            if job.get("last_error"):
                job_problems.append(
                    f"{name}: last run failed ({job['last_error']}); "
                    f"{job.get('failures')} failures in {job.get('runs')} runs"
                )
            since = age_seconds(job.get("last_run_at"), now)
            if since is not None and since > stale_after:
                job_problems.append(
                    f"{name}: last ran {duration(since)} ago (limit {duration(stale_after)})"
                )
            result.problems += job_problems
            rows.append(
                [
                    service,
                    name,
                    job.get("runs"),
                    job.get("failures"),
                    job.get("last_run_at"),
                    job.get("last_changed"),
                    shorten(job.get("last_error"), 40),
                    "FAIL" if job_problems else "ok",
                ]
            )
    text = table(
        [
            "SERVICE",
            "JOB",
            "RUNS",
            "FAILURES",
            "LAST_RUN_AT",
            "LAST_CHANGED",
            "LAST_ERROR",
            "STATUS",
        ],
        rows,
    )
    return _report("periodic", results, text)


# -- dead letters ----------------------------------------------------------------


def dead_letters(
    client: ServicesClient,
    services: Sequence[str],
    *,
    include_replayed: bool,
    limit: int,
    include_discarded: bool = False,
) -> Report:
    query = (
        f"?include_replayed={'true' if include_replayed else 'false'}"
        f"&include_discarded={'true' if include_discarded else 'false'}&limit={limit}"
    )
    answers = client.call_all([Call(s, "GET", "/ops/dead-letters" + query) for s in services])
    results, rows = [], []
    waiting: dict[str, int] = {}
    for service, answer in zip(services, answers, strict=True):
        result = ServiceResult(service, _base(client, service))
        results.append(result)
        if not answer.ok or not isinstance(answer.body, list):
            result.problems.append(answer.failure() or "unexpected answer")
            result.details = {"dead_letters": None}
            continue
        letters = answer.body
        result.details = {"dead_letters": letters}
        pending = [
            d for d in letters if d.get("replayed_at") is None and d.get("discarded_at") is None
        ]
        if pending:
            waiting[service] = len(pending)
            result.problems.append(
                f"{len(pending)} dead letter(s) waiting: rescue-ops dead-letter {service} ID to "
                f"inspect; fix, then rescue-ops replay {service} ID (or --all); or "
                f"rescue-ops discard {service} ID --reason …"
            )
        for d in letters:
            rows.append(
                [
                    service,
                    d.get("id"),
                    d.get("topic"),
                    d.get("partition"),
                    d.get("offset"),
                    d.get("event_type"),
                    d.get("reason"),
                    d.get("attempts"),
                    d.get("failed_at"),
                    d.get("replayed_at")
                    or (f"discarded {d.get('discarded_at')}" if d.get("discarded_at") else None),
                    shorten(d.get("error"), 60),
                ]
            )
    headers = [
        "SERVICE",
        "ID",
        "TOPIC",
        "PARTITION",
        "OFFSET",
        "EVENT_TYPE",
        "REASON",
        "ATTEMPTS",
        "FAILED_AT",
        "REPLAYED_AT",
        "ERROR",
    ]
    text = table(headers, rows) if rows else "No dead letters."
    report = _report("dead-letters", results, text)
    if waiting:
        report.text += "\n  (full errors and event ids: rescue-ops dead-letters --json)"
    return report


def replay(client: ServicesClient, service: str, dead_letter_id: int) -> Report:
    answer = client.call(Call(service, "POST", f"/ops/dead-letters/{dead_letter_id}/replay"))
    data: dict[str, Any] = {
        "command": "replay",
        "service": service,
        "id": dead_letter_id,
        "ok": answer.ok,
        "status": answer.status,
        "result": answer.body if answer.ok else None,
        "problem": answer.problem,
        "error": None if answer.ok else answer.failure(),
    }
    if answer.ok and isinstance(answer.body, dict):
        outcome = answer.body.get("outcome")
        note = {
            "applied": "applied: its effects are recorded and its events are in the outbox",
            "duplicate": "duplicate: it had been applied or replayed before, nothing changed",
            "ignored": "ignored: the consumer does not handle this event type",
        }.get(outcome, str(outcome))
        text = f"{service}: dead letter {dead_letter_id} replayed, {note}."
    elif answer.status == 409 and "discarded" in answer.failure():
        text = f"{service}: dead letter {dead_letter_id} is not replayed: {answer.failure()}"
    elif answer.status == 409:
        text = (
            f"{service}: dead letter {dead_letter_id} still fails, it stays a dead letter.\n"
            f"  {answer.failure()}\n"
            "  Fix the cause (the producer's event, or the consumer's code), then replay again."
        )
    else:
        text = f"{service}: replay of dead letter {dead_letter_id} failed: {answer.failure()}"
    return Report(ok=answer.ok, data=data, text=text)


def replay_matching(client: ServicesClient, service: str, filters: dict[str, Any]) -> Report:
    """Replay every waiting dead letter of ``service`` that matches ``filters``."""
    body = {k: v for k, v in filters.items() if v is not None}
    answer = client.call(Call(service, "POST", "/ops/dead-letters/replay", body))
    data: dict[str, Any] = {
        "command": "replay",
        "service": service,
        "filters": body,
        "ok": answer.ok and isinstance(answer.body, dict) and answer.body.get("failed") == 0,
        "status": answer.status,
        "result": answer.body if answer.ok else None,
        "error": None if answer.ok else answer.failure(),
    }
    if not answer.ok or not isinstance(answer.body, dict):
        return Report(False, data, f"{service}: bulk replay failed: {answer.failure()}")
    results = answer.body.get("results") or []
    rows = [
        [r.get("id"), r.get("event_type"), r.get("outcome"), shorten(r.get("error"), 70)]
        for r in results
    ]
    listed = table(["ID", "EVENT_TYPE", "OUTCOME", "ERROR"], rows) if rows else "None matched."
    lines = [
        listed,
        "",
        f"{service}: {answer.body.get('matched')} matched, {answer.body.get('replayed')} replayed, "
        f"{answer.body.get('failed')} still fail (they stay dead letters).",
    ]
    return Report(bool(data["ok"]), data, "\n".join(lines))


def show_dead_letter(client: ServicesClient, service: str, dead_letter_id: int) -> Report:
    answer = client.call(Call(service, "GET", f"/ops/dead-letters/{dead_letter_id}"))
    if not answer.ok or not isinstance(answer.body, dict):
        data = {"command": "dead-letter", "service": service, "ok": False}
        data["error"] = answer.failure()
        return Report(False, data, f"{service}: dead letter {dead_letter_id}: {answer.failure()}")
    d = answer.body
    fields = [
        "id",
        "consumer",
        "topic",
        "partition",
        "offset",
        "event_id",
        "event_type",
        "message_key",
        "reason",
        "attempts",
        "failed_at",
        "replayed_at",
        "discarded_at",
        "discarded_by",
        "discard_reason",
    ]
    width = max(len(f) for f in fields)
    lines = [f"{f.upper():<{width}}  {'-' if d.get(f) is None else d.get(f)}" for f in fields]
    lines += ["", "ERROR", f"  {d.get('error')}", "", "HEADERS"]
    lines += [f"  {h.get('name')}: {h.get('value')}" for h in d.get("headers") or []]
    lines += ["", "PAYLOAD", f"  {d.get('payload')}"]
    waiting = d.get("replayed_at") is None and d.get("discarded_at") is None
    if waiting:
        lines += [
            "",
            f"Waiting. After a fix: rescue-ops replay {service} {dead_letter_id}. If it must "
            f"never be applied: rescue-ops discard {service} {dead_letter_id} --reason …",
        ]
    data = {"command": "dead-letter", "service": service, "ok": True, "dead_letter": d}
    return Report(True, data, "\n".join(lines))


def discard_dead_letter(
    client: ServicesClient, service: str, dead_letter_id: int, reason: str
) -> Report:
    answer = client.call(
        Call(service, "POST", f"/ops/dead-letters/{dead_letter_id}/discard", {"reason": reason})
    )
    data = {
        "command": "discard",
        "service": service,
        "id": dead_letter_id,
        "ok": answer.ok,
        "status": answer.status,
        "result": answer.body if answer.ok else None,
        "error": None if answer.ok else answer.failure(),
    }
    if answer.ok and isinstance(answer.body, dict):
        text = (
            f"{service}: dead letter {dead_letter_id} discarded by "
            f"{answer.body.get('discarded_by')} at {answer.body.get('discarded_at')}: "
            f"{answer.body.get('discard_reason')}. It is kept, and never replayed."
        )
    else:
        text = f"{service}: discard of dead letter {dead_letter_id} failed: {answer.failure()}"
    return Report(answer.ok, data, text)


# -- the local network's processes (make run) ----------------------------------------


def local_status(directory: Path) -> Report:
    from rescue_ops import local

    state = local.supervisor_state(directory)
    targets = state.get("targets") or {}
    rows, problems = [], []
    for name, t in targets.items():
        if t.get("state") != "running":
            problems.append(f"{name} is {t.get('state')} (last exit: {t.get('last_exit')})")
        rows.append(
            [
                name,
                t.get("state"),
                t.get("pid"),
                t.get("restarts"),
                t.get("last_exit"),
                t.get("last_exit_at"),
                t.get("url") or t.get("cluster_id"),
            ]
        )
    text = table(["TARGET", "STATE", "PID", "RESTARTS", "LAST_EXIT", "AT", "WHERE"], rows)
    text += f"\n\nsupervisor pid {state.get('pid')}, log {directory / 'logs' / 'supervisor.log'}"
    if problems:
        text += "\nNOT RUNNING: " + "; ".join(problems)
    data = {"command": "local", "ok": not problems, "state": state, "problems": problems}
    return Report(not problems, data, text)


def local_control(directory: Path, action: str, target: str, timeout: float) -> Report:
    from rescue_ops import local

    answer = local.request(directory, action, target, timeout)
    data = {"command": action, "target": target, **answer}
    verb = {"restart": "restarted", "stop": "stopped", "start": "started"}[action]
    if answer.get("ok"):
        text = f"{target} {verb}: {answer.get('message')}"
    else:
        text = f"{action} {target} failed: {answer.get('message')}"
    return Report(bool(answer.get("ok")), data, text)


# -- stations ---------------------------------------------------------------------

STATION_COLUMNS = ("id", "name", "kind", "province", "city", "admin_code")


def stations_list(path: Path) -> Report:
    file = station_file.read(path)
    problems = station_file.check(file.stations)
    rows = [
        [s.get(c) for c in STATION_COLUMNS] if isinstance(s, dict) else [s] for s in file.stations
    ]
    lines = [table([c.upper() for c in STATION_COLUMNS], rows), ""]
    if problems:
        lines.append(f"INVALID: {path} is not a sound network:")
        lines += [f"  {p}" for p in problems]
    else:
        lines.append(f"OK: {len(file.stations)} stations in {path}.")
    data = {
        "command": "stations list",
        "ok": not problems,
        "file": str(path),
        "stations": file.stations,
        "problems": problems,
    }
    return Report(ok=not problems, data=data, text="\n".join(lines))


def stations_add(path: Path, station: dict[str, Any]) -> Report:
    file = station_file.read(path)
    existing = station_file.check(file.stations)
    if existing:
        raise station_file.StationsError([f"{path} is not a sound network already:", *existing])
    new = station_file.add(file, station)
    station_file.write(new)
    added = new.stations[-1]
    step = station_file.next_step(path)
    text = "\n".join(
        [
            f"Added station {added['id']} ({added['name']}) to {path}: "
            f"{len(new.stations)} stations now.",
            "",
            step,
        ]
    )
    data = {
        "command": "stations add",
        "ok": True,
        "file": str(path),
        "added": added,
        "next_step": step,
    }
    return Report(ok=True, data=data, text=text)
