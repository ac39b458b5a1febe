"""Networks for tests and benchmarks get distinct ports (rescue_localnet)."""

from __future__ import annotations

from pathlib import Path

from rescue_localnet.broker import free_ports
from rescue_localnet.network import LocalNetwork
from rescue_localnet.services import SERVICES


def test_free_ports_are_distinct_even_when_many_are_asked_at_once():
    ports = free_ports(200)
    assert len(set(ports)) == 200
    assert all(1024 < port < 65536 for port in ports)


def test_a_network_on_free_ports_puts_the_broker_and_each_service_apart(tmp_path: Path):
    net = LocalNetwork.on_free_ports(tmp_path)
    assert set(net.ports) == set(SERVICES)
    assert len({net.broker_port, *net.ports.values()}) == 1 + len(SERVICES)
