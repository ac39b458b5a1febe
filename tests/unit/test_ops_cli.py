"""The on-call command (rescue_ops) without a network: the stations file, the
token, the tables and JSON, and services that do not answer."""

from __future__ import annotations

import json
import socket
import time
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

import httpx
import jwt
import pytest
from rescue_ops import DEFAULT_URLS, SERVICES
from rescue_ops.cli import main
from rescue_ops.config import bearer_token, mint_dev_token, service_urls
from rescue_ops.render import display_width, table

from rescue_chassis.auth import verify_token
from rescue_chassis.network import StationKind, load_network
from rescue_localnet.broker import free_ports

SECRET = "unit-test-ops-secret-" + "q" * 32
HUANGCHUAN = [
    "--id",
    "huangchuan",
    "--name",
    "潢川县救助管理站",
    "--province",
    "河南省",
    "--city",
    "信阳市",
    "--admin-code",
    "411526",
]


@pytest.fixture(autouse=True)
def no_ops_environment(monkeypatch):
    for name in (
        "TOKEN",
        "DEV_JWT_SECRET",
        "NETWORK_FILE",
        *(f"{s.upper()}_URL" for s in SERVICES),
    ):
        monkeypatch.delenv(f"RESCUE_OPS_{name}", raising=False)


@pytest.fixture
def network_file(tmp_path) -> Path:
    path = tmp_path / "network.yaml"
    path.write_text(
        resources.files("rescue_chassis").joinpath("network.yaml").read_text("utf-8"), "utf-8"
    )
    return path


def run(capsys, *argv: str, transport=None) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv), transport=transport)
    out, err = capsys.readouterr()
    return code, out, err


# -- stations -------------------------------------------------------------------


def test_a_satellite_is_added_and_the_file_still_loads(capsys, network_file):
    before = network_file.read_text("utf-8")

    code, out, _ = run(capsys, "stations", "add", "--file", str(network_file), *HUANGCHUAN)

    assert code == 0
    after = network_file.read_text("utf-8")
    # header comment and every existing line kept, the station appended
    assert after.startswith(before)
    assert after[len(before) :].startswith("  - {id: huangchuan, name: 潢川县救助管理站")
    station = load_network(str(network_file)).station("huangchuan")
    assert station is not None
    assert station.kind is StationKind.SATELLITE
    assert (station.province, station.city, station.admin_code) == ("河南省", "信阳市", "411526")
    assert load_network(str(network_file)).center.id == "center"
    # the next step: the services read the file at start
    assert "INTAKE_NETWORK_FILE" in out and "rollout restart" in out
    assert [p.name for p in network_file.parent.iterdir()] == ["network.yaml"]  # no temp file


def test_stations_list_shows_every_station(capsys, network_file):
    code, out, _ = run(capsys, "stations", "list", "--file", str(network_file))
    assert code == 0
    for station_id in ("center", "gushi", "guangshan", "xixian"):
        assert station_id in out
    code, out, _ = run(capsys, "stations", "list", "--json", "--file", str(network_file))
    data = json.loads(out)
    assert data["ok"] is True
    assert [s["id"] for s in data["stations"]] == ["center", "gushi", "guangshan", "xixian"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (["--id", "gushi"], "already"),
        (["--admin-code", "41152"], "6 digits"),
        (["--admin-code", "4115x6"], "6 digits"),
        (["--id", "Huang Chuan"], "lower-case"),
        (["--id=-huangchuan"], "lower-case"),
        (["--kind", "center"], "center"),
        # checked against the gazetteer (var/gazetteer): issue 22
        (["--admin-code", "419999"], "419999 is not a current or former administrative"),
        (["--admin-code", "410000"], "a station serves a city or county"),
        (["--admin-code", "511324"], "511324 is in 四川省, not in province 河南省"),
    ],
    ids=[
        "duplicate-id",
        "short-admin-code",
        "letter-in-admin-code",
        "bad-id",
        "dash-id",
        "center",
        "admin-code-of-nowhere",
        "admin-code-of-a-province",
        "admin-code-of-another-province",
    ],
)
def test_a_bad_station_is_refused_and_the_file_untouched(capsys, network_file, change, reason):
    before = network_file.read_bytes()
    argv = ["stations", "add", "--file", str(network_file), *HUANGCHUAN, *change]

    code, _, err = run(capsys, *argv)

    assert code == 1
    assert "refused" in err and reason in err
    assert network_file.read_bytes() == before
    code, out, _ = run(capsys, *argv[:2], "--json", *argv[2:])
    assert code == 1
    assert json.loads(out)["ok"] is False


