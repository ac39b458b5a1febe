"""One list of the services: rescue-ops installs alone (it imports nothing of the
network), so its list is a copy of the local network's and the console's, held equal
here (a service missing from one of them once broke CI), and to services/."""

from __future__ import annotations

from pathlib import Path

import rescue_ops

from rescue_console import app as console_app
from rescue_localnet import services as localnet

ROOT = Path(__file__).resolve().parents[2]


def test_every_list_names_the_same_services_in_the_same_order():
    assert rescue_ops.SERVICES == localnet.SERVICES == console_app.SERVICES


def test_the_lists_name_every_service_there_is():
    there = {p.parent.name for p in (ROOT / "services").glob("*/pyproject.toml")}
    assert set(localnet.SERVICES) == there


def test_ops_looks_for_each_service_where_the_local_network_runs_it():
    assert rescue_ops.DEFAULT_PORTS == localnet.DEFAULT_PORTS
