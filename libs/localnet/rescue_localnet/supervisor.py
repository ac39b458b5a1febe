"""``make run``'s supervisor: the local network keeps running when one of its parts dies.

- A service process (or the local issuer, or the console) that exits is
  started again, alone, after a backoff that doubles with each exit in a row
  (1 s, 2 s, 4 s … at most 30 s; back to 1 s once it ran for a minute), and
  each step is logged. A service that exits
  with 2 (its settings are wrong: rescue_chassis.cli) is not restarted.
- The broker likewise. Its memory storage comes back empty, as a new cluster
  (rescue_localnet.broker): the services send again what it had (their outboxes
  keep it) and their consumers join again.
- Postgres likewise, on the same data folder.

On-call controls it through files, so that ``rescue-ops restart|stop|start
TARGET`` needs nothing but the data folder (``rescue_ops.local``):

- ``<data>/supervisor.json``: the supervisor's pid and, for each target, its
  state (running, starting, backoff, stopped, failed), pid, restarts and last
  exit; written whenever something changes.
- ``<data>/control/<id>.json``: a request ``{"id", "action", "target"}``
  (action restart, stop or start; target a service, ``broker`` or
  ``postgres``), written atomically by the client; the supervisor answers with
  ``<id>.done`` ``{"id", "ok", "message"}`` once done (a service: once it
  serves, /health/live).

Everything happens in one loop, a tick every 0.25 s: no threads.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from rescue_localnet.network import LocalNetwork
from rescue_localnet.services import SERVICES

log = logging.getLogger(__name__)

STATE_FILE = "supervisor.json"
CONTROL_DIR = "control"
INFRASTRUCTURE = ("broker", "postgres")
TARGETS = (*SERVICES, *INFRASTRUCTURE)
APPS = ("issuer", "console")  # with the local issuer (auth "issuer") only
ACTIONS = ("restart", "stop", "start")
EXIT_SETTINGS = 2  # rescue_chassis.cli: a setting is wrong, restarting will not help


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _exit_text(code: int | None) -> str:
    if code is None:
        return "gone"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


@dataclass
class Target:
    name: str
    state: str = "stopped"  # running | starting | backoff | stopped | failed
    pid: int | None = None
    restarts: int = 0  # started again after an exit or on request
    exits_in_a_row: int = 0  # for the backoff
    started_at: float | None = None  # time.monotonic()
    retry_at: float | None = None
    last_exit: str | None = None
    last_exit_at: str | None = None
    since: str = field(default_factory=_now)
    waiting: list[str] = field(default_factory=list)  # request ids answered when ready

    def view(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "pid": self.pid,
            "restarts": self.restarts,
            "last_exit": self.last_exit,
            "last_exit_at": self.last_exit_at,
            "since": self.since,
        }


class Supervisor:
    def __init__(
        self,
        net: LocalNetwork,
        *,
        out: Callable[[str], None] = print,
        min_backoff: float = 1.0,
        max_backoff: float = 30.0,
        stable_after: float = 60.0,
        ready_timeout: float = 120.0,
        tick: float = 0.25,
    ) -> None:
        self.net = net
        self.out = out
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.stable_after = stable_after
        self.ready_timeout = ready_timeout
        self.tick_seconds = tick
        # The processes watched alike: the services, and the issuer and console if any.
        apps = APPS if getattr(net, "auth", "secret") == "issuer" else ()
        self.processes: tuple[str, ...] = (*SERVICES, *apps)
        self.targets = {name: Target(name) for name in (*TARGETS, *apps)}
        self.state_file = net.data_dir / STATE_FILE
        self.control_dir = net.data_dir / CONTROL_DIR
        self.log_file = net.data_dir / "logs" / "supervisor.log"
        self._written: str | None = None
        self._http = httpx.Client(timeout=0.5)

    # -- start and stop -----------------------------------------------------------

    def start(self, timeout: float = 180.0) -> None:
        """Bring the whole network up (as ``LocalNetwork.up``), already watching it:
        a service slow to start (a busy machine) is waited for, one that exits is
        started again. Returns once every service serves, or after ``timeout``
        (then the loop goes on trying)."""
        self.control_dir.mkdir(parents=True, exist_ok=True)
        for stale in self.control_dir.iterdir():  # requests of an earlier run
            stale.unlink(missing_ok=True)
        self.net.start_infrastructure()
        for name in INFRASTRUCTURE:
            self._running(self.targets[name])
        self.net.prepare_services()
        self.net.migrate()
        for name in self.processes:
            self._part(name).start()
            target = self.targets[name]
            self._running(target)
            self._set(target, "starting")
        self.write_state()
        deadline = time.monotonic() + timeout
        while any(self.targets[name].state != "running" for name in self.processes):
            if time.monotonic() > deadline:
                waiting = [n for n in self.processes if self.targets[n].state != "running"]
                self.event(f"still starting after {timeout:g}s: {', '.join(waiting)}")
                break
            self.tick()
            time.sleep(self.tick_seconds)
        self.event("network up", broker_cluster=self.net.broker.cluster_id)
        self.write_state()

    def run(self, stopping: Callable[[], bool]) -> None:
        while not stopping():
            self.tick()
            time.sleep(self.tick_seconds)

    def shutdown(self) -> None:
        self._http.close()
        self.net.down()
        self.state_file.unlink(missing_ok=True)

    # -- one round ------------------------------------------------------------------

    def tick(self) -> None:
        self._serve_requests()
        self._watch_infrastructure()
        for name in self.processes:
            self._watch_service(self.targets[name])
        self.write_state()

    def _watch_service(self, target: Target) -> None:
        service = self._part(target.name)
        now = time.monotonic()
        if target.state in ("running", "starting"):
            code = service.process.poll() if service.process is not None else None
            if service.process is None or code is not None:
                service.process = None
                self._exited(target, code)
            elif target.state == "starting":
                # Up once it serves (/health/live): whether it is ready depends on
                # Postgres too, and a service waiting for its database is not stuck.
                if self._live(service.url):
                    took = now - (target.started_at or now)
                    self._running(target)
                    self.event(f"{target.name} up", after_seconds=round(took, 1))
                    self._answer(target, ok=True, message=f"{target.name} is up")
                elif now - (target.started_at or now) > self.ready_timeout:
                    service.kill()
                    self._exited(target, None, why=f"not up after {self.ready_timeout:g}s")
        if target.state == "backoff" and target.retry_at is not None and now >= target.retry_at:
            self._start_service(target)

    def _watch_infrastructure(self) -> None:
        now = time.monotonic()
        broker, postgres = self.targets["broker"], self.targets["postgres"]
        if broker.state == "running" and not self.net.broker.running():
            code = self.net.broker.process.poll() if self.net.broker.process else None
            self.net.broker.process = None
            self._exited(broker, code)
        if postgres.state == "running" and not self.net.postgres.running():
            self._exited(postgres, None)
        for target in (postgres, broker):
            if target.state == "backoff" and target.retry_at is not None and now >= target.retry_at:
                self._start_infrastructure(target)

    # -- what happens to a target -----------------------------------------------------

    def _exited(self, target: Target, code: int | None, *, why: str | None = None) -> None:
        """``target`` is gone (or could not start): started again after the backoff."""
        now = time.monotonic()
        ran = now - target.started_at if target.started_at is not None else 0.0
        target.last_exit = why or _exit_text(code)
        target.last_exit_at = _now()
        target.pid = None
        if target.name in self.processes and code == EXIT_SETTINGS:
            self._set(target, "failed")
            self.event(
                f"{target.name} exited ({target.last_exit}): its settings are wrong, "
                "not restarting; see its log",
                level="error",
            )
            self._answer(target, ok=False, message=f"{target.name} exited: {target.last_exit}")
            return
        target.exits_in_a_row = 1 if ran >= self.stable_after else target.exits_in_a_row + 1
        delay = min(self.min_backoff * 2 ** (target.exits_in_a_row - 1), self.max_backoff)
        target.retry_at = now + delay
        self._set(target, "backoff")
        self.event(
            f"{target.name} exited ({target.last_exit}) after {ran:.1f}s; "
            f"restarting it in {delay:g}s (exit {target.exits_in_a_row} in a row)",
            level="warning",
            ran_seconds=round(ran, 1),
            backoff_seconds=delay,
        )

    def _part(self, name: str):
        """A service's process, or the issuer's or the console's."""
        return self.net.services[name] if name in self.net.services else self.net.apps[name]

    def _start_service(self, target: Target) -> None:
        service = self._part(target.name)
        try:
            service.start()
        except Exception as exc:  # noqa: BLE001 - e.g. a file descriptor limit
            self._exited(target, None, why=f"could not start: {exc}")
            return
        target.pid = service.process.pid if service.process else None
        target.started_at = time.monotonic()
        target.restarts += 1
        self._set(target, "starting")
        self.event(f"{target.name} started again (pid {target.pid})", restarts=target.restarts)

    def _start_infrastructure(self, target: Target) -> None:
        try:
            if target.name == "broker":
                self.net.broker.start()
            else:
                self.net.postgres.start_server()
        except Exception as exc:  # noqa: BLE001 - the port still taken, …
            self._exited(target, None, why=f"could not start: {exc}")
            return
        target.restarts += 1
        self._running(target)
        if target.name == "broker":
            self.event(
                f"broker started again (pid {target.pid}, memory storage: empty, new cluster "
                f"{self.net.broker.cluster_id}); the services send again what it had",
                restarts=target.restarts,
            )
        else:
            self.event(f"postgres started again (pid {target.pid})", restarts=target.restarts)
        self._answer(target, ok=True, message=f"{target.name} is running")

    def _running(self, target: Target) -> None:
        target.started_at = time.monotonic()
        target.retry_at = None
        if target.name == "broker":
            target.pid = self.net.broker.pid
        elif target.name == "postgres":
            target.pid = self.net.postgres.pid
        else:
            process = self._part(target.name).process
            target.pid = process.pid if process else None
        self._set(target, "running")

    def _set(self, target: Target, state: str) -> None:
        if target.state != state:
            target.state = state
            target.since = _now()

    def _live(self, url: str) -> bool:
        try:
            return self._http.get(f"{url}/health/live").status_code == 200
        except httpx.HTTPError:
            return False

    # -- requests (rescue-ops restart|stop|start) ----------------------------------------

    def _serve_requests(self) -> None:
        if not self.control_dir.exists():
            return
        for path in sorted(self.control_dir.glob("*.json"), key=lambda p: p.stat().st_mtime):
            try:
                request = json.loads(path.read_text())
            except (OSError, ValueError):
                continue  # being written; the client renames it into place
            path.unlink(missing_ok=True)
            request_id = str(request.get("id") or path.stem)
            action, name = request.get("action"), request.get("target")
            if action not in ACTIONS or name not in self.targets:
                self._done(request_id, ok=False, message=f"cannot {action} {name}")
                continue
            self.event(f"{action} {name} requested", request=request_id)
            try:
                self._serve(request_id, action, self.targets[name])
            except Exception as exc:  # noqa: BLE001 - answered, never fatal
                self.event(f"{action} {name} failed: {exc}", level="error")
                self._done(request_id, ok=False, message=f"{action} {name} failed: {exc}")

    def _serve(self, request_id: str, action: str, target: Target) -> None:
        if action in ("stop", "restart"):
            self._stop(target)
            if action == "stop":
                self._set(target, "stopped")
                self.event(f"{target.name} stopped on request; it stays down until started")
                self._done(request_id, ok=True, message=f"{target.name} stopped")
                return
        if target.state in ("running", "starting") and action == "start":
            self._done(request_id, ok=True, message=f"{target.name} is {target.state} already")
            return
        target.exits_in_a_row = 0
        # Answered once it runs (a service: once ready); a start that fails is
        # tried again after the backoff, the request still waiting.
        target.waiting.append(request_id)
        if target.name in self.processes:
            self._start_service(target)
        else:
            self._start_infrastructure(target)

    def _stop(self, target: Target) -> None:
        if target.name == "broker":
            self.net.broker.stop()
        elif target.name == "postgres":
            if self.net.postgres.running():
                self.net.postgres.stop_server()
        else:
            self._part(target.name).stop()
        target.pid = None
        target.last_exit = "stopped on request"
        target.last_exit_at = _now()
        self._answer(target, ok=False, message=f"{target.name} was stopped")
        self._set(target, "stopped")

    def _answer(self, target: Target, *, ok: bool, message: str) -> None:
        waiting, target.waiting = target.waiting, []
        for request_id in waiting:
            self._done(request_id, ok=ok, message=message)

    def _done(self, request_id: str, *, ok: bool, message: str) -> None:
        answer = {"id": request_id, "ok": ok, "message": message, "finished_at": _now()}
        _write_atomically(self.control_dir / f"{request_id}.done", json.dumps(answer))

    # -- what others read --------------------------------------------------------------

    def event(self, message: str, *, level: str = "info", **fields: Any) -> None:
        """One line on the terminal, and a JSON line in logs/supervisor.log."""
        stamp = datetime.now().strftime("%H:%M:%S")
        self.out(f"{stamp} supervisor: {message}")
        record = {"time": _now(), "level": level, "message": message, **fields}
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "a", encoding="utf-8") as file:
            file.write(json.dumps(record, ensure_ascii=False) + "\n")

    def write_state(self) -> None:
        targets = {name: t.view() for name, t in self.targets.items()}
        for name in self.processes:
            targets[name]["url"] = self._part(name).url
        targets["broker"]["cluster_id"] = self.net.broker.cluster_id
        state = {
            "pid": os.getpid(),
            "data_dir": str(self.net.data_dir),
            "broker": {"bootstrap_servers": self.net.broker.bootstrap_servers},
            "postgres": {"socket_dir": self.net.postgres.socket_dir},
            "ports": dict(self.net.ports),
            "auth": getattr(self.net, "auth", "secret"),
            "apps": {name: self._part(name).port for name in self.processes[len(SERVICES) :]},
            "targets": targets,
        }
        text = json.dumps(state, indent=2)
        if text != self._written:
            _write_atomically(self.state_file, text)
            self._written = text


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def read_state(data_dir: Path) -> dict[str, Any]:
    """The running supervisor's state file (raises FileNotFoundError if none runs)."""
    return json.loads((Path(data_dir) / STATE_FILE).read_text())


def attach(data_dir: Path, **options: Any) -> LocalNetwork:
    """A ``LocalNetwork`` describing the one a supervisor runs on ``data_dir``
    (its ports, broker and database socket), to reach it from another process;
    it starts nothing."""
    state = read_state(data_dir)
    apps = state.get("apps") or {}
    net = LocalNetwork(
        data_dir=Path(data_dir),
        broker_port=int(state["broker"]["bootstrap_servers"].rsplit(":", 1)[1]),
        ports={name: int(port) for name, port in state["ports"].items()},
        auth=state.get("auth", "secret"),
        **{f"{name}_port": int(port) for name, port in apps.items()},
        **options,
    )
    net.postgres.socket_dir = state["postgres"]["socket_dir"]
    net.prepare_services()
    return net