def test_stations_list_flags_a_network_without_one_center(capsys, network_file):
    text = network_file.read_text("utf-8").replace("kind: satellite", "kind: center", 1)
    network_file.write_text(text, "utf-8")
    code, out, _ = run(capsys, "stations", "list", "--file", str(network_file))
    assert code == 1
    assert "exactly one center" in out


# -- the token ------------------------------------------------------------------


def test_the_dev_token_has_the_claims_the_services_verify():
    token = mint_dev_token(SECRET)

    claims = jwt.decode(
        token,
        SECRET,
        algorithms=["HS256"],
        audience="rescue-network",
        issuer="rescue-network-dev",
        options={"require": ["exp", "sub", "aud", "iss"]},
    )
    assert claims["station_id"] == "center"
    assert claims["roles"] == ["ops"]
    assert 0 < claims["exp"] - time.time() <= 600  # short-lived
    principal = verify_token(
        token, secret=SECRET, audience="rescue-network", issuer="rescue-network-dev"
    )
    assert principal.station_id == "center" and "ops" in principal.roles


def test_the_token_comes_from_the_environment_or_the_dev_secret():
    assert bearer_token(environ={}) is None
    assert bearer_token(environ={"RESCUE_OPS_TOKEN": "given"}) == "given"
    minted = bearer_token(environ={"RESCUE_OPS_DEV_JWT_SECRET": SECRET})
    assert jwt.decode(minted, SECRET, algorithms=["HS256"], audience="rescue-network")
    flag = bearer_token(SECRET, environ={"RESCUE_OPS_TOKEN": "given"})
    assert flag != "given"  # --dev-secret asked for explicitly


def test_service_urls_from_options_environment_and_defaults():
    urls = service_urls(
        ["intake=http://intake.rescue:80/"],
        environ={"RESCUE_OPS_SEARCH_URL": "https://search.example.org"},
    )
    assert urls["intake"] == "http://intake.rescue:80"
    assert urls["search"] == "https://search.example.org"
    assert urls["followup"] == DEFAULT_URLS["followup"] == "http://127.0.0.1:8105"


def test_ops_commands_without_a_token_say_how_to_get_one(capsys):
    code, _, err = run(capsys, "outbox")
    assert code == 2
    assert "RESCUE_OPS_TOKEN" in err


def test_a_bad_url_option_is_a_usage_error(capsys):
    code, _, err = run(capsys, "health", "--url", "billing=http://x")
    assert code == 2 and "unknown service" in err


# -- tables and JSON against answering services ------------------------------------

READY = {"status": "ready", "database": "up", "relay_connected": True, "consumer_connected": True}


