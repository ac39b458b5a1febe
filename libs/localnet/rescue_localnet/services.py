"""The services as separate processes, as in production."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

SERVICES = ("intake", "search", "transfer", "referral", "followup", "summary")
DEFAULT_PORTS = dict(zip(SERVICES, range(8101, 8101 + len(SERVICES)), strict=True))


@dataclass
class ServiceProcess:
    name: str
    port: int
    env: dict[str, str]
    log_file: Path
    process: subprocess.Popen | None = field(default=None, repr=False)
    module: str | None = None  # what `python -m` runs; the service's name by default
    ready_path: str = "/health/ready"
    # Only for `migrate`: the owner's database URL, never in the serving process.
    migrate_env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def migrate(self) -> None:
        result = subprocess.run(
            [sys.executable, "-m", self.name, "migrate"],
            env={**self.env, **self.migrate_env},
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{self.name} migrate failed:\n{result.stderr[-3000:]}")

    def start(self) -> None:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    self.module or self.name,
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                ],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    # Generous: on a busy machine importing a service alone can take half a minute;
    # one that fails exits, and is reported at once.
    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                tail = self.log_file.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{tail}")
            try:
                if httpx.get(f"{self.url}{self.ready_path}", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} not ready after {timeout}s (log: {self.log_file})")

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            self.process = None
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no final commits (for fault tests)."""
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            self.process = None
