"""The whole network on one machine: embedded Postgres, tansu, five services and,
with ``auth="issuer"`` (make run), the local OIDC issuer and the console."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from rescue_chassis.auth import mint_token
from rescue_chassis.crypto import generate_key
from rescue_localnet.broker import TansuBroker, free_ports
from rescue_localnet.issuer import grant_secret
from rescue_localnet.postgres import EmbeddedPostgres, owner_role
from rescue_localnet.services import DEFAULT_PORTS, SERVICES, ServiceProcess

log = logging.getLogger(__name__)

ISSUER_PORT = 8109
CONSOLE_PORT = 8100
# "issuer": the services trust the local OIDC issuer only (the production path);
# "secret": the shared development secret (HS256), as the tests' networks use.
AUTH_MODES = ("issuer", "secret")


@dataclass
class LocalNetwork:
    data_dir: Path
    broker_port: int = 9092
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    extra_env: dict[str, str] = field(default_factory=dict)
    auth: str = "secret"
    issuer_port: int = ISSUER_PORT
    console_port: int = CONSOLE_PORT
    postgres: EmbeddedPostgres = field(init=False)
    broker: TansuBroker = field(init=False)
    services: dict[str, ServiceProcess] = field(init=False, default_factory=dict)
    # The issuer and the console (auth "issuer" only): supervised like the services.
    apps: dict[str, ServiceProcess] = field(init=False, default_factory=dict)

    @classmethod
    def on_free_ports(cls, data_dir: Path, **options) -> LocalNetwork:
        """A network that cannot collide with a running `make run` (tests, benchmarks):
        the broker and every service on distinct free ports."""
        broker_port, issuer_port, console_port, *ports = free_ports(3 + len(SERVICES))
        return cls(
            data_dir=data_dir,
            broker_port=broker_port,
            ports=dict(zip(SERVICES, ports, strict=True)),
            issuer_port=issuer_port,
            console_port=console_port,
            **options,
        )

    def __post_init__(self) -> None:
        if self.auth not in AUTH_MODES:
            raise ValueError(f"auth is one of {', '.join(AUTH_MODES)}, not {self.auth!r}")
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

    @property
    def photo_link_key(self) -> str:
        """The network's photo-link key (rescue_chassis.photo_links), kept with the data."""
        path = self.data_dir / "photo-link-key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()

    @property
    def issuer_url(self) -> str:
        return f"http://127.0.0.1:{self.issuer_port}"

    @property
    def console_url(self) -> str:
        return f"http://127.0.0.1:{self.console_port}"

    def token(self, station_id: str, roles: list[str], subject: str = "dev-user") -> str:
        """A bearer token the services trust: the issuer's (its /dev/token) or one
        minted with the shared secret, as the network runs."""
        if self.auth == "issuer":
            return issuer_token(self.issuer_url, self.data_dir, station_id, roles, subject)
        return mint_token(
            secret=self.jwt_secret, subject=subject, station_id=station_id, roles=roles
        )

    def oidc_env(self, name: str) -> dict[str, str]:
        """What makes a service trust the local issuer only."""
        return {name.upper() + "_OIDC_ISSUER": self.issuer_url}

    def env_for(self, name: str) -> dict[str, str]:
        prefix = name.upper() + "_"
        env = {
            **os.environ,
            # the service's own role: rows, no DDL (the owner migrates: migrate_env)
            prefix + "DATABASE_URL": self.postgres.sqlalchemy_url(name, name),
            prefix + "KAFKA_BOOTSTRAP_SERVERS": self.broker.bootstrap_servers,
            **(
                self.oidc_env(name)
                if self.auth == "issuer"
                else {prefix + "JWT_SECRET": self.jwt_secret}
            ),
            **{prefix + name: value for name, value in self.data_keys.items()},
            prefix + "ENVIRONMENT": "development",  # webhooks over http too
            # partners' webhooks on this machine (local receivers): an explicit allowance
            "REFERRAL_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8,::1/128",
            # the national system's stand-in on this machine, for the summary's submissions
            "SUMMARY_NATIONAL_SYSTEM_ALLOWED_NETWORKS": "127.0.0.0/8,::1/128",
            # referral mints the police's photo links, intake honours them
            "RESCUE_PHOTO_LINK_KEY": self.photo_link_key,
            "RESCUE_PHOTO_LINK_BASE_URL": self.service_url("intake"),
            "OTEL_SERVICE_NAME": name,
            **self.extra_env,
        }
        return env

    def migrate_env(self, name: str) -> dict[str, str]:
        """What ``migrate`` adds: the owner's URL (it migrates and grants)."""
        url = self.postgres.sqlalchemy_url(name, owner_role(name))
        return {name.upper() + "_OWNER_DATABASE_URL": url}

    def start_database(self) -> None:
        self.postgres.start()
        # pgvector: only a superuser creates it (search's migration then finds it)
        extensions = {"search": ["vector"]}
        asyncio.run(self.postgres.create_service_databases(list(SERVICES), extensions))

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
                migrate_env=self.migrate_env(name),
            )
        if self.auth == "issuer":
            self.apps = {
                "issuer": ServiceProcess(
                    name="issuer",
                    module="rescue_localnet.issuer",
                    port=self.issuer_port,
                    env={**os.environ, **self.issuer_env()},
                    log_file=self.data_dir / "logs" / "issuer.log",
                ),
                "console": ServiceProcess(
                    name="console",
                    module="rescue_console",
                    port=self.console_port,
                    env={**os.environ, **self.console_env(), **self.extra_env},
                    log_file=self.data_dir / "logs" / "console.log",
                    ready_path="/health/live",
                ),
            }

    def issuer_env(self) -> dict[str, str]:
        return {
            "RESCUE_ISSUER_URL": self.issuer_url,
            "RESCUE_ISSUER_DATA_DIR": str(self.data_dir / "issuer"),
            # 127.0.0.1 and localhost: whichever the developer opens the console at.
            "RESCUE_ISSUER_REDIRECT_URIS": ",".join(
                f"http://{host}:{self.console_port}/signin/callback"
                for host in ("127.0.0.1", "localhost")
            ),
        }

    def console_env(self) -> dict[str, str]:
        return {
            **{f"CONSOLE_{name.upper()}_URL": self.service_url(name) for name in SERVICES},
            "CONSOLE_OIDC_ISSUER": self.issuer_url,
        }

    def service_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def migrate(self) -> None:
        for service in self.services.values():
            service.migrate()

    def start_services(self) -> None:
        parts = [*self.services.values(), *self.apps.values()]
        for part in parts:
            part.start()
        for part in parts:
            part.wait_ready()

    def up(self) -> None:
        self.start_infrastructure()
        self.prepare_services()
        self.migrate()
        self.start_services()

    def down(self) -> None:
        for part in [*self.apps.values(), *self.services.values()]:
            part.stop()
        self.broker.stop()
        self.postgres.stop()


def issuer_token(
    issuer_url: str, data_dir: Path, station_id: str, roles: list[str], subject: str
) -> str:
    """A token of the local issuer for the tools (make token, make demo, the tests)."""
    answer = httpx.post(
        f"{issuer_url}/dev/token",
        headers={"Authorization": f"Bearer {grant_secret(data_dir / 'issuer')}"},
        json={"station_id": station_id, "roles": roles, "subject": subject},
        timeout=10,
    )
    if answer.status_code != 200:
        raise RuntimeError(f"the local issuer refused a token: {answer.status_code} {answer.text}")
    return answer.json()["access_token"]
