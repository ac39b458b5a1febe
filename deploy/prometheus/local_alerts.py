"""Prometheus against the local network (`make run`), with the repository's alert rules.

    python deploy/prometheus/local_alerts.py [--data-dir var/localnet] [--listen 127.0.0.1:9090]

Writes ``<data-dir>/prometheus/prometheus.yml`` with the ports the network on
``<data-dir>`` runs on (its supervisor.json: ``make run``'s, or one started with
``--free-ports``; the default ports when none runs), scraping every 5 s and evaluating
deploy/prometheus/rules/ every 5 s, then runs Debian's ``prometheus`` (``make
setup-promtool``) on it in the foreground, its data in ``<data-dir>/prometheus/data``.
``--config-only`` writes the file and prints its path. docs/runbook.md, "Alerts".
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

import yaml

from rescue_localnet.network import CONSOLE_PORT
from rescue_localnet.services import DEFAULT_PORTS, SERVICES
from rescue_localnet.supervisor import read_state

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy/prometheus/rules"
# Short, so an alert shows within its `for:` and a few seconds.
INTERVAL = "5s"


def targets(data_dir: Path) -> dict[str, int]:
    """Job name -> port on 127.0.0.1: the six services and, with the local issuer, the
    console, as the supervisor on ``data_dir`` runs them."""
    try:
        state = read_state(data_dir)
    except FileNotFoundError:
        return DEFAULT_PORTS | {"console": CONSOLE_PORT}
    ports = {name: int(state["ports"].get(name, DEFAULT_PORTS[name])) for name in SERVICES}
    if "console" in (state.get("apps") or {}):
        ports["console"] = int(state["apps"]["console"])
    return ports


def config(data_dir: Path) -> dict:
    """The Prometheus configuration; jobs named after the services, as in prometheus.yml,
    so that the rules read the same series."""
    return {
        "global": {
            "scrape_interval": INTERVAL,
            "scrape_timeout": "4s",
            "evaluation_interval": INTERVAL,
            "external_labels": {"network": "rescue", "environment": "local"},
        },
        "rule_files": [str(RULES / "*.yml")],
        "scrape_configs": [
            {"job_name": name, "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}
            for name, port in targets(data_dir).items()
        ],
    }


def write_config(data_dir: Path) -> Path:
    path = data_dir / "prometheus" / "prometheus.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    header = "# Written by deploy/prometheus/local_alerts.py for the network on this folder.\n"
    path.write_text(header + yaml.safe_dump(config(data_dir), sort_keys=False), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="local_alerts.py", description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("var/localnet"))
    parser.add_argument("--listen", default="127.0.0.1:9090", help="Prometheus' own address")
    parser.add_argument("--config-only", action="store_true")
    args = parser.parse_args(argv)
    path = write_config(args.data_dir.resolve())
    if args.config_only:
        print(path)
        return 0
    server = shutil.which("prometheus")
    if server is None:
        print("prometheus is not installed: make setup-promtool", file=sys.stderr)
        return 2
    command = [
        server,
        f"--config.file={path}",
        f"--storage.tsdb.path={path.parent / 'data'}",
        f"--web.listen-address={args.listen}",
    ]
    print(f"alerts: http://{args.listen}/alerts (API: /api/v1/alerts); Ctrl-C stops", flush=True)
    os.execv(server, command)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
