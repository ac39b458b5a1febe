"""The fault-injection run (issues 11 and 23): admissions keep flowing while
processes are killed, the broker is killed and comes back empty, the database
restarts, records are delivered twice and poison records arrive; then an
invariant checker reads every service's database and every consumer's lag.

Used by the long run (``tests/faults/test_fault_run.py``) and the short one
(``tests/e2e/test_faults_short.py``). Everything here is real: separate service
processes, the real broker, the real embedded Postgres, and the real ``make
run`` supervisor (``SupervisedNetwork``: ``python -m rescue_localnet up`` in a
process of its own), which restarts what dies. Nothing is simulated at the
client side.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml
from aiokafka import AIOKafkaProducer
from rescue_ops import local as local_control
from support import query, read_topic

from rescue_events.contracts import IdentityConfirmedV1, PersonAdmittedV1
from rescue_events.envelope import Envelope
from rescue_events.registry import registry, schema_urn
from rescue_localnet.broker import free_port
from rescue_localnet.network import LocalNetwork
from rescue_localnet.services import SERVICES, ServiceProcess
from rescue_localnet.supervisor import attach, read_state

INTAKE_TOPIC = "rescue.intake.stays"  # person_admitted's topic (issue 30's layout)
SEARCH_TOPIC = "rescue.search.identity"  # identity_confirmed's
# The services whose consumers read rescue.intake.stays (all of them handle person_admitted).
INTAKE_CONSUMERS = ("search", "transfer", "referral", "followup", "summary")
RULES = Path(__file__).parents[2] / "services" / "referral" / "referral" / "rules.yaml"

# A mix, so that several services have something to do: all unidentified
# (search opens a case for each), some with categories referral acts on.
ADMISSION_MIX: list[dict[str, Any]] = [
    {"arrival_route": "own_request", "sex": "male", "dialect": "豫南话"},
    {
        "arrival_route": "own_request",
        "sex": "female",
        "estimated_age": 74,
        "categories": ["elderly", "dementia"],
    },
    {"arrival_route": "own_request", "sex": "male", "estimated_age": 14, "categories": ["minor"]},
    {"arrival_route": "own_request", "sex": "female", "estimated_age": 38},
]


def mandatory_reasons() -> set[str]:
    """Reasons with a mandatory rule: referral opens those on admission by itself."""
    rules = yaml.safe_load(RULES.read_text())["rules"]
    return {r["reason"] for r in rules if r["mandatory"]}


@dataclass
class Fault:
    name: str
    at: float  # seconds since the run started
    took: float = 0.0
    note: str = ""
    skipped: str | None = None
    # Seconds from the end of the fault until every admission made before it had
    # all its effects (the backlog delivered); None if not measured.
    delivered_after: float | None = None
    backlog: int | None = None  # admissions still without all their effects then


class SupervisedNetwork:
    """The network as ``make run`` runs it: ``python -m rescue_localnet up`` in a
    process of its own (free ports), whose supervisor restarts what dies. The
    test reaches it through the supervisor's state file and control requests,
    as on-call does (``rescue-ops restart|stop|start``)."""

    def __init__(self, data_dir: Path, **extra_env: str) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.extra_env = extra_env
        self.process: subprocess.Popen | None = None
        self.net: LocalNetwork | None = None
        self.output = self.data_dir / "supervisor.out"

    def up(self, timeout: float = 300.0) -> LocalNetwork:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.output, "ab") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "rescue_localnet",
                    "--data-dir",
                    str(self.data_dir),
                    "up",
                    "--free-ports",
                ],
                env={**os.environ, **self.extra_env},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"make run's supervisor exited:\n{self.tail()}")
            try:
                state = read_state(self.data_dir)
            except (FileNotFoundError, ValueError):
                state = None
            if state and all(t["state"] == "running" for t in state["targets"].values()):
                self.net = attach(self.data_dir, extra_env=self.extra_env)
                return self.net
            time.sleep(0.2)
        raise TimeoutError(f"the network was not up after {timeout}s:\n{self.tail()}")

    def tail(self, chars: int = 4000) -> str:
        try:
            return self.output.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return ""

    def state(self) -> dict[str, Any]:
        return read_state(self.data_dir)

    def pid(self, target: str) -> int:
        pid = self.state()["targets"][target]["pid"]
        assert pid, f"{target} has no process: {self.state()['targets'][target]}"
        return pid

    def wait_running(self, target: str, *, other_than: int | None = None, timeout=120.0) -> dict:
        """Until the supervisor reports ``target`` running (a service: ready) with a
        process other than ``other_than``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            entry = self.state()["targets"][target]
            if entry["state"] == "running" and entry["pid"] and entry["pid"] != other_than:
                return entry
            time.sleep(0.1)
        raise TimeoutError(f"{target} not running again after {timeout}s:\n{self.tail()}")

    def control(self, action: str, target: str, timeout: float = 120.0) -> dict:
        answer = local_control.request(self.data_dir, action, target, timeout)
        assert answer["ok"], f"{action} {target}: {answer}"
        return answer

    def down(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # as Ctrl-C: the supervisor stops all
            try:
                self.process.wait(90)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


@dataclass
class Admission:
    person_id: str
    idempotency_key: str
    categories: list[str]
    identity_status: str
    tries: int
    at: float


@dataclass
class Poison:
    kind: str  # malformed_envelope | invalid_payload
    partition: int
    offset: int


@dataclass
class Effect:
    service: str
    what: str
    expected: int
    found: int
    missing: int
    duplicated: int
    unexpected: int


@dataclass
class Check:
    effects: list[Effect] = field(default_factory=list)
    outbox: dict[str, int] = field(default_factory=dict)  # rows still to publish
    # per service: poison expected there, poison dead-lettered, other dead letters
    dead_letters: dict[str, tuple[int, int, list[str]]] = field(default_factory=dict)
    replays: list[str] = field(default_factory=list)
    # per consuming service: the group's lag over every partition it reads (an
    # answer that is not a number: the consumer could not say, e.g. not connected)
    lags: dict[str, int | str] = field(default_factory=dict)

    @property
    def problems(self) -> list[str]:
        found = []
        for e in self.effects:
            if e.missing or e.duplicated or e.unexpected:
                found.append(
                    f"{e.service} {e.what}: missing {e.missing}, duplicated {e.duplicated}, "
                    f"unexpected {e.unexpected}"
                )
        found += [f"{s}: {n} outbox rows left" for s, n in self.outbox.items() if n]
        found += [f"{s}: consumer lag {n}" for s, n in self.lags.items() if n != 0]
        for service, (expected, letters, others) in self.dead_letters.items():
            if letters != expected or others:
                found.append(
                    f"{service}: {letters} of {expected} poison records dead-lettered, "
                    f"other dead letters {others}"
                )
        return found


class FaultRun:
    def __init__(self, net: LocalNetwork) -> None:
        self.net = net
        self.t0 = time.monotonic()
        self.faults: list[Fault] = []
        self.admissions: list[Admission] = []
        self.failed_admissions: list[str] = []
        self.poison: list[Poison] = []
        self.duplicates: list[str] = []  # CloudEvent ids delivered a second time
        self.out_of_order: list[str] = []  # persons whose identity came before their admission
        self.replicas: list[ServiceProcess] = []
        self.last_check: Check | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pool: ThreadPoolExecutor | None = None
        self._futures: list = []
        self._broker_paused: int | bool = False  # the pid SIGSTOPped
        self.supervised: SupervisedNetwork | None = None  # faults through make run's supervisor

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def url(self, service: str) -> str:
        return self.net.services[service].url

    def _client(self, station: str, roles: list[str]) -> httpx.Client:
        token = self.net.token(station, roles)
        return httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=10)

    # -- the stream of admissions -------------------------------------------------

    def admit(self, http: httpx.Client, index: int, give_up_after: float = 180.0) -> None:
        """One admission, retried with the same Idempotency-Key until 201, as a
        station app does when the network or a service is away."""
        body = ADMISSION_MIX[index % len(ADMISSION_MIX)]
        key = f"fault-run-{index}-{uuid.uuid4().hex[:8]}"
        deadline = time.monotonic() + give_up_after
        tries = 0
        last = ""
        while time.monotonic() < deadline:
            tries += 1
            try:
                response = http.post(
                    f"{self.url('intake')}/persons", json=body, headers={"Idempotency-Key": key}
                )
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
                time.sleep(0.3)
                continue
            if response.status_code == 201:
                person = response.json()
                with self._lock:
                    self.admissions.append(
                        Admission(
                            person_id=person["id"],
                            idempotency_key=key,
                            categories=list(body.get("categories", [])),
                            identity_status=person.get("identity_status", "unknown"),
                            tries=tries,
                            at=self.elapsed(),
                        )
                    )
                return
            last = f"{response.status_code} {response.text[:200]}"
            if response.status_code < 500 and response.status_code not in (408, 409, 429):
                break  # the request itself is wrong: retrying will not help
            time.sleep(0.3)
        with self._lock:
            self.failed_admissions.append(f"{key}: {last} after {tries} tries")

    def start_stream(
        self, *, count: int | None = None, workers: int = 4, pause: float = 0.0
    ) -> None:
        """Admit ``count`` people (or until stop_stream()) from ``workers`` threads."""
        counter = iter(range(count if count is not None else 10**9))
        counter_lock = threading.Lock()

        def worker() -> None:
            with self._client("gushi", ["station_staff"]) as http:
                while not self._stop.is_set():
                    with counter_lock:
                        index = next(counter, None)
                    if index is None:
                        return
                    self.admit(http, index)
                    if pause:
                        time.sleep(pause)

        self._pool = ThreadPoolExecutor(workers)
        self._futures = [self._pool.submit(worker) for _ in range(workers)]

    def admitted_count(self) -> int:
        with self._lock:
            return len(self.admissions)

    def wait_admitted(self, count: int, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while self.admitted_count() < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {self.admitted_count()} of {count} admitted")
            time.sleep(0.05)

    def wait_poison_dead_lettered(self, timeout: float = 60.0) -> None:
        """Until every reader of the intake topic has dead-lettered the poison sent so
        far: a raw record is in no outbox, so a broker killed before a reader got to
        it (back empty) takes it away for good."""
        positions = {(INTAKE_TOPIC, p.partition, p.offset) for p in self.poison}
        deadline = time.monotonic() + timeout
        while True:
            behind = []
            for service in INTAKE_CONSUMERS:
                letters = query(
                    self.net, service, 'select topic, partition, "offset" from dead_letters'
                )
                if len(positions & {tuple(r) for r in letters}) < len(positions):
                    behind.append(service)
            if not behind:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"poison not dead-lettered yet by {', '.join(behind)}")
            time.sleep(0.2)

    def finish_stream(self, *, stop: bool = False) -> None:
        if stop:
            self._stop.set()
        for future in self._futures:
            future.result()
        if self._pool is not None:
            self._pool.shutdown()

    # -- faults -------------------------------------------------------------------

    def _fault(self, name: str, action: Callable[[], str | None]) -> Fault:
        fault = Fault(name=name, at=self.elapsed())
        started = time.monotonic()
        try:
            fault.note = action() or ""
        finally:
            fault.took = time.monotonic() - started
            self.faults.append(fault)
        return fault

    def skip_fault(self, name: str, reason: str) -> None:
        self.faults.append(Fault(name=name, at=self.elapsed(), skipped=reason))

    def kill_and_restart(self, service: ServiceProcess | str, down_for: float = 1.0) -> Fault:
        process = self.net.services[service] if isinstance(service, str) else service

        def action() -> str:
            pid = process.process.pid if process.process else None
            process.kill()
            time.sleep(down_for)
            process.start()
            process.wait_ready(timeout=60)
            return f"pid {pid} SIGKILLed, down {down_for:.0f}s, restarted and ready"

        return self._fault(f"SIGKILL {process.name}:{process.port}", action)

    def pause_broker(self, seconds: float, *, deliver: bool = False) -> Fault:
        """The broker hangs (SIGSTOP, then SIGCONT): unreachable for every client,
        with its memory intact (its process alive: no supervisor restarts it).
        A broker killed and restarted empty is ``sigkill("broker")``."""
        if self.supervised is not None:
            pid = self.supervised.pid("broker")
        else:
            assert self.net.broker.process is not None
            pid = self.net.broker.process.pid

        def action() -> str:
            os.kill(pid, signal.SIGSTOP)
            self._broker_paused = pid
            try:
                time.sleep(seconds)
            finally:
                os.kill(pid, signal.SIGCONT)
                self._broker_paused = False
            return f"tansu pid {pid} stopped (SIGSTOP) for {seconds:.0f}s, then SIGCONT"

        return self._delivered(self._fault("broker hangs", action), deliver)

    def restart_postgres(self, *, deliver: bool = False) -> Fault:
        if self.supervised is not None:  # as on-call would: rescue-ops restart postgres
            return self.restart_through_supervisor("postgres", deliver=deliver)

        def action() -> str:
            self.net.postgres.restart()
            return "EmbeddedPostgres.restart(): stop and start on the same data"

        return self._delivered(self._fault("Postgres restart", action), deliver)

    # -- faults through make run's supervisor (SupervisedNetwork) ---------------------

    def _supervisor(self) -> SupervisedNetwork:
        assert self.supervised is not None, "FaultRun.supervised is not set"
        return self.supervised

    def sigkill(self, *targets: str, deliver: bool = True) -> Fault:
        """SIGKILL services or the broker process, at once; the supervisor starts
        each again by itself (the broker empty: the services send again what it
        had). Waits until all run again (a service: ready), then, with
        ``deliver``, until every admission so far has its effects."""
        supervised = self._supervisor()

        def action() -> str:
            pids = {target: supervised.pid(target) for target in targets}
            for pid in pids.values():
                os.kill(pid, signal.SIGKILL)
            notes = []
            for target, pid in pids.items():
                entry = supervised.wait_running(target, other_than=pid)
                extra = f", cluster {entry.get('cluster_id')}" if target == "broker" else ""
                notes.append(f"{target} pid {pid} -> {entry['pid']}{extra}")
            return "restarted by the supervisor: " + "; ".join(notes)

        fault = self._fault(f"SIGKILL {' + '.join(targets)}", action)
        return self._delivered(fault, deliver)

    def restart_through_supervisor(self, target: str, *, deliver: bool = True) -> Fault:
        """rescue-ops restart TARGET: a stop and start by the supervisor."""
        supervised = self._supervisor()

        def action() -> str:
            answer = supervised.control("restart", target)
            return f"rescue-ops restart {target}: {answer['message']}"

        return self._delivered(self._fault(f"restart {target} (rescue-ops)", action), deliver)

    def broker_outage(self, seconds: float, during: Callable[[], str] | None = None) -> Fault:
        """The broker stopped (rescue-ops stop broker) for ``seconds``, ``during``
        running meanwhile (it returns a note), then started again, empty."""
        supervised = self._supervisor()

        def action() -> str:
            supervised.control("stop", "broker")
            started = time.monotonic()
            note = during() if during is not None else ""
            time.sleep(max(0.0, seconds - (time.monotonic() - started)))
            supervised.control("start", "broker")
            return f"broker down {time.monotonic() - started:.0f}s, started again empty. {note}"

        return self._delivered(self._fault("broker stopped and started", action), True)

    def _delivered(self, fault: Fault, wait: bool, timeout: float = 180.0) -> Fault:
        if wait:
            fault.delivered_after, fault.backlog = self.wait_delivered(timeout)
        return fault

    def wait_delivered(self, timeout: float = 180.0) -> tuple[float, int]:
        """Seconds until every admission made so far has all its effects, and how
        many lacked some when the wait began (the backlog)."""
        with self._lock:
            people = list(self.admissions)
        started = time.monotonic()
        backlog = None
        while True:
            missing = self._missing_people(people)
            if backlog is None:
                backlog = missing
            if missing == 0:
                return time.monotonic() - started, backlog
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"{missing} of {len(people)} admissions still lack effects")
            time.sleep(0.25)

    def _missing_people(self, admissions: list[Admission]) -> int:
        """Admissions lacking an effect: a search case (unidentified), a traveller
        at transfer, a person at followup."""
        people = [a.person_id for a in admissions]
        lacking: set[str] = set()
        for service, table, wanted in (
            (
                "search",
                "search_cases",
                {a.person_id for a in admissions if a.identity_status == "unknown"},
            ),
            ("transfer", "travellers", set(people)),
            ("followup", "persons", set(people)),
        ):
            found = {
                r[0]
                for r in query(
                    self.net,
                    service,
                    f"select person_id::text from {table} where person_id = any($1::uuid[])",
                    people,
                )
            }
            lacking |= wanted - found
        return len(lacking)

    def consumer_lags(self) -> dict[str, int | str]:
        """Each consuming service's total lag over the partitions it reads."""
        lags: dict[str, int | str] = {}
        with self._client("center", ["ops"]) as ops:
            for service in SERVICES:
                try:
                    answer = ops.get(f"{self.url(service)}/ops/consumer-lag")
                except httpx.HTTPError as exc:
                    lags[service] = f"{type(exc).__name__}"
                    continue
                if answer.status_code == 404:
                    continue  # consumes nothing
                if answer.status_code != 200:
                    lags[service] = f"HTTP {answer.status_code}"
                    continue
                lags[service] = sum(p["lag"] for p in answer.json())
        return lags

    def start_replica(self, name: str) -> ServiceProcess:
        """A second process of a service: same database, same consumer group."""
        replica = ServiceProcess(
            name=name,
            port=free_port(),
            env=self.net.env_for(name),
            log_file=self.net.data_dir / "logs" / f"{name}-replica.log",
        )

        def action() -> str:
            replica.start()
            replica.wait_ready(timeout=60)
            self.replicas.append(replica)
            return f"second {name} process on port {replica.port}, consumer group {name}"

        self._fault(f"replica of {name} started", action)
        return replica

    def cleanup(self) -> None:
        if self._broker_paused:
            try:
                os.kill(self._broker_paused, signal.SIGCONT)
            except ProcessLookupError:
                pass
        self._stop.set()
        for replica in self.replicas:
            replica.stop()

    # -- records on the broker ---------------------------------------------------

    async def _produce(
        self, records: list[tuple[bytes | None, bytes, list]], topic: str = INTAKE_TOPIC
    ) -> list:
        producer = AIOKafkaProducer(bootstrap_servers=self.net.broker.bootstrap_servers, acks="all")
        await producer.start()
        try:
            return [
                await producer.send_and_wait(topic, value=v, key=k, headers=h)
                for k, v, h in records
            ]
        finally:
            await producer.stop()

    def duplicate_admissions(self, count: int) -> Fault:
        """Deliver already published person_admitted records again, byte for byte
        (same CloudEvent id), as a producer retry or a replayed partition would."""

        def action() -> str:
            def admitted(records):
                return [r for r in records if dict(r.headers).get("ce_type") == b"person_admitted"]

            found = admitted(
                asyncio.run(
                    read_topic(
                        self.net.broker.bootstrap_servers,
                        INTAKE_TOPIC,
                        until=lambda rs: len(admitted(rs)) >= count,
                        timeout=60,
                    )
                )
            )
            # Oldest first: these arrive long after later events of other people.
            chosen = found[:count]
            asyncio.run(self._produce([(r.key, r.value, list(r.headers)) for r in chosen]))
            ids = [dict(r.headers)["ce_id"].decode() for r in chosen]
            self.duplicates += ids
            return f"{len(ids)} person_admitted records re-published (same ce_id)"

        return self._fault(f"duplicate deliveries x{count}", action)

    def deliver_out_of_order(self, count: int, gap: float = 2.0) -> Fault:
        """Persons whose ``identity_confirmed`` (search's topic) reaches the consumers
        before their ``person_admitted`` (intake's topic): two topics have no order
        between them, and a consumer that lagged on one sees exactly this. Each person
        must still get every effect once: transfer opens one return from the identity
        and learns the traveller from the admission; the others act on the admission."""

        def record(event, station: str) -> tuple[bytes, bytes, list]:
            kind = registry.for_model(type(event))
            envelope = Envelope(
                type=kind.name,
                source=f"/stations/{station}",
                subject=str(event.person_id),
                dataschema=schema_urn(kind.name, kind.version),
                station_id=station,
            )
            headers = [(k, v.encode()) for k, v in envelope.to_headers()]
            return str(event.person_id).encode(), event.model_dump_json().encode(), headers

        def action() -> str:
            now = datetime.now(UTC)
            people = [uuid.uuid4() for _ in range(count)]
            identities = [
                record(
                    IdentityConfirmedV1(
                        person_id=p,
                        station_id="gushi",
                        confirmed_at=now,
                        confirmed_by="fault-run",
                        method="police_check",
                        full_name=f"乱序{n}",
                        home_province="四川省",
                        home_address="四川省南充市仪陇县新政镇",
                        cross_province=True,
                        evidence_kinds=["police_check"],
                    ),
                    "gushi",
                )
                for n, p in enumerate(people)
            ]
            asyncio.run(self._produce(identities, SEARCH_TOPIC))
            time.sleep(gap)  # the identities are applied first, without an admission
            admissions = []
            for n, p in enumerate(people):
                body = ADMISSION_MIX[n % len(ADMISSION_MIX)]
                admissions.append(
                    record(
                        PersonAdmittedV1(
                            person_id=p,
                            station_id="gushi",
                            arrived_at=now,
                            admitted_at=now,
                            arrival_route=body["arrival_route"],
                            identity_status="unknown",
                            sex=body["sex"],
                            estimated_age=body.get("estimated_age"),
                            categories=body.get("categories", []),
                        ),
                        "gushi",
                    )
                )
                with self._lock:
                    self.admissions.append(
                        Admission(
                            person_id=str(p),
                            idempotency_key=f"out-of-order-{n}",
                            categories=list(body.get("categories", [])),
                            identity_status="unknown",
                            tries=1,
                            at=self.elapsed(),
                        )
                    )
            asyncio.run(self._produce(admissions))
            self.out_of_order += [str(p) for p in people]
            return f"{count} identity_confirmed delivered {gap:.0f} s before their person_admitted"

        return self._fault(f"out-of-order deliveries x{count}", action)

    def send_poison(self, malformed: int = 1, invalid: int = 1) -> Fault:
        """Records no consumer can apply: bad JSON without CloudEvents headers
        (malformed_envelope), and a well-formed person_admitted envelope whose
        payload breaks the contract (invalid_payload)."""

        def action() -> str:
            records = []
            kinds = []
            for n in range(malformed):
                records.append(
                    (f"poison-{n}".encode(), b"{oops", [("ce_type", b"person_admitted")])
                )
                kinds.append("malformed_envelope")
            for _ in range(invalid):
                person = str(uuid.uuid4())
                envelope = Envelope(
                    type="person_admitted",
                    source="/stations/gushi",
                    subject=person,
                    dataschema=schema_urn("person_admitted", 1),
                    station_id="gushi",
                )
                payload = json.dumps({"person_id": person, "sex": "unknown-sex"}).encode()
                headers = [(k, v.encode()) for k, v in envelope.to_headers()]
                records.append((person.encode(), payload, headers))
                kinds.append("invalid_payload")
            sent = asyncio.run(self._produce(records))
            for kind, meta in zip(kinds, sent, strict=True):
                self.poison.append(Poison(kind, meta.partition, meta.offset))
            placed = zip(kinds, sent, strict=True)
            return ", ".join(f"{k}@{m.partition}/{m.offset}" for k, m in placed)

        return self._fault(f"poison x{malformed + invalid}", action)

    # -- the invariant checker -----------------------------------------------------

    def check(self) -> Check:
        with self._lock:
            admissions = list(self.admissions)
        people = [a.person_id for a in admissions]
        mandatory = mandatory_reasons()
        result = Check()

        def per_person(service: str, table: str, what: str, expected: set[str]) -> None:
            rows = query(
                self.net,
                service,
                f"select person_id::text, count(*) from {table} "
                "where person_id = any($1::uuid[]) group by person_id",
                people,
            )
            self._effect(result, service, what, Counter(expected), Counter(dict(rows)))

        unidentified = {a.person_id for a in admissions if a.identity_status == "unknown"}
        if self.out_of_order:
            per_person(
                "transfer", "returns", "return per out-of-order identity", set(self.out_of_order)
            )
        per_person("search", "search_cases", "search case per unidentified admission", unidentified)
        per_person("transfer", "travellers", "traveller per admission", set(people))
        per_person("followup", "persons", "person projection per admission", set(people))
        expected_referrals = Counter(
            f"{a.person_id}/{c}" for a in admissions for c in a.categories if c in mandatory
        )
        rows = query(
            self.net,
            "referral",
            "select person_id::text || '/' || reason, count(*) from referrals "
            "where person_id = any($1::uuid[]) group by person_id, reason",
            people,
        )
        self._effect(
            result,
            "referral",
            "referral per mandatory-rule category",
            expected_referrals,
            Counter(dict(rows)),
        )

        for service in SERVICES:
            result.outbox[service] = query(
                self.net, service, "select count(*) from outbox where published_at is null"
            )[0][0]
        positions = {(INTAKE_TOPIC, p.partition, p.offset) for p in self.poison}
        for service in SERVICES:
            letters = query(
                self.net,
                service,
                'select topic, partition, "offset", reason from dead_letters',
            )
            poison = [r for r in letters if (r[0], r[1], r[2]) in positions]
            others = [
                f"{r[0]}/{r[1]}/{r[2]} {r[3]}"
                for r in letters
                if (r[0], r[1], r[2]) not in positions
            ]
            expected = len(self.poison) if service in INTAKE_CONSUMERS else 0
            result.dead_letters[service] = (expected, len(poison), others)
        self.last_check = result
        return result

    @staticmethod
    def _effect(result: Check, service, what, expected: Counter, found: Counter) -> None:
        result.effects.append(
            Effect(
                service=service,
                what=what,
                expected=sum(expected.values()),
                found=sum(found.values()),
                missing=sum(1 for k in expected if found.get(k, 0) == 0),
                duplicated=sum(n - 1 for k, n in found.items() if k in expected and n > 1),
                unexpected=sum(n for k, n in found.items() if k not in expected),
            )
        )

    def settle(self, timeout: float = 120.0, quiet: float = 3.0) -> Check:
        """Check until nothing is missing, every outbox is empty and no consumer
        lags, then once more after ``quiet`` seconds (late duplicates would show
        there). A consumer that stalled never gets its lag to zero."""
        deadline = time.monotonic() + timeout
        while True:
            check = self.check()
            done = (
                all(e.missing == 0 for e in check.effects)
                and not any(check.outbox.values())
                and all(found >= exp for exp, found, _ in check.dead_letters.values())
            )
            if done:
                check.lags = self.consumer_lags()
                done = all(n == 0 for n in check.lags.values())
            if done or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        time.sleep(quiet)
        check = self.check()
        check.lags = self.consumer_lags()
        return check

    def replay_poison(self) -> list[str]:
        """Replay each consumer's first dead-lettered poison record: a record that
        cannot be read stays unreadable, so ops gets 409 and nothing changes."""
        outcomes = []
        positions = {(p.partition, p.offset) for p in self.poison}
        with self._client("center", ["ops"]) as ops:
            for service in INTAKE_CONSUMERS:
                url = self.url(service)
                letters = [
                    d
                    for d in ops.get(f"{url}/ops/dead-letters").json()
                    if d["topic"] == INTAKE_TOPIC and (d["partition"], d["offset"]) in positions
                ]
                if not letters:
                    outcomes.append(f"{service}: no poison dead letter to replay")
                    continue
                before = ops.get(f"{url}/ops/dead-letters").json()
                answer = ops.post(f"{url}/ops/dead-letters/{letters[0]['id']}/replay")
                after = ops.get(f"{url}/ops/dead-letters").json()
                unchanged = before == after
                outcomes.append(
                    f"{service}: replay of {letters[0]['reason']} -> {answer.status_code}, "
                    f"dead letters unchanged: {unchanged}"
                )
        if self.last_check is not None:
            self.last_check.replays = outcomes
        return outcomes

    # -- the report -----------------------------------------------------------------

    def report(self) -> str:
        lines = ["", "=" * 30 + " fault-injection run " + "=" * 30]
        with self._lock:
            admissions = list(self.admissions)
        retried = sum(1 for a in admissions if a.tries > 1)
        lines.append(
            f"events admitted: {len(admissions)} ({retried} needed retries with their "
            f"Idempotency-Key; {len(self.failed_admissions)} gave up) in {self.elapsed():.1f}s"
        )
        for failure in self.failed_admissions[:5]:
            lines.append(f"  gave up: {failure}")
        lines.append(f"duplicate deliveries sent: {len(self.duplicates)}")
        lines.append(f"out-of-order persons (identity before admission): {len(self.out_of_order)}")
        kinds = Counter(p.kind for p in self.poison)
        lines.append(f"poison records sent: {len(self.poison)} {dict(kinds)}")
        lines.append("")
        lines.append("faults (delivered: seconds after the fault until every admission made")
        lines.append("before it had all its effects; backlog: those lacking some then):")
        lines.append(
            f"  {'at (s)':>7}  {'took (s)':>8}  {'delivered (s)':>13}  {'backlog':>7}  fault"
        )
        for f in self.faults:
            detail = f"SKIPPED: {f.skipped}" if f.skipped else f.note
            delivered = "-" if f.delivered_after is None else f"{f.delivered_after:.1f}"
            backlog = "-" if f.backlog is None else str(f.backlog)
            lines.append(
                f"  {f.at:7.1f}  {f.took:8.1f}  {delivered:>13}  {backlog:>7}  {f.name}: {detail}"
            )
        check = self.last_check
        if check is None:
            lines.append("(no invariant check ran)")
            return "\n".join(lines)
        lines.append("")
        header = (
            f"  {'service':<9} {'effect':<40} {'expected':>8} {'found':>6} "
            f"{'missing':>7} {'dup':>4} {'unexp':>5}"
        )
        lines.append("effects:")
        lines.append(header)
        for e in check.effects:
            lines.append(
                f"  {e.service:<9} {e.what:<40} {e.expected:>8} {e.found:>6} "
                f"{e.missing:>7} {e.duplicated:>4} {e.unexpected:>5}"
            )
        lines.append("")
        lines.append(
            "outbox rows left to publish: " + ", ".join(f"{s} {n}" for s, n in check.outbox.items())
        )
        if check.lags:
            lines.append(
                "consumer lag at the end: " + ", ".join(f"{s} {n}" for s, n in check.lags.items())
            )
        lines.append("dead letters (poison expected / poison dead-lettered / other):")
        for service, (expected, found, others) in check.dead_letters.items():
            lines.append(f"  {service:<9} {expected:>3} / {found:>3} / {len(others)} {others[:3]}")
        if check.replays:
            lines.append("replays:")
            lines += [f"  {r}" for r in check.replays]
        problems = check.problems
        lines.append("")
        lines.append("RESULT: " + ("PASS" if not problems else "FAIL: " + "; ".join(problems)))
        lines.append("=" * 81)
        return "\n".join(lines)
