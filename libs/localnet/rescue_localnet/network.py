"""The whole network on one machine: embedded Postgres, tansu, five services."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from rescue_chassis.auth import mint_token
from rescue_chassis.crypto import generate_key
from rescue_localnet.broker import TansuBroker, free_ports
from rescue_localnet.postgres import EmbeddedPostgres
from rescue_localnet.services import DEFAULT_PORTS, SERVICES, ServiceProcess

log = logging.getLogger(__name__)


@dataclass
class LocalNetwork:
    data_dir: Path
    broker_port: int = 9092
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    extra_env: dict[str, str] = field(default_factory=dict)
    postgres: EmbeddedPostgres = field(init=False)
    broker: TansuBroker = field(init=False)
    services: dict[str, ServiceProcess] = field(init=False, default_factory=dict)

    @classmethod
    def on_free_ports(cls, data_dir: Path, **options) -> LocalNetwork:
        """A network that cannot collide with a running `make run` (tests, benchmarks):
        the broker and every service on distinct free ports."""
        broker_port, *ports = free_ports(1 + len(SERVICES))
        return cls(
            data_dir=data_dir,
            broker_port=broker_port,
            ports=dict(zip(SERVICES, ports, strict=True)),
            **options,
        )

    def __post_init__(self) -> None:
        self.data_dir = self.data_dir.resolve()
        self.postgres = EmbeddedPostgres(self.data_dir / "postgres")
        self.broker = TansuBroker(self.broker_port, self.data_dir / "logs" / "broker.log")

    @property
    def jwt_secret(self) -> str:
        """A random development secret, kept with the data so tokens survive restarts."""
        path = self.data_dir / "jwt-secret"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()

    @property
    def data_keys(self) -> dict[str, str]:
        """Development encryption keys (rescue_chassis.crypto), kept with the data
        like the JWT secret: what the services encrypted stays readable."""
        path = self.data_dir / "data-keys.json"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            kid = "dev" + secrets.token_hex(2)
            keys = {
                "DATA_KEYS": f"{kid}:{generate_key()}",
                "DATA_KEY_CURRENT": kid,
                "LOOKUP_KEY": generate_key(),
            }
            path.write_text(json.dumps(keys))
            path.chmod(0o600)
        return json.loads(path.read_text())

    def token(self, station_id: str, roles: list[str], subject: str = "dev-user") -> str:
        return mint_token(
            secret=self.jwt_secret, subject=subject, station_id=station_id, roles=roles
        )

    def env_for(self, name: str) -> dict[str, str]:
        prefix = name.upper() + "_"
        env = {
            **os.environ,
            prefix + "DATABASE_URL": self.postgres.sqlalchemy_url(name),
            prefix + "KAFKA_BOOTSTRAP_SERVERS": self.broker.bootstrap_servers,
            prefix + "JWT_SECRET": self.jwt_secret,
            **{prefix + name: value for name, value in self.data_keys.items()},
            prefix + "ENVIRONMENT": "development",  # webhooks over http too
            # partners' webhooks on this machine (local receivers): an explicit allowance
            "REFERRAL_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8,::1/128",
            "OTEL_SERVICE_NAME": name,
            **self.extra_env,
        }
        return env

    def start_database(self) -> None:
        self.postgres.start()
        asyncio.run(self.postgres.create_databases(list(SERVICES)))

    def start_infrastructure(self) -> None:
        self.start_database()
        self.broker.start()

    def prepare_services(self) -> None:
        for name in SERVICES:
            self.services[name] = ServiceProcess(
                name=name,
                port=self.ports[name],
                env=self.env_for(name),
                log_file=self.data_dir / "logs" / f"{name}.log",
            )

    def migrate(self) -> None:
        for service in self.services.values():
            service.migrate()

    def start_services(self) -> None:
        for service in self.services.values():
            service.start()
        for service in self.services.values():
            service.wait_ready()

    def up(self) -> None:
        self.start_infrastructure()
        self.prepare_services()
        self.migrate()
        self.start_services()

    def down(self) -> None:
        for service in self.services.values():
            service.stop()
        self.broker.stop()
        self.postgres.stop()
