"""``rescue-ops``: the on-call engineer's view of the five services.

Exit codes: 0 all fine, 1 something needs attention (a service unhealthy or
unreachable, a backlog, lag, dead letters, a failing sweep, a replay that
still fails, a refused station change), 2 the command is misused or
misconfigured (no token, a bad --url).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import httpx

from rescue_ops import SERVICES, commands
from rescue_ops.config import (
    DEV_SECRET_ENV,
    TOKEN_ENV,
    ConfigError,
    bearer_token,
    service_urls,
    url_env,
)
from rescue_ops.http import ServicesClient
from rescue_ops.render import to_json
from rescue_ops.stations import StationsError

NETWORK_FILE_ENV = "RESCUE_OPS_NETWORK_FILE"
HEALTH_TIMEOUT = 2.0
OPS_TIMEOUT = 10.0  # /ops/consumer-lag bounds itself at 5 s
NEEDS_TOKEN = {"outbox", "lag", "periodic", "dead-letters", "replay"}

EPILOG = f"""\
configuration:
  service URLs   --url SERVICE=URL, or {url_env("SERVICE")} (e.g. {url_env("intake")});
                 default the local network http://127.0.0.1:8101-8105
  bearer token   {TOKEN_ENV} (a token with the ops role). Local or development only:
                 --dev-secret SECRET or {DEV_SECRET_ENV} mints one for the center
                 (make run keeps its secret in var/localnet/jwt-secret)
