"""``rescue-ops``: the on-call engineer's view of the six services.

Exit codes: 0 all fine, 1 something needs attention (a service unhealthy or
unreachable, a backlog, lag, dead letters, a failing sweep, a replay that
still fails, a refused station change), 2 the command is misused or
misconfigured (no token, a bad --url).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from datetime import UTC, datetime, timedelta
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
from rescue_ops.local import DATA_DIR_ENV, TARGETS
from rescue_ops.render import to_json
from rescue_ops.stations import StationsError

NETWORK_FILE_ENV = "RESCUE_OPS_NETWORK_FILE"
HEALTH_TIMEOUT = 2.0
OPS_TIMEOUT = 10.0  # /ops/consumer-lag bounds itself at 5 s
NEEDS_TOKEN = {
    "outbox",
    "lag",
    "periodic",
    "dead-letters",
    "dead-letter",
    "replay",
    "discard",
    "republish",
}
LOCAL = {"local", "restart", "stop", "start"}
RESTART_TIMEOUT = 120.0  # a service must become ready again
_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")


def moment(value: str) -> datetime:
    """An ISO 8601 time (UTC if it names no zone), or a time ago: 90s, 15m, 2h, 3d."""
    found = _RELATIVE.match(value.strip())
    if found:
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[found.group(2)]
        return datetime.now(UTC) - timedelta(**{unit: float(found.group(1))})
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is neither an ISO 8601 time nor a time ago such as 15m, 2h or 3d"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


EPILOG = f"""\
configuration:
  service URLs   --url SERVICE=URL, or {url_env("SERVICE")} (e.g. {url_env("intake")});
                 default the local network http://127.0.0.1:8101-8106
  bearer token   {TOKEN_ENV} (a token with the ops role). Local or development only:
                 --dev-secret SECRET or {DEV_SECRET_ENV} mints one for the center
                 (make run trusts only its local issuer: `make ops` passes a token of it)
  local network  local, restart|stop|start TARGET talk to make run's supervisor through
                 its data folder: --data-dir, or RESCUE_OPS_LOCALNET_DIR (default var/localnet)
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
        "and stations of the rescue network; the local network's processes (make run).",
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

    p = command("republish", "send again the events a service published since a moment")
    p.add_argument("--service", action="append", choices=SERVICES, required=True)
    p.add_argument(
        "--since",
        type=moment,
        required=True,
        help="ISO 8601 time, or a time ago (15m, 2h, 3d): events published since then",
    )
    p.add_argument("--topic", action="append", help="only this topic (repeatable)")
    p.add_argument("--reason", required=True, help="why, for the record")

    p = command("dead-letters", "events a consumer gave up on")
    _services_option(p)
    p.add_argument("--include-replayed", action="store_true", help="also those replayed")
    p.add_argument("--include-discarded", action="store_true", help="also those discarded")
    p.add_argument("--limit", type=int, default=100, help="per service (default 100, max 1000)")

    p = command("dead-letter", "one dead letter: why it failed, its headers and payload")
    p.add_argument("service", choices=SERVICES)
    p.add_argument("id", type=int, help="the dead letter's id (see dead-letters)")

    p = command("replay", "apply a dead letter again after a fix, or all that match (--all)")
    p.add_argument("service", choices=SERVICES)
    p.add_argument("id", type=int, nargs="?", help="the dead letter's id (see dead-letters)")
    p.add_argument("--all", action="store_true", help="every waiting dead letter that matches")
    p.add_argument(
        "--failure",
        choices=(
            "handler_failed",
            "malformed_envelope",
            "unsupported_version",
            "invalid_payload",
            "rejected",
        ),
        help="with --all: only dead letters of this reason",
    )
    p.add_argument("--type", dest="event_type", help="with --all: only this event type")
    p.add_argument("--topic", help="with --all: only from this topic")
    p.add_argument("--since", type=moment, help="with --all: failed since (ISO time, or 2h …)")
    p.add_argument("--until", type=moment, help="with --all: failed before")
    p.add_argument("--limit", type=int, default=100, help="with --all: at most (max 1000)")

    p = command("discard", "set a dead letter aside for good, on record (never replayed)")
    p.add_argument("service", choices=SERVICES)
    p.add_argument("id", type=int, help="the dead letter's id (see dead-letters)")
    p.add_argument("--reason", required=True, help="why, for the record")

    def data_dir_option(q: argparse.ArgumentParser) -> None:
        q.add_argument(
            "--data-dir",
            type=Path,
            default=None,
            help=f"the local network's data folder (default var/localnet, or {DATA_DIR_ENV})",
        )

    p = command("local", "the local network's processes (make run): state, restarts")
    data_dir_option(p)
    for action, help_ in (
        ("restart", "restart one part of the local network (make run), alone"),
        ("stop", "stop one part of the local network (it stays down until start)"),
        ("start", "start a part of the local network that was stopped"),
    ):
        p = command(action, help_)
        p.add_argument("target", choices=TARGETS)
        data_dir_option(p)

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

    if args.command in LOCAL:
        from rescue_ops.local import data_dir

        directory = data_dir(args.data_dir)
        if args.command == "local":
            return commands.local_status(directory)
        timeout = getattr(args, "timeout", None) or RESTART_TIMEOUT
        return commands.local_control(directory, args.command, args.target, timeout)

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
        if args.command == "republish":
            return commands.republish(
                client, services, since=args.since, topics=args.topic, reason=args.reason
            )
        if args.command == "dead-letters":
            return commands.dead_letters(
                client,
                services,
                include_replayed=args.include_replayed,
                include_discarded=args.include_discarded,
                limit=max(1, min(args.limit, 1000)),
            )
        if args.command == "dead-letter":
            return commands.show_dead_letter(client, args.service, args.id)
        if args.command == "discard":
            return commands.discard_dead_letter(client, args.service, args.id, args.reason)
        if args.command == "replay":
            if args.all == (args.id is not None):
                raise ConfigError("replay: give a dead letter's ID, or --all (with filters)")
            if args.id is not None:
                return commands.replay(client, args.service, args.id)
            filters = {
                "reason": args.failure,
                "event_type": args.event_type,
                "topic": args.topic,
                "failed_after": args.since.isoformat() if args.since else None,
                "failed_before": args.until.isoformat() if args.until else None,
                "limit": max(1, min(args.limit, 1000)),
            }
            return commands.replay_matching(client, args.service, filters)
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
