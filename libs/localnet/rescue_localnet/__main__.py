"""``python -m rescue_localnet up | demo | token | backup | restore``: the network on one
machine."""

from __future__ import annotations

import argparse
import logging
import re
import signal
import sys
from pathlib import Path

import httpx

from rescue_localnet.backup_cli import add_commands, backup_command, restore_command
from rescue_localnet.demo import drive_console, run_demo
from rescue_localnet.network import AUTH_MODES, LocalNetwork
from rescue_localnet.services import DEFAULT_PORTS, SERVICES
from rescue_localnet.supervisor import Supervisor, attach

DEFAULT_DATA = Path("var/localnet")


def _up(args) -> int:
    # The supervised tests (--free-ports) hand rescue-ops the shared secret.
    auth = args.auth or ("secret" if args.free_ports else "issuer")
    if args.free_ports:  # beside a running `make run` (the supervised fault tests)
        net = LocalNetwork.on_free_ports(args.data_dir, auth=auth)
    else:
        net = LocalNetwork(data_dir=args.data_dir, broker_port=args.broker_port, auth=auth)
    supervisor = Supervisor(net)
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        print(f"starting the rescue network (data in {net.data_dir}) …", flush=True)
        supervisor.start()
        print(f"\n  postgres   unix socket in {net.postgres.socket_dir} (one database per service)")
        print(
            f"  broker     {net.broker.bootstrap_servers} (tansu, memory storage: after a "
            "restart the services send again what it held)"
        )
        for name, service in net.services.items():
            print(f"  {name:<10} {service.url}   docs: {service.url}/docs")
        if net.auth == "issuer":
            print(f"  issuer     {net.issuer_url}   (local OIDC issuer, development only)")
            print(
                f"  console    {net.console_url}   sign in: pick a station and roles on the"
                " issuer's page"
            )
        print(f"  logs       {net.data_dir / 'logs'}")
        print("\n  a token for gushi station staff (make token for others):")
        try:
            print(f"  {net.token('gushi', ['station_staff'])}")
        except (RuntimeError, httpx.HTTPError) as exc:  # the issuer still starting
            print(f"  none yet ({exc}); make token once the issuer is up")
        print(
            "\n  walkthrough: make demo (in another terminal). A part that dies is started"
            "\n  again alone (logs/supervisor.log); make ops ARGS='restart search' restarts"
            "\n  one. Ctrl-C stops everything.\n",
            flush=True,
        )
        supervisor.run(lambda: stopping)
    finally:
        print("stopping …", flush=True)
        supervisor.shutdown()
        print("stopped.")
    return 0


def _running(data_dir: Path) -> LocalNetwork:
    """The network make run runs on ``data_dir`` (its ports, its tokens); the
    defaults if none runs."""
    try:
        return attach(data_dir)
    except (FileNotFoundError, ValueError, KeyError):
        return LocalNetwork(data_dir=data_dir)


def _demo(args) -> int:
    net = _running(args.data_dir)
    urls = {
        name: f"http://127.0.0.1:{net.ports.get(name, DEFAULT_PORTS[name])}" for name in SERVICES
    }
    result = run_demo(urls, lambda station, roles: net.token(station, roles))
    print("\nthe whole path completed.")
    if net.auth == "issuer":
        drive_console(net.console_url, result.dv_person_id)
    return 0


def _token(args) -> int:
    roles = [r for r in args.roles.split(",") if r]
    # A town official's token names its town (9 digits) or village (12), not a station.
    if "town_official" in roles and not re.fullmatch(r"[0-9]{9}([0-9]{3})?", args.station):
        print(
            "a town_official token names a town or village code: STATION=411525105", file=sys.stderr
        )
        return 2
    print(_running(args.data_dir).token(args.station, roles, args.subject))
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING)
    parser = argparse.ArgumentParser(prog="python -m rescue_localnet")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start Postgres, the broker and the five services")
    up.add_argument("--broker-port", type=int, default=9092)
    up.add_argument(
        "--auth",
        choices=AUTH_MODES,
        help="issuer: the local OIDC issuer and the console (the default); secret: the "
        "shared development secret, no console (the default with --free-ports)",
    )
    up.add_argument(
        "--free-ports",
        action="store_true",
        help="the broker and services on free ports (written to <data-dir>/supervisor.json)",
    )
    commands.add_parser("demo", help="drive one person's path through the running network")
    token = commands.add_parser(
        "token", help="a development bearer token (from the local issuer when make run uses it)"
    )
    token.add_argument("--station", required=True)
    token.add_argument("--roles", default="station_staff")
    token.add_argument("--subject", default="dev-user")
    add_commands(commands)  # backup, restore
    args = parser.parse_args(argv)
    return {
        "up": _up,
        "demo": _demo,
        "token": _token,
        "backup": backup_command,
        "restore": restore_command,
    }[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