exit codes: 0 all fine, 1 something needs attention, 2 misuse or misconfiguration.
every command takes --json for machine-readable output; see docs/runbook.md.
"""


def _common() -> argparse.ArgumentParser:
    # SUPPRESS: the options work before and after the command name.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON")
    common.add_argument(
        "--url",
        action="append",
        default=argparse.SUPPRESS,
        metavar="SERVICE=URL",
        help="base URL of a service (repeatable)",
    )
    common.add_argument(
        "--dev-secret",
        default=argparse.SUPPRESS,
        metavar="SECRET",
        help="development only: mint a short-lived ops token with this JWT secret",
    )
    common.add_argument(
        "--timeout",
        type=float,
        default=argparse.SUPPRESS,
        metavar="SECONDS",
        help=f"per request (default {HEALTH_TIMEOUT:g} for health, {OPS_TIMEOUT:g} otherwise)",
    )
    return common


def _services_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--service",
        action="append",
        choices=SERVICES,
        help="only this service (repeatable); default all five",
    )


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(
        prog="rescue-ops",
        description="Health, outbox backlog, consumer lag, dead letters, deadline sweeps "
        "and stations of the rescue network.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_, description=help_, parents=[common])

    p = command("health", "liveness and readiness of every service")
    _services_option(p)

    p = command("outbox", "events written but not yet published, per service")
    _services_option(p)
    p.add_argument(
        "--max-age",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="unhealthy when the oldest unpublished event is older (default 60)",
    )
    p.add_argument(
        "--max-unpublished",
        type=int,
        default=1000,
        metavar="N",
        help="unhealthy above this many unpublished events (default 1000)",
    )

    p = command("lag", "how far each consumer is behind, per partition")
    _services_option(p)
    p.add_argument(
        "--max-lag",
        type=int,
        default=100,
        metavar="N",
        help="unhealthy when a partition is more events behind (default 100)",
    )
    p.add_argument("--partitions", action="store_true", help="a table row per partition")

    p = command("periodic", "the deadline sweeps: runs, failures, last error")
    _services_option(p)
    p.add_argument(
        "--stale-after",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="unhealthy when a job has not run for longer (default 600)",
    )

    p = command("dead-letters", "events a consumer gave up on")
    _services_option(p)
    p.add_argument("--include-replayed", action="store_true", help="also those replayed")
    p.add_argument("--limit", type=int, default=100, help="per service (default 100, max 1000)")

    p = command("replay", "apply one dead letter again, after a fix")
    p.add_argument("service", choices=SERVICES)
    p.add_argument("id", type=int, help="the dead letter's id (see dead-letters)")

    p = command("stations", "the stations file every service reads at start")
    stations = p.add_subparsers(dest="stations_command", required=True, metavar="ACTION")

    def file_option(q: argparse.ArgumentParser) -> None:
        q.add_argument(
            "--file",
            type=Path,
            default=os.environ.get(NETWORK_FILE_ENV),
            required=not os.environ.get(NETWORK_FILE_ENV),
            help=f"the network YAML file (or {NETWORK_FILE_ENV})",
        )

    q = stations.add_parser("list", help="list and check the stations", parents=[common])
    file_option(q)
    q = stations.add_parser("add", help="add a satellite station", parents=[common])
    file_option(q)
    q.add_argument("--id", required=True, help="lower-case letters, digits, '-' (e.g. huangchuan)")
    q.add_argument("--name", required=True, help="e.g. 潢川县救助管理站")
    q.add_argument("--kind", default="satellite", choices=("satellite", "center"))
    q.add_argument("--province", required=True, help="e.g. 河南省")
    q.add_argument("--city", required=True, help="e.g. 信阳市")
    q.add_argument("--admin-code", required=True, help="6 digits: the county or city served")
    return parser


def _run(args: argparse.Namespace, transport: httpx.BaseTransport | None) -> commands.Report:
    if args.command == "stations":
        if args.stations_command == "list":
            return commands.stations_list(args.file)
        station = {
            "id": args.id,
            "name": args.name,
            "kind": args.kind,
            "province": args.province,
            "city": args.city,
            "admin_code": args.admin_code,
        }
        return commands.stations_add(args.file, station)

    urls = service_urls(getattr(args, "url", None) or ())
    token = bearer_token(getattr(args, "dev_secret", None))
    if args.command in NEEDS_TOKEN and not token:
        raise ConfigError(
            f"no bearer token for the ops endpoints: set {TOKEN_ENV} to a token with the ops "
            f"role (local network only: {DEV_SECRET_ENV} or --dev-secret with the services' "
            "JWT secret, e.g. var/localnet/jwt-secret)"
        )
    timeout = getattr(args, "timeout", None) or (
        HEALTH_TIMEOUT if args.command == "health" else OPS_TIMEOUT
    )
    services = list(dict.fromkeys(getattr(args, "service", None) or SERVICES))
    with ServicesClient(urls, token=token, timeout=timeout, transport=transport) as client:
        if args.command == "health":
            return commands.health(client, services)
        if args.command == "outbox":
            return commands.outbox(
                client, services, max_age=args.max_age, max_unpublished=args.max_unpublished
            )
        if args.command == "lag":
            return commands.lag(
                client, services, max_lag=args.max_lag, per_partition=args.partitions
            )
        if args.command == "periodic":
            return commands.periodic(client, services, stale_after=args.stale_after)
        if args.command == "dead-letters":
            return commands.dead_letters(
                client,
                services,
                include_replayed=args.include_replayed,
                limit=max(1, min(args.limit, 1000)),
            )
        if args.command == "replay":
            return commands.replay(client, args.service, args.id)
    raise AssertionError(f"unknown command {args.command}")


def main(argv: list[str] | None = None, *, transport: httpx.BaseTransport | None = None) -> int:
    """Run one command; returns the exit code. ``transport`` is for tests."""
    args = build_parser().parse_args(argv)
    as_json = getattr(args, "json", False)
    try:
        report = _run(args, transport)
    except ConfigError as exc:
        print(f"rescue-ops: {exc}", file=sys.stderr)
        return 2
    except StationsError as exc:
        if as_json:
            print(to_json({"command": "stations", "ok": False, "errors": exc.errors}))
        else:
            print("rescue-ops: refused:", file=sys.stderr)
            for error in exc.errors:
                print(f"  {error}", file=sys.stderr)
        return 1
    print(to_json(report.data) if as_json else report.text)
    return 0 if report.ok else 1
