"""make run's supervisor (rescue_localnet.supervisor) with stand-in processes: a
part that dies is started again alone, with a backoff that doubles; a service
whose settings are wrong is not; on-call's requests are answered. The real
thing, with the real services and broker: tests/e2e/test_faults_short.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rescue_localnet.services import SERVICES
from rescue_localnet.supervisor import Supervisor, read_state


class FakeProcess:
    """A stand-in for a service, broker or Postgres: a sleeping child process."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.url = f"http://127.0.0.1:1/{name}"
        self.process: subprocess.Popen | None = None
        self.starts = 0
        self.exit_code: int | None = None  # what the next start exits with at once

    def start(self) -> None:
        code = self.exit_code
        program = (
            f"import sys; sys.exit({code})" if code is not None else "import time; time.sleep(60)"
        )
        self.process = subprocess.Popen([sys.executable, "-c", program])
        self.starts += 1

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None

    kill = stop

    # the broker's and Postgres' side
    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    start_server = start
    stop_server = stop
    cluster_id = "fake-cluster"
    bootstrap_servers = "127.0.0.1:1"
    socket_dir = "/nowhere"


class FakeNetwork:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.services = {name: FakeProcess(name) for name in SERVICES}
        self.broker = FakeProcess("broker")
        self.postgres = FakeProcess("postgres")
        self.ports = {name: 1 for name in SERVICES}

    def start_infrastructure(self) -> None:
        self.postgres.start()
        self.broker.start()

    def prepare_services(self) -> None:
        pass

    def migrate(self) -> None:
        pass

    def down(self) -> None:
        for part in (*self.services.values(), self.broker, self.postgres):
            part.stop()


@pytest.fixture
def supervisor(tmp_path, monkeypatch):
    lines: list[str] = []
    net = FakeNetwork(tmp_path)
    sup = Supervisor(net, out=lines.append, min_backoff=0.2, max_backoff=0.8, stable_after=60)
    monkeypatch.setattr(sup, "_live", lambda url: True)
    sup.lines = lines
    sup.start()
    yield sup
    sup.shutdown()


def tick_until(sup: Supervisor, condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "\n".join(sup.lines)
        sup.tick()
        time.sleep(0.02)


def kill(part: FakeProcess) -> int:
    pid = part.process.pid
    os.kill(pid, signal.SIGKILL)
    part.process.wait()
    return pid


def test_a_killed_service_is_restarted_alone_after_a_backoff_and_logged(supervisor):
    net = supervisor.net
    others = {name: net.services[name].process.pid for name in SERVICES if name != "search"}
    killed = kill(net.services["search"])

    supervisor.tick()
    search = supervisor.targets["search"]
    assert search.state == "backoff" and search.last_exit == "killed by SIGKILL"
    started = time.monotonic()
    tick_until(supervisor, lambda: search.state == "running")
    assert time.monotonic() - started >= 0.15  # the backoff
    assert net.services["search"].process.pid != killed and search.restarts == 1
    # the rest kept running, untouched
    assert {n: net.services[n].process.pid for n in others} == others
    assert all(supervisor.targets[n].restarts == 0 for n in others)
    assert any("search exited (killed by SIGKILL)" in line for line in supervisor.lines)
    assert any("search up" in line for line in supervisor.lines)
    log = [json.loads(line) for line in (net.data_dir / "logs" / "supervisor.log").open()]
    assert any(r["message"].startswith("search exited") for r in log)
    state = read_state(net.data_dir)
    assert state["targets"]["search"]["restarts"] == 1
    assert state["targets"]["search"]["pid"] == net.services["search"].process.pid


def test_exits_in_a_row_double_the_backoff_up_to_its_limit(supervisor):
    transfer = supervisor.targets["transfer"]
    delays = []
    for _ in range(4):
        kill(supervisor.net.services["transfer"])
        supervisor.tick()
        delays.append(round(transfer.retry_at - time.monotonic(), 1))
        tick_until(supervisor, lambda: transfer.state == "running")
    assert delays == [0.2, 0.4, 0.8, 0.8]


def test_the_broker_and_postgres_are_restarted_too(supervisor):
    for name in ("broker", "postgres"):
        part = getattr(supervisor.net, name)
        killed = kill(part)
        supervisor.tick()
        assert supervisor.targets[name].state == "backoff"
        tick_until(supervisor, lambda n=name: supervisor.targets[n].state == "running")
        assert part.process.pid != killed and supervisor.targets[name].restarts == 1


def test_a_service_whose_settings_are_wrong_is_not_restarted(supervisor):
    referral = supervisor.net.services["referral"]
    referral.exit_code = 2
    kill(referral)
    tick_until(supervisor, lambda: supervisor.targets["referral"].state == "starting")
    tick_until(supervisor, lambda: supervisor.targets["referral"].state == "failed")
    starts = referral.starts
    for _ in range(20):
        supervisor.tick()
    assert referral.starts == starts
    assert any("settings are wrong" in line for line in supervisor.lines)


def request(supervisor: Supervisor, action: str, target: str) -> dict:
    request_id = f"r{time.monotonic_ns()}"
    path = supervisor.control_dir / f"{request_id}.json"
    path.write_text(json.dumps({"id": request_id, "action": action, "target": target}))
    answer = supervisor.control_dir / f"{request_id}.done"
    tick_until(supervisor, answer.exists)
    return json.loads(answer.read_text())


def test_on_call_restarts_stops_and_starts_one_part(supervisor):
    net = supervisor.net
    before = net.services["followup"].process.pid
    answer = request(supervisor, "start", "intake")  # running already: said so
    assert answer["ok"] and answer["message"] == "intake is running already"
    answer = request(supervisor, "restart", "followup")
    assert answer["ok"] and answer["message"] == "followup is up"
    assert net.services["followup"].process.pid != before

    answer = request(supervisor, "stop", "broker")
    assert answer["ok"] and not net.broker.running()
    for _ in range(10):  # held down: not restarted
        supervisor.tick()
    assert supervisor.targets["broker"].state == "stopped" and not net.broker.running()
    answer = request(supervisor, "start", "broker")
    assert answer["ok"] and net.broker.running()

    answer = request(supervisor, "reboot", "broker")
    assert answer["ok"] is False


def test_the_network_start_waits_for_services_slow_to_start(tmp_path, monkeypatch):
    lines: list[str] = []
    sup = Supervisor(FakeNetwork(tmp_path), out=lines.append, min_backoff=0.2)
    began = time.monotonic()
    monkeypatch.setattr(sup, "_live", lambda url: time.monotonic() - began > 0.5)
    try:
        sup.start(timeout=10)
        assert all(sup.targets[name].state == "running" for name in SERVICES)
        assert all(sup.targets[name].restarts == 0 for name in SERVICES)
        assert time.monotonic() - began >= 0.5
        assert any("network up" in line for line in lines)
    finally:
        sup.shutdown()