def fake_services(answers: dict[tuple[str, str], httpx.Response], seen: list | None = None):
    """A transport answering for the default URLs: (service, path) -> response."""
    by_port = {int(url.rsplit(":", 1)[1]): name for name, url in DEFAULT_URLS.items()}

    def handle(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        service = by_port[request.url.port]
        path = request.url.path
        if (service, path) in answers:
            return answers[(service, path)]
        if path == "/health/live":
            return httpx.Response(200, json={"status": "live"})
        if path == "/health/ready":
            return httpx.Response(200, json=READY)
        return httpx.Response(
            404,
            json={"title": "Not found", "status": 404, "detail": "Not Found"},
            headers={"content-type": "application/problem+json"},
        )

    return httpx.MockTransport(handle)


def problem(status: int, title: str, detail: str) -> httpx.Response:
    return httpx.Response(
        status,
        json={"type": "urn:x", "title": title, "status": status, "detail": detail},
        headers={"content-type": "application/problem+json"},
    )


def test_health_table_and_json_when_all_are_ready(capsys):
    code, out, _ = run(capsys, "health", transport=fake_services({}))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == [
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
    ]
    assert sum(1 for line in lines if line.endswith("ok")) == len(SERVICES)
    assert f"OK: {len(SERVICES)} of {len(SERVICES)}" in out

    code, out, _ = run(capsys, "--json", "health", transport=fake_services({}))
    data = json.loads(out)
    assert code == 0 and data["ok"] is True
    assert [s["service"] for s in data["services"]] == list(SERVICES)
    assert all(s["ready"] and s["live"] for s in data["services"])


def test_a_service_without_its_database_is_unhealthy(capsys):
    down = {
        "status": "not ready",
        "database": "down: OperationalError",
        "relay_connected": False,
        "consumer_connected": False,
    }
    transport = fake_services({("search", "/health/ready"): httpx.Response(503, json=down)})

    code, out, _ = run(capsys, "health", transport=transport)

    assert code == 1
    assert "search: not ready: database down: OperationalError" in out
    assert "events wait in the outbox" in out
    assert f"UNHEALTHY: 1 of {len(SERVICES)}" in out


def test_the_token_is_sent_to_the_ops_endpoints(capsys):
    seen: list[httpx.Request] = []
    backlog = {"unpublished": 0, "oldest_created_at": None, "max_attempts": None}
    answers = {(s, "/ops/outbox"): httpx.Response(200, json=backlog) for s in SERVICES}

    code, out, _ = run(
        capsys, "outbox", "--dev-secret", SECRET, transport=fake_services(answers, seen)
    )

    assert code == 0, out
    token = seen[0].headers["authorization"].removeprefix("Bearer ")
    assert jwt.decode(token, SECRET, algorithms=["HS256"], audience="rescue-network")["roles"] == [
        "ops"
    ]


def test_an_old_outbox_backlog_is_unhealthy(capsys, monkeypatch):
    monkeypatch.setenv("RESCUE_OPS_TOKEN", "t")
    old = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    backlog = {"unpublished": 0, "oldest_created_at": None, "max_attempts": None}
    answers = {(s, "/ops/outbox"): httpx.Response(200, json=backlog) for s in SERVICES}
    answers[("intake", "/ops/outbox")] = httpx.Response(
        200, json={"unpublished": 42, "oldest_created_at": old, "max_attempts": 7}
    )

    code, out, _ = run(capsys, "outbox", transport=fake_services(answers))

    assert code == 1
    assert "intake: oldest unpublished event waits for 5m" in out
    assert "broker away" in out


def outbox_answer(waiting: dict[str, int] | None = None, **relay) -> httpx.Response:
    """An /ops/outbox answer: ``waiting`` unpublished events per topic."""
    topics = [
        {"topic": t, "unpublished": n, "oldest_created_at": None, "retained": 0}
        for t, n in (waiting or {}).items()
    ]
    return httpx.Response(
        200,
        json={
            "unpublished": sum((waiting or {}).values()),
            "oldest_created_at": None,
            "oldest_age_seconds": None,
            "max_attempts": None,
            "retained": 0,
            "topics": topics,
            "relay": {"connected": True, "broker": "connected", **relay},
        },
    )


def test_lag_shows_partitions_and_a_service_that_consumes_nothing(capsys, monkeypatch):
    monkeypatch.setenv("RESCUE_OPS_TOKEN", "t")
    partitions = [
        {"topic": "rescue.intake.events", "partition": p, "committed": 10, "end": 12, "lag": 2}
        for p in range(6)
    ]
    answers = {(s, "/ops/consumer-lag"): httpx.Response(200, json=partitions) for s in SERVICES}
    answers |= {(s, "/ops/outbox"): outbox_answer() for s in SERVICES}
    answers[("intake", "/ops/consumer-lag")] = problem(
        404, "Not found", "intake consumes no events."
    )

    code, out, _ = run(capsys, "lag", transport=fake_services(answers))
    assert code == 0, out
    assert "(consumes nothing)" in out
    assert out.count("rescue.intake.events") == len(SERVICES) - 1  # a row per consumer
    code, out, _ = run(capsys, "lag", "--partitions", transport=fake_services(answers))
    assert code == 0 and out.count("rescue.intake.events[") == 6 * (len(SERVICES) - 1)

    code, out, _ = run(capsys, "lag", "--max-lag", "1", "--json", transport=fake_services(answers))
    data = json.loads(out)
    assert code == 1
    search = next(s for s in data["services"] if s["service"] == "search")
    assert search["total_lag"] == 12 and len(search["partitions"]) == 6
    intake = next(s for s in data["services"] if s["service"] == "intake")
    assert intake["consumes"] is False and intake["ok"] is True


def test_lag_counts_what_was_produced_but_is_not_on_the_broker(capsys, monkeypatch):
    # The broker came back empty: the group is not behind on what it holds, but
    # intake's outbox still has 250 events for the topic (being sent again).
    monkeypatch.setenv("RESCUE_OPS_TOKEN", "t")
    partitions = [
        {"topic": "rescue.intake.events", "partition": p, "committed": 0, "end": 0, "lag": 0}
        for p in range(6)
    ]
    answers = {(s, "/ops/consumer-lag"): httpx.Response(200, json=partitions) for s in SERVICES}
    answers |= {(s, "/ops/outbox"): outbox_answer() for s in SERVICES}
    answers[("intake", "/ops/outbox")] = outbox_answer({"rescue.intake.events": 250})

    code, out, _ = run(capsys, "lag", "--service", "search", transport=fake_services(answers))
    assert code == 1
    row = next(line for line in out.splitlines() if line.startswith("search "))
    assert row.split()[-3:] == ["250", "250", "FAIL"]  # UNPUBLISHED, BEHIND, STATUS
    assert "250 events of rescue.intake.events are not on the broker yet" in out

    code, out, _ = run(capsys, "lag", "--json", transport=fake_services(answers))
    search = next(s for s in json.loads(out)["services"] if s["service"] == "search")
    assert search["behind"] == 250 and search["unpublished"] == {"rescue.intake.events": 250}

    # A producer whose outbox cannot be read: what was produced is unknown.
    answers[("intake", "/ops/outbox")] = httpx.Response(503, json={"title": "Service busy"})
    code, out, _ = run(capsys, "lag", "--service", "search", transport=fake_services(answers))
    assert code == 1 and "what was produced is unknown" in out


def test_health_says_the_broker_is_away_and_counts_the_backlog(capsys):
    away = {
        **READY,
        "broker": "away",
        "broker_error": "KafkaConnectionError: Unable to bootstrap",
        "broker_away_seconds": 12.5,
        "relay_connected": False,
        "consumer_connected": False,
        "outbox": {"unpublished": 37, "oldest_age_seconds": 11.0},
    }
    transport = fake_services({("intake", "/health/ready"): httpx.Response(200, json=away)})

    code, out, _ = run(capsys, "health", transport=transport)

    assert code == 1
    row = next(line for line in out.splitlines() if line.startswith("intake "))
    assert "AWAY" in row and "37 waiting, oldest 11s" in row
    assert "intake: broker away for 12s (KafkaConnectionError: Unable to bootstrap)" in out
    assert "events wait in the outbox (37 waiting, oldest 11s), none applied" in out


def test_outbox_says_the_broker_is_away(capsys, monkeypatch):
    monkeypatch.setenv("RESCUE_OPS_TOKEN", "t")
    answers = {(s, "/ops/outbox"): outbox_answer() for s in SERVICES}
    answers[("intake", "/ops/outbox")] = outbox_answer(
        {"rescue.intake.events": 12}, connected=False, broker="away", broker_away_seconds=3
    )
    code, out, _ = run(capsys, "outbox", transport=fake_services(answers))
    assert code == 1
    assert "intake: broker away for 3s: 12 events wait" in out


@pytest.mark.parametrize(
    ("given", "ago"),
    [("90s", 90), ("15m", 900), ("2h", 7200), ("3d", 3 * 86400), ("1.5h", 5400)],
)
def test_since_takes_a_time_ago(given, ago):
    from rescue_ops.cli import moment

    assert abs((datetime.now(UTC) - moment(given)).total_seconds() - ago) < 5


def test_since_takes_an_iso_time_in_utc_unless_it_names_a_zone():
    from rescue_ops.cli import moment

    assert moment("2026-03-01T08:00:00") == datetime(2026, 3, 1, 8, tzinfo=UTC)
    assert moment("2026-03-01T16:00:00+08:00") == datetime(2026, 3, 1, 8, tzinfo=UTC)


def test_republish_asks_each_service_named(capsys, monkeypatch):
    monkeypatch.setenv("RESCUE_OPS_TOKEN", "t")
    seen: list[httpx.Request] = []
    done = {"at": "2026-03-01T08:00:00Z", "reason": "r", "rows": 40, "topics": {"t": 40}}
    answers = {("intake", "/ops/outbox/republish"): httpx.Response(200, json=done)}
    code, out, _ = run(
        capsys,
        "republish",
        "--service",
        "intake",
        "--since",
        "2h",
        "--reason",
        "kafka cluster restored from a backup",
        transport=fake_services(answers, seen),
    )
    assert code == 0, out
    [request] = seen
    body = json.loads(request.content)
    assert body["reason"] == "kafka cluster restored from a backup" and body["topics"] is None
    assert datetime.fromisoformat(body["since"]) < datetime.now(UTC) - timedelta(minutes=119)
    assert "40" in out


def test_dead_letters_are_shown_discarded_and_replayed_in_bulk(capsys, monkeypatch):
    monkeypatch.setenv("RESCUE_OPS_TOKEN", "t")
    seen: list[httpx.Request] = []
    letter = {
        "id": 7,
        "consumer": "search",
        "topic": "rescue.intake.events",
        "partition": 1,
        "offset": 4,
        "event_id": None,
        "event_type": None,
        "reason": "malformed_envelope",
        "error": "missing CloudEvents headers",
        "attempts": 1,
        "failed_at": "2026-03-01T08:00:00Z",
        "replayed_at": None,
        "discarded_at": None,
        "discarded_by": None,
        "discard_reason": None,
        "message_key": "k",
        "headers": [{"name": "ce_type", "value": "person_admitted"}],
        "payload": "{oops",
        "payload_base64": "e29vcHM=",
    }
    discarded = {**letter, "discarded_at": "2026-03-01T09:00:00Z", "discarded_by": "li.wei"}
    discarded["discard_reason"] = "a test producer's garbage"
    bulk = {
        "matched": 2,
        "replayed": 1,
        "failed": 1,
        "results": [
            {"id": 8, "event_type": "person_admitted", "outcome": "applied", "error": None},
            {"id": 9, "event_type": "person_admitted", "outcome": "failed", "error": "boom"},
        ],
    }
    answers = {
        ("search", "/ops/dead-letters/7"): httpx.Response(200, json=letter),
        ("search", "/ops/dead-letters/7/discard"): httpx.Response(200, json=discarded),
        ("search", "/ops/dead-letters/replay"): httpx.Response(200, json=bulk),
    }
    transport = fake_services(answers, seen)

    code, out, _ = run(capsys, "dead-letter", "search", "7", transport=transport)
    assert code == 0 and "{oops" in out and "ce_type: person_admitted" in out
    assert "rescue-ops discard search 7" in out

    code, out, _ = run(
        capsys,
        "discard",
        "search",
        "7",
        "--reason",
        "a test producer's garbage",
        transport=transport,
    )
    assert code == 0 and "discarded by li.wei" in out
    assert json.loads(seen[-1].content) == {"reason": "a test producer's garbage"}

    code, out, _ = run(
        capsys,
        "replay",
        "search",
        "--all",
        "--failure",
        "handler_failed",
        "--type",
        "person_admitted",
        transport=transport,
    )
    assert code == 1  # one still fails
    assert json.loads(seen[-1].content) == {
        "reason": "handler_failed",
        "event_type": "person_admitted",
        "limit": 100,
    }
    assert "2 matched, 1 replayed, 1 still fail" in out

    code, _, err = run(capsys, "replay", "search", transport=transport)
    assert code == 2 and "--all" in err


def test_local_commands_without_a_running_network_say_so(capsys, tmp_path):
    code, _, err = run(capsys, "restart", "search", "--data-dir", str(tmp_path))
    assert code == 2 and "no local network runs on" in err


def test_restart_asks_the_supervisor_and_waits_for_its_answer(capsys, tmp_path):
    """A stand-in supervisor: answers the control request the way
    rescue_localnet.supervisor does."""
    import os
    import threading

    (tmp_path / "control").mkdir()
    state = {"pid": os.getpid(), "targets": {"search": {"state": "running", "pid": 1}}}
    (tmp_path / "supervisor.json").write_text(json.dumps(state))
    requests = []

    def supervisor():
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            for path in (tmp_path / "control").glob("*.json"):
                request = json.loads(path.read_text())
                requests.append(request)
                path.unlink()
                answer = {"id": request["id"], "ok": True, "message": "search is ready"}
                (tmp_path / "control" / f"{request['id']}.done").write_text(json.dumps(answer))
                return
            time.sleep(0.02)

    thread = threading.Thread(target=supervisor)
    thread.start()
    code, out, _ = run(capsys, "restart", "search", "--data-dir", str(tmp_path))
    thread.join()
    assert code == 0 and "search restarted: search is ready" in out
    assert requests[0]["action"] == "restart" and requests[0]["target"] == "search"
    assert list((tmp_path / "control").iterdir()) == []  # the answer was taken


def test_a_replay_that_still_fails_shows_the_problem(capsys, monkeypatch):
    monkeypatch.setenv("RESCUE_OPS_TOKEN", "t")
    detail = "The dead letter still fails (malformed_envelope): bad JSON"
    answers = {("search", "/ops/dead-letters/7/replay"): problem(409, "Replay failed", detail)}

    code, out, _ = run(capsys, "replay", "search", "7", transport=fake_services(answers))

    assert code == 1
    assert "HTTP 409 Replay failed" in out and detail in out


def test_tables_align_chinese_text():
    rows = [["center", "信阳市救助管理站", "center"], ["xixian", "息县救助管理站", None]]
    lines = table(["ID", "NAME", "KIND"], rows).splitlines()

    # the last column starts at the same terminal column on every line
    starts = [display_width(line[: line.rfind(" ") + 1]) for line in lines]
    assert len(set(starts)) == 1
    assert lines[-1].endswith("-")  # None is shown as '-'


# -- services that do not answer ---------------------------------------------------


def test_an_unreachable_service_is_reported_with_a_non_zero_exit(capsys):
    ports = dict(zip(SERVICES, free_ports(len(SERVICES)), strict=True))
    argv = ["health"]
    for name, port in ports.items():
        argv += ["--url", f"{name}=http://127.0.0.1:{port}"]

    code, out, _ = run(capsys, *argv)

    assert code == 1
    assert f"UNHEALTHY: {len(SERVICES)} of {len(SERVICES)}" in out
    assert "intake: unreachable" in out and str(ports["intake"]) in out

    code, out, _ = run(capsys, *argv, "--json")
    data = json.loads(out)
    assert code == 1 and data["ok"] is False
    assert all("unreachable" in s["problems"][0] for s in data["services"])


def test_a_service_that_does_not_answer_times_out(capsys):
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        code, out, _ = run(
            capsys, "health", "--service", "search", "--url", f"search={url}", "--timeout", "0.3"
        )
    assert code == 1
    assert "search: timed out after 0.3s" in out
    assert time.monotonic() - started < 5
